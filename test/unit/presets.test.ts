// Recipes from presets (core/src/presets): every preset, generated for models of several
// shapes, must check clean against that model (no error, no warning but a missing tokenizer's) with the recipe
// language's own analysis, and must say what its tool says: llama.cpp's Q4_K_M types
// (use_more_bits layers, fallbacks for rows that are not whole super-blocks), vLLM's
// kept embedding and head, groups that divide the rows, calibration only where a method
// needs it and the forward pass can run it.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { analyze, type Analysis } from '../../core/src/analyze';
import { readModelHeader } from '../../core/src/models/load';
import type { ModelHeader } from '../../core/src/models/types';
import {
  PRESETS,
  defaultFitBudget,
  fitRange,
  modelStem,
  parseSize,
  patternsFor,
  recipeFromPreset,
  recipePlacement,
  sizeBytes,
  uniqueRecipePath,
  useMoreBits,
} from '../../core/src/presets/index';
import { ggufLlama2_7b, gpt2, llama31_8b, llama32_1b, qwen25_05b } from '../helpers/modelShapes';

const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples');

const MODELS: [string, () => ModelHeader, string][] = [
  ['stories260K (Hugging Face folder)', () => readModelHeader(path.join(EXAMPLES, 'stories260K')), 'stories260K'],
  [
    'stories260K (llama2.c .bin)',
    () => readModelHeader(path.join(EXAMPLES, 'stories260K', 'stories260K.bin')),
    'stories260K/stories260K.bin',
  ],
  ['Llama 3.2 1B shape (in memory, tied)', () => llama32_1b(), 'Llama-3.2-1B'],
  ['Llama 3.1 8B shape (in memory, separate lm_head)', () => llama31_8b(), 'Llama-3.1-8B'],
  ['Qwen2.5 0.5B shape (896-wide rows, q/k/v biases)', () => qwen25_05b(), 'Qwen2.5-0.5B'],
  ['GGUF source (Llama 2 7B f16 shape)', () => ggufLlama2_7b(), 'llama-2-7b.f16.gguf'],
  ['GPT-2 (no forward pass, no GGUF output)', () => gpt2(), 'gpt2'],
];

function check(model: ModelHeader, text: string): Analysis {
  return analyze(text, { recipePath: '/work/recipes/new.quant', loadModel: () => model, exists: () => true });
}

// A model without a tokenizer.json (the bundled one, the in-memory shapes): output gguf says
// it writes no tokenizer. True, and not the preset's to fix; every other warning is.
const noTokenizer = (d: Analysis['diagnostics'][number]) =>
  d.code === 'output/gguf-metadata' && /written without a tokenizer/.test(d.message);

const problems = (a: Analysis) =>
  a.diagnostics
    .filter((d) => (d.severity === 'error' || d.severity === 'warning') && !noTokenizer(d))
    .map((d) => `${d.severity} ${d.code}: ${d.message}`);

const formatOf = (a: Analysis, name: string) => {
  const t = a.plan!.tensors.find((x) => x.tensor.name === name);
  assert.ok(t, `no tensor ${name}`);
  return t.action === 'keep' ? 'keep' : t.config!.format.name;
};

describe('presets: a recipe from a model header', () => {
  for (const [label, load, ref] of MODELS) {
    describe(label, () => {
      let model: ModelHeader;
      before(() => (model = load()));
      for (const p of PRESETS) {
        it(`${p.id}: checks clean (no error, no warning) and quantizes most weights`, () => {
          const { text } = recipeFromPreset(model, { preset: p.id, modelRef: ref });
          const a = check(model, text);
          assert.deepEqual(problems(a), [], text);
          assert.ok(a.plan, 'the recipe resolves a plan');
          const quantized = a.plan.tensors.filter((t) => t.action === 'quantize');
          const weights = a.plan.tensors.filter((t) => t.tensor.shape.length >= 2);
          const share =
            quantized.reduce((s, t) => s + t.tensor.elements, 0) / weights.reduce((s, t) => s + t.tensor.elements, 0);
          // The embedding (and head) may stay in 16 bits; 260K-parameter stories260K is half embedding.
          assert.ok(share > 0.3, `only ${(share * 100).toFixed(1)}% of the weights are quantized\n${text}`);
          assert.equal(a.recipe.model?.path, ref);
        });
      }
    });
  }
});

