/// <reference lib="dom" />
// The report's charts: error and bits per layer by projection, the layer x projection
// heatmap, and the selected tensor's histograms. Each draws into a ChartSlot and attaches
// a text alternative (a data table or a description).
import type { ChartDataset, TooltipItem } from 'chart.js';
import type { Histogram, TensorResult } from '../../../core/src/runReport';
import { colorScale, viridis } from '../shared/colorScale';
import { ChartSlot } from '../shared/charts';
import { dataDetails, s } from '../shared/dom';
import { formatBpw, formatInteger, formatNumber } from '../shared/format';
import {
  cellError,
  cellKey,
  ERROR_METRICS,
  formatLabel,
  type ErrorMetric,
  type LayerAggregation,
} from '../shared/reportModel';
import { roleLabel, type ProjectionRole } from '../shared/tensorNames';
import { withAlpha, type Theme } from '../shared/theme';

/** Colour and line style per projection: attention solid circles, feed-forward dashed triangles. */
function roleStyle(
  role: ProjectionRole,
  theme: Theme,
): { color: string; dash: number[]; point: 'circle' | 'triangle' | 'rectRot' } {
  switch (role) {
    case 'q':
      return { color: theme.blue, dash: [], point: 'circle' };
    case 'k':
      return { color: theme.purple, dash: [], point: 'circle' };
    case 'v':
      return { color: theme.green, dash: [], point: 'circle' };
    case 'o':
      return { color: theme.orange, dash: [], point: 'circle' };
    case 'qkv':
      return { color: theme.yellow, dash: [], point: 'rectRot' };
    case 'gate':
      return { color: theme.red, dash: [6, 3], point: 'triangle' };
    case 'up':
      return { color: theme.yellow, dash: [6, 3], point: 'triangle' };
    case 'down':
      return { color: theme.blue, dash: [6, 3], point: 'triangle' };
    case 'gate_up':
      return { color: theme.purple, dash: [6, 3], point: 'rectRot' };
  }
}

/** Called with a tensor name when a chart element is clicked. */
export type PickTensor = (name: string) => void;

function pickFromCell(agg: LayerAggregation, layer: number, role: ProjectionRole, pick: PickTensor): void {
  const cell = agg.cells.get(cellKey(layer, role));
  if (cell?.tensors.length) pick(cell.tensors[0]);
}

function errorTable(
  agg: LayerAggregation,
  value: (layer: number, role: ProjectionRole) => string,
  summary: string,
): HTMLDetailsElement {
  return dataDetails(
    summary,
    ['Layer', ...agg.roles.map(roleLabel)],
    agg.layers.map((layer) => [layer, ...agg.roles.map((role) => value(layer, role))]),
  );
}

function worstCell(agg: LayerAggregation, metric: ErrorMetric): string {
  let worst: { layer: number; role: ProjectionRole; rel: number } | undefined;
  for (const cell of agg.cells.values()) {
    const v = cellError(cell, metric);
    if (v !== undefined && (!worst || v > worst.rel)) worst = { layer: cell.layer, role: cell.role, rel: v };
  }
  return worst ? `; highest: layer ${worst.layer} ${roleLabel(worst.role)} at ${formatNumber(worst.rel)}` : '';
}

export function drawErrorPerLayer(
  slot: ChartSlot,
  agg: LayerAggregation,
  theme: Theme,
  logScale: boolean,
  pick: PickTensor,
  metric: ErrorMetric = 'relError',
): void {
  const info = ERROR_METRICS[metric];
  slot.setTitle(`${info.label} per layer`);
  const hasError = [...agg.cells.values()].some((c) => cellError(c, metric) !== undefined);
  if (!agg.layers.length || !hasError) {
    slot.empty(
      agg.layers.length
        ? `No quantized projection in the numbered layers reports ${metric === 'outputError' ? 'an output error' : 'a relative error'}.`
        : 'No tensor of this model sits in a numbered layer.',
    );
    return;
  }
  const datasets: ChartDataset<'line', (number | null)[]>[] = agg.roles.map((role) => {
    const style = roleStyle(role, theme);
    return {
      label: roleLabel(role),
      data: agg.layers.map((layer) => cellError(agg.cells.get(cellKey(layer, role)), metric) ?? null),
      borderColor: style.color,
      backgroundColor: style.color,
      borderDash: style.dash,
      pointStyle: style.point,
      pointRadius: 3.5,
      pointHoverRadius: 6,
      borderWidth: 2,
      spanGaps: false,
    };
  });
  slot.render<'line'>(
    {
      type: 'line',
      data: { labels: agg.layers.map(String), datasets },
      options: {
        interaction: { mode: 'nearest', intersect: false, axis: 'x' },
        onClick: (_e, elements) => {
          const el = elements[0];
          if (el) pickFromCell(agg, agg.layers[el.index], agg.roles[el.datasetIndex], pick);
        },
        scales: {
          x: { title: { display: true, text: 'Layer' }, grid: { color: theme.grid } },
          y: {
            type: logScale ? 'logarithmic' : 'linear',
            beginAtZero: !logScale,
            title: { display: true, text: info.label },
            grid: { color: theme.grid },
            ticks: { callback: (v) => formatNumber(Number(v), 2) },
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { usePointStyle: true, boxHeight: 7 } },
          tooltip: {
            callbacks: {
              title: (items) => `Layer ${items[0]?.label ?? ''}`,
              label: (item: TooltipItem<'line'>) =>
                `${item.dataset.label}: ${formatNumber(item.parsed.y ?? undefined)}`,
            },
          },
        },
      },
    },
    `Line chart of the ${info.short} per layer for ${agg.roles.length} projection types over ${agg.layers.length} layers${worstCell(agg, metric)}. The data table below lists every value.`,
    errorTable(
      agg,
      (l, r) => formatNumber(cellError(agg.cells.get(cellKey(l, r)), metric)),
      `Data: ${info.short} per layer`,
    ),
  );
}

