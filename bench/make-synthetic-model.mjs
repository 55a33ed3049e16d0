#!/usr/bin/env node
// Writes a synthetic Llama-like Hugging Face folder (config.json + safetensors) for
// benchmarks and tests. Weights are heavy-tailed like trained LLM weights: Student-t with
// nu = 5 scaled to std 0.02, and 8 input columns per matrix scaled x10 (the outlier input
// channels real models have). Streams tensor by tensor in chunks: memory stays ~tens of
// MB whatever the size (a 1B-parameter model is 2 GB of bf16).
//
//   node bench/make-synthetic-model.mjs --out DIR [--params 2e7] [--dtype bf16|f16|f32]
//       [--dim N --layers N --hidden N --vocab N --heads N --kv-heads N --head-dim N] [--tied]
//       [--family llama|llama3|llama2|qwen2|qwen3|mistral]
//       [--rope-scaling none|llama3|linear|dynamic|yarn] [--rope-factor F]
//       [--shards N] [--seed N] [--nan TENSOR] [--quiet]
//
// --params picks the architecture (head dim 64, hidden ~ 2.75 dim, kv heads = heads / 8,
// layers ~ dim / 96, vocab 32000 from 2e8 params up, else 4096); explicit sizes override.
// --family writes that family's config.json key set as it ships (Llama 3.1-3.3 with
// head_dim, Llama 2, Qwen2.5, Qwen3, Mistral 7B v0.1) and its tensors: q/k/v biases for
// qwen2, q_norm/k_norm for qwen3; the default `llama` is the plain Llama config. --head-dim
// sets head_dim apart from dim / heads (Qwen3: 128 with 1024 / 16). --rope-scaling adds
// rope_scaling with the real keys: llama3 (factor 32 with --tied as Llama 3.2 1B/3B, else
// 8 as 3.1/3.3; low 1, high 4 over 8192; rope_theta 500000), linear and dynamic (factor
// 4, "type" key as older checkpoints), yarn (factor 4 over the family's context, as Qwen
// documents it); --rope-factor overrides the factor. --family llama3 implies
// --rope-scaling llama3 (--rope-scaling none: Llama 3.0).
// The Llama-3.2-1B shape: --dim 2048 --layers 16 --heads 32 --kv-heads 8 --hidden 8192
// --vocab 128256 --tied --rope-scaling llama3 (add --family llama3 for its exact key set).
// --shards N writes model-0000i-of-0000N.safetensors + model.safetensors.index.json.
// --nan TENSOR puts one NaN in that tensor (to test the runner's error).
// Not committed: generate on demand (bench/model-bench.mjs does it for you).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAMILIES = ['llama', 'llama3', 'llama2', 'qwen2', 'qwen3', 'mistral'];
export const ROPE_SCALINGS = ['none', 'llama3', 'linear', 'dynamic', 'yarn'];

