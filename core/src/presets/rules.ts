// From per-tensor decisions to the `match` rules a person would write: the tensors that
// share a decision (the same settings for the same reason) become one rule, whose patterns
// name them with the block number as `*` when every block has that tensor, as `{0,3,6}`
// when some have, and spelt out otherwise. Every pattern set is checked with the recipe
// language's own matcher against all of the model's tensors (1-D ones too: a pattern that
// names a tensor's leaf also changes its `.bias`): it must select exactly the chosen
// tensors, else the names are written as anchored `re:` expressions.

import { compilePattern } from '../analysis/pattern';
import { escapeRegex } from '../export/selectors';
import type { TensorInfo } from '../models/types';

/** What a rule sets, in recipe syntax: `keep`, or `format q6_k`, `group channel`, ... */
export interface Decision {
  /** The statements of the rule's block, e.g. ['format q6_k'] or ['keep']. */
  settings: string[];
  /** Why, for the comment after the rule (one line). */
  reason: string;
}

export interface RuleText {
  patterns: string[];
  decision: Decision;
  /** How many tensors it selects. */
  count: number;
}

const BLOCK = /(^|\.)(layers|blk|h|block|blocks|layer)\.(\d+)\./;

interface Template {
  prefix: string;
  suffix: string;
  kind: string;
}

function splitBlock(name: string): { t: Template; block: number } | undefined {
  const m = BLOCK.exec(name);
  if (!m) return undefined;
  const at = m.index + m[1].length + m[2].length + 1;
  return {
    t: { prefix: name.slice(0, at), suffix: name.slice(at + m[3].length), kind: m[2] },
    block: Number(m[3]),
  };
}

const tkey = (t: Template) => `${t.prefix}\u0000${t.suffix}`;

/** Glob syntax in a name would make it mean something else. */
const GLOB_CHARS = /[*?[\]{}()!+@,"\\]/;

/** The block numbers as a glob: `{0,3,6,7}`, `{4..9}` for a run, a single number as is. */
function blockSet(blocks: number[]): string {
  if (blocks.length === 1) return String(blocks[0]);
  const contiguous = blocks.every((b, i) => i === 0 || b === blocks[i - 1] + 1);
  return contiguous && blocks.length > 2 ? `{${blocks[0]}..${blocks[blocks.length - 1]}}` : `{${blocks.join(',')}}`;
}

/** Patterns selecting exactly `chosen` among `all` (names as stored). */
export function patternsFor(chosen: readonly string[], all: readonly TensorInfo[]): string[] {
  const chosenSet = new Set(chosen);
  const blocksOf = new Map<string, number[]>(); // template -> every block that has it
  for (const t of all) {
    const s = splitBlock(t.name);
    if (!s) continue;
    const k = tkey(s.t);
    const list = blocksOf.get(k);
    if (list) list.push(s.block);
    else blocksOf.set(k, [s.block]);
  }
  const patterns: string[] = [];
  const byTemplate = new Map<string, { t: Template; blocks: number[] }>();
  for (const name of chosen) {
    const s = splitBlock(name);
    if (!s || GLOB_CHARS.test(name)) {
      patterns.push(GLOB_CHARS.test(name) ? `re:${escapeRegex(name)}` : name);
      continue;
    }
    const k = tkey(s.t);
    const e = byTemplate.get(k);
    if (e) e.blocks.push(s.block);
    else {
      byTemplate.set(k, { t: s.t, blocks: [s.block] });
      patterns.push(`\u0000${k}`); // placeholder, keeps the order of first appearance
    }
  }
  const resolved = patterns.map((p) => {
    if (!p.startsWith('\u0000')) return p;
    const { t, blocks } = byTemplate.get(p.slice(1))!;
    const every = new Set(blocksOf.get(tkey(t)));
    const sorted = [...new Set(blocks)].sort((a, b) => a - b);
    const set = sorted.length === every.size && sorted.length > 1 ? '*' : blockSet(sorted);
    return `${t.prefix}${set}${t.suffix}`;
  });
  // Without `.weight` reads better (`lm_head`), unless that would also name a `.bias`;
  // siblings merge into one pattern (`mlp.{gate_proj,up_proj}`) where that selects the same.
  const short = resolved.map((p) => (p.startsWith('re:') ? p : p.replace(/\.weight$/, '')));
  for (const candidate of [mergeLeaves(short), short, mergeLeaves(resolved), resolved])
    if (selectsExactly(candidate, chosenSet, all)) return candidate;
  // A name the globs cannot single out (unusual characters, clashing tails): spell each out.
  return chosen.map((n) => `re:${escapeRegex(n)}`);
}

/** Patterns that differ only in their last segment (before a `.weight`) become one: `a.{x,y}`. */
function mergeLeaves(patterns: readonly string[]): string[] {
  const byHead = new Map<string, string[]>();
  const order: string[] = [];
  for (const p of patterns) {
    const suffix = p.endsWith('.weight') ? '.weight' : '';
    const base = p.slice(0, p.length - suffix.length);
    const dot = base.lastIndexOf('.');
    const leaf = base.slice(dot + 1);
    if (p.startsWith('re:') || dot < 0 || /[{}*]/.test(leaf)) {
      order.push(p);
      continue;
    }
    const key = `${base.slice(0, dot)}\u0000${suffix}`;
    const list = byHead.get(key);
    if (list) list.push(leaf);
    else {
      byHead.set(key, [leaf]);
      order.push(`\u0001${key}`);
    }
  }
  return order.map((p) => {
    if (!p.startsWith('\u0001')) return p;
    const key = p.slice(1);
    const [head, suffix] = key.split('\u0000');
    const leaves = byHead.get(key)!;
    return `${head}.${leaves.length === 1 ? leaves[0] : `{${leaves.join(',')}}`}${suffix}`;
  });
}

function selectsExactly(patterns: readonly string[], chosen: ReadonlySet<string>, all: readonly TensorInfo[]): boolean {
  const compiled = patterns.map(compilePattern);
  if (compiled.some((c) => c.error)) return false;
  for (const t of all) {
    const hit = compiled.some((c) => c.test(t.name));
    if (hit !== chosen.has(t.name)) return false;
  }
  return true;
}

/**
 * Groups tensors by decision (settings and reason) into rules, in the order each decision
 * first appears among `decided`. `decided` holds only the tensors that need a rule.
 */
export function rulesFor(
  decided: readonly { tensor: TensorInfo; decision: Decision }[],
  all: readonly TensorInfo[],
): RuleText[] {
  const groups = new Map<string, { decision: Decision; names: string[] }>();
  for (const { tensor, decision } of decided) {
    const k = `${decision.settings.join('; ')}\u0000${decision.reason}`;
    const g = groups.get(k);
    if (g) g.names.push(tensor.name);
    else groups.set(k, { decision, names: [tensor.name] });
  }
  return [...groups.values()].map((g) => ({
    patterns: patternsFor(g.names, all),
    decision: g.decision,
    count: g.names.length,
  }));
}

/** `# reason` then `match "a", "b" { format q6_k }`. */
export function ruleLines(r: RuleText): string[] {
  const pats = r.patterns.map((p) => `"${p}"`).join(', ');
  const rule = `match ${pats} { ${r.decision.settings.join('; ')} }`;
  return r.decision.reason ? [`# ${r.decision.reason}`, rule] : [rule];
}
