// How the native runner puts its outputs in place (io/temp_file.*, io/output_folder.*,
// run/runner.cc): under a temporary name `.<name>.bitsmith-tmp-<pid>-<hex>` beside the
// destination while it runs; renamed only after every tensor produced the plan's bytes;
// never over something that appeared or changed since the caller's check (`replaces`); an
// earlier output folder swapped out whole, with the marker listing what Bitsmith wrote.
// Every failure leaves the old output byte for byte and no temporary behind.
import { strict as assert } from 'node:assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(root, 'examples/stories260K');
const MODEL = path.join(FIXTURE, 'model.safetensors');

interface Ev {
  type: string;
  name?: string;
  bytesOut?: number;
}
interface JobTensor {
  name: string;
  shape: number[];
  action: 'quantize' | 'keep';
  config?: Record<string, unknown>;
  bytesOut?: number;
}
interface Job {
  model: string;
  tensors: JobTensor[];
  threads?: number;
  output?: {
    kind: 'fake' | 'compressed_tensors';
    path: string;
    replaces?: string | null;
    config?: string;
    copy?: { from: string; name: string }[];
  };
}
interface Addon {
  modelInfo(p: string): { tensors: { name: string; shape: number[]; bytes: number }[] };
  startRun(job: Job, onEvent: (e: Ev) => void): { cancel(): void; done: Promise<Ev> };
}
type CodedError = Error & { code?: string; tensor?: string };

let addon: Addon;
let tmp: string;

