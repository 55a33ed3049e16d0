// Extension-host test entry (extensionTestsPath): VS Code calls run() inside the extension host,
// for code-server (test/e2e/run.mjs, through the `payload` URL parameter) and for desktop VS Code
// (test/e2e/electron.mjs, through @vscode/test-electron) alike. Runs every ext/*.test.js with
// mocha; rejects when a test fails. With $BITSMITH_E2E_RESULTS set, also writes the results there
// as JSON (the code-server harness reads them: the extension host's stdout is not the harness's).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function loadMocha() {
  // test/e2e/node_modules first, then the repo root's (the extension's dev dependencies).
  for (const from of [__dirname, path.resolve(__dirname, '..', '..', '..')]) {
    try {
      return require(require.resolve('mocha', { paths: [from] }));
    } catch {
      /* next */
    }
  }
  throw new Error('mocha not found: run `bash test/e2e/setup.sh` (or npm install at the repo root)');
}

/** The harness's timeout scale for a loaded machine (test/e2e/lib/timing.mjs), else the same rule here. */
function timeoutScale() {
  const fixed = Number(process.env.BITSMITH_E2E_TIMEOUT_SCALE);
  if (fixed > 0) return fixed;
  const perCore = os.loadavg()[0] / Math.max(1, os.cpus().length);
  return Math.min(6, Math.max(2, perCore));
}

function run() {
  const Mocha = loadMocha();
  // The tests read the scale from here (their own waits are conditions with scaled timeouts).
  process.env.BITSMITH_E2E_TIMEOUT_SCALE = String(timeoutScale());
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 60_000 * timeoutScale(),
    color: false,
    reporter: 'spec',
    grep: process.env.BITSMITH_E2E_GREP || undefined,
  });
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  const results = [];
  const out = process.env.BITSMITH_E2E_RESULTS;
  const save = (extra) => {
    if (out) fs.writeFileSync(out, JSON.stringify({ results, ...extra }, null, 2));
  };
  return new Promise((resolve, reject) => {
    let runner;
    try {
      runner = mocha.run((failures) => {
        save({ failures, done: true });
        if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
        else resolve();
      });
    } catch (err) {
      save({ failures: 1, done: true, error: String((err && err.stack) || err) });
      reject(err);
      return;
    }
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', duration: t.duration }));
    runner.on('fail', (t, err) =>
      results.push({
        title: t.fullTitle(),
        state: 'failed',
        duration: t.duration,
        error: String((err && err.stack) || err),
      }),
    );
    runner.on('pending', (t) => results.push({ title: t.fullTitle(), state: 'pending' }));
  });
}

module.exports = { run };
