// The run report's published JSON Schema: generated from core/src/runReport.ts (the committed
// file must be what `npm run schema` writes), checked by the panels when they open a report
// and by `bitsmith run` before it saves one (with every object closed: the test suite sets
// BITSMITH_STRICT_REPORTS, so every report a CLI test writes is checked), and shipped in the
// extension's package.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { closedSchema, RUN_REPORT_SCHEMA, runReportProblems } from '../../core/src/reportSchema';
import { reportProblem } from '../../webview/src/shared/messages';

const root = path.join(__dirname, '../..');
const schemaFile = path.join(root, 'schemas/run-report.schema.json');

describe('run report schema', function () {
  this.timeout(180000);
  let report: Record<string, unknown>;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-schema-'));
  before(() => {
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'dist/cli.js'), 'run', 'examples/evaluate.quant', '--json', '--report-dir', tmp],
      { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    assert.equal(r.status, 0, r.stderr);
    report = JSON.parse(r.stdout) as Record<string, unknown>;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('is what scripts/report-schema.mjs generates from core/src/runReport.ts (run npm run schema after changing the types)', async () => {
    const { schemaText } = (await import(path.join(root, 'scripts/report-schema.mjs'))) as {
      schemaText: () => Promise<string>;
    };
    assert.equal(fs.readFileSync(schemaFile, 'utf8'), await schemaText());
  });

  it('has an $id and types measured figures as number or null (JSON has no Infinity)', () => {
    const s = JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as {
      $id: string;
      definitions: Record<string, { type?: unknown; properties?: Record<string, { $ref?: string }> }>;
    };
    assert.equal(s.$id, 'urn:bitsmith:schema:run-report:1');
    assert.deepEqual(s.definitions.Measured.type, ['number', 'null']);
    assert.equal(s.definitions.TensorResult.properties!.sqnrDb.$ref, '#/definitions/Measured');
    assert.deepEqual(RUN_REPORT_SCHEMA, s, 'the validators use the committed file');
  });

  it('a report `bitsmith run` wrote validates, with objects closed (every field it writes is declared)', () => {
    assert.deepEqual(runReportProblems(report), []);
    assert.deepEqual(runReportProblems(report, { closed: true }), []);
    const saved = JSON.parse(fs.readFileSync(report.file as string, 'utf8')) as unknown;
    assert.deepEqual(runReportProblems(saved, { closed: true }), []);
    assert.ok(
      (report.evaluation as object) && (report.calibration as object),
      'the evaluate example fills the optional sections',
    );
  });

  it('names the field that is wrong', () => {
    const tensors = report.tensors as Record<string, unknown>[];
    const bad = { ...report, tensors: [{ ...tensors[0], bpw: 'four' }, ...tensors.slice(1)] };
    assert.deepEqual(runReportProblems(bad), ['tensors[0].bpw must be number']);
    const noTotals: Record<string, unknown> = { ...report };
    delete noTotals.totals;
    assert.deepEqual(runReportProblems(noTotals), ['the report lacks "totals"']);
    const badAction = { ...report, tensors: [{ ...tensors[0], action: 'drop' }] };
    assert.match(
      runReportProblems(badAction)[0],
      /^tensors\[0\]\.action must be equal to one of the allowed values: \["quantize","keep"\]/,
    );
    // Infinity is written as null (an exact tensor's SQNR): valid.
    assert.deepEqual(runReportProblems({ ...report, tensors: [{ ...tensors[0], sqnrDb: null }] }), []);
  });

  it('accepts fields it does not list (newer version 1 reports), which the closed check refuses', () => {
    const newer = { ...report, laterSection: { quantize: 1.5 }, somethingNew: true };
    assert.deepEqual(runReportProblems(newer), []);
    assert.deepEqual(runReportProblems(newer, { closed: true }).sort(), [
      'the report has a field the schema does not declare: "laterSection"',
      'the report has a field the schema does not declare: "somethingNew"',
    ]);
    const closed = closedSchema({ type: 'object', properties: { a: { type: 'object', properties: {} } } });
    assert.deepEqual(closed, {
      type: 'object',
      properties: { a: { type: 'object', properties: {}, additionalProperties: false } },
      additionalProperties: false,
    });
  });

  it('the panels refuse a report that does not match, naming the file, the schema and the field', () => {
    const tensors = report.tensors as Record<string, unknown>[];
    assert.equal(reportProblem(report, 'r.json'), undefined);
    const p = reportProblem({ ...report, totals: { ...(report.totals as object), bpw: '4' } }, 'r.json');
    assert.equal(
      p,
      'r.json does not match the run report schema (schemas/run-report.schema.json): totals.bpw must be number',
    );
    assert.match(
      reportProblem({ ...report, tensors: [{ ...tensors[0], shape: [1, 'x'] }] }, 'r.json')!,
      /tensors\[0\]\.shape\[1\] must be number/,
    );
  });

  it('ships in the extension package, and VS Code validates saved reports with it', () => {
    const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('!schemas/run-report.schema.json'), '.vscodeignore re-includes the schema');
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      contributes: { jsonValidation: { fileMatch: string[]; url: string }[] };
    };
    const v = pkg.contributes.jsonValidation.find((j) => j.url === './schemas/run-report.schema.json');
    assert.ok(v && v.fileMatch.includes('**/.bitsmith/reports/*.json'), JSON.stringify(pkg.contributes.jsonValidation));
    assert.ok(fs.existsSync(path.join(root, v.url)));
  });
});
