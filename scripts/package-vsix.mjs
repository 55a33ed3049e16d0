// Per-platform VSIX packages: for each target, `vsce package --target <t>` with that platform's
// prebuild (native/prebuilds/<t>/, from npm run prebuild:x64 / prebuild:arm64) as the addon,
// and no other native binary. The marketplace serves each user the package for their
// platform. `npm run package` still makes the one universal VSIX around native/build/Release.
//
//   node scripts/package-vsix.mjs [--target linux-x64] [--target linux-arm64] [--out <dir>]
//   (default: both targets, into artifacts/)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = ['linux-x64', 'linux-arm64'];
const PREBUILD = 'bitsmith.glibc.node';
const VSCE_VERSION = '3.9.2'; // the version test/e2e pins

const argv = process.argv.slice(2);
const targets = [];
let out = path.join(root, 'artifacts');
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--target') targets.push(argv[++i]);
  else if (argv[i] === '--out') out = path.resolve(argv[++i]);
  else {
    console.error('usage: node scripts/package-vsix.mjs [--target linux-x64|linux-arm64]... [--out <dir>]');
    process.exit(2);
  }
}
if (targets.length === 0) for (const t of TARGETS) targets.push(t);
for (const t of targets) {
  if (!TARGETS.includes(t)) {
    console.error(`scripts/package-vsix.mjs: unknown target ${t} (${TARGETS.join(', ')})`);
    process.exit(2);
  }
}

function fail(message) {
  console.error(`scripts/package-vsix.mjs: ${message}`);
  process.exit(1);
}

for (const f of ['dist/extension.js', 'dist/server.js', 'dist/cli.js', 'dist/node-gyp-build.js'])
  if (!fs.existsSync(path.join(root, f))) fail(`${f} is missing: run npm run build first`);

// The e2e suite's vsce when installed, else the same version through npx.
const localVsce = path.join(root, 'test', 'e2e', 'node_modules', '.bin', 'vsce');
const vsce = fs.existsSync(localVsce) ? [localVsce] : ['npx', '--yes', `@vscode/vsce@${VSCE_VERSION}`];

// The repository's .vscodeignore with its one native line (the local build) swapped for the
// target's prebuild.
const baseIgnore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n');
const localAddon = '!native/build/Release/bitsmith.node';
if (!baseIgnore.includes(localAddon)) fail(`.vscodeignore no longer has the line ${localAddon}`);

const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
fs.mkdirSync(out, { recursive: true });
const staging = path.join(root, 'native', 'build', 'vsix');
fs.mkdirSync(staging, { recursive: true });

for (const t of targets) {
  const prebuild = path.join('native', 'prebuilds', t, PREBUILD);
  if (!fs.existsSync(path.join(root, prebuild)))
    fail(`${prebuild} is missing: run npm run prebuild:${t.split('-')[1]} first`);
  const ignoreFile = path.join(staging, `${t}.vscodeignore`);
  fs.writeFileSync(ignoreFile, baseIgnore.map((l) => (l === localAddon ? `!${prebuild}` : l)).join('\n'));
  const vsix = path.join(out, `bitsmith-${t}-${version}.vsix`);
  const [cmd, ...pre] = vsce;
  const args = [
    ...pre,
    'package',
    '--no-dependencies',
    '--no-rewrite-relative-links',
    '--target',
    t,
    '--ignoreFile',
    ignoreFile,
    '--out',
    vsix,
  ];
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) fail(`vsce package --target ${t} exited ${r.status ?? r.signal}`);

  // What it holds: this target's addon and node-gyp-build, no other native binary.
  const list = spawnSync('unzip', ['-Z1', vsix], { encoding: 'utf8' });
  if (list.status !== 0) fail(`unzip -Z1 ${vsix}: ${list.stderr}`);
  const names = list.stdout.split('\n').filter(Boolean);
  const binaries = names.filter((n) => n.endsWith('.node'));
  const want = `extension/${prebuild}`;
  if (binaries.length !== 1 || binaries[0] !== want)
    fail(`${vsix} holds ${binaries.join(', ') || 'no .node file'}; want exactly ${want}`);
  for (const need of ['extension/native/index.js', 'extension/dist/node-gyp-build.js', 'extension/dist/extension.js'])
    if (!names.includes(need)) fail(`${vsix} lacks ${need}`);
  const manifest = spawnSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' }).stdout;
  if (!manifest.includes(`TargetPlatform="${t}"`)) fail(`${vsix}'s manifest does not say TargetPlatform="${t}"`);

  // On its own platform: unpacked outside any node_modules tree, the packaged loader (with
  // the bundled node-gyp-build) must load the packaged addon.
  let loaded = 'not loaded (another platform)';
  if (t === `${process.platform}-${process.arch}`) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-vsix-'));
    try {
      const unzip = spawnSync('unzip', ['-q', vsix, '-d', dir], { encoding: 'utf8' });
      if (unzip.status !== 0) fail(`unzip ${vsix}: ${unzip.stderr}`);
      const ext = path.join(dir, 'extension');
      const probe = `const a = require(${JSON.stringify(path.join(ext, 'native'))}); console.log(a.version());`;
      const env = { ...process.env };
      delete env.BITSMITH_NATIVE;
      const r = spawnSync(process.execPath, ['-e', probe], { cwd: dir, env, encoding: 'utf8' });
      if (r.status !== 0 || r.stdout.trim() !== version)
        fail(`the unpacked ${t} VSIX does not load its addon: ${r.stdout}${r.stderr}`);
      loaded = `its addon loads from the unpacked package (version ${version})`;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `vsix: ${path.relative(root, vsix)} (${t}, ${(fs.statSync(vsix).size / 2 ** 20).toFixed(1)} MiB; ${loaded})`,
  );
}