describe('presets: what each says', () => {
  it('W4A16: int4 group 128 gptq with generated calibration; embedding kept; rows of 172 per channel', () => {
    const model = readModelHeader(path.join(EXAMPLES, 'stories260K'));
    const { text, stem } = recipeFromPreset(model, { preset: 'w4a16', modelRef: 'stories260K' });
    assert.equal(stem, 'stories260K-w4a16');
    const a = check(model, text);
    assert.equal(a.recipe.calibration?.kind, 'generated');
    assert.equal(formatOf(a, 'model.embed_tokens.weight'), 'keep');
    const q = a.plan!.tensors.find((t) => t.tensor.name === 'model.layers.0.self_attn.q_proj.weight')!;
    assert.equal(q.config!.format.name, 'int4');
    assert.equal(q.config!.group, 64, 'rows of 64: group 64, the largest of 128, 64, 32 that divides them');
    assert.equal(q.method.name, 'gptq');
    const down = a.plan!.tensors.find((t) => t.tensor.name === 'model.layers.0.mlp.down_proj.weight')!;
    assert.equal(down.config!.groupKind, 'channel');
    assert.match(text, /^output compressed_tensors "out\/stories260K-w4a16"$/m);
    assert.match(text, /^match "model\.layers\.\*\.mlp\.down_proj" \{ group channel \}/m);
  });

  it('W4A16 on Llama 3.1 8B keeps lm_head and the embedding, quantizes every projection at group 128', () => {
    const model = llama31_8b();
    const a = check(model, recipeFromPreset(model, { preset: 'w4a16', modelRef: 'm' }).text);
    assert.equal(formatOf(a, 'lm_head.weight'), 'keep');
    assert.equal(formatOf(a, 'model.embed_tokens.weight'), 'keep');
    const proj = a.plan!.tensors.filter((t) => /_proj\.weight$/.test(t.tensor.name));
    assert.equal(proj.length, 32 * 7);
    for (const t of proj) {
      assert.equal(t.config?.format.name, 'int4', t.tensor.name);
      assert.equal(t.config?.group, 128, t.tensor.name);
      assert.equal(t.method.name, 'gptq', t.tensor.name);
    }
  });

  it('W4A16 without a forward pass (GPT-2, a GGUF source): rtn, no calibration line', () => {
    for (const model of [gpt2(), ggufLlama2_7b()]) {
      const a = check(model, recipeFromPreset(model, { preset: 'w4a16', modelRef: 'm' }).text);
      assert.equal(a.recipe.calibration, undefined);
      assert.ok(a.plan!.tensors.every((t) => t.method.name === 'rtn'));
    }
  });

  it('NVFP4 and FP8: compressed-tensors formats, the embedding kept', () => {
    const model = qwen25_05b();
    const nv = check(model, recipeFromPreset(model, { preset: 'nvfp4', modelRef: 'm' }).text);
    assert.equal(formatOf(nv, 'model.layers.3.mlp.down_proj.weight'), 'nvfp4');
    assert.equal(formatOf(nv, 'model.embed_tokens.weight'), 'keep');
    assert.equal(formatOf(nv, 'model.layers.3.self_attn.q_proj.bias'), 'keep');
    const f8 = check(model, recipeFromPreset(model, { preset: 'fp8', modelRef: 'm' }).text);
    const t = f8.plan!.tensors.find((x) => x.tensor.name === 'model.layers.3.self_attn.k_proj.weight')!;
    assert.equal(t.config!.format.name, 'fp8_e4m3');
    assert.equal(t.config!.groupKind, 'channel');
    assert.equal(t.config!.scale, 'bf16', "the model's dtype, as llm-compressor stores scales");
    assert.equal(f8.recipe.calibration, undefined, 'fp8 is data-free');
  });

  it("use_more_bits is llama.cpp's: 8 layers give {0,3,6,7} (bench/mixes/q4_k_m.quant), 16 and 32 half of them", () => {
    const layers = (n: number) => [...Array(n).keys()].filter((i) => useMoreBits(i, n));
    assert.deepEqual(layers(8), [0, 3, 6, 7]);
    assert.deepEqual(layers(16), [0, 1, 4, 7, 10, 13, 14, 15]);
    assert.deepEqual(layers(32), [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  });

  it('Q4_K_M on Llama 3.2 1B: q4_k; q6_k for attn_v and ffn_down of use_more_bits layers and the tied embedding', () => {
    const model = llama32_1b();
    const { text } = recipeFromPreset(model, { preset: 'q4_k_m', modelRef: 'm' });
    const a = check(model, text);
    const more = new Set([0, 1, 4, 7, 10, 13, 14, 15]);
    for (let l = 0; l < 16; l++) {
      const p = `model.layers.${l}`;
      assert.equal(formatOf(a, `${p}.self_attn.v_proj.weight`), more.has(l) ? 'q6_k' : 'q4_k', `layer ${l} v`);
      assert.equal(formatOf(a, `${p}.mlp.down_proj.weight`), more.has(l) ? 'q6_k' : 'q4_k', `layer ${l} down`);
      for (const x of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj'])
        assert.equal(formatOf(a, `${p}.${x}.weight`), 'q4_k', `${p}.${x}`);
      assert.equal(formatOf(a, `${p}.input_layernorm.weight`), 'keep');
    }
    // No output tensor: llama.cpp quantizes token_embd with the output's type.
    assert.equal(formatOf(a, 'model.embed_tokens.weight'), 'q6_k');
    assert.match(text, /^match "model\.layers\.\{0,1,4,7,10,13,14,15\}\.self_attn\.v_proj" \{ format q6_k \}/m);
    assert.match(text, /^output gguf "out\/m-Q4_K_M\.gguf"$/m);
  });

  it('Q4_K_M on Llama 3.1 8B (separate output): the head q6_k, the embedding q4_k', () => {
    const model = llama31_8b();
    const a = check(model, recipeFromPreset(model, { preset: 'q4_k_m', modelRef: 'm' }).text);
    assert.equal(formatOf(a, 'lm_head.weight'), 'q6_k');
    assert.equal(formatOf(a, 'model.embed_tokens.weight'), 'q4_k');
    assert.equal(formatOf(a, 'model.layers.5.self_attn.v_proj.weight'), 'q4_k');
    assert.equal(formatOf(a, 'model.layers.6.self_attn.v_proj.weight'), 'q6_k');
  });

  it("Q4_K_M on Qwen2.5 0.5B: llama.cpp's fallbacks for 896-wide rows (q4_k -> q5_0, head q8_0)", () => {
    const model = qwen25_05b();
    const a = check(model, recipeFromPreset(model, { preset: 'q4_k_m', modelRef: 'm' }).text);
    // 24 layers: use_more_bits(i, 24) for i < 3, i >= 21, (i - 3) % 3 == 2.
    assert.equal(formatOf(a, 'model.layers.5.self_attn.q_proj.weight'), 'q5_0');
    assert.equal(formatOf(a, 'model.layers.5.self_attn.v_proj.weight'), 'q8_0', 'q6_k falls back to q8_0');
    assert.equal(formatOf(a, 'model.layers.6.self_attn.v_proj.weight'), 'q5_0');
    // down_proj's rows are 4864 = 19 x 256: k-quants fit.
    assert.equal(formatOf(a, 'model.layers.5.mlp.down_proj.weight'), 'q6_k');
    assert.equal(formatOf(a, 'model.layers.6.mlp.down_proj.weight'), 'q4_k');
    assert.equal(formatOf(a, 'model.embed_tokens.weight'), 'q8_0', 'tied: the output rule, 896 % 256 != 0 -> q8_0');
    assert.equal(formatOf(a, 'model.layers.5.self_attn.q_proj.bias'), 'keep');
  });

  it('Q4_K_M on stories260K: rows of 172 are neither 256- nor 32-weight blocks: kept, as llama.cpp writes them F16', () => {
    const model = readModelHeader(path.join(EXAMPLES, 'stories260K'));
    const { text } = recipeFromPreset(model, { preset: 'q4_k_m', modelRef: 'stories260K' });
    const a = check(model, text);
    assert.equal(formatOf(a, 'model.layers.2.mlp.down_proj.weight'), 'keep');
    assert.equal(formatOf(a, 'model.layers.2.mlp.gate_proj.weight'), 'q5_0');
    assert.match(text, /llama\.cpp writes F16, kept here/);
  });

  it('Q4_K_M on a GGUF source names its tensors as they are; GPT-2 gets output fake, saying why', () => {
    const g = ggufLlama2_7b();
    const a = check(g, recipeFromPreset(g, { preset: 'q4_k_m', modelRef: 'm.gguf' }).text);
    assert.equal(formatOf(a, 'output.weight'), 'q6_k');
    assert.equal(formatOf(a, 'blk.0.attn_v.weight'), 'q6_k');
    assert.equal(formatOf(a, 'blk.4.attn_v.weight'), 'q4_k');
    const { text } = recipeFromPreset(gpt2(), { preset: 'q4_k_m', modelRef: 'gpt2' });
    assert.match(text, /# output gguf cannot be written for this model: .*gpt2/);
    assert.match(text, /^output fake "out\/gpt2-Q4_K_M\.safetensors"$/m);
  });

  it('fit: budget and allocate with candidates every free tensor fits; the default budget is inside the reachable range', () => {
    for (const model of [llama32_1b(), qwen25_05b(), readModelHeader(path.join(EXAMPLES, 'stories260K')), gpt2()]) {
      const { minBytes, maxBytes } = fitRange(model, 'm');
      assert.ok(minBytes > 0 && minBytes < maxBytes, `${model.path}: ${minBytes} .. ${maxBytes}`);
      const def = defaultFitBudget(model, 'm');
      const bytes = sizeBytes(def, model);
      assert.ok(
        bytes >= minBytes && bytes <= maxBytes,
        `${model.path}: ${JSON.stringify(def)} outside ${minBytes}..${maxBytes}`,
      );
      const { text } = recipeFromPreset(model, { preset: 'fit', modelRef: 'm', budget: def });
      const a = check(model, text);
      assert.equal(a.recipe.budget?.kind, 'bytes');
      assert.ok(Math.abs((a.recipe.budget as { bytes: number }).bytes - bytes) < 1e-6 * bytes);
      assert.ok(a.allocation, `${model.path}: allocate set up`);
      assert.equal(a.allocation.setup.free.filter((f) => f.candidates.length === 0).length, 0);
    }
  });

  it('fit: Llama 3.2 1B allocates llama.cpp types into GGUF with metric output; GPT-2 int types with metric weight', () => {
    const l = recipeFromPreset(llama32_1b(), { preset: 'fit', modelRef: 'm', budget: { value: 0.8, unit: 'GB' } }).text;
    assert.match(l, /^budget 0\.8 GB$/m);
    assert.match(l, /^ {2}formats q2_k q3_k q4_k q5_k q6_k q8_0$/m);
    assert.match(l, /^ {2}metric output$/m);
    assert.match(l, /^calibration generated /m);
    const g = recipeFromPreset(gpt2(), { preset: 'fit', modelRef: 'm', budget: { value: 90, unit: 'MB' } }).text;
    assert.match(g, /^ {2}formats int2 int3 int4 int5 int6 int8$/m);
    assert.match(g, /^ {2}metric weight$/m);
    assert.doesNotMatch(g, /^calibration/m);
  });

  it("fit below the smallest reachable size is the allocator's infeasible error", () => {
    const model = llama32_1b();
    const { minBytes } = fitRange(model, 'm');
    const a = check(
      model,
      recipeFromPreset(model, { preset: 'fit', modelRef: 'm', budget: { value: (minBytes * 0.9) / 1e9, unit: 'GB' } })
        .text,
    );
    const e = a.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(
      e.map((d) => d.code),
      ['allocate/infeasible'],
    );
    assert.match(e[0].message, /The budget cannot be met/);
  });
});

describe('presets: helpers', () => {
  it('parseSize reads the recipe units in any case; a bare number takes the default unit', () => {
    assert.deepEqual(parseSize('1.2 GB'), { value: 1.2, unit: 'GB' });
    assert.deepEqual(parseSize('300kib'), { value: 300, unit: 'KiB' });
    assert.deepEqual(parseSize('4.5 bpw'), { value: 4.5, unit: 'bpw' });
    assert.deepEqual(parseSize('2', 'MB'), { value: 2, unit: 'MB' });
    assert.equal(parseSize('-1 GB'), undefined);
    assert.equal(parseSize('0 GB'), undefined);
    assert.equal(parseSize('12 parsecs'), undefined);
    assert.equal(parseSize(''), undefined);
  });

  it('modelStem names folders and files without their extension', () => {
    assert.equal(modelStem('stories260K'), 'stories260K');
    assert.equal(modelStem('../models/Llama-3.2-1B/'), 'Llama-3.2-1B');
    assert.equal(modelStem('a/b/llama-2-7b.f16.gguf'), 'llama-2-7b.f16');
    assert.equal(modelStem('stories260K/stories260K.bin'), 'stories260K');
    assert.equal(modelStem('weird name (1).safetensors'), 'weird-name-1-');
  });

  it('patternsFor selects exactly the chosen tensors: * for every block, a set for some, not the biases', () => {
    const model = qwen25_05b();
    const names = (re: RegExp) => model.tensors.filter((t) => re.test(t.name)).map((t) => t.name);
    assert.deepEqual(patternsFor(names(/mlp\.down_proj\.weight$/), model.tensors), ['model.layers.*.mlp.down_proj']);
    // v_proj has a bias beside it: the pattern keeps `.weight`.
    assert.deepEqual(patternsFor(names(/layers\.(1|5)\.self_attn\.v_proj\.weight$/), model.tensors), [
      'model.layers.{1,5}.self_attn.v_proj.weight',
    ]);
    assert.deepEqual(patternsFor(names(/layers\.(2|3|4)\.mlp\.up_proj\.weight$/), model.tensors), [
      'model.layers.{2..4}.mlp.up_proj',
    ]);
  });
});

describe('presets: where a new recipe goes', () => {
  it('at the root of the workspace folder holding the model, naming it relatively', () => {
    assert.deepEqual(recipePlacement('/ws/models/Llama-3.2-1B', ['/other', '/ws']), {
      folder: '/ws',
      modelRef: 'models/Llama-3.2-1B',
    });
    assert.deepEqual(recipePlacement('/ws', ['/ws']), { folder: '/ws', modelRef: '.' });
  });

  it('outside every workspace folder: the first folder, the model by its absolute path; no workspace: beside it', () => {
    assert.deepEqual(recipePlacement('/data/m.gguf', ['/ws']), { folder: '/ws', modelRef: '/data/m.gguf' });
    assert.deepEqual(recipePlacement('/data/m.gguf', []), { folder: '/data', modelRef: 'm.gguf' });
    // A sibling folder whose name starts the same is not inside.
    assert.deepEqual(recipePlacement('/ws2/m', ['/ws']), { folder: '/ws', modelRef: '/ws2/m' });
  });

  it('never takes a name in use', () => {
    const taken = new Set(['/ws/m-w4a16.quant', '/ws/m-w4a16-2.quant']);
    assert.equal(
      uniqueRecipePath('/ws', 'm-w4a16', (p) => taken.has(p)),
      '/ws/m-w4a16-3.quant',
    );
    assert.equal(
      uniqueRecipePath('/ws', 'm-fp8', (p) => taken.has(p)),
      '/ws/m-fp8.quant',
    );
  });
});
