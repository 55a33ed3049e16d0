// The number grids a recipe can ask for, with the facts the bit accounting and the
// checks need. One table: hover, completion, diagnostics and the budget all read it.

export type FormatFamily = 'int' | 'float' | 'microscaled' | 'sign' | 'ggml';

export interface FormatInfo {
  name: string;
  family: FormatFamily;
  /** Bits per stored code (1.6 for ternary: 5 trits packed per byte). */
  bits: number;
  doc: string;
  /** Grids whose group size and scale type are fixed by the format. */
  fixedGroup?: number;
  fixedScale?: ScaleType;
  /** ggml block formats: weights per block and bytes per block (exact public layouts). */
  block?: { weights: number; bytes: number };
  /** Grids with no zero point (absmax-scaled). */
  symmetricOnly?: boolean;
  /** Extra bits stored once per tensor (nvfp4: one f32 global scale). */
  perTensorBits?: number;
  /** Quantizing to it needs calibration (an importance matrix), as llama.cpp requires. */
  needsCalibration?: boolean;
}

export type ScaleType = 'f16' | 'bf16' | 'f32' | 'e8m0' | 'e4m3';
export const SCALE_BITS: Readonly<Record<ScaleType, number>> = { f16: 16, bf16: 16, f32: 32, e8m0: 8, e4m3: 8 };

const int = (b: number): FormatInfo => ({
  name: `int${b}`,
  family: 'int',
  bits: b,
  doc: `${b}-bit uniform integer grid (${2 ** b} levels), scale per group; asymmetric grids add a zero point.`,
});

const ggml = (name: string, weights: number, bytes: number, doc: string, needsCalibration?: boolean): FormatInfo => ({
  name,
  family: 'ggml',
  bits: (bytes * 8) / weights,
  block: { weights, bytes },
  doc,
  ...(needsCalibration ? { needsCalibration } : {}),
});
const NEEDS_IMATRIX =
  ' Needs calibration (an importance matrix or calibration data): without one llama.cpp refuses it, the result being garbage.';

