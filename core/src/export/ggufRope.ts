// config.json `rope_scaling` as llama.cpp's converter writes it: `llama3` (Llama 3.1+) as a
// `rope_freqs.weight` F32 tensor of head_dim/2 frequency factors (computed step by step in
// float32, as the converter computes them in torch), `linear` and `yarn` as
// `{arch}.rope.scaling.*` metadata. Other scaling types have no llama.cpp equivalent and
// are named in a warning.
import type { GgufKvSpec } from './ggufEncode';

export interface RopeScalingGguf {
  metadata: GgufKvSpec[];
  /** rope_freqs.weight (llama3 scaling): head_dim/2 factors. */
  freqFactors?: Float32Array;
  /** The scaling type read (undefined when the config has none). */
  type?: string;
  warnings: string[];
}

const f = Math.fround;

/** Llama 3 frequency factors, each step rounded to float32 as torch computes them. */
export function llama3RopeFactors(
  headDim: number,
  base: number,
  factor: number,
  lowFreqFactor: number,
  highFreqFactor: number,
  oldContext: number,
): Float32Array {
  const out = new Float32Array(headDim / 2);
  const lowWavelen = oldContext / lowFreqFactor;
  const highWavelen = oldContext / highFreqFactor;
  for (let i = 0; i < out.length; i++) {
    // torch: float32 tensors, Python scalars rounded to float32 at each operation.
    const freq = f(1 / f(Math.pow(base, f(f(i * 2) / headDim))));
    const wavelen = f(f(2 * Math.PI) / freq);
    if (wavelen < f(highWavelen)) out[i] = 1;
    else if (wavelen > f(lowWavelen)) out[i] = factor;
    else {
      const smooth = f(f(f(f(oldContext) / wavelen) - f(lowFreqFactor)) / f(highFreqFactor - lowFreqFactor));
      out[i] = f(1 / f(f(f(1 - smooth) / f(factor)) + smooth));
    }
  }
  return out;
}

const num = (o: Record<string, unknown>, k: string): number | undefined =>
  typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : undefined;

/** The GGUF form of config.json's rope_scaling for architecture `arch` (llama, qwen2, qwen3). */
export function ropeScalingGguf(
  arch: string,
  config: Record<string, unknown>,
  headDim: number,
  ropeBase: number,
): RopeScalingGguf {
  const rs = config.rope_scaling;
  if (rs === undefined || rs === null) return { metadata: [], warnings: [] };
  if (typeof rs !== 'object' || Array.isArray(rs))
    return { metadata: [], warnings: ['config.json rope_scaling is not an object: written without rope scaling'] };
  const r = rs as Record<string, unknown>;
  const type = String(r.rope_type ?? r.type ?? '');
  const warnings: string[] = [];
  const metadata: GgufKvSpec[] = [];
  const factor = num(r, 'factor');
  if (type === 'default' || type === '') return { metadata, warnings, type: type || undefined };
  if (type === 'llama3') {
    if (arch !== 'llama') {
      warnings.push(
        `rope_freqs.weight: rope_scaling type llama3 is written for the llama architecture only; this ${arch} model is written without it`,
      );
      return { metadata, warnings, type };
    }
    // The converter's fallbacks when a parameter is absent; say so when one is used.
    const param = (k: string, fallback: number): number => {
      const v = num(r, k);
      if (v !== undefined) return v;
      warnings.push(
        `rope_freqs.weight: rope_scaling has no ${k}; computed with ${fallback}, llama.cpp's converter default`,
      );
      return fallback;
    };
    const fac = param('factor', 8);
    const low = param('low_freq_factor', 1);
    const high = param('high_freq_factor', 4);
    const old = param('original_max_position_embeddings', 8192);
    if (low === high || !(headDim > 0) || headDim % 2 !== 0) {
      warnings.push(
        `rope_freqs.weight: rope_scaling llama3 with low_freq_factor = high_freq_factor or an odd head size cannot be computed; written without it`,
      );
      return { metadata, warnings, type };
    }
    return { metadata, warnings, type, freqFactors: llama3RopeFactors(headDim, ropeBase, fac, low, high, old) };
  }
  if (type === 'linear' || type === 'yarn') {
    if (factor === undefined) {
      warnings.push(`${arch}.rope.scaling.factor: rope_scaling ${type} has no factor; written without rope scaling`);
      return { metadata, warnings, type };
    }
    metadata.push(
      { key: `${arch}.rope.scaling.type`, type: 'string', value: type },
      { key: `${arch}.rope.scaling.factor`, type: 'f32', value: factor },
    );
    if (type === 'yarn') {
      const orig = num(r, 'original_max_position_embeddings');
      if (orig !== undefined)
        metadata.push({ key: `${arch}.rope.scaling.original_context_length`, type: 'u32', value: orig });
      else
        warnings.push(
          `${arch}.rope.scaling.original_context_length: rope_scaling yarn has no original_max_position_embeddings; llama.cpp then uses the context length`,
        );
    }
    return { metadata, warnings, type };
  }
  warnings.push(
    `${arch}.rope.scaling.type: rope_scaling type "${type}" has no llama.cpp equivalent (linear, yarn, llama3); written without rope scaling, so long contexts run unscaled`,
  );
  return { metadata, warnings, type };
}
