// Driving the VS Code workbench (code-server in headless Chromium) with playwright-core: open a
// window on a folder, open files, run palette commands, reach webviews, take screenshots.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { T, secs, visible, waitFor } from './timing.mjs';

export { T, visible, waitFor, waitSteady } from './timing.mjs';

export const CHROMIUM = process.env.BITSMITH_E2E_CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser(scratchRoot) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    // keeps Chromium's crashpad folder out of ~/.config/chromium
    env: { ...process.env, XDG_CONFIG_HOME: path.join(scratchRoot, 'xdg', 'config') },
  });
}

/** Screenshots, numbered in the order they are taken, in artifacts/e2e/. */
export class Shots {
  constructor(dir) {
    this.dir = dir;
    this.n = 0;
    fs.mkdirSync(dir, { recursive: true });
  }
  async take(page, name) {
    const file = path.join(this.dir, `${String(++this.n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file }).catch((e) => console.log(`    (screenshot ${name} failed: ${e.message})`));
    return file;
  }
}

/**
 * A fresh browser context (fresh IndexedDB: nothing restored) with one workbench page on `url`.
 * Resolves once the workbench and the explorer's first row are there.
 */
export async function openWorkbench(browser, url, { log = () => {}, exposeExit } = {}) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(T(30_000));
  const consoleLines = [];
  page.on('console', (m) => {
    const t = m.text();
    consoleLines.push(t);
    if (consoleLines.length > 400) consoleLines.shift();
  });
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  let exitPromise;
  if (exposeExit) {
    exitPromise = new Promise((resolve) => page.exposeFunction('codeAutomationExit', (code) => resolve(code)));
  }
  await page.goto(url);
  await visible(page.locator('.monaco-workbench'), 'the workbench (.monaco-workbench)', T(60_000));
  log('workbench loaded');
  return { context, page, consoleLines, exitPromise };
}

/** Waits for the explorer to list the workspace, then opens a top-level file by name. */
export async function openFile(page, name) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await visible(row, `${name} in the explorer`, T(60_000));
  await row.click();
  await visible(page.locator('.tabs-container .tab', { hasText: name }), `the editor tab of ${name}`);
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await visible(editor.locator('.view-line'), `the text of ${name}`);
  return editor;
}

const OPENERS = ['F1', 'Control+Shift+P', 'the command center'];
/** For reads inside polling conditions: never Playwright's default wait for a missing element. */
const QUICK = { timeout: 1000 };

/** Closes whatever quick input is open (a pick left open would take the keys). */
async function closeQuickInput(page) {
  const qi = page.locator('.quick-input-widget');
  if (!(await qi.isVisible().catch(() => false))) return;
  await page.keyboard.press('Escape');
  await qi.waitFor({ state: 'hidden', timeout: T(3000) }).catch(() => {});
}

/** Opens the command palette one way; true once its input is visible. */
async function openPalette(page, how) {
  if (how === 'the command center') {
    // Works whatever has the focus (F1 pressed inside a webview may not reach the workbench);
    // it opens Quick Open, which `>` then switches to commands.
    const cc = page.locator('.command-center .command-center-center').first();
    if (!(await cc.isVisible().catch(() => false))) return false;
    await cc.click({ timeout: T(3000) }).catch(() => {});
  } else {
    await page.keyboard.press(how);
  }
  return page
    .locator('.quick-input-widget input')
    .first()
    .waitFor({ state: 'visible', timeout: T(3000) })
    .then(
      () => true,
      () => false,
    );
}

/** The labels of the quick input's rows, and which one has the focus. */
async function quickRows(page) {
  return page
    .locator('.quick-input-widget .monaco-list-row')
    .evaluateAll((rows) =>
      rows.map((r) => ({
        label: (r.querySelector('.label-name')?.textContent ?? r.textContent ?? '').replace(/\s+/g, ' ').trim(),
        aria: r.getAttribute('aria-label') ?? '',
        focused: r.classList.contains('focused'),
      })),
    )
    .catch(() => []);
}

/**
 * Runs a command from the command palette by its full title ("Bitsmith: Run Recipe"), and
 * makes sure it ran: opens the palette (F1, Ctrl+Shift+P, then the command center) until its
 * input is visible, types `>title` and checks the input holds exactly that, waits for the row
 * with exactly that label (right after a window opens the palette may not list the
 * extension's commands yet), presses Enter on it (or clicks it when another row has the
 * focus), and checks the palette let go of the text. Any step that fails starts over, until
 * the timeout; the error says which step failed last.
 */
export async function runCommand(page, title, { timeout = T(45_000), ran, ranWhat = 'its effect' } = {}) {
  const qi = page.locator('.quick-input-widget');
  const input = qi.locator('input').first();
  const want = `>${title}`;
  const start = Date.now();
  let attempt = 0;
  let last = 'nothing: no attempt finished';
  for (;;) {
    if (attempt > 0 && Date.now() - start > timeout)
      throw new Error(
        `could not run "${title}" from the command palette within ${secs(timeout)} (${attempt} attempts); last: ${last}`,
      );
    // Keys pressed while a webview (a report panel) has the focus may never reach the
    // workbench: then start with the command center.
    const inWebview =
      attempt === 0 && (await page.evaluate(() => document.activeElement?.tagName === 'IFRAME').catch(() => false));
    const how = OPENERS[(attempt + (inWebview ? 2 : 0)) % OPENERS.length];
    attempt++;
    await closeQuickInput(page);
    if (!(await openPalette(page, how))) {
      last = `the palette's input did not become visible after ${how}`;
      continue;
    }
    await input.fill(want).catch(() => {});
    const typed = await waitFor(async () => (await input.inputValue(QUICK).catch(() => '')) === want, {
      timeout: T(2000),
      interval: 100,
      what: 'the typed command',
    }).catch(() => false);
    if (!typed) {
      last = `the input reads "${await input.inputValue(QUICK).catch(() => '?')}", not "${want}"`;
      continue;
    }
    let rows = [];
    const listed = await waitFor(
      async () => {
        rows = await quickRows(page);
        return rows.some((r) => r.label === title || r.aria.startsWith(title));
      },
      { timeout: T(2500), interval: 150, what: `"${title}" in the palette` },
    ).catch(() => false);
    if (!listed) {
      last = `"${title}" is not listed (rows: ${JSON.stringify(rows.slice(0, 5).map((r) => r.label))})`;
      continue;
    }
    const index = rows.findIndex((r) => r.label === title || r.aria.startsWith(title));
    if (rows[index].focused) await page.keyboard.press('Enter');
    else
      await qi
        .locator('.monaco-list-row')
        .nth(index)
        .click({ timeout: T(3000) })
        .catch(() => {});
    // Accepted: the palette closed, or the command opened its own quick input.
    const accepted = await waitFor(
      async () =>
        !(await input.isVisible().catch(() => false)) || (await input.inputValue(QUICK).catch(() => '')) !== want,
      { timeout: T(3000), interval: 100, what: 'the palette to take the command' },
    ).catch(() => false);
    if (!accepted) {
      last = 'the palette kept the typed command after Enter';
      continue;
    }
    // A palette closed by something taking the focus (a panel revealing itself) looks the
    // same as one that ran the command: where the caller knows the command's effect, wait
    // for it, and start over without it.
    if (ran && !(await waitFor(ran, { timeout: T(5000), what: ranWhat }).catch(() => false))) {
      last = `the palette closed but ${ranWhat} did not show (the Enter may have gone elsewhere)`;
      continue;
    }
    if (attempt > 1) console.log(`    (palette: "${title}" ran at attempt ${attempt}; before: ${last})`);
    return;
  }
}

