// Lets mocha load TypeScript test files: esbuild transpiles each .ts file on require.
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
