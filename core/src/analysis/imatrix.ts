// `calibration imatrix "file"`: the llama.cpp importance matrix against the model. Entry
// names are llama.cpp's (blk.3.ffn_down.weight, output.weight); the model's are GGUF or
// Hugging Face names (model.layers.3.mlp.down_proj.weight): both sides are compared in
// llama.cpp's naming, through the table `output gguf` uses (export/gguf.ts). The
// analyzer reports what does not fit on the calibration line; the CLI passes the mapping
// to the runner, which reads the values (native/src/io/imatrix.cc).

import type { Plan } from '../plan';
import type { TensorInfo } from '../models/types';
import { readImatrixHeader, ImatrixReadError, type ImatrixEntryInfo, type ImatrixHeader } from '../models/imatrix';
import { ggufTensorName } from '../models/ggufNames';
import { diag, type Diagnostic } from './diagnostic';
import type { Recipe } from './recipe';

/** Methods that need the full X^T X, which an imatrix (its diagonal) cannot give. */
export const FULL_HESSIAN_METHODS: ReadonlySet<string> = new Set(['gptq', 'awq']);

/** The llama.cpp name of a tensor or entry (GGUF names map to themselves). */
export function imatrixKey(name: string): string {
  return ggufTensorName(name) ?? name;
}

export interface ImatrixMatch {
  /** Model tensor name -> its entry. */
  entryOf: Map<string, ImatrixEntryInfo>;
  /** Entries no tensor of the model has. */
  unmatched: ImatrixEntryInfo[];
}

export function matchImatrix(header: ImatrixHeader, tensors: readonly TensorInfo[]): ImatrixMatch {
  const byKey = new Map<string, ImatrixEntryInfo>();
  for (const e of header.entries) byKey.set(imatrixKey(e.name), e);
  const entryOf = new Map<string, ImatrixEntryInfo>();
  const used = new Set<ImatrixEntryInfo>();
  for (const t of tensors) {
    const e = byKey.get(imatrixKey(t.name));
    if (!e) continue;
    entryOf.set(t.name, e);
    used.add(e);
  }
  return { entryOf, unmatched: header.entries.filter((e) => !used.has(e)) };
}

export interface ImatrixAnalysis {
  header: ImatrixHeader;
  match: ImatrixMatch;
}

const examples = (names: string[]): string => `${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}`;

/** gptq / awq rules in a recipe calibrated by an imatrix only: errors on the method. */
export function imatrixMethodProblems(recipe: Recipe): Diagnostic[] {
  if (recipe.calibration?.kind !== 'imatrix') return [];
  const out: Diagnostic[] = [];
  for (const rule of recipe.rules) {
    const m = rule.settings.method;
    if (m && FULL_HESSIAN_METHODS.has(m.value.name)) {
      out.push(
        diag(
          'calibration/needs-hessian',
          'error',
          m.stmt,
          `Method '${m.value.name}' needs the full Hessian X^T X; calibration imatrix gives only its diagonal (mean x^2 per input). Use calibration generated or calibration tokens "file.json" for ${m.value.name}`,
        ),
      );
    }
  }
  return out;
}

/** Reads the imatrix header and checks it against the plan; diagnostics on the calibration line. */
export function checkImatrix(
  recipe: Recipe,
  plan: Plan,
  absPath: string,
  read: (p: string) => ImatrixHeader = readImatrixHeader,
): { diagnostics: Diagnostic[]; imatrix?: ImatrixAnalysis } {
  const cal = recipe.calibration;
  if (cal?.kind !== 'imatrix' || !cal.path) return { diagnostics: [] };
  const span = cal.path.span;
  let header: ImatrixHeader;
  try {
    header = read(absPath);
  } catch (e) {
    if (e instanceof ImatrixReadError) {
      // A missing file is reported by the analyzer already (calibration/not-found).
      return { diagnostics: e.code === 'calibration/not-found' ? [] : [diag(e.code, 'error', span, e.message)] };
    }
    return { diagnostics: [diag('calibration/unreadable', 'error', span, `${absPath}: ${(e as Error).message}`)] };
  }
  const match = matchImatrix(
    header,
    plan.tensors.map((t) => t.tensor),
  );
  const out: Diagnostic[] = [];
  const file = header.path;
  for (const t of plan.tensors) {
    const e = match.entryOf.get(t.tensor.name);
    if (!e || t.action !== 'quantize') continue;
    if (e.nMat !== 1) {
      out.push(
        diag(
          'calibration/unsupported',
          'error',
          span,
          `${file}: entry "${e.name}" holds ${e.nMat} matrices (MoE experts) for tensor "${t.tensor.name}"; imatrix calibration takes one matrix per tensor`,
        ),
      );
    } else if (e.nIn !== t.cols) {
      // A legacy file stores MoE experts back to back in one entry (it has no n_mat).
      const experts =
        e.nIn > t.cols && e.nIn % t.cols === 0
          ? ` (${e.nIn / t.cols} expert matrices back to back? MoE imatrices are not supported)`
          : '';
      out.push(
        diag(
          'calibration/bad-imatrix',
          'error',
          span,
          `${file}: entry "${e.name}" has ${e.nIn} values but tensor "${t.tensor.name}" has ${t.cols} input features${experts}; is the imatrix for another model?`,
        ),
      );
    }
  }
  if (match.unmatched.length) {
    const n = match.unmatched.length;
    out.push(
      diag(
        'calibration/imatrix-unmatched',
        'warning',
        span,
        `${n} of ${header.entries.length} imatrix entr${n === 1 ? 'y matches' : 'ies match'} no tensor of the model (${examples(match.unmatched.map((e) => e.name))}); is it for another model?`,
      ),
    );
  }
  const missing = plan.tensors
    .filter((t) => t.action === 'quantize' && t.tensor.shape.length === 2 && !match.entryOf.has(t.tensor.name))
    .map((t) => t.tensor.name);
  if (missing.length) {
    out.push(
      diag(
        'calibration/imatrix-missing',
        'info',
        span,
        `${missing.length} quantized matri${missing.length === 1 ? 'x has' : 'ces have'} no imatrix entry and are quantized unweighted (${examples(missing)})`,
      ),
    );
  }
  return { diagnostics: out, imatrix: { header, match } };
}
