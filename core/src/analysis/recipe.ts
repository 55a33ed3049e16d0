// Interprets the uniform syntax tree as a recipe: each statement is checked against the
// vocabulary (language/schema.ts, language/formats.ts) and turned into typed settings.
// Problems become diagnostics; whatever is valid is kept, so one bad line never hides
// the meaning of the others.

import type { Block, IdentValue, NumberValue, RecipeFile, Span, Statement, StringValue, Value } from '../syntax/ast';
import { METHOD_BY_NAME, type ScaleType } from '../language/formats';
import {
  ALLOCATE_GRANULARITIES,
  ALLOCATE_KEYWORDS,
  ALLOCATE_METRICS,
  BUDGET_UNITS,
  BYTES_PER_UNIT,
  CALIBRATION_KINDS,
  BOOLEAN_OPTIONS,
  CALIBRATION_OPTIONS,
  EVALUATE_KEYWORDS,
  EXPORT_KINDS,
  OUTPUT_KINDS,
  PROPERTY_KEYWORDS,
  PROPERTY_WORDS,
  TOP_KEYWORDS,
} from '../language/schema';
import { compilePattern, type CompiledPattern } from './pattern';
import { diag, unknown, type Diagnostic } from './diagnostic';
import { pushAll } from '../arrays';

export interface PropValues {
  /** A format name, or 'keep' for `keep`. */
  format: string;
  method: { name: string; options: Record<string, number | boolean> };
  group: number | 'channel' | 'tensor';
  symmetric: boolean;
  scale: ScaleType;
  zero: 'f16' | 'int';
  clip: 'none' | 'mse';
  outliers: { fraction: number } | { count: number };
  lowrank: number;
  rotate: 'none' | 'hadamard';
}
export type PropName = keyof PropValues;
export const PROP_NAMES: readonly PropName[] = [
  'format',
  'method',
  'group',
  'symmetric',
  'scale',
  'zero',
  'clip',
  'outliers',
  'lowrank',
  'rotate',
];

export interface Setting<K extends PropName = PropName> {
  prop: K;
  value: PropValues[K];
  /** The property statement inside the rule's block. */
  stmt: Statement;
}

export type Settings = { [K in PropName]?: Setting<K> };

export interface RulePattern {
  text: string;
  span: Span;
  compiled: CompiledPattern;
}

export interface Rule {
  /** Position in cascade order (defaults first, then match rules in file order). */
  index: number;
  kind: 'defaults' | 'match';
  stmt: Statement;
  patterns: RulePattern[];
  settings: Settings;
  /** A short label: `defaults` or `match "a", "b"`. */
  label: string;
}

export type Budget =
  { stmt: Statement; kind: 'bpw'; bpw: number } | { stmt: Statement; kind: 'bytes'; bytes: number; text: string };

export interface Calibration {
  stmt: Statement;
  kind: (typeof CALIBRATION_KINDS)[number];
  path?: { value: string; span: Span };
  samples?: number;
  length?: number;
  seed?: number;
  /** `sequential true|false` (generated, tokens, text): layer l + 1 is calibrated on the
   * quantized layer l's outputs (true, the default) or the original layer's (false). */
  sequential?: boolean;
}

export interface Destination {
  stmt: Statement;
  kind: string;
  path: { value: string; span: Span };
}

export interface Allocate {
  stmt: Statement;
  formats: { name: string; span: Span }[];
  metric: (typeof ALLOCATE_METRICS)[number];
  granularity: (typeof ALLOCATE_GRANULARITIES)[number];
}

export interface Evaluate {
  stmt: Statement;
  /** tokens: held-out token ids (a JSON array of arrays) instead of generated sequences;
   * text: raw text tokenized with the model's tokenizer.json and windowed as llama-perplexity
   * does (windows of `length` ids, BOS first, the second half of each scored). */
  perplexity?: {
    samples?: number;
    length?: number;
    tokens?: { value: string; span: Span };
    text?: { value: string; span: Span };
    stmt: Statement;
  };
  klDivergence?: { stmt: Statement };
}

