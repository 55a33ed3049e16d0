// `export llama_quantize "cmd.sh"`: the plan as a llama-quantize command line over a GGUF
// of the source model (convert_hf_to_gguf.py first, for a Hugging Face model). It needs a
// llama-quantize with --tensor-type (llama.cpp from April 2025 on). llama.cpp picks a
// tensor's type as follows: --token-embedding-type for token_embd.weight,
// --output-tensor-type for output.weight, else a --tensor-type REGEX=TYPE whose regex
// std::regex_search finds in the GGUF name (unanchored; patterns are lower-cased; the
// the first match wins in current releases, the last in earlier ones), else the base type with its
// mixture rules. So every 2-D weight gets an anchored pattern (^...$, layer numbers as
// [0-9]+ when every layer shares the type; the patterns select disjoint sets, so the order
// of matching does not matter), in the plan's tensor order, and the base type is one no
// tensor uses: some llama.cpp versions skip an override equal to the base type and fall
// back to the mixture rules. Kept tensors get their source type (f32 / f16 / bf16).
//
// Options that differ from what Bitsmith ran are explicit: the types above, --imatrix for
// `calibration imatrix` (llama-quantize weights its scale searches by it, as Bitsmith does),
// --allow-requantize for a quantized GGUF source. --pure is not passed: every 2-D weight has
// its own pattern, so no mixture rule applies, and in earlier releases --pure also disabled
// the --tensor-type overrides, and skipped an override when the mixture's own type for the
// tensor did not fit its rows (a fallback): such a tensor (rows not a multiple of 32, like a
// kept down_proj of 172 columns) then got llama.cpp's fallback type.
//
// What llama-quantize cannot reproduce: its encoders are its own (the types are the plan's,
// the codes llama.cpp's); it has no gptq, awq or hqq (those tensors get its own rounding for
// the same type: a `# NOT EXACT` comment and an 'inexact' issue per rule); its only
// importance input is an imatrix (Bitsmith's searches weighted by a forward pass's Hessian
// diagonal are not reproduced: make an imatrix with llama-imatrix on the same text). What
// llama.cpp has no type for (nf4, int grids, outliers, lowrank, rotate) is kept in source
// precision, with a `# NOT TRANSLATED` comment and an issue per rule.

import type { ModelHeader } from '../models/types';
import type { Plan, TensorPlan } from '../plan';
import type { PropName, Recipe } from '../analysis/recipe';
import type { ExportIssue, ModelName, Translation } from './llmCompressor';
import { effectiveMethod } from '../analysis/methodFit';
import { exactSelectors } from './selectors';
import { translationMarkLine } from '../io/provenance';
import { FORMATS } from '../language/formats';

/** The ggml types: llama-quantize takes each by name (--tensor-type REGEX=TYPE). */
const GGML_TYPES: ReadonlySet<string> = new Set(FORMATS.filter((f) => f.family === 'ggml').map((f) => f.name));
/** Types llama-quantize refuses without --imatrix (iq1_m: except token_embd and output). */
const NEEDS_IMATRIX = new Set(['iq2_xxs', 'iq2_xs', 'iq2_s', 'iq1_s', 'iq1_m']);
const BASE_CANDIDATES: [string, string][] = [
  ['q8_0', 'Q8_0'],
  ['q4_0', 'Q4_0'],
  ['q4_1', 'Q4_1'],
  ['q5_0', 'Q5_0'],
  ['q5_1', 'Q5_1'],
  ['q6_k', 'Q6_K'],
];

const HF_TO_GGUF: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, 'blk.$1.attn_q.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, 'blk.$1.attn_k.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, 'blk.$1.attn_v.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.(weight|bias)$/, 'blk.$1.attn_output.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.q_norm\.weight$/, 'blk.$1.attn_q_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.k_norm\.weight$/, 'blk.$1.attn_k_norm.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
];

/** The llama.cpp (GGUF) name of a tensor: GGUF sources keep theirs, Hugging Face Llama-family names are mapped. */
export function ggufName(name: string, model: ModelHeader): string | undefined {
  if (model.format === 'gguf') return name;
  for (const [re, to] of HF_TO_GGUF) if (re.test(name)) return name.replace(re, to);
  return undefined;
}

/** The llama.cpp type a kept tensor stays in. */
function sourceType(t: TensorPlan): string | undefined {
  const d = t.tensor.dtype.toLowerCase();
  return ['f32', 'f16', 'bf16'].includes(d) ? d : GGML_TYPES.has(d) ? d : undefined;
}

