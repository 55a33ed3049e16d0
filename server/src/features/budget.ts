// The figures behind the status bar (bitsmith/budget).
import type { BudgetResult } from '../protocol';
import type { AnalyzedDocument } from './document';

export function budget(doc: AnalyzedDocument): BudgetResult | null {
  const plan = doc.analysis.plan;
  if (!plan) return null;
  const t = plan.totals;
  const result: BudgetResult = {
    uri: doc.uri,
    version: doc.version,
    bpw: t.bpw,
    bytesIn: t.bytesIn,
    bytesOut: t.bytesOut,
    quantized: t.quantized,
    tensors: t.tensors,
    errors: doc.analysis.diagnostics.filter((d) => d.severity === 'error').length,
  };
  if (plan.budget) {
    result.budgetBpw = plan.budget.bpw;
    result.budgetBytes = plan.budget.bytes;
    result.fits = plan.budget.fits;
  }
  return result;
}
