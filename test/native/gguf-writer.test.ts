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
    assert.match(tied.warnings.join(' '), /without a tokenizer/);
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
  /** A copy of the fixture with these tokenizer files (and config.json changes). */
  function specWith(tokenizer: unknown, files: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
    const dir = fs.mkdtempSync(path.join(tmp, 'tok-'));
    fs.copyFileSync(path.join(FIXTURE, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const base = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...base, ...config }));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    for (const [name, v] of Object.entries(files))
      fs.writeFileSync(path.join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
    return {
      dir,
      spec: buildGgufSpec({ model: readModelHeader(dir), formats: {}, name: 'x', version: '0', recipeText: '' }),
    };
  }
  const kv = (spec: ReturnType<typeof buildGgufSpec>, key: string) => spec.metadata.find((m) => m.key === key)?.value;
  const byteLevel = {
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  };

  it('byte-level BPE: gpt2 with tokens, types, merges (pairs with spaces as U+0120); an unknown pre-tokenizer is named', () => {
    const vocab: Record<string, number> = { a: 3, b: 4, ab: 5, Ġ: 6, Ġa: 7, 'x y': 8 };
    const { spec } = specWith({
      model: { type: 'BPE', vocab, merges: ['a b', ['Ġ', 'a'], ['x', ' y']] },
      added_tokens: [
        { id: 1, content: '<|begin|>', special: true },
        { id: 9, content: '<tool>', special: false },
        { id: 10, content: '<|looks|>', special: false },
      ],
      ...byteLevel,
    });
    assert.equal(kv(spec, 'tokenizer.ggml.model'), 'gpt2');
    const tokens = kv(spec, 'tokenizer.ggml.tokens') as string[];
    assert.equal(tokens.length, 512, 'padded to config.json vocab_size');
    assert.deepEqual(tokens.slice(0, 11), [
      '[PAD0]',
      '<|begin|>',
      '[PAD2]',
      'a',
      'b',
      'ab',
      'Ġ',
      'Ġa',
      'x y',
      '<tool>',
      '<|looks|>',
    ]);
    const types = kv(spec, 'tokenizer.ggml.token_type') as Int32Array;
    assert.ok(types instanceof Int32Array, 'types cross to native as bytes');
    assert.deepEqual(Array.from(types.slice(0, 11)), [5, 3, 5, 1, 1, 1, 1, 1, 1, 4, 3]);
    assert.deepEqual(kv(spec, 'tokenizer.ggml.merges'), ['a b', 'Ġ a', 'x Ġy']);
    assert.equal(kv(spec, 'tokenizer.ggml.pre'), 'default');
    assert.match(
      spec.warnings.join(' '),
      /tokenizer\.ggml\.pre: llama\.cpp's converter does not recognise this pre-tokenizer \(check-text hash [0-9a-f]{12}…\); written as "default"/,
    );
    // No tokenizer_config.json: bos / eos from config.json; the post-processor adds nothing.
    assert.equal(kv(spec, 'tokenizer.ggml.bos_token_id'), 1);
    assert.equal(kv(spec, 'tokenizer.ggml.eos_token_id'), 2);
    assert.equal(kv(spec, 'tokenizer.ggml.add_bos_token'), false);
    assert.equal(kv(spec, 'tokenizer.ggml.scores'), undefined);
    assert.equal(spec.tokenizer, 'tokenizer.json');
  });

  it('special ids: tokenizer_config.json by text first, then config.json (a list gives its first id), then generation_config.json', () => {
    const vocab: Record<string, number> = { a: 3 };
    const added = [
      { id: 10, content: '<s>', special: true },
      { id: 11, content: '<|eot_id|>', special: true },
      { id: 12, content: '<|eom_id|>', special: true },
      { id: 13, content: '<|end_of_text|>', special: true },
      { id: 14, content: '<pad>', special: true },
    ];
    const tok = { model: { type: 'BPE', vocab, merges: [] }, added_tokens: added, ...byteLevel };
    const a = specWith(tok, {
      'tokenizer_config.json': { bos_token: '<s>', eos_token: { content: '<|eot_id|>' } },
    }).spec;
    assert.equal(kv(a, 'tokenizer.ggml.bos_token_id'), 10);
    assert.equal(kv(a, 'tokenizer.ggml.eos_token_id'), 11);
    assert.equal(kv(a, 'tokenizer.ggml.eot_token_id'), 11);
    assert.equal(kv(a, 'tokenizer.ggml.eom_token_id'), 12);
    const b = specWith(
      tok,
      { 'generation_config.json': { eos_token_id: [13, 11], pad_token_id: 14 } },
      { bos_token_id: undefined, eos_token_id: undefined },
    ).spec;
    assert.equal(kv(b, 'tokenizer.ggml.eos_token_id'), 13, "the first of generation_config.json's list");
    assert.equal(kv(b, 'tokenizer.ggml.padding_token_id'), 14);
    assert.equal(kv(b, 'tokenizer.ggml.bos_token_id'), undefined);
    const c = specWith(tok, {}, { bos_token_id: undefined, eos_token_id: [13, 11, 3] }).spec;
    assert.equal(kv(c, 'tokenizer.ggml.eos_token_id'), 13);
    // 3 ("a") ends sequences for the model but is no llama.cpp end-of-generation token.
    assert.match(c.warnings.join(' '), /end-of-sequence id 3 \("a"\), which llama\.cpp does not stop at/);
    const none = specWith(tok, {}, { bos_token_id: undefined, eos_token_id: undefined }).spec;
    assert.match(
      none.warnings.join(' '),
      /tokenizer\.ggml\.eos_token_id: no eos token in tokenizer_config\.json, config\.json or generation_config\.json; llama\.cpp then uses id 11/,
    );
  });

  it('add_bos / add_eos from the post-processor, tokenizer_config.json flags winning', () => {
    const vocab: Record<string, number> = { a: 3 };
    const post = {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
    };
    const tok = {
      model: { type: 'BPE', vocab, merges: [] },
      added_tokens: [
        { id: 1, content: '<s>', special: true },
        { id: 2, content: '</s>', special: true },
      ],
      post_processor: post,
      ...byteLevel,
    };
    const cfg = { bos_token: '<s>', eos_token: '</s>' };
    const a = specWith(tok, { 'tokenizer_config.json': cfg }).spec;
    assert.equal(kv(a, 'tokenizer.ggml.add_bos_token'), true);
    assert.equal(kv(a, 'tokenizer.ggml.add_eos_token'), true);
    const b = specWith(tok, { 'tokenizer_config.json': { ...cfg, add_bos_token: false, add_eos_token: false } }).spec;
    assert.equal(kv(b, 'tokenizer.ggml.add_bos_token'), false);
    assert.equal(kv(b, 'tokenizer.ggml.add_eos_token'), false);
  });

  it('chat templates: tokenizer_config.json string or named list, chat_template.jinja with additional templates', () => {
    const tok = { model: { type: 'BPE', vocab: { a: 3 }, merges: [] }, ...byteLevel };
    const s = specWith(tok, { 'tokenizer_config.json': { chat_template: '{{ messages }}' } }).spec;
    assert.equal(kv(s, 'tokenizer.chat_template'), '{{ messages }}');
    const named = specWith(tok, {
      'tokenizer_config.json': {
        chat_template: [
          { name: 'default', template: 'D' },
          { name: 'tool use', template: 'T' },
        ],
      },
    }).spec;
    assert.equal(kv(named, 'tokenizer.chat_template'), 'D');
    assert.equal(kv(named, 'tokenizer.chat_template.tool_use'), 'T');
    assert.deepEqual(kv(named, 'tokenizer.chat_templates'), ['tool_use']);
    const { dir } = specWith(tok, { 'chat_template.jinja': 'J' });
    fs.mkdirSync(path.join(dir, 'additional_chat_templates'));
    fs.writeFileSync(path.join(dir, 'additional_chat_templates', 'rag.jinja'), 'R');
    const jinja = buildGgufSpec({ model: readModelHeader(dir), formats: {}, name: 'x', version: '0', recipeText: '' });
    assert.equal(kv(jinja, 'tokenizer.chat_template'), 'J');
    assert.equal(kv(jinja, 'tokenizer.chat_template.rag'), 'R');
    const none = specWith(tok).spec;
    assert.equal(kv(none, 'tokenizer.chat_template'), undefined);
    assert.match(none.notes.join(' '), /no chat template/);
  });

  it('a SentencePiece-style (byte-fallback) BPE becomes llama with scores and byte tokens; the file reads back', async () => {
    const vocab: Record<string, number> = {
      '<unk>': 0,
      '<s>': 1,
      '</s>': 2,
      '<0x0A>': 3,
      '▁': 4,
      t: 5,
      h: 6,
      '▁t': 7,
      th: 8,
      '▁th': 9,
    };
    const { dir, spec } = specWith({
      model: { type: 'BPE', vocab, merges: ['t h', '▁ t', '▁t h', '▁ th'], byte_fallback: true, unk_token: '<unk>' },
      added_tokens: [
        { id: 0, content: '<unk>', special: true },
        { id: 1, content: '<s>', special: true },
        { id: 10, content: '▁user▁text', special: false },
      ],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '▁' },
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        ],
      },
    });
    assert.equal(kv(spec, 'tokenizer.ggml.model'), 'llama');
    assert.equal(kv(spec, 'tokenizer.ggml.pre'), 'default');
    const types = kv(spec, 'tokenizer.ggml.token_type') as Int32Array;
    assert.deepEqual(Array.from(types.slice(0, 11)), [2, 3, 1, 6, 1, 1, 1, 1, 1, 1, 4]);
    assert.equal((kv(spec, 'tokenizer.ggml.tokens') as string[])[10], ' user text', 'user-defined: ▁ as spaces');
    const scores = kv(spec, 'tokenizer.ggml.scores') as Float32Array;
    // "th" rank 0, "▁t" 1, "▁th" 2 (its first merge); tokens no merge makes rank after all merges.
    assert.deepEqual([scores[8] + 0, scores[7], scores[9]], [0, -1, -2]);
    assert.equal(scores[5], -(4 + 5));
    assert.equal(kv(spec, 'tokenizer.ggml.unknown_token_id'), 0);
    assert.equal(kv(spec, 'tokenizer.ggml.add_space_prefix'), true);
    const gguf = path.join(dir, 't.gguf');
    const { job } = jobFor(dir, () => undefined, { gguf });
    const r = await run(job);
    assert.equal(r.error, undefined, r.error?.message);
    const md = readGgufHeader(gguf, { keepArrays: true }).metadata;
    assert.equal(md['tokenizer.ggml.model'], 'llama');
    const toks = md['tokenizer.ggml.tokens'] as string[];
    assert.deepEqual(toks.slice(0, 5), ['<unk>', '<s>', '</s>', '<0x0A>', '▁']);
    assert.equal(toks.length, 512);
    assert.deepEqual(
      (md['tokenizer.ggml.scores'] as number[]).slice(7, 10).map((x) => x + 0),
      [-1, 0, -2],
    );
    assert.deepEqual((md['tokenizer.ggml.token_type'] as number[]).slice(0, 4), [2, 3, 1, 6]);
  });

  it('a Unigram tokenizer becomes llama with its own scores, and the difference in segmentation is named', () => {
    const { spec } = specWith({
      model: {
        type: 'Unigram',
        unk_id: 0,
        vocab: [
          ['<unk>', 0],
          ['<s>', 0],
          ['▁a', -1.5],
          ['b', -3.25],
        ],
        byte_fallback: false,
      },
      added_tokens: [{ id: 1, content: '<s>', special: true }],
    });
    assert.equal(kv(spec, 'tokenizer.ggml.model'), 'llama');
    assert.deepEqual(Array.from((kv(spec, 'tokenizer.ggml.scores') as Float32Array).slice(2, 4)), [-1.5, -3.25]);
    assert.deepEqual(Array.from((kv(spec, 'tokenizer.ggml.token_type') as Int32Array).slice(0, 4)), [2, 3, 1, 1]);
    assert.match(spec.warnings.join(' '), /Unigram tokenizer .* tokenization can differ/);
  });

  it('what cannot be converted is written without a tokenizer, and the warning says why', () => {
    const wp = specWith({ model: { type: 'WordPiece', vocab: { a: 0 } } }).spec;
    assert.equal(wp.tokenizer, 'none');
    assert.match(
      wp.warnings.join(' '),
      /written without a tokenizer: tokenizer\.json model type WordPiece has no llama\.cpp equivalent/,
    );
    const big = specWith({ model: { type: 'BPE', vocab: { a: 0, b: 600 }, merges: [] }, ...byteLevel }).spec;
    assert.equal(big.tokenizer, 'none');
    assert.match(big.warnings.join(' '), /token id 600, beyond config\.json vocab_size 512/);
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
