// Recipe translations checked with the other tools' own pattern semantics, on the bundled
// model's names: llm-compressor matches `re:` targets with Python's re.match (anchored at
// the start only) against module names; llama-quantize lower-cases each --tensor-type
// pattern and takes the first whose std::regex_search (unanchored) finds the GGUF tensor
// name. For every example recipe (and a few harder ones), the configuration / type the
// emitted text gives each tensor must be the one Bitsmith's plan gives it, and what does
// not translate must be left out, commented, and warned about on its rule.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { analyze, type Analysis } from '../../core/src/analyze';
import { llmCompressorRecipe } from '../../core/src/export/llmCompressor';
import { llamaQuantizeCommand } from '../../core/src/export/llamaQuantize';
import type { TensorPlan } from '../../core/src/plan';
import { effectiveMethod } from '../../core/src/analysis/methodFit';

const root = path.join(__dirname, '../..');
const examples = path.join(root, 'examples');
const EXPORTS = '\nexport llm_compressor "out/t.yaml"\nexport llama_quantize "out/t.sh"\n';

const analyzeText = (text: string): Analysis => analyze(text, { recipePath: path.join(examples, 'export-test.quant') });

const GGML = ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'iq4_nl', 'iq4_xs'];

// The test's own HF -> llama.cpp name mapping (Llama family), written independently of the exporter's.
function ggufOf(hf: string): string | undefined {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  const m = /^model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)_proj\.weight$/.exec(hf);
  if (m) {
    const names: Record<string, string> = {
      q: 'attn_q',
      k: 'attn_k',
      v: 'attn_v',
      o: 'attn_output',
      gate: 'ffn_gate',
      up: 'ffn_up',
      down: 'ffn_down',
    };
    return `blk.${m[1]}.${names[m[3]]}.weight`;
  }
  const n = /^model\.layers\.(\d+)\.(input_layernorm|post_attention_layernorm)\.weight$/.exec(hf);
  if (n) return `blk.${n[1]}.${n[2] === 'input_layernorm' ? 'attn_norm' : 'ffn_norm'}.weight`;
  return undefined;
}

/** What llm-compressor must be told for a tensor the plan quantizes (undefined: not expressible). */
function expectedLlmc(t: TensorPlan, calibrated: boolean): Record<string, unknown> | undefined {
  const c = t.config!;
  const f = c.format.name;
  const intBits = /^int([2-8])$/.exec(f);
  if (!intBits && f !== 'fp8_e4m3' && f !== 'nvfp4') return undefined;
  const method = effectiveMethod(t);
  if (!(method in MODIFIER) || c.outliers || c.lowrank || t.rotate !== 'none') return undefined;
  if (!c.symmetric && c.zero !== 'int') return undefined;
  if (f === 'nvfp4')
    return {
      num_bits: 4,
      type: 'float',
      symmetric: true,
      strategy: 'tensor_group',
      group_size: 16,
      observer: 'memoryless_minmax',
    };
  if (!['f16', 'bf16', 'f32'].includes(c.scale)) return undefined;
  if (!c.symmetric && c.groupKind === 'tensor') return undefined;
  return {
    num_bits: intBits ? Number(intBits[1]) : 8,
    type: intBits ? 'int' : 'float',
    symmetric: c.symmetric,
    strategy: c.groupKind === 'size' ? 'group' : c.groupKind,
    group_size: c.groupKind === 'size' ? c.group : null,
    dynamic: false,
    observer:
      t.clip !== 'mse' ? 'memoryless_minmax' : method === 'rtn' && calibrated ? 'imatrix_mse' : 'memoryless_mse',
  };
}

/** The llm-compressor modifier that runs each method. */
const MODIFIER: Record<string, string> = {
  rtn: 'QuantizationModifier',
  gptq: 'GPTQModifier',
  awq: 'QuantizationModifier',
};

