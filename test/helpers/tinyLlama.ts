// Tiny Llama-family models written to disk (config.json + model.safetensors, F32) and a
// straightforward f64 forward pass over the same weights, the reference the native
// forward pass is checked against for every architecture variant (GQA, q/k/v biases,
// q/k norms, head_dim != hidden/heads, rope_theta, rope scaling of every type, a sliding
// window on all or some layers, tied or untied lm_head). The reference's rotary
// frequencies are written here from the definitions in Hugging Face transformers'
// modeling_rope_utils, independently of native/src/forward/rope.cc.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { maxOf } from '../../core/src/arrays';
import { centered as rng } from '../../scripts/lib/rng';

export interface TinyConfig {
  modelType: 'llama' | 'mistral' | 'qwen2' | 'qwen3' | string;
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim?: number;
  vocab: number;
  ropeTheta?: number;
  eps?: number;
  tied?: boolean;
  bias?: boolean;
  qkNorm?: boolean;
  slidingWindow?: number;
  /** The layers the sliding window applies to (default: all). */
  windowLayers?: number[];
  maxPositions?: number;
  rope?: RopeScaling;
}

/** Rope scaling as the reference understands it (written to config.json under real keys). */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number }
  | {
      type: 'yarn';
      factor: number;
      original?: number;
      betaFast?: number;
      betaSlow?: number;
      attentionFactor?: number;
      mscale?: number;
      mscaleAllDim?: number;
      truncate?: boolean;
    }
  | { type: 'llama3'; factor: number; low: number; high: number; original: number };

/** The rope_scaling object of config.json for a RopeScaling, with transformers' key names. */
export function ropeScalingJson(r: RopeScaling): Record<string, unknown> {
  switch (r.type) {
    case 'linear':
    case 'dynamic':
      return { factor: r.factor, rope_type: r.type };
    case 'llama3':
      return {
        factor: r.factor,
        high_freq_factor: r.high,
        low_freq_factor: r.low,
        original_max_position_embeddings: r.original,
        rope_type: 'llama3',
      };
    case 'yarn': {
      const o: Record<string, unknown> = { factor: r.factor, type: 'yarn' };
      if (r.original !== undefined) o.original_max_position_embeddings = r.original;
      if (r.betaFast !== undefined) o.beta_fast = r.betaFast;
      if (r.betaSlow !== undefined) o.beta_slow = r.betaSlow;
      if (r.attentionFactor !== undefined) o.attention_factor = r.attentionFactor;
      if (r.mscale !== undefined) o.mscale = r.mscale;
      if (r.mscaleAllDim !== undefined) o.mscale_all_dim = r.mscaleAllDim;
      if (r.truncate !== undefined) o.truncate = r.truncate;
      return o;
    }
  }
}

/**
 * Inverse frequencies (f64) of the rotary pairs and the factor cos/sin are multiplied by,
 * for a call over a sequence of seqLen positions, as transformers defines each rope type.
 */
export function referenceRope(c: TinyConfig, seqLen: number): { inv: number[]; scale: number } {
  const d = headDim(c),
    theta = c.ropeTheta ?? 10000,
    maxPos = c.maxPositions ?? 256;
  const base = (b: number) => Array.from({ length: d / 2 }, (_, i) => 1 / Math.pow(b, (2 * i) / d));
  const r = c.rope;
  if (!r) return { inv: base(theta), scale: 1 };
  if (r.type === 'linear') return { inv: base(theta).map((f) => f / r.factor), scale: 1 };
  if (r.type === 'dynamic') {
    // NTK-aware: the base grows with the sequence past max_position_embeddings.
    const L = Math.max(seqLen, maxPos);
    const b = theta * Math.pow((r.factor * L) / maxPos - (r.factor - 1), d / (d - 2));
    return { inv: base(b), scale: 1 };
  }
  if (r.type === 'llama3') {
    const lowWave = r.original / r.low,
      highWave = r.original / r.high;
    const inv = base(theta).map((f) => {
      const wave = (2 * Math.PI) / f;
      if (wave < highWave) return f;
      if (wave > lowWave) return f / r.factor;
      const s = (r.original / wave - r.low) / (r.high - r.low);
      return ((1 - s) * f) / r.factor + s * f;
    });
    return { inv, scale: 1 };
  }
  // yarn
  const orig = r.original ?? maxPos;
  const fast = r.betaFast || 32,
    slow = r.betaSlow || 1;
  const corr = (rot: number) => (d * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = corr(fast),
    high = corr(slow);
  if (r.truncate !== false) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, d - 1);
  if (low === high) high += 0.001;
  const inv = base(theta).map((f, i) => {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    return (f / r.factor) * ramp + f * (1 - ramp);
  });
  const m = (s: number, k: number) => (s <= 1 ? 1 : 0.1 * k * Math.log(s) + 1);
  const scale =
    r.attentionFactor ??
    (r.mscale && r.mscaleAllDim ? m(r.factor, r.mscale) / m(r.factor, r.mscaleAllDim) : m(r.factor, 1));
  return { inv, scale };
}

