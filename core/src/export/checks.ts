// What each output and export can store or express, as diagnostics on the recipe: a format
// GGUF or compressed-tensors cannot hold, a model output gguf cannot describe, settings
// llm-compressor or llama-quantize cannot translate (or translate inexactly). The analysis
// (analyze.ts) runs these after the plan's own checks.

import type { Span } from '../syntax/ast';
import type { Plan, TensorPlan } from '../plan';
import { GGML_FORMATS_TEXT } from '../language/formats';
import { diag, type Diagnostic } from '../analysis/diagnostic';
import type { PropName, Recipe } from '../analysis/recipe';
import { blame, Grouped, isDecodableGgml, others, shape } from '../analysis/checks';
import type { ModelHeader } from '../models/types';
import { pushAll } from '../arrays';
import { compressedTensorsIssue } from './compressedTensors';
import { llmCompressorAnalysis } from './llmCompressor';
import { llamaQuantizeInexact, llamaQuantizeProblem } from './llamaQuantize';
import { ggufModelProblem } from './gguf';

const EMBEDDING = /(^|\.)(embed_tokens|tok_embeddings|word_embeddings|wte|token_embd)\.weight$/;

/** Which quantized configurations each output kind can store, and the property to blame. */
function outputProblem(kind: string, t: TensorPlan): { prop: PropName; message: string } | undefined {
  if (kind === 'compressed_tensors') return compressedTensorsIssue(t);
  const message = ggufProblem(kind, t);
  return message ? { prop: 'format', message } : undefined;
}

function ggufProblem(kind: string, t: TensorPlan): string | undefined {
  const c = t.config!;
  const f = c.format;
  const extras = [c.outliers ? 'outliers' : '', c.lowrank ? 'lowrank' : '', t.rotate !== 'none' ? 'rotate' : ''].filter(
    Boolean,
  );
  if (kind === 'gguf') {
    if (f.family !== 'ggml')
      return `GGUF output stores ggml block types only (${GGML_FORMATS_TEXT}) or keeps tensors in f32/f16/bf16; ${f.name} is not one (use e.g. q4_k, q6_k, q8_0, or keep)`;
    if (extras.length) return `GGUF output cannot store ${extras.join(', ')}`;
  }
  return undefined;
}

const GGUF_KEPT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Whether each output can store the plan (per tensor, blamed on the rule that chose the
 *  setting), and whether each export can express it. */
export function checkOutputs(recipe: Recipe, plan: Plan, model?: ModelHeader): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const o of recipe.outputs) {
    const g = new Grouped();
    for (const t of plan.tensors) {
      if (!t.config) {
        if (o.kind === 'gguf' && !GGUF_KEPT_DTYPES.has(t.tensor.dtype) && !isDecodableGgml(t.tensor.dtype)) {
          g.add(
            'output/unsupported-format',
            o.stmt,
            t,
            (first, n) =>
              `GGUF output keeps tensors in f32, f16, bf16 or the ggml block types bitsmith reads (${GGML_FORMATS_TEXT}, copied unchanged); ${first.tensor.name} ${shape(first)} is kept in ${first.tensor.dtype}${others(n)} (output gguf "${o.path.value}")`,
          );
        }
        continue;
      }
      const issue = outputProblem(o.kind, t);
      if (!issue) continue;
      const problem = issue.message;
      const at = blame(recipe, t, issue.prop);
      g.add(
        'output/unsupported-format',
        at?.span ?? o.stmt,
        t,
        (first, n) =>
          `${problem}: ${first.tensor.name} ${shape(first)}${others(n)}, set by ${at?.rule.label ?? 'the defaults'} (output ${o.kind} "${o.path.value}")`,
      );
    }
    g.flush(out);
    if (o.kind === 'fake' || o.kind === 'compressed_tensors') {
      // safetensors holds no ggml blocks: the runner writes these tensors' decoded values.
      const blocks = plan.tensors.filter((t) => isDecodableGgml(t.tensor.dtype) && (!t.config || o.kind === 'fake'));
      if (blocks.length) {
        const kept = blocks.filter((t) => !t.config).length;
        const first = blocks[0];
        out.push(
          diag(
            'output/decoded-source',
            'info',
            o.stmt,
            `${blocks.length} tensor${blocks.length === 1 ? ' is' : 's are'} block-quantized in the source (e.g. ${first.tensor.name}, ${first.tensor.dtype}); ` +
              `safetensors cannot hold ggml blocks, so output ${o.kind} writes their decoded values as F32 (exact, 32 bpw)` +
              (kept ? `, ${kept} of them kept; output gguf copies kept blocks unchanged` : ''),
          ),
        );
      }
    }
    if (o.kind === 'gguf' && model) {
      const why = ggufModelProblem(model);
      if (why)
        out.push(
          diag('output/unsupported-model', 'error', o.stmt, `output gguf cannot be written for this model: ${why}`),
        );
    }
    if (o.kind === 'compressed_tensors') {
      // Quantized embeddings are valid compressed-tensors, but vLLM quantizes linear layers only.
      const embeds = plan.tensors.filter(
        (t) => t.action === 'quantize' && EMBEDDING.test(t.tensor.name) && !compressedTensorsIssue(t),
      );
      const at = embeds.length ? blame(recipe, embeds[0], 'format') : undefined;
      if (at) {
        out.push(
          diag(
            'output/loader-support',
            'warning',
            at.span,
            `${embeds[0].tensor.name} is an embedding: compressed-tensors stores it quantized, but vLLM loads quantized linear layers only; keep it (match "${embeds[0].tensor.name.replace(/\.weight$/, '')}" { keep }) for a checkpoint vLLM serves`,
          ),
        );
      }
    }
  }
  pushAll(out, checkExports(recipe, plan));
  return out;
}

