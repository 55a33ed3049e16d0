// The run report's JSON Schema, generated from its TypeScript types (core/src/runReport.ts,
// the one source of truth): `npm run schema` writes schemas/run-report.schema.json, and
// test/unit/report-schema.test.ts fails when the committed file is not what this writes.
//
//   node scripts/report-schema.mjs           write the file
//   node scripts/report-schema.mjs --check   exit 1 when the file is out of date
//
// Published for reportVersion 1: new optional fields may appear in version 1 reports, so
// objects accept properties the schema does not list (readers ignore them); the tests
// validate the CLI's reports with every object closed (core/src/reportSchema.ts), so a field the
// CLI writes must be declared in the types. `Measured` figures are number or null (JSON has
// no Infinity or NaN, written as null).
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';
import { createGenerator } from 'ts-json-schema-generator';
import * as prettier from 'prettier';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMA_FILE = path.join(root, 'schemas/run-report.schema.json');
export const SCHEMA_ID = 'urn:bitsmith:schema:run-report:1';

/** The schema as generated from the types (not yet formatted). */
export function generateSchema() {
  const config = {
    path: path.join(root, 'core/src/runReport.ts'),
    tsconfig: path.join(root, 'tsconfig.json'),
    type: 'RunReport',
    expose: 'export',
    topRef: true,
    jsDoc: 'extended',
    sortProps: true,
    skipTypeCheck: true,
    additionalProperties: true,
  };
  const generated = createGenerator(config).createSchema(config.type);
  const definitions = generated.definitions ?? {};
  if (!definitions.Measured) throw new Error('core/src/runReport.ts: no Measured type (the nullable figures)');
  definitions.Measured = { ...definitions.Measured, type: ['number', 'null'] };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: SCHEMA_ID,
    title: 'Bitsmith run report',
    description:
      'A report of `bitsmith run` (reportVersion 1), as saved in <recipe folder>/.bitsmith/reports/ and printed by `bitsmith run --json`. Generated from core/src/runReport.ts by scripts/report-schema.mjs; do not edit.',
    $ref: generated.$ref,
    definitions,
  };
}

/** The file's text: the schema formatted with the repository's prettier settings. */
export async function schemaText() {
  const options = (await prettier.resolveConfig(SCHEMA_FILE)) ?? {};
  return prettier.format(JSON.stringify(generateSchema()), { ...options, parser: 'json', filepath: SCHEMA_FILE });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = await schemaText();
  if (process.argv.includes('--check')) {
    const now = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    if (now !== text) {
      process.stderr.write(`${path.relative(root, SCHEMA_FILE)} is out of date: run npm run schema\n`);
      process.exit(1);
    }
  } else {
    fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
    fs.writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`wrote ${path.relative(root, SCHEMA_FILE)}\n`);
  }
}
