// allocate in the analysis: what is free and pinned, candidates a tensor cannot hold,
// budgets that cannot be met, the measurement table (what is missing, what invalidates
// it), and the plan once every figure is there (built here from a formula, so the
// expected choice is known).
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze, type Analysis } from '../../core/src/analyze';
import { MEASUREMENTS_VERSION, saveMeasurements, type MeasurementTable } from '../../core/src/allocate/measurements';
import { llamaHeader } from '../helpers/syntheticModel';
import type { ModelHeader } from '../../core/src/models/types';
import type { MarkupContent } from 'vscode-languageserver';
import { makeDocument } from '../../server/src/features/document';
import { hover } from '../../server/src/features/hover';
import { codeActions } from '../../server/src/features/codeActions';
import { allocationView } from '../../client/src/panels/allocationView';
import { recipeAtBudget } from '../../core/src/allocate/allocate';
import { loadMeasurements } from '../../core/src/allocate/measurements';

const BITS: Record<string, number> = {
  int2: 2,
  int3: 3,
  int4: 4,
  int6: 6,
  int8: 8,
  q4_0: 4.5,
  q8_0: 8.5,
  q4_k: 4.5,
  q6_k: 6.5625,
};

describe('allocate: setup, measurements and plan', () => {
  let tmp: string;
  let header: ModelHeader;
  const recipePath = () => path.join(tmp, 'r.quant');
  const run = (text: string, h = header): Analysis =>
    analyze(text, { recipePath: recipePath(), loadModel: () => h, exists: () => true });
  const codes = (a: Analysis) => a.diagnostics.map((d) => d.code);
  const base = (extra = '', budget = 'budget 5.5 bpw', formats = 'int2 int3 int4 int6 int8') =>
    [
      'model "m"',
      'calibration generated',
      budget,
      'defaults { format int4; group 32 }',
      'match "*.mlp.down_proj" { group channel }',
      'match "*.layers.0.self_attn.v_proj" { format int8 }',
      'match "model.embed_tokens" { keep }',
      extra,
      `allocate {\n  formats ${formats}\n  metric weight\n}`,
    ].join('\n');

  /** A full table: error = sensitivity(tensor) * 4^-bits (sensitivity grows with the layer). */
  function writeTable(a: Analysis, sensitivity: (name: string) => number) {
    const st = a.allocation!;
    const table: MeasurementTable = { version: MEASUREMENTS_VERSION, context: st.context!, entries: {} };
    for (const m of st.missing) {
      const bytes = st.setup.free
        .find((f) => f.name === m.tensor)!
        .candidates.find((c) => c.format === m.format)!.bytes;
      table.entries[m.key] = {
        tensor: m.tensor,
        format: m.format,
        method: 'rtn',
        bytes,
        relError: 0,
        squaredError: sensitivity(m.tensor) * Math.pow(4, -BITS[m.format]),
      };
    }
    saveMeasurements(st.file!, table);
  }

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-alloc-'));
    // A real file behind the header: the measurement context fingerprints it.
    const file = path.join(tmp, 'model.safetensors');
    fs.writeFileSync(file, 'weights');
    // config.json beside it (not written: the fingerprint reads only the weights' stat) so
    // the forward pass could run it.
    header = {
      ...llamaHeader({ dtype: 'F16' }),
      format: 'safetensors',
      path: file,
      files: [file, path.join(tmp, 'config.json')],
    };
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('pins match-rule formats and keeps, frees the rest, and says measuring is needed', () => {
    const a = run(base());
    assert.deepEqual(
      codes(a).filter((c) => c.startsWith('allocate/')),
      ['allocate/needs-measuring'],
    );
    const st = a.allocation!;
    assert.deepEqual(st.setup.pinned.map((p) => [p.name, p.format]).sort(), [
      ['model.embed_tokens.weight', 'keep'],
      ['model.layers.0.self_attn.v_proj.weight', 'int8'],
    ]);
    assert.equal(st.setup.free.length, 5 * 7 - 1);
    assert.ok(!st.setup.free.some((f) => f.name.includes('layernorm')), '1-D tensors are never free');
    assert.equal(st.missing.length, st.setup.free.length * 5, 'every (tensor, candidate) pair');
    // Exact bytes: int4 g32 symmetric on 64x64 is 64*64/2 + 64*2 scales * 2 bytes.
    const q = st.setup.free.find((f) => f.name === 'model.layers.1.self_attn.q_proj.weight')!;
    assert.equal(q.candidates.find((c) => c.format === 'int4')!.bytes, (64 * 64) / 2 + 64 * 2 * 2);
    // Without figures the plan is the provisional one (defaults' int4), not an allocation.
    assert.equal(a.plan!.tensors.find((t) => t.tensor.name === q.name)!.config!.format.name, 'int4');
    assert.ok(!a.plan!.tensors.some((t) => t.allocated));
  });

  it('excludes candidates a tensor cannot hold, with the reason, and errs when none fits', () => {
    const a = run(base('', 'budget 6 bpw', 'q4_0 q8_0 q4_k'));
    const down = a.allocation!.setup.free.find((f) => f.name === 'model.layers.2.mlp.down_proj.weight')!;
    assert.deepEqual(down.candidates, []);
    assert.match(down.excluded.find((e) => e.format === 'q4_k')!.reason, /256 weights; rows of 172 do not divide/);
    const q = a.allocation!.setup.free.find((f) => f.name === 'model.layers.2.self_attn.q_proj.weight')!;
    assert.deepEqual(
      q.candidates.map((c) => c.format),
      ['q4_0', 'q8_0'],
    );
    const d = a.diagnostics.find((x) => x.code === 'allocate/no-candidate')!;
    assert.equal(d.severity, 'error');
    assert.match(
      d.message,
      /No candidate can hold model\.layers\.0\.mlp\.down_proj\.weight \[64, 172\] \(and 4 more tensors\)/,
    );
  });

  it('the i-quant and ternary types are candidates with their exact bytes, excluded where rows are not whole blocks', () => {
    // dim 256: every matrix but down_proj (rows of 172) holds 256-weight blocks (and q4_0's 32).
    const h = { ...llamaHeader({ dtype: 'F16', dim: 256 }), path: header.path, files: header.files };
    const a = run(base('', 'budget 3 bpw', 'iq1_m iq2_xxs iq2_s iq3_xxs tq1_0 q4_0'), h);
    const q = a.allocation!.setup.free.find((f) => f.name === 'model.layers.2.self_attn.q_proj.weight')!;
    const bytes: Record<string, number> = { iq1_m: 56, iq2_xxs: 66, iq2_s: 82, iq3_xxs: 98, tq1_0: 54, q4_0: 18 * 8 };
    assert.deepEqual(
      q.candidates.map((c) => [c.format, c.bytes]),
      Object.entries(bytes).map(([f, b]) => [f, 256 * b]),
    );
    const down = a.allocation!.setup.free.find((f) => f.name === 'model.layers.2.mlp.down_proj.weight')!;
    assert.deepEqual(down.candidates, []);
    for (const f of ['iq1_m', 'iq2_xxs', 'iq2_s', 'iq3_xxs', 'tq1_0'])
      assert.match(
        down.excluded.find((e) => e.format === f)!.reason,
        new RegExp(`^${f} blocks hold 256 weights; rows of 172 do not divide`),
      );
    // gptq on an i-quant with act_order: excluded as a candidate, with the reason.
    const g = run(base('match "*.q_proj" { method gptq { act_order } }', 'budget 3 bpw', 'iq2_s q4_0'), h);
    const gq = g.allocation!.setup.free.find((f) => f.name === 'model.layers.2.self_attn.q_proj.weight')!;
    assert.deepEqual(
      gq.candidates.map((c) => c.format),
      ['q4_0'],
    );
    assert.match(
      gq.excluded[0].reason,
      /method gptq quantizes iq2_s's groups of 8 weights .* act_order does not combine/,
    );
  });

  it('an infeasible budget is an error on the budget naming the smallest achievable size; no budget is an error', () => {
    const a = run(base('', 'budget 3.5 bpw'));
    const d = a.diagnostics.find((x) => x.code === 'allocate/infeasible')!;
    assert.ok(d, codes(a).join());
    assert.equal(a.file.statements[2].keyword.name, 'budget');
    assert.equal(d.start, a.file.statements[2].start);
    const min = a.allocation!.setup.minBytes;
    const bpw = (8 * min) / a.plan!.totals.params;
    assert.match(d.message, new RegExp(`smallest candidates the model is .* \\(${bpw.toFixed(3)} bpw\\)`));
    assert.ok(!codes(a).includes('budget/exceeded'), 'the provisional plan is not reported over budget');
    const none = run(base('', ''));
    assert.ok(codes(none).includes('allocate/no-budget'));
  });

  it('with every figure measured, the plan takes the allocation: within budget, pins honoured, sensitive layers get more bits', () => {
    const sens = (name: string) => Math.pow(10, Number(/layers\.(\d+)/.exec(name)?.[1] ?? 0));
    const first = run(base());
    writeTable(first, sens);
    const a = run(base());
    assert.deepEqual(
      codes(a).filter((c) => c.startsWith('allocate/')),
      [],
    );
    const r = a.allocation!.result!;
    assert.ok(r.solution.feasible && r.solution.bytes <= a.allocation!.setup.budgetBytes!);
    assert.equal(a.plan!.totals.bytesOut, r.solution.bytes, 'the plan is the allocation, byte for byte');
    assert.ok(a.plan!.budget!.fits);
    const fmt = (n: string) => a.plan!.tensors.find((t) => t.tensor.name === n)!;
    assert.equal(fmt('model.layers.0.self_attn.v_proj.weight').config!.format.name, 'int8', 'pinned');
    assert.ok(!fmt('model.layers.0.self_attn.v_proj.weight').allocated);
    assert.equal(fmt('model.embed_tokens.weight').action, 'keep', 'pinned keep');
    assert.ok(fmt('model.layers.4.self_attn.q_proj.weight').allocated);
    const bits = (n: string) => BITS[fmt(n).config!.format.name];
    assert.ok(
      bits('model.layers.4.self_attn.q_proj.weight') > bits('model.layers.0.self_attn.q_proj.weight'),
      'layer 4 (10^4 more sensitive) gets more bits',
    );
    assert.equal(r.counts.int8 >= 1, true);
  });

  it('the table is invalidated by a changed model file, and a changed rule re-measures only its tensors', () => {
    const first = run(base());
    writeTable(first, () => 1);
    assert.equal(run(base()).allocation!.missing.length, 0);
    // A rule that changes the stored codes of layer 1's attention: only those are missing.
    const edited = run(base('match "*.layers.1.self_attn.*" { symmetric false }'));
    const missing = new Set(edited.allocation!.missing.map((m) => m.tensor));
    assert.deepEqual([...missing].sort(), [
      'model.layers.1.self_attn.k_proj.weight',
      'model.layers.1.self_attn.o_proj.weight',
      'model.layers.1.self_attn.q_proj.weight',
      'model.layers.1.self_attn.v_proj.weight',
    ]);
    // Touching the model file changes the fingerprint: everything is missing again.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(header.files[0], later, later);
    assert.equal(run(base()).allocation!.missing.length, first.allocation!.missing.length);
  });

  it('metric output asks for one KL divergence per tensor (its middle candidate); metric kld for every pair', () => {
    const out = run(base().replace('metric weight', 'metric output'));
    const kl = out.allocation!.missing.filter((m) => m.kind === 'kld');
    assert.equal(kl.length, out.allocation!.setup.free.length);
    assert.ok(
      kl.every((m) => m.format === 'int4'),
      'int2 int3 [int4] int6 int8',
    );
    const kld = run(base().replace('metric weight', 'metric kld'));
    assert.equal(kld.allocation!.missing.filter((m) => m.kind === 'kld').length, kld.allocation!.setup.free.length * 5);
    const noCal = run(base().replace('metric weight', 'metric output').replace('calibration generated', ''));
    assert.ok(codes(noCal).includes('allocate/needs-calibration'));
  });

  it('granularity layer: one choice per block, shared by its tensors', () => {
    const text = base().replace('metric weight', 'metric weight\n  granularity layer');
    const first = run(text);
    assert.equal(first.allocation!.setup.groups.length, 5);
    writeTable(first, (n) => Math.pow(10, Number(/layers\.(\d+)/.exec(n)?.[1] ?? 0)));
    const a = run(text);
    for (let l = 0; l < 5; l++) {
      const fmts = new Set(
        a
          .plan!.tensors.filter((t) => t.allocated && t.tensor.name.startsWith(`model.layers.${l}.`))
          .map((t) => t.config!.format.name),
      );
      assert.equal(fmts.size, 1, `layer ${l}: ${[...fmts]}`);
    }
  });

  it('hover on allocate and budget shows the mix (or what to measure); a code action writes it as match rules', () => {
    const text = base();
    const hoverAt = (a: Analysis, word: string) => {
      const doc = makeDocument('file:///r.quant', 1, text, a, recipePath());
      const off = text.indexOf(word) + 1;
      const h = hover(doc, doc.lines.position(off));
      return { doc, md: h ? (h.contents as MarkupContent).value : '' };
    };
    const before = run(text);
    assert.match(
      hoverAt(before, 'allocate {').md,
      /Not measured yet\*\* \(170 errors, 0 KL divergences missing\): run `bitsmith allocate`/,
    );
    assert.match(hoverAt(before, 'budget').md, /has not measured its candidates yet/);
    const { doc: d0 } = hoverAt(before, 'allocate {');
    assert.equal(
      codeActions(d0, {
        start: d0.lines.position(text.indexOf('allocate {')),
        end: d0.lines.position(text.indexOf('allocate {')),
      }).length,
      0,
      'no action before measuring',
    );

    writeTable(before, (n) => Math.pow(10, Number(/layers\.(\d+)/.exec(n)?.[1] ?? 0)));
    const a = run(text);
    const { doc, md } = hoverAt(a, 'allocate {');
    const mix = Object.entries(a.allocation!.result!.counts)
      .sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))
      .map(([f, n]) => `${n} ${f}`)
      .join(', ');
    assert.ok(md.includes(`**Chosen mix:** ${mix}`), md);
    assert.match(md, /optimal/);
    assert.ok(hoverAt(a, 'budget').md.includes(`Allocated by \`allocate\` (weight metric): ${mix}`));
    const pos = doc.lines.position(text.indexOf('allocate {'));
    const actions = codeActions(doc, { start: pos, end: pos });
    const act = actions.find((x) => /Write the allocation as match rules/.test(x.title))!;
    assert.ok(act, actions.map((x) => x.title).join());
    const edit = act.edit!.changes!['file:///r.quant'][0];
    // Applying the edit pins the same formats with no allocate left.
    const start = doc.lines.offset(edit.range.start),
      end = doc.lines.offset(edit.range.end);
    const pinnedText = text.slice(0, start) + edit.newText + text.slice(end);
    assert.ok(!/allocate\s*\{/.test(pinnedText));
    const pinned = run(pinnedText);
    assert.deepEqual(
      pinned.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    for (const t of a.plan!.tensors) {
      const p = pinned.plan!.tensors.find((x) => x.tensor.name === t.tensor.name)!;
      assert.equal(p.config?.format.name, t.config?.format.name, t.tensor.name);
    }
    assert.equal(pinned.plan!.totals.bytesOut, a.plan!.totals.bytesOut);
  });

  it('the Allocation panel view: measure first, then mix, sensitivity per candidate and a frontier through the chosen size', () => {
    const text = base();
    const v0 = allocationView(recipePath(), 'r.quant', run(text));
    assert.equal(v0.status, 'measure');
    assert.deepEqual(v0.missing, { errors: 170, klds: 0 });
    writeTable(run(text), (n) => Math.pow(10, Number(/layers\.(\d+)/.exec(n)?.[1] ?? 0)));
    const a = run(text);
    const v = allocationView(recipePath(), 'r.quant', a);
    assert.equal(v.status, 'ok');
    assert.deepEqual(v.chosen!.counts, a.allocation!.result!.counts);
    assert.equal(v.tensors.length, a.allocation!.setup.free.length + a.allocation!.setup.pinned.length);
    const q = v.tensors.find((t) => t.name === 'model.layers.3.self_attn.q_proj.weight')!;
    assert.deepEqual(
      q.candidates.map((c) => c.format),
      ['int2', 'int3', 'int4', 'int6', 'int8'],
    );
    // The chosen candidate is one of them, with the error the allocation predicts for it.
    assert.equal(q.candidates.find((c) => c.format === q.format)!.error, q.error);
    const pin = v.tensors.find((t) => t.name === 'model.layers.0.self_attn.v_proj.weight')!;
    assert.ok(pin.pinned && pin.candidates.length === 0);
    assert.equal(v.frontier.length, 16);
    for (let i = 1; i < v.frontier.length; i++)
      assert.ok(v.frontier[i].error <= v.frontier[i - 1].error && v.frontier[i].bytes >= v.frontier[i - 1].bytes);
    assert.equal(v.frontier[0].bytes, v.minBytes);
    assert.ok(
      v.frontier[0].error >= v.chosen!.error && v.frontier[15].error <= v.chosen!.error,
      'the chosen point lies within the frontier',
    );
    assert.equal(v.measured, undefined, 'no run report');
  });

  it('a frontier point as a recipe: allocate written out as rules, the budget set, the same size as the point', () => {
    const text = base();
    writeTable(run(text), (n) => Math.pow(10, Number(/layers\.(\d+)/.exec(n)?.[1] ?? 0)));
    const a = run(text);
    const v = allocationView(recipePath(), 'r.quant', a);
    const point = v.frontier[5];
    const st = a.allocation!;
    const out = recipeAtBudget(
      text,
      a.recipe,
      a.plan!,
      st.setup,
      loadMeasurements(st.file!, st.context!)!,
      'weight',
      point.budget,
    );
    assert.ok(!/allocate\s*\{/.test(out));
    assert.ok(out.includes(`budget ${point.budget} B`));
    const b = run(out);
    assert.deepEqual(
      b.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.equal(b.plan!.totals.bytesOut, point.bytes);
    assert.ok(b.plan!.budget!.fits);
  });
});