export function drawBitsPerLayer(slot: ChartSlot, agg: LayerAggregation, theme: Theme, pick: PickTensor): void {
  if (!agg.layers.length) {
    slot.empty('No tensor of this model sits in a numbered layer.');
    return;
  }
  const bars: ChartDataset<'bar', (number | null)[]>[] = agg.roles.map((role) => {
    const style = roleStyle(role, theme);
    return {
      type: 'bar' as const,
      label: roleLabel(role),
      data: agg.layers.map((layer) => agg.cells.get(cellKey(layer, role))?.bpw ?? null),
      backgroundColor: withAlpha(style.color, style.dash.length ? 0.45 : 0.8),
      borderColor: style.color,
      borderWidth: 1,
    };
  });
  const total = {
    type: 'line' as const,
    label: 'whole layer',
    data: agg.totals.map((t) => t.bpw),
    borderColor: theme.foreground,
    backgroundColor: theme.foreground,
    borderWidth: 1.5,
    pointRadius: 3,
    pointStyle: 'crossRot' as const,
  };
  slot.render<'bar'>(
    {
      type: 'bar',
      data: {
        labels: agg.layers.map(String),
        datasets: [...bars, total as unknown as ChartDataset<'bar', (number | null)[]>],
      },
      options: {
        onClick: (_e, elements) => {
          const el = elements[0];
          if (el && el.datasetIndex < agg.roles.length)
            pickFromCell(agg, agg.layers[el.index], agg.roles[el.datasetIndex], pick);
        },
        scales: {
          x: { title: { display: true, text: 'Layer' }, grid: { display: false } },
          y: {
            beginAtZero: true,
            grace: '8%',
            title: { display: true, text: 'Bits per weight' },
            grid: { color: theme.grid },
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxHeight: 8 } },
          tooltip: {
            callbacks: {
              title: (items) => `Layer ${items[0]?.label ?? ''}`,
              label: (item) => {
                const role = agg.roles[item.datasetIndex];
                const cell = role && agg.cells.get(cellKey(agg.layers[item.dataIndex], role));
                if (cell)
                  return `${roleLabel(role)}: ${formatBpw(cell.bpw)} bpw, ${formatInteger(cell.bytesOut)} bytes`;
                const t = agg.totals[item.dataIndex];
                return `whole layer: ${formatBpw(t.bpw)} bpw, ${formatInteger(t.bytesOut)} bytes`;
              },
            },
          },
        },
      },
    },
    `Bar chart of bits per weight per layer for each projection type, with the whole layer's average as a line, over ${agg.layers.length} layers. The data table below lists every value.`,
    dataDetails(
      'Data: bits per weight per layer',
      ['Layer', ...agg.roles.map(roleLabel), 'whole layer'],
      agg.totals.map((t) => [
        t.layer,
        ...agg.roles.map((r) => formatBpw(agg.cells.get(cellKey(t.layer, r))?.bpw)),
        formatBpw(t.bpw),
      ]),
    ),
  );
}

