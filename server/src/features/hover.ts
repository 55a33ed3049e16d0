// Hover: what a rule does to the model (tensors, bpw with its formula, bytes, what later
// rules override), the model, the budget, and the docs of every word of the language.
import { MarkupKind, type Hover, type Position } from 'vscode-languageserver';
import * as os from 'os';
import {
  CALIBRATION_OPTION_DOCS,
  estimateRunMemory,
  type MemoryEstimate,
  METHOD_BY_NAME,
  PROPERTY_KEYWORDS,
  TOP_KEYWORDS,
  ALLOCATE_KEYWORDS,
  EVALUATE_KEYWORDS,
  PERPLEXITY_OPTION_DOCS,
  FORMAT_BY_NAME,
  bpwFormula,
  describeForward,
  fmt,
  forwardSupport,
  formatBytes,
  patternMatches,
  cacheOrigin,
  type Analysis,
  type KeywordDoc,
  type ModelRef,
  type PropName,
  type Rule,
  type Statement,
  type TensorInfo,
  type TensorPlan,
} from '../../../core/src/index';
import type { AnalyzedDocument } from './document';
import { inComment, ruleOf, statementPath, tokenAt } from './locate';
import { KIND_DOCS, VALUE_DOCS, count, formatBitsSummary, keywordDoc, plural, snippetToText } from './vocab';
import { allocateHover, allocatedLine, mixText } from './allocationHover';

export function hover(doc: AnalyzedDocument, position: Position): Hover | null {
  const { analysis } = doc;
  const offset = doc.lines.offset(position);
  if (inComment(analysis.file, offset)) return null;
  const path = statementPath(analysis.file, offset);
  if (path.length === 0) return null;
  const stmt = path[path.length - 1];
  const tok = tokenAt(stmt, offset);
  if (!tok) return null;
  const value = markdown(doc, path, tok.kind === 'keyword' ? undefined : tok.index);
  return value ? { contents: { kind: MarkupKind.Markdown, value }, range: doc.lines.range(tok.span) } : null;
}

