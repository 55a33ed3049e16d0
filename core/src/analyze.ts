// The one entry point from recipe text to plan and diagnostics. The language server,
// the CLI and the runner all call this; none of them computes a budget on its own.

import * as fs from 'fs';
import * as path from 'path';
import { parse } from './syntax/parser';
import type { RecipeFile } from './syntax/ast';
import type { ModelHeader } from './models/types';
import { ModelReadError } from './models/types';
import { readModelHeader } from './models/load';
import { findTokenizer } from './models/tokenizer';
import type { Plan } from './plan';
import { interpret, type Recipe } from './analysis/recipe';
import { resolvePlan } from './analysis/resolve';
import { checkPlan, checkRecipe } from './analysis/checks';
import { checkOutputs } from './export/checks';
import { checkBounds } from './analysis/bounds';
import { AnalysisTimeout, checkDeadline, withDeadline } from './analysis/deadline';
import { diag, type Diagnostic } from './analysis/diagnostic';
import { notExecutable } from './analysis/executable';
import { allocationFor, type AllocationState } from './allocate/state';
import { checkImatrix, imatrixMethodProblems, type ImatrixAnalysis } from './analysis/imatrix';
import type { ImatrixHeader } from './models/imatrix';
import { pushAll } from './arrays';
import { forwardProblems } from './analysis/forwardSupport';
import { checkOutputSafety, type ModelGuard, type OutputFacts } from './analysis/outputSafety';
import { resolveModelRef, type CacheEnv, type ModelRef } from './models/modelRef';
import { nodeOutputFacts } from './analysis/outputFacts';
import { lineEndOf } from './text';
import { checkGgufOutput } from './export/ggufOutput';
import type { GgufTokenizerLoader } from './export/gguf';
import type { GgufTokenizerResult } from './export/ggufTokenizer';

export interface AnalyzeOptions {
  /** Absolute path of the recipe file: relative paths in it resolve from its folder. */
  recipePath?: string;
  /** Loads a model header (the language server passes a cached loader). Throws ModelReadError. */
  loadModel?: (absolutePath: string) => ModelHeader;
  /** Checks whether a file exists (calibration inputs); defaults to fs.existsSync. */
  exists?: (absolutePath: string) => boolean;
  /** Reads an imatrix header (calibration imatrix); defaults to readImatrixHeader. */
  loadImatrix?: (absolutePath: string) => ImatrixHeader;
  /** What the output-safety rule sees of the file system; defaults to nodeOutputFacts. */
  outputFacts?: OutputFacts;
  /** Time budget (ms) for the plan and its checks, or a function of the model giving it:
   * past it, the analysis stops with an analysis/timeout warning (the language server
   * sets one; the CLI does not). */
  timeLimitMs?: number | ((model: ModelHeader) => number);
  /** Converts a folder's tokenizer for output gguf (the language server passes a cached
   *  loader keeping summaries only); defaults to loadGgufTokenizer. */
  loadGgufTokenizer?: GgufTokenizerLoader;
  /** `--model`: a path or a Hugging Face id read instead of the recipe's `model` (so one
   *  recipe serves several checkpoints); a relative path resolves from `modelBase`. */
  modelOverride?: string;
  /** The folder `modelOverride` resolves from (default: the current folder). */
  modelBase?: string;
  /** The environment the Hugging Face cache location is read from (default process.env). */
  env?: CacheEnv;
}

export interface Analysis {
  file: RecipeFile;
  recipe: Recipe;
  /** Absolute model path, when the recipe names one (for a Hugging Face id, its snapshot folder). */
  modelPath?: string;
  /** What the model string (or --model) named: a path or a Hugging Face id, resolved. */
  modelRef?: ModelRef;
  model?: ModelHeader;
  modelError?: ModelReadError;
  plan?: Plan;
  /** With `allocate`: its setup, measurements and (once measured) the allocation the plan uses. */
  allocation?: AllocationState;
  /** calibration imatrix: the file's header and its entries matched to the model's tensors. */
  imatrix?: ImatrixAnalysis;
  /** output gguf: the model's tokenizer as the file carries it (undefined: none to carry). */
  ggufTokenizer?: GgufTokenizerResult;
  diagnostics: Diagnostic[];
}

