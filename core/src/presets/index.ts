// Recipes from presets: a model's header and a preset name in, the text of a `.quant`
// recipe out, written as a person would write it (a comment saying what the preset is,
// `defaults` for the common case, one commented `match` rule per exception) and clean
// against that model: groups that divide the rows, the embedding and head kept where the
// preset's own tool keeps them, calibration where the method needs it, outputs the model
// can be written as. Pure: reads the header only (`New Recipe from Model...` in the
// editor, tests that analyse every preset against several model shapes).
//
//   w4a16    int4 / group 128 / GPTQ, compressed-tensors (llm-compressor's W4A16 for vLLM)
//   nvfp4    nvfp4 (e2m1, e4m3 per 16, f32 per tensor), compressed-tensors (NVFP4A16)
//   fp8      fp8_e4m3 per channel, compressed-tensors (FP8_DYNAMIC's weights)
//   q4_k_m   llama.cpp's Q4_K_M types, GGUF
//   fit      a size budget filled by `allocate` (llama.cpp types into GGUF, or int2..int8)

import * as path from 'path';
import { pushAll } from '../arrays';
import { forwardSupport } from '../analysis/forwardSupport';
import { hasInputActivations } from '../analysis/methodFit';
import { interpret } from '../analysis/recipe';
import { resolvePlan } from '../analysis/resolve';
import { allocationSetup } from '../allocate/setup';
import { ggufModelProblem } from '../export/gguf';
import { BUDGET_UNITS, BYTES_PER_UNIT } from '../language/schema';
import type { ModelHeader } from '../models/types';
import { parse } from '../syntax/parser';
import { q4kmTypes } from './llamaCppMix';
import { rowLength, weightRoles, type WeightRole } from './roles';
import { ruleLines, rulesFor, type Decision } from './rules';

export { useMoreBits, q4kmTypes } from './llamaCppMix';
export { weightRoles, tiedEmbeddings, type Role, type WeightRole } from './roles';
export { patternsFor } from './rules';
export { recipePlacement, uniqueRecipePath, type Placement } from './placement';

export type PresetId = 'w4a16' | 'nvfp4' | 'fp8' | 'q4_k_m' | 'fit';

export interface PresetInfo {
  id: PresetId;
  label: string;
  /** One line: the format and where it runs. */
  description: string;
  /** What the recipe writes. */
  detail: string;
}

export const PRESETS: readonly PresetInfo[] = [
  {
    id: 'w4a16',
    label: 'W4A16 GPTQ for vLLM',
    description: 'int4, group 128, GPTQ',
    detail: "compressed-tensors checkpoint (llm-compressor's W4A16 scheme); calibrates on sampled text",
  },
  {
    id: 'nvfp4',
    label: 'NVFP4',
    description: 'e2m1 + e4m3 scale per 16, 4.5 bpw',
    detail: 'compressed-tensors checkpoint for vLLM on Blackwell GPUs; data-free',
  },
  {
    id: 'fp8',
    label: 'FP8',
    description: 'fp8_e4m3, scale per channel',
    detail: "compressed-tensors checkpoint (llm-compressor's FP8_DYNAMIC weights); data-free",
  },
  {
    id: 'q4_k_m',
    label: 'Q4_K_M-like GGUF',
    description: "llama.cpp's Q4_K_M type rules",
    detail: 'q4_k, q6_k for half of attn_v and ffn_down and for the output head; GGUF for llama.cpp',
  },
  {
    id: 'fit',
    label: 'Fit a size...',
    description: 'allocate under a budget',
    detail: 'measured mixed precision: the allocator picks a format per tensor to fit the size you give',
  },
];

export interface SizeSpec {
  value: number;
  /** A budget unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB or bpw. */
  unit: string;
}

export interface PresetRequest {
  preset: PresetId;
  /** The model's path as the recipe writes it: relative to the recipe's folder, '/' separated. */
  modelRef: string;
  /** fit: the budget. */
  budget?: SizeSpec;
}

