#!/usr/bin/env node
// The extension-host tests (test/e2e/ext/*.test.js) in desktop VS Code through @vscode/test-electron,
// for machines that can download VS Code (this one cannot: use `npm run test:e2e`, which runs the
// same files in code-server). `npm run test:electron` from the repo root.
//
//   node test/e2e/electron.mjs [--version 1.100.3|stable|insiders]
//   VSCODE_EXECUTABLE=/path/to/code node test/e2e/electron.mjs     (no download)
//
// Downloads VS Code into test/e2e/.vscode-test/ (once), opens a scratch copy of examples/ with a
// fresh profile and only this extension, and runs ext/index.js's run() inside the extension host.
// On a Linux machine without a display: xvfb-run -a npm run test:electron
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { copyExamples } from './lib/fixtures.mjs';
import { E2E_DIR, REPO, SETTINGS } from './lib/server.mjs';

const argv = process.argv.slice(2);
const vi = argv.indexOf('--version');
// The engine the extension is built and tested against (code-server 4.100.3 is VS Code 1.100.3).
const version = vi >= 0 ? argv[vi + 1] : process.env.VSCODE_VERSION || '1.100.3';

if (!fs.existsSync(path.join(REPO, 'dist', 'extension.js'))) {
  console.error('test:electron: dist/extension.js is missing: run npm run build');
  process.exit(1);
}

const scratch = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'bitsmith-electron-'));
const workspace = copyExamples(path.join(scratch, 'workspace'));
const userDataDir = path.join(scratch, 'user-data');
fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));

let code = 1;
try {
  await runTests({
    // a VS Code already on the machine (its `code` binary or Electron executable), else downloaded
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : { version }),
    cachePath: path.join(E2E_DIR, '.vscode-test'),
    extensionDevelopmentPath: REPO,
    extensionTestsPath: path.join(E2E_DIR, 'ext', 'index.js'),
    launchArgs: [
      workspace,
      '--disable-extensions', // every other extension; the one under development stays enabled
      `--user-data-dir=${userDataDir}`,
      `--extensions-dir=${path.join(scratch, 'extensions')}`,
    ],
    extensionTestsEnv: { BITSMITH_E2E_RESULTS: path.join(scratch, 'results.json') },
  });
  code = 0;
} catch (err) {
  // runTests rejects with TestRunFailedError when VS Code exits non-zero (a failed test included)
  console.error(`test:electron: ${err && err.message ? err.message : err}`);
} finally {
  try {
    const { results = [] } = JSON.parse(fs.readFileSync(path.join(scratch, 'results.json'), 'utf8'));
    const passed = results.filter((r) => r.state === 'passed').length;
    const failed = results.filter((r) => r.state === 'failed').length;
    console.log(`test:electron: ${passed} passed, ${failed} failed`);
    if (failed > 0 || passed === 0) code = 1;
  } catch {
    console.log('test:electron: no results were written (VS Code did not run the tests)');
    code = 1;
  }
  fs.rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
