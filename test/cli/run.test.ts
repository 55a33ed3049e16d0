// bitsmith run as a user (and the extension) runs it: node dist/cli.js run RECIPE, in a
// child process, on the bundled stories260K model and on synthetic models written by
// bench/make-synthetic-model.mjs. Checks the figures, the bpw against `budget --json`, the
// fake-quant output (read back with an independent parser), the report files, the event
// stream, refusals with file:line:col, and cancellation by signal.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const FIXTURE = path.join(root, 'examples/stories260K');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
};
let tmp: string;
let n = 0;
const write = (name: string, text: string) => {
  const p = path.join(tmp, `${n++}-${name}`);
  fs.writeFileSync(p, text);
  return p;
};

interface Hist {
  min: number;
  max: number;
  counts: number[];
}
interface TensorRow {
  name: string;
  shape: number[];
  dtype: string;
  action: 'quantize' | 'keep';
  format: string;
  bpw: number;
  planBpw: number;
  bytesIn: number;
  bytesOut: number;
  relError: number;
  sqnrDb: number;
  maxAbsError: number;
  cosine: number;
  seconds: number;
  weightHist: Hist;
  errorHist: Hist;
  config?: { group: number; symmetric: boolean };
}
interface Report {
  type: 'report';
  bitsmith: string;
  recipe: { path: string; name?: string };
  output: { kind: string; path: string } | null;
  threads: number;
  tensors: TensorRow[];
  totals: {
    tensors: number;
    quantized: number;
    params: number;
    bytesIn: number;
    bytesOut: number;
    bpw: number;
    planBpw: number;
    seconds: number;
    peakRssBytes: number;
  };
  file?: string;
}

function parseSafetensors(file: string) {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, { dtype: string; shape: number[]; data: Buffer }>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, {
      dtype: v.dtype,
      shape: v.shape,
      data: buf.subarray(8 + len + v.data_offsets[0], 8 + len + v.data_offsets[1]),
    });
  }
  return { headerLength: len, metadata: (header.__metadata__ ?? {}) as unknown as Record<string, string>, tensors };
}

function synthetic(name: string, ...args: string[]): string {
  const dir = path.join(tmp, name);
  const r = spawnSync(
    process.execPath,
    [path.join(root, 'bench/make-synthetic-model.mjs'), '--out', dir, '--quiet', ...args],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

const leftovers = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.includes('.tmp')) : []);

