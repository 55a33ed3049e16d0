#!/usr/bin/env node
// Writes a synthetic Llama-like Hugging Face folder (config.json + safetensors) for
// benchmarks and tests. Weights are heavy-tailed like trained LLM weights: Student-t with
// nu = 5 scaled to std 0.02, and 8 input columns per matrix scaled x10 (the outlier input
// channels real models have). Streams tensor by tensor in chunks: memory stays ~tens of
// MB whatever the size (a 1B-parameter model is 2 GB of bf16).
//
//   node bench/make-synthetic-model.mjs --out DIR [--params 2e7] [--dtype bf16|f16|f32]
//       [--dim N --layers N --hidden N --vocab N --heads N --kv-heads N] [--tied]
//       [--shards N] [--seed N] [--nan TENSOR] [--quiet]
//
// --params picks the architecture (head dim 64, hidden ~ 2.75 dim, kv heads = heads / 8,
// layers ~ dim / 96, vocab 32000 from 2e8 params up, else 4096); explicit sizes override.
// --shards N writes model-0000i-of-0000N.safetensors + model.safetensors.index.json.
// --nan TENSOR puts one NaN in that tensor (to test the runner's error).
// Not committed: generate on demand (bench/model-bench.mjs does it for you).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function chooseArchitecture(opts = {}) {
  const P = Number(opts.params ?? 2e7);
  const vocab = opts.vocab ?? (P >= 2e8 ? 32000 : 4096);
  const tied = !!opts.tied;
  const shape = (dim) => {
    const heads = opts.heads ?? Math.max(1, Math.round(dim / 64));
    const kvHeads = opts.kvHeads ?? Math.max(1, Math.floor(heads / 8));
    const hidden = opts.hidden ?? Math.max(64, Math.round((dim * 2.75) / 64) * 64);
    const kvDim = (dim / heads) * kvHeads;
    const perLayer = 2 * dim * dim + 2 * kvDim * dim + 3 * dim * hidden + 2 * dim;
    const base = vocab * dim * (tied ? 1 : 2) + dim;
    return { dim, heads, kvHeads, hidden, kvDim, perLayer, base };
  };
  let best;
  const dims = opts.dim
    ? [opts.dim]
    : [64, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096, 5120, 8192];
  for (const dim of dims) {
    const s = shape(dim);
    const layers = opts.layers ?? Math.max(1, Math.round((P - s.base) / s.perLayer));
    const aspect = Math.abs(Math.log(layers / Math.max(1, dim / 96)));
    const total = s.base + layers * s.perLayer;
    const miss = Math.abs(Math.log(total / P));
    const score = (opts.layers ? 0 : aspect) + 4 * miss;
    if (!best || score < best.score) best = { ...s, layers, score, params: total };
  }
  return {
    dim: best.dim,
    hidden: best.hidden,
    layers: best.layers,
    heads: best.heads,
    kvHeads: best.kvHeads,
    vocab,
    tied,
    params: best.params,
  };
}

export function tensorList(a) {
  const kvDim = (a.dim / a.heads) * a.kvHeads;
  const t = [['model.embed_tokens.weight', [a.vocab, a.dim]]];
  for (let l = 0; l < a.layers; l++) {
    const p = `model.layers.${l}.`;
    t.push(
      [p + 'input_layernorm.weight', [a.dim]],
      [p + 'self_attn.q_proj.weight', [a.dim, a.dim]],
      [p + 'self_attn.k_proj.weight', [kvDim, a.dim]],
      [p + 'self_attn.v_proj.weight', [kvDim, a.dim]],
      [p + 'self_attn.o_proj.weight', [a.dim, a.dim]],
      [p + 'post_attention_layernorm.weight', [a.dim]],
      [p + 'mlp.gate_proj.weight', [a.hidden, a.dim]],
      [p + 'mlp.down_proj.weight', [a.dim, a.hidden]],
      [p + 'mlp.up_proj.weight', [a.hidden, a.dim]],
    );
  }
  t.push(['model.norm.weight', [a.dim]]);
  if (!a.tied) t.push(['lm_head.weight', [a.vocab, a.dim]]);
  return t.map(([name, shape]) => ({ name, shape, elements: shape.reduce((x, y) => x * y, 1) }));
}

// ---- numbers ---------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bf16(x) {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
function f16(x) {
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    f32[0] = Math.abs(x) + 0.5;
    return sign | ((u32[0] - 0x3f000000) & 0xffff);
  }
  const odd = (a >>> 13) & 1;
  return sign | (((a + ((15 - 127) << 23) + 0xfff + odd) >>> 13) & 0xffff);
}