/** Horizontal gradient legend of the heatmap's colour scale, as SVG (presentation attributes only). */
export function colorLegend(values: number[], theme: Theme, id: string): SVGSVGElement {
  const scale = colorScale(values);
  const width = 260;
  const stops = Array.from({ length: 11 }, (_, i) => i / 10);
  const ticks = scale.ticks(3);
  return s(
    'svg',
    {
      class: 'color-legend',
      width,
      height: 34,
      viewBox: `0 0 ${width} 34`,
      role: 'img',
      'aria-label': `Colour scale${scale.log ? ' (logarithmic)' : ''}: dark purple ${formatNumber(scale.min)} (lowest error) to yellow ${formatNumber(scale.max)} (highest)`,
    },
    s(
      'defs',
      undefined,
      s(
        'linearGradient',
        { id, x1: 0, x2: 1, y1: 0, y2: 0 },
        stops.map((t) => s('stop', { offset: t, 'stop-color': viridis(t) })),
      ),
    ),
    s('rect', { x: 0.5, y: 0.5, width: width - 1, height: 12, fill: `url(#${id})`, stroke: theme.grid }),
    ticks.map((v, i) =>
      s(
        'text',
        {
          x: i === 0 ? 0 : i === ticks.length - 1 ? width : width / 2,
          y: 28,
          fill: theme.foreground,
          'font-size': 11,
          'text-anchor': i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle',
        },
        formatNumber(v, 3),
      ),
    ),
  );
}

interface MatrixPoint {
  x: string;
  y: string;
  v: number;
  layer: number;
  role: ProjectionRole;
}

export function drawHeatmap(
  slot: ChartSlot,
  agg: LayerAggregation,
  theme: Theme,
  pick: PickTensor,
  metric: ErrorMetric = 'relError',
): void {
  const info = ERROR_METRICS[metric];
  slot.setTitle(`${info.label}: layer × projection`);
  const points: MatrixPoint[] = [];
  for (const cell of agg.cells.values()) {
    const v = cellError(cell, metric);
    if (v !== undefined)
      points.push({ x: roleLabel(cell.role), y: String(cell.layer), v, layer: cell.layer, role: cell.role });
  }
  if (!points.length) {
    slot.empty(`No ${info.short}s to map: no quantized projection in a numbered layer reports one.`);
    return;
  }
  const scale = colorScale(points.map((p) => p.v));
  const columns = agg.roles.map(roleLabel);
  const rows = agg.layers.map(String);
  slot.figure.classList.toggle('tall', rows.length > 12);
  slot.render<'matrix'>(
    {
      type: 'matrix',
      data: {
        datasets: [
          {
            label: info.label,
            data: points,
            backgroundColor: (ctx) => scale.color((ctx.raw as MatrixPoint | undefined)?.v ?? NaN),
            borderColor: theme.background,
            borderWidth: 1,
            width: ({ chart }) => Math.max(1, (chart.chartArea?.width ?? 0) / columns.length - 1),
            height: ({ chart }) => Math.max(1, (chart.chartArea?.height ?? 0) / rows.length - 1),
          },
        ],
      },
      options: {
        onClick: (_e, elements) => {
          const p = elements[0] && points[elements[0].index];
          if (p) pickFromCell(agg, p.layer, p.role, pick);
        },
        scales: {
          x: {
            type: 'category',
            labels: columns,
            offset: true,
            grid: { display: false },
            title: { display: true, text: 'Projection' },
          },
          y: {
            type: 'category',
            labels: rows,
            offset: true,
            reverse: false,
            grid: { display: false },
            title: { display: true, text: 'Layer' },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => {
                const p = items[0]?.raw as MatrixPoint | undefined;
                return p ? `Layer ${p.layer} · ${p.x}` : '';
              },
              label: (item) => `${info.short} ${formatNumber((item.raw as MatrixPoint).v)}`,
            },
          },
        },
      },
    },
    `Heatmap of the ${info.short} by layer (rows) and projection (columns), ${points.length} cells${worstCell(agg, metric)}. Darker is lower, yellow is higher; the data table below lists every value.`,
    colorLegend(
      points.map((p) => p.v),
      theme,
      `legend-${slot.id}`,
    ),
    errorTable(
      agg,
      (l, r) => formatNumber(cellError(agg.cells.get(cellKey(l, r)), metric)),
      `Data: ${info.short} by layer and projection`,
    ),
  );
}

function binCenters(hist: Histogram): number[] {
  const n = hist.counts.length;
  const width = n ? (hist.max - hist.min) / n : 0;
  return hist.counts.map((_, i) => hist.min + (i + 0.5) * width);
}

function histPoints(hist: Histogram): { x: number; y: number }[] {
  const centers = binCenters(hist);
  return hist.counts.map((c, i) => ({ x: centers[i], y: c }));
}

function histogramOptions(xTitle: string, theme: Theme, logScale: boolean, range: [number, number]) {
  return {
    parsing: false as const,
    scales: {
      x: {
        type: 'linear' as const,
        suggestedMin: range[0],
        suggestedMax: range[1],
        title: { display: true, text: xTitle },
        grid: { color: theme.grid },
        ticks: { callback: (v: string | number) => formatNumber(Number(v), 2), maxTicksLimit: 9 },
      },
      y: {
        type: logScale ? ('logarithmic' as const) : ('linear' as const),
        beginAtZero: !logScale,
        title: { display: true, text: 'Count' },
        grid: { color: theme.grid },
      },
    },
  };
}

