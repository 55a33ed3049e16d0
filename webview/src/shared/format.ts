// Number formatting for the panels (and the CSV/host side): pure, locale-independent so
// tests and screenshots are stable.

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value >= 100 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}

/** 260032 -> "260.03K", 7.24e9 -> "7.24B". */
export function formatCount(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const abs = Math.abs(n);
  if (abs >= 1e12) return `${(n / 1e12).toFixed(2)}T`;
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(2)}K`;
  return String(n);
}

/** Thousands separators without the locale: 260032 -> "260,032". */
export function formatInteger(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  const sign = n < 0 ? '-' : '';
  return sign + String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '—';
  if (s < 1e-3) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1e3).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `${s.toFixed(2)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

/** A value with `digits` significant digits, switching to exponent notation for tiny/huge ones. */
export function formatNumber(x: number | undefined, digits = 4): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs < 1e-3 || abs >= 1e6) return x.toExponential(digits - 1).replace('e+', 'e');
  return String(Number(x.toPrecision(digits)));
}

export function formatBpw(bpw: number | undefined): string {
  if (bpw === undefined || !Number.isFinite(bpw)) return '—';
  return Number.isInteger(bpw)
    ? String(bpw)
    : bpw
        .toFixed(bpw < 10 ? 3 : 2)
        .replace(/0+$/, '')
        .replace(/\.$/, '');
}

export function formatShape(shape: readonly number[] | undefined): string {
  if (!shape || shape.length === 0) return 'scalar';
  return shape.join('×');
}

/** Ratio b/a as "×1.23" (or "—" when undefined). */
export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—';
  return `×${ratio >= 100 ? ratio.toFixed(0) : ratio.toPrecision(3)}`;
}

/** Signed difference with the given formatter: "+1.2 KiB", "−0.5". */
export function formatDelta(d: number | undefined, fmt: (x: number) => string = (x) => formatNumber(x)): string {
  if (d === undefined || !Number.isFinite(d)) return '—';
  if (d === 0) return '±0';
  return d > 0 ? `+${fmt(d)}` : `−${fmt(-d)}`;
}

export function elementsOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
