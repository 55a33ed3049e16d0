// Plain-text tables for terminal output; numeric columns right-aligned.
import { maxOf } from '../../core/src/arrays';

export function table(header: string[], rows: string[][], rightAligned: number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, maxOf(rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.includes(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** 1234567 -> "1,234,567" (toLocaleString costs microseconds a call: too slow for 100,000 rows). */
export function thousands(n: number): string {
  const s = String(n);
  if (!/^-?\d{4,}$/.test(s)) return s;
  const neg = s[0] === '-';
  const digits = neg ? s.slice(1) : s;
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return neg ? `-${out}` : out;
}