/** Quantiles of Student-t(5) at (i + 0.5) / n, by Newton on the closed-form CDF. */
function studentT5Quantiles(n) {
  const q = new Float64Array(n);
  const cdf = (t) => {
    const th = Math.atan(t / Math.sqrt(5));
    const c = Math.cos(th);
    return 0.5 + (th + Math.sin(th) * c * (1 + (2 / 3) * c * c)) / Math.PI;
  };
  const k = 8 / (3 * Math.PI * Math.sqrt(5));
  const pdf = (t) => k * Math.pow(1 + (t * t) / 5, -3);
  let t = 0;
  for (let i = n / 2; i < n; i++) {
    const p = (i + 0.5) / n;
    for (let it = 0; it < 50; it++) {
      const step = (cdf(t) - p) / pdf(t);
      t -= step;
      if (Math.abs(step) < 1e-12 * Math.max(1, Math.abs(t))) break;
    }
    q[i] = t;
    q[n - 1 - i] = -t;
  }
  return q;
}

const TABLE_BITS = 20;

function makeTables(dtype, std, outlierScale) {
  const n = 1 << TABLE_BITS;
  const q = studentT5Quantiles(n);
  const s = std / Math.sqrt(5 / 3); // t(5) has variance 5/3
  const Arr = dtype === 'f32' ? Float32Array : Uint16Array;
  const enc = dtype === 'f32' ? (x) => x : dtype === 'f16' ? f16 : bf16;
  const normal = new Arr(n),
    outlier = new Arr(n),
    norm = new Arr(n);
  for (let i = 0; i < n; i++) {
    normal[i] = enc(q[i] * s);
    outlier[i] = enc(q[i] * s * outlierScale);
    norm[i] = enc(1 + 0.05 * q[i]);
  }
  return { normal, outlier, norm, bytes: dtype === 'f32' ? 4 : 2 };
}

// ---- writer ----------------------------------------------------------------------------

