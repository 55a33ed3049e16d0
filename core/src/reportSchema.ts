// Run reports checked against their published JSON Schema (schemas/run-report.schema.json,
// generated from runReport.ts by scripts/report-schema.mjs): by the panels when they open a
// report (webview/src/shared/messages.ts reportProblem) and by `bitsmith run` before it saves
// one. The published schema lets objects carry fields it does not list (newer reports add
// optional fields within reportVersion 1); `closed` checks with every object closed, so a
// field the CLI writes must be declared in the types.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../../schemas/run-report.schema.json';

export const RUN_REPORT_SCHEMA: Readonly<Record<string, unknown>> = schema;
/** Where the schema is, in the repository and in the extension's package. */
export const RUN_REPORT_SCHEMA_PATH = 'schemas/run-report.schema.json';

type Node = unknown;

/** A copy of a schema with additionalProperties false on every object that lists properties. */
export function closedSchema(s: Node): Node {
  if (Array.isArray(s)) return s.map(closedSchema);
  if (!s || typeof s !== 'object') return s;
  const out: Record<string, Node> = {};
  for (const [k, v] of Object.entries(s as Record<string, Node>)) {
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v as Record<string, Node>).map(([p, x]) => [p, closedSchema(x)]))
        : closedSchema(v);
  }
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined)
    out.additionalProperties = false;
  return out;
}

const validators = new Map<boolean, ValidateFunction>();
function validator(closed: boolean): ValidateFunction {
  let v = validators.get(closed);
  if (!v) {
    const s = closed ? (closedSchema(schema) as Record<string, unknown>) : schema;
    // strict: false: the generated schema puts descriptions beside $ref (draft-07 ignores them).
    v = new Ajv({ allErrors: true, strict: false }).compile(s);
    validators.set(closed, v);
  }
  return v;
}

/** "tensors[3].bpw" from "/tensors/3/bpw". */
function pathOf(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out;
}

function describe(e: ErrorObject): string {
  const at = pathOf(e.instancePath) || 'the report';
  if (e.keyword === 'additionalProperties')
    return `${at} has a field the schema does not declare: "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'required') return `${at} lacks "${(e.params as { missingProperty: string }).missingProperty}"`;
  if (e.keyword === 'enum' || e.keyword === 'const')
    return `${at} ${e.message}: ${JSON.stringify((e.params as { allowedValues?: unknown; allowedValue?: unknown }).allowedValues ?? (e.params as { allowedValue?: unknown }).allowedValue)}`;
  return `${at} ${e.message ?? 'is invalid'}`;
}

/**
 * What keeps `value` (parsed JSON) from being a valid run report, at most `max` problems,
 * each naming the field (`tensors[3].bpw must be number`); [] when it is valid.
 */
export function runReportProblems(value: unknown, options: { closed?: boolean; max?: number } = {}): string[] {
  const v = validator(options.closed === true);
  if (v(value)) return [];
  const errors = v.errors ?? [];
  // anyOf/oneOf report every branch; the messages of the leaves say more.
  const leaves = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of leaves.length ? leaves : errors) {
    const d = describe(e);
    if (seen.has(d)) continue;
    seen.add(d);
    out.push(d);
    if (out.length >= (options.max ?? 5)) break;
  }
  return out;
}
