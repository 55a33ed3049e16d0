// Exact bit accounting of one tensor under one configuration. The storage of every
// component is defined here, byte for byte, and the backend writes exactly this:
//   codes    b-bit codes packed LSB-first, rows back to back: ceil(m*n*b / 8) bytes
//            (ternary: 5 trits per byte, ceil(m*n / 5) bytes; ggml types: whole blocks)
//   scales   one per group, G = ceil(n/g) groups per row (1 per tensor for `group tensor`)
//   zeros    asymmetric grids only: f16 per group, or b-bit integers packed like codes
//   outliers f16 value + u32 flat index each: 6 bytes
//   lowrank  U [m, r] and V [r, n] in f16: 2 r (m + n) bytes
//   extra    per-tensor constants (nvfp4: one f32 global scale)
// bpw = 8 * total bytes / elements, so the figure shown is the figure written.

import { SCALE_BITS, type FormatInfo, type ScaleType } from '../language/formats';

export interface QuantConfig {
  format: FormatInfo;
  /** Resolved group size in elements along the input dimension (n for channel; m*n for tensor). */
  group: number;
  groupKind: 'size' | 'channel' | 'tensor';
  symmetric: boolean;
  scale: ScaleType;
  zero: 'f16' | 'int';
  /** Number of outliers kept exactly. */
  outliers: number;
  lowrank: number;
}

export interface ByteBreakdown {
  codes: number;
  scales: number;
  zeros: number;
  outliers: number;
  lowrank: number;
  extra: number;
  total: number;
}

/** Groups of one tensor [m, n] under a config. */
export function groupCount(m: number, n: number, c: Pick<QuantConfig, 'group' | 'groupKind'>): number {
  if (c.groupKind === 'tensor') return 1;
  return m * Math.ceil(n / c.group);
}

export function tensorBytes(m: number, n: number, c: QuantConfig): ByteBreakdown {
  const f = c.format;
  const out: ByteBreakdown = { codes: 0, scales: 0, zeros: 0, outliers: 0, lowrank: 0, extra: 0, total: 0 };
  if (f.block) {
    out.codes = m * Math.ceil(n / f.block.weights) * f.block.bytes;
  } else {
    out.codes = f.name === 'ternary' ? Math.ceil((m * n) / 5) : Math.ceil((m * n * f.bits) / 8);
    const groups = f.fixedGroup ? m * Math.ceil(n / f.fixedGroup) : groupCount(m, n, c);
    const scaleType = f.fixedScale ?? c.scale;
    out.scales = Math.ceil((groups * SCALE_BITS[scaleType]) / 8);
    if (hasZeroPoint(c)) out.zeros = c.zero === 'int' ? Math.ceil((groups * f.bits) / 8) : groups * 2;
    out.extra = (f.perTensorBits ?? 0) / 8;
  }
  out.outliers = c.outliers * 6;
  out.lowrank = c.lowrank > 0 ? 2 * c.lowrank * (m + n) : 0;
  out.total = out.codes + out.scales + out.zeros + out.outliers + out.lowrank + out.extra;
  return out;
}

export function hasZeroPoint(c: Pick<QuantConfig, 'format' | 'symmetric'>): boolean {
  return c.format.family === 'int' && !c.symmetric;
}

/** The bpw formula as hover shows it, e.g. "4 + (16+16)/128 = 4.25 bpw". */
export function bpwFormula(m: number, n: number, c: QuantConfig, bytes: ByteBreakdown): string {
  const f = c.format;
  const bpw = (8 * bytes.total) / (m * n);
  const terms: string[] = [];
  if (f.block) {
    terms.push(`${f.block.bytes}*8/${f.block.weights}`);
  } else {
    const s = SCALE_BITS[f.fixedScale ?? c.scale];
    const z = hasZeroPoint(c) ? (c.zero === 'int' ? f.bits : 16) : 0;
    const perGroup = z ? `(${s}+${z})` : `${s}`;
    const g = f.fixedGroup ?? (c.groupKind === 'tensor' ? m * n : c.group);
    // A partial last group still stores a whole scale: ceil(n/g) groups over n weights.
    const perRow =
      c.groupKind === 'tensor' || n % g === 0 ? `${perGroup}/${g}` : `${perGroup}*${Math.ceil(n / g)}/${n}`;
    terms.push(`${fmt(f.bits)}`, perRow);
    if (f.perTensorBits) terms.push(`${f.perTensorBits}/${m * n}`);
  }
  if (c.outliers) terms.push(`${c.outliers}*48/${m * n}`);
  if (c.lowrank) terms.push(`16*${c.lowrank}*(${m}+${n})/(${m}*${n})`);
  return `${terms.join(' + ')} = ${fmt(bpw)} bpw`;
}

/** Up to 4 decimals, trailing zeros dropped: 4.25, 6.5625, 4.1289. */
export function fmt(x: number): string {
  return String(Math.round(x * 1e4) / 1e4);
}
