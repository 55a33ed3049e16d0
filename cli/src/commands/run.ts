// bitsmith run: executes a recipe on the model's weights in this process, through the
// native addon (the extension spawns this command and reads --events). Refuses recipes
// with errors, and anything the backend does not execute yet, naming the statement.
//   --events   JSON lines on stdout: start, tensor-start, tensor, done, then the report; or an error event
//   --json     the report as one JSON document on stdout
//   otherwise  progress on stderr, then a per-tensor table and the totals on stdout
// The report is also saved under <recipe dir>/.bitsmith/reports/ or --report-dir (see run/report.ts).
// SIGINT/SIGTERM cancel the run (no output file is left) and exit with 130/143.
// Outputs follow core's output-safety rule (analysis/outputSafety.ts): checked with the
// recipe, again right before the run starts, and by the writers right before each rename.
import * as fs from 'fs';
import * as path from 'path';
import { diag, estimateRunMemory, memoryRefusal, planToJson, type GgufSpec } from '../../../core/src/index';
import { availableMemory, effectiveThreads } from '../run/memory';
import { formatProgress, PlainProgress } from '../run/progress';
import { loadRecipe } from '../load';
import { printDiagnostics, reportFollowsSchema } from '../report';
import {
  buildJob,
  ggufOutput,
  ggufSpecFor,
  imatrixFormat,
  imatrixOutput,
  runOutput,
  unsupportedFeatures,
} from '../run/job';
import { TextCalibrationError } from '../run/textCalibration';
import { measure, measureText } from '../run/measure';
import { exportLine, writeExports, type WrittenExport } from '../run/exports';
import { checkedFor, cleanStaleTemps, recheckOrReport, UnsafeOutputError } from '../outputs';
import {
  loadNative,
  type CalibrationEvent,
  type DoneEvent,
  type EvaluationEvent,
  type ImportanceEvent,
  type NativeAddon,
  type NativeError,
  type RunEvent,
  type TensorEvent,
} from '../run/native';
import { buildReport, checkAgainstPlan, formatReport, reportPaths, saveReport, seconds } from '../run/report';
import { version } from '../version';

export interface RunOptions {
  json?: boolean;
  events?: boolean;
  threads?: string;
  reportDir?: string;
  /** Run even when the memory estimate exceeds the available memory. */
  forceMemory?: boolean;
  /** --model: a path or Hugging Face id read instead of the recipe's model. */
  model?: string;
}