export interface PresetRecipe {
  text: string;
  /** A file name stem for the recipe and its outputs, e.g. "stories260K-w4a16". */
  stem: string;
}

/** The model's name as a file stem: its folder or file name without the extension. */
export function modelStem(modelRef: string): string {
  const base = path.posix.basename(modelRef.replace(/\\/g, '/').replace(/\/+$/, '')) || 'model';
  const stem = base.replace(/\.(safetensors|gguf|bin)$/i, '');
  return stem.replace(/[^A-Za-z0-9._-]+/g, '-') || 'model';
}

const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function recipeFromPreset(model: ModelHeader, req: PresetRequest): PresetRecipe {
  const stem = `${modelStem(req.modelRef)}-${req.preset === 'q4_k_m' ? 'Q4_K_M' : req.preset}`;
  const lines = build(model, req, stem);
  return { text: lines.join('\n') + '\n', stem };
}

// ---- shared pieces ------------------------------------------------------------------------

interface Context {
  model: ModelHeader;
  roles: WeightRole[];
  /** Why the forward pass cannot run the model (no calibration then), or undefined. */
  noForward?: string;
  maxPositions: number;
  /** Why output gguf cannot be written, or undefined. */
  noGguf?: string;
}

function context(model: ModelHeader): Context {
  const fw = forwardSupport(model);
  return {
    model,
    roles: weightRoles(model),
    noForward: fw.ok ? undefined : fw.message,
    maxPositions: fw.ok ? fw.arch.maxPositions : 0,
    noGguf: ggufModelProblem(model),
  };
}

/** Sequences of up to `length` ids, never past the model's positions; `why` above it. */
function calibrationLines(c: Context, samples: number, length: number, why: string): string[] {
  const len = c.maxPositions > 0 ? Math.min(length, c.maxPositions) : length;
  return [`# ${why}`, `calibration generated samples ${samples} length ${len} seed 0`];
}

/** The largest group of `sizes` that divides every row, else undefined (per channel). */
const groupFor = (cols: number, sizes: readonly number[]) => sizes.find((g) => cols % g === 0);

/** Scales in the model's own dtype, as llm-compressor stores them (so the translation is exact). */
const scaleType = (c: Context) => (c.model.dtype === 'BF16' ? 'bf16' : c.model.dtype === 'F32' ? 'f32' : 'f16');
const aScale = (c: Context) => (scaleType(c) === 'bf16' ? 'a bf16' : `an ${scaleType(c)}`);

const isVllmModule = (r: WeightRole) => r.tensor.shape.length === 2 && r.tensor.name.endsWith('.weight');

/** Keep what llm-compressor's schemes do not quantize: embeddings (not Linear), the head
 *  (ignore: ["lm_head"]) and anything that is not a 2-D module weight. */
function vllmKeep(r: WeightRole): Decision | undefined {
  if (r.role === 'embedding') return { settings: ['keep'], reason: 'vLLM quantizes linear layers, not the embedding' };
  if (r.role === 'head')
    return { settings: ['keep'], reason: 'the output head stays 16-bit, as llm-compressor\'s ignore: ["lm_head"]' };
  if (!isVllmModule(r)) return { settings: ['keep'], reason: 'compressed-tensors stores 2-D module weights only' };
  return undefined;
}

function header(req: PresetRequest, title: string, about: string[]): string[] {
  return [
    ...about.map((l) => `# ${l}`),
    `# Written by Bitsmith's New Recipe from Model (preset ${req.preset}) for this model's shapes.`,
    `recipe ${q(title)}`,
    `model ${q(req.modelRef)}`,
  ];
}

function rulesBlock(c: Context, decided: { tensor: WeightRole['tensor']; decision: Decision }[]): string[] {
  const out: string[] = [];
  for (const r of rulesFor(decided, c.model.tensors)) pushAll(out, [''], ruleLines(r));
  return out;
}

/** vLLM outputs: a compressed-tensors folder and the llm-compressor translation, for
 *  Hugging Face models; a GGUF source (llama.cpp names, no config.json) gets a fake-quantized
 *  safetensors file instead. */
