// The peak memory of a run, estimated before anything runs from the model's header and
// config and the recipe (calibration and evaluation sizes, methods, outputs, threads). It
// follows what the layer-streamed pipeline (native/src/run/layer_pipeline.h) holds at
// once: the activations, one decoder layer in f32 (and its quantized copy), the layer's
// Hessians and GPTQ's factor of the largest one, one chunk of the head's logits; sampling
// `generated` sequences needs the whole model in f32 for that phase. Shown by `bitsmith
// check`, the hover on `calibration` / `evaluate`, and checked by `bitsmith run` against
// the machine's available memory.
import * as fs from 'fs';
import * as path from 'path';
import type { Analysis } from './analyze';
import { maxOf } from './arrays';
import type { ModelHeader } from './models/types';

export interface ForwardShape {
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  maxPositions?: number;
  tied: boolean;
}

export interface MemoryPart {
  what: string;
  bytes: number;
}

export interface MemoryEstimate {
  /** The estimated peak resident memory of the run, bytes. */
  peakBytes: number;
  /** The phase that sets the peak and what it holds. */
  phase: string;
  parts: MemoryPart[];
  /** What to reduce to lower the peak, most effective first. */
  advice: string[];
  /** Sizes the estimate had to assume (a token file's sequences when the recipe gives no samples/length). */
  assumed: string[];
}

const num = (c: Record<string, unknown>, k: string): number | undefined =>
  typeof c[k] === 'number' ? (c[k] as number) : undefined;

/** The forward pass's dimensions from the model's config (Hugging Face or llama2.c). */
export function forwardShape(model: ModelHeader): ForwardShape | undefined {
  const c = model.config;
  if (model.format === 'llama2c') {
    const dim = num(c, 'dim'),
      heads = num(c, 'n_heads');
    if (!dim || !heads) return undefined;
    return {
      dim,
      hidden: num(c, 'hidden_dim') ?? 0,
      layers: num(c, 'n_layers') ?? 0,
      heads,
      kvHeads: num(c, 'n_kv_heads') ?? heads,
      headDim: dim / heads,
      vocab: Math.abs(num(c, 'vocab_size') ?? 0),
      maxPositions: num(c, 'seq_len'),
      tied: !model.tensors.some((t) => t.name === 'lm_head.weight'),
    };
  }
  const dim = num(c, 'hidden_size'),
    heads = num(c, 'num_attention_heads');
  if (!dim || !heads) return undefined;
  return {
    dim,
    hidden: num(c, 'intermediate_size') ?? 0,
    layers: num(c, 'num_hidden_layers') ?? 0,
    heads,
    kvHeads: num(c, 'num_key_value_heads') ?? heads,
    headDim: num(c, 'head_dim') ?? dim / heads,
    vocab: num(c, 'vocab_size') ?? 0,
    maxPositions: num(c, 'max_position_embeddings'),
    tied: !model.tensors.some((t) => t.name === 'lm_head.weight'),
  };
}

export interface MemoryInput {
  shape: ForwardShape;
  /** Parameters of the whole model (for sampling generated sequences). */
  params: number;
  /** The largest tensor outside the layers (embedding, head): elements. */
  largestOutside: number;
  calibration?: { kind: 'generated' | 'tokens' | 'text'; samples: number; length: number; sequential: boolean };
  evaluate?: { kind: 'generated' | 'tokens'; samples: number; length: number };
  /** Methods used on the layers' projections. */
  gptq: boolean;
  awq: boolean;
  /** The outputs take the tensors outside the layers whole (compressed_tensors, or two
   * outputs at once), not in row chunks. */
  wholeOutside: boolean;
  threads: number;
}

const F = 4; // f32
const MiB = 1 << 20;
/** The process before any tensor: Node, the addon, the bundles. */
export const BASE_BYTES = 160 * MiB;