describe('cli run', function () {
  this.timeout(120000);

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-run-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('examples/int4.quant on the bundled model', () => {
    const outFile = path.join(root, 'examples/out/stories260K-int4.safetensors');
    const reports = path.join(root, 'examples/.bitsmith/reports');
    const latest = path.join(reports, 'int4-latest.json');
    const existed = { out: fs.existsSync(outFile), latest: fs.existsSync(latest) };
    let r: ReturnType<typeof run>;
    let report: Report;

    before(() => {
      r = run('run', 'examples/int4.quant', '--json');
      if (r.code === 0) report = JSON.parse(r.out) as Report;
    });
    after(() => {
      // Leave the example folder as it was.
      if (report?.file) fs.rmSync(report.file, { force: true });
      if (!existed.latest) fs.rmSync(latest, { force: true });
      if (!existed.out) fs.rmSync(outFile, { force: true });
      for (const d of [reports, path.dirname(reports), path.dirname(outFile)]) {
        try {
          fs.rmdirSync(d);
        } catch {
          // not empty: something else lives there
        }
      }
    });

    it('exits 0 with a JSON report', () => {
      assert.equal(r.code, 0, r.err);
      assert.equal(report.type, 'report');
      assert.equal(report.recipe.name, 'stories260K int4');
      assert.equal(report.tensors.length, 47);
      assert.equal(report.totals.quantized, 36);
      assert.equal(report.output?.path, outFile);
      assert.ok(report.totals.peakRssBytes > 0);
    });

    it('per-tensor figures are sane', () => {
      for (const t of report.tensors) {
        const elements = t.shape.reduce((a, b) => a * b, 1);
        if (t.action === 'keep') {
          assert.equal(t.bpw, 32, t.name);
          assert.equal(t.bytesOut, t.bytesIn);
          continue;
        }
        assert.equal(t.format, 'int4');
        assert.ok(t.relError > 0.03 && t.relError < 0.3, `${t.name} rel error ${t.relError}`);
        assert.ok(Math.abs(t.sqnrDb + 20 * Math.log10(t.relError)) < 1e-9, `${t.name}: SQNR is -20 log10(rel error)`);
        assert.ok(t.sqnrDb > 10 && t.sqnrDb < 30, `${t.name} SQNR ${t.sqnrDb}`);
        assert.ok(t.cosine > 0.95 && t.cosine <= 1, `${t.name} cosine ${t.cosine}`);
        assert.ok(t.maxAbsError > 0 && t.maxAbsError < 0.5, `${t.name} max abs ${t.maxAbsError}`);
        assert.ok(t.seconds >= 0);
        for (const h of [t.weightHist, t.errorHist]) {
          assert.equal(h.counts.length, 64);
          assert.equal(
            h.counts.reduce((a, b) => a + b, 0),
            elements,
            t.name,
          );
          assert.ok(h.min <= h.max);
        }
        assert.ok(t.weightHist.min < 0 && t.weightHist.max > 0);
        assert.ok(
          Math.max(-t.errorHist.min, t.errorHist.max) === t.maxAbsError ||
            Math.abs(Math.max(-t.errorHist.min, t.errorHist.max) - t.maxAbsError) < 1e-6,
        );
      }
    });

    it('bpw, tensor by tensor, is the one `bitsmith budget --json` shows', () => {
      const b = run('budget', 'examples/int4.quant', '--json');
      assert.equal(b.code, 0, b.err);
      const plan = JSON.parse(b.out).plan as {
        tensors: { name: string; bpw: number; bytesOut: number }[];
        totals: { bpw: number; bytesOut: number };
      };
      const byName = new Map(report.tensors.map((t) => [t.name, t]));
      assert.equal(plan.tensors.length, report.tensors.length);
      for (const p of plan.tensors) {
        const t = byName.get(p.name)!;
        assert.equal(t.bpw, p.bpw, p.name);
        assert.equal(t.planBpw, p.bpw, p.name);
        assert.equal(t.bytesOut, p.bytesOut, p.name);
      }
      assert.equal(report.totals.bpw, plan.totals.bpw);
      assert.equal(report.totals.bytesOut, plan.totals.bytesOut);
    });

    it('the fake-quant output loads back: shapes, dtypes, kept tensors byte-identical, provenance', () => {
      const src = parseSafetensors(path.join(FIXTURE, 'model.safetensors'));
      const out = parseSafetensors(outFile);
      assert.equal((8 + out.headerLength) % 8, 0);
      assert.equal(out.tensors.size, src.tensors.size);
      for (const t of report.tensors) {
        const a = src.tensors.get(t.name)!;
        const b = out.tensors.get(t.name)!;
        assert.deepEqual(b.shape, a.shape, t.name);
        assert.equal(b.dtype, 'F32');
        if (t.action === 'keep') assert.ok(b.data.equals(a.data), `${t.name} kept byte for byte`);
        else assert.ok(!b.data.equals(a.data), `${t.name} changed`);
      }
      assert.equal(out.metadata['bitsmith.recipe'], 'stories260K int4');
      assert.equal(out.metadata['bitsmith.version'], report.bitsmith);
      const formats = JSON.parse(out.metadata['bitsmith.tensors']);
      assert.equal(formats['model.layers.0.mlp.down_proj.weight'].groupKind, 'channel');
      assert.equal(formats['model.norm.weight'], 'keep');
      assert.deepEqual(leftovers(path.dirname(outFile)), []);
    });

    it('saves the report under <recipe dir>/.bitsmith/reports', () => {
      assert.ok(report.file, 'the report says where it was saved');
      assert.equal(path.dirname(report.file!), reports);
      assert.match(path.basename(report.file!), /^int4-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.json$/);
      const saved = JSON.parse(fs.readFileSync(report.file!, 'utf8'));
      const { file: _file, ...rest } = report;
      assert.deepEqual(saved, rest);
      assert.deepEqual(JSON.parse(fs.readFileSync(latest, 'utf8')), rest);
    });
  });

  it('int8 error is far below int4, tensor by tensor', () => {
    const recipe = (format: string) =>
      write(
        `${format}.quant`,
        `model "${FIXTURE}"\ndefaults {\n  format ${format}\n  group 32\n}\nmatch "*.mlp.down_proj" { group channel }\n`,
      );
    const r4 = run('run', recipe('int4'), '--json');
    const r8 = run('run', recipe('int8'), '--json');
    assert.equal(r4.code, 0, r4.err);
    assert.equal(r8.code, 0, r8.err);
    const t4 = new Map((JSON.parse(r4.out) as Report).tensors.map((t) => [t.name, t]));
    const int8 = JSON.parse(r8.out) as Report;
    assert.equal(int8.output, null, 'no output statement: nothing written');
    for (const t of int8.tensors) {
      if (t.action === 'keep') continue;
      const other = t4.get(t.name)!;
      assert.ok(t.relError < other.relError / 10, `${t.name}: int8 ${t.relError} vs int4 ${other.relError}`);
      assert.ok(t.sqnrDb > other.sqnrDb + 20, `${t.name}: ${t.sqnrDb} dB vs ${other.sqnrDb} dB`);
      assert.ok(t.bpw > other.bpw);
    }
  });

  it('--events prints ordered JSON lines, then the report', () => {
    const recipe = write(
      'events.quant',
      `model "${FIXTURE}"\ndefaults { format nf4; group 32 }\nmatch "*.mlp.down_proj" { keep }\noutput fake "events/out.safetensors"\n`,
    );
    const r = run('run', recipe, '--events', '--threads', '1');
    assert.equal(r.code, 0, r.err);
    const lines = r.out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; index?: number; tensors?: number; threads?: number });
    assert.equal(lines[0].type, 'start');
    assert.equal(lines[0].tensors, 47);
    assert.equal(lines[0].threads, 1);
    assert.ok(
      lines.some((l) => l.type === 'progress'),
      'progress lines',
    );
    const body = lines.slice(1, -2).filter((l) => l.type !== 'progress');
    assert.equal(body.length, 2 * 47);
    body.forEach((e, i) => {
      assert.equal(e.type, i % 2 ? 'tensor' : 'tensor-start', `line ${i + 2}`);
      assert.equal(e.index, Math.floor(i / 2));
    });
    assert.equal(lines[lines.length - 2].type, 'done');
    assert.equal(lines[lines.length - 1].type, 'report');
    assert.ok(fs.existsSync(path.join(path.dirname(recipe), 'events/out.safetensors')));
    assert.ok(
      fs.existsSync(
        path.join(path.dirname(recipe), '.bitsmith/reports', `${path.basename(recipe, '.quant')}-latest.json`),
      ),
    );
  });

  it('a terminal gets progress on stderr, then the per-tensor table and totals', () => {
    const recipe = write(
      'human.quant',
      `model "${FIXTURE}"\ndefaults { format int4; group 32; symmetric false }\nmatch "*.mlp.down_proj" { group channel }\n`,
    );
    const r = run('run', recipe);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /tensor 1\/47 model\.embed_tokens\.weight int4/);
    assert.match(r.err, /tensor 47\/47 /);
    assert.match(r.out, /tensor\s+shape\s+format\s+bpw\s+rel err\s+SQNR dB\s+max abs err\s+time/);
    assert.match(
      r.out,
      /model\.layers\.0\.self_attn\.q_proj\.weight\s+64x64\s+int4 asym g32\s+5\s+0\.\d+\s+\d+\.\d+\s+0\.\d+\s+[\d.]+ ms/,
    );
    assert.match(r.out, /total: 36 of 47 tensors quantized, 260,032 params, .* bpw\), .* GB\/s of weights, peak RSS/);
    assert.match(r.out, /report: .*\.bitsmith\/reports\/\d+-human-.*\.json/);
  });

  it('refuses what the backend does not execute yet, naming each statement by file:line:col', () => {
    const model = synthetic('refuse-model', '--dim', '256', '--layers', '2', '--vocab', '512', '--hidden', '512');
    const recipe = path.join(tmp, 'refuse.quant');
    fs.writeFileSync(
      recipe,
      [
        `model "${model}"`,
        'calibration generated',
        'defaults { format q8_0 }',
        'match "*.self_attn.*" { format q4_k }',
        'match "*.mlp.*" {',
        '  method kmeans',
        '}',
        'output gguf "out/model.gguf"',
        'export llama_quantize "out/quantize.sh"',
        '',
      ].join('\n'),
    );
    const check = run('check', recipe);
    assert.equal(check.code, 0, check.out + check.err);
    const r = run('run', recipe);
    assert.equal(r.code, 1);
    const shown = path.relative(root, recipe);
    assert.ok(!r.err.includes(`${shown}:2:1: error`), r.err); // calibration generated runs
    // ggml block formats run: not refused.
    assert.ok(!r.err.includes('error: format q8_0') && !r.err.includes('error: format q4_k'), r.err);
    assert.ok(r.err.includes(`${shown}:6:3: error: method kmeans (match "*.mlp.*": 6 tensors, e.g.`), r.err);
    assert.ok(!r.err.includes('output gguf'), r.err); // written now
    // Translations are written (after a run, or by `bitsmith export`): not refused.
    assert.ok(!r.err.includes(`${shown}:9:1: error`), r.err);
    assert.match(r.err, /\[run\/unsupported\]/);
    assert.equal(r.out, '');
    assert.ok(!fs.existsSync(path.join(tmp, 'out')), 'nothing written');
  });

  it('a recipe with errors is not run; errors as file:line:col', () => {
    const recipe = write('broken.quant', `model "${FIXTURE}"\ndefaults {\n  formt int4\n}\n`);
    const r = run('run', recipe);
    assert.equal(r.code, 1);
    assert.match(r.err, /broken\.quant:3:3: error: Unknown property 'formt'/);
    assert.match(r.err, /not running: the recipe has 1 error/);
  });

  it('a NaN weight fails the run naming the tensor; no output', () => {
    const model = synthetic(
      'nan-model',
      '--dim',
      '128',
      '--layers',
      '1',
      '--vocab',
      '256',
      '--nan',
      'model.layers.0.mlp.up_proj.weight',
    );
    const recipe = path.join(tmp, 'nan.quant');
    fs.writeFileSync(recipe, `model "${model}"\ndefaults { format int4 }\noutput fake "nan-out/model.safetensors"\n`);
    const r = run('run', recipe, '--json');
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /"model\.layers\.0\.mlp\.up_proj\.weight" has a NaN weight at \[\d+, \d+\].*\[run\/non-finite\]/,
    );
    const j = JSON.parse(r.out);
    assert.equal(j.code, 'run/non-finite');
    assert.equal(j.tensor, 'model.layers.0.mlp.up_proj.weight');
    assert.ok(!fs.existsSync(path.join(tmp, 'nan-out/model.safetensors')));
    assert.deepEqual(leftovers(path.join(tmp, 'nan-out')), []);
  });

  it('--events ends with an error event naming the tensor when the run fails', () => {
    const model = synthetic(
      'nan-model-events',
      '--dim',
      '128',
      '--layers',
      '1',
      '--vocab',
      '256',
      '--nan',
      'model.layers.0.mlp.gate_proj.weight',
    );
    const recipe = path.join(tmp, 'nan-events.quant');
    fs.writeFileSync(recipe, `model "${model}"\ndefaults { format int4 }\n`);
    const r = run('run', recipe, '--events');
    assert.equal(r.code, 1);
    const last = JSON.parse(r.out.trimEnd().split('\n').pop()!);
    assert.equal(last.type, 'error');
    assert.equal(last.code, 'run/non-finite');
    assert.equal(last.tensor, 'model.layers.0.mlp.gate_proj.weight');
  });

  it('--report-dir saves the report there; the report names the deciding rule of each tensor', () => {
    const recipe = write(
      'ruled.quant',
      `model "${FIXTURE}"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n`,
    );
    const dir = path.join(tmp, 'elsewhere', 'reports');
    const r = run('run', recipe, '--json', '--report-dir', dir);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as Omit<Report, 'tensors'> & {
      rules: { label: string; line: number }[];
      tensors: { name: string; decidedBy?: Record<string, number> }[];
    };
    assert.equal(path.dirname(rep.file!), dir);
    const latest = `${path.basename(recipe, '.quant')}-latest.json`;
    assert.ok(fs.existsSync(path.join(dir, latest)));
    assert.ok(!fs.existsSync(path.join(path.dirname(recipe), '.bitsmith/reports', latest)));
    const down = rep.tensors.find((t) => t.name === 'model.layers.2.mlp.down_proj.weight')!;
    assert.equal(rep.rules[down.decidedBy!.group].label, 'match "*.mlp.down_proj"');
    assert.equal(rep.rules[down.decidedBy!.group].line, 2);
    assert.equal(rep.rules[down.decidedBy!.format].line, 1);
  });

  it('rejects a bad --threads as a usage error', () => {
    const r = run('run', 'examples/int4.quant', '--threads', 'many');
    assert.equal(r.code, 2);
    assert.match(r.err, /--threads takes an integer/);
  });

  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig} after the first tensor cancels the run: exit ${code}, no output file`, async () => {
      const model = fs.existsSync(path.join(tmp, 'slow-model'))
        ? path.join(tmp, 'slow-model')
        : synthetic('slow-model', '--params', '3e7');
      const recipe = path.join(tmp, `slow-${sig}.quant`);
      fs.writeFileSync(
        recipe,
        `model "${model}"\ndefaults {\n  format int3\n  group 32\n  symmetric false\n  clip mse\n}\noutput fake "slow-out/${sig}.safetensors"\n`,
      );
      const child = spawn(process.execPath, [cli, 'run', recipe, '--events', '--threads', '1'], { cwd: root });
      let buf = '';
      let tensors = 0;
      let sent = false;
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, i)) as { type: string };
          buf = buf.slice(i + 1);
          if (line.type === 'tensor') tensors++;
          if (line.type === 'tensor' && !sent) {
            sent = true;
            child.kill(sig);
          }
        }
      });
      const started = Date.now();
      const exit = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      assert.ok(sent, `a tensor event arrived (stderr: ${stderr})`);
      assert.equal(exit, code, stderr);
      assert.ok(Date.now() - started < 20000);
      assert.match(stderr, new RegExp(`cancelled \\(${sig}\\); no output written`));
      assert.ok(tensors < 57, `stopped early (${tensors} tensors done)`);
      assert.ok(!fs.existsSync(path.join(tmp, 'slow-out', `${sig}.safetensors`)), 'no output file');
      assert.deepEqual(leftovers(path.join(tmp, 'slow-out')), [], 'no temporary file');
      assert.ok(
        !fs.existsSync(path.join(tmp, '.bitsmith/reports', `slow-${sig}-latest.json`)),
        'no report for a cancelled run',
      );
    });
  }

  it('a model truncated while the run reads it: a model/truncated error naming the file and tensor, no crash, no output', async () => {
    // The file is cut after the first tensor is done: a memory-mapped read of the rest would
    // be a SIGBUS; the reader's pread sees the short file and stops with an error.
    const model = synthetic('cut-model', '--params', '3e7');
    const weights = path.join(model, 'model.safetensors');
    const recipe = path.join(tmp, 'cut.quant');
    fs.writeFileSync(
      recipe,
      `model "${model}"\ndefaults {\n  format int3\n  group 32\n  symmetric false\n  clip mse\n}\noutput fake "cut-out/cut.safetensors"\n`,
    );
    const child = spawn(process.execPath, [cli, 'run', recipe, '--events', '--threads', '1'], { cwd: root });
    let buf = '';
    let cut = false;
    let stderr = '';
    const events: { type: string; code?: string; message?: string; tensor?: string }[] = [];
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i)) as (typeof events)[number];
        buf = buf.slice(i + 1);
        events.push(line);
        if (line.type === 'tensor' && !cut) {
          cut = true;
          fs.truncateSync(weights, Math.floor(fs.statSync(weights).size / 3));
        }
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    assert.ok(cut, `a tensor event arrived (stderr: ${stderr})`);
    assert.equal(signal, null, `no crash (stderr: ${stderr})`);
    assert.equal(code, 1, stderr);
    const error = events.find((e) => e.type === 'error');
    assert.ok(error, `an error event (stderr: ${stderr})`);
    assert.equal(error.code, 'model/truncated', error.message);
    assert.ok(error.message!.includes(weights), error.message);
    assert.ok(error.tensor && error.message!.includes(`tensor "${error.tensor}"`), error.message);
    assert.match(error.message!, /truncated or replaced while being read/);
    assert.ok(!fs.existsSync(path.join(tmp, 'cut-out', 'cut.safetensors')), 'no output file');
    assert.deepEqual(leftovers(path.join(tmp, 'cut-out')), [], 'no temporary file');
  });

  it('output gguf: writes the GGUF beside the fake output, reports both kinds, and says it has no tokenizer', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'gguf-'));
    const recipe = path.join(dir, 'g.quant');
    fs.writeFileSync(
      recipe,
      `model "${FIXTURE}"\ndefaults { format q8_0 }\nmatch "*.mlp.down_proj" { keep }\noutput fake "out/g.safetensors"\noutput gguf "out/g.gguf"\n`,
    );
    const r = run('run', recipe, '--json');
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as Report & {
      outputs: { kind: string; path: string; tokenizer?: string; warnings?: string[]; notes?: string[] }[];
    };
    assert.deepEqual(
      report.outputs.map((o) => o.kind),
      ['fake', 'gguf'],
    );
    assert.equal(report.outputs[1].path, path.join(dir, 'out/g.gguf'));
    assert.equal(report.outputs[1].tokenizer, 'none');
    assert.match(report.outputs[1].warnings!.join(' '), /without a tokenizer/);
    const gguf = fs.readFileSync(path.join(dir, 'out/g.gguf'));
    assert.equal(gguf.toString('latin1', 0, 4), 'GGUF');
    assert.equal(gguf.readUInt32LE(4), 3);
    assert.ok(fs.existsSync(path.join(dir, 'out/g.safetensors')));
    const human = run('run', recipe);
    assert.equal(human.code, 0, human.err);
    assert.match(human.err, /output gguf: warning: written without a tokenizer/);
    assert.match(human.out, /warning: written without a tokenizer/, 'the report says it too');
    assert.match(human.out, /output gguf: .*g\.gguf \(architecture llama, tokenizer: none\)/);
  });

  it('output gguf refuses what GGUF cannot store, on the rule, before running', () => {
    const recipe = write(
      'gguf-bad.quant',
      `model "${FIXTURE}"\ndefaults { format q8_0 }\nmatch "*.mlp.*" { format int4; group 4 }\noutput gguf "out/bad.gguf"\n`,
    );
    const r = run('run', recipe);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /:3:19: error: GGUF output stores ggml block types only .* int4 is not one .*: model\.layers\.0\.mlp\.down_proj\.weight \[64, 172\] \(and 14 more tensors\), set by match "\*\.mlp\.\*"/,
    );
  });
});