function total(hist: Histogram): number {
  return hist.counts.reduce((a, b) => a + b, 0);
}

export function drawWeightHistogram(
  slot: ChartSlot,
  t: TensorResult | undefined,
  theme: Theme,
  logScale: boolean,
): void {
  if (!t) return slot.empty('Select a tensor in the table to see its weights.');
  const w = t.weightHist;
  if (!w || !w.counts.length) {
    return slot.empty(
      t.action === 'keep'
        ? `${t.name} is kept as ${t.dtype}: nothing was quantized, so there is no histogram.`
        : 'This report has no weight histogram for this tensor.',
    );
  }
  const d = t.dequantHist && t.dequantHist.counts.length ? t.dequantHist : undefined;
  const binWidth = (w.max - w.min) / w.counts.length;
  const datasets: ChartDataset<'bar', { x: number; y: number }[]>[] = [
    {
      label: 'source weights',
      data: histPoints(w),
      backgroundColor: withAlpha(theme.blue, 0.45),
      borderColor: withAlpha(theme.blue, 0.8),
      borderWidth: 0,
      barPercentage: 1,
      categoryPercentage: 1,
      order: 1,
    },
  ];
  if (d) {
    // The reconstruction as a stepped outline over the filled source bars: both stay
    // readable where they coincide (fine grids) and where they do not (spiky coarse grids).
    datasets.push({
      type: 'line',
      label: 'reconstruction (grid as used)',
      data: histPoints(d),
      borderColor: theme.orange,
      backgroundColor: withAlpha(theme.orange, 0.15),
      borderWidth: 1.5,
      stepped: 'middle',
      pointRadius: 0,
      pointHoverRadius: 3,
      fill: false,
      order: 0,
    } as unknown as ChartDataset<'bar', { x: number; y: number }[]>);
  }
  const lo = Math.min(w.min, d?.min ?? w.min);
  const hi = Math.max(w.max, d?.max ?? w.max);
  const used = d ? d.counts.filter((c) => c > 0).length : 0;
  slot.render<'bar', { x: number; y: number }[]>(
    {
      type: 'bar',
      data: { datasets },
      options: {
        ...histogramOptions('Weight value', theme, logScale, [lo, hi]),
        plugins: {
          legend: { display: true, position: 'bottom', labels: { boxHeight: 8 } },
          tooltip: {
            callbacks: {
              title: (items) => {
                const x = (items[0]?.raw as { x: number } | undefined)?.x ?? 0;
                return `${formatNumber(x - binWidth / 2, 3)} … ${formatNumber(x + binWidth / 2, 3)}`;
              },
              label: (item) => `${item.dataset.label}: ${formatInteger((item.raw as { y: number }).y)}`,
            },
          },
        },
      },
    },
    `Histogram of ${formatInteger(total(w))} source weights of ${t.name} from ${formatNumber(w.min)} to ${formatNumber(w.max)} in ${w.counts.length} bins` +
      (d
        ? `, overlaid with the reconstructed values, which fall in ${used} of the bins.`
        : '; the report has no reconstruction histogram.'),
  );
}

export function drawErrorHistogram(
  slot: ChartSlot,
  t: TensorResult | undefined,
  theme: Theme,
  logScale: boolean,
): void {
  if (!t) return slot.empty('Select a tensor in the table to see its error.');
  const e = t.errorHist;
  if (!e || !e.counts.length)
    return slot.empty(
      t.action === 'keep'
        ? `${t.name} is kept: no quantization error.`
        : 'This report has no error histogram for this tensor.',
    );
  const binWidth = (e.max - e.min) / e.counts.length;
  slot.render<'bar', { x: number; y: number }[]>(
    {
      type: 'bar',
      data: {
        datasets: [
          {
            label: 'reconstruction − source',
            data: histPoints(e),
            backgroundColor: withAlpha(theme.red, 0.6),
            borderColor: theme.red,
            borderWidth: 0,
            barPercentage: 1,
            categoryPercentage: 1,
          },
        ],
      },
      options: {
        ...histogramOptions('Error (reconstruction − source)', theme, logScale, [e.min, e.max]),
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => {
                const x = (items[0]?.raw as { x: number } | undefined)?.x ?? 0;
                return `${formatNumber(x - binWidth / 2, 3)} … ${formatNumber(x + binWidth / 2, 3)}`;
              },
              label: (item) => `${formatInteger((item.raw as { y: number }).y)} weights`,
            },
          },
        },
      },
    },
    `Histogram of the signed error of ${t.name} (${formatLabel(t)}) from ${formatNumber(e.min)} to ${formatNumber(e.max)} in ${e.counts.length} bins; max abs error ${formatNumber(t.maxAbsError)}.`,
  );
}
