// The budget status bar item's text and tooltip (pure, no vscode: unit-tested).
import { formatBytes } from '../../core/src/analysis/checks';
import type { BudgetResult } from '../../server/src/protocol';

/** The status bar text and tooltip for a budget result (pure: unit-tested). */
export function budgetText(b: BudgetResult): { text: string; tooltip: string; over: boolean; errors: boolean } {
  const bpw = (x: number) => `${+x.toFixed(3)} bpw`;
  const size = formatBytes(b.bytesOut);
  let text = `${b.errors ? '$(error)' : '$(symbol-ruler)'} ${bpw(b.bpw)} · ${size}`;
  const lines = [
    `Bitsmith: ${b.quantized} of ${b.tensors} tensors quantized`,
    `${formatBytes(b.bytesIn)} → ${size} (${bpw(b.bpw)} over the whole model)`,
  ];
  const over = b.fits === false;
  if (b.errors) {
    // Rules in error set nothing, so the figures are not what the recipe means yet.
    lines.unshift(
      `The recipe has ${b.errors} error${b.errors === 1 ? '' : 's'}: these figures leave out the statements in error.`,
    );
  }
  if (b.budgetBpw !== undefined && b.budgetBytes !== undefined) {
    text += over ? ` $(warning) over ${bpw(b.budgetBpw)} budget` : ` / ${bpw(b.budgetBpw)} budget`;
    lines.push(
      `budget: ${formatBytes(b.budgetBytes)} (${bpw(b.budgetBpw)}): ${over ? `over by ${formatBytes(b.bytesOut - b.budgetBytes)}` : 'fits'}`,
    );
  }
  return { text, tooltip: lines.join('\n'), over, errors: b.errors > 0 };
}
