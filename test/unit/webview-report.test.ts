// The report panels' pure logic: per-layer aggregation, format labels, deciding rules, the
// CSV export, the compare join and totals, report validation and the message guard.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import type { RunReport, TensorResult } from '../../core/src/runReport';
import { readModelHeader } from '../../core/src/models/load';
import { modelView } from '../../client/src/panels/modelView';
import {
  compareToCsv,
  compareTotals,
  evaluationSources,
  joinReports,
  runLetter,
  runRows,
  runsToCsv,
} from '../../webview/src/shared/compare';
import { isWebviewMessage, reportProblem } from '../../webview/src/shared/messages';
import {
  aggregateByLayer,
  cellError,
  cellKey,
  chooseErrorMetric,
  CSV_HEADER,
  decidingRule,
  errorStats,
  formatLabel,
  formatsOf,
  hasOutputError,
  reportToCsv,
  sourceLabel,
  summarizeCalibration,
  summarizePhases,
  summarizeEvaluation,
} from '../../webview/src/shared/reportModel';

function tensor(name: string, shape: number[], fields: Partial<TensorResult> = {}): TensorResult {
  const elements = shape.reduce((a, b) => a * b, 1);
  const quantized = fields.action !== 'keep';
  const bpw = fields.bpw ?? (quantized ? 4.5 : 32);
  return {
    index: 0,
    name,
    shape,
    dtype: 'F32',
    action: 'quantize',
    format: 'int4',
    method: 'rtn',
    config: { format: 'int4', method: 'rtn', group: 32, groupKind: 'size', symmetric: true, scale: 'f16' },
    bpw,
    planBpw: bpw,
    bytesIn: elements * 4,
    bytesOut: (elements * bpw) / 8,
    relError: quantized ? 0.1 : undefined,
    seconds: 0.001,
    ...fields,
  };
}

function report(tensors: TensorResult[], extra: Partial<RunReport> = {}): RunReport {
  const bytesIn = tensors.reduce((a, t) => a + t.bytesIn, 0);
  const bytesOut = tensors.reduce((a, t) => a + t.bytesOut, 0);
  const params = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  return {
    type: 'report',
    reportVersion: 1,
    bitsmith: '0.1.0',
    recipe: { path: '/r/x.quant', name: 'x' },
    model: {
      path: '/m',
      format: 'hf-folder',
      architecture: 'llama',
      tensors: tensors.length,
      parameters: params,
      bytes: bytesIn,
      dtype: 'F32',
    },
    output: null,
    threads: 2,
    started: '2026-01-01T00:00:00.000Z',
    finished: '2026-01-01T00:00:01.000Z',
    tensors,
    totals: {
      tensors: tensors.length,
      quantized: tensors.filter((t) => t.action !== 'keep').length,
      params,
      bytesIn,
      bytesOut,
      bpw: (8 * bytesOut) / params,
      seconds: 1,
      peakRssBytes: 1 << 20,
      planBpw: (8 * bytesOut) / params,
    },
    ...extra,
  };
}

const KEPT = { action: 'keep' as const, format: 'keep', method: undefined, config: undefined, relError: undefined };

