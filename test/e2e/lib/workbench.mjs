// Driving the VS Code workbench (code-server in headless Chromium) with playwright-core: open a
// window on a folder, open files, run palette commands, reach webviews, take screenshots.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';

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
  page.setDefaultTimeout(30_000);
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
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  log('workbench loaded');
  return { context, page, consoleLines, exitPromise };
}

/** Waits for the explorer to list the workspace, then opens a top-level file by name. */
export async function openFile(page, name) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 60_000 });
  await row.click();
  const tab = page.locator('.tabs-container .tab', { hasText: name }).first();
  await tab.waitFor();
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-line').first().waitFor();
  return editor;
}

/** Runs a command from the command palette by its full title ("Bitsmith: Run Recipe").
 * The palette is asked up to three times: right after a window opens, VS Code has been seen
 * to answer a query from a command list that did not have the extension's commands yet. */
export async function runCommand(page, title) {
  const qi = page.locator('.quick-input-widget');
  const input = qi.locator('input').first();
  let shown = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ timeout: 3000 });
    } catch {
      // F1 pressed while a webview has the focus may not reach the workbench: open the quick
      // input from the title bar's command center instead ('>' then switches it to commands).
      await page.locator('.command-center .command-center-center').first().click();
      await input.waitFor();
    }
    await input.fill(`>${title}`);
    const row = qi.locator('.monaco-list-row', { hasText: title }).first();
    try {
      await row.waitFor({ timeout: attempt === 3 ? 15_000 : 5_000 });
      await row.click();
      return;
    } catch {
      shown = await qi
        .locator('.monaco-list-row')
        .allInnerTexts()
        .catch(() => []);
      await page.keyboard.press('Escape');
      console.log(
        `  (palette attempt ${attempt}: "${title}" not listed yet; rows: ${JSON.stringify(shown.slice(0, 3))})`,
      );
      await page.waitForTimeout(1000);
    }
  }
  throw new Error(`command "${title}" is not in the command palette (rows: ${JSON.stringify(shown.slice(0, 8))})`);
}

/** The content frame of the (first) ready webview: the outer iframe hosts the inner #active-frame. */
export function webview(page, index = 0) {
  return page.frameLocator('iframe.webview.ready').nth(index).frameLocator('iframe#active-frame');
}

/** Hovers the mouse over a locator's centre until a hover widget matching `pattern` shows. */
export async function hoverUntil(page, target, pattern, timeout = 45_000) {
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
      await page.waitForTimeout(300);
    }
  }
  throw new Error(
    `no hover matching ${pattern} within ${timeout / 1000} s (hovers seen: ${JSON.stringify(last).slice(0, 300)})`,
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

export async function waitFor(cond, { timeout = 10_000, interval = 200, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}
