// Builds the native addon's prebuild for one platform with prebuildify (Node-API, so one
// binary serves every Node and Electron version with N-API 8):
// native/prebuilds/<platform>-<arch>/bitsmith.glibc.node, which native/index.js finds
// through node-gyp-build. The build runs in a staged copy (native/build/prebuild-<arch>/), so
// the developer's own native/build/Release is left alone. Prebuilds are build outputs, never
// committed.
//
//   node scripts/prebuild.mjs             linux-x64 (this machine)
//   node scripts/prebuild.mjs --arch arm64  linux-arm64 with Debian's g++-aarch64-linux-gnu
//                                           (bash scripts/setup-system.sh cross)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = path.join(root, 'native');

const argv = process.argv.slice(2);
const archAt = argv.indexOf('--arch');
const arch = archAt >= 0 ? argv[archAt + 1] : os.arch();
const platform = os.platform();
// The cross toolchains this script knows: target arch -> Debian's GNU triplet and ELF e_machine.
const CROSS = { arm64: { triplet: 'aarch64-linux-gnu', machine: 0xb7 } };
const MACHINE = { x64: 0x3e, arm64: 0xb7 };
if (!MACHINE[arch] || platform !== 'linux') {
  console.error(`scripts/prebuild.mjs: builds linux-x64 and linux-arm64 prebuilds, not ${platform}-${arch}`);
  process.exit(2);
}
const cross = arch !== os.arch();
if (cross && !CROSS[arch]) {
  console.error(`scripts/prebuild.mjs: no cross toolchain known for ${arch} on ${os.arch()}`);
  process.exit(2);
}

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`scripts/prebuild.mjs: ${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
    process.exit(r.status ?? 1);
  }
}

if (cross) run('bash', [path.join(root, 'scripts', 'setup-system.sh'), 'cross']);

// The staged copy: binding.gyp and src/ under <stage>/native, with the package.json its
// version lookup (../package.json) reads.
const stage = path.join(native, 'build', `prebuild-${arch}`);
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(path.join(stage, 'native'), { recursive: true });
fs.copyFileSync(path.join(native, 'binding.gyp'), path.join(stage, 'native', 'binding.gyp'));
fs.cpSync(path.join(native, 'src'), path.join(stage, 'native', 'src'), { recursive: true, preserveTimestamps: true });
const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify({ name: 'bitsmith', version }) + '\n');

// Two compiler jobs unless the caller says otherwise (node-gyp reads JOBS).
const env = { JOBS: '2', ...process.env };
const args = [
  '--napi',
  '--target',
  process.versions.node, // Node-API: the version only picks the headers node-gyp builds against
  '--name',
  'bitsmith', // no runtime tag: node-gyp-build then takes it under Node and Electron alike
  '--tag-libc',
  '--strip',
  '--arch',
  arch,
  '--cwd',
  path.join(stage, 'native'),
  '--out',
  native,
];
if (cross) {
  const t = CROSS[arch].triplet;
  Object.assign(env, { CC: `${t}-gcc`, CXX: `${t}-g++`, LINK: `${t}-g++`, AR: `${t}-ar` });
  args.push('--strip-bin', `${t}-strip`);
}
const bin = path.join(root, 'node_modules', '.bin', 'prebuildify');
run(bin, args, env);

// Check what was written: an ELF shared object for the target machine, and on this
// machine's own arch, an addon that loads and answers.
const dir = path.join(native, 'prebuilds', `${platform}-${arch}`);
const file = path.join(dir, 'bitsmith.glibc.node');
if (!fs.existsSync(file)) {
  console.error(`scripts/prebuild.mjs: prebuildify wrote no ${path.relative(root, file)}`);
  process.exit(1);
}
const head = Buffer.alloc(20);
const fd = fs.openSync(file, 'r');
fs.readSync(fd, head, 0, 20, 0);
fs.closeSync(fd);
const machine = head.readUInt16LE(18);
if (head.readUInt32BE(0) !== 0x7f454c46 || machine !== MACHINE[arch]) {
  console.error(`scripts/prebuild.mjs: ${file} is not an ELF object for ${arch} (e_machine 0x${machine.toString(16)})`);
  process.exit(1);
}
if (!cross) {
  const probe = `const a = require(${JSON.stringify(file)}); if (typeof a.quantize !== 'function') throw new Error('no quantize export');`;
  run(process.execPath, ['-e', probe]);
}
fs.rmSync(stage, { recursive: true, force: true });
const kib = (fs.statSync(file).size / 1024).toFixed(0);
console.log(
  `prebuild: ${path.relative(root, file)} (${kib} KiB, ${arch}${cross ? ', cross-compiled, not loaded here' : ', loads'})`,
);