/** The hover text for the keyword (argIndex undefined) or an argument of the innermost statement. */
function markdown(doc: AnalyzedDocument, path: Statement[], argIndex: number | undefined): string | undefined {
  const { analysis } = doc;
  const stmt = path[path.length - 1];
  const name = stmt.keyword.name;
  const arg = argIndex === undefined ? undefined : stmt.args[argIndex];

  if (path.length === 1) {
    if (name === 'match' || name === 'defaults') {
      const rule = ruleOf(analysis, stmt);
      if (!rule) return undefined;
      const pattern = arg?.kind === 'string' ? rule.patterns.find((p) => p.span.start === arg.start) : undefined;
      // The editor asks again as the mouse moves over the same word: answer from the analysis' cache.
      let cache = ruleHovers.get(analysis);
      if (!cache) ruleHovers.set(analysis, (cache = new Map()));
      const key = `${rule.index}\u0000${pattern?.text ?? ''}`;
      let text = cache.get(key);
      if (text === undefined) cache.set(key, (text = ruleHover(doc, rule, pattern?.text)));
      return text;
    }
    if (name === 'model') return modelHover(analysis);
    if (name === 'budget') return budgetHover(analysis);
    if (name === 'allocate' && !arg)
      return allocateHover(analysis, keywordHover(TOP_KEYWORDS, 'allocate') ?? '**allocate**');
    if (name === 'calibration' && arg?.kind === 'string' && analysis.imatrix) return imatrixHover(analysis);
    if ((name === 'calibration' || name === 'evaluate') && !arg) {
      const base =
        (keywordHover(TOP_KEYWORDS, name) ?? `**${name}**`) + (name === 'calibration' ? forwardLine(analysis) : '');
      const memory = estimateRunMemory(analysis, analysis.recipe.threads ?? Math.max(1, os.cpus().length), {
        recipePath: doc.recipePath,
      });
      return memory ? `${base}\n\n${memoryHover(memory)}` : base;
    }
    if (name === 'calibration' && arg?.kind === 'ident' && argIndex !== undefined && argIndex > 0)
      return CALIBRATION_OPTION_DOCS[arg.name] ? `**${arg.name}**\n\n${CALIBRATION_OPTION_DOCS[arg.name]}` : undefined;
    if (arg?.kind === 'ident' && argIndex === 0 && KIND_DOCS[name]?.[arg.name])
      return `**${name} ${arg.name}**\n\n${KIND_DOCS[name][arg.name]}${name === 'calibration' ? forwardLine(analysis) : ''}`;
    if (arg) return undefined;
    const kw = keywordHover(TOP_KEYWORDS, name);
    return name === 'calibration' && kw ? kw + forwardLine(analysis) : kw;
  }

  const parent = path[path.length - 2];
  const container = parent.keyword.name;
  if (path.length === 2 && (container === 'match' || container === 'defaults')) {
    if (arg?.kind === 'ident' && name === 'format') return formatHover(arg.name);
    if (arg?.kind === 'ident' && name === 'method') return methodHover(arg.name);
    if (arg?.kind === 'ident' && VALUE_DOCS[name]?.[arg.name])
      return `**${name} ${arg.name}**\n\n${VALUE_DOCS[name][arg.name]}`;
    if (arg) return undefined;
    return keywordHover(PROPERTY_KEYWORDS, name);
  }
  if (path.length === 3 && container === 'method') {
    const method = METHOD_BY_NAME.get(parent.args[0]?.kind === 'ident' ? parent.args[0].name : '');
    const opt = method?.options.find((o) => o.name === name);
    if (!method || !opt || arg) return undefined;
    const range =
      opt.type === 'boolean'
        ? 'true or false'
        : `${opt.type}${opt.min !== undefined ? `, at least ${opt.min}` : ''}${opt.max !== undefined ? `, at most ${opt.max}` : ''}`;
    return `**${opt.name}** — option of \`${method.name}\` (${range})\n\n${opt.doc}`;
  }
  if (path.length === 2 && container === 'allocate') {
    if (arg?.kind === 'ident' && name === 'formats') return formatHover(arg.name);
    if (arg?.kind === 'ident' && VALUE_DOCS[name]?.[arg.name])
      return `**${name} ${arg.name}**\n\n${VALUE_DOCS[name][arg.name]}`;
    return arg ? undefined : keywordHover(ALLOCATE_KEYWORDS, name);
  }
  if (path.length === 2 && container === 'evaluate') {
    if (arg?.kind === 'ident' && name === 'perplexity' && PERPLEXITY_OPTION_DOCS[arg.name])
      return `**perplexity ${arg.name}**\n\n${PERPLEXITY_OPTION_DOCS[arg.name]}`;
    return arg ? undefined : keywordHover(EVALUATE_KEYWORDS, name);
  }
  return undefined;
}

function keywordHover(list: readonly KeywordDoc[], name: string): string | undefined {
  const k = keywordDoc(list, name);
  return k && `**${k.name}** — ${k.doc}\n\n\`\`\`quant\n${snippetToText(k.usage)}\n\`\`\``;
}

function formatHover(name: string): string | undefined {
  const f = FORMAT_BY_NAME.get(name);
  return f && `**${f.name}** — ${f.doc}\n\n${formatBitsSummary(f)}`;
}

function methodHover(name: string): string | undefined {
  const m = METHOD_BY_NAME.get(name);
  if (!m) return undefined;
  const lines = [`**${m.name}** — ${m.doc}`];
  if (m.options.length)
    lines.push(
      '',
      'Options: ' +
        m.options.map((o) => `\`${o.name}\``).join(', ') +
        ` — e.g. \`method ${m.name} { ${m.options.map((o) => o.name + (o.type === 'boolean' ? ' true' : ' N')).join('; ')} }\``,
    );
  if (m.needsCalibration === true) lines.push('', 'Needs calibration data.');
  if (m.needsCalibration === 'when-weighted') lines.push('', 'Needs calibration data when `weighted`.');
  return lines.join('\n');
}

