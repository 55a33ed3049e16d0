// Diagnostics as core reports them: offsets into the recipe text, a stable code, and
// optional data for quick fixes. The server and the CLI convert offsets to positions.

import { closest, distance } from 'fastest-levenshtein';
import type { Span } from '../syntax/ast';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface Diagnostic extends Span {
  code: string;
  severity: Severity;
  message: string;
  /** Rendered faded in the editor (e.g. a rule every property of which is overridden). */
  unnecessary?: boolean;
  /** A replacement for [start, end) that fixes the problem ("did you mean"). */
  fix?: { title: string; newText: string };
  /** Related places (e.g. the rule that overrides this one). */
  related?: { span: Span; message: string }[];
}

export function diag(
  code: string,
  severity: Severity,
  span: Span,
  message: string,
  extra: Partial<Diagnostic> = {},
): Diagnostic {
  return { code, severity, start: span.start, end: span.end, message, ...extra };
}

/** The closest candidate to a misspelt word, if it is close enough to be a likely typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const best = closest(word.toLowerCase(), candidates as string[]);
  const d = distance(word.toLowerCase(), best);
  return d <= (best.length <= 3 ? 1 : Math.max(2, Math.floor(best.length / 3))) ? best : undefined;
}

/** An "unknown X" diagnostic with a "did you mean" fix when a candidate is close. */
export function unknown(
  code: string,
  span: Span,
  what: string,
  word: string,
  candidates: readonly string[],
): Diagnostic {
  const best = suggest(word, candidates);
  const list = candidates.length <= 12 ? ` Expected one of: ${candidates.join(', ')}.` : '';
  return best
    ? diag(code, 'error', span, `Unknown ${what} '${word}'. Did you mean '${best}'?`, {
        fix: { title: `Change to '${best}'`, newText: best },
      })
    : diag(code, 'error', span, `Unknown ${what} '${word}'.${list}`);
}
