// What a run would refuse, or do pointlessly, about the model and the sizes a recipe asks
// for, found before the run: a config.json that contradicts the tensors, calibration or
// evaluation sequences that cannot fit the model or memory, outliers that cost more than
// the weights they replace, input files that are not regular files. `check` and the
// editor report these; `run` refuses on errors. (What the forward pass itself refuses is
// forwardSupport.ts's, on main.)

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileKind } from '../models/files';
import type { Span, Statement } from '../syntax/ast';
import type { Plan } from '../plan';
import type { ModelHeader } from '../models/types';
import { checkModelConfig, type ConfigCheck } from '../models/modelConfig';
import { diag, type Diagnostic } from './diagnostic';
import { fmt } from './bits';
import type { Recipe } from './recipe';

/** Token ids one run may process for calibration or evaluation (each a forward-pass step;
 * llama-perplexity's full wikitext-2 pass is ~300K tokens). */
export const MAX_SEQUENCE_TOKENS = 1 << 24;
/** Outliers above this share of a tensor's weights get a warning (each costs 48 bits). */
export const OUTLIER_WARN_FRACTION = 0.1;
/** The runner's defaults when samples/length are not given (native/src/run/runner.cc). */
const DEFAULT_SAMPLES = 16;
const DEFAULT_LENGTH = 128;

export function checkBounds(
  recipe: Recipe,
  model: ModelHeader,
  plan: Plan | undefined,
  recipePath?: string,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  inputFiles(recipe, recipePath, out);
  const config = checkModelConfig(model);
  if (recipe.model) {
    for (const p of config.problems) {
      out.push(diag('model/bad-config', p.severity, recipe.model.span, p.message));
    }
  }
  sequenceSizes(recipe, model, config, out, recipePath);
  if (plan) outliers(recipe, plan, out);
  return out;
}

/** Calibration and held-out files the runner opens: a FIFO would block it, a device never
 * end. (A missing file is calibration/not-found, reported before the model is read.) */
function inputFiles(recipe: Recipe, recipePath: string | undefined, out: Diagnostic[]): void {
  const cal = recipe.calibration;
  // (An imatrix is opened by the analysis itself, which reports a FIFO there already.)
  const files = [
    cal?.kind !== 'imatrix' ? cal?.path : undefined,
    recipe.evaluate?.perplexity?.tokens,
    recipe.evaluate?.perplexity?.text,
  ];
  for (const f of files) {
    if (!f) continue;
    const abs = path.resolve(recipePath ? path.dirname(recipePath) : process.cwd(), f.value);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      continue;
    }
    if (!st.isFile())
      out.push(diag('calibration/unreadable', 'error', f.span, `${abs}: is ${fileKind(st)}, not a regular file`));
  }
}

/** Positions the model has, from the checked config (or the keys the runner reads). */
function maxPositions(model: ModelHeader, config: ConfigCheck): number | undefined {
  if (config.hparams?.ctx) return config.hparams.ctx;
  const c = model.config;
  for (const key of ['max_position_embeddings', 'n_positions', 'max_seq_len', 'seq_len']) {
    const v = c[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 1) return v;
  }
  return undefined;
}

/** The span of an option's value (`length 256`) in a statement, else the statement. */
function optionSpan(stmt: Statement, name: string): Span {
  const i = stmt.args.findIndex((a) => a.kind === 'ident' && a.name === name);
  return i >= 0 && stmt.args[i + 1] ? stmt.args[i + 1] : stmt.keyword;
}

function sequenceSizes(
  recipe: Recipe,
  model: ModelHeader,
  config: ConfigCheck,
  out: Diagnostic[],
  recipePath?: string,
): void {
  const ctx = maxPositions(model, config);
  const h = config.hparams;
  const check = (
    what: string,
    stmt: Statement,
    samples: number | undefined,
    length: number | undefined,
    defaults: boolean,
    logits: boolean,
  ) => {
    if (length !== undefined && ctx !== undefined && length > ctx) {
      out.push(
        diag(
          'recipe/too-long',
          'error',
          optionSpan(stmt, 'length'),
          `${what} length ${length} is more than the model's ${ctx} positions`,
        ),
      );
      return;
    }
    const n = samples ?? (defaults ? DEFAULT_SAMPLES : undefined);
    const len = length ?? (defaults ? Math.min(DEFAULT_LENGTH, ctx ?? DEFAULT_LENGTH) : undefined);
    if (n !== undefined && len !== undefined && n * len > MAX_SEQUENCE_TOKENS) {
      out.push(
        diag(
          'recipe/too-many-tokens',
          'error',
          optionSpan(stmt, samples !== undefined ? 'samples' : 'length'),
          `${what}: samples ${n} × length ${len} = ${count(n * len)} tokens, more than the ${count(MAX_SEQUENCE_TOKENS)} a run processes (fewer samples or shorter sequences)`,
        ),
      );
      return;
    }
    // One sequence's working set in the forward pass: the key/value cache of every layer,
    // the activations, and (for perplexity) a row of logits per position.
    if (h && len !== undefined) {
      const perToken = 2 * h.blocks * h.kvHeads * h.headDim + 4 * h.embd + 3 * h.ffn + (logits ? h.vocab : 0);
      const bytes = 4 * len * perToken;
      const total = os.totalmem();
      if (bytes > total) {
        out.push(
          diag(
            'recipe/too-long',
            'error',
            optionSpan(stmt, 'length'),
            `${what}: one sequence of ${len} tokens needs about ${bytesText(bytes)} in the forward pass, more than this machine's ${bytesText(total)} of memory`,
          ),
        );
      }
    }
  };
  const cal = recipe.calibration;
  if (cal && cal.kind !== 'imatrix') {
    check(`calibration ${cal.kind}`, cal.stmt, cal.samples, cal.length, cal.kind === 'generated', false);
  }
  const p = recipe.evaluate?.perplexity;
  if (p?.text) perplexityText(p, p.text, ctx, recipePath, out);
  else if (p) check('perplexity', p.stmt, p.samples, p.length, p.tokens === undefined, true);
}

