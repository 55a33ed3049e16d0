/// <reference lib="dom" />
// The Allocation panel's charts: the size-error frontier (predicted error per budget, the
// chosen point, the measured KL of the last run when it ran this allocation) and the
// layer x role heatmap of allocated bits per weight.
import { colorScale } from '../shared/colorScale';
import { ChartSlot } from '../shared/charts';
import { dataDetails } from '../shared/dom';
import { formatBpw, formatBytes, formatNumber } from '../shared/format';
import type { AllocationView } from '../shared/messages';
import { parseTensorName, roleLabel, PROJECTION_ROLES, type ProjectionRole } from '../shared/tensorNames';
import { withAlpha, type Theme } from '../shared/theme';
import { colorLegend } from '../report/reportCharts';

type Point = { x: number; y: number; index: number };

export function drawFrontier(
  slot: ChartSlot,
  view: AllocationView,
  theme: Theme,
  logScale: boolean,
  onPick: (index: number) => void,
): void {
  const pts: Point[] = view.frontier
    .map((p, index) => ({ x: p.bpw, y: p.error, index }))
    .filter((p) => !logScale || p.y > 0);
  if (!pts.length || !view.chosen) {
    slot.empty('No frontier: the candidates are not measured yet.');
    return;
  }
  const unit = view.metric === 'weight' ? '||ΔW||²' : 'KL divergence (nats)';
  type Dataset = {
    label: string;
    data: Point[];
    borderColor: string;
    backgroundColor: string;
    pointRadius: number;
    pointHoverRadius?: number;
    pointStyle?: 'circle' | 'rectRot' | 'triangle';
    showLine: boolean;
    tension?: number;
  };
  const datasets: Dataset[] = [
    {
      label: 'Frontier (predicted)',
      data: pts,
      borderColor: theme.blue,
      backgroundColor: theme.blue,
      pointRadius: 4,
      pointHoverRadius: 6,
      showLine: true,
      tension: 0,
    },
    {
      label: 'Chosen',
      data: [{ x: view.chosen.bpw, y: view.chosen.error, index: -1 }],
      borderColor: theme.orange,
      backgroundColor: withAlpha(theme.orange, 0.9),
      pointRadius: 8,
      pointStyle: 'rectRot',
      showLine: false,
    },
  ];
  // The measured KL shares the axis only when the prediction is in KL units.
  if (view.measured && view.metric !== 'weight') {
    datasets.push({
      label: 'Measured KL (last run)',
      data: [{ x: view.measured.bpw, y: view.measured.klMean, index: -2 }],
      borderColor: theme.green,
      backgroundColor: theme.green,
      pointRadius: 7,
      pointStyle: 'triangle',
      showLine: false,
    });
  }
  slot.render<'line', Point[]>(
    {
      type: 'line',
      data: { datasets },
      options: {
        parsing: false,
        onClick: (_e, elements) => {
          const el = elements.find((e) => e.datasetIndex === 0);
          if (el) onPick(pts[el.index].index);
        },
        scales: {
          x: {
            type: 'linear',
            title: { display: true, text: 'Bits per weight (whole model)' },
            grid: { color: theme.grid },
          },
          y: {
            type: logScale ? 'logarithmic' : 'linear',
            title: { display: true, text: `Predicted error: ${unit}` },
            grid: { color: theme.grid },
          },
        },
        plugins: {
          legend: { display: true, position: 'bottom' },
          tooltip: {
            callbacks: {
              label: (item) => {
                const p = item.raw as Point;
                const f = p.index >= 0 ? view.frontier[p.index] : undefined;
                return `${item.dataset.label}: ${formatBpw(p.x)} bpw${f ? ` (${formatBytes(f.bytes)})` : ''}, ${formatNumber(p.y)}`;
              },
            },
          },
        },
      },
    },
    `Size-error frontier: predicted error at ${pts.length} budgets from ${formatBpw(pts[0].x)} to ${formatBpw(pts[pts.length - 1].x)} bpw; the chosen allocation at ${formatBpw(view.chosen.bpw)} bpw. Click a point to preview its mix.`,
    dataDetails(
      'Data: frontier',
      ['bpw', 'bytes', 'predicted error'],
      view.frontier.map((p) => [formatBpw(p.bpw), p.bytes, formatNumber(p.error)]),
    ),
  );
}

interface Cell {
  x: string;
  y: string;
  v: number;
  layer: number;
  role: ProjectionRole;
  format: string;
}

export function drawBitsHeatmap(slot: ChartSlot, view: AllocationView, theme: Theme): void {
  const cells: Cell[] = [];
  const roles = new Set<ProjectionRole>();
  const layers = new Set<number>();
  for (const t of view.tensors) {
    const info = parseTensorName(t.name);
    if (info.layer === null || !(PROJECTION_ROLES as readonly string[]).includes(info.role)) continue;
    const role = info.role as ProjectionRole;
    roles.add(role);
    layers.add(info.layer);
    cells.push({ x: roleLabel(role), y: String(info.layer), v: t.bpw, layer: info.layer, role, format: t.format });
  }
  if (!cells.length) {
    slot.empty('No projections in numbered layers to map.');
    return;
  }
  const columns = PROJECTION_ROLES.filter((r) => roles.has(r)).map(roleLabel);
  const rows = [...layers].sort((a, b) => a - b).map(String);
  const scale = colorScale(cells.map((c) => c.v));
  slot.figure.classList.toggle('tall', rows.length > 12);
  slot.render<'matrix'>(
    {
      type: 'matrix',
      data: {
        datasets: [
          {
            label: 'Allocated bpw',
            data: cells,
            backgroundColor: (ctx) => scale.color((ctx.raw as Cell | undefined)?.v ?? NaN),
            borderColor: theme.background,
            borderWidth: 1,
            width: ({ chart }) => Math.max(1, (chart.chartArea?.width ?? 0) / columns.length - 1),
            height: ({ chart }) => Math.max(1, (chart.chartArea?.height ?? 0) / rows.length - 1),
          },
        ],
      },
      options: {
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
            grid: { display: false },
            title: { display: true, text: 'Layer' },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: (items) => {
                const c = items[0]?.raw as Cell | undefined;
                return c ? `Layer ${c.layer} · ${c.x}` : '';
              },
              label: (item) => {
                const c = item.raw as Cell;
                return `${c.format}, ${formatBpw(c.v)} bpw`;
              },
            },
          },
        },
      },
    },
    `Heatmap of allocated bits per weight by layer (rows) and projection (columns), ${cells.length} cells. The data table below lists every value.`,
    colorLegend(
      cells.map((c) => c.v),
      theme,
      `legend-${slot.id}`,
    ),
    dataDetails(
      'Data: allocated format by layer and projection',
      ['layer', ...columns],
      rows.map((l) => [
        l,
        ...columns.map((c) => {
          const cell = cells.find((x) => x.y === l && x.x === c);
          return cell ? `${cell.format} (${formatBpw(cell.v)})` : '';
        }),
      ]),
    ),
  );
}