function vllmOutputs(c: Context, stem: string, translation: 'exact' | string = 'exact'): string[] {
  if (c.model.format === 'gguf')
    return [
      '',
      '# compressed-tensors checkpoints are Hugging Face models (vLLM reads their config.json and',
      '# module names); from this GGUF, a fake-quantized safetensors file to evaluate the format.',
      `output fake ${q(`out/${stem}.safetensors`)}`,
    ];
  if (translation !== 'exact')
    return ['', `output compressed_tensors ${q(`out/${stem}`)}`, `# No export llm_compressor: ${translation}.`];
  return [
    '',
    `output compressed_tensors ${q(`out/${stem}`)}`,
    '# The same plan as an llm-compressor recipe, to rerun it at scale:',
    `export llm_compressor ${q(`out/${stem}.yaml`)}`,
  ];
}

// ---- the presets --------------------------------------------------------------------------

function build(model: ModelHeader, req: PresetRequest, stem: string): string[] {
  const c = context(model);
  const name = modelStem(req.modelRef);
  switch (req.preset) {
    case 'w4a16':
      return w4a16(c, req, name, stem);
    case 'nvfp4':
      return nvfp4(c, req, name, stem);
    case 'fp8':
      return fp8(c, req, name, stem);
    case 'q4_k_m':
      return q4km(c, req, name, stem);
    case 'fit':
      return fit(c, req, name, stem);
  }
}

const W4A16_GROUPS = [128, 64, 32];

function w4a16(c: Context, req: PresetRequest, name: string, stem: string): string[] {
  const gptq = !c.noForward;
  const out = header(req, `${name} W4A16${gptq ? ' GPTQ' : ''}`, [
    `W4A16 for vLLM: int4 weights with ${aScale(c)} scale per group of 128, symmetric, activations`,
    gptq
      ? "in 16 bits. GPTQ fits the codes on the model's own sampled text (llm-compressor's W4A16 scheme)."
      : "in 16 bits, rounded to nearest (llm-compressor's QuantizationModifier with scheme W4A16).",
  ]);
  if (gptq) {
    pushAll(
      out,
      [''],
      calibrationLines(
        c,
        32,
        512,
        'The inputs GPTQ fits on: more samples give a better Hessian; your own data: calibration text "file.txt".',
      ),
    );
  } else {
    out.push('', `# GPTQ needs the built-in forward pass, which cannot run this model: ${oneLine(c.noForward!)}`);
  }
  out.push('', 'defaults {', '  format int4', '  group 128', '  symmetric true', `  scale ${scaleType(c)}`);
  if (gptq) out.push('  method gptq { damp 0.01; block 128; act_order }');
  out.push('}');
  const decided: { tensor: WeightRole['tensor']; decision: Decision }[] = [];
  for (const r of c.roles) {
    const keep = vllmKeep(r);
    if (keep) {
      decided.push({ tensor: r.tensor, decision: keep });
      continue;
    }
    const settings: string[] = [];
    const reasons: string[] = [];
    const cols = rowLength(r.tensor);
    const g = groupFor(cols, W4A16_GROUPS);
    if (g !== 128) {
      settings.push(g ? `group ${g}` : 'group channel');
      reasons.push(
        g
          ? `rows of ${cols}: group ${g}, the largest of 128, 64, 32 that divides them`
          : `rows of ${cols}: no group of 128, 64 or 32 divides them, one scale per row`,
      );
    }
    if (gptq && !hasInputActivations(r.tensor.name)) {
      settings.push('method rtn');
      reasons.push('the forward pass sees no input for it: rounded to nearest');
    }
    if (settings.length) decided.push({ tensor: r.tensor, decision: { settings, reason: reasons.join('; ') } });
  }
  pushAll(out, rulesBlock(c, decided), vllmOutputs(c, stem));
  return out;
}