/**
 * Picks the row of the open quick pick whose text matches `text` (a string or a RegExp)
 * and checks the pick let go of it (closed, or moved on to its next question).
 */
export async function pickQuickItem(page, text, what = `the quick pick row ${text}`) {
  const qi = page.locator('.quick-input-widget');
  const row = qi.locator('.monaco-list-row', { hasText: text }).first();
  await visible(row, what, T(20_000));
  const title = async () =>
    (
      await qi
        .locator('.quick-input-title')
        .innerText(QUICK)
        .catch(() => '')
    ).trim();
  const before = await title();
  await row.click();
  await waitFor(async () => !(await qi.isVisible().catch(() => false)) || (await title()) !== before, {
    timeout: T(10_000),
    what: `the quick pick to take ${what}`,
    seen: title,
  });
}

/** The content frame of the (first) ready webview: the outer iframe hosts the inner #active-frame. */
export function webview(page, index = 0) {
  return page.frameLocator('iframe.webview.ready').nth(index).frameLocator('iframe#active-frame');
}

/** Hovers the mouse over a locator's centre until a hover widget matching `pattern` shows. */
export async function hoverUntil(page, target, pattern, timeout = T(45_000)) {
  const deadline = Date.now() + timeout;
  const hover = page.locator('.monaco-hover:not(.hidden)').filter({ hasText: pattern });
  let last = '';
  while (Date.now() < deadline) {
    const box = await target.boundingBox();
    if (box) {
      await page.mouse.move(box.x + 2, box.y + box.height + 40); // away, then onto the token
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
      try {
        await hover.first().waitFor({ timeout: 3000 });
        return (await hover.first().innerText()).trim();
      } catch {
        last = await page
          .locator('.monaco-hover:not(.hidden)')
          .allInnerTexts()
          .catch(() => []);
      }
    } else {
      await target.waitFor({ state: 'visible', timeout: Math.max(1, deadline - Date.now()) }).catch(() => {});
    }
  }
  throw new Error(
    `no hover matching ${pattern} within ${secs(timeout)} (hovers seen: ${JSON.stringify(last).slice(0, 300)})`,
  );
}

