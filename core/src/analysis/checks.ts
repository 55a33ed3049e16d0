// Semantic checks that need the model: what the rules select, whether the grids fit the
// tensors they are given, and the budget. Whether the outputs and exports can store or
// express the plan is export/checks.ts's.

import type { QuantConfig } from './bits';
import type { Span } from '../syntax/ast';
import type { Plan, TensorPlan } from '../plan';
import { FORMAT_BY_NAME, METHOD_BY_NAME } from '../language/formats';
import { diag, type Diagnostic, type Severity } from './diagnostic';
import type { PropName, Recipe, Rule } from './recipe';
import { fmt } from './bits';
import type { ModelHeader } from '../models/types';
import { checkMethods } from './methodFit';
import { pushAll } from '../arrays';
import { checkDeadline } from './deadline';
import { patternMatches } from './resolve';

export function checkRecipe(recipe: Recipe): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rule of recipe.rules) {
    const m = rule.settings.method;
    if (!m) continue;
    const info = METHOD_BY_NAME.get(m.value.name);
    const needs =
      info?.needsCalibration === true ||
      (info?.needsCalibration === 'when-weighted' && m.value.options.weighted === true);
    if (needs && !recipe.calibration) {
      out.push(
        diag(
          'method/needs-calibration',
          'error',
          m.stmt,
          `Method '${m.value.name}' needs calibration data: add a 'calibration' statement (e.g. calibration generated, or calibration imatrix "file")`,
        ),
      );
    }
  }
  // Formats llama.cpp refuses to quantize without an importance matrix.
  if (!recipe.calibration) {
    const needs = (name: string) => FORMAT_BY_NAME.get(name)?.needsCalibration === true;
    const message = (name: string) =>
      `${name} needs calibration data, as in llama.cpp (its grid search is only as good as the importance it weighs the weights by; without it the result is garbage): add a 'calibration' statement (e.g. calibration imatrix "file", or calibration generated)`;
    for (const rule of recipe.rules) {
      const f = rule.settings.format;
      if (f && needs(f.value)) out.push(diag('format/needs-calibration', 'error', f.stmt, message(f.value)));
    }
    for (const f of recipe.allocate?.formats ?? [])
      if (needs(f.name)) out.push(diag('format/needs-calibration', 'error', f.span, message(f.name)));
  }
  return out;
}

export function checkPlan(recipe: Recipe, plan: Plan, model?: ModelHeader): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const rule of recipe.rules) {
    checkDeadline(`checking ${recipe.rules.length} rules`);
    const summary = plan.rules[rule.index];
    if (rule.kind === 'match') {
      for (const p of rule.patterns) {
        if (p.compiled.error) continue;
        // Cheap answers first (the rule's matched tensors), the scan of every tensor only for a
        // pattern that will get the warning: running each pattern over the whole model on every
        // analysis took most of its time on a 1,000-tensor model with 300 rules.
        const hit =
          (rule.patterns.length === 1 && summary.matched.length > 0) ||
          (model
            ? patternMatches(model.tensors, p).length > 0
            : summary.matched.some((ti) => p.compiled.test(plan.tensors[ti].tensor.name)) ||
              plan.tensors.some((t) => p.compiled.test(t.tensor.name)));
        if (!hit) {
          out.push(diag('pattern/no-match', 'warning', p.span, `Pattern "${p.text}" matches no tensor of the model`));
        }
      }
      const setsSomething = Object.keys(rule.settings).length > 0;
      if (setsSomething && summary.matched.length > 0 && summary.decided.length === 0) {
        const later = new Set<number>();
        for (const ti of summary.matched)
          for (const ri of Object.values(plan.tensors[ti].decidedBy))
            if (ri !== undefined && ri > rule.index) later.add(ri);
        out.push(
          diag(
            'rule/overridden',
            'hint',
            rule.stmt.keyword,
            `Every property this rule sets is overridden by later rules for all ${summary.matched.length} tensors it matches`,
            {
              unnecessary: true,
              related: [...later].map((ri) => ({
                span: recipe.rules[ri].stmt.keyword,
                message: `overridden by ${recipe.rules[ri].label}`,
              })),
            },
          ),
        );
      }
    }
  }
  pushAll(
    out,
    checkFit(recipe, plan),
    checkMethods(recipe, plan),
    checkSources(recipe, plan),
    checkBudget(recipe, plan),
  );
  return out;
}

/** Where to report a problem with property `prop` of a tensor: the statement that set it, else the format's. */
export function blame(recipe: Recipe, t: TensorPlan, prop: PropName): { rule: Rule; span: Span } | undefined {
  for (const p of [prop, 'format'] as PropName[]) {
    const ri = t.decidedBy[p];
    if (ri === undefined) continue;
    const s = recipe.rules[ri].settings[p];
    if (s) return { rule: recipe.rules[ri], span: s.stmt };
  }
  return undefined;
}

/** Collects per-statement problems so a rule with 100 bad tensors gets one diagnostic. */
export class Grouped {
  private map = new Map<
    string,
    { span: Span; first: TensorPlan; count: number; make: (first: TensorPlan, count: number) => string; code: string }
  >();
  /** `variant` splits one statement's diagnostics of a code (e.g. per source dtype). */
  add(code: string, span: Span, t: TensorPlan, make: (first: TensorPlan, count: number) => string, variant = '') {
    const key = `${code}@${span.start}:${variant}`;
    const e = this.map.get(key);
    if (e) e.count++;
    else this.map.set(key, { span, first: t, count: 1, make, code });
  }
  flush(out: Diagnostic[], severity: Severity = 'error') {
    for (const e of this.map.values()) out.push(diag(e.code, severity, e.span, e.make(e.first, e.count)));
  }
}