function nvfp4(c: Context, req: PresetRequest, name: string, stem: string): string[] {
  const out = header(req, `${name} NVFP4`, [
    'NVFP4 weights for vLLM (Blackwell GPUs): e2m1 values, an e4m3 scale per block of 16 and one',
    "f32 scale per tensor, 4.5 bpw, activations in 16 bits (llm-compressor's NVFP4A16). Data-free.",
  ]);
  out.push('', 'defaults { format nvfp4 }');
  const decided: { tensor: WeightRole['tensor']; decision: Decision }[] = [];
  for (const r of c.roles) {
    const keep = vllmKeep(r);
    const cols = rowLength(r.tensor);
    if (keep) decided.push({ tensor: r.tensor, decision: keep });
    else if (cols % 16 !== 0)
      decided.push({
        tensor: r.tensor,
        decision: { settings: ['keep'], reason: `rows of ${cols} are not whole 16-weight nvfp4 blocks` },
      });
  }
  pushAll(
    out,
    rulesBlock(c, decided),
    vllmOutputs(
      c,
      stem,
      "llm-compressor's NVFP4 shares one global scale across q/k/v and gate/up (vLLM fuses them), " +
        "Bitsmith's is per tensor, so its translation would run a different quantization",
    ),
  );
  return out;
}

function fp8(c: Context, req: PresetRequest, name: string, stem: string): string[] {
  const out = header(req, `${name} FP8`, [
    `FP8 weights for vLLM: fp8_e4m3 with ${aScale(c)} scale per output channel, as llm-compressor's`,
    'FP8_DYNAMIC stores them (vLLM quantizes the activations per token at run time). Data-free.',
  ]);
  out.push('', 'defaults {', '  format fp8_e4m3', '  group channel', `  scale ${scaleType(c)}`, '}');
  const decided: { tensor: WeightRole['tensor']; decision: Decision }[] = [];
  for (const r of c.roles) {
    const keep = vllmKeep(r);
    if (keep) decided.push({ tensor: r.tensor, decision: keep });
  }
  pushAll(out, rulesBlock(c, decided), vllmOutputs(c, stem));
  return out;
}

function q4km(c: Context, req: PresetRequest, name: string, stem: string): string[] {
  const out = header(req, `${name} Q4_K_M`, [
    "llama.cpp's Q4_K_M mix (llama-quantize ... Q4_K_M), tensor by tensor as its llama_tensor_get_type",
    'assigns it for this model: q4_k by default; q6_k for the output head and for attn_v and ffn_down',
    'in the blocks where use_more_bits(i, n) holds (the first and last eighth, every third between).',
    'Norms stay in f32. Data-free like llama-quantize without --imatrix: add `calibration generated`',
    'to weight the k-quant scale searches by the activations, as --imatrix does.',
  ]);
  out.push('', 'defaults { format q4_k }');
  const decided = q4kmTypes(c.model, c.roles)
    .filter((m) => m.type !== 'q4_k')
    .map((m) => ({
      tensor: m.role.tensor,
      decision: { settings: [m.type === 'keep' ? 'keep' : `format ${m.type}`], reason: m.reason },
    }));
  pushAll(out, rulesBlock(c, decided), ['']);
  if (c.noGguf) {
    out.push(
      `# output gguf cannot be written for this model: ${oneLine(c.noGguf)}.`,
      '# A fake-quantized safetensors file shows what these types do to it.',
      `output fake ${q(`out/${stem}.safetensors`)}`,
    );
  } else {
    out.push(`output gguf ${q(`out/${stem}.gguf`)}`);
  }
  return out;
}

// ---- fit: allocate under a budget ---------------------------------------------------------

const GGML_CANDIDATES = ['q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k', 'q8_0'];
const BLOCK32_CANDIDATES = ['q4_0', 'q5_0'];
const INT_CANDIDATES = ['int2', 'int3', 'int4', 'int5', 'int6', 'int8'];
const INT_GROUPS = [128, 64, 32];