export interface Recipe {
  name?: string;
  model?: { path: string; span: Span; stmt: Statement };
  calibration?: Calibration;
  budget?: Budget;
  threads?: number;
  rules: Rule[];
  allocate?: Allocate;
  evaluate?: Evaluate;
  outputs: Destination[];
  exports: Destination[];
}

export function interpret(file: RecipeFile): { recipe: Recipe; diagnostics: Diagnostic[] } {
  const it = new Interpreter();
  const recipe = it.file(file);
  return { recipe, diagnostics: it.diagnostics };
}

const TOP_NAMES = TOP_KEYWORDS.map((k) => k.name);
const PROPERTY_NAMES = PROPERTY_KEYWORDS.map((k) => k.name);

class Interpreter {
  readonly diagnostics: Diagnostic[] = [];
  private seen = new Map<string, Statement>();

  private report(d: Diagnostic) {
    this.diagnostics.push(d);
  }

  file(file: RecipeFile): Recipe {
    const recipe: Recipe = { rules: [], outputs: [], exports: [] };
    const matchRules: Rule[] = [];
    let defaults: Rule | undefined;
    for (const stmt of file.statements) {
      const name = stmt.keyword.name;
      switch (name) {
        case 'recipe': {
          if (this.once(stmt)) recipe.name = this.onlyString(stmt)?.value;
          break;
        }
        case 'model': {
          if (!this.once(stmt)) break;
          const s = this.onlyString(stmt, 'the model path, e.g. model "./my-model"');
          if (s) recipe.model = { path: s.value, span: s, stmt };
          break;
        }
        case 'calibration':
          if (this.once(stmt)) recipe.calibration = this.calibration(stmt);
          break;
        case 'budget':
          if (this.once(stmt)) recipe.budget = this.budget(stmt);
          break;
        case 'threads': {
          if (!this.once(stmt)) break;
          this.noBlock(stmt);
          const v = this.integerArgs(stmt, 1, 1024);
          if (v !== undefined) recipe.threads = v;
          break;
        }
        case 'defaults': {
          if (!this.once(stmt)) break;
          this.noArgs(stmt);
          defaults = this.rule(stmt, 'defaults', []);
          break;
        }
        case 'match': {
          const patterns = this.patterns(stmt);
          matchRules.push(this.rule(stmt, 'match', patterns));
          break;
        }
        case 'allocate':
          if (this.once(stmt)) recipe.allocate = this.allocate(stmt);
          break;
        case 'evaluate':
          if (this.once(stmt)) recipe.evaluate = this.evaluate(stmt);
          break;
        case 'output': {
          const d = this.destination(stmt, OUTPUT_KINDS, 'output kind');
          if (d) {
            const dup = recipe.outputs.find((o) => o.kind === d.kind);
            if (dup)
              this.report(
                diag(
                  'recipe/duplicate-output',
                  'error',
                  stmt.keyword,
                  `A second 'output ${d.kind}': a recipe writes each kind of output once`,
                ),
              );
            else recipe.outputs.push(d);
          }
          break;
        }
        case 'export': {
          const d = this.destination(stmt, EXPORT_KINDS, 'export kind');
          if (d) recipe.exports.push(d);
          break;
        }
        default:
          if (PROPERTY_NAMES.includes(name)) {
            this.report(
              diag(
                'recipe/property-outside-rule',
                'error',
                stmt.keyword,
                `'${name}' is a tensor property: put it inside defaults { ... } or a match "pattern" { ... } block`,
              ),
            );
          } else {
            this.report(unknown('recipe/unknown-keyword', stmt.keyword, 'keyword', name, TOP_NAMES));
          }
      }
    }
    if (defaults) recipe.rules.push(defaults);
    pushAll(recipe.rules, matchRules);
    recipe.rules.forEach((r, i) => {
      r.index = i;
    });
    return recipe;
  }

