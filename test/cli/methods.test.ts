// bitsmith run with method hqq and method awq on the bundled stories260K model: the
// methods run end to end (CLI -> job -> native runner -> report), keep RTN's stored size,
// and do what they optimise, measured here on the written fake-quant files (hqq: the
// |e|^0.7 loss against the source weights) or on the report (awq: output error).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readGgufHeader } from '../../core/src/models/gguf';
import type { RunReport } from '../../core/src/runReport';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const MODEL = path.join(root, 'examples/stories260K');
const addon = require(path.join(root, 'native')) as { readTensor(path: string, name: string): Float32Array };
const ggml = require(path.join(root, 'native')) as {
  ggmlDecode(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array;
};
const readTensorAddon = (file: string, name: string) => addon.readTensor(file, name);
const run = (...args: (string | string[])[]) => {
  // Arrays are flattened: option lists are passed whole, never spread into the call.
  const r = spawnSync(process.execPath, [cli, ...args.flat()], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

function readFake(file: string): Map<string, Float32Array> {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const out = new Map<string, Float32Array>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    assert.equal(v.dtype, 'F32', name);
    const b = buf.subarray(8 + len + v.data_offsets[0], 8 + len + v.data_offsets[1]);
    out.set(name, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
  }
  return out;
}

describe('cli run: methods hqq and awq', function () {
  this.timeout(120000);
  let tmp: string;
  const write = (name: string, lines: string[]) => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, lines.join('\n') + '\n');
    return p;
  };
  const report = (file: string, args: string[] = []): RunReport & { text?: string } => {
    const r = run('run', file, '--json', '--report-dir', path.join(tmp, 'reports'), args);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as RunReport;
  };

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built by npm run build');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-methods-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const hqqRecipe = (name: string, method: string, zero: string, output: string, format = 'int3') =>
    write(name, [
      `model "${MODEL}"`,
      `defaults { format ${format}; group 32; symmetric false; zero ${zero}; method ${method} }`,
      'match "*.mlp.down_proj" { group channel }',
      'match "model.embed_tokens" { keep }',
      output,
    ]);

  it('hqq: lower |e|^0.7 loss than rtn over the model, same bytes; the table names the method', () => {
    const rtn = report(hqqRecipe('rtn.quant', 'rtn', 'f16', 'output fake "rtn.safetensors"'));
    const hqq = report(hqqRecipe('hqq.quant', 'hqq { iters 20; lp_norm 0.7 }', 'f16', 'output fake "hqq.safetensors"'));
    assert.equal(hqq.totals.bytesOut, rtn.totals.bytesOut);
    const fr = readFake(path.join(tmp, 'rtn.safetensors')),
      fh = readFake(path.join(tmp, 'hqq.safetensors'));
    let lr = 0,
      lh = 0,
      count = 0,
      lower = 0;
    for (const t of hqq.tensors) {
      if (t.action !== 'quantize') continue;
      assert.equal(t.method, 'hqq');
      count++;
      const w = addon.readTensor(MODEL, t.name),
        a = fr.get(t.name)!,
        b = fh.get(t.name)!;
      let sr = 0,
        sh = 0;
      for (let i = 0; i < w.length; i++) {
        sr += Math.abs(w[i] - a[i]) ** 0.7;
        sh += Math.abs(w[i] - b[i]) ** 0.7;
      }
      assert.ok(sh <= sr * (1 + 1e-5), `${t.name}: hqq ${sh} > rtn ${sr}`);
      if (sh < sr) lower++;
      lr += sr;
      lh += sh;
    }
    assert.equal(count, 35);
    assert.equal(lower, count, "every tensor's loss goes down");
    assert.ok(lh < 0.99 * lr, `model |e|^0.7 loss: hqq ${lh} vs rtn ${lr}`);
    const human = run('run', hqqRecipe('hqq2.quant', 'hqq', 'f16', ''), '--report-dir', path.join(tmp, 'reports'));
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /int3 asym g32 hqq/);
  });

  it("hqq with zero int writes compressed_tensors (RTN's layout) and says zero int rarely changes", () => {
    const file = hqqRecipe('hqq-ct.quant', 'hqq', 'int', 'output compressed_tensors "ct"', 'int4');
    const check = run('check', file);
    assert.equal(check.code, 0, check.err);
    assert.match(check.out + check.err, /info: method hqq moves zero points by fractions of a step/);
    const r = report(file);
    assert.ok(fs.existsSync(path.join(tmp, 'ct', 'model.safetensors')));
    assert.ok(r.tensors.filter((t) => t.action === 'quantize').every((t) => t.method === 'hqq' && t.bpw === t.planBpw));
  });

  const awqRecipe = (name: string, method: string, extra: string[] = [], zero = 'f16') =>
    write(name, [
      `model "${MODEL}"`,
      'calibration generated samples 16 length 128 seed 0',
      `defaults { format int4; group 32; symmetric false; zero ${zero}; method ${method} }`,
      'match "*.mlp.down_proj" { group channel }',
      'match "model.embed_tokens" { keep }',
      ...extra,
    ]);

  it("awq: per input a shared scaling whose output error is not above rtn's; lower output error and KL over the model; printed", () => {
    const evaluate = 'evaluate { perplexity samples 16 length 128; kl_divergence }';
    const rtn = report(awqRecipe('awq-rtn.quant', 'rtn', [evaluate]));
    const awq = report(awqRecipe('awq.quant', 'awq { grid 20 }', [evaluate]));
    assert.equal(awq.totals.bytesOut, rtn.totals.bytesOut);
    const byName = new Map(rtn.tensors.map((t) => [t.name, t]));
    const sites = new Map<string, NonNullable<(typeof awq.tensors)[number]['awq']>>();
    let sumA = 0,
      sumR = 0,
      count = 0;
    for (const t of awq.tensors) {
      if (t.action !== 'quantize') continue;
      count++;
      assert.equal(t.method, 'awq');
      const a = t.awq!;
      assert.ok(a, `${t.name} reports its scaling`);
      assert.ok(a.shared.includes(t.name));
      assert.ok(a.alpha >= 0 && a.alpha < 1 && a.alpha === a.gridPoint / 20 && a.grid === 20);
      assert.ok(
        a.scaleMin > 0 && a.scaleMin <= 1 && a.scaleMax >= 1,
        `${t.name}: scales ${a.scaleMin}..${a.scaleMax} (normalised around 1)`,
      );
      assert.ok(a.searchError <= a.searchErrorRtn);
      sites.set(a.shared.join(','), a);
      const r = byName.get(t.name)!;
      assert.ok(t.outputError !== undefined && r.outputError !== undefined);
      // A tensor alone on its input (o_proj, down_proj): its own output error cannot rise.
      if (a.shared.length === 1)
        assert.ok(
          t.outputError! <= r.outputError! * (1 + 1e-6),
          `${t.name}: awq ${t.outputError} vs rtn ${r.outputError}`,
        );
      sumA += t.outputError!;
      sumR += r.outputError!;
    }
    assert.equal(count, 35);
    assert.equal(sites.size, 20, 'q/k/v, o, gate/up and down of 5 layers');
    for (const a of sites.values()) {
      const layer = /layers\.(\d+)\./.exec(a.shared[0])![1];
      assert.ok(a.shared.every((n) => n.includes(`layers.${layer}.`)));
      assert.ok([1, 2, 3].includes(a.shared.length));
    }
    assert.ok(
      [...sites.values()].some((a) => a.alpha > 0),
      'some input is scaled',
    );
    assert.ok(sumA < sumR, `mean output error awq ${sumA / count} vs rtn ${sumR / count}`);
    assert.ok(
      awq.evaluation!.klMean < rtn.evaluation!.klMean,
      `KL awq ${awq.evaluation!.klMean} vs rtn ${rtn.evaluation!.klMean}`,
    );
    const human = run('run', awqRecipe('awq2.quant', 'awq'), '--report-dir', path.join(tmp, 'reports'));
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /awq \(one scaling per input/);
    assert.match(
      human.out,
      /model\.layers\.0\.self_attn\.k_proj\.weight, model\.layers\.0\.self_attn\.q_proj\.weight, model\.layers\.0\.self_attn\.v_proj\.weight: alpha [\d.]+ \(grid point \d+ of 20\), scales [\d.]+ \.\. [\d.]+, search error/,
    );
    assert.match(human.out, /int4 asym g32 awq/);
  });

  it('awq with output gguf: the blocks are those of W diag(s), 1/s is in the norm before q/k/v and gate/up; o and down unscaled', () => {
    const file = write('awq-gguf.quant', [
      `model "${MODEL}"`,
      'calibration generated samples 16 length 128 seed 0',
      'defaults { format q4_0; method awq }',
      'match "*.mlp.down_proj" { keep }',
      'match "model.embed_tokens" { keep }',
      'output fake "awq-gguf.safetensors"',
      'output gguf "awq.gguf"',
    ]);
    const check = run('check', file);
    assert.match(
      check.out + check.err,
      /info: method awq leaves o_proj unscaled \(RTN\) when an output stores codes, unless/,
    );
    const r = report(file);
    const ev = (n: string) => r.tensors.find((t) => t.name === n)!.awq!;
    assert.equal(ev('model.layers.0.self_attn.v_proj.weight').foldedInto, 'model.layers.0.input_layernorm.weight');
    assert.equal(ev('model.layers.0.mlp.up_proj.weight').foldedInto, 'model.layers.0.post_attention_layernorm.weight');
    assert.match(ev('model.layers.0.self_attn.o_proj.weight').note!, /not scaled: .*v_proj's rows/);
    assert.equal(ev('model.layers.0.self_attn.o_proj.weight').alpha, 0);
    const gguf = path.join(tmp, 'awq.gguf');
    const h = readGgufHeader(gguf);
    const buf = fs.readFileSync(gguf);
    const bytes = (name: string) => {
      const t = h.tensors.find((x) => x.name === name)!;
      return { t, b: new Uint8Array(buf.buffer, buf.byteOffset + t.offset, Number(t.bytes)).slice() };
    };
    const f32 = (b: Uint8Array) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    const fake = path.join(tmp, 'awq-gguf.safetensors');
    let scaled = 0;
    for (const [layer, norm, hfNorm, lin, hfLin] of [
      [0, 'attn_norm', 'input_layernorm', 'attn_v', 'self_attn.v_proj'],
      [3, 'attn_norm', 'input_layernorm', 'attn_v', 'self_attn.v_proj'],
      [1, 'ffn_norm', 'post_attention_layernorm', 'ffn_up', 'mlp.up_proj'],
      [4, 'ffn_norm', 'post_attention_layernorm', 'ffn_gate', 'mlp.gate_proj'],
    ] as const) {
      const g = readTensorAddon(MODEL, `model.layers.${layer}.${hfNorm}.weight`);
      const gFolded = f32(bytes(`blk.${layer}.${norm}.weight`).b);
      const { t, b } = bytes(`blk.${layer}.${lin}.weight`);
      const [rows, cols] = t.shape;
      const codes = ggml.ggmlDecode('q4_0', b, rows, cols); // Q(W diag s)
      const wPrime = readTensorAddon(fake, `model.layers.${layer}.${hfLin}.weight`); // Q(W diag s) diag s^-1
      // What the folded GGUF computes, norm then linear: Q(W s)_rj (g_j / s_j) == W'_rj g_j.
      let worst = 0,
        maxAbs = 0;
      for (let i = 0; i < rows * cols; i++) {
        const j = i % cols;
        worst = Math.max(worst, Math.abs(codes[i] * gFolded[j] - wPrime[i] * g[j]));
        maxAbs = Math.max(maxAbs, Math.abs(wPrime[i] * g[j]));
      }
      assert.ok(worst <= 1e-6 * maxAbs, `layer ${layer} ${lin}: folded ${worst} vs ${maxAbs}`);
      if (gFolded.some((x, j) => x !== g[j])) scaled++;
    }
    assert.ok(scaled >= 3, 'the norms carry 1/s');
    // o_proj: not scaled, the blocks decode to the fake-quant weights exactly.
    const { t, b } = bytes('blk.2.attn_output.weight');
    assert.deepEqual(
      ggml.ggmlDecode('q4_0', b, t.shape[0], t.shape[1]),
      readTensorAddon(fake, 'model.layers.2.self_attn.o_proj.weight'),
    );
  });

  it("awq with output gguf on an MHA model whose MLP fits q4_0: down_proj's and o_proj's 1/s go into up_proj's and v_proj's rows; the folded MLP and o·v compute what the fake-quant ones do", () => {
    const dir = path.join(tmp, 'syn');
    const g = spawnSync(
      process.execPath,
      [
        path.join(root, 'bench/make-synthetic-model.mjs'),
        '--out',
        dir,
        '--quiet',
        '--dim',
        '64',
        '--layers',
        '2',
        '--hidden',
        '128',
        '--vocab',
        '512',
        '--heads',
        '4',
        '--kv-heads',
        '4',
        '--dtype',
        'f32',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(g.status, 0, g.stderr);
    const file = write('awq-syn.quant', [
      `model "${dir}"`,
      'calibration generated samples 8 length 32 seed 0',
      'defaults { format q4_0; method awq }',
      'match "model.embed_tokens", "lm_head" { keep }',
      'output fake "syn-fake.safetensors"',
      'output gguf "syn.gguf"',
    ]);
    const check = run('check', file);
    assert.ok(!(check.out + check.err).includes('awq-not-folded'), 'every input folds on this model: no info');
    const r = report(file);
    const down = r.tensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight')!.awq!;
    assert.equal(down.foldedInto, 'model.layers.0.mlp.up_proj.weight');
    assert.ok(down.alpha > 0, 'down_proj is scaled');
    const gguf = path.join(tmp, 'syn.gguf'),
      fake = path.join(tmp, 'syn-fake.safetensors');
    const h = readGgufHeader(gguf);
    const buf = fs.readFileSync(gguf);
    const tensor = (name: string) => {
      const t = h.tensors.find((x) => x.name === name)!;
      const b = new Uint8Array(buf.buffer, buf.byteOffset + t.offset, Number(t.bytes)).slice();
      return t.dtype === 'F32'
        ? new Float32Array(b.buffer)
        : ggml.ggmlDecode(t.dtype.toLowerCase(), b, t.shape[0], t.shape[1]);
    };
    const matvec = (W: Float32Array, x: Float64Array, rows: number) => {
      const n = x.length,
        y = new Float64Array(rows);
      for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) y[i] += W[i * n + j] * x[j];
      return y;
    };
    const silu = (v: number) => v / (1 + Math.exp(-v));
    const mlp = (norm: Float32Array, G: Float32Array, U: Float32Array, D: Float32Array, x: Float64Array) => {
      const xn = x.map((v, j) => v * norm[j]);
      const a = matvec(G, xn, 128),
        b = matvec(U, xn, 128);
      return matvec(
        D,
        a.map((v, i) => silu(v) * b[i]),
        64,
      );
    };
    const u = (() => {
      let s = 5;
      return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5;
    })();
    for (const layer of [0, 1]) {
      const p = `model.layers.${layer}.`;
      for (let trial = 0; trial < 3; trial++) {
        const x = Float64Array.from({ length: 64 }, () => u());
        const folded = mlp(
          tensor(`blk.${layer}.ffn_norm.weight`),
          tensor(`blk.${layer}.ffn_gate.weight`),
          tensor(`blk.${layer}.ffn_up.weight`),
          tensor(`blk.${layer}.ffn_down.weight`),
          x,
        );
        const want = mlp(
          readTensorAddon(dir, `${p}post_attention_layernorm.weight`),
          readTensorAddon(fake, `${p}mlp.gate_proj.weight`),
          readTensorAddon(fake, `${p}mlp.up_proj.weight`),
          readTensorAddon(fake, `${p}mlp.down_proj.weight`),
          x,
        );
        let num = 0,
          den = 0;
        for (let i = 0; i < 64; i++) {
          num += (folded[i] - want[i]) ** 2;
          den += want[i] ** 2;
        }
        assert.ok(Math.sqrt(num / den) < 1e-5, `layer ${layer}: folded MLP differs by ${Math.sqrt(num / den)}`);
      }
      // The stored up_proj is not the fake one: its rows carry 1/s of down's input.
      assert.notDeepEqual(tensor(`blk.${layer}.ffn_up.weight`), readTensorAddon(fake, `${p}mlp.up_proj.weight`));
      // Attention is linear in V's rows: o_proj after v_proj after the norm is one linear map
      // per attention mix, O V diag(g); folded (GGUF) and fake-quant maps must agree.
      const composite = (O: Float32Array, V: Float32Array, g: Float32Array) => {
        const C = new Float64Array(64 * 64);
        for (let i = 0; i < 64; i++)
          for (let k = 0; k < 64; k++) {
            const o = O[i * 64 + k];
            for (let j = 0; j < 64; j++) C[i * 64 + j] += o * V[k * 64 + j] * g[j];
          }
        return C;
      };
      const cf = composite(
        tensor(`blk.${layer}.attn_output.weight`),
        tensor(`blk.${layer}.attn_v.weight`),
        tensor(`blk.${layer}.attn_norm.weight`),
      );
      const cw = composite(
        readTensorAddon(fake, `${p}self_attn.o_proj.weight`),
        readTensorAddon(fake, `${p}self_attn.v_proj.weight`),
        readTensorAddon(dir, `${p}input_layernorm.weight`),
      );
      let num = 0,
        den = 0;
      for (let i = 0; i < cf.length; i++) {
        num += (cf[i] - cw[i]) ** 2;
        den += cw[i] ** 2;
      }
      assert.ok(Math.sqrt(num / den) < 1e-5, `layer ${layer}: folded o·v differs by ${Math.sqrt(num / den)}`);
      assert.notDeepEqual(tensor(`blk.${layer}.attn_v.weight`), readTensorAddon(fake, `${p}self_attn.v_proj.weight`));
    }
    assert.equal(
      r.tensors.find((t) => t.name === 'model.layers.1.self_attn.o_proj.weight')!.awq!.foldedInto,
      'model.layers.1.self_attn.v_proj.weight',
    );
  });

  it("awq with output compressed_tensors: runs, the norms before q/k/v and gate/up carry 1/s, the others are the source's", () => {
    const file = awqRecipe('awq-ct.quant', 'awq', ['output compressed_tensors "ct-awq"'], 'int');
    const r = report(file);
    assert.ok(r.tensors.filter((t) => t.action === 'quantize').every((t) => t.bpw === t.planBpw));
    const ct = path.join(tmp, 'ct-awq', 'model.safetensors');
    for (const [name, changed] of [
      ['model.layers.0.input_layernorm.weight', true],
      ['model.layers.2.post_attention_layernorm.weight', true],
      ['model.norm.weight', false],
    ] as const) {
      const a = readTensorAddon(ct, name),
        b = readTensorAddon(MODEL, name);
      assert.equal(
        a.some((x, j) => x !== b[j]),
        changed,
        name,
      );
    }
  });

  it("awq: refused with an imatrix (only the Hessian's diagonal), on the method line", () => {
    const im = write('awq-im.quant', [
      `model "${MODEL}"`,
      `calibration imatrix "${path.join(root, 'examples/stories260K.imatrix')}"`,
      'defaults { format int4; group 32; method awq }',
      'match "*.mlp.down_proj" { group channel }',
    ]);
    const ri = run('run', im);
    assert.equal(ri.code, 1);
    assert.match(
      ri.err,
      /awq-im\.quant:3:35: error: Method 'awq' needs the full Hessian X\^T X; calibration imatrix gives only its diagonal/,
    );
  });

  it('hqq on a symmetric grid is an error on the method line', () => {
    const file = write('hqq-sym.quant', [
      `model "${MODEL}"`,
      'defaults { format int4; group 32; method hqq }',
      'match "model.embed_tokens" { keep }',
    ]);
    const r = run('run', file);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /hqq-sym\.quant:2:35: error: method hqq optimises the zero point, which a symmetric grid does not have/,
    );
  });
});