before(function () {
  try {
    addon = require(path.join(root, 'native')) as Addon;
  } catch {
    this.skip();
  }
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-commit-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(job: Job, onEvent?: (e: Ev) => void) {
  const events: Ev[] = [];
  const handle = addon.startRun(job, (e) => {
    events.push(e);
    onEvent?.(e);
  });
  try {
    return { events, done: await handle.done, error: undefined as CodedError | undefined };
  } catch (e) {
    return { events, done: undefined, error: e as CodedError };
  }
}

/** int8 per channel for 2-D weights, the rest kept; bytesOut from the model (kept) or left out. */
function job(output: Job['output']): Job {
  const tensors = addon.modelInfo(MODEL).tensors.map((t): JobTensor =>
    t.shape.length === 2
      ? {
          name: t.name,
          shape: t.shape,
          action: 'quantize',
          config: { format: 'int8', groupKind: 'channel', group: 1 },
        }
      : { name: t.name, shape: t.shape, action: 'keep', bytesOut: t.bytes },
  );
  return { model: MODEL, tensors, threads: 2, output };
}

const hash = (p: string) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const temps = (dir: string) => fs.readdirSync(dir).filter((n) => n.includes('bitsmith-tmp'));
const identity = (p: string) => {
  const st = fs.lstatSync(p, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
};

describe('native output commit', () => {
  it('writes under the documented temporary name while running, then renames into place', async () => {
    const out = path.join(tmp, 'out.safetensors');
    // inotify queues every name created in the folder, however late this process reads them.
    const seen = new Set<string>();
    const watcher = fs.watch(tmp, (_e, name) => {
      if (name) seen.add(name.toString());
    });
    const r = await run(job({ kind: 'fake', path: out, replaces: null }));
    await new Promise<void>((resolve) => {
      // The watcher's queue is drained once the rename (the last event) has arrived.
      const poll = () => (seen.has('out.safetensors') ? resolve() : setTimeout(poll, 10));
      poll();
    });
    watcher.close();
    assert.equal(r.error, undefined);
    const tempNames = [...seen].filter((n) => n !== 'out.safetensors');
    assert.equal(tempNames.length, 1, [...seen].join(', '));
    assert.match(tempNames[0], new RegExp(`^\\.out\\.safetensors\\.bitsmith-tmp-${process.pid}-[0-9a-f]+$`));
    assert.deepEqual(fs.readdirSync(tmp), ['out.safetensors']);
  });

  it("a tensor whose bytes are not the plan's fails the run before the old output is replaced", async () => {
    const out = path.join(tmp, 'out.safetensors');
    fs.writeFileSync(out, 'the earlier output');
    const before = hash(out);
    const j = job({ kind: 'fake', path: out });
    const last = j.tensors[j.tensors.length - 1];
    last.bytesOut = 12345;
    const r = await run(j);
    assert.equal(r.error?.code, 'run/internal');
    assert.match(
      r.error!.message,
      new RegExp(`tensor "${last.name.replace(/\./g, '\\.')}": the plan says 12345 bytes`),
    );
    assert.equal(hash(out), before);
    assert.deepEqual(temps(tmp), []);
  });

  it('never replaces a file that appeared or changed after the check', async () => {
    const out = path.join(tmp, 'out.safetensors');
    fs.writeFileSync(out, 'a file of the user');
    const before = hash(out);
    const appeared = await run(job({ kind: 'fake', path: out, replaces: null }));
    assert.equal(appeared.error?.code, 'run/output-changed');
    assert.match(appeared.error!.message, /appeared after Bitsmith checked it: not replaced/);
    const changed = await run(job({ kind: 'fake', path: out, replaces: '1:2:3:4' }));
    assert.equal(changed.error?.code, 'run/output-changed');
    assert.equal(hash(out), before);
    assert.deepEqual(temps(tmp), []);
    // The identity the check saw: replaced.
    const ok = await run(job({ kind: 'fake', path: out, replaces: identity(out) }));
    assert.equal(ok.error, undefined);
    assert.notEqual(hash(out), before);
  });

  it('an output folder carries the marker, and replaces the checked earlier folder whole', async () => {
    const out = path.join(tmp, 'ct');
    const ct = (replaces: string | null) =>
      job({
        kind: 'compressed_tensors',
        path: out,
        replaces,
        config: '{"a": 1}\n',
        copy: [{ from: path.join(FIXTURE, 'README.md'), name: 'README.md' }],
      });
    // All kept: compressed-tensors then holds the source tensors as they are.
    const keepAll = (j: Job) => {
      j.tensors = addon
        .modelInfo(MODEL)
        .tensors.map((t) => ({ name: t.name, shape: t.shape, action: 'keep' as const, bytesOut: t.bytes }));
      return j;
    };
    const first = await run(keepAll(ct(null)));
    assert.equal(first.error, undefined);
    const names = fs.readdirSync(out).sort();
    assert.deepEqual(names, ['.bitsmith-output.json', 'README.md', 'config.json', 'model.safetensors']);
    const marker = JSON.parse(fs.readFileSync(path.join(out, '.bitsmith-output.json'), 'utf8')) as {
      writer: string;
      kind: string;
      files: { name: string; size: number; mtimeMs: number }[];
    };
    assert.equal(marker.writer, 'bitsmith');
    assert.equal(marker.kind, 'compressed-tensors');
    for (const f of marker.files) {
      const st = fs.statSync(path.join(out, f.name), { bigint: true });
      assert.equal(f.size, Number(st.size), f.name);
      assert.equal(f.mtimeMs, Number(st.mtimeNs / BigInt(1000000)), f.name);
    }
    assert.deepEqual(marker.files.map((f) => f.name).sort(), ['README.md', 'config.json', 'model.safetensors']);
    // Checked as absent but there now: refused, the folder intact.
    const refused = await run(keepAll(ct(null)));
    assert.equal(refused.error?.code, 'run/output-changed');
    assert.deepEqual(fs.readdirSync(out).sort(), names);
    // With the identity of the checked folder: swapped whole (a stray file of the old one is gone).
    fs.writeFileSync(path.join(out, 'stale.txt'), 'x');
    const id = identity(out);
    const second = await run(keepAll(ct(id)));
    assert.equal(second.error, undefined);
    assert.deepEqual(fs.readdirSync(out).sort(), names);
    assert.deepEqual(temps(tmp), []);
  });
});