function fit(c: Context, req: PresetRequest, name: string, stem: string): string[] {
  const budget = req.budget ?? defaultFitBudget(c.model, req.modelRef);
  const ggml = !c.noGguf;
  const first = fitText(c, req, name, stem, budget, ggml ? GGML_PROVISIONAL[0] : 'int4');
  if (!ggml) return first;
  // The provisional format (what the editor shows until the candidates are measured): the
  // largest one every free tensor takes whose plan fits the budget, so a new recipe is not
  // shown over its budget; the smallest when none fits.
  const { recipe } = interpret(parse(first.join('\n')).file);
  const setup = allocationSetup(recipe, resolvePlan(recipe, c.model));
  if (!setup) return first;
  const limit = sizeBytes(budget, c.model);
  const sizes = GGML_PROVISIONAL.filter((f) => setup.free.every((t) => t.candidates.some((x) => x.format === f))).map(
    (f) => ({
      f,
      bytes: setup.fixedBytes + setup.free.reduce((s, t) => s + t.candidates.find((x) => x.format === f)!.bytes, 0),
    }),
  );
  if (!sizes.length) return first;
  const fitting = sizes.filter((x) => x.bytes <= limit).sort((a, b) => b.bytes - a.bytes);
  const pick = fitting[0] ?? sizes.sort((a, b) => a.bytes - b.bytes)[0];
  return pick.f === GGML_PROVISIONAL[0] ? first : fitText(c, req, name, stem, budget, pick.f);
}

/** Provisional formats, in order of preference: q4_k first, as Q4_K_M's base type. */
const GGML_PROVISIONAL = ['q4_k', 'q5_k', 'q6_k', 'q3_k', 'q8_0', 'q5_0', 'q4_0', 'q2_k'];

function fitText(
  c: Context,
  req: PresetRequest,
  name: string,
  stem: string,
  budget: SizeSpec,
  provisional: string,
): string[] {
  const size = `${formatNumber(budget.value)} ${budget.unit}`;
  const ggml = !c.noGguf;
  const metric = c.noForward ? 'weight' : 'output';
  // Tensors no candidate can hold are pinned (kept); the rest are free.
  const ggmlFits = (cols: number) => cols % 32 === 0;
  const needsBlock32 = c.roles.some((r) => ggmlFits(rowLength(r.tensor)) && rowLength(r.tensor) % 256 !== 0);
  const formats = ggml ? [...GGML_CANDIDATES, ...(needsBlock32 ? BLOCK32_CANDIDATES : [])] : INT_CANDIDATES;
  const out = header(req, `${name} in ${size}`, [
    `Fit ${size}: the allocator gives every weight tensor the format, of ${formats.join(' ')},`,
    `that makes the whole model fit the budget with the least ${metric === 'output' ? 'output error (measured on sequences the model samples itself)' : 'weight error'}.`,
    'Measuring runs one pass per candidate (bitsmith allocate, or Run Recipe, which measures first; cached);',
    "until then sizes use the defaults' format. Show Allocation draws the size-error frontier.",
  ]);
  out.push(`budget ${size}`);
  if (c.noForward) out.push(`# metric weight: the forward pass cannot run this model (${oneLine(c.noForward)})`);
  else pushAll(out, calibrationLines(c, 16, 128, 'metric output measures the output error on these sequences'));
  const decided: { tensor: WeightRole['tensor']; decision: Decision }[] = [];
  if (ggml) {
    out.push('', `defaults { format ${provisional} }   # shown until the candidates are measured`);
    for (const r of c.roles) {
      const cols = rowLength(r.tensor);
      if (!ggmlFits(cols))
        decided.push({
          tensor: r.tensor,
          decision: {
            settings: ['keep'],
            reason: `rows of ${cols}: no llama.cpp block (32 or 256 weights) divides them`,
          },
        });
    }
  } else {
    out.push(
      '',
      'defaults {',
      `  format ${provisional}   # shown until the candidates are measured`,
      '  group 128',
      '}',
    );
    for (const r of c.roles) {
      const cols = rowLength(r.tensor);
      const g = groupFor(cols, INT_GROUPS);
      if (g !== 128)
        decided.push({
          tensor: r.tensor,
          decision: {
            settings: [g ? `group ${g}` : 'group channel'],
            reason: g ? `rows of ${cols}: group ${g} divides them` : `rows of ${cols}: one scale per row`,
          },
        });
    }
  }
  pushAll(out, rulesBlock(c, decided));
  out.push('', 'allocate {', `  formats ${formats.join(' ')}`, `  metric ${metric}`, '}', '');
  if (ggml) out.push(`output gguf ${q(`out/${stem}.gguf`)}`);
  else {
    if (c.noGguf) out.push(`# int formats: output gguf cannot be written for this model (${oneLine(c.noGguf)})`);
    out.push(`output fake ${q(`out/${stem}.safetensors`)}`);
  }
  return out;
}

