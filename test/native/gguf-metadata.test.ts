// output gguf with real tokenizers: a small random model of each family (llama with Llama 3.1
// and 3.2's rope scaling, qwen2 with biases, qwen3 with q/k norms and an explicit head_dim,
// mistral) combined with the real tokenizer.json / tokenizer_config.json of its family
// (the @lenml/tokenizer-* dev dependencies), written by the native runner and read back in
// full by core's GGUF reader: vocabulary, token types, merges, scores, pre-tokenizer, special
// ids, chat template, rope_freqs against the formula, tensor names and types. Expected
// values come from the tokenizer files themselves, read independently here.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readGgufHeader } from '../../core/src/models/gguf';
import { readModelHeader } from '../../core/src/models/load';
import { buildGgufSpec, sizeLabel } from '../../core/src/export/gguf';
import { ggufNativeSpec } from '../../core/src/export/ggufEncode';
import { TOKEN_TYPE } from '../../core/src/export/ggufTokenizer';
import { configJson, tinyWeights, writeSafetensors, type TinyConfig } from '../helpers/tinyLlama';

const root = path.resolve(__dirname, '..', '..');
const tokDir = (p: string) => path.join(root, 'node_modules', '@lenml', `tokenizer-${p}`, 'models');

interface Addon {
  modelInfo(p: string): { tensors: { name: string; shape: number[] }[] };
  startRun(job: unknown, onEvent: (e: unknown) => void): { cancel(): void; done: Promise<unknown> };
}
let addon: Addon;
let tmp: string;

