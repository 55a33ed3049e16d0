// `export llama_quantize "cmd.sh"`: the plan as a llama-quantize command line over a GGUF
// of the source model (convert_hf_to_gguf.py first, for a Hugging Face model). llama.cpp
// picks a tensor's type as follows: --token-embedding-type for token_embd.weight,
// --output-tensor-type for output.weight, else the first --tensor-type REGEX=TYPE whose
// regex std::regex_search finds in the GGUF name (unanchored; patterns are lower-cased),
// else the base type with its mixture rules. So every 2-D weight gets an anchored pattern
// (^...$, layer numbers as [0-9]+ when every layer shares the type), in the plan's tensor
// order, and the base type is one no tensor uses: some llama.cpp versions skip an override
// equal to the base type and fall back to the mixture rules. Kept tensors get their source
// type (f32 / f16 / bf16). What llama.cpp has no type for is kept too, with a comment and
// an issue per rule.

import type { ModelHeader } from '../models/types';
import type { Plan, TensorPlan } from '../plan';
import type { PropName, Recipe } from '../analysis/recipe';
import type { ExportIssue, Translation } from './llmCompressor';
import { exactSelectors } from './selectors';
import { translationMarkLine } from './provenance';
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

export function llamaQuantizeProblem(t: TensorPlan): { prop: PropName; message: string } | undefined {
  const c = t.config;
  if (!c) return undefined;
  if (!GGML_TYPES.has(c.format.name))
    return {
      prop: 'format',
      message: `llama.cpp has no ${c.format.name} type (the ggml types q4_0 ... q6_k, iq1_s ... iq4_xs, tq1_0, tq2_0 translate)`,
    };
  if (t.method.name !== 'rtn')
    return {
      prop: 'method',
      message: `llama-quantize has no ${t.method.name} method (an imatrix is its only data-aware input)`,
    };
  if (c.outliers) return { prop: 'outliers', message: 'llama.cpp types cannot keep outliers' };
  if (c.lowrank) return { prop: 'lowrank', message: 'llama.cpp has no low-rank correction' };
  if (t.rotate !== 'none') return { prop: 'rotate', message: 'llama-quantize does not rotate weights' };
  return undefined;
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function llamaQuantizeCommand(
  recipe: Recipe,
  plan: Plan,
  model: ModelHeader,
  source: string,
  outputHint: string,
): Translation {
  const issues = new Map<string, ExportIssue>();
  const note = (t: TensorPlan, rule: number | undefined, prop: PropName | undefined, message: string) => {
    const key = `${rule}:${message}`;
    const e = issues.get(key);
    if (e) e.tensors.push(t.tensor.name);
    else issues.set(key, { rule, prop, message, tensors: [t.tensor.name] });
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
      else type = t.config!.format.name;
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
  if (cal?.kind !== 'imatrix' || !cal.path) {
    const refused = chosen.filter(
      (c) => NEEDS_IMATRIX.has(c.type) && !(c.type === 'iq1_m' && (c === embd || c === output)),
    );
    if (refused.length)
      note(
        { tensor: { name: refused[0].gguf } } as TensorPlan,
        undefined,
        undefined,
        `llama-quantize refuses ${[...new Set(refused.map((c) => c.type))].join(', ')} without --imatrix (give the recipe calibration imatrix "file")`,
      );
  }
  if (cal?.kind === 'imatrix' && cal.path) args.push(`--imatrix ${sh(cal.path.value)}`);
  else if (cal)
    note(
      { tensor: { name: '(calibration)' } } as TensorPlan,
      undefined,
      undefined,
      `calibration ${cal.kind} does not translate: llama-quantize takes an imatrix (llama-imatrix makes one from text)`,
    );

  const issueList = [...issues.values()];
  const lines: string[] = [];
  lines.push('#!/bin/sh');
  lines.push(translationMarkLine(source));
  lines.push('# A llama-quantize command.');
  lines.push(`# model: ${model.path}`);
  if (model.format !== 'gguf')
    lines.push(
      '# The input is a GGUF of the unquantized model: convert_hf_to_gguf.py MODEL --outtype f32 --outfile IN.gguf',
    );
  lines.push('# Every 2-D weight has an anchored pattern selecting exactly the tensors the Bitsmith plan gives that');
  lines.push(`# type; the base type ${base[1]} is used by none of them (so llama.cpp's mixture rules never apply).`);
  lines.push(
    "# llama.cpp's own quantizer encodes the blocks (the codes differ from Bitsmith's; the types are the plan's).",
  );
  for (const i of issueList) {
    const label = i.rule !== undefined ? (recipe.rules[i.rule]?.label ?? 'rule') : 'recipe';
    lines.push(
      `# NOT TRANSLATED (${label}): ${i.message}; ${i.tensors.length} tensor${i.tensors.length === 1 ? '' : 's'}, e.g. ${i.tensors[0]}`,
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
