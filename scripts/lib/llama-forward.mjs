// A float64 forward pass of a Hugging Face Llama (safetensors, F32) and emulations of the
// activation quantization llama.cpp's CPU matmuls apply, for the llama.cpp check scripts
// (scripts/llama-cpp-check.mjs, scripts/llama-cpp-kquant-check.mjs; outside npm test).
import * as fs from 'node:fs';

export function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.toString('utf8', 8, 8 + n));
  const t = {};
  for (const [k, v] of Object.entries(h)) {
    if (k === '__metadata__') continue;
    if (v.dtype !== 'F32') throw new Error(`${file}: ${k} is ${v.dtype}`);
    const [b, e] = v.data_offsets;
    t[k] = Float64Array.from(
      new Float32Array(buf.buffer.slice(buf.byteOffset + 8 + n + b, buf.byteOffset + 8 + n + e)),
    );
  }
  return t;
}
// Rounds to the nearest f16 (round half to even), as ggml's fp32 -> fp16 conversion.
export function f16Round(x) {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const ulp = Math.pow(2, e - 10);
  let q = a / ulp;
  const f = Math.floor(q),
    r = q - f;
  q = r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f;
  return Math.sign(x) * q * ulp;
}
// llama.cpp multiplies a q8_0 matrix by activations it quantizes to q8_0 first (per 32
// values: d = max|x| / 127 stored as f16, q = round(x / d)); this emulates that.
export function q8Activations(x) {
  const y = new Float64Array(x.length);
  for (let b = 0; b < x.length; b += 32) {
    let amax = 0;
    for (let i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(Math.fround(x[i])));
    const d = Math.fround(amax / 127),
      id = d ? Math.fround(1 / d) : 0,
      dh = f16Round(d);
    for (let i = b; i < b + 32; i++) y[i] = Math.round(Math.fround(Math.fround(x[i]) * id)) * dh;
  }
  return y;
}
// A K-quant matrix (q2_k ... q6_k) multiplies activations quantized to q8_K: per 256 values
// m = the value of largest magnitude (the first), iscale = -127 / m in f32, q = min(127,
// round-half-even(iscale x)), d = 1 / iscale in f32 (not f16).
export function q8KActivations(x) {
  const y = new Float64Array(x.length);
  const rne = (v) => {
    const f = Math.floor(v),
      r = v - f;
    return r > 0.5 || (r === 0.5 && f % 2 !== 0) ? f + 1 : f;
  };
  for (let b = 0; b < x.length; b += 256) {
    let amax = 0,
      max = 0;
    for (let i = b; i < b + 256; i++) {
      const a = Math.abs(Math.fround(x[i]));
      if (a > amax) {
        amax = a;
        max = Math.fround(x[i]);
      }
    }
    if (!amax) continue;
    const iscale = Math.fround(-127 / max),
      d = Math.fround(1 / iscale);
    for (let i = b; i < b + 256; i++) y[i] = Math.min(127, rne(Math.fround(iscale * Math.fround(x[i])))) * d;
  }
  return y;
}
/** A step function (token, position[, logits = true]) -> logits of a Hugging Face Llama in
 *  float64 (rotate-half rotary; head_dim, an untied lm_head and Llama 3's rope_scaling as
 *  transformers computes them); actQuant(name) may return a function applied to the input of
 *  that matrix (how llama.cpp quantizes activations before a quantized matmul). */