export function estimateMemory(m: MemoryInput): MemoryEstimate {
  const s = m.shape;
  const qd = s.heads * s.headDim,
    kvd = s.kvHeads * s.headDim;
  const layerParams = s.dim * (qd + 2 * kvd) + qd * s.dim + 3 * s.hidden * s.dim;
  const layerF32 = layerParams * F;
  const cal = m.calibration;
  const ev = m.evaluate;
  const calTokens = cal ? cal.samples * cal.length : 0;
  const evPositions = ev ? ev.samples * Math.max(0, ev.length - 1) : 0;
  const evTokens = ev ? ev.samples * ev.length : 0;
  // Hidden states: calibration (and the copy the Hessians' pass runs on when sequential),
  // the original and the quantized model's evaluation states.
  // Calibration states above 1 GiB (with the sequential copy) are kept in bf16.
  const calStates = calTokens * (cal?.sequential ? 2 : 1) * s.dim * F;
  const activations = (calStates > 2 ** 30 ? calStates / 2 : calStates) + 2 * evTokens * s.dim * F;
  const longest = Math.max(cal?.length ?? 0, ev?.length ?? 0);
  // One sequence through one layer: norms, q|k|v, attention, gate|up, the SwiGLU product,
  // K and V; scores per thread in blocks of 64 query rows.
  const scratch = longest * (4 * s.dim + qd + 2 * kvd + qd + 3 * s.hidden + 2 * kvd) * F + m.threads * 64 * longest * F;
  const sites = [s.dim, qd, s.dim, s.hidden];
  const hessians = cal ? sites.reduce((a, n) => a + n * n * 8 + n * 8, 0) : 0;
  const nMax = cal ? maxOf(sites) : 0;
  // GPTQ's factor of the largest Hessian (f32 n^2) and its packed lazy blocks (n^2 / 2);
  // the output error's f32 copy of a Hessian (n^2) comes after, in its place.
  const gptqTemp = m.gptq && cal ? nMax * nMax * F * 1.5 : cal ? nMax * nMax * F : 0;
  const largestLayerTensor = Math.max(s.hidden * s.dim, qd * s.dim);
  const tensorTemp = 3 * largestLayerTensor * F; // its f32 input, reconstruction, the output's copy
  const parts: MemoryPart[] = [];
  const phases: { name: string; bytes: number; parts: MemoryPart[] }[] = [];
  const base = BASE_BYTES;
  if ((cal?.kind === 'generated' || ev?.kind === 'generated') && (cal || ev)) {
    const n = Math.max(cal?.kind === 'generated' ? cal.samples : 0, ev?.kind === 'generated' ? ev.samples : 0);
    const whole = m.params * F + (s.tied ? s.vocab * s.dim * F : 0);
    const kv = s.layers * 2 * kvd * longest * F;
    phases.push({
      name: `sampling ${n} generated sequences (the whole model in f32)`,
      bytes: whole + kv + scratch,
      parts: [
        { what: 'the whole model in f32 (sampling needs every layer for every token)', bytes: whole },
        { what: 'KV cache', bytes: kv },
      ],
    });
  }
  // Row chunks of a few MiB when one output takes them; else the f32 input, the
  // reconstruction and the output's copy of it.
  const outside = m.wholeOutside ? m.largestOutside * F * 3 : 64 * MiB;
  phases.push({
    name: 'quantizing the tensors outside the layers',
    bytes: outside + activations,
    parts: [
      { what: 'the largest tensor outside the layers (f32 input, reconstruction, stored codes)', bytes: outside },
    ],
  });
  const layerPhase =
    activations +
    scratch +
    Math.max(
      layerF32 + hessians, // calibrating: the packed layer and its Hessians
      hessians + gptqTemp + tensorTemp + layerF32, // quantizing: Hessians, GPTQ, the reconstructions so far
      2 * layerF32, // the quantized layer: reconstructions and packed copy
    );
  phases.push({
    name: 'one decoder layer',
    bytes: layerPhase,
    parts: [
      { what: `activations (${calTokens} calibration, ${evTokens} evaluation tokens)`, bytes: activations },
      { what: 'one layer in f32 (and its quantized copy)', bytes: 2 * layerF32 },
      { what: 'the layer’s Hessians (f64)', bytes: hessians },
      { what: m.gptq ? 'GPTQ’s factor of the largest Hessian' : 'output-error copy of a Hessian', bytes: gptqTemp },
    ],
  });
  if (ev) {
    const chunk = Math.min(s.vocab, Math.max(256, Math.floor((32 * MiB) / F / Math.max(1, evPositions) / 256) * 256));
    const head = 2 * evPositions * chunk * F + 2 * chunk * s.dim * F + 2 * evPositions * s.dim * F;
    phases.push({
      name: 'the output head (one vocabulary chunk at a time)',
      bytes: activations + head,
      parts: [{ what: `head logits, ${chunk} of ${s.vocab} vocabulary entries at a time`, bytes: head }],
    });
  }
  let top = phases[0];
  for (const p of phases) if (p.bytes > top.bytes) top = p;
  parts.push({ what: 'the process (Node, the addon)', bytes: base });
  for (const p of top.parts) parts.push(p);
  const advice: string[] = [];
  if (top.name.startsWith('sampling'))
    advice.push('calibrate on `tokens` or `text` instead of `generated` (sampling needs the whole model in f32)');
  if (activations > 0.25 * top.bytes) advice.push('fewer calibration or evaluation samples, or shorter sequences');
  if (cal?.sequential && calTokens * s.dim * F > 0.1 * top.bytes)
    advice.push('`sequential false` (no copy of the calibration activations)');
  if (m.threads > 2 && top.name === 'one decoder layer') advice.push('fewer threads (--threads)');
  // What the parts leave out: the allocator's free lists and fragmentation, thread stacks,
  // per-tensor scratch of the quantizers (measured: about 7% on the 1B and 8B shapes).
  const overhead = Math.round(0.1 * (base + top.bytes));
  parts.push({ what: 'allocator and scratch overhead (10%)', bytes: overhead });
  return { peakBytes: base + top.bytes + overhead, phase: top.name, parts, advice, assumed: [] };
}

