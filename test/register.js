// Lets mocha load TypeScript test files: esbuild transpiles each .ts file on require.
// Every report a CLI child writes is checked against schemas/run-report.schema.json with
// every object closed, and a mismatch fails that run (cli/src/report.ts reportFollowsSchema).
process.env.BITSMITH_STRICT_REPORTS = '1';
const { transformSync } = require('esbuild');
const fs = require('fs');
require.extensions['.ts'] = function (module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = transformSync(source, {
    loader: 'ts',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    sourcefile: filename,
  });
  module._compile(code, filename);
};