export async function runCommand(file: string, opts: RunOptions): Promise<number> {
  let threadsOpt: number | undefined;
  if (opts.threads !== undefined) {
    const n = Number(opts.threads);
    if (!Number.isInteger(n) || n < 1 || n > 1024) {
      process.stderr.write(`bitsmith: --threads takes an integer from 1 to 1024, not '${opts.threads}'\n`);
      return 2;
    }
    threadsOpt = n;
  }
  let loaded = loadRecipe(file, { model: opts.model });
  if (!loaded) return 2;
  // allocate: measure what the cache lacks first (the allocation then decides the plan).
  const pending = loaded.analysis.allocation;
  if (pending?.missing.length && pending.file && !loaded.analysis.diagnostics.some((d) => d.severity === 'error')) {
    try {
      const human = !opts.json && !opts.events;
      await measure(loaded, loadNative(), {
        threads: threadsOpt ?? loaded.analysis.recipe.threads ?? 0,
        version,
        onProgress: (p) => {
          if (opts.events) process.stdout.write(JSON.stringify({ type: 'measure', ...p }) + '\n');
          else if (human && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${measureText(p)}`);
        },
      });
      if (human && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    } catch (e) {
      const err = e as NativeError;
      process.stderr.write(
        `bitsmith: measuring for allocate failed: ${err.message}${err.code ? ` [${err.code}]` : ''}\n`,
      );
      return 1;
    }
    loaded = loadRecipe(file, { model: opts.model })!;
  }
  const { analysis, text } = loaded;
  if (
    analysis.recipe.allocate &&
    !analysis.allocation?.result &&
    !analysis.diagnostics.some((d) => d.severity === 'error')
  ) {
    printDiagnostics(
      loaded,
      analysis.diagnostics.filter((d) => d.code.startsWith('allocate/')),
    );
    process.stderr.write('bitsmith: not running: no allocation (above)\n');
    return 1;
  }
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    printDiagnostics(loaded, errors);
    process.stderr.write(
      `bitsmith: not running: the recipe has ${errors.length} error${errors.length === 1 ? '' : 's'}\n`,
    );
    return 1;
  }
  const plan = planToJson(analysis, text);
  if (!plan) {
    process.stderr.write('bitsmith: not running: no plan (the model could not be read)\n');
    return 1;
  }
  const unsupported = unsupportedFeatures(loaded, analysis.plan!);
  if (unsupported.length) {
    printDiagnostics(loaded, unsupported);
    process.stderr.write(
      `bitsmith: not running: the recipe asks for ${unsupported.length === 1 ? 'something' : 'things'} the backend does not execute yet (above)\n`,
    );
    return 1;
  }

  // The outputs once more, on the file system as it is now; the runner compares each
  // destination with this right before its rename.
  cleanStaleTemps(loaded, [reportPaths(loaded.path, new Date(), opts.reportDir).dir]);
  const checked = recheckOrReport(loaded, 'running');
  if (!checked) return 1;
  const replacesOf = (kind: string) => {
    const d = analysis.recipe.outputs.find((o) => o.kind === kind);
    return d ? checkedFor(checked, d).replaces : undefined;
  };
  const target = runOutput(loaded);
  const output = target?.path;
  const ggufPath = ggufOutput(loaded);
  let ggufSpec: GgufSpec | undefined;
  if (ggufPath) {
    try {
      ggufSpec = ggufSpecFor(loaded, plan, version);
    } catch (e) {
      const o = analysis.recipe.outputs.find((d) => d.kind === 'gguf')!;
      printDiagnostics(loaded, [diag('run/unsupported', 'error', o.stmt, (e as Error).message)]);
      process.stderr.write('bitsmith: not running: output gguf cannot be written for this model (above)\n');
      return 1;
    }
  }
  const imatrixPath = imatrixOutput(loaded);
  for (const out of [output, ggufPath, imatrixPath]) {
    if (!out) continue;
    try {
      fs.mkdirSync(path.dirname(out), { recursive: true });
    } catch (e) {
      process.stderr.write(`bitsmith: cannot create the output folder ${path.dirname(out)}: ${(e as Error).message}\n`);
      return 1;
    }
  }
  let native: NativeAddon;
  try {
    native = loadNative();
  } catch (e) {
    process.stderr.write(`bitsmith: ${(e as Error).message}\n`);
    return 1;
  }
  const threads = threadsOpt ?? analysis.recipe.threads ?? 0;
  let job: ReturnType<typeof buildJob>;
  try {
    job = buildJob(loaded, plan, {
      threads,
      output,
      outputKind: target?.kind,
      outputReplaces: target ? replacesOf(target.kind) : undefined,
      version,
      gguf: ggufPath && ggufSpec ? { path: ggufPath, spec: ggufSpec, replaces: replacesOf('gguf') } : undefined,
      imatrix: imatrixPath ? { path: imatrixPath, replaces: replacesOf('imatrix') } : undefined,
    });
  } catch (e) {
    const stmt =
      e instanceof TextCalibrationError
        ? e.statement === 'perplexity'
          ? analysis.recipe.evaluate?.perplexity?.stmt
          : analysis.recipe.calibration?.stmt
        : undefined;
    if (stmt) printDiagnostics(loaded, [diag((e as TextCalibrationError).code, 'error', stmt, (e as Error).message)]);
    else process.stderr.write(`bitsmith: ${(e as Error).message}\n`);
    return 1;
  }
  // A run whose peak memory would not fit is refused before anything runs (perplexity text
  // with the windows its text gives).
  const memory = estimateRunMemory(analysis, effectiveThreads(threads), {
    recipePath: loaded.path,
    evaluateWindows: job.evaluate?.kind === 'text' ? job.evaluate.sequences?.length : undefined,
  });
  if (memory) {
    const refusal = memoryRefusal(memory, availableMemory());
    if (refusal && !opts.forceMemory) {
      const stmt = analysis.recipe.calibration?.stmt ?? analysis.recipe.evaluate?.stmt;
      if (stmt) printDiagnostics(loaded, [diag('run/out-of-memory', 'error', stmt, refusal)]);
      else process.stderr.write(`bitsmith: ${refusal}\n`);
      return 1;
    }
  }

  const human = !opts.json && !opts.events;
  const tty = human && !!process.stderr.isTTY;
  const shown = path.relative(process.cwd(), loaded.path) || loaded.path;
  const tensors: TensorEvent[] = [];
  let calibration: CalibrationEvent | undefined;
  let importance: ImportanceEvent | undefined;
  let evaluation: EvaluationEvent | undefined;
  let count = 0;
  const started = new Date();
  const line = (s: string) => {
    if (tty) process.stderr.write(`\r\x1b[K${s}`);
    else process.stderr.write(`${s}\n`);
  };
  const plain = new PlainProgress();
  const onEvent = (e: RunEvent) => {
    if (opts.events) process.stdout.write(JSON.stringify(e) + '\n');
    if (e.type === 'progress') {
      if (tty || (human && plain.shouldPrint(e))) line(formatProgress(e));
    } else if (e.type === 'start') {
      count = e.tensors;
      if (human)
        process.stderr.write(
          `bitsmith run ${shown}: ${e.tensors} tensors, ${e.params.toLocaleString('en-US')} params, ${e.threads} thread${e.threads === 1 ? '' : 's'}${e.output ? ` -> ${path.relative(process.cwd(), e.output) || e.output}` : ''}${e.gguf ? ` -> ${path.relative(process.cwd(), e.gguf) || e.gguf}` : ''}\n`,
        );
      if (human && ggufSpec) {
        for (const w of ggufSpec.warnings) process.stderr.write(`bitsmith: output gguf: warning: ${w}\n`);
        for (const n of ggufSpec.notes) process.stderr.write(`bitsmith: output gguf: ${n}\n`);
      }
    } else if (e.type === 'calibration') {
      calibration = e;
      if (human)
        line(
          `calibration: ${e.source.sequences} ${e.source.kind} sequences, ${e.source.tokens} tokens, ${e.hessians} Hessians (${seconds(e.seconds)})`,
        );
    } else if (e.type === 'importance') {
      importance = e;
      if (human)
        line(
          `calibration: imatrix ${e.path} (${e.format}, ${e.entries} entries): per-input-channel weights for ${e.tensors} tensors`,
        );
    } else if (e.type === 'evaluation') {
      evaluation = e;
      if (human) line(`evaluation: ${e.sequences} held-out sequences (${seconds(e.seconds)})`);
    } else if (e.type === 'tensor-start') {
      if (tty) line(`tensor ${e.index + 1}/${count} ${e.name} ...`);
    } else if (e.type === 'tensor') {
      tensors.push(e);
      if (human && !tty)
        line(
          `tensor ${e.index + 1}/${count} ${e.name} ${e.action === 'keep' ? 'kept' : `${e.format} ${+e.bpw.toFixed(4)} bpw, rel err ${e.relError?.toPrecision(3)}`} (${seconds(e.seconds)})`,
        );
    }
  };

  // Signals cancel the run; the promise then rejects with run/cancelled.
  let signal: NodeJS.Signals | undefined;
  let handle: ReturnType<NativeAddon['startRun']> | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) {
      // A second signal: stop waiting (the worker still removes its temporary file at exit).
      process.exit(s === 'SIGINT' ? 130 : 143);
    }
    signal = s;
    handle?.cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let done: DoneEvent;
  try {
    handle = native.startRun(job, onEvent);
    if (signal) handle.cancel();
    done = await handle.done;
  } catch (err) {
    const e = err as NativeError;
    if (tty) process.stderr.write('\n');
    if (signal && (e.code === 'run/cancelled' || !e.code)) {
      process.stderr.write(
        `bitsmith: cancelled (${signal})${output || ggufPath || imatrixPath ? '; no output written' : ''}\n`,
      );
      return signal === 'SIGINT' ? 130 : 143;
    }
    const event = { type: 'error', code: e.code ?? 'run/internal', message: e.message, tensor: e.tensor };
    if (opts.json) process.stdout.write(JSON.stringify(event, null, 2) + '\n');
    if (opts.events) process.stdout.write(JSON.stringify(event) + '\n');
    // Forward-pass errors (architecture, config, token files) belong to the statement that
    // asked for the forward pass: calibration, else evaluate.
    const { recipe } = analysis;
    const stmt = /^(forward|calibration|evaluate)\//.test(e.code ?? '')
      ? (recipe.calibration?.stmt ?? recipe.evaluate?.stmt)
      : undefined;
    if (stmt)
      printDiagnostics(loaded, [
        { code: e.code!, severity: 'error', start: stmt.start, end: stmt.end, message: e.message },
      ]);
    else process.stderr.write(`bitsmith: ${e.message}${e.code ? ` [${e.code}]` : ''}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (tty) process.stderr.write('\r\x1b[K');

  const mismatch = checkAgainstPlan(plan, tensors, done);
  if (mismatch) {
    process.stderr.write(`bitsmith: ${mismatch}\n`);
    return 1;
  }
  const alloc = analysis.allocation?.result;
  const report = buildReport({
    version,
    recipePath: loaded.path,
    recipeName: analysis.recipe.name,
    plan,
    output,
    outputKind: target?.kind,
    gguf:
      ggufPath && ggufSpec
        ? {
            kind: 'gguf',
            path: ggufPath,
            architecture: ggufSpec.architecture,
            tokenizer: ggufSpec.tokenizer,
            warnings: ggufSpec.warnings,
            notes: ggufSpec.notes,
          }
        : undefined,
    imatrix: imatrixPath
      ? { kind: 'imatrix', path: imatrixPath, notes: [`llama.cpp importance matrix (${imatrixFormat(imatrixPath)})`] }
      : undefined,
    started,
    finished: new Date(),
    tensors,
    done,
    calibration,
    importance,
    evaluation,
    allocation: alloc
      ? {
          metric: alloc.metric,
          predictedError: alloc.solution.error,
          bytes: alloc.solution.bytes,
          counts: alloc.counts,
          optimal: alloc.solution.optimal,
        }
      : undefined,
  });
  let exported: WrittenExport[] = [];
  try {
    exported = writeExports(loaded);
  } catch (e) {
    if (e instanceof UnsafeOutputError) printDiagnostics(loaded, e.diagnostics);
    process.stderr.write(`bitsmith: cannot write the translations: ${(e as Error).message}\n`);
    return 1;
  }
  if (exported.length) report.exports = exported;
  if (!reportFollowsSchema(report)) return 1;
  let saved: string | undefined;
  try {
    saved = saveReport(report, loaded.path, opts.reportDir);
  } catch (e) {
    process.stderr.write(`bitsmith: warning: could not save the report: ${(e as Error).message}\n`);
  }
  const withFile = saved ? { ...report, file: saved } : report;
  if (opts.events) process.stdout.write(JSON.stringify(withFile) + '\n');
  else if (opts.json) process.stdout.write(JSON.stringify(withFile, null, 2) + '\n');
  else {
    process.stdout.write(formatReport(report) + '\n');
    for (const x of exported) process.stdout.write(exportLine(x) + '\n');
    if (saved) process.stdout.write(`report: ${path.relative(process.cwd(), saved) || saved}\n`);
  }
  return 0;
}