// ---- rules ------------------------------------------------------------------------------

const ruleHovers = new WeakMap<Analysis, Map<string, string>>();

const MAX_NAMES = 5;
const MAX_CONFIGS = 8;

/** "int4 g128", "int4 channel", "q4_k", "keep (F32)": what distinguishes tensor configurations. */
function configLabel(t: TensorPlan): string {
  const c = t.config;
  if (!c) return `keep ${t.tensor.dtype}`;
  const f = c.format;
  if (f.block || f.fixedGroup) return f.name;
  const group = c.groupKind === 'channel' ? 'channel' : c.groupKind === 'tensor' ? 'per-tensor' : `g${c.group}`;
  return !f.fixedScale && c.scale !== 'f16' ? `${f.name} ${group} ${c.scale}` : `${f.name} ${group}`;
}

/** Whether two tensors get the same configuration line (label and formula) in a rule's hover. */
function sameFormula(a: TensorPlan, b: TensorPlan): boolean {
  const x = a.config;
  const y = b.config;
  if (!x || !y) return !x && !y && a.tensor.dtype === b.tensor.dtype;
  if (
    x.format !== y.format ||
    x.groupKind !== y.groupKind ||
    x.group !== y.group ||
    x.scale !== y.scale ||
    x.symmetric !== y.symmetric ||
    x.zero !== y.zero ||
    x.outliers !== y.outliers ||
    x.lowrank !== y.lowrank
  )
    return false;
  // Terms that spell out the shape: per-tensor groups, per-tensor constants, outliers and low-rank.
  const shaped = x.groupKind === 'tensor' || x.format.perTensorBits || x.outliers || x.lowrank;
  return !shaped || (a.rows === b.rows && a.cols === b.cols);
}

function formula(t: TensorPlan): string {
  return t.config && t.bytes ? bpwFormula(t.rows, t.cols, t.config, t.bytes) : `${fmt(t.tensor.bitsPerElement)} bpw`;
}

