// output gguf: files written by the native runner, read back by core's TypeScript GGUF
// header reader (independent of the writer) and checked value by value: quantized tensors
// decoded with the addon's ggmlDecode (tested against an independent TS decoder) equal the
// run's own fake-quant reconstruction; kept tensors equal the source; q/k rows are in
// llama.cpp's interleaved rotary order (equal to the llama2.c checkpoint's own rows).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readGgufHeader } from '../../core/src/models/gguf';
import { readModelHeader } from '../../core/src/models/load';
import { buildGgufSpec, GGML_TYPE_ID, ggufModelProblem, LLAMA_FTYPE } from '../../core/src/export/gguf';
import { ggufNativeSpec } from '../../core/src/export/ggufEncode';

const root = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(root, 'examples/stories260K');
const FIXTURE_BIN = path.join(FIXTURE, 'stories260K.bin');

interface Ev {
  type: string;
  name?: string;
  code?: string;
  bytesOut?: number;
  index?: number;
}
interface JobTensor {
  name: string;
  shape: number[];
  action: 'quantize' | 'keep';
  config?: Record<string, unknown>;
}
interface Job {
  model: string;
  tensors: JobTensor[];
  threads?: number;
  output?: { kind: 'fake'; path: string };
  gguf?: { path: string; spec: string; raw?: Buffer[] };
  calibration?: { kind: 'generated'; samples?: number; length?: number; seed?: number };
}
interface Addon {
  modelInfo(p: string): { tensors: { name: string; shape: number[] }[] };
  readTensor(p: string, name: string): Float32Array;
  startRun(job: Job, onEvent: (e: Ev) => void): { cancel(): void; done: Promise<Ev> };
  ggmlDecode(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array;
}
type CodedError = Error & { code?: string; tensor?: string };

let addon: Addon;
let tmp: string;
let counter = 0;
const tmpPath = (name: string) => path.join(tmp, `${counter++}-${name}`);

async function run(job: Job, onEvent?: (e: Ev, h: { cancel(): void }) => void) {
  let handle: { cancel(): void; done: Promise<Ev> } | undefined;
  const events: Ev[] = [];
  // Assigned after the declaration: the callback may run before startRun returns.
  // eslint-disable-next-line prefer-const
  handle = addon.startRun(job, (e) => {
    events.push(e);
    onEvent?.(e, handle!);
  });
  try {
    return { events, done: await handle.done, error: undefined as CodedError | undefined };
  } catch (e) {
    return { events, done: undefined, error: e as CodedError };
  }
}

/** format per tensor name (undefined: kept). */
function jobFor(
  model: string,
  formatOf: (name: string, shape: number[]) => string | undefined,
  out: { gguf: string; fake?: string },
  recipe = 'test',
) {
  const header = readModelHeader(model);
  const formats: Record<string, string | undefined> = {};
  const tensors: JobTensor[] = addon.modelInfo(model).tensors.map((t) => {
    const f = formatOf(t.name, t.shape);
    formats[t.name] = f;
    return f
      ? { name: t.name, shape: t.shape, action: 'quantize', config: { format: f, group: 32 } }
      : { name: t.name, shape: t.shape, action: 'keep' };
  });
  const spec = buildGgufSpec({
    model: header,
    formats,
    name: 'stories260K test',
    version: '9.9.9',
    recipeText: recipe,
  });
  const job: Job = {
    model,
    tensors,
    threads: 2,
    gguf: { path: out.gguf, ...ggufNativeSpec(spec) },
  };
  if (out.fake) job.output = { kind: 'fake', path: out.fake };
  return { job, spec };
}

/** HF row r of a q/k tensor is GGUF row interleaved(r): pairs (i, i + hd/2) become (2i, 2i+1). */
function interleaved(r: number, rows: number, heads: number): number {
  const hd = rows / heads,
    half = hd / 2,
    h = Math.floor(r / hd),
    j = r % hd;
  return h * hd + 2 * (j % half) + Math.floor(j / half);
}
function unpermute(g: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(g.length);
  for (let r = 0; r < rows; r++)
    out.set(g.subarray(interleaved(r, rows, heads) * cols, (interleaved(r, rows, heads) + 1) * cols), r * cols);
  return out;
}

const GGUF_NAMES: Record<string, string> = {
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  input_layernorm: 'attn_norm',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};
function hfName(g: string): string {
  if (g === 'token_embd.weight') return 'model.embed_tokens.weight';
  if (g === 'output_norm.weight') return 'model.norm.weight';
  const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(g)!;
  const k = Object.keys(GGUF_NAMES).find((x) => GGUF_NAMES[x] === m[2])!;
  return `model.layers.${m[1]}.${k}.weight`;
}

function tensorBytes(file: string, t: { offset: number; bytes: number }): Uint8Array {
  const buf = fs.readFileSync(file);
  return new Uint8Array(buf.buffer, buf.byteOffset + t.offset, t.bytes).slice();
}
const f32 = (b: Uint8Array) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

before(function () {
  try {
    addon = require(path.join(root, 'native')) as Addon;
  } catch {
    this.skip();
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-gguf-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('GGUF writer (output gguf)', () => {
  const mix = (name: string, shape: number[]) => {
    if (shape.length < 2 || shape[1] % 32 !== 0) return undefined;
    if (/embed_tokens/.test(name)) return 'q8_0';
    if (/k_proj/.test(name)) return 'q5_1';
    if (/v_proj/.test(name)) return 'iq4_nl';
    if (/gate_proj/.test(name)) return 'q4_1';
    if (/up_proj/.test(name)) return 'q5_0';
    return 'q4_0';
  };

  it('writes a GGUF v3 that reads back: metadata, names, ggml dims, alignment, no output tensor when tied', async () => {
    const gguf = tmpPath('mix.gguf');
    const { job } = jobFor(FIXTURE, mix, { gguf }, 'recipe "x"\nmodel "stories260K"\n');
    const r = await run(job);
    assert.equal(r.error, undefined, r.error?.message);
    const h = readGgufHeader(gguf);
    assert.equal(h.version, 3);
    assert.equal(h.alignment, 32);
    assert.equal(h.dataOffset % 32, 0);
    const md = h.metadata;
    assert.equal(md['general.architecture'], 'llama');
    assert.equal(md['general.name'], 'stories260K test');
    assert.equal(md['general.alignment'], 32);
    assert.equal(md['general.quantization_version'], 2);
    assert.equal(md['llama.context_length'], 512);
    assert.equal(md['llama.embedding_length'], 64);
    assert.equal(md['llama.block_count'], 5);
    assert.equal(md['llama.feed_forward_length'], 172);
    assert.equal(md['llama.attention.head_count'], 8);
    assert.equal(md['llama.attention.head_count_kv'], 4);
    assert.equal(md['llama.rope.freq_base'], 10000);
    assert.ok(Math.abs((md['llama.attention.layer_norm_rms_epsilon'] as number) - 1e-5) < 1e-12);
    assert.equal(md['llama.vocab_size'], 512);
    assert.equal(md['llama.rope.dimension_count'], 8);
    assert.equal(md['bitsmith.version'], '9.9.9');
    assert.equal(md['bitsmith.recipe'], 'recipe "x"\nmodel "stories260K"\n');
    // Predominant type by elements among matrices: the q8_0 embedding (32768) vs q4_0 (5 x 64x64 = 20480 ...).
    const byType = new Map<string, number>();
    for (const t of readModelHeader(FIXTURE).tensors)
      if (t.shape.length >= 2) {
        const k = mix(t.name, t.shape) ?? 'f32';
        byType.set(k, (byType.get(k) ?? 0) + t.elements);
      }
    const top = [...byType].sort((a, b) => b[1] - a[1])[0][0];
    assert.equal(md['general.file_type'], LLAMA_FTYPE[top]);
    const names = h.tensors.map((t) => t.name);
    assert.equal(names.length, readModelHeader(FIXTURE).tensors.length, 'every tensor (the checkpoint has no lm_head)');
    assert.ok(!names.includes('output.weight'), 'tied: no output tensor');
    for (const n of [
      'token_embd.weight',
      'output_norm.weight',
      'blk.0.attn_q.weight',
      'blk.4.ffn_down.weight',
      'blk.2.attn_norm.weight',
      'blk.3.ffn_norm.weight',
    ])
      assert.ok(names.includes(n), n);
    for (const t of h.tensors) {
      assert.equal((t.offset - h.dataOffset) % 32, 0, `${t.name} offset aligned`);
      const src = readModelHeader(FIXTURE).tensors.find((x) => x.name === hfName(t.name))!;
      assert.deepEqual(t.shape, src.shape, `${t.name}: GGUF ne reversed is the PyTorch shape`);
      const f = mix(src.name, src.shape);
      assert.equal(t.dtype, f ? f.toUpperCase() : 'F32', t.name);
    }
    // 1-D tensors: one dimension.
    assert.deepEqual(h.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!.shape, [64]);
    assert.equal(fs.readdirSync(path.dirname(gguf)).filter((f) => f.includes('.tmp')).length, 0);
  });

  it('decoded blocks equal the fake-quant reconstruction, per type; kept tensors equal the source; q/k un-permute to HF rows', async () => {
    const gguf = tmpPath('check.gguf');
    const fake = tmpPath('check.safetensors');
    const { job, spec } = jobFor(FIXTURE, mix, { gguf, fake });
    const r = await run(job);
    assert.equal(r.error, undefined, r.error?.message);
    const h = readGgufHeader(gguf);
    const seen = new Set<string>();
    for (const t of h.tensors) {
      const hf = hfName(t.name);
      const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
      const bytes = tensorBytes(gguf, t);
      const heads = spec.tensors[hf].permuteHeads ?? 0;
      let values = t.dtype === 'F32' ? f32(bytes) : addon.ggmlDecode(t.dtype.toLowerCase(), bytes, rows, cols);
      if (heads) values = unpermute(values, rows, cols, heads);
      const want = t.dtype === 'F32' ? addon.readTensor(FIXTURE, hf) : addon.readTensor(fake, hf);
      assert.deepEqual(values, want, t.name);
      seen.add(t.dtype);
      if (t.dtype !== 'F32') assert.equal(GGML_TYPE_ID[t.dtype.toLowerCase()] !== undefined, true);
    }
    assert.deepEqual([...seen].sort(), ['F32', 'IQ4_NL', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0']);
    // q and k carry their head counts; nothing else is permuted.
    assert.equal(spec.tensors['model.layers.0.self_attn.q_proj.weight'].permuteHeads, 8);
    assert.equal(spec.tensors['model.layers.0.self_attn.k_proj.weight'].permuteHeads, 4);
    assert.equal(spec.tensors['model.layers.0.self_attn.v_proj.weight'].permuteHeads, undefined);
  });

  it('gptq writes its own blocks (q8_0, q4_0, q4_1, q5_0, q5_1): they decode to the fake-quant reconstruction, q/k un-permuted, and differ from RTN', async () => {
    const types = ['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1'];
    let k = 0;
    const pick = (name: string, shape: number[]) =>
      shape.length === 2 && shape[1] % 32 === 0 && /layers\.\d+\.(self_attn|mlp)\./.test(name)
        ? types[k++ % types.length]
        : undefined;
    const gguf = tmpPath('gptq.gguf'),
      fake = tmpPath('gptq.safetensors'),
      rtnFake = tmpPath('rtn.safetensors');
    const { job, spec } = jobFor(FIXTURE, pick, { gguf, fake });
    job.calibration = { kind: 'generated', samples: 4, length: 32, seed: 3 };
    const rtnJob: Job = {
      ...job,
      gguf: undefined,
      output: { kind: 'fake', path: rtnFake },
      tensors: job.tensors.map((t) => ({ ...t })),
    };
    for (const t of job.tensors)
      if (t.config) t.config = { ...t.config, method: 'gptq', damp: 0.01, block: 64, actOrder: t.name.includes('mlp') };
    const r = await run(job);
    assert.equal(r.error, undefined, r.error?.message);
    assert.equal((await run(rtnJob)).error, undefined);
    const h = readGgufHeader(gguf);
    const seen = new Set<string>();
    let differ = 0,
      quantized = 0;
    for (const t of h.tensors) {
      if (t.dtype === 'F32') continue;
      const hf = hfName(t.name);
      const [rows, cols] = t.shape;
      let values = addon.ggmlDecode(t.dtype.toLowerCase(), tensorBytes(gguf, t), rows, cols);
      const heads = spec.tensors[hf].permuteHeads ?? 0;
      if (heads) values = unpermute(values, rows, cols, heads);
      assert.deepEqual(values, addon.readTensor(fake, hf), t.name);
      seen.add(t.dtype);
      quantized++;
      const rtn = addon.readTensor(rtnFake, hf);
      if (values.some((v, i) => v !== rtn[i])) differ++;
    }
    assert.deepEqual([...seen].sort(), ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0']);
    assert.equal(differ, quantized, 'every gptq tensor differs from its RTN blocks');
  });

  it("q/k rows are llama2.c's interleaved rows; a llama2.c source writes the same tensors", async () => {
    const fromHf = tmpPath('hf.gguf');
    const fromBin = tmpPath('bin.gguf');
    assert.equal((await run(jobFor(FIXTURE, () => undefined, { gguf: fromHf }).job)).error, undefined);
    assert.equal((await run(jobFor(FIXTURE_BIN, () => undefined, { gguf: fromBin }).job)).error, undefined);
    const a = readGgufHeader(fromHf),
      b = readGgufHeader(fromBin);
    assert.deepEqual(a.tensors.map((t) => t.name).sort(), b.tensors.map((t) => t.name).sort());
    for (const t of a.tensors) {
      const u = b.tensors.find((x) => x.name === t.name)!;
      assert.deepEqual(tensorBytes(fromBin, u), tensorBytes(fromHf, t), t.name);
    }
    // The llama2.c file's own wq of layer 0 (header: 7 int32; then embedding [512,64], rms_att [5,64], wq [5,64,64]).
    const bin = fs.readFileSync(FIXTURE_BIN);
    const wqAt = 28 + 4 * (512 * 64 + 5 * 64);
    const wq0 = new Float32Array(bin.buffer.slice(bin.byteOffset + wqAt, bin.byteOffset + wqAt + 64 * 64 * 4));
    const q = a.tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
    assert.deepEqual(f32(tensorBytes(fromHf, q)), wq0, 'GGUF attn_q = llama2.c wq (interleaved rotary pairs)');
    assert.notDeepEqual(addon.readTensor(FIXTURE, 'model.layers.0.self_attn.q_proj.weight'), wq0, 'the HF rows differ');
    assert.equal(readGgufHeader(fromBin).metadata['llama.context_length'], 512);
  });

  it('omits a tied lm_head; writes output when untied', async () => {
    const header = readModelHeader(FIXTURE);
    const withHead = { ...header, tensors: [...header.tensors, { ...header.tensors[0], name: 'lm_head.weight' }] };
    const tied = buildGgufSpec({ model: withHead, formats: {}, name: 'x', version: '0', recipeText: '' });
    assert.deepEqual(tied.tensors['lm_head.weight'], { omit: true });
    const untied = buildGgufSpec({
      model: { ...withHead, config: { ...header.config, tie_word_embeddings: false } },
      formats: {},
      name: 'x',
      version: '0',
      recipeText: '',
    });
    assert.equal(untied.tensors['lm_head.weight'].name, 'output.weight');
    const qwen = buildGgufSpec({
      model: { ...header, architecture: 'qwen2', config: { ...header.config, model_type: 'qwen2' } },
      formats: {},
      name: 'x',
      version: '0',
      recipeText: '',
    });
    assert.equal(qwen.architecture, 'qwen2');
    assert.equal(
      qwen.tensors['model.layers.0.self_attn.q_proj.weight'].permuteHeads,
      undefined,
      'qwen2 is rotate-half: not permuted',
    );
    assert.match(ggufModelProblem({ ...header, config: { ...header.config, model_type: 'gpt2' } })!, /Llama-family/);
    assert.equal(ggufModelProblem(header), undefined);
    assert.match(tied.notes.join(' '), /without a tokenizer/);
  });

  it('refuses a format GGUF cannot store, naming the tensor; nothing is written', async () => {
    const gguf = tmpPath('bad.gguf');
    const { job } = jobFor(FIXTURE, (n, s) => (s.length === 2 && s[1] % 32 === 0 ? 'q8_0' : undefined), { gguf });
    job.tensors = job.tensors.map((t) =>
      t.name === 'model.layers.1.mlp.up_proj.weight' ? { ...t, config: { format: 'nf4', group: 32 } } : t,
    );
    const r = await run(job);
    assert.equal(r.error?.code, 'run/unsupported');
    assert.equal(r.error?.tensor, 'model.layers.1.mlp.up_proj.weight');
    assert.match(r.error!.message, /nf4, which GGUF cannot store/);
    assert.ok(!fs.existsSync(gguf));
  });

  it('cancel leaves no file (nor a temporary one)', async () => {
    const dir = tmpPath('cancel');
    fs.mkdirSync(dir);
    const gguf = path.join(dir, 'c.gguf');
    // A run long enough for the cancel (delivered through the event loop) to arrive while it
    // goes: stories260K's 47 tensors now encode in a few ms, so a synthetic Llama with 256-
    // and 512-wide rows, 3.4M weights in q4_k (~0.3 s on one thread).
    const model = path.join(dir, 'model');
    const gen = spawnSync(
      process.execPath,
      [
        path.join(root, 'bench/make-synthetic-model.mjs'),
        '--out',
        model,
        '--quiet',
        '--dtype',
        'f32',
        '--dim',
        '256',
        '--hidden',
        '512',
        '--layers',
        '4',
        '--heads',
        '4',
        '--kv-heads',
        '2',
        '--vocab',
        '4096',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(gen.status, 0, gen.stderr);
    const { job } = jobFor(model, (n, s) => (s.length === 2 && s[1] % 256 === 0 ? 'q4_k' : undefined), { gguf });
    job.threads = 1;
    const r = await run(job, (e, h) => {
      if (e.type === 'tensor' && e.index === 1) h.cancel();
    });
    assert.equal(r.error?.code, 'run/cancelled');
    assert.deepEqual(fs.readdirSync(dir), ['model']);
  });
});

describe('GGUF tokenizer metadata from tokenizer.json', () => {
  const header = () => readModelHeader(FIXTURE);
  function specWith(tokenizer: unknown) {
    const dir = fs.mkdtempSync(path.join(tmp, 'tok-'));
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    return {
      dir,
      spec: buildGgufSpec({ model: readModelHeader(dir), formats: {}, name: 'x', version: '0', recipeText: '' }),
    };
  }
  const kv = (spec: ReturnType<typeof buildGgufSpec>, key: string) => spec.metadata.find((m) => m.key === key);

  it('byte-level BPE becomes tokenizer.ggml.model gpt2 with tokens, types and merges', () => {
    const vocab: Record<string, number> = { a: 3, b: 4, ab: 5 };
    const { spec } = specWith({
      model: { type: 'BPE', vocab, merges: ['a b', ['ab', 'b']] },
      added_tokens: [{ id: 1, content: '<|begin|>', special: true }],
    });
    assert.equal(kv(spec, 'tokenizer.ggml.model')!.value, 'gpt2');
    const tokens = kv(spec, 'tokenizer.ggml.tokens')!.value as string[];
    assert.equal(tokens.length, 512, 'padded to the vocab size');
    assert.deepEqual(tokens.slice(1, 6), ['<|begin|>', '[PAD2]', 'a', 'b', 'ab']);
    const types = kv(spec, 'tokenizer.ggml.token_type')!.value as number[];
    assert.deepEqual(types.slice(1, 6), [3, 5, 1, 1, 1]);
    assert.deepEqual(kv(spec, 'tokenizer.ggml.merges')!.value, ['a b', 'ab b']);
    assert.equal(kv(spec, 'tokenizer.ggml.bos_token_id')!.value, 1);
    assert.equal(kv(spec, 'tokenizer.ggml.eos_token_id')!.value, 2);
    assert.equal(spec.tokenizer, 'tokenizer.json');
    assert.deepEqual(spec.notes, []);
    assert.ok(header());
  });

  it('a SentencePiece-style (byte-fallback) BPE becomes llama with scores and byte tokens; the file reads back', async () => {
    const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2, '<0x0A>': 3, '▁the': 4 };
    const { dir, spec } = specWith({
      model: { type: 'BPE', vocab, merges: [], byte_fallback: true },
      added_tokens: [{ id: 0, content: '<unk>', special: true }],
    });
    assert.equal(kv(spec, 'tokenizer.ggml.model')!.value, 'llama');
    const types = kv(spec, 'tokenizer.ggml.token_type')!.value as number[];
    assert.deepEqual(types.slice(0, 5), [3, 1, 1, 6, 1]);
    assert.equal(kv(spec, 'tokenizer.ggml.unknown_token_id')!.value, 0);
    assert.equal((kv(spec, 'tokenizer.ggml.scores')!.value as number[]).length, 512);
    const gguf = path.join(dir, 't.gguf');
    const { job } = jobFor(dir, () => undefined, { gguf });
    const r = await run(job);
    assert.equal(r.error, undefined, r.error?.message);
    const md = readGgufHeader(gguf).metadata;
    assert.equal(md['tokenizer.ggml.model'], 'llama');
    const toks = md['tokenizer.ggml.tokens'] as string[];
    assert.deepEqual(toks.slice(0, 5), ['<unk>', '<s>', '</s>', '<0x0A>', '▁the']);
  });

  it('other tokenizer models are not converted, and the run says so', () => {
    const { spec } = specWith({ model: { type: 'Unigram', vocab: [] } });
    assert.equal(spec.tokenizer, 'none');
    assert.match(spec.notes.join(' '), /Unigram is not converted/);
  });
});

describe('GGUF output from a GGUF source', () => {
  it('carries the source key/values (tokenizer included) over, quantizes f32 tensors, copies kept block tensors as they are', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'src-'));
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
    const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let i = 3; i < 512; i++) vocab[`t${i}`] = i;
    fs.writeFileSync(
      path.join(dir, 'tokenizer.json'),
      JSON.stringify({ model: { type: 'BPE', vocab, merges: [], byte_fallback: true } }),
    );
    const src = path.join(dir, 'src.gguf');
    assert.equal((await run(jobFor(dir, () => undefined, { gguf: src }).job)).error, undefined);
    const srcHeader = readGgufHeader(src);

    const q8 = (_n: string, s: number[]) => (s.length === 2 && s[1] % 32 === 0 ? 'q8_0' : undefined);
    const out = path.join(dir, 'q8.gguf');
    const fake = path.join(dir, 'q8.safetensors');
    const { job, spec } = jobFor(src, q8, { gguf: out, fake }, 'recipe "from gguf"\n');
    assert.equal(spec.tokenizer, 'source gguf');
    const r = await run(job);
    assert.equal(r.error, undefined, r.error?.message);
    const h = readGgufHeader(out);
    for (const k of [
      'general.architecture',
      'llama.context_length',
      'llama.attention.head_count_kv',
      'llama.rope.dimension_count',
      'tokenizer.ggml.model',
      'tokenizer.ggml.bos_token_id',
    ])
      assert.deepEqual(h.metadata[k], srcHeader.metadata[k], k);
    assert.deepEqual(h.metadata['tokenizer.ggml.tokens'], srcHeader.metadata['tokenizer.ggml.tokens']);
    assert.equal(h.metadata['general.file_type'], LLAMA_FTYPE.q8_0);
    assert.equal(h.metadata['bitsmith.recipe'], 'recipe "from gguf"\n');
    assert.equal(h.metadata['bitsmith.source'], src);
    assert.equal(Object.keys(h.metadata).filter((k) => k === 'general.alignment').length, 1);
    assert.deepEqual(
      h.tensors.map((t) => t.name),
      srcHeader.tensors.map((t) => t.name),
    );
    for (const t of h.tensors) {
      const [rows, cols] = t.shape.length === 2 ? t.shape : [1, t.shape[0]];
      const got =
        t.dtype === 'F32' ? f32(tensorBytes(out, t)) : addon.ggmlDecode('q8_0', tensorBytes(out, t), rows, cols);
      assert.deepEqual(got, t.dtype === 'F32' ? addon.readTensor(src, t.name) : addon.readTensor(fake, t.name), t.name);
    }

    // The same recipe on the Hugging Face folder gives the same blocks (q/k permuted before
    // quantizing there, already in llama.cpp's order in the GGUF source).
    const direct = path.join(dir, 'direct.gguf');
    assert.equal((await run(jobFor(FIXTURE, q8, { gguf: direct }).job)).error, undefined);
    const d = readGgufHeader(direct);
    for (const t of h.tensors)
      assert.deepEqual(
        tensorBytes(out, t),
        tensorBytes(
          direct,
          d.tensors.find((x) => x.name === t.name)!,
        ),
        t.name,
      );

    // Kept block tensors of a GGUF source are copied byte for byte.
    const copy = path.join(dir, 'copy.gguf');
    assert.equal((await run(jobFor(out, () => undefined, { gguf: copy }).job)).error, undefined);
    const c = readGgufHeader(copy);
    for (const t of c.tensors)
      assert.deepEqual(
        tensorBytes(copy, t),
        tensorBytes(
          out,
          h.tensors.find((x) => x.name === t.name)!,
        ),
        t.name,
      );
    assert.equal(c.metadata['general.file_type'], LLAMA_FTYPE.q8_0);
  });
});
