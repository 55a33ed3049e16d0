// Finding things in the syntax tree by offset: the statements around the cursor, the
// token under it, and the rule a statement belongs to.
import type { Analysis, RecipeFile, Rule, Span, Statement, Value } from '../../../core/src/index';

/** Statements from the top level down whose span (block included) contains the offset (end inclusive). */
export function statementPath(file: RecipeFile, offset: number): Statement[] {
  const out: Statement[] = [];
  let list = file.statements;
  for (;;) {
    const s = find(list, offset);
    if (!s) return out;
    out.push(s);
    if (!s.block || offset <= s.block.start) return out;
    list = s.block.statements;
  }
}

/** Binary search: the statement whose [start, end] contains the offset (statements are in order). */
function find(list: Statement[], offset: number): Statement | undefined {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = list[mid];
    if (offset < s.start) hi = mid - 1;
    else if (offset > s.end) lo = mid + 1;
    else return s;
  }
  return undefined;
}

/**
 * Statements whose block the cursor is inside, outermost first. A closed block contains
 * offsets up to its '}'; an unclosed one (while typing) runs to the next statement of its parent.
 */
export function openBlocks(file: RecipeFile, offset: number): Statement[] {
  const out: Statement[] = [];
  let list = file.statements;
  let limit = file.end;
  for (;;) {
    let next: Statement | undefined;
    let nextLimit = limit;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.start >= offset) break;
      const b = s.block;
      if (!b) continue;
      const end = b.close ?? (i + 1 < list.length ? list[i + 1].start - 1 : limit);
      if (b.start < offset && offset <= end) {
        next = s;
        nextLimit = end;
      }
    }
    if (!next) return out;
    out.push(next);
    list = next.block!.statements;
    limit = nextLimit;
  }
}

export type TokenAt = { kind: 'keyword'; span: Span } | { kind: 'arg'; index: number; value: Value; span: Span };

/** The keyword or argument of a statement under the offset (end inclusive, so the cursor just after a word counts). */
export function tokenAt(stmt: Statement, offset: number): TokenAt | undefined {
  const k = stmt.keyword;
  if (k.start <= offset && offset <= k.end) return { kind: 'keyword', span: k };
  for (let i = 0; i < stmt.args.length; i++) {
    const a = stmt.args[i];
    if (a.start <= offset && offset <= a.end) return { kind: 'arg', index: i, value: a, span: a };
  }
  return undefined;
}

export function inComment(file: RecipeFile, offset: number): boolean {
  return file.comments.some((c) => c.start <= offset && offset <= c.end);
}

const ruleMaps = new WeakMap<Analysis, Map<Statement, Rule>>();

/** The rule a `match`/`defaults` statement defines. */
export function ruleOf(analysis: Analysis, stmt: Statement): Rule | undefined {
  let map = ruleMaps.get(analysis);
  if (!map) {
    map = new Map(analysis.recipe.rules.map((r) => [r.stmt, r]));
    ruleMaps.set(analysis, map);
  }
  return map.get(stmt);
}