export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

export function headDim(c: TinyConfig): number {
  return c.headDim ?? c.dim / c.heads;
}

export function tinyWeights(c: TinyConfig, seed = 1): Weights {
  const r = rng(seed);
  const w: Weights = new Map();
  const add = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + (r() + r() + r()) * scale;
    w.set(name, { shape, data });
  };
  const hd = headDim(c),
    qd = c.heads * hd,
    kvd = c.kvHeads * hd;
  add('model.embed_tokens.weight', [c.vocab, c.dim], 1);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'input_layernorm.weight', [c.dim], 0.2, 1);
    add(p + 'self_attn.q_proj.weight', [qd, c.dim], 1 / Math.sqrt(c.dim));
    add(p + 'self_attn.k_proj.weight', [kvd, c.dim], 1 / Math.sqrt(c.dim));
    add(p + 'self_attn.v_proj.weight', [kvd, c.dim], 1 / Math.sqrt(c.dim));
    if (c.bias) {
      add(p + 'self_attn.q_proj.bias', [qd], 0.3);
      add(p + 'self_attn.k_proj.bias', [kvd], 0.3);
      add(p + 'self_attn.v_proj.bias', [kvd], 0.3);
    }
    if (c.qkNorm) {
      add(p + 'self_attn.q_norm.weight', [hd], 0.2, 1);
      add(p + 'self_attn.k_norm.weight', [hd], 0.2, 1);
    }
    add(p + 'self_attn.o_proj.weight', [c.dim, qd], 1 / Math.sqrt(qd));
    add(p + 'post_attention_layernorm.weight', [c.dim], 0.2, 1);
    add(p + 'mlp.gate_proj.weight', [c.hidden, c.dim], 1 / Math.sqrt(c.dim));
    add(p + 'mlp.up_proj.weight', [c.hidden, c.dim], 1 / Math.sqrt(c.dim));
    add(p + 'mlp.down_proj.weight', [c.dim, c.hidden], 1 / Math.sqrt(c.hidden));
  }
  add('model.norm.weight', [c.dim], 0.2, 1);
  if (!c.tied) add('lm_head.weight', [c.vocab, c.dim], 1 / Math.sqrt(c.dim));
  return w;
}

export function writeSafetensors(file: string, w: Weights) {
  const header: Record<string, unknown> = {};
  let off = 0;
  const bufs: Buffer[] = [];
  for (const [name, t] of w) {
    const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + b.length] };
    off += b.length;
    bufs.push(b);
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([len, json, ...bufs]));
}

export function configJson(c: TinyConfig): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    architectures: [
      c.modelType === 'qwen2'
        ? 'Qwen2ForCausalLM'
        : c.modelType === 'qwen3'
          ? 'Qwen3ForCausalLM'
          : c.modelType === 'mistral'
            ? 'MistralForCausalLM'
            : 'LlamaForCausalLM',
    ],
    model_type: c.modelType,
    hidden_size: c.dim,
    intermediate_size: c.hidden,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    vocab_size: c.vocab,
    max_position_embeddings: c.maxPositions ?? 256,
    rms_norm_eps: c.eps ?? 1e-6,
    rope_theta: c.ropeTheta ?? 10000,
    tie_word_embeddings: !!c.tied,
    hidden_act: 'silu',
    bos_token_id: 1,
  };
  if (c.headDim !== undefined) cfg.head_dim = c.headDim;
  if (c.slidingWindow !== undefined) cfg.sliding_window = c.slidingWindow;
  if (c.rope) cfg.rope_scaling = ropeScalingJson(c.rope);
  return cfg;
}

/** Writes DIR/config.json (configJson(c), or `config` as given) and DIR/model.safetensors;
 * returns the weights. */
export function writeTinyModel(
  dir: string,
  c: TinyConfig,
  seed = 1,
  weights?: Weights,
  config?: Record<string, unknown>,
): Weights {
  fs.mkdirSync(dir, { recursive: true });
  const w = weights ?? tinyWeights(c, seed);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config ?? configJson(c), null, 2));
  writeSafetensors(path.join(dir, 'model.safetensors'), w);
  return w;
}

// ---- the f64 reference forward pass --------------------------------------------------

function matvec(w: Float32Array, rows: number, cols: number, x: Float64Array, bias?: Float32Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = bias ? bias[r] : 0;
    for (let k = 0; k < cols; k++) s += w[r * cols + k] * x[k];
    y[r] = s;
  }
  return y;
}