  // ---- statements --------------------------------------------------------------------

  private once(stmt: Statement): boolean {
    const prev = this.seen.get(stmt.keyword.name);
    if (prev) {
      this.report(
        diag('recipe/duplicate-statement', 'error', stmt.keyword, `'${stmt.keyword.name}' may appear only once`, {
          related: [{ span: prev.keyword, message: 'first written here' }],
        }),
      );
      return false;
    }
    this.seen.set(stmt.keyword.name, stmt);
    return true;
  }

  private calibration(stmt: Statement): Calibration | undefined {
    this.noBlock(stmt);
    const [kindArg, ...rest] = stmt.args;
    if (!kindArg) {
      this.report(
        diag(
          'recipe/missing-argument',
          'error',
          stmt.keyword,
          `'calibration' needs a source: ${CALIBRATION_KINDS.join(', ')}`,
        ),
      );
      return undefined;
    }
    const kind = this.word(kindArg, CALIBRATION_KINDS, 'calibration source') as Calibration['kind'] | undefined;
    if (!kind) return undefined;
    const cal: Calibration = { stmt, kind };
    let i = 0;
    if (kind !== 'generated') {
      const p = rest[0];
      if (p?.kind !== 'string') {
        this.report(
          diag('recipe/missing-argument', 'error', p ?? kindArg, `'calibration ${kind}' needs a file path in quotes`),
        );
        return undefined;
      }
      cal.path = { value: p.value, span: p };
      i = 1;
    }
    this.options(
      rest.slice(i),
      kind === 'generated'
        ? CALIBRATION_OPTIONS
        : kind === 'imatrix'
          ? []
          : CALIBRATION_OPTIONS.filter((o) => o !== 'seed'),
      (name, v) => {
        if (name === 'samples') cal.samples = v as number;
        else if (name === 'length') cal.length = v as number;
        else if (name === 'sequential') cal.sequential = v as boolean;
        else cal.seed = v as number;
      },
    );
    return cal;
  }

