// `export llm_compressor` runs the algorithm Bitsmith ran. The table below is llm-compressor's
// and compressed-tensors' documented defaults and resolution rules, as they hold for
// llm-compressor 0.11.0 to 0.13.0 with compressed-tensors 0.16 to 0.18 (GPTQModifier in
// modifiers/gptq/base.py and gptq_quantize.py; AWQModifier in modifiers/transform/awq/base.py;
// QuantizationArgs in compressed_tensors/quantization/quant_args.py; the observers in
// observers/mse.py and observers/imatrix.py). The test applies those rules to the exported
// YAML, as llm-compressor would, and compares what each module then gets with what
// Bitsmith's plan ran on it; and it shows that leaving out each explicit option would make
// llm-compressor run something else.
import { strict as assert } from 'node:assert';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { analyze, type Analysis } from '../../core/src/analyze';
import { llmCompressorRecipe } from '../../core/src/export/llmCompressor';
import { effectiveMethod } from '../../core/src/analysis/methodFit';
import type { TensorPlan } from '../../core/src/plan';

const STATIC = 'static'; // ActivationOrdering.STATIC, alias of 'weight'
const SENTINEL = Symbol('Sentinel("static")');

/** The documented defaults (llm-compressor 0.11-0.13, compressed-tensors 0.16-0.18). */
const RULES = {
  GPTQModifier: { block_size: 128, dampening_frac: 0.01, actorder: SENTINEL as unknown },
  AWQModifier: { duo_scaling: true as boolean | 'both', n_grid: 20, mappings: null },
  QuantizationArgs: {
    num_bits: 8,
    type: 'int',
    symmetric: true,
    group_size: null as number | null,
    strategy: null as string | null,
    dynamic: false,
    actorder: null as string | null,
    observer: null as string | null,
    observer_kwargs: {} as Record<string, number>,
  },
  /** observer null and not dynamic (compressed-tensors >= 0.14). */
  defaultObserver: 'memoryless_minmax',
  memoryless_mse: { maxshrink: 0.2, patience: 5, grid: 100, norm: 2.4 },
  imatrix_mse: { maxshrink: 0.95, patience: 5, grid: 20, norm: 3 },
};

/** QuantizationArgs after its validator: the strategy inferred from group_size, the observer defaulted. */
function resolveArgs(w: Record<string, unknown>) {
  const a = { ...RULES.QuantizationArgs, ...w } as typeof RULES.QuantizationArgs;
  let strategy = a.strategy;
  if (strategy === null) strategy = a.group_size === null ? 'tensor' : a.group_size > 0 ? 'group' : 'channel';
  return { ...a, strategy, observer: a.observer ?? (a.dynamic ? null : RULES.defaultObserver) };
}

/** GPTQModifier.resolve_quantization_config's actorder rule (every strategy since 0.11). */
function resolveActorder(modifier: unknown, group: string | null): string | null {
  if (modifier === SENTINEL) return group === null ? STATIC : group;
  if (group === null || modifier === group) return modifier as string | null;
  throw new Error(`Cannot resolve activation ordering (${String(modifier)}, ${group})`);
}

/** The shrink factors an observer tries and its error norm (exhaustive: patience never stops it). */
function shrinkSearch(observer: string, kwargs: Record<string, number>) {
  if (observer === 'memoryless_minmax' || observer === 'minmax') return { shrinks: [1], norm: 2, weighted: false };
  const imatrix = observer === 'imatrix_mse';
  const k = { ...(imatrix ? RULES.imatrix_mse : RULES.memoryless_mse), ...kwargs };
  // memoryless_mse: range(int(maxshrink * grid)); imatrix_mse: range(max(1, int(maxshrink * grid)) + 1).
  const steps = imatrix ? Math.max(1, Math.floor(k.maxshrink * k.grid)) + 1 : Math.floor(k.maxshrink * k.grid);
  // Multiplied into float32 ranges: compare as float32.
  const shrinks = Array.from({ length: steps }, (_, i) => Math.fround(1 - i / k.grid));
  // Early stop after `patience` steps without improvement: exhaustive only when patience >= steps - 1.
  return { shrinks, norm: k.norm, weighted: imatrix, exhaustive: k.patience >= steps - 1 };
}