function rms(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

/** Logits [T][vocab] for tokens at positions 0..T-1 (f64 throughout). Optionally records
 * each linear layer's input rows: inputs[`${layer}:${site}`] = rows. `incremental`: the
 * rotary table of position p is the one of a call over p + 1 positions (one token per
 * call through a KV cache), which only dynamic rope scaling tells apart. */
export function referenceLogits(
  c: TinyConfig,
  w: Weights,
  tokens: number[],
  inputs?: Map<string, Float64Array[]>,
  incremental = false,
): Float64Array[] {
  const W = (n: string) => w.get(n)!.data;
  const hd = headDim(c),
    qd = c.heads * hd,
    kvd = c.kvHeads * hd,
    eps = c.eps ?? 1e-6,
    half = hd / 2;
  const T = tokens.length;
  const rec = (l: number, site: string, x: Float64Array) => {
    if (!inputs) return;
    const k = `${l}:${site}`;
    if (!inputs.has(k)) inputs.set(k, []);
    inputs.get(k)!.push(x);
  };
  let xs: Float64Array[] = tokens.map((t) =>
    Float64Array.from(W('model.embed_tokens.weight').subarray(t * c.dim, (t + 1) * c.dim)),
  );
  const batched = referenceRope(c, T);
  const rope = (v: Float64Array, off: number, pos: number) => {
    const { inv, scale } = incremental ? referenceRope(c, pos + 1) : batched;
    for (let i = 0; i < half; i++) {
      const a = pos * inv[i];
      const cs = Math.cos(a) * scale,
        sn = Math.sin(a) * scale;
      const x0 = v[off + i],
        x1 = v[off + i + half];
      v[off + i] = x0 * cs - x1 * sn;
      v[off + i + half] = x1 * cs + x0 * sn;
    }
  };
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    const qs: Float64Array[] = [],
      ks: Float64Array[] = [],
      vs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const xn = rms(xs[t], W(p + 'input_layernorm.weight'), eps);
      rec(l, 'attn', xn);
      const q = matvec(
        W(p + 'self_attn.q_proj.weight'),
        qd,
        c.dim,
        xn,
        c.bias ? W(p + 'self_attn.q_proj.bias') : undefined,
      );
      const k = matvec(
        W(p + 'self_attn.k_proj.weight'),
        kvd,
        c.dim,
        xn,
        c.bias ? W(p + 'self_attn.k_proj.bias') : undefined,
      );
      const v = matvec(
        W(p + 'self_attn.v_proj.weight'),
        kvd,
        c.dim,
        xn,
        c.bias ? W(p + 'self_attn.v_proj.bias') : undefined,
      );
      if (c.qkNorm) {
        for (let h = 0; h < c.heads; h++)
          q.set(rms(q.subarray(h * hd, (h + 1) * hd), W(p + 'self_attn.q_norm.weight'), eps), h * hd);
        for (let h = 0; h < c.kvHeads; h++)
          k.set(rms(k.subarray(h * hd, (h + 1) * hd), W(p + 'self_attn.k_norm.weight'), eps), h * hd);
      }
      for (let h = 0; h < c.heads; h++) rope(q, h * hd, t);
      for (let h = 0; h < c.kvHeads; h++) rope(k, h * hd, t);
      qs.push(q);
      ks.push(k);
      vs.push(v);
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const att = new Float64Array(qd);
      for (let h = 0; h < c.heads; h++) {
        const g = Math.floor(h / (c.heads / c.kvHeads));
        const windowed = c.slidingWindow && (!c.windowLayers || c.windowLayers.includes(l));
        const first = windowed ? Math.max(0, t - c.slidingWindow! + 1) : 0;
        const sc: number[] = [];
        for (let j = first; j <= t; j++) {
          let s = 0;
          for (let d = 0; d < hd; d++) s += qs[t][h * hd + d] * ks[j][g * hd + d];
          sc.push(s / Math.sqrt(hd));
        }
        const m = maxOf(sc);
        const e = sc.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = first; j <= t; j++)
          for (let d = 0; d < hd; d++) att[h * hd + d] += (e[j - first] / z) * vs[j][g * hd + d];
      }
      rec(l, 'attn_out', att);
      const o = matvec(W(p + 'self_attn.o_proj.weight'), c.dim, qd, att);
      const x = xs[t].map((v, i) => v + o[i]);
      const xn = rms(x, W(p + 'post_attention_layernorm.weight'), eps);
      rec(l, 'mlp', xn);
      const gt = matvec(W(p + 'mlp.gate_proj.weight'), c.hidden, c.dim, xn);
      const up = matvec(W(p + 'mlp.up_proj.weight'), c.hidden, c.dim, xn);
      const hh = gt.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      rec(l, 'down', hh);
      const dn = matvec(W(p + 'mlp.down_proj.weight'), c.dim, c.hidden, hh);
      next.push(x.map((v, i) => v + dn[i]));
    }
    xs = next;
  }
  const lm = c.tied ? W('model.embed_tokens.weight') : W('lm_head.weight');
  return xs.map((x) => matvec(lm, c.vocab, c.dim, rms(x, W('model.norm.weight'), eps)));
}
