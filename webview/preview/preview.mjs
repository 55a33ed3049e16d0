// Renders a built webview (npm run build first) in headless Chromium with a stubbed VS Code API and real data; usage: node webview/preview/preview.mjs report|compare|model|allocation <file> [<more files> (compare)] [--out /tmp/x.png] [--theme light|dark|hc] [--switch-theme light] [--width 1400] [--height 2200] [--dom] [--interact] [--only <selector>]
import * as esbuild from 'esbuild';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const positional = args.filter(
  (a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--') && args[i - 1] !== '--dom'),
);
const [kind, fileA] = positional;
const out = opt('out', `/tmp/bitsmith-${kind}.png`);
const theme = opt('theme', 'dark');
const switchTheme = opt('switch-theme', '');

async function message() {
  if (kind === 'report')
    return { type: 'report', file: path.resolve(fileA), report: JSON.parse(fs.readFileSync(fileA, 'utf8')) };
  if (kind === 'compare') {
    const load = (f) => ({ file: path.resolve(f), report: JSON.parse(fs.readFileSync(f, 'utf8')) });
    return { type: 'compare', reports: positional.slice(1).map(load) };
  }
  if (kind === 'allocation') {
    // The recipe analysed with core and turned into the panel's view by the host's allocationView.
    const result = await esbuild.build({
      stdin: {
        contents: `const fs = require('fs'); const path = require('path'); const { analyze } = require('./core/src/index'); const { allocationView } = require('./client/src/panels/allocationView'); module.exports = (p) => allocationView(p, path.basename(p), analyze(fs.readFileSync(p, 'utf8'), { recipePath: p }), path.join(path.dirname(p), '.bitsmith/reports', path.basename(p, '.quant') + '-latest.json'));`,
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
      external: ['esbuild'],
    });
    const mod = { exports: {} };
    new Function('module', 'exports', 'require', result.outputFiles[0].text)(
      mod,
      mod.exports,
      (await import('node:module')).createRequire(import.meta.url),
    );
    return { type: 'allocation', view: mod.exports(path.resolve(fileA)) };
  }
  if (kind === 'model') {
    // Bundle core's header reader and the host's modelView on the fly.
    const result = await esbuild.build({
      stdin: {
        contents: `const { readModelHeader } = require('./core/src/models'); const { modelView } = require('./client/src/panels/modelView'); module.exports = (p) => modelView(readModelHeader(p));`,
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'cjs',
      write: false,
    });
    const mod = { exports: {} };
    new Function('module', 'exports', 'require', result.outputFiles[0].text)(
      mod,
      mod.exports,
      (await import('node:module')).createRequire(import.meta.url),
    );
    try {
      return { type: 'model', model: mod.exports(path.resolve(fileA)) };
    } catch (err) {
      return { type: 'error', title: 'Cannot read this model', message: err.message, file: path.resolve(fileA) };
    }
  }
  throw new Error('usage: preview.mjs report|compare|model <file> [<fileB>] --out <png>');
}

// Colours of VS Code's default themes (a subset: what the stylesheet and charts read).
const THEMES = {
  dark: {
    class: 'vscode-dark',
    vars: {
      'editor-background': '#1f1f1f',
      foreground: '#cccccc',
      'editor-foreground': '#cccccc',
      descriptionForeground: '#9d9d9d',
      'panel-border': '#2b2b2b',
      focusBorder: '#0078d4',
      'button-background': '#0078d4',
      'button-foreground': '#ffffff',
      'button-hoverBackground': '#026ec1',
      'button-secondaryBackground': '#313131',
      'button-secondaryForeground': '#cccccc',
      'input-background': '#313131',
      'input-foreground': '#cccccc',
      'input-border': '#3c3c3c',
      'dropdown-background': '#313131',
      'dropdown-foreground': '#cccccc',
      'dropdown-border': '#3c3c3c',
      'list-hoverBackground': '#2a2d2e',
      'list-inactiveSelectionBackground': '#37373d',
      'editorWidget-background': '#202020',
      'textLink-foreground': '#4daafc',
      'charts-red': '#f14c4c',
      'charts-blue': '#3794ff',
      'charts-green': '#89d185',
      'charts-yellow': '#cca700',
      'charts-orange': '#d18616',
      'charts-purple': '#b180d7',
      'charts-lines': 'rgba(204, 204, 204, 0.5)',
      errorForeground: '#f85149',
      'editorWarning-foreground': '#cca700',
    },
  },
  light: {
    class: 'vscode-light',
    vars: {
      'editor-background': '#ffffff',
      foreground: '#3b3b3b',
      'editor-foreground': '#3b3b3b',
      descriptionForeground: '#717171',
      'panel-border': '#e5e5e5',
      focusBorder: '#005fb8',
      'button-background': '#005fb8',
      'button-foreground': '#ffffff',
      'button-hoverBackground': '#0258a8',
      'button-secondaryBackground': '#e5e5e5',
      'button-secondaryForeground': '#3b3b3b',
      'input-background': '#ffffff',
      'input-foreground': '#3b3b3b',
      'input-border': '#cecece',
      'dropdown-background': '#ffffff',
      'dropdown-foreground': '#3b3b3b',
      'dropdown-border': '#cecece',
      'list-hoverBackground': '#f2f2f2',
      'list-inactiveSelectionBackground': '#e4e6f1',
      'editorWidget-background': '#f8f8f8',
      'textLink-foreground': '#005fb8',
      'charts-red': '#e51400',
      'charts-blue': '#1a85ff',
      'charts-green': '#388a34',
      'charts-yellow': '#bf8803',
      'charts-orange': '#d18616',
      'charts-purple': '#652d90',
      'charts-lines': 'rgba(59, 59, 59, 0.5)',
      errorForeground: '#f85149',
      'editorWarning-foreground': '#bf8803',
    },
  },
  hc: {
    class: 'vscode-high-contrast',
    vars: {
      'editor-background': '#000000',
      foreground: '#ffffff',
      'editor-foreground': '#ffffff',
      descriptionForeground: '#ffffff',
      'panel-border': '#6fc3df',
      focusBorder: '#f38518',
      'button-background': '#000000',
      'button-foreground': '#ffffff',
      'button-border': '#6fc3df',
      'button-secondaryBackground': '#000000',
      'button-secondaryForeground': '#ffffff',
      'input-background': '#000000',
      'input-foreground': '#ffffff',
      'input-border': '#6fc3df',
      'list-hoverBackground': '#000000',
      'list-inactiveSelectionBackground': '#000000',
      'textLink-foreground': '#21a6ff',
      'charts-red': '#f48771',
      'charts-blue': '#3794ff',
      'charts-green': '#89d185',
      'charts-yellow': '#ffd700',
      'charts-orange': '#d18616',
      'charts-purple': '#b180d7',
      'charts-lines': 'rgba(255, 255, 255, 0.5)',
    },
  },
};
const themeCss = Object.entries(THEMES)
  .map(
    ([, t]) =>
      `body.${t.class} {\n${Object.entries(t.vars)
        .map(([k, v]) => `  --vscode-${k}: ${v};`)
        .join(
          '\n',
        )}\n  --vscode-font-family: system-ui, "Segoe UI", "Ubuntu", sans-serif;\n  --vscode-font-size: 13px;\n  --vscode-editor-font-family: "DejaVu Sans Mono", monospace;\n  --vscode-editor-font-size: 12px;\n}`,
  )
  .join('\n');

// --interact: sorts by a header, filters, moves through rows with the keyboard and
// activates one, then logs what the webview posted and what the DOM shows.
function interact() {
  const log = (...a) => console.log('interact ' + a.join(' '));
  const th = document.querySelector('th[data-column="relError"] button') || document.querySelector('th button');
  th.click();
  log(
    'sorted',
    th.closest('th').getAttribute('aria-sort'),
    'first row',
    document.querySelector('tbody tr[data-key]').dataset.key,
  );
  const first = document.querySelector('tbody tr[tabindex="0"]');
  first.focus();
  first.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
  const focused = document.activeElement;
  focused.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
  log('activated', focused.dataset.key, 'current', document.querySelector('tr[aria-current="true"]')?.dataset.key);
  const filter = document.getElementById('tensor-filter');
  filter.value = '*.mlp.*';
  filter.dispatchEvent(new Event('input'));
  log('filtered rows', document.querySelectorAll('tbody tr[data-key]').length);
  const metric = document.getElementById('error-metric');
  if (metric) {
    metric.value = metric.value === 'relError' ? 'outputError' : 'relError';
    metric.dispatchEvent(new Event('change'));
    log(
      'metric',
      metric.value,
      'saved',
      window.__state?.errorMetric,
      'captions',
      [...document.querySelectorAll('[data-chart] figcaption')].map((c) => JSON.stringify(c.textContent)).join(' '),
    );
  }
  log(
    'charts',
    [...document.querySelectorAll('[data-chart]')]
      .map((f) => f.dataset.chart + ':' + (f.querySelector('canvas, svg') ? 'drawn' : 'empty'))
      .join(' '),
  );
  log('posted', JSON.stringify(window.__messages));
}

const data = JSON.stringify(await message());
const nonce = crypto.randomBytes(16).toString('base64');
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') {
    const origin = `http://${req.headers.host}`;
    const csp = `default-src 'none'; script-src 'nonce-${nonce}'; style-src ${origin}; img-src ${origin} data:; font-src ${origin}`;
    const stub = `
      window.__messages = [];
      window.acquireVsCodeApi = () => ({
        postMessage(m) { window.__messages.push(m); console.log('webview->host ' + JSON.stringify(m)); if (m.type === 'ready' || m.type === 'reload') setTimeout(() => window.postMessage(${data.replace(/</g, '\\u003c')}, '*')); },
        getState() { return undefined; }, setState(s) { window.__state = s; },
      });
      ${args.includes('--interact') ? `setTimeout(${interact.toString()}, 700);` : ''}
      ${opt('only') ? `setTimeout(() => { const el = document.querySelector(${JSON.stringify(opt('only'))}); if (el) document.getElementById('app').replaceChildren(el); }, 900);` : ''}
      ${switchTheme ? `setTimeout(() => { document.body.className = ${JSON.stringify(THEMES[switchTheme]?.class ?? switchTheme)}; }, 800);` : ''}`;
    res.setHeader('content-type', 'text/html');
    res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="${csp}">
<link rel="stylesheet" href="/theme.css"><link rel="stylesheet" href="/dist/webview/bitsmith.css"><title>preview</title></head>
<body class="${THEMES[theme].class}"><main id="app" class="app" aria-busy="true"><p class="loading">Loading…</p></main>
<script nonce="${nonce}">${stub}</script><script nonce="${nonce}" src="/dist/webview/${kind}.js"></script></body></html>`);
  } else if (url.pathname === '/theme.css') {
    res.setHeader('content-type', 'text/css');
    res.end(themeCss);
  } else if (url.pathname.startsWith('/dist/webview/')) {
    const file = path.join(root, url.pathname);
    res.setHeader('content-type', file.endsWith('.css') ? 'text/css' : 'text/javascript');
    fs.createReadStream(file)
      .on('error', () => res.end())
      .pipe(res);
  } else {
    res.statusCode = 404;
    res.end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();
const chrome = process.env.CHROMIUM ?? 'chromium';
const flags = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--hide-scrollbars',
  `--window-size=${opt('width', '1400')},${opt('height', '2200')}`,
  '--virtual-time-budget=4000',
  '--enable-logging=stderr',
  '--v=0',
];
flags.push(args.includes('--dom') ? '--dump-dom' : `--screenshot=${out}`);
const child = spawn(chrome, [...flags, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
child.stdout.on('data', (d) => (stdout += d));
child.stderr.on('data', (d) => (stderr += d));
const code = await new Promise((r) => child.on('close', r));
server.close();
for (const line of stderr.split('\n'))
  if (/CONSOLE|Content Security Policy|Refused|Uncaught/i.test(line))
    console.error(line.replace(/^.*?CONSOLE/, 'CONSOLE'));
if (args.includes('--dom')) process.stdout.write(stdout);
else console.log(`chromium exited ${code}; screenshot ${out}`);