export const FORMATS: readonly FormatInfo[] = [
  int(2),
  int(3),
  int(4),
  int(5),
  int(6),
  int(7),
  int(8),
  {
    name: 'nf4',
    family: 'float',
    bits: 4,
    symmetricOnly: true,
    doc: 'NormalFloat4 (QLoRA): 16 levels at normal quantiles, absmax scale per group.',
  },
  {
    name: 'fp4',
    family: 'float',
    bits: 4,
    symmetricOnly: true,
    doc: 'FP4 e2m1: values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}, absmax scale per group.',
  },
  {
    name: 'fp8_e4m3',
    family: 'float',
    bits: 8,
    symmetricOnly: true,
    doc: 'FP8 e4m3 (max 448, no infinities), saturating, scale per group.',
  },
  {
    name: 'fp8_e5m2',
    family: 'float',
    bits: 8,
    symmetricOnly: true,
    doc: 'FP8 e5m2 (max 57344), saturating, scale per group.',
  },
  {
    name: 'mxfp4',
    family: 'microscaled',
    bits: 4,
    fixedGroup: 32,
    fixedScale: 'e8m0',
    symmetricOnly: true,
    doc: 'OCP MX FP4: e2m1 values, blocks of 32 share a power-of-two (e8m0) scale: 4.25 bpw.',
  },
  {
    name: 'mxfp8',
    family: 'microscaled',
    bits: 8,
    fixedGroup: 32,
    fixedScale: 'e8m0',
    symmetricOnly: true,
    doc: 'OCP MX FP8: e4m3 values, blocks of 32 share an e8m0 scale: 8.25 bpw.',
  },
  {
    name: 'nvfp4',
    family: 'microscaled',
    bits: 4,
    fixedGroup: 16,
    fixedScale: 'e4m3',
    symmetricOnly: true,
    perTensorBits: 32,
    doc: 'NVIDIA NVFP4: e2m1 values, blocks of 16 share an e4m3 scale, plus one f32 scale per tensor: 4.5 bpw.',
  },
  {
    name: 'binary',
    family: 'sign',
    bits: 1,
    symmetricOnly: true,
    doc: 'Binary: sign(w) times the group mean |w| (1 bit + scale).',
  },
  {
    name: 'ternary',
    family: 'sign',
    bits: 1.6,
    symmetricOnly: true,
    doc: 'Ternary {-1, 0, 1} times the group absmean (BitNet b1.58 style), 5 trits per byte: 1.6 bits + scale.',
  },
  ggml('q4_0', 32, 18, 'ggml Q4_0: blocks of 32, one f16 scale, 4-bit codes (q-8)*d: 4.5 bpw.'),
  ggml('q4_1', 32, 20, 'ggml Q4_1: blocks of 32, f16 scale and min, 4-bit codes: 5.0 bpw.'),
  ggml('q5_0', 32, 22, 'ggml Q5_0: blocks of 32, f16 scale, 5-bit codes: 5.5 bpw.'),
  ggml('q5_1', 32, 24, 'ggml Q5_1: blocks of 32, f16 scale and min, 5-bit codes: 6.0 bpw.'),
  ggml('q8_0', 32, 34, 'ggml Q8_0: blocks of 32, f16 scale, int8 codes: 8.5 bpw.'),
  ggml('q2_k', 256, 84, 'ggml Q2_K: super-blocks of 256, 4-bit sub-block scales and mins, 2-bit codes: 2.625 bpw.'),
  ggml('q3_k', 256, 110, 'ggml Q3_K: super-blocks of 256, 6-bit sub-block scales, 3-bit codes: 3.4375 bpw.'),
  ggml('q4_k', 256, 144, 'ggml Q4_K: super-blocks of 256, 6-bit sub-block scales and mins, 4-bit codes: 4.5 bpw.'),
  ggml('q5_k', 256, 176, 'ggml Q5_K: super-blocks of 256, 6-bit sub-block scales and mins, 5-bit codes: 5.5 bpw.'),
  ggml('q6_k', 256, 210, 'ggml Q6_K: super-blocks of 256, 8-bit sub-block scales, 6-bit codes: 6.5625 bpw.'),
  ggml(
    'iq4_nl',
    32,
    18,
    'ggml IQ4_NL: blocks of 32, f16 scale, 4-bit indices into a non-linear 16-value grid: 4.5 bpw.',
  ),
  ggml(
    'iq4_xs',
    256,
    136,
    'ggml IQ4_XS: super-blocks of 256, 6-bit sub-block scales, non-linear 4-bit grid: 4.25 bpw.',
  ),
  ggml(
    'iq3_s',
    256,
    110,
    'ggml IQ3_S: super-blocks of 256; each 4 weights one of 512 points of a lattice grid (magnitudes), 8 sign bits per 8, 4-bit scale per 32: 3.4375 bpw.',
  ),
  ggml(
    'iq3_xxs',
    256,
    98,
    'ggml IQ3_XXS: super-blocks of 256; each 4 weights one of 256 grid points (magnitudes), 7 sign bits per 8 (even parity), 4-bit scale per 32: 3.0625 bpw.',
  ),
  ggml(
    'iq2_s',
    256,
    82,
    'ggml IQ2_S: super-blocks of 256; each 8 weights one of 1024 points of an E8-lattice grid (magnitudes), 8 sign bits, 4-bit scale per 16: 2.5625 bpw.',
  ),
  ggml(
    'iq2_xs',
    256,
    74,
    'ggml IQ2_XS: super-blocks of 256; each 8 weights one of 512 grid points (magnitudes), 7 sign bits (even parity), 4-bit scale per 16: 2.3125 bpw.' +
      NEEDS_IMATRIX,
    true,
  ),
  ggml(
    'iq2_xxs',
    256,
    66,
    'ggml IQ2_XXS: super-blocks of 256; each 8 weights one of 256 grid points (magnitudes), 7 sign bits (even parity), 4-bit scale per 32: 2.0625 bpw.' +
      NEEDS_IMATRIX,
    true,
  ),
  ggml(
    'iq1_m',
    256,
    56,
    'ggml IQ1_M: super-blocks of 256; each 8 weights one of 2048 points of {-1, 0, 1}^8 shifted by ±1/8, 3-bit scale per 16, f16 super-block scale: 1.75 bpw.' +
      NEEDS_IMATRIX,
    true,
  ),
  ggml(
    'iq1_s',
    256,
    50,
    'ggml IQ1_S: super-blocks of 256; each 8 weights one of 2048 points of {-1, 0, 1}^8, shift ±1/8 and 3-bit scale per 32: 1.5625 bpw.' +
      NEEDS_IMATRIX,
    true,
  ),
  ggml(
    'tq2_0',
    256,
    66,
    'ggml TQ2_0: ternary {-1, 0, 1} times one f16 scale per 256 weights, 2 bits each: 2.0625 bpw (BitNet b1.58 / TriLM weights).',
  ),
  ggml(
    'tq1_0',
    256,
    54,
    'ggml TQ1_0: ternary {-1, 0, 1} times one f16 scale per 256 weights, 5 trits per byte: 1.6875 bpw (BitNet b1.58 / TriLM weights).',
  ),
];

