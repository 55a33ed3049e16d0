// output gguf's spec without the native writer: rope scaling as llama.cpp's converter writes
// it, general.size_label, norms and 1-D tensors marked F32, the large arrays' GGUF bytes
// (read back by core's reader), the analysis' warnings on the output line, and the
// language server's tokenizer cache.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze } from '../../core/src/analyze';
import { buildGgufSpec, sizeLabel } from '../../core/src/export/gguf';
import { encodeGgufArray, ggufNativeSpec } from '../../core/src/export/ggufEncode';
import { llama3RopeFactors, ropeScalingGguf } from '../../core/src/export/ggufRope';
import { preTokenizerHash, preTokenizerName } from '../../core/src/export/ggufTokenizer';
import { readGgufHeader } from '../../core/src/models/gguf';
import { readModelHeader } from '../../core/src/models/load';
import { TokenizerCache } from '../../server/src/tokenizerCache';
import { configJson, writeTinyModel, type TinyConfig } from '../helpers/tinyLlama';

const root = path.resolve(__dirname, '..', '..');
let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-gguf-spec-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tiny: TinyConfig = {
  modelType: 'llama',
  dim: 16,
  hidden: 32,
  layers: 1,
  heads: 2,
  kvHeads: 1,
  vocab: 64,
  tied: true,
};
function folder(name: string, c: TinyConfig, extra: Record<string, unknown> = {}): string {
  const dir = path.join(tmp, name);
  writeTinyModel(dir, c);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...configJson(c), ...extra }));
  return dir;
}
const specOf = (dir: string) =>
  buildGgufSpec({ model: readModelHeader(dir), formats: {}, name: 'x', version: '0', recipeText: '' });
const kv = (spec: ReturnType<typeof buildGgufSpec>, key: string) => spec.metadata.find((m) => m.key === key)?.value;

