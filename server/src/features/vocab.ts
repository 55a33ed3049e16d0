// Documentation the schema does not carry (argument kinds), and small text helpers
// shared by hover and completion.
import {
  ALLOCATE_KEYWORDS,
  EVALUATE_KEYWORDS,
  FORMAT_BY_NAME,
  PROPERTY_KEYWORDS,
  SCALE_BITS,
  TOP_KEYWORDS,
  fmt,
  type FormatInfo,
  type KeywordDoc,
} from '../../../core/src/index';

export const KIND_DOCS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  calibration: {
    imatrix:
      'A llama.cpp importance matrix (GGUF-based or legacy .dat): per-input-channel activation energy, the diagonal of XᵀX.',
    text: "Calibration text, tokenized with the model folder's tokenizer.json and run through the built-in forward pass. Options: samples N, length L.",
    tokens: 'Token ids as a JSON array of arrays. Options: samples N, length L.',
    generated:
      'Sequences sampled from the unquantized model itself: needs no data. Options: samples N, length L, seed S.',
  },
  output: {
    fake: 'Dequantized ("fake-quantized") weights in the source dtype, as .safetensors: loads anywhere.',
    gguf: 'A llama.cpp-loadable GGUF v3: ggml block types (q4_0, q4_k, ...) as their blocks, kept tensors in f32/f16/bf16, llama.cpp names and metadata (Llama-family models; the tokenizer from tokenizer.json or a GGUF source).',
    compressed_tensors:
      'A folder with safetensors + config.json in the compressed-tensors layout that vLLM and transformers load (int4, int8, fp8_e4m3, nvfp4).',
    imatrix:
      "llama.cpp's importance matrix from the calibration (the per-input-column sums of squares of every linear weight's inputs): GGUF (llama-imatrix's current layout) for .gguf, the legacy layout (what llama-quantize of early 2025 reads) for .dat. llama-quantize --imatrix takes it; export llama_quantize references it. Needs calibration generated, tokens or text.",
  },
  export: {
    llm_compressor: 'The same recipe translated to an llm-compressor recipe (.yaml), for runs on GPU clusters.',
    llama_quantize: 'The same recipe as a llama-quantize command line with per-tensor overrides (.sh).',
  },
};

export const VALUE_DOCS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  group: { channel: 'One scale per row (group = the input dimension).', tensor: 'One scale for the whole tensor.' },
  symmetric: {
    true: 'No zero point: the grid is centred on 0.',
    false: 'A zero point per group (16 more bits per group with zero f16).',
  },
  scale: Object.fromEntries(Object.entries(SCALE_BITS).map(([k, b]) => [k, `${b}-bit scales.`])),
  zero: {
    f16: 'Zero point stored as an f16 value per group.',
    int: 'Zero point stored as a b-bit integer per group, packed as GPTQ / compressed-tensors store it.',
  },
  clip: {
    none: 'Scales from the full range (absmax / min-max).',
    mse: 'Search the scale shrink that minimises the squared error.',
  },
  rotate: {
    none: 'No rotation.',
    hadamard: 'Randomized Hadamard rotation along the input dimension before quantizing (QuIP# style incoherence).',
  },
  metric: {
    weight: 'Weight error (needs no data).',
    output: 'Layer output error (needs calibration).',
    kld: 'KL divergence of the model output (needs calibration).',
  },
  granularity: { tensor: 'One choice per tensor.', layer: 'One choice per transformer block and tensor role.' },
};

export function keywordDoc(list: readonly KeywordDoc[], name: string): KeywordDoc | undefined {
  return list.find((k) => k.name === name);
}

export const ALL_KEYWORD_LISTS = {
  top: TOP_KEYWORDS,
  property: PROPERTY_KEYWORDS,
  allocate: ALLOCATE_KEYWORDS,
  evaluate: EVALUATE_KEYWORDS,
};

/** A snippet as plain text: `${1:pattern}` -> pattern, `${1|a,b|}` -> a, `$0` -> nothing, tabs -> 2 spaces. */
export function snippetToText(snippet: string): string {
  return snippet
    .replace(/\$\{\d+\|([^,|}]*)[^}]*\|\}/g, '$1')
    .replace(/\$\{\d+:([^}]*)\}/g, '$1')
    .replace(/\$\d+/g, '')
    .replace(/\t/g, '  ');
}

/** One line about a format's storage: "4 bits + scale per group", "block of 32 in 18 bytes: 4.5 bpw". */
export function formatBitsSummary(f: FormatInfo): string {
  if (f.block) return `${f.block.weights} weights per ${f.block.bytes}-byte block: ${fmt(f.bits)} bpw`;
  if (f.fixedGroup) {
    const s = SCALE_BITS[f.fixedScale ?? 'f16'];
    const perTensor = f.perTensorBits ? ` (+ one f${f.perTensorBits} per tensor)` : '';
    return `${fmt(f.bits)} bits + ${s}-bit ${f.fixedScale} scale per ${f.fixedGroup}: ${fmt(f.bits + s / f.fixedGroup)} bpw${perTensor}`;
  }
  return `${fmt(f.bits)} bits per weight + scale${f.family === 'int' ? ' (and zero point if asymmetric)' : ''} per group`;
}

export function formatInfo(name: string): FormatInfo | undefined {
  return FORMAT_BY_NAME.get(name);
}

export const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
export const count = (n: number) => n.toLocaleString('en-US');