export const FORMAT_BY_NAME: ReadonlyMap<string, FormatInfo> = new Map(FORMATS.map((f) => [f.name, f]));

/** The ggml block types, for messages. */
export const GGML_FORMATS_TEXT = 'q4_0 ... q6_k, iq1_s ... iq4_xs, tq1_0, tq2_0';

export interface MethodOption {
  name: string;
  type: 'number' | 'integer' | 'boolean';
  doc: string;
  min?: number;
  max?: number;
}

export interface MethodInfo {
  name: string;
  doc: string;
  needsCalibration: boolean | 'when-weighted';
  options: MethodOption[];
}

export const METHODS: readonly MethodInfo[] = [
  {
    name: 'rtn',
    needsCalibration: false,
    options: [],
    doc: 'Round to nearest: each weight to its closest grid value. Data-free, fast.',
  },
  {
    name: 'gptq',
    needsCalibration: true,
    doc: 'GPTQ: column-by-column quantization with Hessian-inverse error feedback (needs calibration).',
    options: [
      {
        name: 'damp',
        type: 'number',
        min: 0,
        max: 1,
        doc: 'Dampening added to the Hessian diagonal, as a fraction of its mean (default 0.01).',
      },
      { name: 'block', type: 'integer', min: 1, doc: 'Columns per lazy-update block (default 128).' },
      {
        name: 'act_order',
        type: 'boolean',
        doc: 'Quantize columns in order of decreasing Hessian diagonal (static groups).',
      },
    ],
  },
  {
    name: 'awq',
    needsCalibration: true,
    doc: 'AWQ: activation-aware per-input-channel scaling, searched to minimise output error (needs calibration).',
    options: [
      {
        name: 'grid',
        type: 'integer',
        min: 1,
        max: 1000,
        doc: 'Points of the scaling exponent grid, alpha = 0, 1/grid, ..., (grid-1)/grid (default 20).',
      },
    ],
  },
  {
    name: 'hqq',
    needsCalibration: false,
    doc: "HQQ: the zero point of each group optimised by half-quadratic splitting for a sparsity-promoting |error|^p loss, RTN's scale kept (asymmetric int grids). Data-free.",
    options: [
      {
        name: 'iters',
        type: 'integer',
        min: 1,
        max: 1000,
        doc: 'Zero-point updates at most; a group stops earlier when its loss stops decreasing (default 20).',
      },
      { name: 'lp_norm', type: 'number', min: 0.05, max: 1, doc: 'p of the |error|^p loss (default 0.7).' },
      {
        name: 'beta',
        type: 'number',
        min: 0.001,
        max: 1e6,
        doc: 'Initial weight of the half-quadratic penalty (default 10).',
      },
      {
        name: 'kappa',
        type: 'number',
        min: 1,
        max: 2,
        doc: 'Factor applied to beta after each update (default 1.01).',
      },
    ],
  },
  {
    name: 'kmeans',
    needsCalibration: 'when-weighted',
    doc: 'Non-uniform grid: 1-D k-means of each row (SqueezeLLM-style when weighted by calibration).',
    options: [
      { name: 'iters', type: 'integer', min: 1, doc: 'Lloyd iterations (default 16).' },
      { name: 'weighted', type: 'boolean', doc: 'Weight by the calibration Hessian diagonal (needs calibration).' },
    ],
  },
];

export const METHOD_BY_NAME: ReadonlyMap<string, MethodInfo> = new Map(METHODS.map((m) => [m.name, m]));