/** Why llama-quantize cannot give this tensor the plan's type at all (it is then kept). */
export function llamaQuantizeProblem(t: TensorPlan): { prop: PropName; message: string } | undefined {
  const c = t.config;
  if (!c) return undefined;
  if (!GGML_TYPES.has(c.format.name))
    return {
      prop: 'format',
      message: `llama.cpp has no ${c.format.name} type (the ggml types q4_0 ... q6_k, iq1_s ... iq4_xs, tq1_0, tq2_0 translate)`,
    };
  if (c.outliers) return { prop: 'outliers', message: 'llama.cpp types cannot keep outliers' };
  if (c.lowrank) return { prop: 'lowrank', message: 'llama.cpp has no low-rank correction' };
  if (t.rotate !== 'none') return { prop: 'rotate', message: 'llama-quantize does not rotate weights' };
  return undefined;
}

/** What llama-quantize runs differently for a tensor it gives the plan's type (translated, noted). */
export function llamaQuantizeInexact(t: TensorPlan, recipe: Recipe): { prop: PropName; message: string }[] {
  if (!t.config || llamaQuantizeProblem(t)) return [];
  const out: { prop: PropName; message: string }[] = [];
  const method = effectiveMethod(t);
  if (method !== 'rtn')
    out.push({
      prop: 'method',
      message: `llama-quantize has no ${method} method: it rounds these tensors with its own ${t.config.format.name} encoder${recipe.calibration?.kind === 'imatrix' ? ' (weighted by the imatrix)' : ''}; the ${method} codes are in Bitsmith's own output gguf`,
    });
  const cal = recipe.calibration;
  if (method === 'rtn' && cal && cal.kind !== 'imatrix')
    out.push({
      prop: 'format',
      message: `Bitsmith weights the ${t.config.format.name} scale search by the importance of each input channel from calibration ${cal.kind}; llama-quantize takes that only as an imatrix (make one with llama-imatrix on the same text and pass --imatrix)`,
    });
  return out;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function llamaQuantizeCommand(
  recipe: Recipe,
  plan: Plan,
  model: ModelHeader,
  source: string,
  outputHint: string,
  modelName: ModelName = { label: model.path },
): Translation {
  const issues = new Map<string, ExportIssue>();
  const note = (
    t: TensorPlan,
    rule: number | undefined,
    prop: PropName | undefined,
    message: string,
    kind?: 'inexact',
  ) => {
    const key = `${kind}:${rule}:${message}`;
    const e = issues.get(key);
    if (e) e.tensors.push(t.tensor.name);
    else issues.set(key, { rule, prop, message, tensors: [t.tensor.name], ...(kind ? { kind } : {}) });
  };
  // Per 2-D weight: its GGUF name and the llama.cpp type it gets.
  const chosen: { gguf: string; type: string; elements: number }[] = [];
  for (const t of plan.tensors) {
    if (t.tensor.shape.length < 2) {
      if (t.action === 'quantize') note(t, t.decidedBy.format, 'format', 'llama-quantize never quantizes 1-D tensors');
      continue;
    }
    const gguf = ggufName(t.tensor.name, model);
    if (!gguf) {
      note(
        t,
        t.decidedBy.format,
        undefined,
        `no llama.cpp name for ${t.tensor.name} (Llama-family Hugging Face names are mapped)`,
      );
      continue;
    }
    let type: string | undefined;
    if (t.action === 'quantize') {
      const problem = llamaQuantizeProblem(t);
      if (problem)
        note(
          t,
          t.decidedBy[problem.prop] ?? t.decidedBy.format,
          problem.prop,
          `${problem.message}; kept in source precision here`,
        );
      else {
        type = t.config!.format.name;
        for (const i of llamaQuantizeInexact(t, recipe))
          note(t, t.decidedBy[i.prop] ?? t.decidedBy.format, i.prop, i.message, 'inexact');
      }
    }
    type ??= sourceType(t);
    if (!type) {
      note(t, t.decidedBy.format, undefined, `llama-quantize cannot keep ${t.tensor.name} as ${t.tensor.dtype}`);
      continue;
    }
    chosen.push({ gguf, type, elements: t.tensor.elements });
  }
  const allNames = plan.tensors.map((t) => ggufName(t.tensor.name, model)).filter((n): n is string => !!n);
  const used = new Set(chosen.map((c) => c.type));
  const base = BASE_CANDIDATES.find(([t]) => !used.has(t)) ?? BASE_CANDIDATES[0];

  const args: string[] = [];
  const embd = chosen.find((c) => c.gguf === 'token_embd.weight');
  const output = chosen.find((c) => c.gguf === 'output.weight');
  if (embd) args.push(`--token-embedding-type ${embd.type}`);
  if (output) args.push(`--output-tensor-type ${output.type}`);
  // One pattern per type and per run of names, in the plan's order.
  const rest = chosen.filter((c) => c !== embd && c !== output);
  const byType = new Map<string, string[]>();
  for (const c of rest) {
    const l = byType.get(c.type);
    if (l) l.push(c.gguf);
    else byType.set(c.type, [c.gguf]);
  }
  const restNames = allNames.filter((n) => n !== 'token_embd.weight' && n !== 'output.weight');
  for (const [type, names] of byType) {
    for (const body of exactSelectors(names, restNames)) args.push(`--tensor-type ${sh(`^${body}$=${type}`)}`);
  }
  if (model.format === 'gguf' && plan.tensors.some((t) => /^(Q|IQ|TQ)\d/i.test(t.tensor.dtype)))
    args.push('--allow-requantize');
  const cal = recipe.calibration;
  // The imatrix llama-quantize reads: the calibration's file, or the one output imatrix
  // writes from a forward-pass calibration.
  const written = cal && cal.kind !== 'imatrix' ? recipe.outputs.find((o) => o.kind === 'imatrix') : undefined;
  const imatrixFile = cal?.kind === 'imatrix' && cal.path ? cal.path.value : written?.path.value;
  if (!imatrixFile) {
    const refused = chosen.filter(
      (c) => NEEDS_IMATRIX.has(c.type) && !(c.type === 'iq1_m' && (c === embd || c === output)),
    );
    if (refused.length)
      note(
        { tensor: { name: refused[0].gguf } } as TensorPlan,
        undefined,
        undefined,
        `llama-quantize refuses ${[...new Set(refused.map((c) => c.type))].join(', ')} without --imatrix (give the recipe calibration imatrix "file", or output imatrix "file" with a calibration)`,
      );
  }
  if (imatrixFile) args.push(`--imatrix ${sh(imatrixFile)}`);

  const issueList = [...issues.values()];
  const lines: string[] = [];
  lines.push('#!/bin/sh');
  lines.push(translationMarkLine(source));
  lines.push('# A llama-quantize command (llama.cpp from April 2025 on: it needs --tensor-type).');
  lines.push(`# model: ${modelName.label}`);
  if (model.format !== 'gguf')
    lines.push(
      '# The input is a GGUF of the unquantized model: convert_hf_to_gguf.py MODEL --outtype f32 --outfile IN.gguf',
    );
  lines.push('# Every 2-D weight has an anchored pattern selecting exactly the tensors the Bitsmith plan gives that');
  lines.push(`# type; the base type ${base[1]} is used by none of them (so llama.cpp's mixture rules never apply).`);
  lines.push(
    "# llama.cpp's own quantizer encodes the blocks (the codes differ from Bitsmith's; the types are the plan's).",
  );
  lines.push(
    '# --pure is not passed: every 2-D weight has its own pattern (and --pure disabled --tensor-type in earlier releases).',
  );
  for (const i of issueList) {
    const label = i.rule !== undefined ? (recipe.rules[i.rule]?.label ?? 'rule') : 'recipe';
    const n = `${i.tensors.length} tensor${i.tensors.length === 1 ? '' : 's'}`;
    lines.push(
      i.kind === 'inexact'
        ? `# NOT EXACT (${label}): ${i.message}; ${n}, e.g. ${i.tensors[0]}`
        : `# NOT TRANSLATED (${label}): ${i.message}; ${n}, e.g. ${i.tensors[0]}`,
    );
  }
  lines.push('set -e');
  lines.push(`IN="\${1:-${model.format === 'gguf' ? model.path : 'model-f32.gguf'}}"`);
  lines.push(`OUT="\${2:-${outputHint}}"`);
  lines.push(`exec "\${LLAMA_QUANTIZE:-llama-quantize}" \\`);
  for (const a of args) lines.push(`  ${a} \\`);
  lines.push(`  "$IN" "$OUT" ${base[1]}`);
  return { text: lines.join('\n') + '\n', issues: issueList };
}
