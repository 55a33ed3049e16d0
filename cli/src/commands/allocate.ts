// bitsmith allocate: measures what the recipe's `allocate` still lacks (cached beside the
// recipe), then prints the chosen format per tensor, its bytes and predicted error, the
// mix, and the solver's gap to its bound. --frontier: the size-error curve over budgets
// from the smallest achievable size to the largest useful one. --json for machines.
import { fmt, formatBytes, frontier, loadMeasurements, type AllocationState } from '../../../core/src/index';
import { loadRecipe, type LoadedRecipe } from '../load';
import { printDiagnostics } from '../report';
import { measure, measureText } from '../run/measure';
import { loadNative, type NativeError } from '../run/native';
import { table } from '../table';
import { version } from '../version';

export interface AllocateOptions {
  json?: boolean;
  /** JSON lines on stdout: measure progress events, then the allocation (type "allocation"). */
  events?: boolean;
  frontier?: boolean;
  threads?: string;
  /** --model: a path or Hugging Face id read instead of the recipe's model. */
  model?: string;
}

export async function allocateCommand(file: string, opts: AllocateOptions): Promise<number> {
  let threads = 0;
  if (opts.threads !== undefined) {
    threads = Number(opts.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024) {
      process.stderr.write(`bitsmith: --threads takes an integer from 1 to 1024, not '${opts.threads}'\n`);
      return 2;
    }
  }
  let loaded = loadRecipe(file, { model: opts.model });
  if (!loaded) return 2;
  if (!loaded.analysis.recipe.allocate) {
    process.stderr.write(`bitsmith: ${loaded.path} has no allocate statement: nothing to allocate\n`);
    return 1;
  }
  const errors = (l: LoadedRecipe) => l.analysis.diagnostics.filter((d) => d.severity === 'error');
  if (errors(loaded).length) {
    printDiagnostics(loaded, errors(loaded));
    process.stderr.write(
      `bitsmith: not allocating: the recipe has ${errors(loaded).length} error${errors(loaded).length === 1 ? '' : 's'}\n`,
    );
    return 1;
  }
  const state = loaded.analysis.allocation;
  if (!state?.file) {
    printDiagnostics(
      loaded,
      loaded.analysis.diagnostics.filter((d) => d.code.startsWith('allocate/')),
    );
    return 1;
  }
  if (state.missing.length) {
    const native = loadNative();
    // SIGINT/SIGTERM cancel the measuring pass under way; finished formats stay cached.
    let current: { cancel(): void } | undefined;
    let signal: NodeJS.Signals | undefined;
    const onSignal = (s: NodeJS.Signals) => {
      signal = s;
      current?.cancel();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const human = !opts.json && !opts.events;
    try {
      await measure(loaded, native, {
        threads: threads || loaded.analysis.recipe.threads || 0,
        version,
        onHandle: (h) => {
          current = h;
          if (signal) h.cancel();
        },
        onProgress: opts.events
          ? (p) => process.stdout.write(JSON.stringify({ type: 'measure', ...p }) + '\n')
          : human && process.stderr.isTTY
            ? (p) => process.stderr.write(`\r\x1b[K${measureText(p)}`)
            : undefined,
      });
      if (human && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      if (human)
        process.stderr.write(`measured ${state.missing.length} (tensor, candidate) pairs into ${state.file}\n`);
    } catch (e) {
      const err = e as NativeError;
      if (signal) {
        process.stderr.write(`bitsmith: measuring cancelled (${signal}); what was measured is cached\n`);
        return signal === 'SIGINT' ? 130 : 143;
      }
      process.stderr.write(`bitsmith: measuring failed: ${err.message}${err.code ? ` [${err.code}]` : ''}\n`);
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    loaded = loadRecipe(file, { model: opts.model })!;
  }
  const a = loaded.analysis.allocation!;
  if (!a.result) {
    printDiagnostics(
      loaded,
      loaded.analysis.diagnostics.filter((d) => d.code.startsWith('allocate/')),
    );
    process.stderr.write('bitsmith: no allocation (above)\n');
    return 1;
  }
  const curve = opts.frontier ? frontierOf(loaded, a) : undefined;
  const r = a.result;
  const params = loaded.analysis.plan!.totals.params;
  if (opts.json || opts.events) {
    const json = JSON.stringify(
      {
        type: 'allocation',
        file: loaded.path,
        metric: r.metric,
        measurements: a.file,
        budget: { bytes: a.setup.budgetBytes, bpw: params ? (8 * a.setup.budgetBytes!) / params : 0 },
        bytes: r.solution.bytes,
        bpw: params ? (8 * r.solution.bytes) / params : 0,
        error: r.solution.error,
        bound: r.solution.bound,
        gap: r.solution.gap,
        optimal: r.solution.optimal,
        minBytes: a.setup.minBytes,
        maxBytes: a.setup.maxBytes,
        counts: r.counts,
        weightToOutput: r.weightToOutput,
        tensors: r.tensors.map((t) => ({
          name: t.name,
          format: t.format,
          bytes: t.bytes,
          error: t.error,
          pinned: t.pinned,
          estimated: t.estimated,
          candidates: t.candidates,
        })),
        excluded: a.setup.free.filter((f) => f.excluded.length).map((f) => ({ tensor: f.name, excluded: f.excluded })),
        ...(curve ? { frontier: curve } : {}),
      },
      null,
      opts.events ? undefined : 2,
    );
    process.stdout.write(json + '\n');
    return 0;
  }
  const out: string[] = [];
  out.push(
    table(
      ['tensor', 'format', 'bytes', `error (${r.metric})`, ''],
      r.tensors.map((t) => [
        t.name,
        t.format,
        formatBytes(t.bytes),
        t.error === undefined ? '' : t.error.toExponential(3),
        t.pinned ? 'pinned' : t.estimated ? 'estimated from weight error' : '',
      ]),
      [2, 3],
    ),
  );
  const excluded = a.setup.free.filter((f) => f.excluded.length);
  if (excluded.length) {
    out.push('', 'candidates excluded:');
    for (const f of excluded) out.push(`  ${f.name}: ${f.excluded.map((e) => e.reason).join('; ')}`);
  }
  const mix = Object.entries(r.counts)
    .sort((x, y) => y[1] - x[1])
    .map(([f, n]) => `${n} ${f}`)
    .join(', ');
  out.push('', `mix: ${mix}`);
  out.push(
    `size: ${formatBytes(r.solution.bytes)} (${fmt(params ? (8 * r.solution.bytes) / params : 0)} bpw), budget ${formatBytes(a.setup.budgetBytes!)}; achievable ${formatBytes(a.setup.minBytes)} .. ${formatBytes(a.setup.maxBytes)}`,
  );
  out.push(
    `predicted error (${r.metric}): ${r.solution.error.toExponential(4)}; relaxation bound ${r.solution.bound.toExponential(4)} (gap ${r.solution.optimal ? '0, optimal' : r.solution.gap.toExponential(2)})`,
  );
  if (r.weightToOutput !== undefined && r.tensors.some((t) => t.estimated))
    out.push(
      `tensors without a Hessian use their weight error x ${r.weightToOutput.toExponential(3)} (the median output/weight ratio)`,
    );
  out.push(`measurements: ${a.file}`);
  if (curve) {
    out.push('', 'frontier:');
    out.push(
      table(
        ['budget', 'bpw', 'size', 'error'],
        curve.map((p) => [formatBytes(p.budget), fmt(p.bpw), formatBytes(p.bytes), p.error.toExponential(4)]),
        [0, 1, 2, 3],
      ),
    );
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

function frontierOf(loaded: LoadedRecipe, a: AllocationState) {
  const { recipe, plan } = loaded.analysis;
  const table = loadMeasurements(a.file!, a.context!)!;
  const params = plan!.totals.params;
  return frontier(recipe, plan!, a.setup, table, recipe.allocate!.metric, 12).map((p) => ({
    ...p,
    bpw: params ? (8 * p.bytes) / params : 0,
  }));
}
