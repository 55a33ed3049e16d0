// A user's files are sacred: `bitsmith run`, `export` and `allocate` (node dist/cli.js, in a
// child process) on temporary folders holding a copy of the bundled stories260K model.
// Every probe that once lost data (an output onto or around the model, the recipe, a user
// file, a device; an empty or folder path; a file that appears mid-run; a run killed with
// SIGKILL; a write that fails for lack of space; zero-size tensors) must now end with a
// clear error at the statement's file:line:col (or a clean success) AND every file as it
// was, checked by hash.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const FIXTURE = path.join(root, 'examples/stories260K');

let w: string;
const run = (cmd: string, name: string) => {
  const r = spawnSync(process.execPath, [cli, cmd, name], { cwd: w, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/** Every path under dir (symlinks not followed) with its kind and content hash. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const rel = path.relative(dir, p);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = 'folder';
        walk(p);
      } else if (st.isFile()) out[rel] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
      else out[rel] = 'special';
    }
  };
  walk(dir);
  return out;
}

const BASE = 'model "model"\ndefaults { format int8; group channel }\n';
/** A ggml mix output gguf accepts (down_proj has 172 columns: kept). */
const GGML = 'model "model"\ndefaults { format q8_0 }\nmatch "*.mlp.down_proj" { keep }\n';

function recipe(name: string, text: string): string {
  fs.writeFileSync(path.join(w, name), text);
  return name;
}

/** Runs cmd on the recipe, expecting a refusal with this code at the path string's line:col, and nothing changed. */
function refused(cmd: string, name: string, code: string, line: number, message?: RegExp) {
  const before = snapshot(w);
  const r = run(cmd, name);
  assert.equal(r.code, 1, `${cmd} ${name}: exit ${r.code}\n${r.err}`);
  const text = fs.readFileSync(path.join(w, name), 'utf8');
  const col = text.split('\n')[line - 1].indexOf('"') + 1;
  assert.ok(col > 0, 'the line has a path string');
  // `check` prints the diagnostics on stdout, the commands that write on stderr.
  const said = r.out + r.err;
  assert.ok(
    said.includes(`${name}:${line}:${col}: error: `) && said.includes(`[${code}]`),
    `${cmd} ${name}: expected ${code} at ${line}:${col}\n${said}`,
  );
  if (message) assert.match(said, message);
  // Refused before any weight was read, and nothing was touched.
  assert.doesNotMatch(r.err, /tensor 1\//);
  assert.deepEqual(snapshot(w), before, `${cmd} ${name} changed files`);
  return r;
}

function copyModel(to: string) {
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(to, f));
}

describe('cli: output safety (no output may touch a file Bitsmith did not write)', function () {
  this.timeout(120000);
  beforeEach(() => {
    w = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-safety-'));
    copyModel(path.join(w, 'model'));
    fs.writeFileSync(path.join(w, 'LICENSE'), 'my own license text\n');
  });
  afterEach(() => fs.rmSync(w, { recursive: true, force: true }));

  it('output compressed_tensors "." (the folder holding the model and the recipe) is refused', () => {
    recipe('r.quant', `${BASE}output compressed_tensors "."\n`);
    refused('run', 'r.quant', 'output/overwrites-model', 3, /contains the model folder/);
    refused('check', 'r.quant', 'output/overwrites-model', 3);
  });

  it('output compressed_tensors "data" with the model at data/model is refused', () => {
    fs.renameSync(path.join(w, 'model'), path.join(w, 'm'));
    fs.mkdirSync(path.join(w, 'data'));
    fs.renameSync(path.join(w, 'm'), path.join(w, 'data', 'model'));
    recipe('r.quant', `${BASE.replace('"model"', '"data/model"')}output compressed_tensors "data"\n`);
    refused('run', 'r.quant', 'output/overwrites-model', 3);
  });

  it('exports onto the model weights or onto the recipe are refused (run and export)', () => {
    recipe('r.quant', `${GGML}export llama_quantize "model/model.safetensors"\n`);
    refused('export', 'r.quant', 'export/overwrites-model', 4);
    refused('run', 'r.quant', 'export/overwrites-model', 4);
    recipe('s.quant', `${BASE}export llm_compressor "s.quant"\n`);
    refused('export', 's.quant', 'export/overwrites-recipe', 3);
    refused('run', 's.quant', 'export/overwrites-recipe', 3);
  });

  it("output fake onto the model's config.json, the recipe, a user file or an absolute path is refused", () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-outside-'));
    try {
      const theirs = path.join(outside, 'notes.txt');
      fs.writeFileSync(theirs, 'not yours');
      const cases: [string, string][] = [
        ['model/config.json', 'output/overwrites-model'],
        ['./model/../model/config.json', 'output/overwrites-model'],
        ['r.quant', 'output/overwrites-recipe'],
        ['LICENSE', 'output/overwrites-foreign'],
        [theirs, 'output/overwrites-foreign'],
      ];
      for (const [p, code] of cases) {
        recipe('r.quant', `${BASE}output fake "${p}"\n`);
        refused('run', 'r.quant', code, 3, p === 'LICENSE' ? /Delete it yourself or choose another path/ : undefined);
      }
      assert.equal(fs.readFileSync(theirs, 'utf8'), 'not yours');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('symbolic links are resolved: a link to the model folder or to the weights is the model', () => {
    fs.symlinkSync(path.join(w, 'model'), path.join(w, 'mlink'));
    fs.symlinkSync(path.join(w, 'model', 'model.safetensors'), path.join(w, 'weights.safetensors'));
    recipe('r.quant', `${BASE}output fake "mlink/new.safetensors"\n`);
    refused('run', 'r.quant', 'output/overwrites-model', 3, /once links are resolved/);
    recipe('r.quant', `${BASE}output fake "weights.safetensors"\n`);
    refused('run', 'r.quant', 'output/overwrites-model', 3);
  });

  it('a device or a FIFO is refused (and stays what it is)', () => {
    // /dev/null through `check` only: a regression in `run` must not replace the machine's device.
    recipe('r.quant', `${BASE}output fake "/dev/null"\n`);
    refused('check', 'r.quant', 'output/not-a-file', 3, /character device/);
    const fifo = path.join(w, 'pipe');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    recipe('r.quant', `${BASE}output fake "pipe"\n`);
    refused('run', 'r.quant', 'output/not-a-file', 3, /a FIFO/);
    assert.ok(fs.lstatSync(fifo).isFIFO());
  });

  it('an empty path, an existing folder and a path ending in "/" are refused before the run', () => {
    recipe('r.quant', `${BASE}output fake ""\n`);
    refused('run', 'r.quant', 'output/empty-path', 3);
    fs.mkdirSync(path.join(w, 'sub'));
    fs.writeFileSync(path.join(w, 'sub', 'keep.txt'), 'x');
    recipe('r.quant', `${BASE}output fake "sub"\n`);
    refused('run', 'r.quant', 'output/is-a-folder', 3);
    recipe('r.quant', `${BASE}output fake "outdir/"\n`);
    refused('run', 'r.quant', 'output/folder-path', 3);
    assert.ok(!fs.existsSync(path.join(w, 'outdir')));
    assert.ok(!fs.existsSync(path.join(w, '.bitsmith')), 'no report of a refused run');
  });

  it('allocate refuses a recipe whose output is unsafe before measuring', () => {
    recipe(
      'r.quant',
      'model "model"\ndefaults { format int4; group channel }\nbudget 5 bpw\nallocate { formats int4 int8; metric weight }\noutput fake "model/config.json"\n',
    );
    refused('allocate', 'r.quant', 'output/overwrites-model', 5);
    assert.ok(!fs.existsSync(path.join(w, '.bitsmith')), 'nothing measured');
  });

  it("Bitsmith's own outputs are replaced by the next run; a folder holding a user's file is not", () => {
    recipe(
      'r.quant',
      `${GGML}output fake "out/a.safetensors"\noutput gguf "out/a.gguf"\nexport llm_compressor "out/r.yaml"\nexport llama_quantize "out/q.sh"\n`,
    );
    assert.equal(run('run', 'r.quant').code, 0);
    const first = snapshot(path.join(w, 'out'));
    const again = run('run', 'r.quant');
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(Object.keys(snapshot(path.join(w, 'out'))), Object.keys(first));
    assert.equal(run('export', 'r.quant').code, 0);

    recipe('ct.quant', `${BASE}output compressed_tensors "ct"\n`);
    assert.equal(run('run', 'ct.quant').code, 0);
    assert.equal(run('run', 'ct.quant').code, 0, 'its own folder is replaced');
    fs.writeFileSync(path.join(w, 'ct', 'notes.txt'), 'mine');
    refused(
      'run',
      'ct.quant',
      'output/overwrites-foreign',
      3,
      /holds files Bitsmith did not write there \(notes\.txt\)/,
    );
    // A hand-edited translation that keeps no mark line is the user's now.
    fs.writeFileSync(path.join(w, 'out', 'r.yaml'), 'my edited recipe\n');
    refused('export', 'r.quant', 'export/overwrites-foreign', 6);
  });

  it('zero-size tensors: the run succeeds (no bpw mismatch) and writes them', () => {
    const header = {
      'a.weight': { dtype: 'F32', shape: [4, 8], data_offsets: [0, 128] },
      'z.weight': { dtype: 'F32', shape: [0, 8], data_offsets: [128, 128] },
      e: { dtype: 'F32', shape: [0], data_offsets: [128, 128] },
    };
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    fs.writeFileSync(path.join(w, 'zero.safetensors'), Buffer.concat([len, h, Buffer.alloc(128, 1)]));
    recipe(
      'z.quant',
      'model "zero.safetensors"\ndefaults { format int8; group channel }\noutput fake "z-out.safetensors"\n',
    );
    const r = run('run', 'z.quant');
    assert.equal(r.code, 0, r.err);
    const out = fs.readFileSync(path.join(w, 'z-out.safetensors'));
    const names = Object.keys(JSON.parse(out.toString('utf8', 8, 8 + Number(out.readBigUInt64LE(0)))));
    assert.deepEqual(names.filter((n) => n !== '__metadata__').sort(), ['a.weight', 'e', 'z.weight']);
  });

  it('a failed write (a file-size limit: EFBIG, the ENOSPC path) names the file and the bytes, keeps the old output, leaves no temporary', () => {
    recipe('r.quant', `${BASE}output fake "out.safetensors"\n`);
    assert.equal(run('run', 'r.quant').code, 0);
    const before = snapshot(w);
    // 200 blocks (512 or 1024 bytes by shell) is well under the 1 MB output.
    const r = spawnSync('/bin/sh', ['-c', `ulimit -f 200 && exec "${process.execPath}" "${cli}" run r.quant`], {
      cwd: w,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/out\\.safetensors: cannot write \\d+ bytes at byte \\d+ \\(.*EFBIG\\)`,
      ),
    );
    assert.deepEqual(snapshot(w), before);
  });

  describe('while a run is under way', () => {
    // calibration + gptq + evaluate: the output's temporary file exists for the whole
    // quantization and evaluation, seconds on this model, before it is renamed.
    const SLOW =
      'model "model"\ncalibration generated\ndefaults { format int4; group channel; method gptq }\nevaluate {\n  perplexity samples 16 length 128\n}\noutput fake "out/o.safetensors"\n';

    /** Starts a run and resolves once its temporary output file exists (inotify: no polling interval). */
    function startUntilTemp(
      name: string,
    ): Promise<{ child: ChildProcess; temp?: string; exit: Promise<number | null>; stderr: () => string }> {
      fs.mkdirSync(path.join(w, 'out'), { recursive: true });
      return new Promise((resolve) => {
        let done = false;
        const finish = (temp?: string) => {
          if (done) return;
          done = true;
          watcher.close();
          resolve({ child, temp, exit, stderr: () => err });
        };
        const watcher = fs.watch(path.join(w, 'out'), (_e, f) => {
          const n = f?.toString();
          if (n && /^\.o\.safetensors\.bitsmith-tmp-\d+-[0-9a-f]+$/.test(n) && fs.existsSync(path.join(w, 'out', n)))
            finish(n);
        });
        const child = spawn(process.execPath, [cli, 'run', name], { cwd: w, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
        const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
        // A run that ends before the temporary was seen: the caller tries again.
        void exit.then(() => finish(undefined));
      });
    }

    it('a run killed with SIGKILL mid-write leaves a temporary the next run removes (and nothing else)', async () => {
      recipe('r.quant', SLOW);
      fs.mkdirSync(path.join(w, 'out'));
      // Files that look alike but are not stale Bitsmith temporaries stay.
      const keep = ['o.safetensors.bitsmith-tmp-1-ab', `.o.safetensors.bitsmith-tmp-${process.pid}-cd`, 'notes.txt'];
      for (const k of keep) fs.writeFileSync(path.join(w, 'out', k), 'x');
      let temp: string | undefined;
      for (let attempt = 0; attempt < 5 && !temp; attempt++) {
        const s = await startUntilTemp('r.quant');
        if (!s.temp) {
          fs.rmSync(path.join(w, 'out', 'o.safetensors'), { force: true });
          continue;
        }
        s.child.kill('SIGKILL');
        await s.exit;
        temp = s.temp;
      }
      assert.ok(temp, 'caught a run mid-write');
      assert.ok(fs.existsSync(path.join(w, 'out', temp)), 'SIGKILL left the temporary file');
      assert.ok(!fs.existsSync(path.join(w, 'out', 'o.safetensors')), 'and no output');
      recipe('r.quant', `${BASE}output fake "out/o.safetensors"\n`);
      const r = run('run', 'r.quant');
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(fs.readdirSync(path.join(w, 'out')).sort(), [...keep, 'o.safetensors'].sort());
    });

    it('a file that appears at the output during the run is not replaced (checked again at the rename)', async () => {
      recipe('r.quant', SLOW);
      let placed = false;
      for (let attempt = 0; attempt < 5 && !placed; attempt++) {
        const s = await startUntilTemp('r.quant');
        try {
          // 'wx': if the run has renamed its output already, this attempt does not count.
          if (s.temp) {
            fs.writeFileSync(path.join(w, 'out', 'o.safetensors'), 'the user put this here', { flag: 'wx' });
            placed = true;
          }
        } catch {
          placed = false;
        }
        const code = await s.exit;
        if (!placed) {
          fs.rmSync(path.join(w, 'out', 'o.safetensors'), { force: true });
          continue;
        }
        assert.equal(code, 1, s.stderr());
        assert.match(
          s.stderr(),
          /o\.safetensors appeared after Bitsmith checked it: not replaced.*\[run\/output-changed\]/,
        );
      }
      assert.ok(placed, 'placed a file mid-run');
      assert.equal(fs.readFileSync(path.join(w, 'out', 'o.safetensors'), 'utf8'), 'the user put this here');
      assert.deepEqual(fs.readdirSync(path.join(w, 'out')), ['o.safetensors'], 'no temporary left');
    });
  });
});