/**
 * Records every notification toast and status-bar item text from now on (a short run's progress
 * may come and go between two polls). Read with `recorded(page)`.
 */
export async function recordNotifications(page) {
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__e2eSeen = w.__e2eSeen || [];
    const seen = w.__e2eSeen;
    const snap = () => {
      for (const el of document.querySelectorAll(
        '.notifications-toasts .notification-toast, .notification-list-item',
      )) {
        const t = /** @type {HTMLElement} */ (el.innerText || '').replace(/\s+/g, ' ').trim();
        if (t && seen[seen.length - 1] !== 'toast: ' + t) seen.push('toast: ' + t);
      }
      for (const el of document.querySelectorAll('.statusbar-item')) {
        const t = (el.getAttribute('aria-label') || /** @type {HTMLElement} */ (el).innerText || '')
          .replace(/\s+/g, ' ')
          .trim();
        const spin = el.querySelector('.codicon-modifier-spin, .codicon-sync, .codicon-loading') ? ' [spinning]' : '';
        if (t && /bitsmith|run|quantiz|cancel|tensor|bpw/i.test(t + spin)) {
          const line = 'status: ' + t + spin;
          if (!seen.includes(line)) seen.push(line);
        }
      }
      const bar = document.querySelector(
        '.monaco-progress-container.active, .notification-toast .monaco-progress-container.active',
      );
      if (bar && !seen.includes('progress-bar')) seen.push('progress-bar');
    };
    if (!w.__e2eObserver) {
      w.__e2eObserver = new MutationObserver(snap);
      w.__e2eObserver.observe(document.body, {
        subtree: true,
        childList: true,
        characterData: true,
        attributes: true,
        attributeFilter: ['aria-label', 'class'],
      });
    }
    w.__e2eSeen.length = 0;
    snap();
  });
}

export async function recorded(page) {
  return page.evaluate(() => /** @type {any} */ (window).__e2eSeen?.slice() ?? []);
}