type Modifiers = Record<
  string,
  {
    ignore?: string[];
    actorder?: string | null;
    config_groups?: Record<string, { targets: string[]; weights: Record<string, unknown> }>;
  }
>;

/** Every modifier of the recipe's stage, in order (each `*_modifiers` group holds some). */
function modifiersOf(text: string): { name: string; m: Modifiers[string] }[] {
  const doc = parseYaml(text) as { quant_stage: Record<string, Modifiers> };
  const out: { name: string; m: Modifiers[string] }[] = [];
  for (const [group, mods] of Object.entries(doc.quant_stage)) {
    assert.match(group, /_modifiers$/);
    for (const [name, m] of Object.entries(mods ?? {})) out.push({ name, m });
  }
  return out;
}

function checkLlmCompressor(a: Analysis, label: string) {
  const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 'test.quant');
  const groups: { modifier: string; actorder?: string | null; targets: RegExp[]; weights: Record<string, unknown> }[] =
    [];
  const ignore = new Set<string>();
  for (const { name, m } of modifiersOf(tr.text)) {
    assert.ok(
      ['QuantizationModifier', 'GPTQModifier', 'AWQModifier'].includes(name),
      `${label}: ${name} is a modifier of llm-compressor's`,
    );
    if (name === 'AWQModifier') continue;
    for (const i of m.ignore ?? []) ignore.add(i);
    for (const g of Object.values(m.config_groups ?? {})) {
      groups.push({
        modifier: name,
        actorder: m.actorder,
        // Python re.match: anchored at the start only.
        targets: g.targets.map((s) => {
          assert.ok(s.startsWith('re:'), s);
          return new RegExp(`^(?:${s.slice(3)})`);
        }),
        weights: g.weights,
      });
    }
  }
  const planByModule = new Map(
    a.plan!.tensors.filter((t) => t.tensor.name.endsWith('.weight')).map((t) => [t.tensor.name.slice(0, -7), t]),
  );
  const modules = new Set(a.plan!.tensors.map((t) => t.tensor.name.replace(/\.(weight|bias)$/, '')));
  let untranslated = 0;
  for (const mod of modules) {
    const hits = groups.filter((g) => g.targets.some((r) => r.test(mod)));
    const t = planByModule.get(mod);
    const want =
      t && t.action === 'quantize' && t.tensor.shape.length === 2 ? expectedLlmc(t, !!a.recipe.calibration) : undefined;
    if (!want) {
      assert.equal(hits.length, 0, `${label}: ${mod} must not be targeted`);
      if (groups.length && t && t.tensor.shape.length === 2)
        assert.ok(ignore.has(mod), `${label}: ${mod} is in ignore`);
      if (t?.action === 'quantize') untranslated++;
      continue;
    }
    assert.equal(hits.length, 1, `${label}: ${mod} is targeted by exactly one config group`);
    assert.deepEqual(hits[0].weights.actorder, undefined, `${label}: ${mod}: actorder is the modifier's`);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(hits[0].weights[k], v, `${label}: ${mod} ${k}`);
    const method = effectiveMethod(t!);
    assert.equal(
      hits[0].modifier,
      MODIFIER[method],
      `${label}: ${mod} (method ${method}) is under its method's modifier`,
    );
    if (method === 'gptq')
      assert.equal(
        hits[0].actorder,
        t!.method.options.act_order === true ? 'static' : null,
        `${label}: ${mod} actorder`,
      );
    assert.ok(!ignore.has(mod), `${label}: ${mod} is not ignored`);
  }
  const left = tr.issues.filter((i) => i.kind !== 'inexact');
  assert.equal(
    left.reduce((n, i) => n + i.tensors.length, 0),
    untranslated,
    `${label}: one issue entry per untranslated tensor`,
  );
  assert.equal((tr.text.match(/^# NOT TRANSLATED/gm) ?? []).length, left.length);
  assert.equal((tr.text.match(/^# NOT EXACT/gm) ?? []).length, tr.issues.length - left.length);
  return tr;
}

function checkLlamaQuantize(a: Analysis, label: string) {
  const tr = llamaQuantizeCommand(a.recipe, a.plan!, a.model!, 'test.quant', 'out.gguf');
  // The shell words of the command (single-quoted or bare).
  const cmd = tr.text.slice(tr.text.indexOf('exec '));
  const words = [...cmd.replace(/\\\n/g, ' ').matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2],
  );
  const patterns: { re: RegExp; type: string }[] = [];
  let embd: string | undefined;
  let output: string | undefined;
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--tensor-type') {
      const w = words[++i];
      const eq = w.lastIndexOf('=');
      // llama.cpp lower-cases the pattern, then std::regex_search: unanchored.
      patterns.push({ re: new RegExp(w.slice(0, eq).toLowerCase()), type: w.slice(eq + 1) });
    } else if (words[i] === '--token-embedding-type') embd = words[++i];
    else if (words[i] === '--output-tensor-type') output = words[++i];
  }
  const base = words[words.length - 1].toLowerCase();
  for (const t of a.plan!.tensors) {
    if (t.tensor.shape.length < 2) continue;
    const g = ggufOf(t.tensor.name);
    assert.ok(g, `${label}: ${t.tensor.name} has a llama.cpp name`);
    let got: string | undefined;
    if (g === 'token_embd.weight' && embd) got = embd;
    else if (g === 'output.weight' && output) got = output;
    else got = patterns.find((p) => p.re.test(g))?.type;
    assert.ok(got, `${label}: ${g} is chosen explicitly (not left to llama.cpp's mixture rules)`);
    assert.notEqual(got, base, `${label}: ${g}: the base type is used by no tensor`);
    const f = t.config?.format.name;
    // Methods llama-quantize lacks (gptq, awq, hqq) are translated to the type with its own
    // rounding (a NOT EXACT note); what has no ggml type is kept.
    const translatable =
      t.action === 'quantize' &&
      f &&
      GGML.includes(f) &&
      !t.config!.outliers &&
      !t.config!.lowrank &&
      t.rotate === 'none';
    const want = translatable ? f : t.tensor.dtype.toLowerCase();
    assert.equal(got, want, `${label}: ${g}`);
  }
  return tr;
}

const exampleFiles = fs
  .readdirSync(examples)
  .filter((f) => f.endsWith('.quant'))
  .sort();

describe('recipe translation', () => {
  it('finds the example recipes', () => assert.ok(exampleFiles.length >= 3, exampleFiles.join(', ')));

  for (const f of exampleFiles) {
    it(`${f}: llm-compressor targets and llama-quantize types select exactly the plan's tensors`, () => {
      const text = fs.readFileSync(path.join(examples, f), 'utf8').replace(/^export .*$/gm, '') + EXPORTS;
      const a = analyzeText(text);
      assert.ok(a.plan, `${f}: analysed`);
      const llmc = checkLlmCompressor(a, f);
      const lq = checkLlamaQuantize(a, f);
      // Every issue is a warning on the recipe, from the language server's diagnostics.
      const warnings = a.diagnostics.filter((d) => d.code === 'export/untranslatable' || d.code === 'export/inexact');
      for (const i of [...llmc.issues, ...lq.issues]) {
        if (i.rule === undefined) continue;
        const rule = a.recipe.rules[i.rule];
        assert.ok(
          warnings.some((w) => w.severity === 'warning' && w.start >= rule.stmt.start && w.end <= rule.stmt.end),
          `${f}: a warning on ${rule.label} for "${i.message}"`,
        );
      }
    });
  }

  const harder: [string, string][] = [
    [
      'layer subsets and re: patterns',
      `model "stories260K"\ndefaults { format int4; group 32 }\nmatch "model.layers.{1..3}.mlp.*" { format int8; group channel }\nmatch "re:model\\.layers\\.4\\.self_attn\\.[qk]_proj" { keep }\nmatch "model.embed_tokens" { format q8_0 }`,
    ],
    [
      'ggml mix with kept layers',
      `model "stories260K"\ndefaults { format q8_0 }\nmatch "model.layers.2.**" { format q4_1 }\nmatch "*.mlp.down_proj" { keep }\nmatch "model.layers.0.self_attn.v_proj" { format iq4_nl }`,
    ],
    [
      'untranslatable settings',
      `model "stories260K"\ndefaults { format int4; group 32; symmetric false }\nmatch "*.mlp.[gu]*_proj" { format int3; outliers 0.5% }\nmatch "model.layers.0.**" { format nf4 }\nmatch "*.self_attn.o_proj" { zero int; clip mse }\nmatch "*.mlp.down_proj" { format fp8_e4m3; group channel }`,
    ],
  ];
  for (const [label, text] of harder) {
    it(`${label}: exact on every tensor`, () => {
      const a = analyzeText(text + EXPORTS);
      assert.ok(a.plan, label);
      checkLlmCompressor(a, label);
      checkLlamaQuantize(a, label);
    });
  }

  it('warns on the rule that asks for what does not translate, and comments it in the file', () => {
    const a = analyzeText(
      `model "stories260K"\ndefaults { format int4; group 32 }\nmatch "*.mlp.*" {\n  format nf4\n}\n${EXPORTS}`,
    );
    const w = a.diagnostics.filter((d) => d.code === 'export/untranslatable');
    const nf4 = a.recipe.rules[1].settings.format!.stmt;
    assert.ok(
      w.some((d) => d.start === nf4.start && /llm_compressor.*no nf4 weights/.test(d.message)),
      JSON.stringify(w),
    );
    assert.ok(w.some((d) => d.start === nf4.start && /llama_quantize.*no nf4 type/.test(d.message)));
    assert.ok(w.every((d) => d.severity === 'warning'));
    const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 't.quant');
    assert.match(tr.text, /# NOT TRANSLATED \(match "\*\.mlp\.\*"\): llm-compressor has no nf4 weights/);
    // Without export statements, no such warning.
    const b = analyzeText(`model "stories260K"\ndefaults { format nf4; group 32 }\n`);
    assert.equal(b.diagnostics.filter((d) => d.code === 'export/untranslatable').length, 0);
  });

  it('llama-quantize: an imatrix calibration becomes --imatrix; patterns are lower-case and anchored', () => {
    const a = analyzeText(
      `model "stories260K"\ncalibration imatrix "stories.imatrix"\ndefaults { format q4_0 }\n${EXPORTS}`,
    );
    const tr = llamaQuantizeCommand(a.recipe, a.plan!, a.model!, 't.quant', 'o.gguf');
    assert.match(tr.text, /--imatrix 'stories\.imatrix'/);
    for (const m of tr.text.matchAll(/--tensor-type '([^']*)'/g)) {
      assert.equal(m[1], m[1].toLowerCase());
      assert.match(m[1], /^\^.*\$=/);
    }
  });

  it('llama-quantize: gptq and a forward-pass calibration translate to the type with a NOT EXACT note; no --pure', () => {
    const a = analyzeText(
      `model "stories260K"\ncalibration generated samples 4 length 32\ndefaults { format q8_0 }\nmatch "*.self_attn.*" { method gptq { act_order } }\n${EXPORTS}`,
    );
    const tr = llamaQuantizeCommand(a.recipe, a.plan!, a.model!, 't.quant', 'o.gguf');
    assert.match(tr.text, /--tensor-type '\^blk\\\.\[0-9\]\+\\\.attn_q\\\.weight\$=q8_0'/);
    assert.doesNotMatch(tr.text.slice(tr.text.indexOf('exec ')), /--pure/);
    assert.match(
      tr.text,
      /^# NOT EXACT \(match "\*\.self_attn\.\*"\): llama-quantize has no gptq method: it rounds these tensors with its own q8_0 encoder/m,
    );
    assert.match(
      tr.text,
      /^# NOT EXACT \(defaults\): Bitsmith weights the q8_0 scale search by the importance of each input channel from calibration generated/m,
    );
    assert.ok(
      tr.issues.every((i) => i.kind === 'inexact'),
      JSON.stringify(tr.issues),
    );
    const w = a.diagnostics.filter((d) => d.code === 'export/inexact' && d.message.includes('llama_quantize'));
    assert.equal(w.length, 2, JSON.stringify(w));
    // With an imatrix, llama-quantize weights its searches too: no note.
    const b = analyzeText(
      `model "stories260K"\ncalibration imatrix "stories260K.imatrix"\ndefaults { format q8_0 }\n${EXPORTS}`,
    );
    const tb = llamaQuantizeCommand(b.recipe, b.plan!, b.model!, 't.quant', 'o.gguf');
    assert.match(tb.text, /--imatrix 'stories260K\.imatrix'/);
    assert.equal(tb.issues.length, 0, JSON.stringify(tb.issues));
  });

  it('llm-compressor: AWQ then a QuantizationModifier, a GPTQModifier with its options; awq tensors under the quantization modifier', () => {
    const a = analyzeText(
      `model "stories260K"\ncalibration generated\ndefaults { format int4; group 32; scale f32 }\nmatch "*.mlp.*" {\n  method gptq { damp 0.05; block 64; act_order }\n}\nmatch "*.mlp.down_proj" { group channel }\nmatch "*.self_attn.*" { method awq }\n${EXPORTS}`,
    );
    const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 't.quant');
    const mods = modifiersOf(tr.text) as {
      name: string;
      m: Modifiers[string] & { dampening_frac?: number; block_size?: number; duo_scaling?: boolean; n_grid?: number };
    }[];
    assert.deepEqual(
      mods.map((x) => x.name),
      ['AWQModifier', 'QuantizationModifier', 'GPTQModifier'],
      'AWQ (a transform) before the modifier that quantizes its tensors',
    );
    const gptq = mods[2].m;
    assert.deepEqual([gptq.dampening_frac, gptq.block_size, gptq.actorder], [0.05, 64, 'static']);
    assert.deepEqual([mods[0].m.duo_scaling, mods[0].m.n_grid], [false, 20]);
    const match = (i: number, mod: string) =>
      Object.values(mods[i].m.config_groups ?? {}).some((g) =>
        g.targets.some((t) => new RegExp(`^(?:${t.slice(3)})`).test(mod)),
      );
    assert.ok(match(2, 'model.layers.3.mlp.down_proj') && !match(1, 'model.layers.3.mlp.down_proj'));
    assert.ok(match(1, 'model.layers.0.self_attn.q_proj') && !match(2, 'model.layers.0.self_attn.q_proj'));
    assert.ok(match(1, 'model.embed_tokens'));
    // Only the AWQ objective differs (block output vs each layer's output): no tensor is left out.
    assert.deepEqual(
      [...new Set(tr.issues.map((i) => `${i.kind}:${i.prop}`))].sort(),
      ['inexact:method'],
      JSON.stringify(tr.issues),
    );
  });

  it('run writes one output: a recipe with output fake and output compressed_tensors is refused on the second', () => {
    const a = analyzeText(
      `model "stories260K"\ndefaults { format int4; group channel }\noutput fake "a.safetensors"\noutput compressed_tensors "b"\n`,
    );
    const d = a.diagnostics.filter((x) => x.code === 'run/unsupported');
    assert.equal(d.length, 1);
    assert.match(d[0].message, /one output per run/);
    assert.equal(a.file.statements[3].keyword.name, 'output');
    assert.equal(d[0].start, a.file.statements[3].start);
  });
});