export function resolvePath(recipePath: string | undefined, p: string): string {
  return path.resolve(recipePath ? path.dirname(recipePath) : process.cwd(), p);
}

export function analyze(text: string, options: AnalyzeOptions = {}): Analysis {
  const { file, errors } = parse(text);
  const { recipe, diagnostics } = interpret(file);
  const all: Diagnostic[] = errors.map((e) => diag(e.code, 'error', e, e.message));
  pushAll(all, diagnostics, checkRecipe(recipe), imatrixMethodProblems(recipe));
  const result: Analysis = { file, recipe, diagnostics: all };
  const exists = options.exists ?? fs.existsSync;
  const cal = recipe.calibration;
  if (cal?.path && !exists(resolvePath(options.recipePath, cal.path.value))) {
    all.push(
      diag(
        'calibration/not-found',
        'error',
        cal.path.span,
        `Calibration file not found: ${resolvePath(options.recipePath, cal.path.value)}`,
      ),
    );
  }
  const ppl = recipe.evaluate?.perplexity;
  const heldOut = ppl?.tokens ?? ppl?.text;
  if (heldOut && !exists(resolvePath(options.recipePath, heldOut.value))) {
    all.push(
      diag(
        'calibration/not-found',
        'error',
        heldOut.span,
        `Held-out ${ppl?.text ? 'text' : 'token'} file not found: ${resolvePath(options.recipePath, heldOut.value)}`,
      ),
    );
  }

  analyzeModel(result, text, options);
  // Output safety last: it guards the model as resolved (a cache snapshot, its blobs, the
  // files it was read from).
  const facts = options.outputFacts ?? nodeOutputFacts;
  pushAll(
    all,
    checkOutputSafety(recipe, { recipePath: options.recipePath, facts, model: modelGuardOf(result) }).diagnostics,
  );
  return done(result);
}

/** What no output may touch of the analysed model: null when the model string names nothing. */
export function modelGuardOf(a: Analysis): ModelGuard | null {
  const ref = a.modelRef;
  if (!ref || ref.error) return null;
  return {
    path: ref.path,
    folders: ref.hub ? [{ path: ref.hub.repo, what: `the Hugging Face cache folder of ${ref.hub.id}` }] : [],
    files: a.model?.files ?? [],
  };
}

