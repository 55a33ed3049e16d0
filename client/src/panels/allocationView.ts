// The Allocation panel's data, from core's analysis of a recipe (no vscode, so tests call
// it directly): the chosen mix, every tensor's candidates and errors (sensitivity), the
// frontier over budgets, and the measured KL of the last run when it ran this allocation.
import * as fs from 'fs';
import { frontier, loadMeasurements, type Analysis } from '../../../core/src/index';
import type { RunReport } from '../../../core/src/runReport';
import type { AllocationView } from '../../../webview/src/shared/messages';
import { pushAll } from '../../../core/src/arrays';

export function allocationView(
  recipe: string,
  name: string,
  analysis: Analysis,
  latestReportFile?: string,
): AllocationView {
  const alloc = analysis.recipe.allocate;
  const a = analysis.allocation;
  const params = analysis.plan?.totals.params ?? 0;
  const bpw = (bytes: number) => (params ? (8 * bytes) / params : 0);
  const errors = analysis.diagnostics.filter((d) => d.severity === 'error');
  const view: AllocationView = {
    recipe,
    name,
    metric: alloc?.metric ?? 'weight',
    granularity: alloc?.granularity ?? 'tensor',
    status: 'error',
    messages: [],
    missing: { errors: 0, klds: 0 },
    params,
    minBytes: a?.setup.minBytes ?? 0,
    maxBytes: a?.setup.maxBytes ?? 0,
    candidates: alloc ? [...new Set(alloc.formats.map((f) => f.name))] : [],
    tensors: [],
    frontier: [],
  };
  if (a?.setup.budgetBytes !== undefined) view.budget = { bytes: a.setup.budgetBytes, bpw: bpw(a.setup.budgetBytes) };
  if (!alloc) {
    view.messages.push(`${name} has no allocate statement.`);
    return view;
  }
  if (!a || errors.length) {
    pushAll(
      view.messages,
      errors.length ? errors.map((d) => d.message) : [analysis.modelError?.message ?? 'No model to allocate for.'],
    );
    return view;
  }
  view.missing = {
    errors: a.missing.filter((m) => m.kind === 'error').length,
    klds: a.missing.filter((m) => m.kind === 'kld').length,
  };
  if (!a.result) {
    view.status = 'measure';
    view.messages.push(
      a.file
        ? 'The candidates are not measured yet for this model and calibration.'
        : 'Save the recipe: measurements are cached beside it.',
    );
    return view;
  }
  const r = a.result;
  view.status = 'ok';
  view.chosen = {
    bytes: r.solution.bytes,
    bpw: bpw(r.solution.bytes),
    error: r.solution.error,
    bound: r.solution.bound,
    optimal: r.solution.optimal,
    counts: r.counts,
  };
  const excluded = new Map(a.setup.free.map((f) => [f.name, f.excluded]));
  view.tensors = r.tensors.map((t) => {
    const elements = analysis.plan!.tensors[t.index].tensor.elements;
    return {
      name: t.name,
      format: t.format,
      bytes: t.bytes,
      bpw: elements ? (8 * t.bytes) / elements : 0,
      error: t.error,
      pinned: t.pinned,
      estimated: t.estimated,
      candidates: t.candidates ?? [],
      excluded: excluded.get(t.name) ?? [],
    };
  });
  const table = loadMeasurements(a.file!, a.context!);
  if (table)
    view.frontier = frontier(analysis.recipe, analysis.plan!, a.setup, table, r.metric, 16).map((p) => ({
      ...p,
      bpw: bpw(p.bytes),
    }));
  const measured = latestReportFile ? readMeasured(latestReportFile, r.formats, analysis) : undefined;
  if (measured) view.measured = { ...measured, bpw: bpw(measured.bytes) };
  return view;
}

/** The last run's KL divergence, when that run quantized exactly this allocation. */
function readMeasured(
  file: string,
  formats: Map<number, string>,
  analysis: Analysis,
): { bytes: number; klMean: number; report: string } | undefined {
  let report: RunReport;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8')) as RunReport;
  } catch {
    return undefined;
  }
  if (!report.evaluation || !Array.isArray(report.tensors)) return undefined;
  const byName = new Map(report.tensors.map((t) => [t.name, t.format]));
  for (const [index, format] of formats) {
    if (byName.get(analysis.plan!.tensors[index].tensor.name) !== format) return undefined;
  }
  return { bytes: report.totals.bytesOut, klMean: report.evaluation.klMean, report: file };
}
