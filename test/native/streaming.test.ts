// The layer-streamed pipeline (native/src/run/layer_pipeline.h): with `sequential false` it
// quantizes exactly as a whole-model calibration would (the Hessians of one forward pass
// over the original model, forward.calibrate); with `sequential true` layer 0 is the same
// and later layers see the quantized layers' outputs. Progress covers every phase; the
// original logits cache gives the same evaluation; a cancel inside calibration leaves
// nothing behind.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ForwardApi } from './forward.test';

const root = path.resolve(__dirname, '../..');
const MODEL = path.join(root, 'examples/stories260K');
type Ev = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Addon {
  startRun(job: unknown, onEvent: (e: Ev) => void): { cancel(): void; done: Promise<Ev> };
  modelInfo(p: string): { tensors: { name: string; shape: number[] }[] };
  readTensor(p: string, name: string): Float32Array;
  gptq(W: Float32Array, rows: number, cols: number, H: Float64Array, cfg: unknown, o: unknown): Float32Array;
  forward: ForwardApi;
}
const addon = require(path.join(root, 'native')) as Addon;
const fwd = addon.forward;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-streaming-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PROJ = /\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/;
const CFG = { format: 'int4', group: 32, symmetric: true, scale: 'f16' };

function job(extra: Record<string, unknown>) {
  const tensors = addon
    .modelInfo(MODEL)
    .tensors.map((t) =>
      PROJ.test(t.name)
        ? { name: t.name, shape: t.shape, action: 'quantize', config: { ...CFG, method: 'gptq' } }
        : { name: t.name, shape: t.shape, action: 'keep' },
    );
  return {
    model: MODEL,
    tensors,
    threads: 2,
    calibration: { kind: 'generated', samples: 4, length: 32, seed: 0 },
    ...extra,
  };
}

async function run(j: unknown, onEvent?: (e: Ev, cancel: () => void) => void) {
  const events: Ev[] = [];
  // Events arrive through the event loop, after startRun has returned.
  const h = addon.startRun(j, (e) => {
    events.push(e);
    onEvent?.(e, () => h.cancel());
  });
  try {
    return { events, done: await h.done, error: undefined as (Error & { code?: string }) | undefined };
  } catch (e) {
    return { events, done: undefined, error: e as Error & { code?: string } };
  }
}