/** Everything that needs the model: reading its header, the plan and the checks on it. */
function analyzeModel(result: Analysis, text: string, options: AnalyzeOptions): void {
  const { file, recipe, diagnostics: all } = result;
  const exists = options.exists ?? fs.existsSync;
  const cal = recipe.calibration;
  const override = options.modelOverride;
  const written = override ?? recipe.model?.path;
  if (written === undefined) {
    if (!file.statements.some((s) => s.keyword.name === 'model')) {
      all.push(
        diag(
          'recipe/missing-model',
          'error',
          { start: 0, end: Math.min(text.length, firstLineEnd(text)) },
          'The recipe names no model: add model "path/to/model" (a folder, .safetensors, .gguf or llama2.c .bin, or a Hugging Face id "org/name" in the local cache)',
        ),
      );
    }
    return;
  }
  // Errors about the model go on its string; with --model and no model statement, on the first line.
  const modelSpan = recipe.model?.span ?? { start: 0, end: Math.min(text.length, firstLineEnd(text)) };
  const prefix = override !== undefined ? `--model ${override}: ` : '';
  const base =
    override !== undefined
      ? (options.modelBase ?? process.cwd())
      : options.recipePath
        ? path.dirname(options.recipePath)
        : process.cwd();
  const ref = resolveModelRef(written, base, { env: options.env, exists });
  result.modelRef = ref;
  result.modelPath = ref.path;
  if (ref.error) {
    result.modelError = ref.error;
    all.push(diag(ref.error.code, 'error', modelSpan, prefix + ref.error.message));
    return;
  }
  let model: ModelHeader;
  try {
    model = (options.loadModel ?? readModelHeader)(ref.path);
  } catch (e) {
    let err =
      e instanceof ModelReadError
        ? e
        : new ModelReadError('model/unreadable', `Cannot read model ${ref.path}: ${(e as Error).message}`, ref.path);
    if (ref.hub && (err.code === 'model/not-found' || err.code === 'model/unknown-format')) {
      // A snapshot with some files only (hf_hub_download of config.json), or a link whose blob is gone.
      err = new ModelReadError(
        err.code,
        `${err.message} (${ref.hub.id}@${ref.hub.revision} in the Hugging Face cache: is the download complete? \`huggingface-cli download ${ref.hub.id}${ref.hub.revision === 'main' ? '' : ` --revision ${ref.hub.revision}`}\` fetches what is missing)`,
        err.file,
        err.tensor,
      );
    }
    result.modelError = err;
    all.push(diag(err.code, 'error', modelSpan, prefix + err.message));
    return;
  }
  result.model = model;
  pushAll(all, forwardProblems(recipe, model));
  if (cal?.kind === 'text' && !findTokenizer(ref.path, exists)) {
    all.push(
      diag(
        'calibration/no-tokenizer',
        'error',
        cal.stmt,
        `calibration text needs the model's tokenizer: no tokenizer.json beside ${ref.path}. Use calibration tokens "file.json" (token ids) or calibration generated`,
      ),
    );
  }
  const ppl = recipe.evaluate?.perplexity;
  if (ppl?.text && !findTokenizer(ref.path, exists)) {
    all.push(
      diag(
        'calibration/no-tokenizer',
        'error',
        ppl.stmt,
        `perplexity text needs the model's tokenizer: no tokenizer.json beside ${ref.path}. Use perplexity tokens "file.json" (token ids) or generated sequences`,
      ),
    );
  }
  try {
    const limit = typeof options.timeLimitMs === 'function' ? options.timeLimitMs(model) : options.timeLimitMs;
    withDeadline(limit, () => planAndCheck(result, model, options));
  } catch (e) {
    if (!(e instanceof AnalysisTimeout)) throw e;
    // No half-made plan: hover and budgets would show numbers for the wrong configuration.
    result.plan = undefined;
    result.allocation = undefined;
    result.imatrix = undefined;
    all.push(
      diag(
        'analysis/timeout',
        'warning',
        modelSpan,
        `Analysis stopped ${e.message}, its time budget in the editor: the plan and its checks are incomplete (bitsmith check runs without a limit)`,
      ),
    );
  }
}

/** The plan, the allocation and every check that needs the model. */
function planAndCheck(result: Analysis, model: ModelHeader, options: AnalyzeOptions): void {
  const { recipe, diagnostics: all } = result;
  const cal = recipe.calibration;
  result.plan = resolvePlan(recipe, model);
  if (recipe.allocate) {
    const calFile = cal?.path ? resolvePath(options.recipePath, cal.path.value) : undefined;
    const a = allocationFor(recipe, result.plan, model, options.recipePath, calFile);
    pushAll(all, a.diagnostics);
    result.allocation = a.state;
    const chosen = a.state?.result?.formats;
    if (chosen) result.plan = resolvePlan(recipe, model, (ti) => chosen.get(ti));
  }
  checkDeadline('checking the plan');
  pushAll(all, checkPlan(recipe, result.plan, model), checkOutputs(recipe, result.plan, model));
  checkDeadline('checking the plan');
  pushAll(
    all,
    checkBounds(recipe, model, result.plan, options.recipePath),
    notExecutable(recipe, result.plan, 'warning'),
  );
  const gguf = checkGgufOutput(recipe, model, options.loadGgufTokenizer);
  pushAll(all, gguf.diagnostics);
  result.ggufTokenizer = gguf.tokenizer;
  if (cal?.kind === 'imatrix' && cal.path) {
    const im = checkImatrix(recipe, result.plan, resolvePath(options.recipePath, cal.path.value), options.loadImatrix);
    pushAll(all, im.diagnostics);
    result.imatrix = im.imatrix;
  }
}

/** Diagnostics in text order (a stable sort: equal starts keep the order they were found in). */
function done(result: Analysis): Analysis {
  result.diagnostics.sort((a, b) => a.start - b.start);
  return result;
}

function firstLineEnd(text: string): number {
  return lineEndOf(text, 0);
}
