// bitsmith run with `calibration generated|tokens` and `evaluate`: the forward pass runs
// in the runner, tensors report output error on the calibration inputs, and the report
// carries perplexity / KL / top-1 of the original vs the fake-quantized model. Checked
// against the native evaluation of the written fake-quant file, against identity (all
// kept), int8 vs int4, token files, and errors placed on the calibration line.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { RunReport } from '../../core/src/runReport';
import type { ForwardApi } from '../native/forward.test';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const MODEL = path.join(root, 'examples/stories260K');
const fwd = (require(path.join(root, 'native')) as { forward: ForwardApi }).forward;
const run = (...args: (string | string[])[]) => {
  // Arrays are flattened: option lists are passed whole, never spread into the call.
  const r = spawnSync(process.execPath, [cli, ...args.flat()], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('cli run: calibration and evaluate', function () {
  this.timeout(120000);
  let tmp: string;
  const write = (name: string, lines: string[]) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, lines.join('\n') + '\n');
    return p;
  };
  const recipe = (name: string, format: string, extra: string[] = []) =>
    write(name, [
      `model "${MODEL}"`,
      ...extra,
      `defaults { format ${format}; group 32 }`,
      'match "*.mlp.down_proj" { group channel }',
      'match "model.embed_tokens" { keep }',
      'evaluate { perplexity samples 8 length 64; kl_divergence }',
    ]);
  const report = (file: string, args: string[] = []): RunReport => {
    const r = run('run', file, '--json', '--report-dir', path.join(tmp, 'reports'), args);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as RunReport;
  };

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-eval-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('examples/evaluate.quant prints perplexity and KL before vs after, and output error per tensor', () => {
    const r = run('run', 'examples/evaluate.quant', '--report-dir', path.join(tmp, 'reports'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /out SQNR dB/);
    assert.match(r.out, /calibration: 16 generated sequences \(seed 0\), 2048 tokens, 20 Hessians/);
    assert.match(
      r.out,
      /evaluation on held-out generated \(seed 1\): 16 sequences, 2032 scored tokens \(every position scored\)/,
    );
    const o = /PPL\(original\)\s+: ([\d.]+) ± [\d.]+/.exec(r.out);
    const q = /PPL\(quantized\)\s+: ([\d.]+) ± [\d.]+/.exec(r.out);
    assert.ok(o && q, r.out);
    assert.ok(Number(q[1]) > Number(o[1]), 'int4 raises perplexity');
    assert.match(r.out, /Mean KLD\s+: [\d.]+ ± [\d.]+\n\s+Maximum KLD\s+: [\d.]+\n\s+99\.9% KLD/);
    assert.match(r.out, /Same top p\s+: [\d.]+ ± [\d.]+%/);
  });

  it('the report carries calibration, evaluation and per-tensor output error', () => {
    const rep = report(recipe('int4.quant', 'int4', ['calibration generated samples 4 length 64 seed 3']));
    assert.equal(rep.calibration?.source.kind, 'generated');
    assert.equal(rep.calibration?.source.seed, 3);
    assert.equal(rep.calibration?.source.tokens, 4 * 64);
    assert.equal(rep.calibration?.hessians, 20);
    const e = rep.evaluation!;
    assert.equal(e.source.seed, 4, 'held out: calibration seed + 1');
    assert.equal(e.sequences, 8);
    assert.equal(e.tokens, 8 * 63);
    assert.ok(Math.abs(e.perplexityOriginal - Math.exp(e.nllOriginal)) < 1e-9 * e.perplexityOriginal);
    assert.ok(Math.abs(e.perplexityQuantized - Math.exp(e.nllQuantized)) < 1e-9 * e.perplexityQuantized);
    assert.ok(e.klMean > 0 && e.klMean <= e.klP99 && e.klP99 <= e.klMax, JSON.stringify(e));
    assert.ok(e.top1Agreement > 0 && e.top1Agreement < 1);
    for (const t of rep.tensors) {
      const linear = /\.(self_attn|mlp)\.\w+_proj\.weight$/.test(t.name);
      assert.equal(t.outputSqnrDb !== undefined, linear && t.action === 'quantize', t.name);
      if (t.outputSqnrDb === undefined) continue;
      assert.ok(t.outputError! > 0 && t.outputError! < 0.2, `${t.name} ${t.outputError}`);
      assert.ok(Math.abs(t.outputSqnrDb + 10 * Math.log10(t.outputError!)) < 1e-9);
      // Same order as the weight SQNR on real activations (within 6 dB here).
      assert.ok(Math.abs(t.outputSqnrDb - t.sqnrDb!) < 6, `${t.name}: out ${t.outputSqnrDb} vs weight ${t.sqnrDb}`);
    }
  });

  it('the evaluation equals the native evaluation of the written fake-quant model', () => {
    const out = path.join(tmp, 'fake', 'model.safetensors');
    const file = write('fake.quant', [
      `model "${MODEL}"`,
      'defaults { format int4; group 32 }',
      'match "*.mlp.down_proj" { group channel }',
      'evaluate { perplexity samples 4 length 48 }',
      `output fake "${out}"`,
    ]);
    const rep = report(file);
    fs.copyFileSync(path.join(MODEL, 'config.json'), path.join(tmp, 'fake', 'config.json'));
    const seqs = fwd.sequences(MODEL, { kind: 'generated', samples: 4, length: 48, seed: 1 });
    const direct = fwd.evaluate(MODEL, out, seqs);
    // The reference takes each log-softmax in f32 (the streamed head sums in f64): the
    // figures agree to f32 precision, percentiles (interpolated between two positions) too.
    for (const k of ['perplexityOriginal', 'perplexityQuantized', 'klMean', 'klP99', 'klMax', 'top1Agreement'] as const)
      assert.ok(
        Math.abs(rep.evaluation![k] - direct[k]) <= 1e-6 * Math.abs(direct[k]),
        `${k}: ${rep.evaluation![k]} vs ${direct[k]}`,
      );
    assert.equal(rep.evaluation!.sameTop!.share, direct.top1Agreement);
  });

  it('with every tensor kept, the quantized model is the original: KL 0, same perplexity, full agreement', () => {
    const rep = report(write('keep.quant', [`model "${MODEL}"`, 'evaluate { kl_divergence }']));
    const e = rep.evaluation!;
    assert.equal(e.perplexityQuantized, e.perplexityOriginal);
    assert.equal(e.klMean, 0);
    assert.equal(e.klMax, 0);
    assert.equal(e.top1Agreement, 1);
    assert.equal(e.sequences, 16, 'default samples');
    assert.equal(e.tokens, 16 * 127, 'default length 128');
  });

  it('int8 KL divergence is far below int4 KL divergence', () => {
    const e8 = report(recipe('e8.quant', 'int8')).evaluation!;
    const e4 = report(recipe('e4.quant', 'int4')).evaluation!;
    assert.equal(e8.perplexityOriginal, e4.perplexityOriginal, 'same held-out sequences');
    assert.ok(e8.klMean * 20 < e4.klMean, `int8 KL ${e8.klMean} vs int4 KL ${e4.klMean}`);
    assert.ok(e8.klP99 * 10 < e4.klP99, `p99: int8 ${e8.klP99} vs int4 ${e4.klP99}`);
    assert.ok(e8.top1Agreement > e4.top1Agreement);
    assert.ok(
      Math.abs(e8.perplexityQuantized / e8.perplexityOriginal - 1) <
        Math.abs(e4.perplexityQuantized / e4.perplexityOriginal - 1),
    );
  });

  it('gptq beats rtn at the same bits: lower output error per tensor and lower KL divergence', () => {
    const cal = 'calibration generated samples 16 length 128 seed 0';
    const rtn = report(recipe('rtn.quant', 'int4', [cal]));
    const gptq = report(
      write('gptq.quant', [
        `model "${MODEL}"`,
        cal,
        'defaults { format int4; group 32; method gptq { damp 0.01; block 32; act_order } }',
        'match "*.mlp.down_proj" { group channel }',
        'match "model.embed_tokens" { keep }',
        'evaluate { perplexity samples 8 length 64; kl_divergence }',
      ]),
    );
    const byName = new Map(rtn.tensors.map((t) => [t.name, t]));
    let better = 0,
      count = 0,
      sumR = 0,
      sumG = 0;
    for (const t of gptq.tensors) {
      if (t.action !== 'quantize') continue;
      const r = byName.get(t.name)!;
      assert.equal(t.method, 'gptq');
      assert.equal(t.bytesOut, r.bytesOut, `${t.name}: same stored size`);
      count++;
      if (t.outputError! < r.outputError!) better++;
      sumR += r.outputError!;
      sumG += t.outputError!;
    }
    assert.equal(count, 35);
    assert.ok(better >= count - 1, `gptq lowers the output error of ${better} of ${count} tensors`);
    assert.ok(sumG < 0.8 * sumR, `mean output error gptq ${sumG / count} vs rtn ${sumR / count}`);
    assert.equal(gptq.totals.bytesOut, rtn.totals.bytesOut);
    assert.ok(
      gptq.evaluation!.klMean < rtn.evaluation!.klMean,
      `KL gptq ${gptq.evaluation!.klMean} vs rtn ${rtn.evaluation!.klMean}`,
    );
  });

  it('gptq without calibration is refused by the recipe checks', () => {
    const file = write('nocal.quant', [
      `model "${MODEL}"`,
      'defaults { format int4; group 32; method gptq }',
      'match "*.mlp.down_proj" { group channel }',
    ]);
    const r = run('run', file);
    assert.equal(r.code, 1);
    assert.match(r.err, /nocal\.quant:2:35: error: Method 'gptq' needs calibration data/);
  });

  it('gptq on a tensor without an input Hessian (the embedding) runs it as rtn, named in the report; the output is written', () => {
    const out = path.join(tmp, 'noh', 'model.safetensors');
    const file = write('noh.quant', [
      `model "${MODEL}"`,
      'calibration generated samples 2 length 16',
      'defaults { format int4; group 32; method gptq }',
      'match "*.mlp.down_proj" { group channel }',
      `output fake "${out}"`,
    ]);
    const rep = report(file);
    const embed = rep.tensors.find((t) => t.name === 'model.embed_tokens.weight')!;
    assert.deepEqual([embed.method, embed.methodRequested], ['rtn', 'gptq']);
    assert.ok(rep.tensors.filter((t) => t.method === 'gptq').length >= 35);
    assert.ok(fs.existsSync(out));
  });

  it('evaluate on given held-out tokens: perplexity "file.json" equals the native evaluation on those sequences', () => {
    const held = [
      fwd.generate(MODEL, [1], 40, { temperature: 1, seed: 77 }),
      fwd.generate(MODEL, [1], 30, { temperature: 1, seed: 78 }),
      [1, 5, 6],
    ];
    fs.writeFileSync(path.join(tmp, 'held.json'), JSON.stringify(held));
    const out = path.join(tmp, 'held', 'model.safetensors');
    const rep = report(
      write('held.quant', [
        `model "${MODEL}"`,
        'defaults { format int4; group 32 }',
        'match "*.mlp.down_proj" { group channel }',
        'evaluate { perplexity "held.json" samples 2 length 35 }',
        `output fake "${out}"`,
      ]),
    );
    const e = rep.evaluation!;
    assert.deepEqual(e.source, { kind: 'tokens', path: path.join(tmp, 'held.json'), sequences: 2, tokens: 35 + 31 });
    assert.equal(e.tokens, 34 + 30);
    fs.copyFileSync(path.join(MODEL, 'config.json'), path.join(tmp, 'held', 'config.json'));
    const direct = fwd.evaluate(MODEL, out, [held[0].slice(0, 35), held[1]]);
    for (const k of ['perplexityOriginal', 'perplexityQuantized', 'klMean', 'klP99', 'top1Agreement'] as const)
      assert.ok(Math.abs(e[k] - direct[k]) <= 1e-7 * Math.abs(direct[k]), `${k}: ${e[k]} vs ${direct[k]}`);
  });

  it('calibration tokens "file.json" runs; a bad id is reported at the calibration line with file, sequence and position', () => {
    const toks = path.join(tmp, 'calib.json');
    fs.writeFileSync(toks, JSON.stringify([fwd.generate(MODEL, [1], 31), [1, 5, 6, 7]]));
    const good = recipe('tokens.quant', 'int4', ['calibration tokens "calib.json"']);
    const rep = report(good);
    assert.deepEqual(rep.calibration?.source, { kind: 'tokens', path: toks, sequences: 2, tokens: 36 });
    fs.writeFileSync(
      toks,
      JSON.stringify([
        [1, 2, 3],
        [1, 2, 999],
      ]),
    );
    const r = run('run', good);
    assert.equal(r.code, 1);
    const shown = path.relative(root, good);
    assert.ok(
      r.err.includes(
        `${shown}:2:1: error: ${toks}: sequence 1, position 2: token id 999 is outside the vocabulary (0..511) [calibration/bad-tokens]`,
      ),
      r.err,
    );
  });

  it('a model the forward pass does not run is named on the calibration line', () => {
    const dir = path.join(tmp, 'gpt2');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(MODEL, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const cfg = JSON.parse(fs.readFileSync(path.join(MODEL, 'config.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...cfg, model_type: 'gpt2', architectures: ['GPT2LMHeadModel'] }),
    );
    const file = write('gpt2.quant', [
      `model "${dir}"`,
      'calibration generated',
      'defaults { format int8; group 32 }',
      'match "*.mlp.down_proj" { group channel }',
    ]);
    const r = run('run', file);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /gpt2\.quant:2:1: error: .*model_type "gpt2" \(GPT2LMHeadModel\): the forward pass runs Llama-family models only .*\[forward\/unsupported-architecture\]/,
    );
  });

  it('--events streams calibration before the tensors and evaluation before done', () => {
    const r = run(
      'run',
      recipe('events.quant', 'int4', ['calibration generated samples 2 length 16']),
      '--events',
      '--report-dir',
      path.join(tmp, 'reports'),
    );
    assert.equal(r.code, 0, r.err);
    const types = r.out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    const i = (t: string) => types.indexOf(t);
    assert.ok(i('start') < i('calibration') && i('calibration') < i('tensor-start'), types.join(','));
    assert.ok(
      types.lastIndexOf('tensor') < i('evaluation') && i('evaluation') < i('done') && i('done') < i('report'),
      types.join(','),
    );
  });
});