before(function () {
  try {
    addon = require(path.join(root, 'native')) as Addon;
  } catch {
    this.skip();
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-gguf-meta-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface TokJson {
  model: { vocab: Record<string, number>; merges: (string | [string, string])[]; byte_fallback?: boolean };
  added_tokens: { id: number; content: string; special: boolean }[];
}

/** Writes the model with config.json = the tiny config + `extra`, and the tokenizer files. */
function modelWith(name: string, c: TinyConfig, extra: Record<string, unknown>, tok: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'model.safetensors'), tinyWeights(c));
  const config = {
    architectures: ['X'],
    model_type: c.modelType,
    hidden_size: c.dim,
    intermediate_size: c.hidden,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    vocab_size: c.vocab,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    tie_word_embeddings: !!c.tied,
    ...(c.headDim !== undefined ? { head_dim: c.headDim } : {}),
    ...extra,
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    fs.copyFileSync(path.join(tokDir(tok), f), path.join(dir, f));
  return dir;
}

async function writeGguf(dir: string) {
  const header = readModelHeader(dir);
  const spec = buildGgufSpec({ model: header, formats: {}, name: path.basename(dir), version: '0', recipeText: '' });
  const out = path.join(dir, 'out.gguf');
  const job = {
    model: dir,
    tensors: addon.modelInfo(dir).tensors.map((t) => ({ name: t.name, shape: t.shape, action: 'keep' })),
    threads: 2,
    gguf: { path: out, ...ggufNativeSpec(spec) },
  };
  const h = addon.startRun(job, () => undefined);
  await h.done;
  return { spec, h: readGgufHeader(out, { keepArrays: true }), out, header };
}

function readTok(tok: string): { tj: TokJson; cfg: Record<string, unknown> } {
  return {
    tj: JSON.parse(fs.readFileSync(path.join(tokDir(tok), 'tokenizer.json'), 'utf8')) as TokJson,
    cfg: JSON.parse(fs.readFileSync(path.join(tokDir(tok), 'tokenizer_config.json'), 'utf8')) as Record<
      string,
      unknown
    >,
  };
}

/** Tokens and types the file must hold, from tokenizer.json (llama.cpp's converter's rules). */
function checkVocabulary(md: Record<string, unknown>, tj: TokJson, vocab: number, spm: boolean) {
  const tokens = md['tokenizer.ggml.tokens'] as string[];
  const types = md['tokenizer.ggml.token_type'] as number[];
  assert.equal(tokens.length, vocab);
  assert.equal(types.length, vocab);
  const added = new Map(tj.added_tokens.map((a) => [a.id, a]));
  let checked = 0;
  for (const [t, id] of Object.entries(tj.model.vocab)) {
    if (added.has(id)) continue;
    if (tokens[id] !== t) assert.fail(`token ${id}: ${JSON.stringify(tokens[id])}, want ${JSON.stringify(t)}`);
    const want = spm && /^<0x[0-9A-F]{2}>$/.test(t) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
    if (types[id] !== want) assert.fail(`token ${id} ${JSON.stringify(t)}: type ${types[id]}, want ${want}`);
    checked++;
  }
  assert.ok(checked > 1000);
  for (const a of tj.added_tokens) {
    const special = a.special || /^<\|.*\|>$/.test(a.content) || /^<unused.*>$/.test(a.content);
    if (spm && a.content === '<unk>') {
      assert.equal(types[a.id], TOKEN_TYPE.unknown, '<unk> keeps its SentencePiece type');
      continue;
    }
    assert.equal(types[a.id], special ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined, `added ${a.content}`);
    assert.equal(tokens[a.id], special ? a.content : a.content.replace(/▁/g, ' '));
  }
  const used = new Set([...Object.values(tj.model.vocab), ...added.keys()]);
  for (let i = 0; i < vocab; i++)
    if (!used.has(i)) {
      assert.equal(tokens[i], `[PAD${i}]`);
      assert.equal(types[i], TOKEN_TYPE.unused);
    }
  assert.equal(new Set(tokens).size, vocab, 'no token text twice');
}

/** Llama 3's rope factors in float64 (the formula; the file's float32 values must be within rounding). */
function llama3Factors(
  hd: number,
  base: number,
  s: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number },
): number[] {
  const out: number[] = [];
  const low = s.original_max_position_embeddings / s.low_freq_factor;
  const high = s.original_max_position_embeddings / s.high_freq_factor;
  for (let i = 0; i < hd / 2; i++) {
    const freq = 1 / Math.pow(base, (2 * i) / hd);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < high) out.push(1);
    else if (wavelen > low) out.push(s.factor);
    else {
      const smooth =
        (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out.push(1 / ((1 - smooth) / s.factor + smooth));
    }
  }
  return out;
}

const f32At = (file: string, t: { offset: number; bytes: number }) => {
  const b = fs.readFileSync(file).subarray(t.offset, t.offset + t.bytes);
  return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
};

describe('GGUF metadata with real tokenizers (llama.cpp converter parity)', function () {
  this.timeout(300000);

  it('Llama 3.1: byte-level BPE "llama-bpe", 128,256 tokens, 280,147 merges, special ids, template, rope_freqs', async () => {
    const rope = {
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
      rope_type: 'llama3',
    };
    const c: TinyConfig = {
      modelType: 'llama',
      dim: 16,
      hidden: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      vocab: 128256,
      tied: true,
    };
    const dir = modelWith(
      'llama31',
      c,
      { rope_theta: 500000, rope_scaling: rope, bos_token_id: 128000, eos_token_id: [128001, 128009] },
      'llama3_1',
    );
    const { h, out, spec } = await writeGguf(dir);
    const md = h.metadata;
    const { tj, cfg } = readTok('llama3_1');
    assert.equal(md['tokenizer.ggml.model'], 'gpt2');
    assert.equal(md['tokenizer.ggml.pre'], 'llama-bpe');
    checkVocabulary(md, tj, 128256, false);
    const merges = md['tokenizer.ggml.merges'] as string[];
    assert.equal(merges.length, tj.model.merges.length);
    assert.equal(merges.length, 280147);
    assert.deepEqual(
      [merges[0], merges[1000], merges[merges.length - 1]],
      [tj.model.merges[0], tj.model.merges[1000], tj.model.merges[merges.length - 1]],
    );
    assert.equal(md['tokenizer.ggml.scores'], undefined, 'byte-level BPE has no scores (as the converter writes it)');
    // tokenizer_config.json names bos/eos by text; eot by llama.cpp's own list.
    assert.equal(tj.added_tokens.find((a) => a.content === cfg.eos_token)!.id, 128009);
    assert.equal(md['tokenizer.ggml.bos_token_id'], 128000);
    assert.equal(md['tokenizer.ggml.eos_token_id'], 128009);
    assert.equal(md['tokenizer.ggml.eot_token_id'], 128009);
    assert.equal(md['tokenizer.ggml.add_bos_token'], true, 'the post-processor adds <|begin_of_text|>');
    assert.equal(md['tokenizer.ggml.add_eos_token'], false);
    assert.equal(md['tokenizer.chat_template'], cfg.chat_template);
    // 128001 (<|end_of_text|>) is in eos_token_id but no llama.cpp end-of-generation token.
    assert.match(spec.warnings.join('\n'), /end-of-sequence id 128001 \("<\|end_of_text\|>"\)/);
    // rope_freqs.weight: the first tensor, head_dim/2 F32 factors.
    assert.equal(h.tensors[0].name, 'rope_freqs.weight');
    assert.deepEqual(h.tensors[0].shape, [4]);
    assert.equal(h.tensors[0].dtype, 'F32');
    const got = f32At(out, h.tensors[0]);
    const want = llama3Factors(8, 500000, rope);
    assert.deepEqual(
      want.map((w) => (w === 1 ? 'high' : w === 8 ? 'low' : 'smooth')),
      ['high', 'high', 'smooth', 'low'],
      'the 8-wide head covers all three branches',
    );
    for (let i = 0; i < 4; i++)
      assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * want[i], `factor ${i}: ${got[i]} vs ${want[i]}`);
    assert.equal(md['llama.rope.scaling.type'], undefined, 'llama3 scaling is the tensor, not metadata');
    assert.equal(md['llama.rope.freq_base'], 500000);
    assert.equal(md['general.type'], 'model');
    assert.equal(md['general.size_label'], sizeLabel(readModelHeader(dir).parameters));
    assert.equal(md['general.quantization_version'], 2);
    assert.equal(md['general.file_type'], 0);
  });

  it('Llama 3.2: merges in pair form, eom from <|eom_id|>, rope factor 32', async () => {
    const rope = {
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
      rope_type: 'llama3',
    };
    const c: TinyConfig = {
      modelType: 'llama',
      dim: 16,
      hidden: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      vocab: 128256,
      tied: true,
    };
    const dir = modelWith(
      'llama32',
      c,
      { rope_theta: 500000, rope_scaling: rope, eos_token_id: [128001, 128008, 128009] },
      'llama3_2',
    );
    const { h, out } = await writeGguf(dir);
    const md = h.metadata;
    const { tj } = readTok('llama3_2');
    assert.equal(md['tokenizer.ggml.pre'], 'llama-bpe');
    checkVocabulary(md, tj, 128256, false);
    const merges = md['tokenizer.ggml.merges'] as string[];
    assert.ok(Array.isArray(tj.model.merges[0]), 'this tokenizer.json stores merges as pairs');
    for (let i = 0; i < merges.length; i += 997) {
      const [a, b] = tj.model.merges[i] as [string, string];
      assert.equal(merges[i], `${a.replace(/ /g, 'Ġ')} ${b.replace(/ /g, 'Ġ')}`);
    }
    assert.equal(md['tokenizer.ggml.eom_token_id'], 128008);
    assert.equal(md['tokenizer.ggml.eot_token_id'], 128009);
    const got = f32At(out, h.tensors[0]);
    const want = llama3Factors(8, 500000, rope);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * want[i]);
    assert.equal(got[3], 32);
  });

  it('Qwen2.5 (qwen2): "qwen2" pre-tokenizer, padded ids, biases under llama.cpp names, pad id', async () => {
    const c: TinyConfig = {
      modelType: 'qwen2',
      dim: 16,
      hidden: 32,
      layers: 2,
      heads: 2,
      kvHeads: 1,
      vocab: 151936,
      tied: true,
      bias: true,
    };
    const dir = modelWith('qwen25', c, { bos_token_id: 151643, eos_token_id: 151645 }, 'qwen2_5');
    const { h, spec } = await writeGguf(dir);
    const md = h.metadata;
    const { tj, cfg } = readTok('qwen2_5');
    assert.equal(md['general.architecture'], 'qwen2');
    assert.equal(md['tokenizer.ggml.pre'], 'qwen2');
    checkVocabulary(md, tj, 151936, false);
    assert.equal((md['tokenizer.ggml.merges'] as string[]).length, tj.model.merges.length);
    const types = md['tokenizer.ggml.token_type'] as number[];
    const tokens = md['tokenizer.ggml.tokens'] as string[];
    assert.equal(types[tokens.indexOf('<tool_call>')], TOKEN_TYPE.userDefined, 'not special: user-defined');
    assert.equal(types[tokens.indexOf('<|im_start|>')], TOKEN_TYPE.control);
    // bos_token is null in tokenizer_config.json: config.json's id; eos and pad by text.
    assert.equal(cfg.bos_token, null);
    assert.equal(md['tokenizer.ggml.bos_token_id'], 151643);
    assert.equal(md['tokenizer.ggml.eos_token_id'], 151645);
    assert.equal(md['tokenizer.ggml.padding_token_id'], 151643);
    assert.equal(md['tokenizer.ggml.eot_token_id'], 151645);
    assert.equal(md['tokenizer.ggml.add_bos_token'], false);
    assert.equal(md['tokenizer.chat_template'], cfg.chat_template);
    assert.match(spec.notes.join('\n'), /\d+ unused ids padded as \[PAD<id>\]/);
    const names = h.tensors.map((t) => t.name);
    for (const n of ['blk.1.attn_q.bias', 'blk.1.attn_k.bias', 'blk.1.attn_v.bias']) {
      assert.ok(names.includes(n), n);
      assert.equal(h.tensors.find((t) => t.name === n)!.dtype, 'F32');
    }
    assert.ok(!names.includes('rope_freqs.weight'));
  });

  it('Qwen3: q/k norms as attn_q_norm / attn_k_norm, explicit head_dim as key/value length', async () => {
    const c: TinyConfig = {
      modelType: 'qwen3',
      dim: 16,
      hidden: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      headDim: 16,
      vocab: 151936,
      tied: true,
      qkNorm: true,
    };
    const dir = modelWith('qwen3', c, { bos_token_id: 151643, eos_token_id: 151645 }, 'qwen3');
    const { h } = await writeGguf(dir);
    const md = h.metadata;
    const { tj, cfg } = readTok('qwen3');
    assert.equal(md['general.architecture'], 'qwen3');
    assert.equal(md['tokenizer.ggml.pre'], 'qwen2', 'Qwen3 hashes to the qwen2 pre-tokenizer');
    checkVocabulary(md, tj, 151936, false);
    assert.equal(md['qwen3.attention.key_length'], 16);
    assert.equal(md['qwen3.attention.value_length'], 16);
    assert.equal(md['qwen3.rope.dimension_count'], 16);
    const t = (n: string) => h.tensors.find((x) => x.name === n);
    assert.deepEqual(t('blk.0.attn_q_norm.weight')?.shape, [16]);
    assert.deepEqual(t('blk.0.attn_k_norm.weight')?.shape, [16]);
    assert.equal(md['tokenizer.chat_template'], cfg.chat_template);
    const tokens = md['tokenizer.ggml.tokens'] as string[];
    assert.equal((md['tokenizer.ggml.token_type'] as number[])[tokens.indexOf('<think>')], TOKEN_TYPE.userDefined);
  });

  it('Mistral with a SentencePiece-style tokenizer: llama model, byte tokens, merge-rank scores, space prefix', async () => {
    const c: TinyConfig = {
      modelType: 'mistral',
      dim: 16,
      hidden: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      vocab: 32000,
      tied: false,
    };
    const dir = modelWith('mistral', c, { bos_token_id: 1, eos_token_id: 2, sliding_window: 4096 }, 'llama2');
    const { h, spec } = await writeGguf(dir);
    const md = h.metadata;
    const { tj } = readTok('llama2');
    assert.equal(md['general.architecture'], 'llama');
    assert.equal(md['tokenizer.ggml.model'], 'llama');
    assert.equal(md['tokenizer.ggml.pre'], 'default');
    checkVocabulary(md, tj, 32000, true);
    assert.equal(md['tokenizer.ggml.merges'], undefined);
    const types = md['tokenizer.ggml.token_type'] as number[];
    assert.equal(types.filter((x) => x === TOKEN_TYPE.byte).length, 256);
    assert.equal(md['tokenizer.ggml.unknown_token_id'], 0);
    assert.equal(md['tokenizer.ggml.bos_token_id'], 1);
    assert.equal(md['tokenizer.ggml.eos_token_id'], 2);
    assert.equal(md['tokenizer.ggml.add_bos_token'], true);
    assert.equal(md['tokenizer.ggml.add_space_prefix'], true, 'the normalizer prepends ▁');
    // llama.cpp merges the highest-scoring pair: each token scores minus its first merge's rank.
    const scores = md['tokenizer.ggml.scores'] as number[];
    const first = new Map<string, number>();
    tj.model.merges.forEach((m, r) => {
      const s = typeof m === 'string' ? m.replace(' ', '') : m.join('');
      if (!first.has(s)) first.set(s, r);
    });
    let n = 0;
    for (const [t, r] of first) {
      const id = tj.model.vocab[t];
      if (id === undefined || types[id] !== TOKEN_TYPE.normal) continue;
      if (scores[id] !== -r) assert.fail(`${t}: score ${scores[id]}, want ${-r}`);
      n++;
    }
    assert.ok(n > 20000);
    // "▁▁" ranks after every ordinary merge (as SentencePiece scores it), though its id is 259.
    assert.ok(scores[tj.model.vocab['▁▁']] < scores[tj.model.vocab['▁t']]);
    assert.match(spec.warnings.join('\n'), /sliding_window 4096 is not written/);
    // Untied: output.weight is written.
    assert.ok(h.tensors.some((t) => t.name === 'output.weight'));
  });
});

