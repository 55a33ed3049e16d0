#!/usr/bin/env node
// Bitsmith's end-to-end tests in a real VS Code: code-server 4.100.3 (VS Code 1.100.3) driven by
// playwright-core and Debian's Chromium, headless and offline. `npm run test:e2e` from the repo root.
//
//   node test/e2e/run.mjs [--only ext,lang,start,run,cancel,package] [--keep]
//
// Groups (all by default; also BITSMITH_E2E_ONLY=...):
//   ext      mocha tests inside the extension host (test/e2e/ext/*.test.js)
//   lang     diagnostics + Problems panel, hover, completion, typed in the editor
//   start    the Get Started walkthrough, New Recipe from Model (quick picks, the new recipe)
//   run      Run Recipe from the palette: progress, report panel table and charts, compare panel
//   cancel   Cancel Run on a slow synthetic model: stops, leaves no output or temp file
//   package  vsce package + code-server --install-extension + a smoke test of the installed vsix
//
// Everything runs in a scratch root under $TMPDIR (fresh profile, XDG dirs, copies of examples/),
// removed at the end unless --keep. Screenshots of every step: artifacts/e2e/. Exit code 0 only
// if every test passed; the last line reads `e2e: N passed, N failed`.
//
// On a busy machine: every wait is for a condition, with a timeout scaled by the load
// (lib/timing.mjs; BITSMITH_E2E_TIMEOUT_SCALE=<n> fixes the scale), and says what it awaited.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  brokenFormatDiagnostic,
  copyExamples,
  makeSlowWorkspace,
  planCounts,
  quickAllocation,
} from './lib/fixtures.mjs';
import { CODE_SERVER, CodeServer, E2E_DIR, REPO, atInterrupt } from './lib/server.mjs';
import {
  CHROMIUM,
  Shots,
  hoverUntil,
  launchBrowser,
  openFile,
  openWorkbench,
  pickQuickItem,
  recordNotifications,
  recorded,
  runCommand,
  webview,
} from './lib/workbench.mjs';
import { T, timeoutScale, visible, waitFor, waitSteady } from './lib/timing.mjs';
import { zipEntries } from './lib/zip.mjs';

const ALL = ['ext', 'lang', 'start', 'run', 'cancel', 'package'];
const argv = process.argv.slice(2);
const keep = argv.includes('--keep') || !!process.env.BITSMITH_E2E_KEEP;
const onlyArg = argv.find((a) => a.startsWith('--only'));
const onlyList =
  (onlyArg
    ? onlyArg.includes('=')
      ? onlyArg.split('=')[1]
      : argv[argv.indexOf(onlyArg) + 1]
    : process.env.BITSMITH_E2E_ONLY) || ALL.join(',');
const ONLY = new Set(
  onlyList
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
for (const g of ONLY) if (!ALL.includes(g)) fail(`unknown group ${g} (groups: ${ALL.join(', ')})`);

const t0 = Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${secs(Date.now() - t0).padStart(6)}] ${msg}`);
function fail(msg) {
  console.error(`e2e: ${msg}`);
  process.exit(1);
}

// ---- preflight --------------------------------------------------------------------------------
if (!fs.existsSync(CODE_SERVER) || !fs.existsSync(path.join(E2E_DIR, 'node_modules', 'playwright-core'))) {
  fail('test/e2e dependencies are not installed: run `bash test/e2e/setup.sh`');
}
if (!fs.existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM}: apt-get update && apt-get install -y chromium`);
for (const f of ['dist/extension.js', 'dist/server.js', 'dist/cli.js']) {
  if (!fs.existsSync(path.join(REPO, f))) fail(`${f} is missing: run npm run build`);
}

const ARTIFACTS = path.join(REPO, 'artifacts', 'e2e');
fs.rmSync(ARTIFACTS, { recursive: true, force: true });
const shots = new Shots(ARTIFACTS);
const scratch = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'bitsmith-e2e-'));
const resultsFile = path.join(scratch, 'ext-results.json');
if (!keep) atInterrupt(() => fs.rmSync(scratch, { recursive: true, force: true }));
log(`scratch root ${scratch}; screenshots in ${path.relative(process.cwd(), ARTIFACTS) || ARTIFACTS}`);
log(
  `timeouts scaled x${timeoutScale().toFixed(1)} for the load (${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`,
);

// ---- a tiny test runner: named checks, in order, with timings ---------------------------------
/** @type {{ name: string, state: 'passed'|'failed'|'skipped', ms: number, error?: string }[]} */
const results = [];
const current = { page: undefined, server: undefined, checkStart: 0 };

/** Logs a step of the running check with the time since it began: where the time went. */
function step(what) {
  log(`      · ${what} (+${secs(Date.now() - current.checkStart)})`);
}

async function check(name, fn) {
  const start = Date.now();
  current.checkStart = start;
  try {
    const note = await fn();
    if (note && typeof note === 'object' && note.skipped) {
      results.push({ name, state: 'skipped', ms: Date.now() - start, error: note.skipped });
      log(`  - ${name}: skipped (${note.skipped})`);
    } else {
      results.push({ name, state: 'passed', ms: Date.now() - start });
      log(`  ✓ ${name} (${secs(Date.now() - start)})${note && typeof note === 'string' ? `: ${note}` : ''}`);
    }
    return true;
  } catch (err) {
    const message = (err && err.stack) || String(err);
    results.push({ name, state: 'failed', ms: Date.now() - start, error: message });
    log(`  ✗ ${name} (${secs(Date.now() - start)})\n${indent(message)}`);
    if (current.page) await shots.take(current.page, `FAILED-${slug(name)}`);
    return false;
  }
}
const indent = (s) =>
  s
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
const slug = (s) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 50);
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
const oneLine = (s) => String(s).replace(/\s+/g, ' ').trim();
/** For reads inside polling conditions: Playwright would otherwise wait its default timeout
 *  (minutes here) for an element that is not there, and the poll would stall. */
const QUICK = { timeout: 1000 };