/** A text's tokens per byte for the estimate before it is tokenized (English with BPE
 * vocabularies: about 4 bytes a token); `run` re-estimates with the real windows. */
const TEXT_BYTES_PER_TOKEN = 4;

/** The estimate for an analysed recipe, or undefined when no forward pass runs.
 * evaluateWindows: perplexity text's windows once the text is tokenized (`run`). */
export function estimateRunMemory(
  a: Analysis,
  threads: number,
  opts: { evaluateWindows?: number; recipePath?: string } = {},
): MemoryEstimate | undefined {
  const { recipe, model, plan } = a;
  if (!model || !plan) return undefined;
  const cal = recipe.calibration && recipe.calibration.kind !== 'imatrix' ? recipe.calibration : undefined;
  if (!cal && !recipe.evaluate) return undefined;
  const shape = forwardShape(model);
  if (!shape) return undefined;
  const assumed: string[] = [];
  const defLen = Math.min(128, shape.maxPositions ?? 128);
  let calibration: MemoryInput['calibration'];
  if (cal) {
    const samples = cal.samples ?? 16;
    let length = cal.length ?? defLen;
    if (cal.kind !== 'generated' && cal.length === undefined) {
      length = Math.min(512, shape.maxPositions ?? 512);
      assumed.push(`calibration ${cal.kind}: ${samples} sequences of ${length} tokens (give samples and length)`);
    }
    calibration = { kind: cal.kind as 'generated', samples, length, sequential: cal.sequential ?? true };
  }
  const p = recipe.evaluate?.perplexity;
  let evaluate: MemoryInput['evaluate'] = recipe.evaluate
    ? { kind: p?.tokens ? 'tokens' : 'generated', samples: p?.samples ?? 16, length: p?.length ?? defLen }
    : undefined;
  if (p?.text) {
    // Windows of length ids (default 512), as many as the text gives unless samples caps them.
    const length = p.length ?? Math.min(512, shape.maxPositions ?? 512);
    let windows = opts.evaluateWindows;
    if (windows === undefined) {
      let bytes = 0;
      try {
        const file = path.resolve(opts.recipePath ? path.dirname(opts.recipePath) : process.cwd(), p.text.value);
        bytes = fs.statSync(file).size;
      } catch {
        bytes = 0;
      }
      const guess = Math.max(1, Math.floor(bytes / TEXT_BYTES_PER_TOKEN / length));
      windows = p.samples !== undefined ? Math.min(p.samples, guess) : guess;
      assumed.push(
        `perplexity text: about ${windows} window${windows === 1 ? '' : 's'} of ${length} tokens (~${TEXT_BYTES_PER_TOKEN} bytes a token; give samples N to bound it)`,
      );
    }
    evaluate = { kind: 'tokens', samples: windows, length };
  }
  let largestOutside = 0,
    gptq = false,
    awq = false;
  for (const t of plan.tensors) {
    const n = t.tensor.shape.reduce((x, y) => x * y, 1);
    if (!/^model\.layers\.\d+\./.test(t.tensor.name)) largestOutside = Math.max(largestOutside, n);
    if (t.action === 'quantize' && t.method?.name === 'gptq') gptq = true;
    if (t.action === 'quantize' && t.method?.name === 'awq') awq = true;
  }
  const kinds = new Set(recipe.outputs.map((o) => o.kind));
  const wholeOutside = kinds.has('compressed_tensors') || (kinds.has('fake') && kinds.has('gguf'));
  const e = estimateMemory({
    shape,
    params: model.parameters,
    largestOutside,
    calibration,
    evaluate,
    gptq,
    awq,
    wholeOutside,
    threads,
  });
  e.assumed = assumed;
  return e;
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/** One line: "peak memory about 2.31 GiB (one decoder layer: ...)". */
export function formatMemoryEstimate(e: MemoryEstimate): string {
  return `estimated peak memory ${gib(e.peakBytes)} (${e.phase}: ${e.parts
    .filter((p) => p.bytes > 0)
    .map((p) => `${p.what} ${gib(p.bytes)}`)
    .join(', ')})`;
}

/** Why a run that needs `e` cannot start with `availableBytes` free (margin 10%), or undefined. */
export function memoryRefusal(e: MemoryEstimate, availableBytes: number): string | undefined {
  if (e.peakBytes <= 0.9 * availableBytes) return undefined;
  return (
    `this run needs about ${gib(e.peakBytes)} at its peak (${e.phase}) but the machine has ${gib(availableBytes)} available` +
    (e.advice.length ? `; reduce: ${e.advice.join('; ')}` : '') +
    ' (--force-memory runs it anyway)'
  );
}