export const shape = (t: TensorPlan) => `[${t.tensor.shape.join(', ')}]`;
export const others = (n: number) => (n > 1 ? ` (and ${n - 1} more tensor${n > 2 ? 's' : ''})` : '');

/** Why a configuration cannot hold rows of `cols` elements: the format's block (or fixed
 * group), or the recipe's group size, does not divide them. The one rule the checks and the
 * allocator (candidates excluded per tensor) share. */
export function rowMisfit(c: QuantConfig, cols: number): { prop: 'format' | 'group'; unit: number } | undefined {
  const block = c.format.block?.weights ?? c.format.fixedGroup;
  if (block) return cols % block !== 0 ? { prop: 'format', unit: block } : undefined;
  return c.groupKind === 'size' && cols % c.group !== 0 ? { prop: 'group', unit: c.group } : undefined;
}

function checkFit(recipe: Recipe, plan: Plan): Diagnostic[] {
  const out: Diagnostic[] = [];
  const g = new Grouped();
  for (const t of plan.tensors) {
    const c = t.config;
    if (!c) continue;
    const f = c.format;
    const misfit = rowMisfit(c, t.cols);
    if (misfit?.prop === 'format') {
      const at = blame(recipe, t, 'format');
      if (at)
        g.add(
          'tensor/block-mismatch',
          at.span,
          t,
          (first, n) =>
            `${f.name} needs the input dimension to be a multiple of ${misfit.unit}, but ${first.tensor.name} ${shape(first)} has ${first.cols}${others(n)}`,
        );
    } else if (misfit) {
      const at = blame(recipe, t, 'group');
      if (at)
        g.add(
          'tensor/group-mismatch',
          at.span,
          t,
          (first, n) =>
            `group ${c.group} does not divide the input dimension of ${first.tensor.name} ${shape(first)} (${first.cols} columns)${others(n)}`,
        );
    }
  }
  g.flush(out);
  // A rule that sets `group` or `symmetric false` together with a format that fixes them.
  for (const rule of recipe.rules) {
    const fmtName = rule.settings.format?.value;
    const grp = rule.settings.group;
    const sym = rule.settings.symmetric;
    const f = fmtName ? plan.tensors.find((t) => t.config?.format.name === fmtName)?.config?.format : undefined;
    if (!f) continue;
    const fixed = f.block?.weights ?? f.fixedGroup;
    if (grp && fixed && grp.value !== fixed) {
      out.push(
        diag(
          'format/fixed-group',
          'warning',
          grp.stmt,
          `${f.name} has a fixed block of ${fixed}; this group setting is ignored`,
          { unnecessary: true },
        ),
      );
    }
    if (sym && sym.value === false && (f.symmetricOnly || f.block)) {
      out.push(
        diag(
          'format/symmetric-only',
          'warning',
          sym.stmt,
          `${f.name} has no zero point; 'symmetric false' is ignored`,
          { unnecessary: true },
        ),
      );
    }
  }
  return out;
}

/** A GGUF source tensor in a ggml block type the backend decodes (the ggml formats). */
export function isDecodableGgml(dtype: string): boolean {
  return FORMAT_BY_NAME.get(dtype.toLowerCase())?.family === 'ggml';
}

/** Block-quantized source tensors: quantizing them again compounds the rounding error. */
function checkSources(recipe: Recipe, plan: Plan): Diagnostic[] {
  const out: Diagnostic[] = [];
  const g = new Grouped();
  for (const t of plan.tensors) {
    if (!t.config || !isDecodableGgml(t.tensor.dtype)) continue;
    const at = blame(recipe, t, 'format');
    if (!at) continue;
    const src = t.tensor.dtype;
    const to = t.config.format.name;
    g.add(
      'source/requantized',
      at.span,
      t,
      (first, n) =>
        `${first.tensor.name} ${shape(first)}${others(n)} is already ${src} (${fmt(first.tensor.bitsPerElement)} bpw) in the source: ` +
        (to === src.toLowerCase()
          ? `quantizing it to ${to} again searches new scales for the decoded values and rarely gives back the same blocks; keep it to copy the blocks unchanged into output gguf`
          : `quantizing it to ${to} rounds the decoded ${src} values, so the two rounding errors add up; the reported error is measured against the decoded ${src} values, not the original weights`),
      `${src}:${to}`,
    );
  }
  g.flush(out, 'info');
  return out;
}

function checkBudget(recipe: Recipe, plan: Plan): Diagnostic[] {
  const b = recipe.budget;
  const pb = plan.budget;
  // With allocate, the allocator fits the budget (or says it cannot: allocate/infeasible).
  if (!b || !pb || pb.fits || recipe.allocate) return [];
  const costly = plan.rules
    .filter((r) => r.bytesOut > 0)
    .sort((a, c) => c.bytesOut - a.bytesOut)
    .slice(0, 3)
    .map((r) => `${r.label} (${formatBytes(r.bytesOut)})`);
  const kept = plan.tensors.filter((t) => t.action === 'keep').reduce((a, t) => a + t.bytesOut, 0);
  const parts = [
    `Over budget by ${formatBytes(pb.overBytes)}: the recipe needs ${formatBytes(plan.totals.bytesOut)} (${fmt(plan.totals.bpw)} bpw), the budget allows ${formatBytes(pb.bytes)} (${fmt(pb.bpw)} bpw).`,
  ];
  if (costly.length) parts.push(`Largest rules: ${costly.join(', ')}.`);
  if (kept) parts.push(`Tensors kept in source precision: ${formatBytes(kept)}.`);
  return [diag('budget/exceeded', 'error', b.stmt, parts.join(' '))];
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  let x = n;
  while (Math.abs(x) >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(x)} B` : `${x.toFixed(x >= 100 ? 1 : 2)} ${units[u]}`;
}