// Whole-run guard: a hung browser or server must not hang CI.
const GUARD_MS = Math.min(T(20 * 60_000), 90 * 60_000);
const guard = setTimeout(() => {
  console.error(`e2e: the whole run took more than ${secs(GUARD_MS)}; giving up`);
  if (current.server) console.error(current.server.logTail());
  process.exit(1);
}, GUARD_MS);
guard.unref();

/** Waits for the budget status bar item to show bits per weight: the active recipe is analysed. */
async function statusBarBpw(page, what) {
  const item = page.locator('.statusbar-item', { hasText: /\d(\.\d+)? bpw/ });
  await visible(item, `the status bar's bits per weight for ${what}`, T(30_000));
  return oneLine(await item.first().innerText());
}

let browser;
const servers = [];
try {
  // ---- fixtures and expectations (from the CLI, so the tests follow the language) -------------
  let phase = Date.now();
  const expect = {};
  if (ONLY.has('lang')) expect.broken = brokenFormatDiagnostic(scratch);
  if (ONLY.has('run') || ONLY.has('package')) expect.plan = planCounts(path.join(REPO, 'examples', 'int4.quant'));
  const ws = {};
  for (const g of ['ext', 'lang', 'start', 'run', 'package'])
    if (ONLY.has(g)) ws[g] = copyExamples(path.join(scratch, `ws-${g}`));
  if (ONLY.has('run')) {
    quickAllocation(ws.run);
    // Both runs of int4.quant evaluate, so Compare Runs has evaluation figures to show
    // (appended: the rules keep their line numbers).
    fs.appendFileSync(
      path.join(ws.run, 'int4.quant'),
      '\nevaluate { perplexity samples 4 length 64; kl_divergence }\n',
    );
  }
  if (ONLY.has('cancel')) ws.cancel = makeSlowWorkspace(path.join(scratch, 'ws-cancel'));
  if (ONLY.has('lang')) {
    // A model whose file was cut short (an interrupted download): the recipe must say so on its
    // `model` line, and a run must fail naming the file.
    const broken = path.join(ws.lang, 'broken-model');
    fs.cpSync(path.join(ws.lang, 'stories260K'), broken, { recursive: true });
    const st = path.join(broken, 'model.safetensors');
    fs.truncateSync(st, 5000);
    fs.writeFileSync(
      path.join(ws.lang, 'truncated.quant'),
      'model "broken-model"\ndefaults { format int4; group 32 }\n',
    );
  }
  log(`fixtures ready (${secs(Date.now() - phase)})`);

  phase = Date.now();
  browser = await launchBrowser(scratch);
  log(`chromium ${browser.version()} launched (${secs(Date.now() - phase)})`);

  const needsDevServer = ['ext', 'lang', 'start', 'run', 'cancel'].some((g) => ONLY.has(g));
  let server;
  if (needsDevServer) {
    phase = Date.now();
    server = new CodeServer(scratch, { name: 'dev', env: { BITSMITH_E2E_RESULTS: resultsFile } });
    servers.push(server);
    current.server = server;
    await server.start();
    log(`code-server started on port ${server.port} (${secs(Date.now() - phase)})`);
  }
  const devUrl = (folder, extra = {}) => server.url(folder, { devPath: REPO, ...extra });

  /** One workbench window per group: fresh browser context, its own workspace folder. */
  async function withWindow(group, url, body, opts = {}) {
    const start = Date.now();
    log(`[${group}]`);
    let win;
    const opened = await check(`${group}: workbench opens`, async () => {
      win = await openWorkbench(browser, url, opts);
      current.page = win.page;
    });
    try {
      if (opened) await body(win);
    } finally {
      current.page = undefined;
      await win?.context.close().catch(() => {});
      log(`[${group}] took ${secs(Date.now() - start)}`);
    }
  }

  // ---- ext: mocha inside the extension host ----------------------------------------------------
  if (ONLY.has('ext')) {
    const url = devUrl(ws.ext, { testsPath: path.join(E2E_DIR, 'ext', 'index.js') });
    await withWindow(
      'ext',
      url,
      async ({ page, exitPromise, consoleLines }) => {
        const extLimit = T(180_000);
        let timer;
        const timeout = new Promise((r) => (timer = setTimeout(() => r('timeout'), extLimit)));
        const code = await Promise.race([exitPromise, timeout]);
        clearTimeout(timer); // or it would keep the harness alive after the summary
        await shots.take(page, 'ext-host-tests');
        let report;
        try {
          report = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
        } catch {
          /* no results: reported below */
        }
        for (const r of report?.results ?? []) {
          results.push({
            name: `ext-host: ${r.title}`,
            state: r.state === 'pending' ? 'skipped' : r.state,
            ms: r.duration ?? 0,
            error: r.error,
          });
          log(
            `  ${r.state === 'passed' ? '✓' : r.state === 'failed' ? '✗' : '-'} ext-host: ${r.title}${r.error ? `\n${indent(r.error.split('\n').slice(0, 6).join('\n'))}` : ''}`,
          );
        }
        await check('ext: extension-host suite finished', async () => {
          if (report?.error) throw new Error(`the suite could not run: ${report.error}`);
          assert(
            code !== 'timeout',
            `no result within ${secs(extLimit)}\n${consoleLines
              .filter((l) => /error|fail/i.test(l))
              .slice(-20)
              .join('\n')}`,
          );
          assert(
            report?.results?.length > 0,
            `no test results (exit code ${code})\n${consoleLines.slice(-30).join('\n')}`,
          );
          const failed = report.results.filter((r) => r.state === 'failed').length;
          assert((code === 0) === (failed === 0), `exit code ${code} but ${failed} failed test(s)`);
          return `${report.results.length} tests, exit code ${code}`;
        });
      },
      { exposeExit: true },
    );
  }

  // ---- lang: diagnostics, Problems, hover, completion ------------------------------------------
  if (ONLY.has('lang')) {
    await withWindow('lang', devUrl(ws.lang), async ({ page }) => {
      let editor;
      await check('lang: hover on a match rule shows its bits per weight', async () => {
        editor = await openFile(page, 'int4.quant');
        const line = editor.locator('.view-line', { hasText: 'match "*.mlp.down_proj"' });
        const keyword = line
          .locator('span > span')
          .filter({ hasText: /^match$/ })
          .first();
        await visible(keyword, 'the `match` keyword of match "*.mlp.down_proj"');
        const text = await hoverUntil(page, keyword, /bpw/);
        assert(/\d+(\.\d+)?\s*bpw/.test(text), `hover has no "<number> bpw": ${oneLine(text)}`);
        assert(/down_proj/.test(text), `hover does not name the matched tensors: ${oneLine(text)}`);
        await shots.take(page, 'hover-match-rule');
        await page.mouse.move(700, 880);
        await page.keyboard.press('Escape');
        return oneLine(text).slice(0, 100);
      });

      await check('lang: the clean recipe has no error squiggles and no Problems entries', async () => {
        // The status bar's figures come from the analysis whose diagnostics were published
        // just before them: once they show, what the editor shows is the analysis of this text.
        await statusBarBpw(page, 'int4.quant');
        const squiggles = () => editor.locator('.squiggly-error').count();
        await waitSteady(async () => (await squiggles()) === 0, {
          timeout: T(10_000),
          what: 'int4.quant without error squiggles',
          seen: async () => `${await squiggles()} error squiggles`,
        });
        await page.keyboard.press('Control+Shift+M');
        const panel = page.locator('.markers-panel');
        await visible(panel, 'the Problems panel');
        const rows = () => panel.locator('.monaco-list-row').allInnerTexts();
        await waitSteady(async () => (await rows()).length === 0, {
          timeout: T(10_000),
          what: 'an empty Problems panel',
          seen: async () => JSON.stringify((await rows()).map(oneLine)),
        });
        await shots.take(page, 'clean-recipe-no-problems');
      });

      await check('lang: typing `format int44` shows an error squiggle and its Problems row', async () => {
        const line = editor.locator('.view-line', { hasText: 'format int4' }).first();
        await line.click();
        await page.keyboard.press('End');
        await page.keyboard.type('4');
        await page.keyboard.press('Escape');
        await visible(editor.locator('.view-line', { hasText: 'format int44' }), 'the typed `format int44`');
        await visible(editor.locator('.squiggly-error'), 'an error squiggle under int44');
        const panel = page.locator('.markers-panel');
        if (!(await panel.isVisible())) await page.keyboard.press('Control+Shift+M');
        const row = panel.locator('.monaco-list-row', { hasText: expect.broken.message });
        await visible(row, `the Problems row "${expect.broken.message}"`);
        const text = oneLine(await row.first().innerText());
        assert(text.includes(expect.broken.message), `row text ${text}`);
        await shots.take(page, 'broken-recipe-diagnostics');
        // back to a clean recipe before the completion test
        await editor.locator('.view-line', { hasText: 'format int44' }).click();
        await page.keyboard.press('End');
        await page.keyboard.press('Backspace');
        await waitFor(async () => (await page.locator('.editor-instance .squiggly-error').count()) === 0, {
          timeout: T(20_000),
          what: 'the error squiggle to go once int44 is int4 again',
        });
        return text.slice(0, 100);
      });

      await check(
        'lang: a truncated model file is an error on the model line; Run Recipe refuses it naming the error',
        async () => {
          await openFile(page, 'truncated.quant');
          const ed = page.locator('.editor-instance .monaco-editor').first();
          await visible(ed.locator('.view-line', { hasText: 'broken-model' }), 'the text of truncated.quant');
          await visible(ed.locator('.squiggly-error'), 'an error squiggle on the model line');
          const panel = page.locator('.markers-panel');
          if (!(await panel.isVisible())) await page.keyboard.press('Control+Shift+M');
          const row = panel.locator('.monaco-list-row', { hasText: 'run past the end of the file' });
          await visible(row, 'the Problems row naming the truncated file');
          const text = oneLine(await row.first().innerText());
          assert(/model\.safetensors/.test(text) && /model\/truncated/.test(text), `row text ${text}`);
          await shots.take(page, 'truncated-model-diagnostic');
          await recordNotifications(page);
          // Refused up front (no process starts), naming the error and offering Problems.
          const toast = page.locator('.notifications-toasts .notification-toast', {
            hasText: 'not running truncated.quant',
          });
          await runCommand(page, 'Bitsmith: Run Recipe', {
            ran: () =>
              toast
                .first()
                .isVisible()
                .catch(() => false),
            ranWhat: 'the refusal notification',
          });
          await visible(toast, 'the notification refusing to run truncated.quant', T(30_000));
          const msg = oneLine(await toast.first().innerText());
          assert(
            /1 error \(line 1: .*model\.safetensors/.test(msg),
            `the refusal names the error and the file: ${msg}`,
          );
          assert(/Show Problems/.test(msg), `offers Show Problems: ${msg}`);
          await shots.take(page, 'truncated-model-run-failed');
          await page.keyboard.press('Escape');
          await page.locator('.tabs-container .tab', { hasText: 'int4.quant' }).first().click();
          return `${text.slice(0, 90)} | ${msg.slice(0, 120)}`;
        },
      );

      await check("lang: completion in a match string offers the model's tensor patterns", async () => {
        await editor.locator('.view-line').last().click();
        await page.keyboard.press('Control+End');
        await page.keyboard.press('Enter');
        await page.keyboard.type('match "');
        await page.keyboard.press('Control+Space');
        const widget = page.locator('.suggest-widget');
        await visible(widget.locator('.monaco-list-row'), 'the completion list');
        await page.keyboard.type('down_proj');
        const row = widget.locator('.monaco-list-row', { hasText: 'model.layers.*.mlp.down_proj' });
        await visible(row, 'the completion model.layers.*.mlp.down_proj');
        const labels = (await widget.locator('.monaco-list-row').allInnerTexts()).map(oneLine);
        await shots.take(page, 'completion-tensor-patterns');
        await page.keyboard.press('Escape');
        return JSON.stringify(labels.slice(0, 4));
      });
    });
  }

  // ---- start: the Get Started walkthrough, New Recipe from Model ------------------------------
  if (ONLY.has('start')) {
    await withWindow('start', devUrl(ws.start), async ({ page }) => {
      const steps = page.locator('button.getting-started-step');
      const step = (id) => page.locator(`button.getting-started-step[data-step-id$="#${id}"]`);
      const done = async (id) =>
        (await step(id)
          .getAttribute('aria-checked', QUICK)
          .catch(() => null)) === 'true';
      const doneSteps = async () =>
        JSON.stringify(
          await steps.evaluateAll((bs) =>
            bs.map(
              (b) => `${(b.getAttribute('data-step-id') ?? '').split('#').pop()}=${b.getAttribute('aria-checked')}`,
            ),
          ),
        );
      let walkthrough = false;

      await check(
        'start: Bitsmith: Get Started opens the walkthrough, six steps, none done in a fresh profile',
        async () => {
          await runCommand(page, 'Bitsmith: Get Started', {
            ran: () =>
              page
                .locator('.gettingStartedContainer')
                .first()
                .isVisible()
                .catch(() => false),
            ranWhat: 'the walkthrough page',
          });
          await visible(
            page.locator('.gettingStartedContainer', { hasText: 'Get Started with Bitsmith' }),
            'the walkthrough "Get Started with Bitsmith"',
          );
          await waitFor(async () => (await steps.count()) === 6, {
            what: 'six walkthrough steps',
            seen: async () => `${await steps.count()} steps`,
          });
          const titles = (await page.locator('button.getting-started-step .step-title').allInnerTexts()).map(oneLine);
          assert(
            JSON.stringify(titles) ===
              JSON.stringify([
                'Open or pick a model',
                'Write a first recipe',
                'See the budget',
                'Run it',
                'Review the report',
                'Allocate bits under a budget',
              ]),
            `step titles: ${JSON.stringify(titles)}`,
          );
          for (const id of ['openModel', 'writeRecipe', 'seeBudget', 'runRecipe'])
            assert(!(await done(id)), `step ${id} is done before anything happened: ${await doneSteps()}`);
          walkthrough = true;
          await shots.take(page, 'walkthrough');
          return titles.join(' | ');
        },
      );

      await check(
        "start: the walkthrough's New Recipe button: model and preset picks, a recipe that checks clean, bpw in the status bar, steps done",
        async () => {
          if (!walkthrough) return { skipped: 'no walkthrough' };
          await step('writeRecipe').click();
          const button = step('writeRecipe').locator('.monaco-button', { hasText: 'New Recipe from Model' });
          await visible(button, 'the "New Recipe from Model" button of the "Write a first recipe" step');
          await button.click();
          // Which model: the workspace's, found by the search (the folder, not its .bin).
          await pickQuickItem(page, 'hf-folder', 'the stories260K folder (hf-folder) among the workspace models');
          await pickQuickItem(page, 'W4A16 GPTQ for vLLM', 'the W4A16 preset');
          await visible(
            page.locator('.tabs-container .tab', { hasText: 'stories260K-w4a16.quant' }),
            'the tab of the new recipe stories260K-w4a16.quant',
          );
          const editor = page.locator('.editor-instance .monaco-editor').first();
          await visible(
            editor.locator('.view-line', { hasText: 'recipe "stories260K W4A16 GPTQ"' }),
            "the new recipe's text",
          );
          const status = await statusBarBpw(page, 'the new recipe');
          const squiggles = () => page.locator('.editor-instance .squiggly-error').count();
          await waitSteady(async () => (await squiggles()) === 0, {
            timeout: T(10_000),
            what: 'the new recipe without error squiggles',
            seen: async () => `${await squiggles()} error squiggles`,
          });
          await shots.take(page, 'new-recipe-w4a16');
          // Back in the walkthrough: the recipe and budget steps are done.
          const walkTab = page.locator('.tabs-container .tab', { hasText: /Walkthrough|Welcome/ });
          await visible(walkTab, "the walkthrough's tab");
          await walkTab.first().click();
          await waitFor(
            async () => (await done('writeRecipe')) && (await done('seeBudget')) && (await done('openModel')),
            {
              timeout: T(15_000),
              what: 'the steps "Open or pick a model", "Write a first recipe" and "See the budget" checked',
              seen: doneSteps,
            },
          );
          assert(!(await done('runRecipe')), `"Run it" is done without a run: ${await doneSteps()}`);
          await shots.take(page, 'walkthrough-steps-done');
          return `${status}; ${await doneSteps()}`;
        },
      );

      await check(
        'start: New Recipe from Model, "Fit a size": the size question checks its answer; the recipe has the budget',
        async () => {
          await runCommand(page, 'Bitsmith: New Recipe from Model...', {
            ran: () =>
              page
                .locator('.quick-input-widget .quick-input-title', { hasText: 'which model' })
                .isVisible()
                .catch(() => false),
            ranWhat: 'the "which model?" pick',
          });
          await pickQuickItem(page, 'llama2c', 'stories260K.bin (llama2c) among the workspace models');
          await pickQuickItem(page, 'Fit a size...', 'the fit preset');
          const qi = page.locator('.quick-input-widget');
          const input = qi.locator('input').first();
          await visible(input, 'the size question');
          const proposed = await waitFor(
            async () => {
              const v = await input.inputValue(QUICK).catch(() => '');
              return /^\d+(\.\d+)? (KB|MB|GB)$/.test(v) && v;
            },
            { what: 'a proposed size (e.g. "338 KB")', seen: () => input.inputValue(QUICK).catch(() => '') },
          );
          await input.fill('1 KB');
          const message = qi.locator('.quick-input-message');
          await waitFor(async () => /Below the smallest size/.test(await message.innerText(QUICK).catch(() => '')), {
            what: 'the validation message for 1 KB ("Below the smallest size ...")',
            seen: () => message.innerText(QUICK).catch(() => ''),
          });
          await shots.take(page, 'fit-too-small');
          await input.fill(proposed);
          await waitFor(async () => (await input.inputValue(QUICK).catch(() => '')) === proposed, {
            what: `the input to read ${proposed}`,
          });
          await page.keyboard.press('Enter');
          await visible(
            page.locator('.tabs-container .tab', { hasText: 'stories260K-fit.quant' }),
            'the tab of the new recipe stories260K-fit.quant',
          );
          await visible(
            page.locator('.editor-instance .view-line', { hasText: `budget ${proposed}` }),
            `the line budget ${proposed}`,
          );
          const status = page.locator('.statusbar-item', { hasText: /bpw.*budget/ });
          await visible(status, "the status bar with the recipe's budget");
          const squiggles = () => page.locator('.editor-instance .squiggly-error').count();
          await waitSteady(async () => (await squiggles()) === 0, {
            timeout: T(10_000),
            what: 'the fit recipe without error squiggles',
            seen: async () => `${await squiggles()} error squiggles`,
          });
          await shots.take(page, 'new-recipe-fit');
          return `${proposed}: ${oneLine(await status.first().innerText())}`;
        },
      );
    });
  }

  // ---- run: Run Recipe -> progress, report panel, charts, compare --------------------------------
  /** Waits for the report table to settle on the expected rows; returns what it found. */
  async function checkReportTable(page, plan) {
    const wv = webview(page);
    const rows = wv.locator('#tensor-table tr[data-tensor]');
    // Rows, or an error toast (fail fast: a failed run never fills the table).
    await waitFor(
      async () => {
        if ((await rows.count()) > 0) return true;
        await throwIfRunFailed(page);
        return false;
      },
      {
        timeout: T(90_000),
        interval: 300,
        what: "rows in the report panel's #tensor-table",
        seen: async () => JSON.stringify((await recorded(page)).slice(-4)),
      },
    );
    const quantize = plan.byAction.quantize ?? 0;
    const accepted = [quantize, plan.total];
    let n = 0;
    try {
      await waitFor(async () => accepted.includes((n = await rows.count())), {
        timeout: T(60_000),
        what: 'the report table to list the tensors',
      });
    } catch {
      throw new Error(
        `#tensor-table has ${n} tr[data-tensor] rows; expected ${quantize} (quantized tensors) or ${plan.total} (all tensors)`,
      );
    }
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-tensor')));
    const quantized = plan.tensors.filter((_, i) => plan.actions[i] === 'quantize');
    const missing = quantized.filter((t) => !names.includes(t));
    assert(missing.length === 0, `report rows miss quantized tensors: ${missing.slice(0, 5).join(', ')}`);
    const withAction = await wv.locator('#tensor-table tr[data-tensor][data-action]').count();
    if (withAction > 0) {
      const q = await wv.locator('#tensor-table tr[data-tensor][data-action="quantize"]').count();
      assert(q === quantize, `${q} rows with data-action="quantize", expected ${quantize}`);
    }
    return { rows: n, quantize, total: plan.total };
  }

  async function checkCharts(page) {
    const wv = webview(page);
    const sizes = {};
    for (const chart of ['error-per-layer', 'heatmap']) {
      const el = wv.locator(`[data-chart="${chart}"]`).locator('canvas, svg').first();
      await visible(el, `the ${chart} chart`);
      await el.scrollIntoViewIfNeeded().catch(() => {});
      const box = await waitFor(
        async () => {
          const b = await el.boundingBox();
          return b && b.width > 0 && b.height > 0 && b;
        },
        { timeout: T(10_000), what: `a non-empty ${chart} chart` },
      );
      // something is drawn: painted pixels on a canvas, shapes in an svg
      const ink = await waitFor(
        () =>
          el.evaluate((node) => {
            if (node instanceof SVGElement)
              return node.querySelectorAll('path, rect, circle, line, polyline, polygon').length;
            const c = /** @type {HTMLCanvasElement} */ (node);
            const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return painted / (c.width * c.height) > 0.01 ? painted : 0;
          }),
        { timeout: T(10_000), what: `the ${chart} chart to draw something` },
      );
      sizes[chart] = `${Math.round(box.width)}x${Math.round(box.height)} (${ink} drawn)`;
    }
    return sizes;
  }

  /** Throws if an error toast says the run failed (say, no native addon): the real cause, not a timeout. */
  async function throwIfRunFailed(page) {
    const err = (await recorded(page)).find((l) => /^toast: .*(fail|error|cannot|could not)/i.test(l));
    if (err) throw new Error(`the run failed: ${err}`);
  }

  /** A run's effect: progress, or an error toast (which checkReportTable then reports). */
  const runStarted = (page) => async () =>
    (await recorded(page)).some((l) => isProgress(l) || /^toast: .*(fail|error|cannot|could not)/i.test(l));

  const isProgress = (line) =>
    /^toast: .*(bitsmith|running|quantiz|tensor)/i.test(line) || /\[spinning\]/.test(line) || line === 'progress-bar';

  if (ONLY.has('run')) {
    await withWindow('run', devUrl(ws.run), async ({ page }) => {
      let panelOpen = false;
      await check('run: Run Recipe shows progress and opens the report panel with one row per tensor', async () => {
        await openFile(page, 'int4.quant');
        await recordNotifications(page);
        await runCommand(page, 'Bitsmith: Run Recipe', { ran: runStarted(page), ranWhat: 'run progress' });
        const found = await checkReportTable(page, expect.plan);
        panelOpen = true;
        const seen = await recorded(page);
        assert(
          seen.some(isProgress),
          `no progress notification or status-bar progress was seen; saw ${JSON.stringify(seen.slice(0, 12))}`,
        );
        const latest = path.join(ws.run, '.bitsmith', 'reports', 'int4-latest.json');
        await waitFor(() => fs.existsSync(latest), { timeout: T(10_000), what: `${path.relative(scratch, latest)}` });
        await shots.take(page, 'report-panel');
        return `${found.rows} rows (plan: ${found.quantize} quantized of ${found.total}); progress seen: ${JSON.stringify(seen.filter(isProgress).slice(0, 2))}`;
      });

      await check("run: the report panel's charts render", async () => {
        assert(panelOpen, 'the report panel did not open');
        const sizes = await checkCharts(page);
        await shots.take(page, 'report-charts');
        return JSON.stringify(sizes);
      });

      await check('run: clicking a tensor row reveals the rule that decided it in the recipe', async () => {
        assert(panelOpen, 'the report panel did not open');
        // int4.quant: `defaults` (line 7) sets the format, `match "*.mlp.down_proj"` (line 13) the group.
        await webview(page, 0).locator('tr[data-tensor="model.layers.0.mlp.down_proj.weight"]').click();
        // The report panel covers the recipe's editor group, so the rule opens in a group
        // beside it: the last int4.quant tab.
        const tabs = page.locator('.tabs-container .tab', { hasText: 'int4.quant' });
        await waitFor(async () => (await tabs.count()) >= 2, {
          timeout: T(10_000),
          what: 'the recipe opened beside the report',
        });
        await tabs.last().click();
        const position = page.locator('.statusbar-item', { hasText: /^Ln \d+, Col \d+/ }).first();
        let text = '';
        await waitFor(
          async () => /^Ln 13, Col \d+/.test((text = oneLine(await position.innerText(QUICK).catch(() => '')))),
          { timeout: T(10_000), what: 'the cursor on line 13' },
        ).catch(() => {
          throw new Error(`the recipe's cursor is at "${text}", not on line 13 (match "*.mlp.down_proj")`);
        });
        await shots.take(page, 'reveal-rule');
        return text;
      });

      await check('run: Compare Runs on two runs opens the compare panel', async () => {
        if (!panelOpen) return { skipped: 'no report panel' };
        await page.locator('.tabs-container .tab', { hasText: 'int4.quant' }).first().click();
        const reports = path.join(ws.run, '.bitsmith', 'reports');
        const before = fs.readdirSync(reports).length;
        await recordNotifications(page);
        await runCommand(page, 'Bitsmith: Run Recipe', {
          ran: async () => (await recorded(page)).some(isProgress) || fs.readdirSync(reports).length > before,
          ranWhat: 'run progress or a new report',
        });
        step('second run started');
        await waitFor(() => fs.readdirSync(reports).length > before, { timeout: T(60_000), what: 'a second report' });
        step('second report written');
        // The run ends by revealing its report, which takes the focus (and would close a
        // palette opened meanwhile): wait for that first.
        const activeTab = page.locator('.tabs-container .tab.active');
        await waitFor(
          async () =>
            /^Report:/.test(
              oneLine(
                await activeTab
                  .first()
                  .innerText(QUICK)
                  .catch(() => ''),
              ),
            ),
          {
            timeout: T(30_000),
            what: 'the report panel revealed after the second run',
            seen: () =>
              activeTab
                .first()
                .innerText(QUICK)
                .catch(() => ''),
          },
        );
        step('report revealed');
        const comparePick = page.locator('.quick-input-widget .quick-input-title', {
          hasText: 'Compare which runs',
        });
        await runCommand(page, 'Bitsmith: Compare Runs', {
          ran: () => comparePick.isVisible().catch(() => false),
          ranWhat: 'the "Compare which runs?" pick',
        });
        // "Compare which runs? (select two or more)": a multi-select quick pick of the reports
        const qi = page.locator('.quick-input-widget');
        step('Compare Runs ran');
        await visible(qi.locator('.monaco-list-row'), 'the reports offered by Compare Runs');
        const picks = qi.locator('.monaco-list-row');
        assert((await picks.count()) >= 2, `the quick pick offers ${await picks.count()} report(s)`);
        // Check the first two; a click lost to a re-render is clicked again.
        // The row's aria-checked, or its checkbox widget's (a custom toggle, or an input).
        const checked = (i) =>
          picks
            .nth(i)
            .evaluate(
              (row) =>
                row.getAttribute('aria-checked') === 'true' ||
                !!row.querySelector(
                  '[role=checkbox][aria-checked="true"], .monaco-custom-toggle.checked, input[type=checkbox]:checked',
                ),
              null,
              QUICK,
            )
            .catch(() => false);
        for (let i = 0; i < 2; i++) {
          for (let attempt = 0; attempt < 3 && !(await checked(i)); attempt++) {
            const box = picks.nth(i).locator('.quick-input-list-checkbox, input[type=checkbox]').first();
            if (await box.count()) await box.click().catch(() => {});
            else
              await picks
                .nth(i)
                .click()
                .catch(() => {});
            await waitFor(() => checked(i), { timeout: T(3000), what: 'the check' }).catch(() => {});
          }
          assert(await checked(i), `report ${i + 1} of the Compare Runs pick could not be checked`);
        }
        step('two reports checked');
        await shots.take(page, 'compare-pick');
        await page.keyboard.press('Enter');
        await waitFor(async () => !(await qi.isVisible().catch(() => false)), {
          timeout: T(10_000),
          what: 'the Compare Runs pick to take the two reports',
        });
        const tab = page.locator('.tabs-container .tab').filter({ hasText: 'Compare:' }).first();
        await visible(tab, 'the Compare: tab');
        // the compare webview is the one holding #compare-totals (the report panel's is still there)
        let cmp;
        await waitFor(
          async () => {
            const n = await page.locator('iframe.webview.ready').count();
            for (let i = 0; i < n; i++) {
              if ((await webview(page, i).locator('#compare-totals').count()) > 0) return (cmp = webview(page, i));
            }
            return false;
          },
          { timeout: T(30_000), what: 'a compare webview with #compare-totals' },
        );
        const accepted = [expect.plan.byAction.quantize, expect.plan.total];
        let rows = 0;
        await waitFor(async () => accepted.includes((rows = await cmp.locator('tr[data-tensor]').count())), {
          timeout: T(15_000),
          what: 'compare rows',
        }).catch(() => {
          throw new Error(`the compare panel has ${rows} tr[data-tensor] rows; expected ${accepted.join(' or ')}`);
        });
        // The runs table: one row per run with the evaluation's figures, and the size-vs-KL chart.
        const runRows = cmp.locator('#compare-runs tr[data-run]');
        await waitFor(async () => (await runRows.count()) === 2, {
          timeout: T(15_000),
          what: 'two rows in #compare-runs',
        });
        const kld = [];
        for (let i = 0; i < 2; i++) {
          const cell = oneLine(await runRows.nth(i).locator('td[data-col="Mean KLD"]').innerText());
          assert(/^\d+\.\d{6} ± \d+\.\d{6}$/.test(cell), `run ${i + 1}'s Mean KLD cell reads "${cell}"`);
          const ppl = oneLine(await runRows.nth(i).locator('td[data-col="PPL(Q)"]').innerText());
          assert(/^\d+\.\d{4} ± \d+\.\d{4}$/.test(ppl), `run ${i + 1}'s PPL(Q) cell reads "${ppl}"`);
          kld.push(cell);
        }
        await visible(cmp.locator('figure[data-chart="size-kl"] canvas'), 'the size-vs-KL chart');
        await shots.take(page, 'compare-panel');
        return `${oneLine(await tab.innerText())}: ${rows} tensor rows; Mean KLD ${kld.join(', ')}`;
      });

      await check(
        'run: Show Allocation measures on request, then shows the mix, the frontier and the sensitivity table',
        async () => {
          await openFile(page, 'allocate.quant');
          await recordNotifications(page);
          const holding = async (selector) => {
            const n = await page.locator('iframe.webview.ready').count();
            for (let i = 0; i < n; i++)
              if ((await webview(page, i).locator(selector).count()) > 0) return webview(page, i);
            return false;
          };
          const allocationTab = page.locator('.tabs-container .tab', { hasText: /Allocation/ });
          await runCommand(page, 'Bitsmith: Show Allocation', {
            ran: () =>
              allocationTab
                .first()
                .isVisible()
                .catch(() => false),
            ranWhat: 'the Allocation panel tab',
          });
          // The scratch copy has no measurements: the panel offers Measure.
          let wv;
          await waitFor(async () => (wv = await holding('#measure')), {
            timeout: T(30_000),
            what: 'the Allocation panel with a Measure button',
          });
          await shots.take(page, 'allocation-measure');
          await wv.locator('#measure').click();
          await waitFor(async () => (wv = await holding('#allocation-mix')), {
            timeout: T(120_000),
            what: 'the measured allocation (#allocation-mix)',
          });
          const mix = oneLine(await wv.locator('#allocation-mix').innerText());
          assert(/\d+ int\d/.test(mix), `mix: ${mix}`);
          const rows = await wv.locator('#sensitivity-table tr[data-tensor]').count();
          assert(rows === 36, `the sensitivity table has ${rows} rows; expected 36 (35 allocated + 1 pinned)`);
          await visible(wv.locator('figure[data-chart="frontier"] canvas'), 'the frontier chart');
          await visible(wv.locator('figure[data-chart="bits-heatmap"] canvas'), 'the bits heatmap');
          const cache = path.join(ws.run, '.bitsmith', 'measure');
          assert(fs.existsSync(cache) && fs.readdirSync(cache).length === 1, 'one measurement table beside the recipe');
          // The language server re-analyses when the measurement table appears: the
          // "not measured yet" info on `allocate` goes away.
          const infos = page.locator('.editor-instance .monaco-editor').first().locator('.squiggly-info');
          await waitFor(async () => (await infos.count()) === 0, {
            timeout: T(20_000),
            what: 'the allocate info squiggle gone after measuring',
          });
          await shots.take(page, 'allocation-panel');
          return `${mix}; ${rows} rows`;
        },
      );
    });
  }

  // ---- cancel: a slow run, cancelled midway ---------------------------------------------------
  if (ONLY.has('cancel')) {
    await withWindow('cancel', devUrl(ws.cancel), async ({ page }) => {
      await check('cancel: Cancel Run stops a running recipe and leaves no output or temp file', async () => {
        await openFile(page, 'slow.quant');
        await recordNotifications(page);
        const started = Date.now();
        await runCommand(page, 'Bitsmith: Run Recipe', { ran: runStarted(page), ranWhat: 'run progress' });
        // Well into the run: the progress names a tensor past the first (it is writing).
        const out = path.join(ws.cancel, 'out');
        const running = () => server.groupProcesses().filter((p) => /slow\.quant/.test(p.cmd));
        await waitFor(
          async () => {
            await throwIfRunFailed(page);
            return (await recorded(page)).some((l) => /tensor ([2-9]|\d{2,})\/\d+/.test(l));
          },
          {
            timeout: T(60_000),
            what: 'run progress past the first tensor ("tensor 2/N" in the notification)',
            seen: async () => JSON.stringify((await recorded(page)).slice(-4)),
          },
        );
        await shots.take(page, 'cancel-running');
        assert(running().length > 0, 'the runner process is not running (it finished before it could be cancelled?)');
        assert(!fs.existsSync(path.join(out, 'slow.safetensors')), 'the run finished before it could be cancelled');
        await recordNotifications(page);
        const cancelAt = Date.now();
        await runCommand(page, 'Bitsmith: Cancel Run', {
          ran: async () => (await recorded(page)).some((l) => /cancel/i.test(l)) || running().length === 0,
          ranWhat: 'the run cancelling',
        });
        const said = await waitFor(
          async () => (await recorded(page)).find((l) => /cancell?ed|stopped|aborted/i.test(l)),
          {
            timeout: T(15_000),
            what: 'a notification or status saying the run was cancelled',
            seen: async () => JSON.stringify((await recorded(page)).slice(-4)),
          },
        );
        const tookCancel = Date.now() - cancelAt;
        await shots.take(page, 'cancel-cancelled');
        // The runner must be gone; once it is, nothing can write into out/ any more, so what
        // is there then is what stays: nothing.
        await waitFor(() => running().length === 0, {
          timeout: T(10_000),
          what: 'the runner process to exit after the cancel',
          seen: () => JSON.stringify(running()),
        });
        const leftovers = () => (fs.existsSync(out) ? fs.readdirSync(out) : []);
        await waitFor(() => leftovers().length === 0, {
          timeout: T(5_000),
          what: 'out/ to be empty after the runner exited',
          seen: () => JSON.stringify(leftovers()),
        });
        return `cancelled ${secs(cancelAt - started)} into the run, confirmed in ${secs(tookCancel)}: ${oneLine(said).slice(0, 100)}`;
      });
    });
  }

  // ---- package: vsix, install, smoke test of the installed extension ----------------------------
  if (ONLY.has('package')) {
    log('[package]');
    const pkgStart = Date.now();
    const vsix = path.join(scratch, 'bitsmith.vsix');
    const packaged = await check(
      'package: vsce package ships the bundles, the native addon, the webviews, the snippets and the walkthrough',
      async () => {
        const vsce = path.join(E2E_DIR, 'node_modules', '.bin', 'vsce');
        const r = spawnSync(vsce, ['package', '--no-dependencies', '--no-rewrite-relative-links', '--out', vsix], {
          cwd: REPO,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: T(180_000),
        });
        assert(r.status === 0, `vsce package exited ${r.status}\n${r.stdout}\n${r.stderr}`);
        const names = zipEntries(vsix).map((e) => e.name);
        const need = [
          ['extension/dist/extension.js'],
          ['extension/dist/server.js'],
          ['extension/dist/cli.js'],
          ['extension/dist/node-gyp-build.js'], // native/index.js's loader (a VSIX has no node_modules)
          ['extension/native/build/Release/*.node', (n) => /^extension\/native\/build\/Release\/[^/]+\.node$/.test(n)],
          ['extension/dist/webview/*', (n) => n.startsWith('extension/dist/webview/')],
          ['extension/snippets/quant.json'],
          ['extension/media/walkthrough/*.md', (n) => /^extension\/media\/walkthrough\/[^/]+\.md$/.test(n)],
        ];
        const missing = need.filter(([name, test]) => !names.some(test ?? ((n) => n === name))).map(([name]) => name);
        assert(
          missing.length === 0,
          `the vsix lacks ${missing.join(', ')} (it has ${names.length} entries: ${names.filter((n) => n.startsWith('extension/dist') || n.startsWith('extension/native')).join(', ')})`,
        );
        return `${names.length} entries, ${(fs.statSync(vsix).size / 2 ** 20).toFixed(1)} MiB`;
      },
    );

    // The dev-path server is no longer needed: free the CPU for the second one.
    for (const s of servers) await s.stop();
    const vsixServer = new CodeServer(scratch, { name: 'vsix', extensionsDir: path.join(scratch, 'extensions-vsix') });
    servers.push(vsixServer);
    current.server = vsixServer;
    const installed =
      packaged &&
      (await check('package: code-server --install-extension installs the vsix', async () => {
        const r = vsixServer.cli(['--install-extension', vsix]);
        assert(r.status === 0, `--install-extension exited ${r.status}\n${r.stdout}\n${r.stderr}`);
        assert(/successfully installed/i.test(r.stdout + r.stderr), `no success message:\n${r.stdout}\n${r.stderr}`);
        const dir = fs.readdirSync(vsixServer.extensionsDir).find((d) => d.startsWith('bitsmith.bitsmith-'));
        assert(dir, `no bitsmith.bitsmith-* folder in ${vsixServer.extensionsDir}`);
        for (const f of ['dist/extension.js', 'dist/server.js', 'package.json']) {
          assert(fs.existsSync(path.join(vsixServer.extensionsDir, dir, f)), `installed extension lacks ${f}`);
        }
        return dir;
      }));

    if (installed) {
      const phase2 = Date.now();
      await vsixServer.start();
      log(
        `code-server (installed vsix, no dev path) started on port ${vsixServer.port} (${secs(Date.now() - phase2)})`,
      );
      await withWindow('package (installed vsix)', vsixServer.url(ws.package), async ({ page }) => {
        await check('package: the installed extension serves hover and diagnostics', async () => {
          const editor = await openFile(page, 'int4.quant');
          const keyword = editor
            .locator('.view-line', { hasText: 'match "*.mlp.down_proj"' })
            .locator('span > span')
            .filter({ hasText: /^match$/ })
            .first();
          const text = await hoverUntil(page, keyword, /bpw/);
          await page.mouse.move(700, 880);
          await page.keyboard.press('Escape');
          await editor.locator('.view-line', { hasText: 'format int4' }).first().click();
          await page.keyboard.press('End');
          await page.keyboard.type('4');
          await page.keyboard.press('Escape');
          await visible(editor.locator('.squiggly-error'), 'an error squiggle under int44 (installed vsix)');
          await shots.take(page, 'vsix-installed-diagnostics');
          await page.keyboard.press('Backspace');
          await page.keyboard.press('Control+S');
          return oneLine(text).slice(0, 80);
        });
        await check('package: the installed extension runs a recipe (native addon from the vsix)', async () => {
          await recordNotifications(page);
          await runCommand(page, 'Bitsmith: Run Recipe', { ran: runStarted(page), ranWhat: 'run progress' });
          const found = await checkReportTable(page, expect.plan);
          await shots.take(page, 'vsix-installed-report');
          return `${found.rows} rows`;
        });
      });
    }
    log(`[package] took ${secs(Date.now() - pkgStart)}`);
  }
} catch (err) {
  results.push({ name: 'harness', state: 'failed', ms: 0, error: (err && err.stack) || String(err) });
  console.error(`e2e: harness error: ${(err && err.stack) || err}`);
} finally {
  await browser?.close().catch(() => {});
  const failed = results.filter((r) => r.state === 'failed');
  if (failed.length) {
    for (const s of servers) console.log(s.logTail(40));
  }
  for (const s of servers) await s.stop();
  if (keep) log(`kept scratch root ${scratch}`);
  else fs.rmSync(scratch, { recursive: true, force: true });

  console.log('\nsummary:');
  for (const r of results)
    console.log(
      `  ${r.state === 'passed' ? 'pass' : r.state === 'failed' ? 'FAIL' : 'skip'}  ${secs(r.ms).padStart(6)}  ${r.name}`,
    );
  const passed = results.filter((r) => r.state === 'passed').length;
  const skipped = results.filter((r) => r.state === 'skipped').length;
  console.log(`screenshots: ${ARTIFACTS}`);
  console.log(`e2e took ${secs(Date.now() - t0)}`);
  console.log(`e2e: ${passed} passed, ${failed.length} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = failed.length || passed === 0 ? 1 : 0;
}