/** The model's size at 16 bits per parameter. */
export const bf16Bytes = (model: ModelHeader): number => model.parameters * 2;

/** Smallest and largest sizes the fit preset's allocation can reach on this model. */
export function fitRange(model: ModelHeader, modelRef: string): { minBytes: number; maxBytes: number } {
  const text = recipeFromPreset(model, {
    preset: 'fit',
    modelRef,
    budget: { value: bf16Bytes(model), unit: 'B' },
  }).text;
  const { recipe } = interpret(parse(text).file);
  const setup = allocationSetup(recipe, resolvePlan(recipe, model));
  return { minBytes: setup?.minBytes ?? 0, maxBytes: setup?.maxBytes ?? bf16Bytes(model) };
}

/** The proposed budget: 0.3 x the bf16 size (about 4.8 bpw, Q4_K_M's class), inside the
 *  range the candidates can reach, in decimal units. */
export function defaultFitBudget(model: ModelHeader, modelRef: string): SizeSpec {
  const { minBytes, maxBytes } = fitRange(model, modelRef);
  const target = Math.min(maxBytes, Math.max(minBytes, 0.3 * bf16Bytes(model)));
  const s = sizeOf(target);
  // Rounded to 3 significant digits, toward the inside of the range.
  const digits = Math.max(0, 2 - Math.floor(Math.log10(s.value)));
  const f = 10 ** digits;
  const bytes = (v: number) => v * BYTES_PER_UNIT[s.unit];
  let value = Math.round(s.value * f) / f;
  if (bytes(value) < minBytes) value = Math.ceil(s.value * f) / f;
  if (bytes(value) > maxBytes) value = Math.floor(s.value * f) / f;
  return { value, unit: s.unit };
}

/** Bytes in the largest decimal unit that keeps the value at 1 or more. */
export function sizeOf(bytes: number): SizeSpec {
  for (const unit of ['TB', 'GB', 'MB', 'KB'])
    if (bytes >= BYTES_PER_UNIT[unit]) return { value: bytes / BYTES_PER_UNIT[unit], unit };
  return { value: bytes, unit: 'B' };
}

/** "1.2 GB", "300KiB", "4.5 bpw"; a bare number takes `defaultUnit`. Units as the recipe
 *  language spells them, in any case. Undefined when it is not a positive size. */
export function parseSize(text: string, defaultUnit = 'GB'): SizeSpec | undefined {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)(?:e([+-]?\d+))?\s*([A-Za-z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]) * 10 ** Number(m[2] ?? 0);
  if (!(value > 0) || !Number.isFinite(value)) return undefined;
  const unit = m[3] ? BUDGET_UNITS.find((u) => u.toLowerCase() === m[3].toLowerCase()) : defaultUnit;
  return unit ? { value, unit } : undefined;
}

/** The budget in bytes (bpw over the model's parameters). */
export function sizeBytes(s: SizeSpec, model: ModelHeader): number {
  return s.unit === 'bpw' ? (s.value * model.parameters) / 8 : s.value * BYTES_PER_UNIT[s.unit];
}

/** A number as the recipe language reads it: no exponent, no trailing zeros. */
export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(12).replace(/0+$/, '').replace(/\.$/, '');
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