describe('output gguf spec', () => {
  it('rope scaling: linear and yarn as metadata, llama3 as rope_freqs for llama only, others named', () => {
    const lin = ropeScalingGguf('llama', { rope_scaling: { type: 'linear', factor: 4 } }, 64, 10000);
    assert.deepEqual(lin.metadata, [
      { key: 'llama.rope.scaling.type', type: 'string', value: 'linear' },
      { key: 'llama.rope.scaling.factor', type: 'f32', value: 4 },
    ]);
    const yarn = ropeScalingGguf(
      'qwen2',
      { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 } },
      128,
      1e6,
    );
    assert.deepEqual(
      yarn.metadata.map((m) => [m.key, m.value]),
      [
        ['qwen2.rope.scaling.type', 'yarn'],
        ['qwen2.rope.scaling.factor', 4],
        ['qwen2.rope.scaling.original_context_length', 32768],
      ],
    );
    assert.deepEqual(yarn.warnings, []);
    const l3 = {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    };
    assert.equal(ropeScalingGguf('llama', { rope_scaling: l3 }, 128, 500000).freqFactors?.length, 64);
    const onQwen = ropeScalingGguf('qwen3', { rope_scaling: l3 }, 128, 500000);
    assert.equal(onQwen.freqFactors, undefined);
    assert.match(onQwen.warnings[0], /llama architecture only/);
    const partial = ropeScalingGguf('llama', { rope_scaling: { rope_type: 'llama3', factor: 8 } }, 128, 500000);
    assert.match(partial.warnings.join(' '), /no low_freq_factor; computed with 1/);
    assert.match(partial.warnings.join(' '), /no original_max_position_embeddings; computed with 8192/);
    const dyn = ropeScalingGguf('llama', { rope_scaling: { type: 'dynamic', factor: 2 } }, 64, 10000);
    assert.deepEqual(dyn.metadata, []);
    assert.match(dyn.warnings[0], /rope_scaling type "dynamic" has no llama\.cpp equivalent/);
    assert.deepEqual(ropeScalingGguf('llama', {}, 64, 10000), { metadata: [], warnings: [] });
  });

  it("Llama 3.1's rope factors (head_dim 128, theta 500000): the formula's values, each branch", () => {
    const f = llama3RopeFactors(128, 500000, 8, 1, 4, 8192);
    assert.equal(f.length, 64);
    let high = 0,
      low = 0,
      mid = 0;
    for (let i = 0; i < 64; i++) {
      const freq = 1 / Math.pow(500000, (2 * i) / 128);
      const wavelen = (2 * Math.PI) / freq;
      const want =
        wavelen < 2048 ? 1 : wavelen > 8192 ? 8 : 1 / ((1 - (8192 / wavelen - 1) / 3) / 8 + (8192 / wavelen - 1) / 3);
      if (want === 1) high++;
      else if (want === 8) low++;
      else mid++;
      assert.ok(Math.abs(f[i] - want) <= 2e-6 * want, `${i}: ${f[i]} vs ${want}`);
    }
    assert.ok(high > 0 && low > 0 && mid > 0, `${high} high, ${mid} smooth, ${low} low`);
  });

  it('general.size_label as gguf-py writes it', () => {
    assert.equal(sizeLabel(8030261248), '8.0B');
    assert.equal(sizeLabel(1235814400), '1.2B');
    assert.equal(sizeLabel(494032768), '494M');
    assert.equal(sizeLabel(15e6 + 1), '15M');
    assert.equal(sizeLabel(260000), '260K');
    assert.equal(sizeLabel(999), '1.0K');
    assert.equal(sizeLabel(70.6e9), '71B');
  });

  it('marks norms and 1-D tensors F32 (kept), states head_dim when config.json does, writes rope_freqs first', () => {
    const dir = folder('llama-l3', tiny, {
      head_dim: 8,
      rope_theta: 500000,
      rope_scaling: {
        rope_type: 'llama3',
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 8192,
      },
    });
    const spec = specOf(dir);
    assert.equal(spec.tensors['model.layers.0.input_layernorm.weight'].f32, true);
    assert.equal(spec.tensors['model.norm.weight'].f32, true);
    assert.equal(spec.tensors['model.layers.0.self_attn.q_proj.weight'].f32, undefined);
    assert.equal(kv(spec, 'llama.attention.key_length'), 8, 'head_dim in config.json: written, as the converter does');
    assert.deepEqual(
      spec.extraTensors.map((t) => [t.name, t.values.length]),
      [['rope_freqs.weight', 4]],
    );
    const quantized = buildGgufSpec({
      model: readModelHeader(dir),
      formats: { 'model.norm.weight': 'q8_0' },
      name: 'x',
      version: '0',
      recipeText: '',
    });
    assert.equal(quantized.tensors['model.norm.weight'].f32, undefined, 'a quantized tensor keeps its format');
  });

  it('large arrays cross to native as GGUF bytes that read back (strings of any script, i32, f32)', () => {
    const tokens = Array.from({ length: 300 }, (_, i) =>
      i % 3 === 0 ? `tok${i}` : i % 3 === 1 ? `你好${i}` : `🦙Ġ${i}`,
    );
    const types = Int32Array.from({ length: 300 }, (_, i) => (i % 6) + 1);
    const scores = Float32Array.from({ length: 300 }, (_, i) => -i / 3);
    const n = ggufNativeSpec({
      metadata: [
        { key: 'general.architecture', type: 'string', value: 'llama' },
        { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: tokens },
        { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'i32', value: types },
        { key: 'tokenizer.ggml.scores', type: 'array', itemType: 'f32', value: scores },
        { key: 'short', type: 'array', itemType: 'string', value: ['a', 'b'] },
      ],
      tensors: {},
    });
    const json = JSON.parse(n.spec) as { metadata: { key: string; raw?: number; value?: unknown }[] };
    assert.deepEqual(
      json.metadata.map((m) => m.raw),
      [undefined, 0, 1, 2, undefined],
    );
    assert.deepEqual(json.metadata[4].value, ['a', 'b']);
    // A GGUF file of these key/values (no tensors), read by core's reader.
    const key = (k: string) => {
      const b = Buffer.alloc(8 + Buffer.byteLength(k));
      b.writeBigUInt64LE(BigInt(Buffer.byteLength(k)));
      b.write(k, 8);
      return b;
    };
    const head = Buffer.alloc(24);
    head.write('GGUF');
    head.writeUInt32LE(3, 4);
    head.writeBigUInt64LE(0n, 8);
    head.writeBigUInt64LE(3n, 16);
    const file = path.join(tmp, 'arrays.gguf');
    fs.writeFileSync(
      file,
      Buffer.concat([
        head,
        key('tokenizer.ggml.tokens'),
        n.raw[0],
        key('tokenizer.ggml.token_type'),
        n.raw[1],
        key('tokenizer.ggml.scores'),
        n.raw[2],
      ]),
    );
    const md = readGgufHeader(file, { keepArrays: true }).metadata;
    assert.deepEqual(md['tokenizer.ggml.tokens'], tokens);
    assert.deepEqual(md['tokenizer.ggml.token_type'], Array.from(types));
    assert.deepEqual(md['tokenizer.ggml.scores'], Array.from(scores));
    assert.deepEqual(
      encodeGgufArray({ itemType: 'i32', values: new Int32Array([-1]) }).subarray(16),
      Buffer.from([255, 255, 255, 255]),
    );
  });

  it("identifies the pre-tokenizer as llama.cpp's converter does (Llama 3 and Qwen2.5 hashes)", function () {
    this.timeout(120000);
    for (const [pkg, want] of [
      ['llama3_1', 'llama-bpe'],
      ['qwen2_5', 'qwen2'],
    ]) {
      const dir = path.join(root, 'node_modules', '@lenml', `tokenizer-${pkg}`, 'models');
      const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as unknown;
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(preTokenizerName(preTokenizerHash(tj, cfg)), want, pkg);
    }
    assert.equal(preTokenizerName('0'.repeat(64)), undefined);
    assert.equal(preTokenizerName('constructor'), undefined);
  });
});