/** What Bitsmith ran on one tensor (docs/recipe-language.md, docs/methods.md). */
function bitsmithRan(t: TensorPlan, calibrated: boolean) {
  const c = t.config!;
  const method = effectiveMethod(t);
  const mse = t.clip === 'mse' && c.format.name !== 'nvfp4';
  return {
    method,
    num_bits: c.format.bits,
    type: c.format.family === 'int' ? 'int' : 'float',
    symmetric: c.symmetric,
    strategy: c.format.name === 'nvfp4' ? 'tensor_group' : c.groupKind === 'size' ? 'group' : c.groupKind,
    group_size: c.format.name === 'nvfp4' ? 16 : c.groupKind === 'size' ? c.group : null,
    // clip mse: a = 1, 0.975, ..., 0.525, squared error, all 20 tried; weighted by importance on rtn tensors.
    search: mse
      ? {
          shrinks: Array.from({ length: 20 }, (_, i) => Math.fround(1.0 - 0.025 * i)), // native/src/quant/internal.h clipShrink
          norm: 2,
          weighted: method === 'rtn' && calibrated,
          exhaustive: true,
        }
      : { shrinks: [1], norm: 2, weighted: false },
    gptq:
      method === 'gptq'
        ? {
            block: (t.method.options.block as number | undefined) ?? 128,
            damp: (t.method.options.damp as number | undefined) ?? 0.01,
            actorder: t.method.options.act_order === true ? STATIC : null,
          }
        : undefined,
    awq: method === 'awq' ? { grid: (t.method.options.grid as number | undefined) ?? 20, duo: false } : undefined,
  };
}

type Yaml = Record<string, Record<string, Record<string, unknown>>>;

/** AWQModifier's mappings when none are given (awq/mappings.py default_mappings, for Llama-family models). */
const DEFAULT_MAPPINGS = [
  { smooth_layer: 're:.*input_layernorm$', balance_layers: ['re:.*q_proj$', 're:.*k_proj$', 're:.*v_proj$'] },
  { smooth_layer: 're:.*v_proj$', balance_layers: ['re:.*o_proj$'] },
  { smooth_layer: 're:.*post_attention_layernorm$', balance_layers: ['re:.*gate_proj$', 're:.*up_proj$'] },
  { smooth_layer: 're:.*up_proj$', balance_layers: ['re:.*down_proj$'] },
];

/** What llm-compressor gives each module when it loads the YAML (by the rules above). */
function llmcRuns(text: string, modules: string[]) {
  const stage = (parseYaml(text) as { quant_stage: Yaml }).quant_stage;
  const out = new Map<string, ReturnType<typeof bitsmithRan>>();
  let awq: { grid: number; duo: boolean; mappings: { smooth_layer: string; balance_layers: string[] }[] } | undefined;
  for (const group of Object.values(stage)) {
    for (const [name, opts] of Object.entries(group)) {
      if (name === 'AWQModifier') {
        const o = { ...RULES.AWQModifier, ...opts };
        awq = {
          grid: o.n_grid as number,
          duo: o.duo_scaling !== false,
          mappings: (o.mappings ?? DEFAULT_MAPPINGS) as never,
        };
        continue;
      }
      const gptqOpts = name === 'GPTQModifier' ? { ...RULES.GPTQModifier, ...opts } : undefined;
      const groups = opts.config_groups as Record<string, { targets: string[]; weights: Record<string, unknown> }>;
      for (const g of Object.values(groups)) {
        const a = resolveArgs(g.weights);
        const targets = g.targets.map((s) => new RegExp(`^(?:${s.slice(3)})`));
        for (const m of modules) {
          if (!targets.some((r) => r.test(m))) continue;
          assert.ok(!out.has(m), `${m} is targeted once`);
          const search = shrinkSearch(a.observer!, a.observer_kwargs);
          out.set(m, {
            method: gptqOpts ? 'gptq' : 'rtn',
            num_bits: a.num_bits,
            type: a.type,
            symmetric: a.symmetric,
            strategy: a.strategy!,
            group_size: a.group_size,
            search,
            gptq: gptqOpts && {
              block: gptqOpts.block_size as number,
              damp: gptqOpts.dampening_frac as number,
              actorder: resolveActorder(gptqOpts.actorder, a.actorder),
            },
            awq: undefined,
          });
        }
      }
    }
  }
  // AWQ scales the balance layers of its mappings (the default: every site of every layer).
  if (awq) {
    for (const mp of awq.mappings) {
      for (const b of mp.balance_layers) {
        const r = new RegExp(`^(?:${b.slice(3)})`);
        for (const m of modules) {
          const e = out.get(m);
          if (r.test(m) && e) e.awq = { grid: awq.grid, duo: awq.duo };
        }
      }
    }
  }
  for (const e of out.values()) if (e.awq) e.method = 'awq';
  return out;
}

