import * as assert from 'node:assert/strict';
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
});
