// The message protocol between the extension host (client/src/panels) and the webviews:
// one discriminated union per direction, imported by both sides.
import type { RunReport } from '../../../core/src/runReport';
// Host side only (reportProblem): the webviews import this file's types, which esbuild drops.
import { RUN_REPORT_SCHEMA_PATH, runReportProblems } from '../../../core/src/reportSchema';

/** A model as the Inspect Model panel shows it (from core's header reader; no weights). */
export interface ModelView {
  path: string;
  /** The file or folder name. */
  name: string;
  format: string;
  architecture: string;
  parameters: number;
  bytes: number;
  dtype: string;
  /** Files read for the header, relative to the model's folder. */
  files: string[];
  tensors: {
    name: string;
    shape: number[];
    dtype: string;
    elements: number;
    bytes: number;
    file: string;
    offset: number;
  }[];
  /** Scalar config/metadata entries (strings shortened), for display. */
  config: [string, string][];
}

/** The allocation of a recipe with `allocate`, as the Allocation panel shows it (built by
 * client/src/panels/allocationView.ts from core's analysis and measurement cache). */
export interface AllocationView {
  recipe: string;
  name: string;
  metric: string;
  granularity: string;
  /** ok: measured and solved; measure: figures missing; error: the recipe's allocate has errors. */
  status: 'ok' | 'measure' | 'error';
  messages: string[];
  missing: { errors: number; klds: number };
  params: number;
  budget?: { bytes: number; bpw: number };
  minBytes: number;
  maxBytes: number;
  candidates: string[];
  chosen?: {
    bytes: number;
    bpw: number;
    error: number;
    bound: number;
    optimal: boolean;
    counts: Record<string, number>;
  };
  tensors: {
    name: string;
    format: string;
    bytes: number;
    bpw: number;
    error?: number;
    pinned: boolean;
    estimated?: boolean;
    candidates: { format: string; bytes: number; error: number }[];
    excluded: { format: string; reason: string }[];
  }[];
  frontier: { budget: number; bytes: number; bpw: number; error: number; counts: Record<string, number> }[];
  /** The last run of this recipe, when it executed this allocation with `evaluate`: measured KL. */
  measured?: { bytes: number; bpw: number; klMean: number; report: string };
}

export interface LoadedReport {
  /** Absolute path of the report file. */
  file: string;
  report: RunReport;
}

export type HostToWebview =
  | { type: 'report'; file: string; report: RunReport }
  /** Two or more reports, oldest first. */
  | { type: 'compare'; reports: LoadedReport[] }
  | { type: 'model'; model: ModelView }
  | { type: 'allocation'; view: AllocationView }
  /** The document could not be shown: `file` is the file at fault. */
  | { type: 'error'; title: string; message: string; file: string }
  /** A short status line for the webview's live region (export done, no rule to reveal, ...). */
  | { type: 'notice'; message: string; level: 'info' | 'warning' | 'error' };

export type WebviewToHost =
  /** The webview's script has loaded: the host (re)sends its data. */
  | { type: 'ready' }
  /** Read the file(s) again from disk. */
  | { type: 'reload' }
  /** Open the recipe at the rule that decided this tensor. */
  | { type: 'revealRule'; tensor: string }
  /** Save the tensors as CSV, in the given order (the table as filtered and sorted), or all. */
  | { type: 'exportCsv'; tensors?: string[]; what?: 'runs' }
  /** Save the report (or the compare join) as JSON. */
  | { type: 'exportJson' }
  /** Compare Runs: the two runs the tensor table joins now (indexes). */
  | { type: 'comparePair'; a: number; b: number }
  /** Allocation panel: measure what is missing (bitsmith allocate). */
  | { type: 'measure' }
  /** Allocation panel: set the recipe's budget to this many bytes (a frontier point). */
  | { type: 'setBudget'; bytes: number }
  /** Allocation panel: open the recipe as it would read at this budget (allocate written out as rules). */
  | { type: 'previewRecipe'; bytes: number };

