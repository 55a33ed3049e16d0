// The grids each method runs on, checked per rule so the editor, `bitsmith check` and
// `bitsmith run` show the problem on the rule's method statement. These are properties
// of the methods (what they optimise), not gaps of the runner (those are in executable.ts).

import type { Plan } from '../plan';
import { diag, type Diagnostic, type Severity } from './diagnostic';
import type { Recipe } from './recipe';
import type { TensorPlan } from '../plan';

/** Why `method` cannot run on this tensor's grid (error), or what to know (info). `codes`:
 * the recipe writes an output that stores codes (gguf, compressed_tensors); `awqNames`:
 * the tensors using awq. */
export function methodGridProblem(
  t: TensorPlan,
  codes = false,
  awqNames: ReadonlySet<string> = new Set(),
  plan?: Plan,
): { severity: Severity; code: string; message: string } | undefined {
  const c = t.config;
  if (!c) return undefined;
  if (t.method.name === 'awq' && codes && /(^|\.)o_proj\.weight$/.test(t.tensor.name)) {
    // o's 1/s goes into v_proj's rows when each query head has its own value head (v rows
    // == o columns), v_proj uses awq and has no bias (run/awq_run.h).
    const vName = t.tensor.name.replace(/o_proj\.weight$/, 'v_proj.weight');
    const v = plan?.tensors.find((x) => x.tensor.name === vName);
    const bias = plan?.tensors.some((x) => x.tensor.name === vName.replace(/weight$/, 'bias'));
    if (!v || v.rows !== t.cols || !awqNames.has(vName) || bias) {
      return {
        severity: 'info',
        code: 'method/awq-not-folded',
        message:
          "method awq leaves o_proj unscaled (RTN) when an output stores codes, unless its 1/s can go into v_proj's rows: that needs one value head per query head (no grouped-query attention), v_proj with method awq and no v bias",
      };
    }
  }
  if (
    t.method.name === 'awq' &&
    codes &&
    /(^|\.)down_proj\.weight$/.test(t.tensor.name) &&
    !awqNames.has(t.tensor.name.replace(/down_proj\.weight$/, 'up_proj.weight'))
  ) {
    return {
      severity: 'info',
      code: 'method/awq-not-folded',
      message:
        "method awq leaves down_proj unscaled (RTN) when an output stores codes unless up_proj uses awq too: its 1/s goes into up_proj's rows",
    };
  }
  const error = (message: string) => ({ severity: 'error' as const, code: 'method/unsupported-grid', message });
  if (t.method.name === 'hqq') {
    if (c.format.family !== 'int')
      return error(`method hqq optimises the zero point of the int2..int8 grids, not ${c.format.name}`);
    if (c.symmetric)
      return error('method hqq optimises the zero point, which a symmetric grid does not have: add symmetric false');
    if (c.zero === 'int') {
      return {
        severity: 'info',
        code: 'method/hqq-zero-int',
        message:
          "method hqq moves zero points by fractions of a step; an integer zero (zero int) rarely changes (RTN's is kept unless a neighbouring integer lowers the loss): zero f16 is where hqq helps",
      };
    }
  }
  return undefined;
}

/** The weights whose input the forward pass sees (the attention and MLP projections of a
 * Llama-family block, in Hugging Face or llama.cpp naming): the only ones with a Hessian
 * and activation statistics, so the only ones gptq and awq can run on. */
const WITH_ACTIVATIONS =
  /(?:\.(?:self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)|(?:^|\.)blk\.\d+\.(?:attn_(?:q|k|v|output)|ffn_(?:gate|up|down)))\.weight$/;

export function hasInputActivations(name: string): boolean {
  return WITH_ACTIVATIONS.test(name);
}

/** The method a tensor actually runs with: gptq and awq on a weight without input
 * activations (a token embedding, the output head) fall back to rtn, visibly (a hint on the
 * rule; the run report names both). */
export function effectiveMethod(t: TensorPlan): string {
  const m = t.method.name;
  return (m === 'gptq' || m === 'awq') && t.config && !hasInputActivations(t.tensor.name) ? 'rtn' : m;
}

/** gptq/awq asked for weights without input activations: a hint per rule, or an error when
 * the rule gives that method to no tensor that has them. */
function checkFallbacks(recipe: Recipe, plan: Plan): Diagnostic[] {
  const byRule = new Map<number, { method: string; fallback: string[]; runs: number }>();
  for (const t of plan.tensors) {
    if (!t.config || (t.method.name !== 'gptq' && t.method.name !== 'awq')) continue;
    const ri = t.decidedBy.method ?? -1;
    const e = byRule.get(ri) ?? { method: t.method.name, fallback: [], runs: 0 };
    byRule.set(ri, e);
    if (hasInputActivations(t.tensor.name)) e.runs++;
    else e.fallback.push(t.tensor.name);
  }
  const out: Diagnostic[] = [];
  for (const [ri, e] of byRule) {
    if (!e.fallback.length) continue;
    const rule = recipe.rules[ri];
    const span = rule?.settings.method?.stmt ?? rule?.stmt ?? { start: 0, end: 0 };
    const which = `${e.fallback[0]}${e.fallback.length > 1 ? ` and ${e.fallback.length - 1} more` : ''}`;
    if (e.runs === 0) {
      out.push(
        diag(
          'method/no-activations',
          'error',
          span,
          `method ${e.method} needs a layer's input activations, which ${which} does not have (only the attention and MLP projections do): use rtn or hqq for ${e.fallback.length === 1 ? 'it' : 'them'}`,
        ),
      );
    } else {
      out.push(
        diag(
          'method/fallback-rtn',
          'hint',
          span,
          `method ${e.method} falls back to rtn for ${which} (no input activations: embeddings and the output head); the run report names the method used`,
        ),
      );
    }
  }
  return out;
}

export function checkMethods(recipe: Recipe, plan: Plan): Diagnostic[] {
  const byRule = new Map<
    string,
    { ri: number; problem: NonNullable<ReturnType<typeof methodGridProblem>>; tensors: string[] }
  >();
  const codes = recipe.outputs.some((o) => o.kind === 'gguf' || o.kind === 'compressed_tensors');
  const awqNames = new Set(plan.tensors.filter((t) => t.config && t.method.name === 'awq').map((t) => t.tensor.name));
  for (const t of plan.tensors) {
    const problem = methodGridProblem(t, codes, awqNames, plan);
    if (!problem) continue;
    const ri = t.decidedBy.method ?? -1;
    const key = `${ri}:${problem.message}`;
    const e = byRule.get(key);
    if (e) e.tensors.push(t.tensor.name);
    else byRule.set(key, { ri, problem, tensors: [t.tensor.name] });
  }
  const out: Diagnostic[] = [];
  for (const {
    ri,
    problem: { severity, code, message },
    tensors,
  } of byRule.values()) {
    const rule = recipe.rules[ri];
    const span = rule?.settings.method?.stmt ?? rule?.stmt ?? { start: 0, end: 0 };
    const which = `${tensors.length} tensor${tensors.length === 1 ? '' : 's'}, e.g. ${tensors[0]}`;
    out.push(diag(code, severity, span, `${message} (${rule?.label ?? 'rule'}: ${which})`));
  }
  return out.concat(checkFallbacks(recipe, plan));
}