export function writeSyntheticModel(out, opts = {}) {
  const dtype = opts.dtype ?? 'bf16';
  if (!['bf16', 'f16', 'f32'].includes(dtype)) throw new Error(`--dtype must be bf16, f16 or f32, not ${dtype}`);
  const arch = chooseArchitecture(opts);
  const tensors = tensorList(arch);
  const tables = makeTables(dtype, opts.std ?? 0.02, opts.outlierScale ?? 10);
  const esize = tables.bytes;
  const stDtype = { bf16: 'BF16', f16: 'F16', f32: 'F32' }[dtype];
  const shards = Math.max(1, Math.floor(opts.shards ?? 1));
  const outlierCols = opts.outlierCols ?? 8;
  let seed = (opts.seed ?? 1234) >>> 0 || 1;
  const rng = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };

  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(out))
    if (f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json')) fs.rmSync(path.join(out, f));
  const totalBytes = tensors.reduce((a, t) => a + t.elements * esize, 0);
  // Assign tensors to shards by cumulative size.
  const perShard = totalBytes / shards;
  let acc = 0;
  for (const t of tensors) {
    t.shard = Math.min(shards - 1, Math.floor(acc / perShard));
    acc += t.elements * esize;
  }
  const shardName = (i) =>
    shards === 1
      ? 'model.safetensors'
      : `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
  const CHUNK = 1 << 22;
  const buf = new (esize === 4 ? Float32Array : Uint16Array)(CHUNK);
  const bytesView = new Uint8Array(buf.buffer);
  const mask = (1 << TABLE_BITS) - 1;
  for (let s = 0; s < shards; s++) {
    const mine = tensors.filter((t) => t.shard === s);
    const header = { __metadata__: { format: 'pt', generator: 'bitsmith bench/make-synthetic-model.mjs' } };
    let off = 0;
    for (const t of mine) {
      header[t.name] = { dtype: stDtype, shape: t.shape, data_offsets: [off, off + t.elements * esize] };
      off += t.elements * esize;
    }
    let json = JSON.stringify(header);
    while ((8 + json.length) % 8) json += ' ';
    const file = path.join(out, shardName(s));
    const fd = fs.openSync(file, 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    fs.writeSync(fd, len);
    fs.writeSync(fd, json);
    for (const t of mine) {
      const cols = t.shape[t.shape.length - 1];
      const oneD = t.shape.length === 1;
      // This tensor's outlier input columns.
      const special = new Set();
      if (!oneD) while (special.size < Math.min(outlierCols, cols)) special.add(rng() % cols);
      const specialCols = [...special];
      const table = oneD ? tables.norm : tables.normal;
      let nanAt = opts.nan === t.name ? Math.floor(t.elements / 2) : -1;
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK / cols));
      const rows = t.elements / cols;
      for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
        const r1 = Math.min(rows, r0 + rowsPerChunk);
        const n = (r1 - r0) * cols;
        for (let i = 0; i < n; i++) {
          let x = seed;
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          seed = x;
          buf[i] = table[(x >>> 0) & mask];
        }
        if (!oneD) {
          for (let r = 0; r < r1 - r0; r++)
            for (const c of specialCols) buf[r * cols + c] = tables.outlier[rng() & mask];
        }
        if (nanAt >= r0 * cols && nanAt < r1 * cols) {
          buf[nanAt - r0 * cols] = esize === 4 ? NaN : dtype === 'f16' ? 0x7e00 : 0x7fc0;
          nanAt = -1;
        }
        fs.writeSync(fd, bytesView, 0, n * esize);
      }
    }
    fs.closeSync(fd);
  }
  if (shards > 1) {
    const index = { metadata: { total_size: totalBytes }, weight_map: {} };
    for (const t of tensors) index.weight_map[t.name] = shardName(t.shard);
    fs.writeFileSync(path.join(out, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
  }
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: arch.dim,
    intermediate_size: arch.hidden,
    num_hidden_layers: arch.layers,
    num_attention_heads: arch.heads,
    num_key_value_heads: arch.kvHeads,
    vocab_size: arch.vocab,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    tie_word_embeddings: arch.tied,
    hidden_act: 'silu',
    torch_dtype: { bf16: 'bfloat16', f16: 'float16', f32: 'float32' }[dtype],
    bitsmith_synthetic: {
      distribution: 'student-t',
      nu: 5,
      std: opts.std ?? 0.02,
      outlier_columns: outlierCols,
      outlier_scale: opts.outlierScale ?? 10,
      seed: opts.seed ?? 1234,
    },
  };
  fs.writeFileSync(path.join(out, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const largest = tensors.reduce((a, t) => Math.max(a, t.elements), 0);
  return {
    dir: out,
    ...arch,
    dtype,
    tensors: tensors.length,
    bytes: totalBytes,
    largestTensorBytes: largest * esize,
    shards,
  };
}

// ---- command line ----------------------------------------------------------------------

function parseArgs(argv) {
  const o = {};
  const num = (v, k) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new Error(`--${k} needs a positive number, got ${v}`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--out':
        o.out = v();
        break;
      case '--params':
        o.params = num(v(), 'params');
        break;
      case '--dtype':
        o.dtype = v();
        break;
      case '--dim':
        o.dim = num(v(), 'dim');
        break;
      case '--layers':
        o.layers = num(v(), 'layers');
        break;
      case '--hidden':
        o.hidden = num(v(), 'hidden');
        break;
      case '--vocab':
        o.vocab = num(v(), 'vocab');
        break;
      case '--heads':
        o.heads = num(v(), 'heads');
        break;
      case '--kv-heads':
        o.kvHeads = num(v(), 'kv-heads');
        break;
      case '--shards':
        o.shards = num(v(), 'shards');
        break;
      case '--seed':
        o.seed = num(v(), 'seed');
        break;
      case '--std':
        o.std = num(v(), 'std');
        break;
      case '--nan':
        o.nan = v();
        break;
      case '--tied':
        o.tied = true;
        break;
      case '--quiet':
        o.quiet = true;
        break;
      case '--help':
      case '-h':
        o.help = true;
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`make-synthetic-model: ${e.message}\n`);
    process.exit(2);
  }
  if (opts.help || !opts.out) {
    process.stdout.write(
      'usage: node bench/make-synthetic-model.mjs --out DIR [--params 2e7] [--dtype bf16|f16|f32] [--shards N] [--tied] [--seed N] [--nan TENSOR]\n',
    );
    process.exit(opts.help ? 0 : 2);
  }
  const t0 = process.hrtime.bigint();
  const info = writeSyntheticModel(path.resolve(opts.out), opts);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!opts.quiet) {
    process.stdout.write(
      `${info.dir}: llama dim ${info.dim}, hidden ${info.hidden}, ${info.layers} layers, ${info.heads}/${info.kvHeads} heads, vocab ${info.vocab}` +
        `${info.tied ? ' (tied)' : ''}: ${info.params.toLocaleString('en-US')} params, ${info.tensors} tensors, ${(info.bytes / 2 ** 20).toFixed(1)} MiB ${info.dtype}` +
        `${info.shards > 1 ? ` in ${info.shards} shards` : ''}, largest tensor ${(info.largestTensorBytes / 2 ** 20).toFixed(1)} MiB (${secs.toFixed(1)} s)\n`,
    );
  }
}
