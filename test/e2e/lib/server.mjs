// code-server lifecycle for the end-to-end harness: a scratch root (XDG dirs, config, a fresh
// user-data-dir per start), start in its own process group on a free port, stop by killing the
// group (its file watchers and language servers outlive the main PID otherwise).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { T, secs, timeoutScale } from './timing.mjs';

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(E2E_DIR, '..', '..');
export const CODE_SERVER = path.join(E2E_DIR, 'node_modules', '.bin', 'code-server');

/** Every process group started here, killed on exit whatever the reason. */
const groups = new Set();
/** Run (synchronously) when a signal interrupts the run, after the servers are stopped. */
const onInterrupt = [];
export function atInterrupt(fn) {
  onInterrupt.push(fn);
}
let hooked = false;
function killAllGroups(signal = 'SIGKILL') {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      /* already gone */
    }
  }
}
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => killAllGroups('SIGKILL'));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      console.error(`\ne2e: ${sig}, stopping code-server`);
      killAllGroups('SIGTERM');
      setTimeout(() => {
        for (const fn of onInterrupt) {
          try {
            fn();
          } catch {
            /* best effort */
          }
        }
        process.exit(130);
      }, 500).unref();
    });
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Environment that keeps code-server (and the tools it spawns) inside the scratch root. */
export function scratchEnv(root, extra = {}) {
  return {
    ...process.env,
    XDG_CONFIG_HOME: path.join(root, 'xdg', 'config'),
    XDG_DATA_HOME: path.join(root, 'xdg', 'data'),
    XDG_CACHE_HOME: path.join(root, 'xdg', 'cache'),
    ...extra,
  };
}

export const SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.editor.enablePreview': false,
  'security.workspace.trust.enabled': false,
  'editor.hover.delay': 150,
  'editor.minimap.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'chat.commandCenter.enabled': false,
  'files.autoSave': 'off',
  'git.enabled': false,
};

export class CodeServer {
  /**
   * @param {string} root scratch root (holds xdg/, config.yaml, logs/, udd-N/)
   * @param {{ extensionsDir?: string, env?: Record<string,string>, name?: string }} opts
   */
  constructor(root, opts = {}) {
    this.root = root;
    this.name = opts.name ?? 'cs';
    this.extensionsDir = opts.extensionsDir ?? path.join(root, 'extensions');
    this.extraEnv = opts.env ?? {};
    this.proc = undefined;
    this.port = 0;
    this.logFile = path.join(root, 'logs', `${this.name}.log`);
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A `vscode-remote://` URI for an absolute path on this server (the payload wants those). */
  remote(absPath) {
    return `vscode-remote://127.0.0.1:${this.port}${absPath}`;
  }

  /** The workbench URL for a folder, optionally loading an extension from its folder and its tests. */
  url(folder, { devPath, testsPath } = {}) {
    const payload = [];
    if (devPath) payload.push(['extensionDevelopmentPath', this.remote(devPath)]);
    if (testsPath) payload.push(['extensionTestsPath', this.remote(testsPath)]);
    let u = `${this.origin}/?folder=${encodeURIComponent(folder)}`;
    if (payload.length) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    return u;
  }

  prepare() {
    for (const d of ['xdg/config', 'xdg/data', 'xdg/cache', 'logs'])
      fs.mkdirSync(path.join(this.root, d), { recursive: true });
    fs.mkdirSync(this.extensionsDir, { recursive: true });
    const config = path.join(this.root, 'config.yaml');
    if (!fs.existsSync(config)) fs.writeFileSync(config, 'bind-addr: 127.0.0.1:0\nauth: none\ncert: false\n');
    // A fresh profile for every start: otherwise editors and panels are restored.
    this.userDataDir = fs.mkdtempSync(path.join(this.root, `udd-${this.name}-`));
    fs.mkdirSync(path.join(this.userDataDir, 'User'), { recursive: true });
    fs.writeFileSync(path.join(this.userDataDir, 'User', 'settings.json'), JSON.stringify(SETTINGS, null, 2));
  }

  /** Runs the code-server CLI (e.g. --install-extension) against this profile; returns spawnSync's result. */
  cli(args) {
    if (!this.userDataDir) this.prepare();
    return spawnSync(
      CODE_SERVER,
      [
        '--config',
        path.join(this.root, 'config.yaml'),
        '--user-data-dir',
        this.userDataDir,
        '--extensions-dir',
        this.extensionsDir,
        ...args,
      ],
      {
        env: scratchEnv(this.root, this.extraEnv),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: T(120_000),
      },
    );
  }

  async start() {
    hookExit();
    if (!this.userDataDir) this.prepare();
    this.port = await freePort();
    const log = fs.openSync(this.logFile, 'a');
    const args = [
      '--config',
      path.join(this.root, 'config.yaml'),
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${this.port}`,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--user-data-dir',
      this.userDataDir,
      '--extensions-dir',
      this.extensionsDir,
    ];
    // detached = setsid: the server, its extension host and watchers share one process group.
    // The extension-host tests scale their waits like the harness (test/e2e/ext/index.js).
    const env = scratchEnv(this.root, { BITSMITH_E2E_TIMEOUT_SCALE: String(timeoutScale()), ...this.extraEnv });
    this.proc = spawn(CODE_SERVER, args, { detached: true, stdio: ['ignore', log, log], env });
    fs.closeSync(log);
    groups.add(this.proc.pid);
    let exited = null;
    this.proc.on('exit', (code, sig) => (exited = sig ?? code));
    const limit = T(60_000);
    const deadline = Date.now() + limit;
    while (Date.now() < deadline) {
      if (exited !== null) throw new Error(`code-server exited (${exited}) before it was ready\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.origin}/healthz`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`code-server did not answer /healthz within ${secs(limit)}\n${this.logTail()}`);
  }

  /** Process ids in this server's process group (from /proc), with their command lines. */
  groupProcesses() {
    if (!this.proc) return [];
    const out = [];
    for (const ent of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(ent)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${ent}/stat`, 'utf8');
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) !== this.proc.pid) continue;
        const cmd = fs.readFileSync(`/proc/${ent}/cmdline`, 'utf8').split('\0').join(' ').trim();
        out.push({ pid: Number(ent), cmd });
      } catch {
        /* exited meanwhile */
      }
    }
    return out;
  }

  async stop() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    const pgid = proc.pid;
    const alive = () => {
      try {
        process.kill(-pgid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      process.kill(-pgid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive()) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    groups.delete(pgid);
  }

  /** The last lines of code-server's own log and of the remote extension host's logs. */
  logTail(lines = 60) {
    const files = [this.logFile];
    const walk = (dir) => {
      let ents = [];
      try {
        ents = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of ents) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/^(remoteexthost|exthost)\.log$|^\d+-Bitsmith/.test(e.name)) files.push(p);
      }
    };
    if (this.userDataDir) walk(path.join(this.userDataDir, 'logs'));
    return files
      .map((f) => {
        try {
          const text = fs.readFileSync(f, 'utf8').trimEnd().split('\n');
          return `--- ${f} (last ${Math.min(lines, text.length)} lines) ---\n` + text.slice(-lines).join('\n');
        } catch {
          return `(no log at ${f})`;
        }
      })
      .join('\n');
  }
}
