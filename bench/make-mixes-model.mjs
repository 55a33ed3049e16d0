#!/usr/bin/env node
// The synthetic Llama of bench/allocate-vs-mixes.mjs: every weight row is a multiple of 256
// wide, so every k-quant (super-blocks of 256) holds every matrix, the embedding and the
// head included, and llama.cpp's mixes apply without its shape fallbacks. Sensitivity is
// deliberately uneven, as in trained models, so that where the bits go matters:
// - weights are Student-t (nu = 4: heavy tails), std 1/sqrt(fan_in) before the scales below;
// - each (layer, projection) gets a log-normal gain exp(0.4 z): some matrices matter more;
// - 4 residual channels (the same in every layer, like the "massive activation" channels
//   of real LLMs) get x6 norm gains, so a few input channels of q/k/v/gate/up dominate;
// - each matrix has 4 weight columns x4 (outlier input columns of the weight itself);
// - o_proj and down_proj (what each block adds to the residual stream) x0.2, and an
//   untied lm_head (as Llama 2/3) with gain 2.
// Those two gains were set once, before any allocation was run, from the fixed mixes alone
// (evaluate without calibration): with gains 1 and 4 the random network is chaotic
// (llama.cpp Q4_K_M: KL 1.08 nats, perplexity 3.3 -> 9.4), unlike a trained model; with
// 0.2 and 2 the original's perplexity is ~24 on its own samples and the Q4_K_M -> Q2_K KL
// grows ~9x (0.09 -> 0.85 nats), the order of the ratio llama.cpp's mixes show on real
// Llamas, though the absolute KL is higher.
// Nothing here knows which tensors llama.cpp's rules favour; the gains are random from the
// seed. F32, deterministic for a seed.
//
//   node bench/make-mixes-model.mjs --out DIR [--seed 7] [--layers 8]
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../scripts/lib/rng.js';

const require = createRequire(import.meta.url);
require('../test/register.js');
const { writeTinyModel } = require('../test/helpers/tinyLlama.ts');

export const MIXES_MODEL = {
  modelType: 'llama',
  dim: 256,
  hidden: 768,
  layers: 8,
  heads: 4,
  kvHeads: 2,
  vocab: 512,
  tied: false,
  maxPositions: 256,
  eps: 1e-5,
};

export function mixesWeights(c, seed, { residualGain = 0.2, headGain = 2 } = {}) {
  const u = mulberry32(seed);
  const normal = () => {
    let x;
    do x = u();
    while (x === 0);
    return Math.sqrt(-2 * Math.log(x)) * Math.cos(2 * Math.PI * u());
  };
  // Student-t with nu = 4 (chi-square of 4 normals), scaled to unit variance (var = 2).
  const studentT = () => {
    let s = 0;
    for (let i = 0; i < 4; i++) {
      const z = normal();
      s += z * z;
    }
    return normal() / Math.sqrt(s / 4) / Math.SQRT2;
  };
  const pick = (n, k) => {
    const s = new Set();
    while (s.size < k) s.add(Math.floor(u() * n));
    return [...s];
  };
  const massive = pick(c.dim, 4);
  const w = new Map();
  const matrix = (name, rows, cols, gain) => {
    const data = new Float32Array(rows * cols);
    const std = gain / Math.sqrt(cols);
    for (let i = 0; i < data.length; i++) data[i] = studentT() * std;
    for (const col of pick(cols, 4)) for (let r = 0; r < rows; r++) data[r * cols + col] *= 4;
    w.set(name, { shape: [rows, cols], data });
  };
  const norm = (name) => {
    const data = new Float32Array(c.dim);
    for (let i = 0; i < c.dim; i++) data[i] = 1 + 0.1 * normal();
    for (const ch of massive) data[ch] *= 6;
    w.set(name, { shape: [c.dim], data });
  };
  const hd = c.dim / c.heads,
    kvd = c.kvHeads * hd;
  const gain = () => Math.exp(0.4 * normal());
  matrix('model.embed_tokens.weight', c.vocab, c.dim, Math.sqrt(c.dim)); // rows of unit RMS
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    norm(p + 'input_layernorm.weight');
    matrix(p + 'self_attn.q_proj.weight', c.dim, c.dim, gain());
    matrix(p + 'self_attn.k_proj.weight', kvd, c.dim, gain());
    matrix(p + 'self_attn.v_proj.weight', kvd, c.dim, gain());
    matrix(p + 'self_attn.o_proj.weight', c.dim, c.dim, residualGain * gain());
    norm(p + 'post_attention_layernorm.weight');
    matrix(p + 'mlp.gate_proj.weight', c.hidden, c.dim, gain());
    matrix(p + 'mlp.up_proj.weight', c.hidden, c.dim, gain());
    matrix(p + 'mlp.down_proj.weight', c.dim, c.hidden, residualGain * gain());
  }
  const n = new Float32Array(c.dim);
  for (let i = 0; i < c.dim; i++) n[i] = 1 + 0.1 * normal();
  w.set('model.norm.weight', { shape: [c.dim], data: n });
  matrix('lm_head.weight', c.vocab, c.dim, headGain);
  return w;
}

/** Writes DIR/config.json + DIR/model.safetensors; returns the config. */
export function writeMixesModel(dir, { seed = 7, layers = MIXES_MODEL.layers, residualGain, headGain } = {}) {
  const c = { ...MIXES_MODEL, layers };
  writeTinyModel(dir, c, seed, mixesWeights(c, seed, { residualGain, headGain }));
  return c;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
  const out = opt('out');
  if (!out) {
    process.stderr.write('usage: node bench/make-mixes-model.mjs --out DIR [--seed 7] [--layers 8]\n');
    process.exit(2);
  }
  const c = writeMixesModel(path.resolve(out), { seed: Number(opt('seed', 7)), layers: Number(opt('layers', 8)) });
  process.stdout.write(
    `${out}: llama dim ${c.dim}, hidden ${c.hidden}, ${c.layers} layers, ${c.heads}/${c.kvHeads} heads, vocab ${c.vocab}, untied\n`,
  );
}