/** Text files the CLI tokenizes (calibration text, perplexity text) are read whole up to this size. */
export const MAX_TEXT_BYTES = 64 * 1024 * 1024;
/** perplexity text: llama-perplexity's default context (-c 512). */
export const DEFAULT_PERPLEXITY_CONTEXT = 512;

/** perplexity text "file": windows of `length` ids of which the second half is scored, as
 * llama-perplexity does. No tokenizer runs in the editor, but a tokenizer never gives more
 * ids than the text has bytes (plus one for a leading space marker), which bounds the windows. */
function perplexityText(
  p: NonNullable<NonNullable<Recipe['evaluate']>['perplexity']>,
  file: { value: string; span: Span },
  ctx: number | undefined,
  recipePath: string | undefined,
  out: Diagnostic[],
): void {
  const length = p.length ?? Math.min(DEFAULT_PERPLEXITY_CONTEXT, ctx ?? DEFAULT_PERPLEXITY_CONTEXT);
  if (p.length !== undefined && ctx !== undefined && p.length > ctx) {
    out.push(
      diag(
        'recipe/too-long',
        'error',
        optionSpan(p.stmt, 'length'),
        `perplexity text length ${p.length} is more than the model's ${ctx} positions`,
      ),
    );
    return;
  }
  if (length < 3) {
    out.push(
      diag(
        'recipe/too-short',
        'error',
        optionSpan(p.stmt, 'length'),
        `perplexity text length ${length}: a window scores the predictions of positions length/2 .. length−2, so it needs at least 3 ids`,
      ),
    );
    return;
  }
  const abs = path.resolve(recipePath ? path.dirname(recipePath) : process.cwd(), file.value);
  let size: number;
  try {
    const st = fs.statSync(abs);
    if (!st.isFile()) return; // inputFiles reports it
    size = st.size;
  } catch {
    return; // calibration/not-found
  }
  if (size > MAX_TEXT_BYTES) {
    out.push(
      diag(
        'calibration/bad-text',
        'error',
        file.span,
        `${abs}: ${bytesText(size)}; perplexity text reads at most ${bytesText(MAX_TEXT_BYTES)} (a shorter file, or samples N)`,
      ),
    );
    return;
  }
  // A window is BOS + length − 1 text ids (or length ids without BOS).
  const maxIds = size + 1;
  if (maxIds < length - 1) {
    out.push(
      diag(
        'calibration/bad-text',
        'error',
        file.span,
        `${abs}: ${size} bytes give at most ${maxIds} tokens, too few for one window of ${length} (a longer text, or a smaller length)`,
      ),
    );
    return;
  }
  const windows = Math.floor((maxIds + 1) / length);
  const n = p.samples !== undefined ? Math.min(p.samples, windows) : windows;
  if (n * length > MAX_SEQUENCE_TOKENS) {
    out.push(
      diag(
        'recipe/too-many-tokens',
        'error',
        optionSpan(p.stmt, p.samples !== undefined ? 'samples' : 'length'),
        `perplexity text: up to ${count(n)} windows × length ${length} = ${count(n * length)} tokens, more than the ${count(MAX_SEQUENCE_TOKENS)} a run processes (give samples N, the windows to score)`,
      ),
    );
  }
}

/** Outliers are stored exactly at 48 bits each: a large share defeats the quantization. */
function outliers(recipe: Recipe, plan: Plan, out: Diagnostic[]): void {
  const worst = new Map<number, { bpw: number; share: number; name: string; source: number }>();
  for (const t of plan.tensors) {
    const c = t.config;
    if (!c || c.outliers === 0 || t.tensor.elements === 0) continue;
    const ri = t.decidedBy.outliers;
    if (ri === undefined) continue;
    const share = c.outliers / t.tensor.elements;
    const w = worst.get(ri);
    if (!w || share > w.share)
      worst.set(ri, { bpw: t.bpw, share, name: t.tensor.name, source: t.tensor.bitsPerElement });
  }
  for (const [ri, w] of worst) {
    const setting = recipe.rules[ri].settings.outliers;
    if (!setting) continue;
    const span = setting.stmt.args[0] ?? setting.stmt.keyword;
    const pct = `${Number((w.share * 100).toPrecision(3))}%`;
    if (w.bpw >= w.source) {
      out.push(
        diag(
          'property/outliers-too-many',
          'error',
          span,
          `outliers keep ${pct} of tensor "${w.name}" exactly (48 bits each): ${fmt(w.bpw)} bpw, no smaller than its ${fmt(w.source)}-bit source`,
        ),
      );
    } else if (w.share > OUTLIER_WARN_FRACTION) {
      out.push(
        diag(
          'property/outliers-too-many',
          'warning',
          span,
          `outliers keep ${pct} of tensor "${w.name}" exactly (48 bits each): ${fmt(w.bpw)} bpw; outlier methods keep well under 1%`,
        ),
      );
    }
  }
}

function count(n: number): string {
  return n >= 1e15 ? n.toExponential(2) : n.toLocaleString('en-US');
}

function bytesText(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}
