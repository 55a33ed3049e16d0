// Hover text for `allocate` (and the allocation part of `budget` and rule hovers): the
// chosen mix, its size and predicted error from the measurement cache, or what still has
// to be measured and how.
import { fmt, formatBytes, type Analysis, type TensorPlan } from '../../../core/src/index';

/** "12 int4, 5 int6, 1 int8": formats by how many tensors have them, most first. */
export function mixText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([f, n]) => `${n} ${f}`)
    .join(', ');
}

export function allocateHover(analysis: Analysis, head: string): string {
  const a = analysis.allocation;
  const out = [head];
  if (!a) return out.concat('', analysis.plan ? '' : 'No model loaded: nothing to allocate.').join('\n');
  const s = a.setup;
  const params = analysis.plan?.totals.params ?? 0;
  const bpw = (bytes: number) => (params ? fmt((8 * bytes) / params) : '?');
  out.push(
    '',
    `**${s.free.length}** tensors to allocate, ${s.pinned.length} pinned by match rules; achievable ${formatBytes(s.minBytes)} (${bpw(s.minBytes)} bpw) to ${formatBytes(s.maxBytes)} (${bpw(s.maxBytes)} bpw).`,
  );
  const excluded = s.free.filter((f) => f.excluded.length);
  if (excluded.length)
    out.push(
      '',
      `Candidates excluded for ${excluded.length} tensors, e.g. \`${excluded[0].name}\`: ${excluded[0].excluded.map((e) => e.reason).join('; ')}.`,
    );
  const r = a.result;
  if (r) {
    const sol = r.solution;
    out.push('', `**Chosen mix:** ${mixText(r.counts)}`);
    out.push(
      '',
      `Size **${formatBytes(sol.bytes)}** (${bpw(sol.bytes)} bpw)${s.budgetBytes !== undefined ? ` of the budget ${formatBytes(s.budgetBytes)}` : ''}; predicted error (${r.metric}) ${sol.error.toExponential(3)}${r.metric === 'output' ? ' nats of KL (output error scaled by measured KL)' : ''}, ${sol.optimal ? 'optimal' : `within ${sol.gap.toExponential(2)} of the relaxation bound`}.`,
    );
    out.push('', 'Quick action: *Write the allocation as match rules* pins it in the recipe.');
  } else if (a.missing.length) {
    const errors = a.missing.filter((m) => m.kind === 'error').length;
    out.push(
      '',
      `**Not measured yet** (${errors} errors, ${a.missing.length - errors} KL divergences missing): run \`bitsmith allocate\` on this recipe, or *Bitsmith: Run Recipe*, which measures first. Figures are cached${a.file ? ` in \`${a.file}\`` : ''}; until then sizes use the defaults' format.`,
    );
  } else if (!a.file) {
    out.push('', 'Save the recipe to measure: measurements are cached beside it.');
  }
  return out.join('\n');
}

/** For a rule hover: which formats the allocator chose for the rule's tensors. */
export function allocatedLine(tensors: TensorPlan[], matched: number[]): string | undefined {
  const counts: Record<string, number> = {};
  let n = 0;
  for (const ti of matched) {
    const t = tensors[ti];
    if (!t.allocated || !t.config) continue;
    counts[t.config.format.name] = (counts[t.config.format.name] ?? 0) + 1;
    n++;
  }
  return n ? `\`allocate\` chose the format of ${n} of these tensors: ${mixText(counts)}.` : undefined;
}
