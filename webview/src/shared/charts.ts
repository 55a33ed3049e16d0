/// <reference lib="dom" />
// Chart.js, registered with only the pieces the panels use (so esbuild drops the rest).
// Why Chart.js: canvas rendering with no eval and no injected <style> (it sizes the canvas
// through the CSSOM, which a strict `style-src` CSP allows), a log scale, built-in tooltips,
// a small tree-shaken bundle, and chartjs-chart-matrix for the heatmap; a long-maintained
// library with a large user base. Observable Plot puts a <style> in every SVG (needs
// 'unsafe-inline'); ECharts is several times larger; uPlot has no heatmap.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType,
  type DefaultDataPoint,
} from 'chart.js';
import { MatrixController, MatrixElement } from 'chartjs-chart-matrix';
import type { Theme } from './theme';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  MatrixController,
  MatrixElement,
);

export { Chart };

/** Fonts and colours of every chart from the current theme. */
export function applyTheme(theme: Theme): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = Math.max(11, theme.fontSize - 1);
  Chart.defaults.animation = false;
  Chart.defaults.plugins.tooltip.backgroundColor = theme.kind.startsWith('high-contrast')
    ? theme.background
    : 'rgba(30, 30, 30, 0.92)';
  Chart.defaults.plugins.tooltip.titleColor = theme.kind.startsWith('high-contrast') ? theme.foreground : '#ffffff';
  Chart.defaults.plugins.tooltip.bodyColor = theme.kind.startsWith('high-contrast') ? theme.foreground : '#ffffff';
  Chart.defaults.plugins.tooltip.borderColor = theme.kind.startsWith('high-contrast')
    ? theme.foreground
    : 'transparent';
  Chart.defaults.plugins.tooltip.borderWidth = theme.kind.startsWith('high-contrast') ? 1 : 0;
}

/**
 * A chart's place on the page: a <figure data-chart=...> that holds a canvas while there is
 * data and a short note otherwise. `render` replaces whatever it held.
 */
export class ChartSlot {
  readonly figure: HTMLElement;
  private readonly body: HTMLElement;
  private readonly caption: HTMLElement;
  private chart: Chart | undefined;

  constructor(
    readonly id: string,
    title: string,
    extraClass = '',
  ) {
    this.figure = document.createElement('figure');
    this.figure.className = `chart ${extraClass}`.trim();
    this.figure.dataset.chart = id;
    const caption = document.createElement('figcaption');
    caption.textContent = title;
    this.caption = caption;
    this.body = document.createElement('div');
    this.body.className = 'chart-body';
    this.figure.append(caption, this.body);
  }

  /** Changes the caption (a chart whose metric can be switched). */
  setTitle(title: string): void {
    if (this.caption.textContent !== title) this.caption.textContent = title;
  }

  /** Draws a chart; `label` is the canvas's accessible name, `extra` goes below (legend, data table). */
  render<T extends ChartType, D = DefaultDataPoint<T>>(
    config: ChartConfiguration<T, D>,
    label: string,
    ...extra: Node[]
  ): Chart<T, D> {
    this.destroy();
    const wrap = document.createElement('div');
    wrap.className = 'canvas-wrap';
    const canvas = document.createElement('canvas');
    canvas.setAttribute('role', 'img');
    canvas.setAttribute('aria-label', label);
    canvas.textContent = label;
    wrap.appendChild(canvas);
    this.body.replaceChildren(wrap);
    for (const node of extra) this.body.appendChild(node);
    const options = { responsive: true, maintainAspectRatio: false, ...config.options };
    const chart = new Chart<T, D>(canvas, { ...config, options } as ChartConfiguration<T, D>);
    this.chart = chart as unknown as Chart;
    return chart;
  }

  /** No chart: a note saying why. */
  empty(message: string): void {
    this.destroy();
    const p = document.createElement('p');
    p.className = 'chart-empty';
    p.textContent = message;
    this.body.replaceChildren(p);
  }

  destroy(): void {
    this.chart?.destroy();
    this.chart = undefined;
  }
}
