// A small JSON Schema checker for the run contract (cli/src/run/contract.schema.json): type
// (with integer), const, enum, properties, required, additionalProperties (false or a
// schema), items and local $ref. Numbers may be infinite (the runner's SQNR of an exact
// reconstruction): the events reach JavaScript without passing through JSON.
import { pushAll } from '../../core/src/arrays';

export type Schema = Record<string, unknown>;

export function validate(root: Schema, schema: Schema, value: unknown, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/definitions/', '');
    const def = (root.definitions as Record<string, Schema>)[name];
    if (!def) return [`${at}: unknown $ref ${schema.$ref}`];
    return validate(root, def, value, at);
  }
  const errors: string[] = [];
  if ('const' in schema && value !== schema.const)
    errors.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value as never))
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const ok = types.some((t) => {
      switch (t) {
        case 'integer':
          return typeof value === 'number' && Number.isInteger(value);
        case 'number':
          return typeof value === 'number' && !Number.isNaN(value);
        case 'array':
          return Array.isArray(value);
        case 'object':
          return typeof value === 'object' && value !== null && !Array.isArray(value);
        case 'null':
          return value === null;
        default:
          return typeof value === t;
      }
    });
    if (!ok) return [`${at}: ${JSON.stringify(value)?.slice(0, 80)} is not ${types.join(' | ')}`];
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((v, i) => pushAll(errors, validate(root, schema.items as Schema, v, `${at}[${i}]`)));
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[])
      if (!(r in obj) || obj[r] === undefined) errors.push(`${at}: missing ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined) continue;
      if (props[k]) pushAll(errors, validate(root, props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unexpected member ${k}`);
      else if (typeof schema.additionalProperties === 'object')
        pushAll(errors, validate(root, schema.additionalProperties as Schema, v, `${at}.${k}`));
    }
  }
  return errors;
}

/** Every property name declared under a schema (recursively through $refs), with its path. */
export function propertyNames(root: Schema, schema: Schema, at = '', seen = new Set<string>()): [string, string][] {
  if (typeof schema.$ref === 'string') {
    if (seen.has(schema.$ref)) return [];
    seen.add(schema.$ref);
    const def = (root.definitions as Record<string, Schema>)[schema.$ref.replace('#/definitions/', '')];
    return propertyNames(root, def, at, seen);
  }
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    out.push([k, `${at}.${k}`]);
    pushAll(out, propertyNames(root, v, `${at}.${k}`, seen));
  }
  if (schema.items) pushAll(out, propertyNames(root, schema.items as Schema, `${at}[]`, seen));
  return out;
}
