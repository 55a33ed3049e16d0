// bitsmith budget: where the bits go, per rule and per tensor, and the whole-model total.
import { fmt, formatBytes, planToJson } from '../../../core/src/index';
import { loadRecipe } from '../load';
import { printDiagnostics } from '../report';
import { table, thousands } from '../table';

export function budgetCommand(file: string, opts: { json?: boolean; model?: string }): number {
  const loaded = loadRecipe(file, { model: opts.model });
  if (!loaded) return 2;
  const { analysis, text } = loaded;
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
  printDiagnostics(loaded, errors);
  const plan = planToJson(analysis, text);
  if (!plan) {
    process.stderr.write('bitsmith: no plan: the model could not be read (see the errors above)\n');
    return 1;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({ file: loaded.path, errors: errors.length, plan }, null, 2) + '\n');
    return errors.length ? 1 : 0;
  }
  const out: string[] = [];
  out.push(
    `model ${plan.model.path} (${plan.model.architecture}, ${plan.model.tensors} tensors, ${thousands(plan.model.parameters)} parameters, ${plan.model.dtype})`,
    '',
  );
  out.push('rules:');
  out.push(
    table(
      ['line', 'rule', 'matched', 'decides', 'params', 'bytes in', 'bytes out', 'bpw'],
      plan.rules.map((r) => [
        String(r.line + 1),
        r.label,
        String(r.matched),
        String(r.decided),
        thousands(r.params),
        formatBytes(r.bytesIn),
        formatBytes(r.bytesOut),
        r.params ? fmt(r.bpw) : '-',
      ]),
      [0, 2, 3, 4, 5, 6, 7],
    ),
  );
  out.push('', 'tensors:');
  out.push(
    table(
      ['tensor', 'shape', 'dtype', 'format', 'group', 'bpw', 'bytes out'],
      plan.tensors.map((t) => [
        t.name,
        t.shape.join('x'),
        t.dtype,
        t.action === 'keep'
          ? `keep${t.keepReason === 'no-format' ? ' (no format)' : t.keepReason === 'not-quantizable' ? ' (not float)' : ''}`
          : `${t.format}${t.symmetric === false ? ' asym' : ''}${t.method && t.method !== 'rtn' ? ` ${t.method}` : ''}`,
        t.action === 'keep' ? '' : t.groupKind === 'size' ? String(t.group) : String(t.groupKind),
        fmt(t.bpw),
        formatBytes(t.bytesOut),
      ]),
      [5, 6],
    ),
  );
  const tot = plan.totals;
  out.push(
    '',
    `total: ${tot.quantized} of ${tot.tensors} tensors quantized, ${formatBytes(tot.bytesIn)} -> ${formatBytes(tot.bytesOut)}, ${fmt(tot.bpwIn)} -> ${fmt(tot.bpw)} bpw`,
  );
  if (plan.budget) {
    const b = plan.budget;
    out.push(
      `budget: ${formatBytes(b.bytes)} (${fmt(b.bpw)} bpw): ${b.fits ? `fits, ${formatBytes(b.bytes - tot.bytesOut)} to spare` : `OVER by ${formatBytes(b.overBytes)}`}`,
    );
  }
  process.stdout.write(out.join('\n') + '\n');
  return errors.length ? 1 : 0;
}