  /** `name N name N ...` integer options (and `sequential true|false`) after a statement's main arguments. */
  private options(args: Value[], allowed: readonly string[], set: (name: string, value: number | boolean) => void) {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a.kind !== 'ident') {
        this.report(
          diag('recipe/extra-argument', 'error', a, `Unexpected argument: expected an option (${allowed.join(', ')})`),
        );
        continue;
      }
      if (!allowed.includes(a.name)) {
        this.report(unknown('recipe/unknown-option', a, 'option', a.name, allowed));
        if (args[i + 1]?.kind === 'number') i++;
        continue;
      }
      const v = args[i + 1];
      if (BOOLEAN_OPTIONS.includes(a.name)) {
        if (v?.kind !== 'ident' || (v.name !== 'true' && v.name !== 'false')) {
          this.report(diag('recipe/bad-value', 'error', v ?? a, `'${a.name}' needs true or false`));
          if (v?.kind === 'ident' || v?.kind === 'number') i++;
          continue;
        }
        set(a.name, v.name === 'true');
        i++;
        continue;
      }
      if (v?.kind !== 'number' || !Number.isInteger(v.value) || v.value < (a.name === 'seed' ? 0 : 1) || v.unit) {
        this.report(
          diag(
            'recipe/bad-value',
            'error',
            v ?? a,
            `'${a.name}' needs a ${a.name === 'seed' ? 'non-negative' : 'positive'} integer`,
          ),
        );
        if (v?.kind === 'number') i++;
        continue;
      }
      set(a.name, v.value);
      i++;
    }
  }

  private budget(stmt: Statement): Budget | undefined {
    this.noBlock(stmt);
    const [v, ...extra] = stmt.args;
    this.extra(extra);
    if (v?.kind !== 'number') {
      this.report(
        diag(
          'recipe/missing-argument',
          'error',
          v ?? stmt.keyword,
          "'budget' needs a number with a unit, e.g. budget 4.5 bpw or budget 3.8 GiB",
        ),
      );
      return undefined;
    }
    if (!v.unit || v.unit.text === '%') {
      this.report(
        diag('recipe/missing-unit', 'error', v, `Budget needs a unit: ${BUDGET_UNITS.join(', ')}`, {
          fix: { title: "Add 'bpw'", newText: `${v.text} bpw` },
        }),
      );
      return undefined;
    }
    if (v.value <= 0) {
      this.report(diag('recipe/bad-value', 'error', v, 'Budget must be positive'));
      return undefined;
    }
    if (v.unit.text === 'bpw') {
      if (v.value > 64)
        this.report(
          diag('recipe/bad-value', 'warning', v, `${v.value} bits per weight is more than any source dtype stores`),
        );
      return { stmt, kind: 'bpw', bpw: v.value };
    }
    return { stmt, kind: 'bytes', bytes: v.value * BYTES_PER_UNIT[v.unit.text], text: `${v.text} ${v.unit.text}` };
  }

  private destination(stmt: Statement, kinds: readonly string[], what: string): Destination | undefined {
    this.noBlock(stmt);
    const [k, p, ...extra] = stmt.args;
    this.extra(extra);
    if (!k) {
      this.report(
        diag(
          'recipe/missing-argument',
          'error',
          stmt.keyword,
          `'${stmt.keyword.name}' needs a kind (${kinds.join(', ')}) and a path`,
        ),
      );
      return undefined;
    }
    const kind = this.word(k, kinds, what);
    if (!kind) return undefined;
    if (p?.kind !== 'string') {
      this.report(
        diag('recipe/missing-argument', 'error', p ?? k, `'${stmt.keyword.name} ${kind}' needs a path in quotes`),
      );
      return undefined;
    }
    return { stmt, kind, path: { value: p.value, span: p } };
  }

  private patterns(stmt: Statement): RulePattern[] {
    const out: RulePattern[] = [];
    if (stmt.args.length === 0) {
      this.report(
        diag(
          'recipe/missing-argument',
          'error',
          stmt.keyword,
          `'match' needs one or more patterns in quotes, e.g. match "*.mlp.down_proj" { ... }`,
        ),
      );
    }
    for (const a of stmt.args) {
      if (a.kind !== 'string') {
        this.report(
          diag(
            'recipe/bad-value',
            'error',
            a,
            'Patterns are written in quotes, e.g. "model.layers.*.mlp.*"',
            a.kind === 'ident' ? { fix: { title: `Quote "${a.name}"`, newText: `"${a.name}"` } } : {},
          ),
        );
        continue;
      }
      const compiled = compilePattern(a.value);
      if (compiled.error) this.report(diag('pattern/invalid', 'error', a, compiled.error));
      out.push({ text: a.value, span: a, compiled });
    }
    if (!stmt.block)
      this.report(
        diag(
          'recipe/missing-block',
          'error',
          stmt,
          `'match' needs a block of properties: match "pattern" { format int4 }`,
        ),
      );
    return out;
  }

  private rule(stmt: Statement, kind: Rule['kind'], patterns: RulePattern[]): Rule {
    const settings: Settings = {};
    const label = kind === 'defaults' ? 'defaults' : `match ${patterns.map((p) => JSON.stringify(p.text)).join(', ')}`;
    if (kind === 'defaults' && !stmt.block)
      this.report(diag('recipe/missing-block', 'error', stmt, "'defaults' needs a block: defaults { format int4 }"));
    for (const p of stmt.block?.statements ?? []) this.property(p, settings);
    return { index: 0, kind, stmt, patterns, settings, label };
  }

  // ---- properties --------------------------------------------------------------------

  private property(stmt: Statement, settings: Settings) {
    const name = stmt.keyword.name;
    const set = <K extends PropName>(prop: K, value: PropValues[K]) => {
      const prev = settings[prop];
      if (prev) {
        this.report(
          diag(
            'recipe/duplicate-property',
            'warning',
            prev.stmt,
            `'${prev.stmt.keyword.name}' is set again later in this block; the later one wins`,
            {
              unnecessary: true,
              related: [{ span: stmt, message: 'set again here' }],
            },
          ),
        );
      }
      (settings as Record<PropName, Setting>)[prop] = { prop, value, stmt } as Setting;
    };
    if (name !== 'method') this.noBlock(stmt);
    switch (name) {
      case 'keep':
        this.noArgs(stmt);
        set('format', 'keep');
        return;
      case 'format': {
        const w = this.wordArg(stmt, PROPERTY_WORDS.format, 'format');
        if (w) set('format', w);
        return;
      }
      case 'method': {
        const w = this.wordArg(stmt, PROPERTY_WORDS.method, 'method');
        if (w) set('method', { name: w, options: this.methodOptions(w, stmt.block) });
        return;
      }
      case 'group': {
        const [v, ...extra] = stmt.args;
        this.extra(extra);
        if (v?.kind === 'ident') {
          const w = this.word(v, PROPERTY_WORDS.group, 'group');
          if (w) set('group', w as 'channel' | 'tensor');
        } else if (v?.kind === 'number' && !v.unit && Number.isInteger(v.value) && v.value >= 1) {
          set('group', v.value);
        } else {
          this.report(
            diag(
              v ? 'recipe/bad-value' : 'recipe/missing-argument',
              'error',
              v ?? stmt.keyword,
              "'group' takes a positive integer group size, 'channel' or 'tensor'",
            ),
          );
        }
        return;
      }
      case 'symmetric': {
        const w = this.wordArg(stmt, PROPERTY_WORDS.symmetric, 'value');
        if (w) set('symmetric', w === 'true');
        return;
      }
      case 'scale':
      case 'zero':
      case 'clip':
      case 'rotate': {
        const w = this.wordArg(stmt, PROPERTY_WORDS[name], `${name} value`);
        if (w) set(name, w as never);
        return;
      }
      case 'outliers': {
        const [v, ...extra] = stmt.args;
        this.extra(extra);
        if (v?.kind === 'number' && v.unit?.text === '%' && v.value >= 0 && v.value <= 50)
          set('outliers', { fraction: v.value / 100 });
        else if (v?.kind === 'number' && !v.unit && Number.isInteger(v.value) && v.value >= 0)
          set('outliers', { count: v.value });
        else
          this.report(
            diag(
              v ? 'recipe/bad-value' : 'recipe/missing-argument',
              'error',
              v ?? stmt.keyword,
              "'outliers' takes a percentage from 0% to 50% (e.g. 0.5%) or a whole count",
            ),
          );
        return;
      }
      case 'lowrank': {
        const r = this.integerArgs(stmt, 0, 65536);
        if (r !== undefined) set('lowrank', r);
        return;
      }
      default:
        if (TOP_NAMES.includes(name)) {
          this.report(
            diag(
              'recipe/statement-in-block',
              'error',
              stmt.keyword,
              `'${name}' is a top-level statement and cannot appear inside a block`,
            ),
          );
        } else {
          this.report(unknown('recipe/unknown-property', stmt.keyword, 'property', name, PROPERTY_NAMES));
        }
    }
  }

  private methodOptions(method: string, block: Block | undefined): Record<string, number | boolean> {
    const options: Record<string, number | boolean> = {};
    if (!block) return options;
    const info = METHOD_BY_NAME.get(method)!;
    const names = info.options.map((o) => o.name);
    for (const s of block.statements) {
      this.noBlock(s);
      const opt = info.options.find((o) => o.name === s.keyword.name);
      if (!opt) {
        if (names.length === 0)
          this.report(diag('recipe/unknown-option', 'error', s.keyword, `Method '${method}' has no options`));
        else this.report(unknown('recipe/unknown-option', s.keyword, `option of ${method}`, s.keyword.name, names));
        continue;
      }
      const [v, ...extra] = s.args;
      this.extra(extra);
      if (opt.type === 'boolean') {
        if (v?.kind === 'ident' && (v.name === 'true' || v.name === 'false')) options[opt.name] = v.name === 'true';
        else if (!v)
          options[opt.name] = true; // `act_order` alone reads as on
        else this.report(diag('recipe/bad-value', 'error', v, `'${opt.name}' takes true or false`));
        continue;
      }
      const ok =
        v?.kind === 'number' &&
        !v.unit &&
        (opt.type === 'number' || Number.isInteger(v.value)) &&
        (opt.min === undefined || v.value >= opt.min) &&
        (opt.max === undefined || v.value <= opt.max);
      if (ok) options[opt.name] = (v as NumberValue).value;
      else {
        const range =
          opt.max !== undefined
            ? ` from ${opt.min} to ${opt.max}`
            : opt.min !== undefined
              ? ` of at least ${opt.min}`
              : '';
        this.report(
          diag(
            v ? 'recipe/bad-value' : 'recipe/missing-argument',
            'error',
            v ?? s.keyword,
            `'${opt.name}' takes ${opt.type === 'integer' ? 'an integer' : 'a number'}${range}`,
          ),
        );
      }
    }
    return options;
  }

  private allocate(stmt: Statement): Allocate | undefined {
    this.noArgs(stmt);
    const a: Allocate = { stmt, formats: [], metric: 'weight', granularity: 'tensor' };
    const names = ALLOCATE_KEYWORDS.map((k) => k.name);
    let sawFormats = false;
    for (const s of stmt.block?.statements ?? []) {
      this.noBlock(s);
      switch (s.keyword.name) {
        case 'formats':
          sawFormats = true;
          if (s.args.length === 0)
            this.report(
              diag(
                'recipe/missing-argument',
                'error',
                s.keyword,
                "'formats' lists candidate formats, e.g. formats q4_k q5_k q6_k",
              ),
            );
          for (const v of s.args) {
            const w = this.word(v, PROPERTY_WORDS.format, 'format');
            if (w) a.formats.push({ name: w, span: v });
          }
          break;
        case 'metric': {
          const w = this.wordArg(s, ALLOCATE_METRICS, 'metric');
          if (w) a.metric = w as Allocate['metric'];
          break;
        }
        case 'granularity': {
          const w = this.wordArg(s, ALLOCATE_GRANULARITIES, 'granularity');
          if (w) a.granularity = w as Allocate['granularity'];
          break;
        }
        default:
          this.report(unknown('recipe/unknown-option', s.keyword, 'allocate option', s.keyword.name, names));
      }
    }
    if (!sawFormats)
      this.report(
        diag(
          'recipe/missing-argument',
          'error',
          stmt.keyword,
          "'allocate' needs candidate formats: allocate { formats q4_k q6_k }",
        ),
      );
    return a;
  }

  private evaluate(stmt: Statement): Evaluate {
    this.noArgs(stmt);
    const e: Evaluate = { stmt };
    const names = EVALUATE_KEYWORDS.map((k) => k.name);
    for (const s of stmt.block?.statements ?? []) {
      this.noBlock(s);
      if (s.keyword.name === 'perplexity') {
        const p: NonNullable<Evaluate['perplexity']> = { stmt: s };
        let args = s.args;
        const a0 = args[0];
        if (a0?.kind === 'string') {
          p.tokens = { value: a0.value, span: a0 };
          args = args.slice(1);
        } else if (a0?.kind === 'ident' && (a0.name === 'text' || a0.name === 'tokens')) {
          const f = args[1];
          if (f?.kind === 'string') {
            p[a0.name] = { value: f.value, span: f };
            args = args.slice(2);
          } else {
            this.report(
              diag(
                f ? 'recipe/bad-value' : 'recipe/missing-argument',
                'error',
                f ?? a0,
                `'perplexity ${a0.name}' needs a file in quotes: perplexity ${a0.name} "${a0.name === 'text' ? 'wiki.test.raw' : 'heldout.json'}"`,
              ),
            );
            args = args.slice(f ? 2 : 1);
          }
        }
        this.options(args, ['samples', 'length'], (n, v) => {
          if (n === 'samples') p.samples = v as number;
          else p.length = v as number;
        });
        e.perplexity = p;
      } else if (s.keyword.name === 'kl_divergence') {
        this.noArgs(s);
        e.klDivergence = { stmt: s };
      } else {
        this.report(unknown('recipe/unknown-option', s.keyword, 'evaluation', s.keyword.name, names));
      }
    }
    return e;
  }

  // ---- argument helpers ----------------------------------------------------------------

  private onlyString(stmt: Statement, what = 'a string in quotes'): StringValue | undefined {
    this.noBlock(stmt);
    const [v, ...extra] = stmt.args;
    this.extra(extra);
    if (v?.kind === 'string') return v;
    this.report(
      diag(
        v ? 'recipe/bad-value' : 'recipe/missing-argument',
        'error',
        v ?? stmt.keyword,
        `'${stmt.keyword.name}' needs ${what}`,
        v?.kind === 'ident' ? { fix: { title: `Quote "${v.name}"`, newText: `"${v.name}"` } } : {},
      ),
    );
    return undefined;
  }

  private integerArgs(stmt: Statement, min: number, max: number): number | undefined {
    const [v, ...extra] = stmt.args;
    this.extra(extra);
    if (v?.kind === 'number' && !v.unit && Number.isInteger(v.value) && v.value >= min && v.value <= max)
      return v.value;
    this.report(
      diag(
        v ? 'recipe/bad-value' : 'recipe/missing-argument',
        'error',
        v ?? stmt.keyword,
        `'${stmt.keyword.name}' takes an integer from ${min} to ${max}`,
      ),
    );
    return undefined;
  }

  private wordArg(stmt: Statement, allowed: readonly string[], what: string): string | undefined {
    const [v, ...extra] = stmt.args;
    this.extra(extra);
    if (!v) {
      this.report(
        diag(
          'recipe/missing-argument',
          'error',
          stmt.keyword,
          `'${stmt.keyword.name}' needs a ${what}: ${allowed.join(', ')}`,
        ),
      );
      return undefined;
    }
    return this.word(v, allowed, what);
  }

  private word(v: Value, allowed: readonly string[], what: string): string | undefined {
    if (v.kind === 'ident' && allowed.includes(v.name)) return v.name;
    const text = v.kind === 'ident' ? v.name : v.kind === 'string' ? v.value : v.text;
    const code =
      what === 'format'
        ? 'recipe/unknown-format'
        : what === 'method'
          ? 'recipe/unknown-method'
          : 'recipe/unknown-value';
    if (v.kind === 'string' && allowed.includes(v.value)) {
      this.report(
        diag(code, 'error', v, `Write ${what} names without quotes: ${v.value}`, {
          fix: { title: `Remove the quotes`, newText: v.value },
        }),
      );
      return undefined;
    }
    this.report(unknown(code, v, what, text, allowed));
    return undefined;
  }

  private extra(args: Value[]) {
    if (args.length === 0) return;
    const span = { start: args[0].start, end: args[args.length - 1].end };
    this.report(diag('recipe/extra-argument', 'error', span, `Unexpected extra argument${args.length > 1 ? 's' : ''}`));
  }

  private noArgs(stmt: Statement) {
    if (stmt.args.length) {
      this.report(
        diag(
          'recipe/extra-argument',
          'error',
          { start: stmt.args[0].start, end: stmt.args[stmt.args.length - 1].end },
          `'${stmt.keyword.name}' takes no arguments`,
        ),
      );
    }
  }

  private noBlock(stmt: Statement) {
    if (stmt.block)
      this.report(
        diag(
          'recipe/unexpected-block',
          'error',
          { start: stmt.block.start, end: stmt.block.start + 1 },
          `'${stmt.keyword.name}' takes no block`,
        ),
      );
  }
}

export type { IdentValue };