export function ruleHover(doc: AnalyzedDocument, rule: Rule, pattern?: string): string {
  const { analysis } = doc;
  const plan = analysis.plan;
  const out: string[] = [`**${rule.label}**`];
  const sets = Object.values(rule.settings).map((s) => `\`${settingText(doc.text, s!.stmt)}\``);
  if (!plan) {
    out.push('', sets.length ? `Sets ${sets.join(', ')}.` : 'Sets nothing.');
    out.push(
      '',
      analysis.modelError ? `No model to match against: ${analysis.modelError.message}` : 'No model to match against.',
    );
    return out.join('\n');
  }
  const tensors = plan.tensors;
  if (pattern !== undefined) {
    const p = rule.patterns.find((x) => x.text === pattern)!;
    const n = analysis.model ? patternMatches(analysis.model.tensors, p).length : 0;
    out.push('', `Pattern \`"${pattern}"\` matches ${plural(n, 'tensor')}.`);
  }
  const matched = plan.rules[rule.index]?.matched ?? [];
  if (matched.length === 0) {
    out.push(
      '',
      `Matches no tensor${rule.kind === 'defaults' ? ' (defaults apply to floating-point tensors of 2 or more dimensions)' : ''}.`,
    );
    if (sets.length) out.push('', `Sets ${sets.join(', ')}.`);
    return out.join('\n');
  }
  let params = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  // Indexed loops in this function: it walks every matched tensor, and iterator objects
  // (before the optimizer removes them) were most of its garbage.
  for (let k = 0; k < matched.length; k++) {
    const t = tensors[matched[k]];
    params += t.tensor.elements;
    bytesIn += t.bytesIn;
    bytesOut += t.bytesOut;
  }
  const names = matched.slice(0, MAX_NAMES).map((ti) => `\`${tensors[ti].tensor.name}\``);
  const more = matched.length > MAX_NAMES ? ` and ${matched.length - MAX_NAMES} more` : '';
  out.push(
    '',
    `Matches **${plural(matched.length, 'tensor')}** (${count(params)} parameters): ${names.join(', ')}${more}.`,
  );
  const blockSources = sourceFormats(
    matched.map((ti) => tensors[ti].tensor),
    true,
  );
  if (blockSources) out.push('', `Source (GGUF blocks): ${blockSources}.`);
  if (sets.length) out.push('', `Sets ${sets.join(', ')}.`);

  // The tensors' final configurations (after every rule), one line per distinct formula.
  // Grouped without building a string per tensor (a rule may match thousands): by bpw,
  // then by the fields the formula shows; label and formula are made once per group.
  const byBpw = new Map<number, { t: TensorPlan; n: number }[]>();
  for (let k = 0; k < matched.length; k++) {
    const t = tensors[matched[k]];
    let list = byBpw.get(t.bpw);
    if (!list) byBpw.set(t.bpw, (list = []));
    let i = 0;
    while (i < list.length && !sameFormula(list[i].t, t)) i++;
    if (i < list.length) list[i].n++;
    else list.push({ t, n: 1 });
  }
  const configs = [...byBpw.values()].flat().map((g) => ({ label: configLabel(g.t), formula: formula(g.t), n: g.n }));
  const sorted = configs.sort((a, b) => b.n - a.n);
  const lines = sorted.slice(0, MAX_CONFIGS).map((c) => `- ${c.label}: \`${c.formula}\` × ${plural(c.n, 'tensor')}`);
  if (sorted.length > MAX_CONFIGS) lines.push(`- … and ${sorted.length - MAX_CONFIGS} more configurations`);
  out.push('', sorted.length === 1 ? `Result: ${lines[0].slice(2)}` : `Result:\n${lines.join('\n')}`);
  out.push(
    '',
    `Size: ${formatBytes(bytesIn)} → **${formatBytes(bytesOut)}** (${fmt((8 * bytesOut) / params)} bpw over these tensors)`,
  );
  const allocated = allocatedLine(tensors, matched);
  if (allocated) out.push('', allocated);

  // Properties this rule sets that a later rule decides instead, by overriding rule.
  const props = Object.keys(rule.settings) as PropName[];
  const overrides = new Map<number, { props: Set<PropName>; tensors: number; last: number; names: string[] }>();
  for (let k = 0; k < matched.length; k++) {
    const ti = matched[k];
    const decidedBy = tensors[ti].decidedBy;
    for (let j = 0; j < props.length; j++) {
      const prop = props[j];
      const by = decidedBy[prop];
      if (by === undefined || by === rule.index) continue;
      let o = overrides.get(by);
      if (!o) overrides.set(by, (o = { props: new Set(), tensors: 0, last: -1, names: [] }));
      o.props.add(prop);
      if (o.last !== ti) {
        o.last = ti;
        o.tensors++;
        if (o.names.length < 3) o.names.push(tensors[ti].tensor.name);
      }
    }
  }
  if (overrides.size) {
    const items = [...overrides.entries()]
      .sort((a, b) => a[0] - b[0])
      .slice(0, MAX_NAMES)
      .map(([ri, o]) => {
        const r = analysis.recipe.rules[ri];
        const line = doc.lines.position(r.stmt.start).line + 1;
        const which =
          o.tensors === matched.length
            ? ''
            : `: ${o.names.map((n) => `\`${n}\``).join(', ')}${o.tensors > o.names.length ? ', …' : ''}`;
        return `- ${[...o.props].map((p) => `\`${p}\``).join(', ')} by ${r.label} (line ${line}) for ${o.tensors} of ${plural(matched.length, 'tensor')}${which}`;
      });
    if (overrides.size > MAX_NAMES) items.push(`- … and ${overrides.size - MAX_NAMES} more rules`);
    out.push('', `Overridden:\n${items.join('\n')}`);
  }
  return out.join('\n');
}

/** A property statement as written, whitespace normalised and a method's options block shortened. */
function settingText(text: string, stmt: Statement): string {
  const end = stmt.block ? stmt.block.start : stmt.end;
  const head = text.slice(stmt.start, end).replace(/\s+/g, ' ').trim();
  return stmt.block ? `${head} { … }` : head;
}

// ---- model and budget ---------------------------------------------------------------------

function modelHover(analysis: Analysis): string {
  const ref = analysis.modelRef;
  if (ref?.error) return `**Model** \`${ref.written}\` (a Hugging Face id, not found)\n\n${ref.error.message}`;
  const source = ref ? modelSourceLines(ref) : [];
  if (analysis.modelError)
    return [
      `**Model** \`${analysis.modelPath}\``,
      '',
      ...source,
      `Cannot be read: ${analysis.modelError.message}`,
    ].join('\n');
  const m = analysis.model;
  if (!m) return keywordHover(TOP_KEYWORDS, 'model') ?? '';
  const lines = [
    ref?.hub ? `**Model** \`${ref.hub.id}\` from the Hugging Face cache` : `**Model** \`${m.path}\``,
    '',
    ...source,
    `| | |`,
    `|---|---|`,
    `| architecture | ${m.architecture} |`,
    `| format | ${m.format} |`,
    `| tensors | ${count(m.tensors.length)} |`,
    `| parameters | ${count(m.parameters)} |`,
    `| dtype | ${m.dtype} |`,
    `| size | ${formatBytes(m.bytes)} (${fmt(m.parameters ? (8 * m.bytes) / m.parameters : 0)} bpw) |`,
  ];
  const formats = sourceFormats(m.tensors, false);
  if (formats && m.tensors.some((t) => t.dtype !== m.dtype))
    lines.splice(lines.length - 1, 0, `| source formats | ${formats} |`);
  const t = analysis.plan?.totals;
  if (t)
    lines.push(
      '',
      `This recipe: ${formatBytes(t.bytesIn)} → **${formatBytes(t.bytesOut)}** (${fmt(t.bpw)} bpw), ${t.quantized} of ${plural(t.tensors, 'tensor')} quantized.`,
    );
  return lines.join('\n');
}

/** Where the model string led: the cache snapshot and revision of a Hugging Face id, or a
 *  folder that shadows an id of the same spelling. */
function modelSourceLines(ref: ModelRef): string[] {
  if (ref.hub) {
    const h = ref.hub;
    const rev =
      h.revision === h.commit
        ? `commit \`${h.commit}\``
        : `\`${h.revision}\` → commit \`${h.commit}\`${h.refFile ? ' (from its refs file)' : ''}`;
    return [
      `Revision ${rev}`,
      '',
      `Folder \`${h.snapshot}\``,
      '',
      `Cache \`${h.cache}\` (${cacheOrigin(h.cacheFrom)})`,
      '',
    ];
  }
  if (ref.shadowsId)
    return [
      `\`${ref.written}\` is read as the path beside the recipe (it exists), not as the Hugging Face id of the same name.`,
      '',
    ];
  return [];
}

/** "Q4_K 4.5 bpw × 120, F32 32 bpw × 25": the source dtypes by tensor count (ggml block types only when `blocksOnly`). */
function sourceFormats(list: readonly TensorInfo[], blocksOnly: boolean): string {
  const by = new Map<string, { bpw: number; n: number }>();
  for (const t of list) {
    if (blocksOnly && !/^(Q\d|IQ\d|TQ\d)/.test(t.dtype)) continue;
    const e = by.get(t.dtype);
    if (e) e.n++;
    else by.set(t.dtype, { bpw: t.bitsPerElement, n: 1 });
  }
  return [...by.entries()]
    .sort((a, b) => b[1].n - a[1].n)
    .map(([d, e]) => `${d} ${fmt(e.bpw)} bpw × ${e.n}`)
    .join(', ');
}

function budgetHover(analysis: Analysis): string {
  const budget = analysis.recipe.budget;
  const plan = analysis.plan;
  const head = keywordHover(TOP_KEYWORDS, 'budget') ?? '**budget**';
  if (!budget) return head;
  if (!plan?.budget) return `${head}\n\nNo model loaded: the budget cannot be checked.`;
  const b = plan.budget;
  const t = plan.totals;
  const limit =
    budget.kind === 'bpw' ? `${fmt(budget.bpw)} bpw (${formatBytes(b.bytes)})` : `${budget.text} (${fmt(b.bpw)} bpw)`;
  const verdict = b.fits
    ? `fits, with ${formatBytes(b.bytes - t.bytesOut)} (${fmt(b.bpw - t.bpw)} bpw) to spare`
    : `**over by ${formatBytes(b.overBytes)}** (${fmt(t.bpw - b.bpw)} bpw)`;
  const lines = [
    `**Budget** ${limit} for ${count(t.params)} parameters`,
    '',
    `The recipe needs **${fmt(t.bpw)} bpw**, ${formatBytes(t.bytesOut)} (from ${formatBytes(t.bytesIn)}): ${verdict}.`,
  ];
  const a = analysis.allocation;
  if (a?.result) lines.push('', `Allocated by \`allocate\` (${a.result.metric} metric): ${mixText(a.result.counts)}.`);
  else if (a)
    lines.push(
      '',
      "`allocate` has not measured its candidates yet: these figures use the defaults' format (hover `allocate`).",
    );
  return lines.join('\n');
}

/** What the forward pass runs for calibration (generated, tokens, text): the architecture read
 *  from the model's config, or why it cannot run it. */
function forwardLine(analysis: Analysis): string {
  const kind = analysis.recipe.calibration?.kind;
  if (!analysis.model || !kind || kind === 'imatrix') return '';
  const s = forwardSupport(analysis.model);
  return s.ok
    ? `\n\nForward pass: ${describeForward(s.arch)}.`
    : `\n\nThe forward pass cannot run this model: ${s.message}`;
}

/** The run's estimated peak memory (core/src/memoryEstimate.ts), before anything runs. */
function memoryHover(e: MemoryEstimate): string {
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const lines = [`**Estimated peak memory of \`run\`: ${gib(e.peakBytes)}** (${e.phase})`, ''];
  for (const p of e.parts) if (p.bytes > 0) lines.push(`- ${p.what}: ${gib(p.bytes)}`);
  for (const a of e.assumed) lines.push('', `Assumed: ${a}.`);
  if (e.advice.length) lines.push('', `To lower it: ${e.advice.join('; ')}.`);
  return lines.join('\n');
}

/** calibration imatrix "file": what the file holds and how it fits the model. */
function imatrixHover(analysis: Analysis): string {
  const n = (k: number, one: string, many: string) => `${count(k)} ${k === 1 ? one : many}`;
  const { header, match } = analysis.imatrix!;
  const quantized = analysis.plan?.tensors.filter((t) => t.action === 'quantize' && t.tensor.shape.length === 2) ?? [];
  const weighted = quantized.filter((t) => match.entryOf.has(t.tensor.name)).length;
  return [
    `**imatrix** \`${header.path}\` (${header.format === 'gguf' ? 'GGUF' : 'legacy .dat'}): ${n(header.entries.length, 'entry', 'entries')}`,
    '',
    `Weights the searches of ${weighted} of ${n(quantized.length, 'quantized matrix', 'quantized matrices')} by mean x² per input channel ` +
      `(the diagonal of XᵀX; per-tensor output error is its diagonal estimate).` +
      (match.unmatched.length ? ` ${n(match.unmatched.length, 'entry matches', 'entries match')} no tensor.` : ''),
  ].join('\n');
}