const root = path.join(__dirname, '../..');
const analyzeText = (text: string): Analysis =>
  analyze(text, { recipePath: path.join(root, 'examples', 'llmc-test.quant') });

/** Compares every translated tensor; the NOT EXACT notes concern what the settings do not
 *  show (the group fitting, scale rounding, the AWQ objective), except an unfoldable AWQ
 *  site, which llm-compressor runs as RTN. */
function compare(text: string, label: string) {
  const a = analyzeText(text);
  assert.ok(a.plan, label);
  const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 't.quant');
  const modules = a.plan!.tensors.map((t) => t.tensor.name.replace(/\.weight$/, ''));
  const runs = llmcRuns(tr.text, modules);
  const noted = new Set(
    tr.issues.flatMap((i) => (i.kind !== 'inexact' || i.message.includes('folds AWQ') ? i.tensors : [])),
  );
  let compared = 0;
  for (const t of a.plan!.tensors) {
    if (t.action !== 'quantize' || noted.has(t.tensor.name)) continue;
    const got = runs.get(t.tensor.name.replace(/\.weight$/, ''));
    assert.ok(got, `${label}: ${t.tensor.name} is quantized by the translation`);
    assert.deepEqual(got, bitsmithRan(t, !!a.recipe.calibration), `${label}: ${t.tensor.name}`);
    compared++;
  }
  return { a, tr, compared };
}