/** Warnings on the rules whose settings an `export` cannot translate, or translates to
 *  something the other tool runs differently (the export writes a comment for each). */
function checkExports(recipe: Recipe, plan: Plan): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const e of recipe.exports) {
    if (e.kind === 'llm_compressor' && plan.tensors.some((t) => /^blk\.\d+\./.test(t.tensor.name))) {
      out.push(
        diag(
          'export/untranslatable',
          'warning',
          e.stmt,
          'llm-compressor works on Hugging Face checkpoints; this model has GGUF tensor names, which its targets would not match',
        ),
      );
    }
    let issuesOf:
      ((t: TensorPlan) => { prop: PropName; message: string; kind: 'untranslatable' | 'inexact' }[]) | undefined;
    if (e.kind === 'llm_compressor') {
      const a = llmCompressorAnalysis(recipe, plan);
      issuesOf = (t) => a.issues.get(t) ?? [];
    } else if (e.kind === 'llama_quantize') {
      issuesOf = (t) => {
        const p = llamaQuantizeProblem(t);
        if (p) return [{ ...p, kind: 'untranslatable' }];
        return llamaQuantizeInexact(t, recipe).map((i) => ({ ...i, kind: 'inexact' as const }));
      };
    }
    if (!issuesOf) continue;
    const seen = new Map<
      string,
      { span: Span; first: string; count: number; message: string; kind: 'untranslatable' | 'inexact' }
    >();
    for (const t of plan.tensors) {
      if (t.action !== 'quantize') continue;
      for (const p of issuesOf(t)) {
        const ri = t.decidedBy[p.prop] ?? t.decidedBy.format;
        const rule = ri !== undefined ? recipe.rules[ri] : undefined;
        const span = rule?.settings[p.prop]?.stmt ?? rule?.settings.format?.stmt ?? rule?.stmt ?? e.stmt;
        const key = `${p.kind}:${span.start}:${p.message}`;
        const s = seen.get(key);
        if (s) s.count++;
        else seen.set(key, { span, first: t.tensor.name, count: 1, message: p.message, kind: p.kind });
      }
    }
    for (const s of seen.values()) {
      out.push(
        s.kind === 'inexact'
          ? diag(
              'export/inexact',
              'warning',
              s.span,
              `export ${e.kind} "${e.path.value}": ${s.message}: ${s.first}${others(s.count)} (translated as the closest setting, with a NOT EXACT comment)`,
            )
          : diag(
              'export/untranslatable',
              'warning',
              s.span,
              `export ${e.kind} "${e.path.value}": ${s.message}: ${s.first}${others(s.count)} (left out of the translation, with a comment)`,
            ),
      );
    }
  }
  return out;
}
