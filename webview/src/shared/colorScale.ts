// The heatmap's sequential colour scale (viridis stops: perceptually ordered, readable for
// common colour-vision deficiencies, and legible on light and dark backgrounds), linear or
// logarithmic over the data's range. Pure.

import { maxOf, minOf } from '../../../core/src/arrays';

const STOPS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** The colour at t in [0, 1] (clamped). */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [STOPS[i], STOPS[i + 1]];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

export interface ColorScale {
  min: number;
  max: number;
  log: boolean;
  /** Position of a value in [0, 1]. */
  position(value: number): number;
  color(value: number): string;
  /** Evenly spaced values for legend ticks (including min and max). */
  ticks(count: number): number[];
}

/** A scale over the finite values; logarithmic when all are positive and span 10x or more. */
export function colorScale(values: readonly number[]): ColorScale {
  const finite = values.filter((v) => Number.isFinite(v));
  const min = minOf(finite, 0);
  const max = maxOf(finite, 1);
  const log = min > 0 && max / min >= 10;
  const f = (v: number) => (log ? Math.log10(v) : v);
  const lo = f(min);
  const span = f(max) - lo;
  const position = (value: number) => (span > 0 ? (f(Math.max(min, Math.min(max, value))) - lo) / span : 0.5);
  return {
    min,
    max,
    log,
    position,
    color: (value) => viridis(position(value)),
    ticks: (count) =>
      Array.from({ length: count }, (_, i) => {
        const t = count > 1 ? i / (count - 1) : 0;
        return log ? 10 ** (lo + t * span) : min + t * (max - min);
      }),
  };
}