describe('webview report logic', () => {
  describe('aggregateByLayer', () => {
    const tensors = [
      tensor('model.embed_tokens.weight', [512, 64], { relError: 0.08 }),
      tensor('model.layers.0.self_attn.q_proj.weight', [64, 64], { relError: 0.12 }),
      tensor('model.layers.0.self_attn.q_proj.bias', [64], KEPT),
      tensor('model.layers.0.mlp.down_proj.weight', [64, 172], { relError: 0.2, bpw: 8, bytesOut: 11008 }),
      tensor('model.layers.0.input_layernorm.weight', [64], KEPT),
      tensor('model.layers.1.block_sparse_moe.experts.0.w1.weight', [100, 10], { relError: 0.3 }),
      tensor('model.layers.1.block_sparse_moe.experts.1.w1.weight', [300, 10], { relError: 0.1 }),
      tensor('model.norm.weight', [64], KEPT),
    ];
    const agg = aggregateByLayer(tensors);

    it('groups by layer and projection, keeping roles in canonical order', () => {
      assert.deepEqual(agg.layers, [0, 1]);
      assert.deepEqual(agg.roles, ['q', 'gate', 'down']);
      assert.equal(agg.cells.get(cellKey(0, 'q'))?.relError, 0.12);
      assert.equal(agg.cells.get(cellKey(0, 'down'))?.bpw, 8);
      assert.equal(agg.cells.get(cellKey(1, 'q')), undefined);
    });

    it('combines split experts: bytes add up, errors as an element-weighted quadratic mean', () => {
      const cell = agg.cells.get(cellKey(1, 'gate'))!;
      assert.deepEqual(cell.tensors.length, 2);
      assert.equal(cell.params, 4000);
      assert.ok(Math.abs(cell.relError! - Math.sqrt((1000 * 0.09 + 3000 * 0.01) / 4000)) < 1e-12);
    });

    it('lists tensors outside the layers and the non-projection tensors inside them', () => {
      assert.deepEqual(
        agg.outside.map((o) => [o.tensor.name, o.role]),
        [
          ['model.embed_tokens.weight', 'embed'],
          ['model.norm.weight', 'norm'],
        ],
      );
      assert.deepEqual(
        agg.inLayerOther.map((t) => t.name),
        ['model.layers.0.self_attn.q_proj.bias', 'model.layers.0.input_layernorm.weight'],
      );
    });

    it('counts every tensor of a layer in the layer totals', () => {
      const layer0 = agg.totals.find((t) => t.layer === 0)!;
      assert.equal(layer0.params, 4096 + 64 + 11008 + 64);
      const bytes = tensors.slice(1, 5).reduce((a, t) => a + t.bytesOut, 0);
      assert.equal(layer0.bytesOut, bytes);
      assert.ok(Math.abs(layer0.bpw - (8 * bytes) / layer0.params) < 1e-12);
    });
  });

  it('labels formats with group and symmetry, and kept tensors with their dtype', () => {
    assert.equal(formatLabel(tensor('a', [4, 4])), 'int4 · g32 · sym');
    assert.equal(
      formatLabel(
        tensor('a', [4, 4], { format: 'int3', config: { groupKind: 'channel', group: 0, symmetric: false } }),
      ),
      'int3 · channel · asym',
    );
    assert.equal(formatLabel(tensor('a', [4], KEPT)), 'kept (F32)');
    assert.deepEqual(
      formatsOf([tensor('a', [1]), tensor('b', [1], KEPT), tensor('c', [1], { format: 'int8' }), tensor('d', [1])]),
      ['int4', 'keep', 'int8'],
    );
  });

  it('finds the rule that decided the format, else the first deciding rule', () => {
    const rules = [
      { index: 0, label: 'defaults', line: 6 },
      { index: 1, label: 'match "*.mlp.*"', line: 12 },
    ];
    const r = report([], { rules });
    assert.equal(decidingRule(r, tensor('a', [1], { decidedBy: { group: 0, format: 1 } }))?.line, 12);
    assert.equal(
      decidingRule(r, tensor('a', [1], { decidedBy: { format: 0, group: 1 } }))?.line,
      12,
      'the last rule that set anything',
    );
    assert.equal(decidingRule(r, tensor('a', [1], { decidedBy: { group: 0 } }))?.label, 'defaults');
    assert.equal(decidingRule(r, tensor('a', [1])), undefined);
    assert.equal(
      decidingRule(report([]), tensor('a', [1], { decidedBy: { format: 0 } })),
      undefined,
      'no rules recorded',
    );
  });

  it('exports CSV in the order asked, with the deciding rule and 1-based line', () => {
    const rules = [{ index: 0, label: 'match "a,b"', line: 3 }];
    const r = report([tensor('t.one', [2, 3], { decidedBy: { format: 0 } }), tensor('t.two', [4], KEPT)], { rules });
    const lines = reportToCsv(r, ['t.two', 'missing', 't.one']).trimEnd().split('\r\n');
    assert.equal(lines.length, 3);
    assert.equal(
      lines[0],
      'name,shape,dtype,action,format,group,symmetric,method,bpw,plan_bpw,bytes_in,bytes_out,rel_error,sqnr_db,' +
        'output_error,output_sqnr_db,max_abs_error,cosine,outliers,seconds,rule,rule_line',
    );
    assert.match(lines[1], /^t\.two,4,F32,keep,keep,/);
    assert.match(lines[2], /^t\.one,2x3,F32,quantize,int4,g32,true,rtn,4\.5,4\.5,24,3\.375,0\.1,/);
    assert.ok(lines[2].endsWith(',"match ""a,b""",4'), lines[2]);
    assert.equal(reportToCsv(r).trimEnd().split('\r\n').length, 3, 'all tensors by default');
  });

  it('exports the output error and its SQNR next to the weight error', () => {
    const r = report([
      tensor('a', [4], { relError: 0.1, sqnrDb: 20, outputError: 0.0123, outputSqnrDb: 19.1 }),
      tensor('b', [4], { relError: 0.2 }),
    ]);
    const [head, a, b] = reportToCsv(r)
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
    const col = (name: string) => head.indexOf(name);
    assert.equal(head.length, CSV_HEADER.length);
    assert.equal(col('output_error'), col('sqnr_db') + 1);
    assert.equal(a[col('output_error')], '0.0123');
    assert.equal(a[col('output_sqnr_db')], '19.1');
    assert.equal(b[col('output_error')], '', 'empty without calibration');
    assert.equal(b[col('output_sqnr_db')], '');
  });

  it('computes mean, median and max over quantized tensors only', () => {
    const s = errorStats([
      tensor('a', [1], { relError: 0.1 }),
      tensor('b', [1], { relError: 0.4 }),
      tensor('c', [1], { relError: 0.2 }),
      tensor('d', [1], KEPT),
    ]);
    assert.equal(s.count, 3);
    assert.ok(Math.abs(s.mean! - 0.7 / 3) < 1e-12);
    assert.equal(s.median, 0.2);
    assert.equal(s.max, 0.4);
    assert.deepEqual(errorStats([tensor('d', [1], KEPT)]), { count: 0 });
  });

  describe('output error', () => {
    const tensors = [
      tensor('model.layers.0.self_attn.q_proj.weight', [64, 64], { relError: 0.12, outputError: 0.01 }),
      tensor('model.layers.0.mlp.down_proj.weight', [64, 172], { relError: 0.2 }),
      tensor('model.layers.1.block_sparse_moe.experts.0.w1.weight', [100, 10], { relError: 0.3, outputError: 0.04 }),
      tensor('model.layers.1.block_sparse_moe.experts.1.w1.weight', [300, 10], { relError: 0.1, outputError: 0.02 }),
      tensor('model.norm.weight', [64], KEPT),
    ];

    it('aggregates per cell as an element-weighted mean of the energy ratios', () => {
      const agg = aggregateByLayer(tensors);
      assert.equal(cellError(agg.cells.get(cellKey(0, 'q')), 'outputError'), 0.01);
      assert.equal(cellError(agg.cells.get(cellKey(0, 'q')), 'relError'), 0.12);
      assert.equal(
        cellError(agg.cells.get(cellKey(0, 'down')), 'outputError'),
        undefined,
        'no calibration for that input',
      );
      assert.ok(
        Math.abs(cellError(agg.cells.get(cellKey(1, 'gate')), 'outputError')! - (1000 * 0.04 + 3000 * 0.02) / 4000) <
          1e-12,
      );
      assert.equal(cellError(undefined, 'outputError'), undefined);
    });

    it('has stats over the tensors that report one', () => {
      const s = errorStats(tensors, 'outputError');
      assert.equal(s.count, 3);
      assert.equal(s.median, 0.02);
      assert.equal(s.max, 0.04);
      assert.equal(errorStats(tensors).count, 4, 'relative error by default');
    });

    it('chooses the metric: the output error when present, unless the user picked the weight error', () => {
      assert.equal(hasOutputError(tensors), true);
      assert.equal(hasOutputError([tensor('a', [1]), tensor('b', [1], { outputError: NaN })]), false);
      assert.equal(chooseErrorMetric(undefined, true), 'outputError');
      assert.equal(chooseErrorMetric('relError', true), 'relError');
      assert.equal(chooseErrorMetric('outputError', true), 'outputError');
      assert.equal(chooseErrorMetric('bogus', true), 'outputError');
      assert.equal(chooseErrorMetric(undefined, false), 'relError');
      assert.equal(chooseErrorMetric('outputError', false), 'relError', 'a saved choice the report cannot show');
    });
  });

  describe('evaluation and calibration summaries', () => {
    const evaluation = {
      source: { kind: 'generated' as const, seed: 1, sequences: 16, tokens: 2048 },
      sequences: 16,
      tokens: 2032,
      perplexityOriginal: 15.147,
      perplexityQuantized: 197.19,
      nllOriginal: 2.7178,
      nllQuantized: 5.2842,
      klMean: 2.5561,
      klP99: 10.05,
      klMax: 14.04,
      top1Agreement: 0.24852,
      seconds: 0.3531,
    };

    it('formats perplexity with the ratio, KL in nats, top-1 in percent and what it ran on', () => {
      const q = summarizeEvaluation(evaluation);
      assert.equal(q.perplexity, '15.15 → 197.2');
      assert.equal(q.pplOriginal, '15.15');
      assert.equal(q.pplQuantized, '197.2');
      assert.equal(q.perplexityRatio, '×13.0');
      assert.equal(q.nll, '2.718 → 5.284 nats/token');
      assert.equal(q.kl, 'mean 2.556 · p99 10.05 · max 14.04 nats');
      assert.equal(q.top1, '24.9%');
      assert.equal(q.basis, '16 sequences · 2,032 scored tokens');
      assert.equal(q.source, 'generated (seed 1)');
      assert.equal(q.seconds, '353.1 ms');
    });

    it('has no ratio without a positive original perplexity, and one sequence reads singular', () => {
      const q = summarizeEvaluation({
        ...evaluation,
        perplexityOriginal: 0,
        sequences: 1,
        tokens: 1,
        top1Agreement: 1,
      });
      assert.equal(q.perplexityRatio, undefined);
      assert.equal(q.basis, '1 sequence · 1 scored token');
      assert.equal(q.top1, '100.0%');
    });

    it('names the source: generated seed or tokens file', () => {
      assert.equal(
        sourceLabel({ kind: 'tokens', path: '/data/calib/held-out.json', sequences: 4, tokens: 512 }),
        'tokens file held-out.json',
      );
      assert.equal(
        sourceLabel({ kind: 'tokens', path: 'C:\\data\\t.json', sequences: 4, tokens: 512 }),
        'tokens file t.json',
      );
      assert.equal(sourceLabel({ kind: 'generated', seed: 0, sequences: 1, tokens: 2 }), 'generated (seed 0)');
      assert.equal(sourceLabel(undefined), 'unknown source');
    });

    it('summarizes calibration on one line', () => {
      assert.equal(
        summarizeCalibration({
          source: { kind: 'generated', seed: 0, sequences: 16, tokens: 2048 },
          hessians: 20,
          seconds: 0.315,
        }),
        '16 sequences · 2,048 tokens · generated (seed 0) · 20 Hessians · 315.0 ms',
      );
      assert.equal(
        summarizeCalibration({
          source: { kind: 'tokens', path: '/d/c.json', sequences: 4, tokens: 512 },
          hessians: 20,
          sequential: false,
          seconds: 1.5,
        }),
        '4 sequences · 512 tokens · tokens file c.json · 20 Hessians · on the original model · 1.50 s',
      );
    });

    it('summarizes the phases in run order', () => {
      assert.equal(
        summarizePhases({ calibration: 12.25, quantize: 40, evaluation: 0.5 }),
        'calibration 12.25 s · quantize 40.00 s · evaluation 500.0 ms',
      );
      assert.equal(summarizePhases({}), undefined);
      assert.equal(summarizePhases(undefined), undefined);
    });
  });

  describe('compare', () => {
    const a = report([
      tensor('x', [8], { relError: 0.2, bpw: 4.5 }),
      tensor('y', [8], { relError: 0.1 }),
      tensor('onlyA', [8]),
    ]);
    const b = report([
      tensor('y', [8], { relError: 0.3, bpw: 8 }),
      tensor('x', [8], { relError: 0.05, bpw: 3 }),
      tensor('onlyB', [8]),
    ]);

    it('joins by name: A order first, then B-only tensors, with ratios and deltas', () => {
      const rows = joinReports(a, b);
      assert.deepEqual(
        rows.map((r) => [r.name, r.status]),
        [
          ['x', 'both'],
          ['y', 'both'],
          ['onlyA', 'onlyA'],
          ['onlyB', 'onlyB'],
        ],
      );
      assert.equal(rows[0].relRatio, 0.25);
      assert.equal(rows[0].bpwDelta, -1.5);
      assert.ok(Math.abs(rows[1].relRatio! - 3) < 1e-12);
      assert.equal(rows[2].relRatio, undefined);
      assert.equal(rows[3].a, undefined);
    });

    it('has no ratio when A has no error (kept) or a zero error', () => {
      const rows = joinReports(
        report([tensor('k', [4], KEPT), tensor('z', [4], { relError: 0 })]),
        report([tensor('k', [4]), tensor('z', [4])]),
      );
      assert.equal(rows[0].relRatio, undefined);
      assert.equal(rows[1].relRatio, undefined);
    });

    it('compares totals with deltas and ratios', () => {
      const totals = compareTotals(a, b);
      const bytes = totals.find((t) => t.id === 'bytesOut')!;
      assert.equal(bytes.delta, b.totals.bytesOut - a.totals.bytesOut);
      assert.equal(bytes.ratio, b.totals.bytesOut / a.totals.bytesOut);
      const median = totals.find((t) => t.id === 'medianRel')!;
      assert.equal(median.a, 0.1);
      assert.equal(median.b, 0.1);
      assert.equal(median.delta, 0);
    });

    it('exports the join as CSV', () => {
      const csv = compareToCsv(joinReports(a, b)).split('\r\n');
      assert.equal(
        csv[0],
        'name,status,format_a,format_b,bpw_a,bpw_b,bpw_delta,rel_error_a,rel_error_b,rel_error_ratio',
      );
      assert.equal(csv[1], 'x,both,int4,int4,4.5,3,-1.5,0.2,0.05,0.25');
      assert.equal(csv[4], 'onlyB,onlyB,,int4,,4.5,,,0.1,');
    });

    it('lists any number of runs with their evaluation figures, older reports included', () => {
      const dist = (mean: number) => ({
        mean,
        uncertainty: 0.01,
        min: 0,
        p1: 0,
        p5: 0,
        p10: 0,
        p25: 0,
        median: mean / 2,
        p75: mean,
        p90: mean,
        p95: mean,
        p99: 3 * mean,
        p999: 4 * mean,
        max: 5 * mean,
      });
      const evaluation = (kl: number, path: string): NonNullable<RunReport['evaluation']> => ({
        source: { kind: 'text', path, sequences: 4, tokens: 512 },
        sequences: 4,
        tokens: 252,
        scoreFrom: 64,
        perplexityOriginal: 10,
        perplexityQuantized: 11,
        perplexityQuantizedUncertainty: 0.2,
        lnPerplexityRatio: Math.log(1.1),
        nllOriginal: Math.log(10),
        nllQuantized: Math.log(11),
        klMean: kl,
        klP99: 3 * kl,
        klMax: 5 * kl,
        top1Agreement: 0.9,
        kl: dist(kl),
        deltaP: { ...dist(-0.01), rms: 0.05, rmsUncertainty: 0.001 },
        sameTop: { share: 0.9, uncertainty: 0.02 },
        seconds: 1,
      });
      const old = { ...evaluation(0.3, '/t/wiki.raw') };
      delete old.kl;
      delete old.sameTop;
      const reports = [
        { file: '/r/a.json', report: report(a.tensors, { evaluation: evaluation(0.1, '/t/wiki.raw') }) },
        { file: '/r/b.json', report: b },
        { file: '/r/c.json', report: report(b.tensors, { evaluation: old }) },
      ];
      const rows = runRows(reports);
      assert.deepEqual(
        rows.map((r) => [r.letter, r.klMean, r.klP99, r.sameTop]),
        [
          ['A', 0.1, 0.30000000000000004, 0.9],
          ['B', undefined, undefined, undefined],
          ['C', 0.3, 0.8999999999999999, 0.9],
        ],
      );
      assert.equal(rows[0].klUncertainty, 0.01);
      assert.equal(rows[2].klUncertainty, undefined, 'an older report has the means only');
      assert.equal(rows[0].evaluatedOn, 'text wiki.raw, 4 sequences, 252 scored tokens');
      assert.deepEqual(evaluationSources(rows), ['text wiki.raw, 4 sequences, 252 scored tokens']);
      assert.equal(runLetter(25), 'Z');
      assert.equal(runLetter(26), 'AA');
      const csv = runsToCsv(rows).split('\r\n');
      assert.match(csv[0], /^run,name,file,bytes,bpw,ppl_quantized,ppl_quantized_unc,.*,kld_mean,kld_mean_unc,/);
      assert.match(csv[1], /^A,x,\/r\/a\.json,/);
      assert.equal(isWebviewMessage({ type: 'comparePair', a: 0, b: 2 }), true);
      assert.equal(isWebviewMessage({ type: 'comparePair', a: -1, b: 2 }), false);
      assert.equal(isWebviewMessage({ type: 'exportCsv', what: 'runs' }), true);
      assert.equal(isWebviewMessage({ type: 'exportCsv', what: 'all' }), false);
    });
  });

  it('validates report files, naming the file in every problem', () => {
    const good = report([tensor('x', [2])]);
    assert.equal(reportProblem(good, 'r.json'), undefined);
    assert.match(reportProblem([], 'r.json')!, /^r\.json does not hold a JSON object/);
    assert.match(reportProblem({ ...good, type: 'plan' }, 'r.json')!, /r\.json is not a Bitsmith run report/);
    assert.match(reportProblem({ ...good, reportVersion: 2 }, 'r.json')!, /version 2/);
    assert.match(reportProblem({ ...good, tensors: undefined }, 'r.json')!, /r\.json: the report has no "tensors"/);
    assert.match(reportProblem({ ...good, tensors: [{ shape: [] }] }, 'r.json')!, /tensor 0 has no name/);
  });

  it('accepts only protocol messages from the webview', () => {
    assert.ok(isWebviewMessage({ type: 'ready' }));
    assert.ok(isWebviewMessage({ type: 'revealRule', tensor: 'a' }));
    assert.ok(isWebviewMessage({ type: 'exportCsv' }));
    assert.ok(isWebviewMessage({ type: 'exportCsv', tensors: ['a', 'b'] }));
    assert.equal(isWebviewMessage({ type: 'revealRule' }), false);
    assert.equal(isWebviewMessage({ type: 'exportCsv', tensors: [1] }), false);
    assert.equal(isWebviewMessage({ type: 'runShell' }), false);
    assert.equal(isWebviewMessage('ready'), false);
    assert.equal(isWebviewMessage(null), false);
  });

  it('describes a model header for the Inspect Model panel with relative file names', () => {
    const view = modelView(readModelHeader(path.resolve(__dirname, '../../examples/stories260K')));
    assert.equal(view.name, 'stories260K');
    assert.equal(view.format, 'hf-folder');
    assert.equal(view.parameters, 260032);
    assert.equal(view.tensors.length, 47);
    assert.deepEqual([...new Set(view.tensors.map((t) => t.file))], ['model.safetensors']);
    assert.ok(view.files.includes('config.json'));
    assert.ok(view.config.some(([k]) => k === 'model_type'));
    assert.ok(view.config.every(([, v]) => typeof v === 'string' && v.length <= 160));
  });
});