describe('llm-compressor translation runs what Bitsmith ran (documented rules of llm-compressor 0.11-0.13)', () => {
  const M = 'model "stories260K"\n';
  const cases: [string, string][] = [
    ['rtn, clip none', 'defaults { format int4; group 32; scale f32 }\nmatch "*.mlp.down_proj" { group channel }'],
    ['rtn, clip mse, no calibration', 'defaults { format int8; group channel; clip mse; scale f32 }'],
    [
      'rtn, clip mse, calibration (importance-weighted search)',
      'calibration generated samples 4 length 32\ndefaults { format int4; group 32; symmetric false; zero int; clip mse; scale f32 }\nmatch "*.mlp.down_proj" { group channel }',
    ],
    [
      'gptq with act_order and without, two dampings',
      'calibration generated samples 4 length 32\ndefaults { format int4; group 32; scale f32; method gptq { act_order; block 64 } }\nmatch "*.mlp.down_proj" { group channel; method gptq { damp 0.05 } }\nmatch "*.self_attn.o_proj" { group channel; method gptq }',
    ],
    [
      'awq on q/k/v and gate/up with a grid of 10',
      'calibration generated samples 4 length 32\ndefaults { format int4; group 32; scale f32 }\nmatch "*.self_attn.[qkv]_proj", "*.mlp.gate_proj", "*.mlp.up_proj" { method awq { grid 10 } }\nmatch "*.mlp.down_proj" { group channel }',
    ],
    ['fp8 channel', 'defaults { format fp8_e4m3; group channel; scale f32 }'],
  ];
  for (const [label, rules] of cases) {
    it(`${label}: every translated tensor resolves to Bitsmith's settings`, () => {
      const { compared } = compare(`${M}${rules}\n`, label);
      assert.ok(compared >= 10, `${label}: ${compared} tensors compared`);
    });
  }

  it('each explicit option is needed: with llm-compressor defaults the resolution differs', () => {
    const text = `${M}calibration generated samples 4 length 32\ndefaults { format int4; group 32; scale f32; clip mse; method gptq { block 64 } }\nmatch "*.mlp.down_proj" { group channel }\nmatch "*.self_attn.[qkv]_proj", "*.mlp.gate_proj", "*.mlp.up_proj" { method awq { grid 10 }; clip none }\n`;
    const a = analyzeText(text);
    const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 't.quant');
    const modules = a.plan!.tensors.map((t) => t.tensor.name.replace(/\.weight$/, ''));
    const down = 'model.layers.1.mlp.down_proj';
    const q = 'model.layers.1.self_attn.q_proj';
    const base = llmcRuns(tr.text, modules);
    // As exported: no act-order, Bitsmith's block, 20 shrinks of 1/40, activation-only AWQ over 10 points.
    assert.equal(base.get(down)!.gptq!.actorder, null);
    assert.equal(base.get(down)!.gptq!.block, 64);
    assert.equal(base.get(down)!.search.shrinks.length, 20);
    assert.deepEqual(base.get(q)!.awq, { grid: 10, duo: false });
    const without = (re: RegExp) => llmcRuns(tr.text.replace(re, ''), modules);
    assert.equal(
      without(/^ {6}actorder: null\n/m).get(down)!.gptq!.actorder,
      STATIC,
      'the sentinel turns null into static',
    );
    assert.equal(without(/^ {6}block_size: 64\n/m).get(down)!.gptq!.block, 128);
    assert.equal(without(/^ {6}duo_scaling: false\n/m).get(q)!.awq!.duo, true);
    assert.equal(without(/^ {6}n_grid: 10\n/m).get(q)!.awq!.grid, 20);
    const noKwargs = without(/^ {12}observer_kwargs: .*\n/gm).get(down)!.search;
    assert.deepEqual([noKwargs.shrinks.length, noKwargs.norm], [20, 2.4], 'defaults: 20 steps of 1/100, norm 2.4');
    // Without the mappings AWQ would scale every site: down_proj (gptq here) too.
    assert.equal(base.get(down)!.awq, undefined);
    const all = without(/^ {6}mappings:\n(?: {8}.*\n)+/m);
    assert.deepEqual(all.get(down)!.awq, { grid: 10, duo: false });
  });

  it('what llm-compressor runs differently is a NOT EXACT note, on the rule that asks for it', () => {
    const text = `${M}calibration generated samples 4 length 32\ndefaults { format int4; group 32 }\nmatch "*.mlp.*" { method gptq }\nmatch "*.mlp.down_proj" { group channel }\nmatch "*.self_attn.*" { format nvfp4 }\nexport llm_compressor "out/x.yaml"\n`;
    const a = analyzeText(text);
    const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 't.quant');
    const messages = tr.issues.map((i) => `${i.kind}:${a.recipe.rules[i.rule!].label}:${i.message}`);
    // gptq on groups without act_order: dynamic groups; f16 scales on an F32 model; nvfp4's fused global scale.
    assert.ok(
      messages.some((m) =>
        /^inexact:match "\*\.mlp\.\*":llm-compressor fits every group's scale on the original weights/.test(m),
      ),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) =>
        /^inexact:defaults:llm-compressor keeps int and fp8 scales in the weight's dtype \(F32 here\); Bitsmith rounds them to f16: scale f32 translates exactly/.test(
          m,
        ),
      ),
    );
    assert.ok(
      messages.some((m) =>
        /^inexact:match "\*\.self_attn\.\*":llm-compressor gives q\/k\/v .* one shared nvfp4 global scale/.test(m),
      ),
    );
    assert.match(tr.text, /^# NOT EXACT \(match "\*\.mlp\.\*"\): llm-compressor fits every group's scale/m);
    // The channel down_proj is exact: one scale per row is fitted before the pass either way.
    assert.ok(
      !tr.issues.some(
        (i) => i.message.startsWith('llm-compressor fits') && i.tensors.some((n) => n.includes('down_proj')),
      ),
    );
    const w = a.diagnostics.filter((d) => d.code === 'export/inexact');
    assert.ok(w.length >= 3 && w.every((d) => d.severity === 'warning'), JSON.stringify(w));
  });

  it('AWQ maps only the sites Bitsmith scales: q/k/v when all three use awq; o_proj not under grouped-query attention', () => {
    const text = `${M}calibration generated samples 4 length 32\ndefaults { format int4; group 32; scale f32; method awq }\nmatch "model.layers.2.self_attn.k_proj" { method rtn }\nmatch "*.mlp.down_proj" { group channel }\noutput compressed_tensors "out/ct"\n`;
    const a = analyzeText(text);
    const tr = llmCompressorRecipe(a.recipe, a.plan!, a.model!, 't.quant');
    const stage = (parseYaml(tr.text) as { quant_stage: Yaml }).quant_stage;
    const maps = (stage.awq_modifiers.AWQModifier.mappings as { smooth_layer: string; balance_layers: string[] }[]).map(
      (m) => m.smooth_layer,
    );
    const hits = (name: string) => maps.some((s) => new RegExp(`^(?:${s.slice(3)})`).test(name));
    assert.ok(hits('model.layers.1.input_layernorm'));
    assert.ok(!hits('model.layers.2.input_layernorm'), 'layer 2: k_proj is rtn, so its norm takes no scale');
    assert.ok(hits('model.layers.0.post_attention_layernorm') && hits('model.layers.4.mlp.up_proj'));
    assert.ok(!maps.some((s) => s.includes('v_proj')), 'stories260K has 8 query heads and 4 value heads');
    // With an output of codes Bitsmith leaves those sites unscaled too: no NOT EXACT for them.
    assert.ok(!tr.issues.some((i) => i.message.includes('folds')), JSON.stringify(tr.issues));
  });
});
