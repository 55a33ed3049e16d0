import { strict as assert } from 'node:assert';
import { analyze, type Analysis } from '../../core/src/analyze';
import { ModelReadError } from '../../core/src/models/types';
import { llamaHeader } from '../helpers/syntheticModel';

const model = llamaHeader();
const run = (text: string, header = model): Analysis =>
  analyze(text, { recipePath: '/r/x.quant', loadModel: () => header, exists: () => true });
const codes = (a: Analysis) => a.diagnostics.map((d) => d.code);
const tensorPlan = (a: Analysis, name: string) => a.plan!.tensors.find((t) => t.tensor.name === name)!;
const M = 'model "m"\n';

describe('analysis', () => {
  it('resolves the cascade property by property: defaults, then match rules in order', () => {
    const a = run(
      `${M}defaults { format int4; group 32; symmetric false }\nmatch "*.mlp.*" { format int8 }\nmatch "model.layers.0.**" { group 64 }`,
    );
    assert.deepEqual(
      codes(a).filter((c) => c !== 'tensor/group-mismatch'),
      [],
    );
    const up0 = tensorPlan(a, 'model.layers.0.mlp.up_proj.weight');
    assert.equal(up0.config!.format.name, 'int8');
    assert.equal(up0.config!.group, 64);
    assert.equal(up0.config!.symmetric, false);
    assert.deepEqual(up0.decidedBy, { format: 1, group: 2, symmetric: 0 });
    const q1 = tensorPlan(a, 'model.layers.1.self_attn.q_proj.weight');
    assert.equal(q1.config!.format.name, 'int4');
    assert.equal(q1.config!.group, 32);
  });

  it('keeps 1-D tensors and tensors no rule gives a format; keep can be overridden later', () => {
    const a = run(
      `${M}defaults { format int4; group 32 }\nmatch "model.embed_tokens" { keep }\nmatch "**" { group channel }\nmatch "model.layers.4.**" { keep }\nmatch "model.layers.4.mlp.up_proj" { format int8 }`,
    );
    assert.equal(tensorPlan(a, 'model.layers.0.input_layernorm.weight').action, 'keep');
    assert.equal(tensorPlan(a, 'model.layers.0.input_layernorm.weight').keepReason, 'no-format');
    assert.equal(tensorPlan(a, 'model.embed_tokens.weight').keepReason, 'keep-rule');
    assert.equal(tensorPlan(a, 'model.layers.4.mlp.gate_proj.weight').action, 'keep');
    assert.equal(tensorPlan(a, 'model.layers.4.mlp.up_proj.weight').config!.format.name, 'int8');
    assert.equal(tensorPlan(a, 'model.layers.4.mlp.up_proj.weight').config!.groupKind, 'channel');
  });

  it('changes 1-D tensors only through patterns that name them', () => {
    const a = run(
      `${M}match "model.layers.0.**" { format int8; group channel }\nmatch "*.post_attention_layernorm" { format int8; group channel }`,
    );
    assert.equal(tensorPlan(a, 'model.layers.0.input_layernorm.weight').action, 'keep');
    assert.equal(tensorPlan(a, 'model.layers.0.self_attn.q_proj.weight').config!.format.name, 'int8');
    assert.equal(tensorPlan(a, 'model.layers.3.post_attention_layernorm.weight').config!.format.name, 'int8');
    const re = run(`${M}match "re:model\\.norm" { format int8; group channel }`);
    assert.equal(tensorPlan(re, 'model.norm.weight').action, 'quantize');
  });

  it('counts every tensor in the totals, kept ones at their source bits', () => {
    const a = run(`${M}defaults { format int8; group channel }`);
    const t = a.plan!.totals;
    assert.equal(t.params, model.parameters);
    const expected = a.plan!.tensors.reduce(
      (s, p) => s + (p.action === 'keep' ? p.tensor.bytes : p.rows * p.cols + p.rows * 2),
      0,
    );
    assert.equal(t.bytesOut, expected);
    assert.equal(t.bpw, (8 * expected) / model.parameters);
  });

  it('reports unknown keywords, formats, methods and options with a did-you-mean fix', () => {
    const a = run(
      `${M}defualts { formt int4 }\nmatch "**" { format int9; method gtpq { dmap 0.1 } }\nmatch "**" { method gptq { dmap 0.1 } }\ncalibration generated`,
    );
    const byCode = new Map(a.diagnostics.map((d) => [d.code + ':' + d.message.slice(0, 40), d]));
    const kw = a.diagnostics.find((d) => d.code === 'recipe/unknown-keyword')!;
    assert.match(kw.message, /Did you mean 'defaults'/);
    assert.equal(kw.fix!.newText, 'defaults');
    assert.ok(a.diagnostics.some((d) => d.code === 'recipe/unknown-format' && /int9/.test(d.message)));
    assert.ok(a.diagnostics.some((d) => d.code === 'recipe/unknown-method' && d.fix?.newText === 'gptq'));
    assert.ok(a.diagnostics.some((d) => d.code === 'recipe/unknown-option' && d.fix?.newText === 'damp'));
    assert.ok(byCode.size > 0);
  });

  it('finds a property outside a rule and a top-level statement inside one', () => {
    const a = run(`${M}format int4\nmatch "**" { model "x" }`);
    assert.deepEqual(codes(a).slice(0, 2).sort(), ['recipe/property-outside-rule', 'recipe/statement-in-block']);
  });

  it('warns about a pattern that matches no tensor, naming it', () => {
    const a = run(`${M}match "model.layers.9.**" { format int4 }`);
    const d = a.diagnostics.find((x) => x.code === 'pattern/no-match')!;
    assert.equal(d.severity, 'warning');
    assert.match(d.message, /model\.layers\.9\.\*\*/);
  });

  it('hints at a rule entirely overridden by later ones', () => {
    const a = run(`${M}match "*.mlp.*" { format int3 }\nmatch "**" { format int4; group channel }`);
    const d = a.diagnostics.find((x) => x.code === 'rule/overridden')!;
    assert.equal(d.severity, 'hint');
    assert.equal(d.unnecessary, true);
    assert.equal(d.related!.length, 1);
  });

  it('reports a group that does not divide the input dimension, naming tensor and shape', () => {
    const a = run(`${M}defaults { format int4; group 32 }`);
    const d = a.diagnostics.find((x) => x.code === 'tensor/group-mismatch')!;
    assert.match(
      d.message,
      /group 32 does not divide the input dimension of model\.layers\.0\.mlp\.down_proj\.weight \[64, 172\] \(172 columns\) \(and 4 more tensors\)/,
    );
    assert.equal(a.diagnostics.filter((x) => x.code === 'tensor/group-mismatch').length, 1);
  });

  it('reports ggml blocks that do not divide a row', () => {
    const a = run(`${M}defaults { format q4_k }`);
    const d = a.diagnostics.find((x) => x.code === 'tensor/block-mismatch')!;
    assert.match(d.message, /q4_k needs the input dimension to be a multiple of 256/);
  });

  it('evaluate: perplexity takes an optional held-out token file first, checked for existence', () => {
    const a = run(`${M}evaluate { perplexity "held.json" samples 4 length 32; kl_divergence }`);
    assert.deepEqual(codes(a), []);
    const p = a.recipe.evaluate!.perplexity!;
    assert.deepEqual([p.tokens?.value, p.samples, p.length], ['held.json', 4, 32]);
    const missing = analyze(`${M}evaluate { perplexity "nope.json" }`, {
      recipePath: '/r/x.quant',
      loadModel: () => model,
      exists: (f) => !f.endsWith('nope.json'),
    });
    const d = missing.diagnostics.find((x) => x.code === 'calibration/not-found')!;
    assert.match(d.message, /Held-out token file not found: \/r\/nope\.json/);
    assert.equal(`${M}evaluate { perplexity "nope.json" }`.slice(d.start, d.end), '"nope.json"');
    const plain = run(`${M}evaluate { perplexity samples 2 }`).recipe.evaluate!.perplexity!;
    assert.equal(plain.tokens, undefined);
    assert.ok(
      codes(run(`${M}evaluate { perplexity samples "x.json" }`)).includes('recipe/bad-value'),
      'a path goes first',
    );
  });

  it('gptq: runs on the int, float, microscaled and ggml grids; the rest is refused on the rule that causes it', () => {
    const cal = `${M}calibration generated\n`;
    for (const f of [
      'int3',
      'nf4',
      'fp4',
      'fp8_e4m3',
      'fp8_e5m2',
      'mxfp4',
      'mxfp8',
      'nvfp4',
      'q8_0',
      'q4_0',
      'q4_1',
      'q5_0',
      'q5_1',
      'q4_k',
      'q5_k',
      'q6_k',
      'q2_k',
      'q3_k',
      'iq4_nl',
      'iq4_xs',
      'tq1_0',
      'tq2_0',
      'iq2_s ',
      'iq3_xxs ',
      'iq1_m ',
    ]) {
      // The i-quants (a trailing space above) quantize 8 columns jointly: without act_order.
      const method = f.endsWith(' ') ? 'method gptq' : 'method gptq { act_order }';
      const a = run(`${cal}defaults { format ${f.trim()}; ${method} }\noutput compressed_tensors "out"`);
      assert.ok(
        !a.diagnostics.some((d) => d.code === 'run/unsupported'),
        `${f}: ${a.diagnostics.map((d) => d.message).join('; ')}`,
      );
    }
    const cases: [string, string, RegExp][] = [
      ['format ternary', 'format ternary', /method gptq runs on the int, float .* formats, not ternary/],
      ['format iq2_xs; method gptq { act_order }', 'method gptq { act_order }', /act_order does not combine/],
      ['format int4; group tensor', 'group tensor', /needs groups along the input/],
      ['format int4; outliers 8', 'outliers 8', /does not combine with outliers/],
      ['format int4; lowrank 4', 'lowrank 4', /does not combine with lowrank/],
      ['format int4; rotate hadamard', 'rotate hadamard', /does not combine with rotate/],
    ];
    for (const [settings, stmt, re] of cases) {
      const text = `${cal}defaults { method gptq }\nmatch "*.q_proj" { ${settings} }`;
      const a = run(text);
      const d = a.diagnostics.find((x) => x.code === 'run/unsupported' && re.test(x.message));
      assert.ok(d, `${settings}: ${a.diagnostics.map((x) => x.message).join('; ')}`);
      assert.equal(text.slice(d!.start, d!.end), stmt, 'on the setting that causes it');
      assert.match(d!.message, /use method rtn/);
    }
  });

  it('requires calibration for iq2_xxs, iq2_xs, iq1_s and iq1_m (llama.cpp refuses them without an imatrix), on the format or candidate', () => {
    for (const f of ['iq2_xxs', 'iq2_xs', 'iq1_s', 'iq1_m']) {
      const text = `${M}defaults { format ${f} }`;
      const d = run(text).diagnostics.filter((x) => x.code === 'format/needs-calibration');
      assert.equal(d.length, 1, f);
      assert.equal(d[0].severity, 'error');
      assert.equal(text.slice(d[0].start, d[0].end), `format ${f}`);
      assert.match(
        d[0].message,
        new RegExp(`${f} needs calibration data, as in llama\\.cpp.*add a 'calibration' statement`),
      );
      assert.ok(
        !codes(run(`${M}calibration generated\n${text.slice(M.length)}`)).includes('format/needs-calibration'),
        f,
      );
    }
    for (const f of ['iq2_s', 'iq3_xxs', 'iq3_s', 'tq1_0', 'tq2_0', 'q2_k'])
      assert.ok(!codes(run(`${M}defaults { format ${f} }`)).includes('format/needs-calibration'), f);
    const alloc = `${M}budget 3 bpw\nallocate { formats q2_k iq1_m q4_k }`;
    const a = run(alloc).diagnostics.filter((x) => x.code === 'format/needs-calibration');
    assert.equal(a.length, 1);
    assert.equal(alloc.slice(a[0].start, a[0].end), 'iq1_m');
  });

  it('requires calibration for gptq and awq', () => {
    const without = run(`${M}defaults { format int4; group 32; method gptq }\nmatch "*.down_proj" { group channel }`);
    assert.ok(codes(without).includes('method/needs-calibration'));
    const withCal = run(
      `${M}calibration generated\ndefaults { format int4; group 32; method gptq }\nmatch "*.down_proj" { group channel }`,
    );
    // The embedding has no input activations: gptq falls back to rtn there, said as a hint.
    assert.deepEqual(codes(withCal), ['method/fallback-rtn'], 'run executes gptq with generated calibration');
    const awq = run(
      `${M}calibration generated\ndefaults { format int4; group 32; method awq }\nmatch "*.down_proj" { group channel }`,
    );
    assert.deepEqual(
      codes(awq),
      ['method/fallback-rtn'],
      'run executes awq with generated calibration (the embedding as rtn, said as a hint)',
    );
    const awqNoCal = run(`${M}defaults { format int4; group 32; method awq }\nmatch "*.down_proj" { group channel }`);
    assert.ok(codes(awqNoCal).includes('method/needs-calibration'));
    const awqImatrix = run(
      `${M}calibration imatrix "x.dat"\ndefaults { format int4; group 32; method awq }\nmatch "*.down_proj" { group channel }`,
    );
    assert.ok(codes(awqImatrix).includes('calibration/needs-hessian'), 'an imatrix is not enough for awq');
    const awqCodes = run(
      `${M}calibration generated\ndefaults { format int4; group 32; method awq }\nmatch "*.down_proj" { group channel }\nmatch "model.embed_tokens" { keep }\noutput compressed_tensors "o"`,
    );
    assert.deepEqual(
      awqCodes.diagnostics.filter((d) => d.severity === 'error' || d.severity === 'warning').map((d) => d.code),
      [],
    );
    assert.ok(
      codes(awqCodes).includes('method/awq-not-folded'),
      'o_proj is not scaled with an output of codes: said as info',
    );
  });

  it('runs hqq on asymmetric int grids and says why not elsewhere, on the method line', () => {
    const ok = run(
      `${M}defaults { format int4; group 32; symmetric false; method hqq { iters 10; lp_norm 0.5; beta 5; kappa 1.05 } }\nmatch "*.down_proj" { group channel }`,
    );
    assert.deepEqual(codes(ok), [], 'data-free, executed by run');
    assert.deepEqual(tensorPlan(ok, 'model.layers.0.mlp.up_proj.weight').method.options, {
      iters: 10,
      lp_norm: 0.5,
      beta: 5,
      kappa: 1.05,
    });
    const sym = run(`${M}defaults { format int4; group 32 }\nmatch "*.mlp.*" {\n  method hqq\n}`);
    const d = sym.diagnostics.find((x) => x.code === 'method/unsupported-grid')!;
    assert.equal(d.severity, 'error');
    assert.match(
      d.message,
      /symmetric grid does not have: add symmetric false \(match "\*\.mlp\.\*": \d+ tensors, e\.g\. model\.layers\.0\.mlp\./,
    );
    assert.equal(
      M.length + 'defaults { format int4; group 32 }\nmatch "*.mlp.*" {\n  '.length,
      d.start,
      'on the method statement',
    );
    const nf4 = run(`${M}defaults { format nf4; group 32; method hqq }`);
    assert.ok(nf4.diagnostics.some((x) => x.code === 'method/unsupported-grid' && /not nf4/.test(x.message)));
    const zint = run(
      `${M}defaults { format int4; group 32; symmetric false; zero int; method hqq }\nmatch "*.down_proj" { group channel }`,
    );
    assert.deepEqual(
      zint.diagnostics.map((x) => [x.code, x.severity]),
      [['method/hqq-zero-int', 'info']],
    );
    assert.ok(
      codes(run(`${M}defaults { format int4; group 32; symmetric false; method hqq { lp_norm 2 } }`)).includes(
        'recipe/bad-value',
      ),
    );
  });

  it('reports a format the declared output cannot store', () => {
    const a = run(`${M}defaults { format nf4; group 32 }\nmatch "*.down_proj" { keep }\noutput gguf "o.gguf"`);
    const d = a.diagnostics.find((x) => x.code === 'output/unsupported-format')!;
    assert.match(
      d.message,
      /GGUF output stores ggml block types only .*; nf4 is not one .*: model\.embed_tokens\.weight \[512, 64\] \(and 30 more tensors\), set by defaults \(output gguf "o\.gguf"\)/,
    );
    // On the rule that set the format.
    const b = run(
      `${M}defaults { format q8_0 }\nmatch "*.down_proj" { keep }\nmatch "*.mlp.up_proj" { format int4; group 32 }\noutput gguf "o.gguf"`,
    );
    const e = b.diagnostics.filter((x) => x.code === 'output/unsupported-format');
    assert.equal(e.length, 1);
    assert.match(
      e[0].message,
      /int4 is not one .*: model\.layers\.0\.mlp\.up_proj\.weight \[172, 64\] \(and 4 more tensors\), set by match "\*\.mlp\.up_proj"/,
    );
    // A model output gguf cannot describe: on the output line.
    const ok = `${M}defaults { format q8_0 }\nmatch "*.down_proj" { keep }\noutput gguf "o.gguf"`;
    const config = {
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      vocab_size: 512,
      max_position_embeddings: 512,
    };
    const described = run(ok, { ...model, config }).diagnostics.filter((x) => x.code.startsWith('output/'));
    assert.ok(!described.some((x) => x.severity === 'error'));
    // What the file cannot determine is named on the output line, by GGUF key.
    const warned = described.filter((x) => x.code === 'output/gguf-metadata' && x.severity === 'warning');
    assert.match(
      warned.map((x) => x.message).join('\n'),
      /llama\.rope\.freq_base: config\.json has no rope_theta; written as 10000/,
    );
    assert.match(warned.map((x) => x.message).join('\n'), /layer_norm_rms_epsilon: config\.json has no rms_norm_eps/);
    assert.match(warned.map((x) => x.message).join('\n'), /written without a tokenizer/);
    for (const w of warned) assert.equal(ok.slice(w.start, w.end), 'output gguf "o.gguf"');
    const noConfig = run(ok, { ...model, config: {} }).diagnostics.find((x) => x.code === 'output/unsupported-model')!;
    assert.match(
      noConfig.message,
      /output gguf cannot be written for this model: output gguf needs "hidden_size" in config\.json/,
    );
    assert.equal(ok.slice(noConfig.start, noConfig.end), 'output gguf "o.gguf"');
    const gpt2 = run(ok, { ...model, config: { ...config, model_type: 'gpt2' } }).diagnostics.find(
      (x) => x.code === 'output/unsupported-model',
    )!;
    assert.match(gpt2.message, /Llama-family models .*"gpt2"/);
  });

  it('reports an exceeded budget by how much and the costliest rules', () => {
    const a = run(`${M}budget 4 bpw\ndefaults { format int8; group channel }`);
    const d = a.diagnostics.find((x) => x.code === 'budget/exceeded')!;
    assert.match(d.message, /^Over budget by .*the budget allows .* \(4 bpw\)\. Largest rules: defaults/);
    assert.equal(a.plan!.budget!.fits, false);
    const ok = run(`${M}budget 1 MiB\ndefaults { format int8; group channel }`);
    assert.equal(ok.plan!.budget!.fits, true);
    assert.ok(!codes(ok).includes('budget/exceeded'));
  });

  it('puts a model read error on the model line', () => {
    const a = analyze('model "missing/dir"\ndefaults { format int4 }', {
      recipePath: '/r/x.quant',
      loadModel: (p) => {
        throw new ModelReadError('model/not-found', `Model not found: ${p}`, p);
      },
    });
    const d = a.diagnostics.find((x) => x.code === 'model/not-found')!;
    assert.equal(d.start, 'model '.length);
    assert.match(d.message, /\/r\/missing\/dir/);
    assert.equal(a.plan, undefined);
  });

  it('requires a model statement, once', () => {
    assert.ok(codes(run('defaults { format int4 }')).includes('recipe/missing-model'));
    assert.ok(codes(run(`${M}model "n"`)).includes('recipe/duplicate-statement'));
  });

  it('validates values: ranges, units and types', () => {
    const a = run(
      `${M}threads 0\nbudget 4\noutliers_bad 1\nmatch "**" { outliers 90%; group 0; symmetric maybe; lowrank -1; method hqq { iters 2.5 } }`,
    );
    const c = codes(a);
    for (const code of ['recipe/bad-value', 'recipe/missing-unit', 'recipe/unknown-keyword', 'recipe/unknown-value'])
      assert.ok(c.includes(code), code);
    assert.ok(c.filter((x) => x === 'recipe/bad-value').length >= 5);
  });

  it('warns when a rule sets a group that its own ggml format fixes', () => {
    const a = run(`${M}match "*.self_attn.*" { format q8_0; group 64; symmetric false }`);
    assert.ok(codes(a).includes('format/fixed-group'));
    assert.ok(codes(a).includes('format/symmetric-only'));
  });
});
