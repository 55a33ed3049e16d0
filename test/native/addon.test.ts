import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

interface NativeInfo {
  version: string;
  napiVersion: number;
  threads: number;
  compiler: string;
}
interface NativeAddon {
  version(): string;
  info(): NativeInfo;
}

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };

describe('native addon', () => {
  let addon: NativeAddon;

  before(() => {
    addon = require(path.join(root, 'native')) as NativeAddon;
  });

  it('version() matches package.json', () => {
    assert.equal(addon.version(), pkg.version);
  });

  it('info() reports version, N-API version, threads and compiler', () => {
    const info = addon.info();
    for (const key of ['version', 'napiVersion', 'threads', 'compiler']) assert.ok(key in info, `info().${key}`);
    assert.equal(info.version, pkg.version);
    assert.equal(info.napiVersion, 8);
    assert.ok(Number(process.versions.napi) >= info.napiVersion, 'runtime supports the pinned N-API version');
    assert.ok(Number.isInteger(info.threads) && info.threads >= 0, `threads=${info.threads}`);
    assert.equal(typeof info.compiler, 'string');
    assert.ok(info.compiler.length > 0);
  });

  it('the loader explains a missing build', () => {
    const loader = require.resolve(path.join(root, 'native'));
    const saved = process.env.BITSMITH_NATIVE;
    const cached = require.cache[loader];
    delete require.cache[loader];
    process.env.BITSMITH_NATIVE = path.join(root, 'native', 'build', 'does-not-exist.node');
    try {
      assert.throws(() => require(loader), /Bitsmith native addon not built: run npm install \(node-gyp\)/);
    } finally {
      if (saved === undefined) delete process.env.BITSMITH_NATIVE;
      else process.env.BITSMITH_NATIVE = saved;
      delete require.cache[loader];
      if (cached) require.cache[loader] = cached;
    }
  });

  describe('the loader with prebuilds (node-gyp-build)', () => {
    // A copy of native/index.js in a scratch folder inside the repository (so node_modules
    // resolves), loaded in a child process with no BITSMITH_NATIVE.
    const scratch = path.join(root, 'native', 'build', `loader-test-${process.pid}`, 'native');
    const load = (): { status: number | null; out: string } => {
      const env = { ...process.env };
      delete env.BITSMITH_NATIVE;
      const probe = `const a = require(${JSON.stringify(scratch)}); console.log(typeof a.quantize, a.version());`;
      const r = spawnSync(process.execPath, ['-e', probe], { env, encoding: 'utf8' });
      return { status: r.status, out: r.stdout + r.stderr };
    };
    beforeEach(() => {
      fs.rmSync(path.dirname(scratch), { recursive: true, force: true });
      fs.mkdirSync(scratch, { recursive: true });
      fs.copyFileSync(path.join(root, 'native', 'index.js'), path.join(scratch, 'index.js'));
    });
    after(() => fs.rmSync(path.dirname(scratch), { recursive: true, force: true }));

    it('takes the prebuild for this platform when there is no local build', () => {
      const built = (require('node-gyp-build') as { resolve(dir: string): string }).resolve(path.join(root, 'native'));
      const dir = path.join(scratch, 'prebuilds', `${process.platform}-${process.arch}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.copyFileSync(built, path.join(dir, 'bitsmith.glibc.node'));
      const r = load();
      assert.equal(r.status, 0, r.out);
      assert.equal(r.out.trim(), `function ${pkg.version}`);
    });

    it('ignores a prebuild for another platform and names both places it looked', () => {
      const other = process.arch === 'arm64' ? 'x64' : 'arm64';
      const dir = path.join(scratch, 'prebuilds', `${process.platform}-${other}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'bitsmith.glibc.node'), 'not this platform');
      const r = load();
      assert.notEqual(r.status, 0);
      assert.match(r.out, /Bitsmith native addon not built: run npm install \(node-gyp\)/);
      assert.ok(r.out.includes(path.join(scratch, 'build', 'Release', 'bitsmith.node')), r.out);
      assert.ok(r.out.includes(path.join(scratch, 'prebuilds', `${process.platform}-${process.arch}`)), r.out);
    });
  });
});