export function chooseArchitecture(opts = {}) {
  const P = Number(opts.params ?? 2e7);
  const vocab = opts.vocab ?? (P >= 2e8 ? 32000 : 4096);
  const tied = !!opts.tied;
  const family = opts.family ?? 'llama';
  if (!FAMILIES.includes(family)) throw new Error(`--family must be one of ${FAMILIES.join(', ')}, not ${family}`);
  const ropeScaling = opts.ropeScaling ?? (family === 'llama3' ? 'llama3' : 'none');
  if (!ROPE_SCALINGS.includes(ropeScaling))
    throw new Error(`--rope-scaling must be one of ${ROPE_SCALINGS.join(', ')}, not ${ropeScaling}`);
  const shape = (dim) => {
    const heads = opts.heads ?? Math.max(1, Math.round(dim / 64));
    const kvHeads = opts.kvHeads ?? Math.max(1, Math.floor(heads / 8));
    const hidden = opts.hidden ?? Math.max(64, Math.round((dim * 2.75) / 64) * 64);
    const headDim = opts.headDim ?? dim / heads;
    const qDim = headDim * heads,
      kvDim = headDim * kvHeads;
    const extra = family === 'qwen2' ? qDim + 2 * kvDim : family === 'qwen3' ? 2 * headDim : 0;
    const perLayer = 2 * qDim * dim + 2 * kvDim * dim + 3 * dim * hidden + 2 * dim + extra;
    const base = vocab * dim * (tied ? 1 : 2) + dim;
    return { dim, heads, kvHeads, hidden, headDim, kvDim, perLayer, base };
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
  const { headDim, heads, kvHeads } = best;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    throw new Error(`head dim ${headDim} (dim ${best.dim} / ${heads} heads) must be an even integer; set --head-dim`);
  if (heads % kvHeads !== 0) throw new Error(`--kv-heads ${kvHeads} must divide --heads ${heads}`);
  return {
    dim: best.dim,
    hidden: best.hidden,
    layers: best.layers,
    heads,
    kvHeads,
    headDim,
    vocab,
    tied,
    family,
    ropeScaling,
    ropeFactor: opts.ropeFactor,
    params: best.params,
  };
}

export function tensorList(a) {
  const headDim = a.headDim ?? a.dim / a.heads;
  const qDim = headDim * a.heads,
    kvDim = headDim * a.kvHeads;
  const t = [['model.embed_tokens.weight', [a.vocab, a.dim]]];
  for (let l = 0; l < a.layers; l++) {
    const p = `model.layers.${l}.`;
    t.push(
      [p + 'input_layernorm.weight', [a.dim]],
      [p + 'self_attn.q_proj.weight', [qDim, a.dim]],
      [p + 'self_attn.k_proj.weight', [kvDim, a.dim]],
      [p + 'self_attn.v_proj.weight', [kvDim, a.dim]],
    );
    if (a.family === 'qwen2')
      t.push(
        [p + 'self_attn.q_proj.bias', [qDim]],
        [p + 'self_attn.k_proj.bias', [kvDim]],
        [p + 'self_attn.v_proj.bias', [kvDim]],
      );
    if (a.family === 'qwen3')
      t.push([p + 'self_attn.q_norm.weight', [headDim]], [p + 'self_attn.k_norm.weight', [headDim]]);
    t.push(
      [p + 'self_attn.o_proj.weight', [a.dim, qDim]],
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
      // Norm weights around 1; biases (1-D too) like the other weights.
      const table = oneD && !t.name.endsWith('.bias') ? tables.norm : tables.normal;
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
    ...configFor(arch, { bf16: 'bfloat16', f16: 'float16', f32: 'float32' }[dtype]),
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

// ---- config.json ------------------------------------------------------------------------

/** rope_scaling with the real keys, and the max_position_embeddings that goes with it. */
function ropeScalingFor(a, context) {
  const f = a.ropeFactor;
  switch (a.ropeScaling) {
    case 'llama3': {
      const factor = f ?? (a.tied ? 32 : 8);
      const scaling = {
        factor,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      };
      return { scaling, maxPositions: 131072, theta: 500000.0 };
    }
    case 'linear':
      return { scaling: { factor: f ?? 4, type: 'linear' }, maxPositions: context * (f ?? 4) };
    case 'dynamic':
      return { scaling: { factor: f ?? 4, type: 'dynamic' }, maxPositions: context };
    case 'yarn': {
      const factor = f ?? 4;
      return {
        scaling: { factor, original_max_position_embeddings: context, type: 'yarn' },
        maxPositions: context * factor,
      };
    }
    default:
      return { scaling: null, maxPositions: context };
  }
}

/** The family's config.json as it ships (key set and order), with these sizes. */
export function configFor(a, torchDtype) {
  const headDim = a.headDim ?? a.dim / a.heads;
  const ownHeadDim = headDim !== a.dim / a.heads;
  const token = (id, small) => (a.vocab > id ? id : small);
  switch (a.family) {
    case 'llama3': {
      const r = ropeScalingFor(a, 8192);
      return {
        architectures: ['LlamaForCausalLM'],
        attention_bias: false,
        attention_dropout: 0.0,
        bos_token_id: token(128000, 1),
        eos_token_id: token(128001, 2),
        head_dim: headDim,
        hidden_act: 'silu',
        hidden_size: a.dim,
        initializer_range: 0.02,
        intermediate_size: a.hidden,
        max_position_embeddings: r.maxPositions,
        mlp_bias: false,
        model_type: 'llama',
        num_attention_heads: a.heads,
        num_hidden_layers: a.layers,
        num_key_value_heads: a.kvHeads,
        pretraining_tp: 1,
        rms_norm_eps: 1e-5,
        rope_scaling: r.scaling,
        rope_theta: 500000.0,
        tie_word_embeddings: a.tied,
        torch_dtype: torchDtype,
        transformers_version: '4.45.0.dev0',
        use_cache: true,
        vocab_size: a.vocab,
      };
    }
    case 'llama2': {
      const r = ropeScalingFor(a, 4096);
      return {
        architectures: ['LlamaForCausalLM'],
        bos_token_id: 1,
        eos_token_id: 2,
        ...(ownHeadDim ? { head_dim: headDim } : {}),
        hidden_act: 'silu',
        hidden_size: a.dim,
        initializer_range: 0.02,
        intermediate_size: a.hidden,
        max_position_embeddings: r.maxPositions,
        model_type: 'llama',
        num_attention_heads: a.heads,
        num_hidden_layers: a.layers,
        num_key_value_heads: a.kvHeads,
        pretraining_tp: 1,
        rms_norm_eps: 1e-5,
        rope_scaling: r.scaling,
        ...(r.theta ? { rope_theta: r.theta } : {}),
        tie_word_embeddings: a.tied,
        torch_dtype: torchDtype,
        transformers_version: '4.31.0.dev0',
        use_cache: true,
        vocab_size: a.vocab,
      };
    }
    case 'qwen2': {
      const r = ropeScalingFor(a, 32768);
      return {
        architectures: ['Qwen2ForCausalLM'],
        attention_dropout: 0.0,
        bos_token_id: token(151643, 1),
        eos_token_id: token(151643, 1),
        ...(ownHeadDim ? { head_dim: headDim } : {}),
        hidden_act: 'silu',
        hidden_size: a.dim,
        initializer_range: 0.02,
        intermediate_size: a.hidden,
        max_position_embeddings: r.maxPositions,
        max_window_layers: a.layers,
        model_type: 'qwen2',
        num_attention_heads: a.heads,
        num_hidden_layers: a.layers,
        num_key_value_heads: a.kvHeads,
        rms_norm_eps: 1e-6,
        ...(r.scaling ? { rope_scaling: r.scaling } : {}),
        rope_theta: r.theta ?? 1000000.0,
        sliding_window: 32768,
        tie_word_embeddings: a.tied,
        torch_dtype: torchDtype,
        transformers_version: '4.40.1',
        use_cache: true,
        use_mrope: false,
        use_sliding_window: false,
        vocab_size: a.vocab,
      };
    }
    case 'qwen3': {
      const r = ropeScalingFor(a, a.ropeScaling === 'none' ? 40960 : 32768);
      return {
        architectures: ['Qwen3ForCausalLM'],
        attention_bias: false,
        attention_dropout: 0.0,
        bos_token_id: token(151643, 1),
        eos_token_id: token(151645, 2),
        head_dim: headDim,
        hidden_act: 'silu',
        hidden_size: a.dim,
        initializer_range: 0.02,
        intermediate_size: a.hidden,
        max_position_embeddings: r.maxPositions,
        max_window_layers: a.layers,
        model_type: 'qwen3',
        num_attention_heads: a.heads,
        num_hidden_layers: a.layers,
        num_key_value_heads: a.kvHeads,
        rms_norm_eps: 1e-6,
        rope_scaling: r.scaling,
        rope_theta: r.theta ?? 1000000,
        sliding_window: null,
        tie_word_embeddings: a.tied,
        torch_dtype: torchDtype,
        transformers_version: '4.51.0',
        use_cache: true,
        use_sliding_window: false,
        vocab_size: a.vocab,
      };
    }
    case 'mistral': {
      const r = ropeScalingFor(a, 32768);
      return {
        architectures: ['MistralForCausalLM'],
        bos_token_id: 1,
        eos_token_id: 2,
        ...(ownHeadDim ? { head_dim: headDim } : {}),
        hidden_act: 'silu',
        hidden_size: a.dim,
        initializer_range: 0.02,
        intermediate_size: a.hidden,
        max_position_embeddings: r.maxPositions,
        model_type: 'mistral',
        num_attention_heads: a.heads,
        num_hidden_layers: a.layers,
        num_key_value_heads: a.kvHeads,
        rms_norm_eps: 1e-5,
        ...(r.scaling ? { rope_scaling: r.scaling } : {}),
        rope_theta: r.theta ?? 10000.0,
        sliding_window: 4096,
        tie_word_embeddings: a.tied,
        torch_dtype: torchDtype,
        transformers_version: '4.34.0.dev0',
        use_cache: true,
        vocab_size: a.vocab,
      };
    }
    default: {
      // The plain Llama config the benchmarks have always used.
      const r = ropeScalingFor(a, 2048);
      return {
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: a.dim,
        intermediate_size: a.hidden,
        num_hidden_layers: a.layers,
        num_attention_heads: a.heads,
        num_key_value_heads: a.kvHeads,
        ...(ownHeadDim ? { head_dim: headDim } : {}),
        vocab_size: a.vocab,
        max_position_embeddings: r.maxPositions,
        rms_norm_eps: 1e-5,
        rope_theta: r.theta ?? 10000.0,
        ...(r.scaling ? { rope_scaling: r.scaling } : {}),
        tie_word_embeddings: a.tied,
        hidden_act: 'silu',
        torch_dtype: torchDtype,
      };
    }
  }
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
      case '--head-dim':
        o.headDim = num(v(), 'head-dim');
        break;
      case '--family':
        o.family = v();
        break;
      case '--rope-scaling':
        o.ropeScaling = v();
        break;
      case '--rope-factor':
        o.ropeFactor = num(v(), 'rope-factor');
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
      'usage: node bench/make-synthetic-model.mjs --out DIR [--params 2e7] [--dtype bf16|f16|f32]\n' +
        '    [--dim N --layers N --hidden N --vocab N --heads N --kv-heads N --head-dim N] [--tied]\n' +
        '    [--family llama|llama3|llama2|qwen2|qwen3|mistral] [--rope-scaling none|llama3|linear|dynamic|yarn] [--rope-factor F]\n' +
        '    [--shards N] [--seed N] [--nan TENSOR] [--quiet]\n',
    );
    process.exit(opts.help ? 0 : 2);
  }
  const t0 = process.hrtime.bigint();
  let info;
  try {
    info = writeSyntheticModel(path.resolve(opts.out), opts);
  } catch (e) {
    process.stderr.write(`make-synthetic-model: ${e.message}\n`);
    process.exit(2);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!opts.quiet) {
    process.stdout.write(
      `${info.dir}: ${info.family} dim ${info.dim}, hidden ${info.hidden}, ${info.layers} layers, ${info.heads}/${info.kvHeads} heads of ${info.headDim}, vocab ${info.vocab}` +
        `${info.ropeScaling !== 'none' ? `, rope ${info.ropeScaling}` : ''}` +
        `${info.tied ? ' (tied)' : ''}: ${info.params.toLocaleString('en-US')} params, ${info.tensors} tensors, ${(info.bytes / 2 ** 20).toFixed(1)} MiB ${info.dtype}` +
        `${info.shards > 1 ? ` in ${info.shards} shards` : ''}, largest tensor ${(info.largestTensorBytes / 2 ** 20).toFixed(1)} MiB (${secs.toFixed(1)} s)\n`,
    );
  }
}
