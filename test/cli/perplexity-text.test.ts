// `evaluate { perplexity text "file" }`: the text is tokenized with the model's tokenizer.json
// and windowed as llama-perplexity does (BOS + the text as one id stream, cut into windows
// of length ids with no remainder, each window's first id replaced by BOS, only the second
// half's predictions scored). Checked against windows this test computes itself (a
// word-level vocabulary) and the whole-vocabulary reference evaluation of the written
// fake-quant model; the statistics (uncertainties, percentiles, Δp, same top) against an
// independent implementation of llama-perplexity's formulas.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { EvalDistribution, RunReport } from '../../core/src/runReport';
import { BOS, tokenize, tokenizerJson } from '../helpers/wordTokenizer';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const SOURCE = path.join(root, 'examples/stories260K');
type Figures = Record<string, unknown> & {
  kl: EvalDistribution;
  deltaP: EvalDistribution & { rms: number; rmsUncertainty: number };
  sameTop: { share: number; uncertainty: number };
};
const fwd = (
  require(path.join(root, 'native')) as {
    forward: {
      evaluate(a: string, b: string, seqs: number[][], o?: { scoreFrom?: number }): Figures;
      summarize(s: { nllA: number[]; nllB: number[]; kl: number[]; sameTop: number[] }): Figures;
    };
  }
).forward;
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** llama-perplexity's rules, written out: mean ± sqrt(var/(n-1)) (0 for n <= 10),
 * percentile at fraction·(n−1) interpolated, median of the middle two. */
function reference(s: { nllA: number[]; nllB: number[]; kl: number[]; sameTop: number[] }) {
  const n = s.nllA.length;
  const mu = (xs: number[]) => {
    const m = xs.reduce((a, b) => a + b, 0) / n;
    const v = xs.reduce((a, b) => a + b * b, 0) / n - m * m;
    return { m, u: v > 0 && n > 10 ? Math.sqrt(v / (n - 1)) : 0 };
  };
  const pct = (sorted: number[], f: number) => {
    const p = f * (sorted.length - 1);
    const i = Math.floor(p);
    return (1 - (p - i)) * sorted[i] + (p - i) * sorted[Math.min(i + 1, sorted.length - 1)];
  };
  const dist = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const { m, u } = mu(xs);
    const h = sorted.length >> 1;
    return {
      mean: m,
      uncertainty: u,
      min: sorted[0],
      max: sorted[sorted.length - 1],
      median: sorted.length % 2 ? sorted[h] : (sorted[h] + sorted[h - 1]) / 2,
      p1: pct(sorted, 0.01),
      p5: pct(sorted, 0.05),
      p10: pct(sorted, 0.1),
      p25: pct(sorted, 0.25),
      p75: pct(sorted, 0.75),
      p90: pct(sorted, 0.9),
      p95: pct(sorted, 0.95),
      p99: pct(sorted, 0.99),
      p999: pct(sorted, 0.999),
    };
  };
  const a = mu(s.nllA),
    b = mu(s.nllB);
  const ab = s.nllA.reduce((acc, x, i) => acc + x * s.nllB[i], 0) / n;
  const cov = (ab - a.m * b.m) / (n - 1);
  const dp = s.nllA.map((x, i) => Math.exp(-s.nllB[i]) - Math.exp(-x));
  const mse = mu(dp.map((x) => x * x));
  const same = s.sameTop.reduce((x, y) => x + y, 0) / n;
  return {
    perplexityOriginal: Math.exp(a.m),
    perplexityOriginalUncertainty: Math.exp(a.m) * a.u,
    perplexityQuantized: Math.exp(b.m),
    perplexityQuantizedUncertainty: Math.exp(b.m) * b.u,
    lnPerplexityRatio: b.m - a.m,
    lnPerplexityRatioUncertainty: Math.sqrt(a.u * a.u + b.u * b.u - 2 * cov),
    nllCorrelation: cov / (a.u * b.u),
    kl: dist(s.kl),
    deltaP: { ...dist(dp), rms: Math.sqrt(mse.m), rmsUncertainty: (0.5 / Math.sqrt(mse.m)) * mse.u },
    sameTop: { share: same, uncertainty: Math.sqrt((same * (1 - same)) / (n - 1)) },
  };
}