export function llamaForward(weightsFile, cfg, actQuant = () => undefined) {
  const W = readSafetensors(weightsFile);

  const D = cfg.hidden_size,
    H = cfg.num_attention_heads,
    KV = cfg.num_key_value_heads,
    hd = cfg.head_dim ?? D / H,
    L = cfg.num_hidden_layers,
    F = cfg.intermediate_size;
  const eps = cfg.rms_norm_eps,
    theta = cfg.rope_theta,
    V = cfg.vocab_size;
  const mv = (w, x, rows, cols) => {
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let a = 0;
      for (let c = 0; c < cols; c++) a += w[r * cols + c] * x[c];
      y[r] = a;
    }
    return y;
  };
  const mvq = (name, x, rows, cols) => {
    const f = actQuant(name);
    return mv(W[name], f ? f(x) : x, rows, cols);
  };
  const rms = (x, w) => {
    let s = 0;
    for (const v of x) s += v * v;
    const k = 1 / Math.sqrt(s / x.length + eps);
    return x.map((v, i) => v * k * w[i]);
  };
  // Inverse frequencies; Llama 3 scaling as transformers' _compute_llama3_parameters.
  const invFreq = Array.from({ length: hd / 2 }, (_, i) => Math.pow(theta, (-2 * i) / hd));
  const rs = cfg.rope_scaling;
  if (rs && (rs.rope_type ?? rs.type) === 'llama3') {
    const old = rs.original_max_position_embeddings,
      lowWl = old / rs.low_freq_factor,
      highWl = old / rs.high_freq_factor;
    for (let i = 0; i < invFreq.length; i++) {
      const wl = (2 * Math.PI) / invFreq[i];
      if (wl > lowWl) invFreq[i] /= rs.factor;
      else if (wl >= highWl) {
        const smooth = (old / wl - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        invFreq[i] = ((1 - smooth) * invFreq[i]) / rs.factor + smooth * invFreq[i];
      }
    }
  } else if (rs && (rs.rope_type ?? rs.type ?? 'default') !== 'default')
    throw new Error(`rope_scaling ${rs.rope_type ?? rs.type} is not in this reference`);
  const rope = (v, heads, pos) => {
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < hd / 2; i++) {
        const a = pos * invFreq[i],
          c = Math.cos(a),
          s = Math.sin(a);
        const x0 = v[h * hd + i],
          x1 = v[h * hd + i + hd / 2];
        v[h * hd + i] = x0 * c - x1 * s;
        v[h * hd + i + hd / 2] = x1 * c + x0 * s;
      }
  };
  const cache = Array.from({ length: L }, () => ({ k: [], v: [] }));
  const head = W['lm_head.weight'] ? 'lm_head.weight' : 'model.embed_tokens.weight';
  return (tok, pos, logits = true) => {
    let x = W['model.embed_tokens.weight'].slice(tok * D, (tok + 1) * D);
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}.`;
      const xn = rms(x, W[p + 'input_layernorm.weight']);
      const q = mvq(p + 'self_attn.q_proj.weight', xn, H * hd, D),
        k = mvq(p + 'self_attn.k_proj.weight', xn, KV * hd, D),
        v = mvq(p + 'self_attn.v_proj.weight', xn, KV * hd, D);
      rope(q, H, pos);
      rope(k, KV, pos);
      cache[l].k.push(k);
      cache[l].v.push(v);
      const att = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / KV));
        const sc = cache[l].k.map((kk) => {
          let a = 0;
          for (let i = 0; i < hd; i++) a += q[h * hd + i] * kk[g * hd + i];
          return a / Math.sqrt(hd);
        });
        const m = sc.reduce((a, b) => Math.max(a, b), -Infinity),
          e = sc.map((s) => Math.exp(s - m)),
          z = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t < e.length; t++)
          for (let i = 0; i < hd; i++) att[h * hd + i] += (e[t] / z) * cache[l].v[t][g * hd + i];
      }
      const o = mvq(p + 'self_attn.o_proj.weight', att, D, H * hd);
      x = x.map((a, i) => a + o[i]);
      const xf = rms(x, W[p + 'post_attention_layernorm.weight']);
      const gt = mvq(p + 'mlp.gate_proj.weight', xf, F, D),
        up = mvq(p + 'mlp.up_proj.weight', xf, F, D);
      const hdn = gt.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const d = mvq(p + 'mlp.down_proj.weight', hdn, D, F);
      x = x.map((a, i) => a + d[i]);
    }
    return logits ? mvq(head, rms(x, W['model.norm.weight']), V, D) : undefined;
  };
}