describe('output gguf in the analysis', () => {
  it('puts what the GGUF cannot determine on the output line, before any run', () => {
    const dir = folder('no-tok', tiny, { rope_scaling: { type: 'dynamic', factor: 2 } });
    const text = `model "${dir}"\ndefaults { keep }\noutput gguf "o.gguf"\n`;
    const a = analyze(text, { recipePath: path.join(tmp, 'r.quant') });
    const d = a.diagnostics.filter((x) => x.code === 'output/gguf-metadata');
    assert.deepEqual(
      d.map((x) => x.severity),
      ['warning', 'warning'],
    );
    assert.match(d[0].message, /^output gguf: llama\.rope\.scaling\.type: rope_scaling type "dynamic"/);
    assert.match(d[1].message, /written without a tokenizer/);
    for (const x of d) assert.equal(text.slice(x.start, x.end), 'output gguf "o.gguf"');
    const none = analyze(text.replace('output gguf "o.gguf"\n', ''), { recipePath: path.join(tmp, 'r.quant') });
    assert.equal(none.diagnostics.filter((x) => x.code === 'output/gguf-metadata').length, 0);
  });

  it('the language server converts a tokenizer once while its files hold, again when one changes', () => {
    const dir = folder('cached', tiny);
    const vocab: Record<string, number> = { a: 3, b: 4 };
    fs.writeFileSync(
      path.join(dir, 'tokenizer.json'),
      JSON.stringify({ model: { type: 'BPE', vocab, merges: [], byte_fallback: true }, added_tokens: [] }),
    );
    const cache = new TokenizerCache();
    const config = configJson(tiny);
    const first = cache.load(dir, config, 64);
    assert.ok(first?.ok);
    assert.equal(cache.load(dir, config, 64), first);
    assert.equal(cache.reads, 1);
    assert.ok(first.ok && !('tokens' in first.tokenizer), 'only the summary is kept');
    // A chat template appearing changes the result.
    fs.writeFileSync(path.join(dir, 'chat_template.jinja'), '{{ x }}');
    const second = cache.load(dir, config, 64);
    assert.equal(cache.reads, 2);
    assert.ok(second?.ok && second.tokenizer.hasChatTemplate);
    assert.ok(first.ok && !first.tokenizer.hasChatTemplate);
  });
});
