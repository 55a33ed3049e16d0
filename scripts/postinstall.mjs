// npm install's last step: build the native addon when it is missing or older than its
// sources, then the bundles. Skipping an up-to-date addon keeps a repeated install, and
// `npx bitsmith` (which installs this package into npm's exec cache and runs this script
// again), from recompiling the C++ for a minute. With no local build, a prebuild for this
// platform (native/prebuilds/, npm run prebuild) that loads is used instead: nothing compiles.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'native', 'build', 'Release', 'bitsmith.node');

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const sources = Math.max(
  newestSource(path.join(root, 'native', 'src')),
  fs.statSync(path.join(root, 'native', 'binding.gyp')).mtimeMs,
);
const built = fs.existsSync(addon) ? fs.statSync(addon).mtimeMs : 0;

// The prebuild node-gyp-build picks for this platform, if it loads (in a child process: a
// binary that crashes on load must not take the install with it). null: none, or it fails.
function loadablePrebuild() {
  const probe = [
    "const p = require('node-gyp-build').resolve(process.argv[1]);",
    "if (!p.includes(require('path').sep + 'prebuilds' + require('path').sep)) process.exit(3);",
    "const a = require(p); if (typeof a.quantize !== 'function') process.exit(4);",
    'console.log(p);',
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', probe, path.join(root, 'native')], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const prebuild = built || process.env.BITSMITH_REBUILD ? null : loadablePrebuild();
if (prebuild) {
  console.log(
    `bitsmith: using the prebuilt native addon ${path.relative(root, prebuild)} (nothing to compile); ` +
      'BITSMITH_REBUILD=1 builds from source',
  );
} else if (built > sources && !process.env.BITSMITH_REBUILD) {
  console.log(
    `bitsmith: the native addon is up to date (${path.relative(root, addon)}); BITSMITH_REBUILD=1 forces a rebuild`,
  );
} else {
  run('npm', ['run', 'build:native']);
}
run('npm', ['run', 'build']);
