// Bundles every entry point with esbuild. `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
};
const entries = [
  { entryPoints: ['client/src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { entryPoints: ['server/src/server.ts'], outfile: 'dist/server.js' },
  { entryPoints: ['cli/src/main.ts'], outfile: 'dist/cli.js' },
  // Webview UIs (report, compare, model inspector) and their stylesheet: browser bundles
  // loaded by client/src/panels under a strict CSP.
  ...['report', 'compare', 'model', 'allocation'].map((name) => ({
    entryPoints: [`webview/src/${name}/main.ts`],
    outfile: `dist/webview/${name}.js`,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: !watch,
  })),
  // node-gyp-build for native/index.js inside a VSIX, which ships no node_modules.
  {
    entryPoints: [createRequire(import.meta.url).resolve('node-gyp-build')],
    outfile: 'dist/node-gyp-build.js',
    sourcemap: false,
  },
  {
    entryPoints: ['webview/media/bitsmith.css'],
    outfile: 'dist/webview/bitsmith.css',
    platform: 'browser',
    minify: !watch,
  },
];
for (const entry of entries) {
  const options = { ...common, ...entry };
  if (watch) (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