function close(actual: unknown, expected: unknown, where: string, rel = 1e-9, abs = 1e-15): void {
  if (typeof expected === 'number') {
    const a = actual as number;
    assert.ok(Math.abs(a - expected) <= rel * Math.abs(expected) + abs, `${where}: ${a} vs ${expected}`);
  } else if (expected && typeof expected === 'object') {
    for (const [k, v] of Object.entries(expected))
      close((actual as Record<string, unknown>)[k], v, `${where}.${k}`, rel, abs);
  }
}

describe('evaluate: perplexity text and llama-perplexity statistics', function () {
  this.timeout(180000);
  let tmp: string;
  let model: string;
  let text: string;
  const write = (name: string, body: string) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, body);
    return p;
  };
  const recipe = (name: string, evaluate: string, extra: string[] = [], modelPath = model) =>
    write(
      name,
      [
        `model "${modelPath}"`,
        'defaults { format int4; group 32 }',
        'match "*.mlp.down_proj" { group channel }',
        'match "model.embed_tokens" { keep }',
        `evaluate { ${evaluate} }`,
        ...extra,
      ].join('\n') + '\n',
    );

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-ppltext-'));
    model = path.join(tmp, 'model');
    fs.mkdirSync(model);
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(SOURCE, f), path.join(model, f));
    fs.writeFileSync(path.join(model, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
    fs.writeFileSync(
      path.join(model, 'tokenizer_config.json'),
      JSON.stringify({ bos_token: '<s>', add_bos_token: true }),
    );
    const sentences = [
      'Once upon a time, there was a little girl named Lily.',
      'She liked to play in the park with her dog.',
      'The sun was big. Lily liked the red ball.',
      'Lily was with her little dog in the sun.',
    ];
    const lines: string[] = [];
    for (let i = 0; i < 45; i++) lines.push(sentences[(i * 7) % 4]);
    text = lines.join('\n');
    write('story.txt', text);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the statistics follow llama-perplexity --kl-divergence (uncertainties, percentiles, Δp, same top)', () => {
    // Deterministic pseudo-random scores, with ties and an odd count.
    let x = 12345;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (const n of [11, 400, 1001]) {
      const s = { nllA: [] as number[], nllB: [] as number[], kl: [] as number[], sameTop: [] as number[] };
      for (let i = 0; i < n; i++) {
        const a = 3 * rnd();
        s.nllA.push(a);
        s.nllB.push(a + rnd() - 0.3);
        s.kl.push(i % 17 === 0 ? 0 : rnd() * rnd());
        s.sameTop.push(rnd() < 0.8 ? 1 : 0);
      }
      const got = fwd.summarize(s);
      close(got, reference(s), `n=${n}`);
      assert.equal(got.tokens, n);
      assert.equal(got.klMean, got.kl.mean);
      assert.equal(got.klP99, got.kl.p99);
      assert.equal(got.klMax, got.kl.max);
      assert.equal(got.top1Agreement, got.sameTop.share);
    }
    // Ten or fewer positions: no uncertainty (llama-perplexity prints 0).
    const few = fwd.summarize({ nllA: [1, 2, 3], nllB: [1.5, 2, 2], kl: [0.1, 0.2, 0.3], sameTop: [1, 0, 1] });
    assert.equal(few.kl.uncertainty, 0);
    assert.equal(few.kl.median, 0.2);
  });

  it('windows like llama-perplexity and equals the whole-vocabulary evaluation of the written model', () => {
    const length = 32;
    const all = [BOS, ...tokenize(text)];
    const windows: number[][] = [];
    for (let w = 0; (w + 1) * length <= all.length; w++) {
      const s = all.slice(w * length, (w + 1) * length);
      s[0] = BOS;
      windows.push(s);
    }
    assert.ok(windows.length >= 4, `${windows.length} windows`);
    const out = path.join(tmp, 'fake', 'model.safetensors');
    const r = run(
      'run',
      recipe('text.quant', `perplexity text "story.txt" length ${length}`, [`output fake "${out}"`]),
      '--json',
      '--report-dir',
      path.join(tmp, 'reports'),
    );
    assert.equal(r.code, 0, r.err);
    const e = (JSON.parse(r.out) as RunReport).evaluation!;
    assert.equal(e.source.kind, 'text');
    assert.equal(e.source.path, path.join(tmp, 'story.txt'));
    assert.equal(e.sequences, windows.length);
    assert.equal(e.scoreFrom, length / 2);
    assert.equal(e.tokens, windows.length * (length - 1 - length / 2), 'the second half of each window');
    assert.equal(e.source.tokens, windows.length * length);

    fs.copyFileSync(path.join(SOURCE, 'config.json'), path.join(tmp, 'fake', 'config.json'));
    const direct = fwd.evaluate(SOURCE, out, windows, { scoreFrom: length / 2 });
    assert.equal(direct.tokens, e.tokens);
    // The streamed head (vocabulary chunks, online log-sum-exp) gives each position's figures
    // exactly: every statistic equals the whole-vocabulary reference's.
    const pick = (o: Record<string, unknown>) => ({
      perplexityOriginal: o.perplexityOriginal,
      perplexityQuantized: o.perplexityQuantized,
      perplexityOriginalUncertainty: o.perplexityOriginalUncertainty,
      lnPerplexityRatio: o.lnPerplexityRatio,
      lnPerplexityRatioUncertainty: o.lnPerplexityRatioUncertainty,
      kl: o.kl,
      deltaP: o.deltaP,
      sameTop: o.sameTop,
    });
    // (The reference takes log-softmax in f32: KL values near 0 agree to ~1e-6 absolute.)
    close(pick(e as unknown as Record<string, unknown>), pick(direct), 'report vs reference', 1e-6, 2e-6);
    assert.ok(e.kl!.p90 <= e.kl!.p95 && e.kl!.p95 <= e.kl!.p99 && e.kl!.p99 <= e.kl!.p999 && e.kl!.p999 <= e.kl!.max);
    assert.ok(e.deltaP!.rms > 0 && e.sameTop!.share > 0 && e.sameTop!.share < 1);

    // A different split (scoring every position) gives other figures: the windowing matters.
    const everything = fwd.evaluate(SOURCE, out, windows);
    assert.notEqual(everything.tokens, e.tokens);
  });

  it('samples keeps the first windows; the CLI report prints the llama-perplexity blocks', () => {
    const r = run(
      'run',
      recipe('capped.quant', 'perplexity text "story.txt" samples 2 length 32'),
      '--report-dir',
      path.join(tmp, 'reports'),
    );
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /evaluation on held-out text \(.*story\.txt\): 2 sequences, 30 scored tokens \(positions 16\.\.30 of each scored\)/,
    );
    for (const label of ['Mean KLD', '99.9% KLD', '95.0% KLD', 'Median KLD', 'Mean Δp', 'RMS Δp', 'Same top p'])
      assert.match(r.out, new RegExp(`${label.replace(/[.%]/g, '\\$&')}\\s+: -?[\\d.]+`), label);
    assert.match(r.out, /PPL\(quantized\)\s+: [\d.]+ ± [\d.]+/);
  });

  it('check names a missing text file, a missing tokenizer, a text too short for one window, a length over the positions', () => {
    const cases: [string, string, RegExp, string?][] = [
      [
        'missing.quant',
        'perplexity text "nope.txt"',
        /Held-out text file not found: .*nope\.txt \[calibration\/not-found\]/,
      ],
      [
        'notok.quant',
        'perplexity text "story.txt"',
        /perplexity text needs the model's tokenizer: no tokenizer\.json beside .*\[calibration\/no-tokenizer\]/,
        SOURCE,
      ],
      [
        'short.quant',
        'perplexity text "tiny.txt" length 64',
        /tiny\.txt: 9 bytes give at most 10 tokens, too few for one window of 64/,
      ],
      [
        'long.quant',
        'perplexity text "story.txt" length 1024',
        /perplexity text length 1024 is more than the model's 512 positions/,
      ],
      ['noarg.quant', 'perplexity text', /'perplexity text' needs a file in quotes/],
    ];
    write('tiny.txt', 'Lily sun.');
    for (const [name, ev, re, m] of cases) {
      const r = run('check', recipe(name, ev, [], m));
      assert.equal(r.code, 1, `${name}: ${r.out}${r.err}`);
      assert.match(r.out + r.err, re, name);
    }
  });
});
