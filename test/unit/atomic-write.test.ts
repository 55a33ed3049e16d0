// Whole-or-nothing writes (core/src/io/atomicWrite.ts) and the temporary names they use
// (core/src/io/tempNames.ts): the destination changes only by a rename of a complete file,
// never over something that appeared or changed after the check, a failed write (here a
// process file-size limit: EFBIG, the same path as ENOSPC) names the file and the bytes
// and leaves no temporary file, and only stale temporaries of dead processes are removed.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { entryAt } from '../../core/src/analysis/outputFacts';
import { writeFileAtomic } from '../../core/src/io/atomicWrite';
import { parseTempName, pidAlive, removeStaleTemps, tempPathFor } from '../../core/src/io/tempNames';

const root = path.join(__dirname, '../..');

describe('atomic writes and temporary files', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-atomic-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const others = () => fs.readdirSync(tmp).filter((n) => parseTempName(n));

  it('temporary names follow the documented pattern, beside the target', () => {
    const t = tempPathFor(path.join(tmp, 'model.safetensors'));
    assert.equal(path.dirname(t), tmp);
    assert.match(path.basename(t), /^\.model\.safetensors\.bitsmith-tmp-\d+-[0-9a-f]+$/);
    assert.deepEqual(parseTempName(path.basename(t)), { target: 'model.safetensors', pid: process.pid });
    assert.equal(parseTempName('model.safetensors.tmp'), undefined);
    assert.equal(parseTempName('.x.bitsmith-tmp-12-zz'), undefined);
  });

  it('writes a new file, and replaces only what the caller checked', () => {
    const f = path.join(tmp, 'a.yaml');
    writeFileAtomic(f, 'one\n', { replaces: null });
    assert.equal(fs.readFileSync(f, 'utf8'), 'one\n');
    const id = entryAt(f)!.id;
    writeFileAtomic(f, 'two\n', { replaces: id });
    assert.equal(fs.readFileSync(f, 'utf8'), 'two\n');
    // Checked as absent, but something is there now: untouched.
    assert.throws(
      () => writeFileAtomic(f, 'three\n', { replaces: null }),
      /appeared after Bitsmith checked it: not replaced/,
    );
    // Checked as one file, but it changed since: untouched.
    assert.throws(() => writeFileAtomic(f, 'three\n', { replaces: id }), /changed after Bitsmith checked it/);
    assert.equal(fs.readFileSync(f, 'utf8'), 'two\n');
    assert.deepEqual(others(), []);
  });

  it('sets the mode (executable scripts)', () => {
    const f = path.join(tmp, 'q.sh');
    writeFileAtomic(f, '#!/bin/sh\n', { mode: 0o755, replaces: null });
    assert.ok((fs.statSync(f).mode & 0o100) !== 0);
  });

  it('a failed write (file-size limit: EFBIG) names the file and the bytes, keeps the old file and leaves no temporary', () => {
    const f = path.join(tmp, 'big.bin');
    fs.writeFileSync(f, 'old contents');
    const code = `
      const { writeFileAtomic } = require(${JSON.stringify(path.join(root, 'core/src/io/atomicWrite.ts'))});
      try { writeFileAtomic(${JSON.stringify(f)}, Buffer.alloc(300000, 1)); console.log('written'); }
      catch (e) { console.log(e.message); }`;
    // ulimit -f counts 512- or 1024-byte blocks depending on the shell: 100 blocks is well under 300000 bytes.
    const r = spawnSync(
      '/bin/sh',
      [
        '-c',
        `ulimit -f 100 && exec "${process.execPath}" -r ${JSON.stringify(path.join(root, 'test/register.js'))} -e '${code.replace(/'/g, "'\\''")}'`,
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write 300000 bytes \\(.*EFBIG\\); nothing was written`,
      ),
    );
    assert.equal(fs.readFileSync(f, 'utf8'), 'old contents');
    assert.deepEqual(others(), []);
  });

  it('removes stale temporaries of dead processes only', () => {
    // A process that has exited: its pid is free (the kernel does not reuse it at once).
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    assert.ok(deadPid > 0 && !pidAlive(deadPid));
    const names = {
      staleFile: `.out.safetensors.bitsmith-tmp-${deadPid}-abc123`,
      staleFolder: `.ct.bitsmith-tmp-${deadPid}-def456`,
      live: `.out.safetensors.bitsmith-tmp-${process.pid}-0a0a`,
      parentAlive: `.out.gguf.bitsmith-tmp-${process.ppid}-0b0b`,
      lookalike: `out.safetensors.bitsmith-tmp-${deadPid}-abc`,
      user: 'notes.txt',
      oldStyle: `out.safetensors.${deadPid}.tmp`,
    };
    for (const [k, n] of Object.entries(names)) {
      if (k === 'staleFolder') {
        fs.mkdirSync(path.join(tmp, n));
        fs.writeFileSync(path.join(tmp, n, 'model.safetensors'), 'x');
      } else fs.writeFileSync(path.join(tmp, n), 'x');
    }
    const removed = removeStaleTemps(tmp)
      .map((p) => path.basename(p))
      .sort();
    assert.deepEqual(removed, [names.staleFolder, names.staleFile].sort());
    assert.deepEqual(
      fs.readdirSync(tmp).sort(),
      [names.live, names.parentAlive, names.lookalike, names.user, names.oldStyle].sort(),
    );
    assert.deepEqual(removeStaleTemps(path.join(tmp, 'missing')), []);
  });
});