describe('layer-streamed pipeline', function () {
  this.timeout(120000);

  it('sequential false: every gptq tensor equals gptq on the whole-model Hessians, bit for bit', async () => {
    const out = path.join(tmp, 'seq-false.safetensors');
    const r = await run(job({ sequential: false, output: { kind: 'fake', path: out } }));
    assert.equal(r.error, undefined, r.error?.message);
    const seqs = fwd.sequences(MODEL, { kind: 'generated', samples: 4, length: 32, seed: 0 });
    const hs = fwd.calibrate(MODEL, seqs, { threads: 2 }) as {
      layer: number;
      tensors: string[];
      n: number;
      h: Float64Array;
    }[];
    let checked = 0;
    for (const t of addon.modelInfo(MODEL).tensors) {
      if (!PROJ.test(t.name)) continue;
      const h = hs.find((x) => x.tensors.includes(t.name))!;
      const [rows, cols] = t.shape;
      const want = addon.gptq(addon.readTensor(MODEL, t.name), rows, cols, h.h, CFG, { threads: 2 });
      const got = addon.readTensor(out, t.name);
      assert.equal(got.length, want.length);
      for (let i = 0; i < got.length; i++) assert.equal(got[i], want[i], `${t.name}[${i}]`);
      checked++;
    }
    assert.equal(checked, 7 * 5);
  });

  it('sequential true: layer 0 as with sequential false, later layers calibrated on the quantized layers', async () => {
    const a = path.join(tmp, 'seq-true.safetensors');
    const b = path.join(tmp, 'seq-false-2.safetensors');
    const ra = await run(job({ output: { kind: 'fake', path: a } }));
    const rb = await run(job({ sequential: false, output: { kind: 'fake', path: b } }));
    assert.equal(ra.error ?? rb.error, undefined);
    assert.equal(ra.events.find((e) => e.type === 'start')!.sequential, true);
    const same = (name: string) => {
      const x = addon.readTensor(a, name),
        y = addon.readTensor(b, name);
      return x.every((v, i) => v === y[i]);
    };
    for (const t of ['q_proj', 'k_proj', 'v_proj', 'o_proj'])
      assert.ok(same(`model.layers.0.self_attn.${t}.weight`), `layer 0 ${t}`);
    for (const t of ['gate_proj', 'up_proj', 'down_proj'])
      assert.ok(same(`model.layers.0.mlp.${t}.weight`), `layer 0 ${t}`);
    assert.ok(!same('model.layers.4.mlp.down_proj.weight'), 'layer 4 sees the quantized layers 0..3');
  });

  it('progress covers calibration, quantization, propagation and evaluation; phases are timed', async () => {
    const r = await run(job({ evaluate: { kind: 'generated', samples: 2, length: 24, seed: 1 } }));
    assert.equal(r.error, undefined, r.error?.message);
    const progress = r.events.filter((e) => e.type === 'progress');
    const phases = new Set(progress.map((e) => e.phase));
    for (const p of ['sequences', 'calibration', 'quantize', 'propagate', 'evaluation'])
      assert.ok(phases.has(p), `phase ${p} in ${[...phases].join(', ')}`);
    let last = 0;
    for (const p of progress) {
      assert.ok(p.fraction >= last - 1e-12, `fraction went back: ${p.fraction} after ${last} (${p.label})`);
      last = Math.max(last, p.fraction);
      assert.ok(p.step <= p.steps && p.steps >= 1);
      assert.equal(typeof p.label, 'string');
    }
    assert.equal(last, 1);
    const done = r.done!;
    for (const p of ['calibration', 'quantize', 'propagate', 'evaluation'])
      assert.ok(done.phases[p] >= 0, `phase time ${p}`);
  });

  it('the logits cache: a second run reads the original logits and reports the same evaluation', async () => {
    const cache = path.join(tmp, 'logits');
    const j = job({
      logitsCache: cache,
      evaluate: { kind: 'generated', samples: 2, length: 24, seed: 1 },
    });
    const first = await run(j);
    const second = await run(j);
    assert.equal(first.error ?? second.error, undefined);
    const e1 = first.events.find((e) => e.type === 'evaluation')!;
    const e2 = second.events.find((e) => e.type === 'evaluation')!;
    assert.equal(e1.logitsCache, 'written');
    assert.equal(e2.logitsCache, 'hit');
    for (const k of ['perplexityOriginal', 'perplexityQuantized', 'klMean', 'klMax', 'top1Agreement'])
      assert.equal(e2[k], e1[k], k);
    const files = fs.readdirSync(cache);
    assert.equal(files.length, 1);
    assert.match(files[0], /^logits-[0-9a-f]{16}\.bin$/);
  });

  it('large calibration states are kept in bf16: another GPTQ path of the same quality', async () => {
    const a = path.join(tmp, 'states-f32.safetensors');
    const b = path.join(tmp, 'states-bf16.safetensors');
    const ra = await run(job({ output: { kind: 'fake', path: a } }));
    const rb = await run(job({ activationsBf16Above: 0, output: { kind: 'fake', path: b } }));
    assert.equal(ra.error ?? rb.error, undefined);
    assert.equal(ra.events.find((e) => e.type === 'calibration')!.activations, 'f32');
    assert.equal(rb.events.find((e) => e.type === 'calibration')!.activations, 'bf16');
    // The states differ by bf16 rounding (the embedding rows too: this model is f32).
    let differ = 0,
      total = 0;
    for (const t of addon.modelInfo(MODEL).tensors) {
      if (!PROJ.test(t.name)) continue;
      const x = addon.readTensor(a, t.name),
        y = addon.readTensor(b, t.name),
        w = addon.readTensor(MODEL, t.name);
      assert.equal(w.length, x.length);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differ++;
      total += x.length;
    }
    // GPTQ's error feedback carries a flipped code along its row: many values move, but
    // the quality does not.
    assert.ok(differ > 0 && differ < total, `${differ} of ${total} values differ`);
    const rel = (r: { events: Ev[] }) => {
      const ts = r.events.filter((e) => e.type === 'tensor' && e.action === 'quantize');
      return ts.reduce((x, e) => x + e.outputError, 0) / ts.length;
    };
    assert.ok(Math.abs(rel(rb) / rel(ra) - 1) < 0.05, `mean output error ${rel(rb)} vs ${rel(ra)}`);
  });

  it('a cancel during calibration stops the run and leaves no output', async () => {
    const out = path.join(tmp, 'cancelled.safetensors');
    const r = await run(job({ output: { kind: 'fake', path: out } }), (e, cancel) => {
      if (e.type === 'progress' && e.phase === 'calibration') cancel();
    });
    assert.equal(r.error?.code, 'run/cancelled');
    assert.ok(!fs.existsSync(out));
    assert.deepEqual(
      fs.readdirSync(tmp).filter((f) => f.startsWith('cancelled')),
      [],
    );
  });
});