describe('GGUF writer: tensors as llama.cpp computes with them, and the job checked', function () {
  this.timeout(120000);

  /** bf16 of a float32 (round to nearest even), as bytes. */
  function bf16(x: Float32Array): Buffer {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const b = Buffer.alloc(2 * x.length);
    for (let i = 0; i < x.length; i++) b.writeUInt16LE(((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16) & 0xffff, 2 * i);
    return b;
  }

  it('a BF16 model: norms and biases written as F32 (exact), matrices kept as BF16', async () => {
    const c: TinyConfig = {
      modelType: 'qwen2',
      dim: 16,
      hidden: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      vocab: 64,
      tied: true,
      bias: true,
    };
    const dir = path.join(tmp, 'bf16');
    fs.mkdirSync(dir, { recursive: true });
    const w = tinyWeights(c);
    const header: Record<string, unknown> = {};
    const parts: Buffer[] = [];
    let off = 0;
    for (const [name, t] of w) {
      const b = bf16(t.data);
      header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [off, off + b.length] };
      parts.push(b);
      off += b.length;
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([len, json, ...parts]));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        model_type: 'qwen2',
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        vocab_size: 64,
        max_position_embeddings: 256,
        rms_norm_eps: 1e-6,
        rope_theta: 10000,
        tie_word_embeddings: true,
      }),
    );
    const { h, out } = await writeGguf(dir);
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    for (const [gg, hf] of [
      ['blk.0.attn_norm.weight', 'model.layers.0.input_layernorm.weight'],
      ['output_norm.weight', 'model.norm.weight'],
      ['blk.0.attn_q.bias', 'model.layers.0.self_attn.q_proj.bias'],
    ]) {
      const t = byName.get(gg)!;
      assert.equal(t.dtype, 'F32', gg);
      const src = bf16(w.get(hf)!.data);
      const want = Array.from({ length: src.length / 2 }, (_, i) => {
        const f = new Float32Array(new Uint32Array([src.readUInt16LE(2 * i) << 16]).buffer);
        return f[0];
      });
      assert.deepEqual(f32At(out, t), want, gg);
    }
    assert.equal(byName.get('blk.0.attn_q.weight')!.dtype, 'BF16');
    assert.equal(byName.get('token_embd.weight')!.dtype, 'BF16');
  });

  it('refuses a job whose encoded arrays or extra tensors are malformed, writing nothing', async () => {
    const c: TinyConfig = {
      modelType: 'llama',
      dim: 16,
      hidden: 32,
      layers: 1,
      heads: 2,
      kvHeads: 1,
      vocab: 128,
      tied: true,
    };
    const dir = path.join(tmp, 'malformed');
    fs.mkdirSync(dir, { recursive: true });
    writeSafetensors(path.join(dir, 'model.safetensors'), tinyWeights(c));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        ...configJson(c),
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 8192,
        },
      }),
    );
    const vocab = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`t${i}`, i]));
    fs.writeFileSync(
      path.join(dir, 'tokenizer.json'),
      JSON.stringify({ model: { type: 'BPE', vocab, merges: [] }, decoder: { type: 'ByteLevel' } }),
    );
    const base = {
      model: dir,
      tensors: addon.modelInfo(dir).tensors.map((t) => ({ name: t.name, shape: t.shape, action: 'keep' })),
      threads: 1,
    };
    const spec = buildGgufSpec({ model: readModelHeader(dir), formats: {}, name: 'x', version: '0', recipeText: '' });
    const n = ggufNativeSpec(spec);
    const out = path.join(tmp, 'bad.gguf');
    // An index past job.gguf.raw.
    assert.throws(
      () => addon.startRun({ ...base, gguf: { path: out, spec: n.spec, raw: n.raw.slice(0, 1) } }, () => undefined),
      /raw must index job\.gguf\.raw/,
    );
    // Bytes of another type than the entry says (the token types' i32 bytes under tokens).
    const swapped = [n.raw[1], n.raw[0], ...n.raw.slice(2)];
    const err = async (gguf: unknown) => {
      try {
        await addon.startRun({ ...base, gguf }, () => undefined).done;
        return undefined;
      } catch (e) {
        return e as Error & { code?: string };
      }
    };
    const e1 = await err({ path: out, spec: n.spec, raw: swapped });
    assert.equal(e1?.code, 'run/bad-job');
    assert.match(e1!.message, /"tokenizer\.ggml\.tokens": its encoded value does not match its type/);
    const j = JSON.parse(n.spec) as { extraTensors: { name: string; values: number[] }[] };
    j.extraTensors = [{ name: 'rope_freqs.weight', values: [] }];
    const e2 = await err({ path: out, spec: JSON.stringify(j), raw: n.raw });
    assert.equal(e2?.code, 'run/bad-job');
    assert.ok(!fs.existsSync(out));
  });
});