/** What each webview keeps with setState, so a reload or a restart restores it. */
export interface ReportState {
  kind: 'report';
  file: string;
  sort?: { column: string; direction: 'ascending' | 'descending' };
  filter?: string;
  format?: string;
  selected?: string;
  logScale?: boolean;
  errorMetric?: 'relError' | 'outputError';
}
export interface CompareState {
  kind: 'compare';
  /** Every report compared (two or more). */
  files: string[];
  /** Which two runs the tensor table joins (indexes into files). */
  a?: number;
  b?: number;
  /** The size axis of the size-vs-KL chart. */
  sizeAxis?: 'bpw' | 'bytes';
  /** Panels saved before N-run compare kept these two. */
  fileA?: string;
  fileB?: string;
  sort?: { column: string; direction: 'ascending' | 'descending' };
  filter?: string;
}
export interface ModelState {
  kind: 'model';
  path: string;
  sort?: { column: string; direction: 'ascending' | 'descending' };
  filter?: string;
}
export interface AllocationState {
  kind: 'allocation';
  recipe: string;
  sort?: { column: string; direction: 'ascending' | 'descending' };
  filter?: string;
  logScale?: boolean;
}
export type WebviewState = ReportState | CompareState | ModelState | AllocationState;

/** Narrowing for messages arriving from a webview (untrusted shape). */
export function isWebviewMessage(value: unknown): value is WebviewToHost {
  if (!value || typeof value !== 'object') return false;
  const m = value as { type?: unknown; tensor?: unknown; tensors?: unknown };
  switch (m.type) {
    case 'ready':
    case 'reload':
    case 'exportJson':
    case 'measure':
      return true;
    case 'setBudget':
    case 'previewRecipe':
      return (
        typeof (m as { bytes?: unknown }).bytes === 'number' &&
        Number.isInteger((m as { bytes: number }).bytes) &&
        (m as { bytes: number }).bytes > 0
      );
    case 'revealRule':
      return typeof m.tensor === 'string';
    case 'exportCsv': {
      const what = (m as { what?: unknown }).what;
      return (
        (what === undefined || what === 'runs') &&
        (m.tensors === undefined || (Array.isArray(m.tensors) && m.tensors.every((t) => typeof t === 'string')))
      );
    }
    case 'comparePair': {
      const { a, b } = m as { a?: unknown; b?: unknown };
      return Number.isInteger(a) && Number.isInteger(b) && (a as number) >= 0 && (b as number) >= 0;
    }
    default:
      return false;
  }
}

/**
 * Checks that parsed JSON is a run report the panels can show; returns the problem (naming
 * the file) or undefined.
 */
export function reportProblem(value: unknown, file: string): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return `${file} does not hold a JSON object`;
  const r = value as Partial<RunReport>;
  if (r.type !== 'report') return `${file} is not a Bitsmith run report (expected "type": "report")`;
  if (typeof r.reportVersion === 'number' && r.reportVersion > 1) {
    return `${file} is a version ${r.reportVersion} report; this Bitsmith reads version 1`;
  }
  if (!Array.isArray(r.tensors)) return `${file}: the report has no "tensors" array`;
  if (!r.totals || typeof r.totals !== 'object') return `${file}: the report has no "totals"`;
  if (!r.recipe || typeof r.recipe.path !== 'string') return `${file}: the report does not name its recipe`;
  if (!r.model || typeof r.model.path !== 'string') return `${file}: the report does not name its model`;
  for (const [i, t] of r.tensors.entries()) {
    if (!t || typeof t.name !== 'string' || !Array.isArray(t.shape)) return `${file}: tensor ${i} has no name or shape`;
  }
  // Then the published schema, field by field (fields it does not list are allowed: newer reports add some).
  const problems = runReportProblems(value, { max: 3 });
  if (problems.length)
    return `${file} does not match the run report schema (${RUN_REPORT_SCHEMA_PATH}): ${problems.join('; ')}`;
  return undefined;
}
