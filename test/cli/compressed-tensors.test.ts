// `output compressed_tensors "dir"` as a user runs it: the folder is read back by the test's
// own safetensors parser and unpacked by its own compressed-tensors decoder (int32 words,
// 32/b values per word at bit shift k*b, offset 2^(b-1); zero points packed along the
// output dimension; e4m3fn bytes; nvfp4: two e2m1 codes per byte, low nibble first, e4m3
// scales per 16 divided by the f32 global scale), and must equal the `output fake` of the same rules
// exactly, value for value. config.json's quantization_config is checked field by field,
// with its `re:` targets applied as compressed-tensors does (re.match, anchored at the
// start). A cancelled run leaves no folder and no temporary files.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const FIXTURE = path.join(root, 'examples/stories260K');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

type St = Map<string, { dtype: string; shape: number[]; data: Buffer }>;
function readSafetensors(file: string): { tensors: St; metadata: Record<string, string> } {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensors: St = new Map();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const data = buf.subarray(8 + len + v.data_offsets[0], 8 + len + v.data_offsets[1]);
    const size = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, F8_E4M3: 1, U8: 1 }[v.dtype] ?? 0;
    assert.equal(data.length, v.shape.reduce((a, b) => a * b, 1) * size, `${name}: byte size matches dtype and shape`);
    tensors.set(name, { dtype: v.dtype, shape: v.shape, data });
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as unknown as Record<string, string> };
}

// Independent decoders.
function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
function bf16(h: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE((h << 16) >>> 0);
  return b.readFloatLE(0);
}
function e4m3fn(x: number): number {
  const s = x & 0x80 ? -1 : 1;
  const e = (x >> 3) & 0xf;
  const m = x & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * (m / 8) * 2 ** -6;
  return s * (1 + m / 8) * 2 ** (e - 7);
}
function floats(t: { dtype: string; data: Buffer }): number[] {
  const out: number[] = [];
  const n = t.data.length / (t.dtype === 'F32' ? 4 : 2);
  for (let i = 0; i < n; i++) {
    out.push(
      t.dtype === 'F32'
        ? t.data.readFloatLE(4 * i)
        : t.dtype === 'F16'
          ? f16(t.data.readUInt16LE(2 * i))
          : bf16(t.data.readUInt16LE(2 * i)),
    );
  }
  return out;
}
const i32 = (t: { data: Buffer }) => Array.from({ length: t.data.length / 4 }, (_, i) => t.data.readUInt32LE(4 * i));

/** Unpacks a compressed-tensors module to f32 values (w = (q - z) * s, each step rounded to f32 as the runner's arithmetic is). */
function decodeModule(
  st: St,
  mod: string,
  qc: { num_bits: number; type: string; symmetric: boolean; strategy: string; group_size: number | null },
): Float32Array {
  const scaleT = st.get(`${mod}.weight_scale`)!;
  assert.ok(scaleT, `${mod}.weight_scale exists`);
  if (qc.strategy === 'tensor_group') {
    // nvfp4-pack-quantized: w = e2m1 * (scale / global_scale), the quotient rounded to f32.
    const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
    const packed = st.get(`${mod}.weight_packed`)!;
    const gsT = st.get(`${mod}.weight_global_scale`)!;
    assert.equal(packed.dtype, 'U8');
    assert.equal(scaleT.dtype, 'F8_E4M3');
    assert.equal(gsT.dtype, 'F32');
    assert.deepEqual(gsT.shape, [1]);
    const gs = gsT.data.readFloatLE(0);
    const [rows, half] = packed.shape;
    const cols = 2 * half;
    assert.deepEqual(scaleT.shape, [rows, cols / qc.group_size!]);
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < rows * cols; i++) {
      const code = (packed.data[i >> 1] >> (4 * (i & 1))) & 15;
      const v = (code & 8 ? -1 : 1) * E2M1[code & 7];
      const r = Math.floor(i / cols),
        c = i % cols;
      const s = Math.fround(e4m3fn(scaleT.data[r * (cols / 16) + Math.floor(c / 16)]) / gs);
      out[i] = Math.fround(v * s);
    }
    return out;
  }
  const scales = floats(scaleT);
  if (qc.type === 'float') {
    const w = st.get(`${mod}.weight`)!;
    assert.equal(w.dtype, 'F8_E4M3');
    const [rows, cols] = w.shape;
    const out = new Float32Array(rows * cols);
    const g = qc.strategy === 'group' ? qc.group_size! : cols;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const s = qc.strategy === 'tensor' ? scales[0] : scales[r * (cols / g) + Math.floor(c / g)];
        out[r * cols + c] = Math.fround(e4m3fn(w.data[r * cols + c]) * s);
      }
    }
    return out;
  }
  const shapeT = st.get(`${mod}.weight_shape`)!;
  assert.equal(shapeT.dtype, 'I64');
  const rows = Number(shapeT.data.readBigInt64LE(0));
  const cols = Number(shapeT.data.readBigInt64LE(8));
  const b = qc.num_bits;
  const pf = 32 / b;
  const mask = (1 << b) - 1;
  const half = 1 << (b - 1);
  const packed = st.get(`${mod}.weight_packed`)!;
  assert.equal(packed.dtype, 'I32');
  assert.deepEqual(packed.shape, [rows, Math.ceil(cols / pf)]);
  const words = i32(packed);
  const wpr = Math.ceil(cols / pf);
  const g = qc.strategy === 'group' ? qc.group_size! : cols;
  const gpr = qc.strategy === 'tensor' ? 1 : cols / g;
  let zp: number[] | undefined;
  if (!qc.symmetric) {
    const z = st.get(`${mod}.weight_zero_point`)!;
    assert.ok(z, `${mod}.weight_zero_point exists`);
    assert.deepEqual(z.shape, [Math.ceil(rows / pf), gpr]);
    const zw = i32(z);
    zp = [];
    for (let r = 0; r < rows; r++)
      for (let gi = 0; gi < gpr; gi++) zp.push(((zw[Math.floor(r / pf) * gpr + gi] >>> (b * (r % pf))) & mask) - half);
  } else {
    assert.ok(!st.has(`${mod}.weight_zero_point`));
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = ((words[r * wpr + Math.floor(c / pf)] >>> (b * (c % pf))) & mask) - half;
      const gi = qc.strategy === 'tensor' ? 0 : r * gpr + Math.floor(c / g);
      const s = qc.strategy === 'tensor' ? scales[0] : scales[gi];
      const z = zp ? zp[gi] : 0;
      out[r * cols + c] = Math.fround(Math.fround(q - z) * s);
    }
  }
  return out;
}

const RULES = `defaults { format int4; group 32 }
match "*.mlp.down_proj" { format int8; group channel }
match "model.layers.0.self_attn.o_proj" { symmetric false; zero int }
match "model.layers.3.mlp.down_proj" { symmetric false; zero int }
match "model.layers.4.self_attn.k_proj" { symmetric false; zero int; scale bf16 }
match "model.layers.4.self_attn.v_proj" { group tensor }
match "model.layers.4.mlp.up_proj" { scale f32 }
match "model.layers.1.self_attn.q_proj" { keep }
match "model.layers.2.**" { format fp8_e4m3; group channel }
match "model.layers.2.mlp.up_proj" { group 16 }
match "model.layers.4.mlp.down_proj" { format int4 }
match "model.layers.4.mlp.gate_proj" { symmetric false; zero int }
match "model.layers.3.self_attn.*" { format nvfp4 }
`;

describe('cli run: output compressed_tensors', function () {
  this.timeout(120000);
  let tmp: string;
  let ct: string;
  let fake: St;
  let out: { tensors: St; metadata: Record<string, string> };
  let config: Record<string, unknown> & { quantization_config: Record<string, unknown> };
  let plan: {
    tensors: {
      name: string;
      action: string;
      format?: string;
      group?: number;
      groupKind?: string;
      symmetric?: boolean;
      clip?: string;
    }[];
  };

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-ct-'));
    ct = path.join(tmp, 'w4a16');
    fs.writeFileSync(
      path.join(tmp, 'ct.quant'),
      `recipe "ct"\nmodel "${FIXTURE}"\n${RULES}output compressed_tensors "w4a16"\n`,
    );
    fs.writeFileSync(
      path.join(tmp, 'fake.quant'),
      `recipe "fake"\nmodel "${FIXTURE}"\n${RULES}output fake "fake.safetensors"\n`,
    );
    const a = run('run', path.join(tmp, 'ct.quant'), '--json');
    assert.equal(a.code, 0, a.err);
    const report = JSON.parse(a.out) as { output: { kind: string; path: string } };
    assert.deepEqual(report.output, { kind: 'compressed_tensors', path: ct });
    const b = run('run', path.join(tmp, 'fake.quant'), '--json');
    assert.equal(b.code, 0, b.err);
    fake = readSafetensors(path.join(tmp, 'fake.safetensors')).tensors;
    out = readSafetensors(path.join(ct, 'model.safetensors'));
    config = JSON.parse(fs.readFileSync(path.join(ct, 'config.json'), 'utf8'));
    const p = run('budget', path.join(tmp, 'ct.quant'), '--json');
    assert.equal(p.code, 0, p.err);
    plan = JSON.parse(p.out).plan;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("writes config.json (the model's, with quantization_config), model.safetensors and the other files", () => {
    assert.deepEqual(fs.readdirSync(ct).sort(), [
      '.bitsmith-output.json',
      'LICENSE.llama2c',
      'README.md',
      'config.json',
      'model.safetensors',
    ]);
    // The marker lists every file Bitsmith wrote there (a later run replaces the folder only then).
    const marker = JSON.parse(fs.readFileSync(path.join(ct, '.bitsmith-output.json'), 'utf8')) as {
      writer: string;
      files: { name: string; size: number }[];
    };
    assert.equal(marker.writer, 'bitsmith');
    assert.deepEqual(
      marker.files.map((f) => [f.name, f.size]).sort(),
      ['LICENSE.llama2c', 'README.md', 'config.json', 'model.safetensors'].map((f) => [
        f,
        fs.statSync(path.join(ct, f)).size,
      ]),
    );
    for (const f of ['LICENSE.llama2c', 'README.md'])
      assert.ok(fs.readFileSync(path.join(ct, f)).equals(fs.readFileSync(path.join(FIXTURE, f))), f);
    const src = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8'));
    for (const [k, v] of Object.entries(src)) assert.deepEqual(config[k], v, k);
    const q = config.quantization_config;
    assert.equal(q.quant_method, 'compressed-tensors');
    assert.equal(q.quantization_status, 'compressed');
    assert.equal(q.format, 'mixed-precision');
    assert.deepEqual(q.ignore, ['model.layers.1.self_attn.q_proj']);
    assert.equal(out.metadata.format, 'pt');
  });

  it("config groups: each quantized module is selected (re.match) by exactly one group, with the plan's settings", () => {
    const groups = Object.values(
      config.quantization_config.config_groups as Record<
        string,
        {
          targets: string[];
          format: string;
          weights: {
            num_bits: number;
            type: string;
            symmetric: boolean;
            strategy: string;
            group_size: number | null;
            actorder: null;
          };
        }
      >,
    );
    const modules = [...new Set(plan.tensors.map((t) => t.name.replace(/\.(weight|bias)$/, '')))];
    for (const mod of modules) {
      const t = plan.tensors.find((x) => x.name === `${mod}.weight`);
      const hits = groups.filter((g) => g.targets.some((s) => new RegExp(`^(?:${s.replace(/^re:/, '')})`).test(mod)));
      if (!t || t.action !== 'quantize') {
        assert.equal(hits.length, 0, `${mod} is not targeted`);
        continue;
      }
      assert.equal(hits.length, 1, mod);
      const w = hits[0].weights;
      if (t.format === 'nvfp4') {
        assert.equal(hits[0].format, 'nvfp4-pack-quantized', mod);
        assert.deepEqual(
          [w.num_bits, w.type, w.symmetric, w.strategy, w.group_size, w.actorder],
          [4, 'float', true, 'tensor_group', 16, null],
          mod,
        );
        continue;
      }
      const fp8 = t.format === 'fp8_e4m3';
      assert.equal(hits[0].format, fp8 ? 'float-quantized' : 'pack-quantized', mod);
      assert.equal(w.num_bits, fp8 ? 8 : Number(t.format!.slice(3)), mod);
      assert.equal(w.type, fp8 ? 'float' : 'int', mod);
      assert.equal(w.symmetric, t.symmetric, mod);
      assert.equal(w.strategy, t.groupKind === 'size' ? 'group' : t.groupKind, mod);
      assert.equal(w.group_size, t.groupKind === 'size' ? t.group : null, mod);
      assert.equal(w.actorder, null);
    }
  });

  it('every quantized module unpacks to exactly the fake-quantized weights; kept tensors are byte-identical', () => {
    const src = readSafetensors(path.join(FIXTURE, 'model.safetensors')).tensors;
    const groups = Object.values(
      config.quantization_config.config_groups as Record<
        string,
        {
          targets: string[];
          weights: { num_bits: number; type: string; symmetric: boolean; strategy: string; group_size: number | null };
        }
      >,
    );
    let quantized = 0;
    let nvfp4 = 0;
    const expectedNames = new Set<string>();
    for (const t of plan.tensors) {
      if (t.action === 'keep') {
        expectedNames.add(t.name);
        assert.ok(out.tensors.get(t.name)!.data.equals(src.get(t.name)!.data), `${t.name} kept byte for byte`);
        continue;
      }
      quantized++;
      const mod = t.name.slice(0, -7);
      const g = groups.find((x) => x.targets.some((s) => new RegExp(`^(?:${s.slice(3)})`).test(mod)))!;
      const nv = g.weights.strategy === 'tensor_group';
      if (nv) nvfp4++;
      for (const suffix of nv
        ? ['weight_packed', 'weight_scale', 'weight_global_scale']
        : g.weights.type === 'float'
          ? ['weight', 'weight_scale']
          : ['weight_packed', 'weight_scale', 'weight_shape', ...(g.weights.symmetric ? [] : ['weight_zero_point'])])
        expectedNames.add(`${mod}.${suffix}`);
      const got = decodeModule(out.tensors, mod, g.weights);
      const want = new Float32Array(floats(fake.get(t.name)!));
      assert.equal(got.length, want.length, t.name);
      let bad = -1;
      for (let i = 0; i < got.length && bad < 0; i++) if (got[i] !== want[i]) bad = i;
      assert.equal(bad, -1, `${t.name}: element ${bad}: unpacked ${got[bad]}, fake ${want[bad]}`);
      const scale = out.tensors.get(`${mod}.weight_scale`)!;
      if (nv) {
        // weight_global_scale is compressed-tensors' 448 * 6 / absmax (not its reciprocal).
        const w = floats(src.get(t.name)!);
        const amax = w.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
        assert.equal(
          out.tensors.get(`${mod}.weight_global_scale`)!.data.readFloatLE(0),
          Math.fround(2688 / amax),
          `${mod} global scale`,
        );
      }
      if (nv) assert.equal(scale.dtype, 'F8_E4M3');
      else if (mod === 'model.layers.4.self_attn.k_proj') assert.equal(scale.dtype, 'BF16');
      else if (mod === 'model.layers.4.mlp.up_proj') assert.equal(scale.dtype, 'F32');
      else assert.equal(scale.dtype, 'F16');
      if (mod === 'model.layers.4.self_attn.v_proj') assert.deepEqual(scale.shape, [1]);
    }
    assert.ok(quantized >= 30);
    assert.equal(nvfp4, 4, 'layer 3 q/k/v/o are nvfp4');
    // Padding: int4 rows of 172 columns (22 words), zero points of 172 rows (22 words).
    assert.deepEqual(out.tensors.get('model.layers.4.mlp.down_proj.weight_packed')!.shape, [64, 22]);
    assert.deepEqual(out.tensors.get('model.layers.4.mlp.gate_proj.weight_zero_point')!.shape, [22, 2]);
    assert.deepEqual([...out.tensors.keys()].sort(), [...expectedNames].sort());
  });

  it('the language server rejects what compressed-tensors cannot store, naming the rule and a tensor', () => {
    const f = path.join(tmp, 'bad.quant');
    fs.writeFileSync(
      f,
      `model "${FIXTURE}"\ndefaults { format int4; group 32; symmetric false }\nmatch "*.mlp.*" { format nf4 }\noutput compressed_tensors "bad"\n`,
    );
    const r = run('check', f);
    assert.equal(r.code, 1);
    // On the statement that asks for it: `symmetric false` (column 35), `format nf4` (column 19).
    assert.match(
      r.err + r.out,
      /bad\.quant:2:35: error: compressed-tensors stores integer zero points.*: model\.embed_tokens\.weight/,
    );
    assert.match(
      r.err + r.out,
      /bad\.quant:3:19: error: compressed-tensors output stores int4, int8, fp8_e4m3 and nvfp4; nf4 is not one of them: model\.layers\.0\.mlp\.down_proj\.weight/,
    );
  });

  it('warns that vLLM does not load a quantized embedding, on the rule that quantizes it', () => {
    const r = run('check', path.join(tmp, 'ct.quant'));
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(
      r.out,
      /ct\.quant:3:12: warning: model\.embed_tokens\.weight is an embedding: .*vLLM loads quantized linear layers only.*\[output\/loader-support\]/,
    );
  });

  it('a cancelled run leaves no folder and no temporary files', async () => {
    const gen = spawnSync(
      process.execPath,
      [
        path.join(root, 'bench/make-synthetic-model.mjs'),
        '--out',
        path.join(tmp, 'slow'),
        '--quiet',
        '--params',
        '3e7',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(gen.status, 0, gen.stderr);
    const recipe = path.join(tmp, 'slow.quant');
    fs.writeFileSync(
      recipe,
      `model "${path.join(tmp, 'slow')}"\ndefaults { format int4; group 32; clip mse }\noutput compressed_tensors "slow-out/ct"\n`,
    );
    const child = spawn(process.execPath, [cli, 'run', recipe, '--events', '--threads', '1'], { cwd: root });
    let buf = '';
    let sent = false;
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, i)) as { type: string; action?: string };
        buf = buf.slice(i + 1);
        if (line.type === 'tensor' && line.action === 'quantize' && !sent) {
          sent = true;
          child.kill('SIGINT');
        }
      }
    });
    const exit = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.ok(sent, stderr);
    assert.equal(exit, 130, stderr);
    assert.deepEqual(fs.readdirSync(path.join(tmp, 'slow-out')), [], "nothing in the output folder's parent");
  });
});

describe('cli export and run: translations', function () {
  this.timeout(120000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-export-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const recipeText = (out: string) =>
    `recipe "x"\nmodel "${FIXTURE}"\ndefaults { format q4_0 }\nmatch "*.mlp.down_proj" { format int4; group channel }\nmatch "model.embed_tokens" { format q8_0 }\n` +
    `export llm_compressor "${out}/r.yaml"\nexport llama_quantize "${out}/q.sh"\n`;

  it('bitsmith export writes both files without running; untranslatable rules are warned about and commented', () => {
    const f = path.join(tmp, 'e.quant');
    fs.writeFileSync(f, recipeText('e'));
    const r = run('export', f);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /e\.quant:3:12: warning: export llm_compressor "e\/r\.yaml": llm-compressor has no q4_0 weights.*\[export\/untranslatable\]/,
    );
    assert.match(r.err, /e\.quant:4:27: warning: export llama_quantize "e\/q\.sh": llama\.cpp has no int4 type/);
    // q4_0 and q8_0 (defaults, embed_tokens) are left out; down_proj's f16 scales on an F32 model are noted.
    assert.match(
      r.out,
      /export llm_compressor: .*e\/r\.yaml \(2 not translated, 1 translated inexactly: see the comments\)/,
    );
    assert.match(
      r.err,
      /e\.quant:4:27: warning: export llm_compressor "e\/r\.yaml": llm-compressor keeps int and fp8 scales in the weight's dtype \(F32 here\).*\[export\/inexact\]/,
    );
    const yaml = fs.readFileSync(path.join(tmp, 'e/r.yaml'), 'utf8');
    assert.match(yaml, /# NOT TRANSLATED \(defaults\): llm-compressor has no q4_0 weights/);
    const sh = path.join(tmp, 'e/q.sh');
    assert.equal(fs.statSync(sh).mode & 0o111, 0o111, 'the script is executable');
    const syntax = spawnSync('sh', ['-n', sh], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    assert.match(fs.readFileSync(sh, 'utf8'), /--token-embedding-type q8_0/);
    assert.ok(!fs.existsSync(path.join(tmp, '.bitsmith')), 'no report: nothing ran');
  });

  it('bitsmith run writes the translations after the run and lists them in the report', () => {
    const f = path.join(tmp, 'r.quant');
    fs.writeFileSync(f, recipeText('r').replace('{ format int4; group channel }', '{ keep }'));
    const r = run('run', f, '--json');
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { exports: { kind: string; path: string }[] };
    assert.deepEqual(
      report.exports.map((e) => [e.kind, e.path]),
      [
        ['llm_compressor', path.join(tmp, 'r/r.yaml')],
        ['llama_quantize', path.join(tmp, 'r/q.sh')],
      ],
    );
    for (const e of report.exports) assert.ok(fs.existsSync(e.path), e.path);
    // The saved report lists them too (the report panel shows them).
    const saved = JSON.parse(fs.readFileSync((report as unknown as { file: string }).file, 'utf8')) as {
      exports: { kind: string }[];
    };
    assert.deepEqual(
      saved.exports.map((e) => e.kind),
      ['llm_compressor', 'llama_quantize'],
    );
  });

  it('bitsmith export without export statements is an error', () => {
    const f = path.join(tmp, 'none.quant');
    fs.writeFileSync(f, `model "${FIXTURE}"\ndefaults { format int4; group channel }\n`);
    const r = run('export', f);
    assert.equal(r.code, 1);
    assert.match(r.err, /no export statement/);
  });

  it('examples/w4a16.quant writes a compressed-tensors folder and the llm-compressor recipe; ggml.quant exports llama-quantize', () => {
    const out = path.join(root, 'examples/out');
    const existed = fs.existsSync(out);
    const reports = path.join(root, 'examples/.bitsmith/reports');
    const hadReports = fs.existsSync(reports);
    try {
      const r = run('run', 'examples/w4a16.quant', '--json');
      assert.equal(r.code, 0, r.err);
      const report = JSON.parse(r.out) as { file?: string; output: { kind: string; path: string } };
      assert.equal(report.output.kind, 'compressed_tensors');
      assert.ok(fs.existsSync(path.join(out, 'stories260K-w4a16/model.safetensors')));
      assert.ok(fs.existsSync(path.join(out, 'stories260K-w4a16.yaml')));
      if (report.file) fs.rmSync(report.file, { force: true });
      fs.rmSync(path.join(reports, 'w4a16-latest.json'), { force: true });
      const e = run('export', 'examples/ggml.quant');
      assert.equal(e.code, 0, e.err);
      assert.equal(e.err, '', 'every rule of ggml.quant translates');
      assert.match(
        fs.readFileSync(path.join(out, 'stories260K-ggml.sh'), 'utf8'),
        /--tensor-type '\^blk\\\.\[0-9\]\+\\\.attn_k\\\.weight\$=q8_0'/,
      );
    } finally {
      for (const p of ['stories260K-w4a16', 'stories260K-w4a16.yaml', 'stories260K-ggml.sh'])
        fs.rmSync(path.join(out, p), { recursive: true, force: true });
      if (!existed) fs.rmSync(out, { recursive: true, force: true });
      if (!hadReports) fs.rmSync(path.join(root, 'examples/.bitsmith'), { recursive: true, force: true });
    }
  });
});

// GPTQ's codes in compressed-tensors: the same recipe's CT folder unpacks exactly to its
// fake-quant output (GPTQ's reconstruction), on int4 groups (with and without act_order),
// asymmetric int zero points, int8 channels and fp8 groups; act_order on group strategies is
// "actorder": "weight" (static groups, no weight_g_idx), null otherwise.
const GPTQ_RULES = `calibration generated samples 8 length 64 seed 1
defaults { format int4; group 32; method gptq { damp 0.01; block 32 } }
match "*.self_attn.*" { method gptq { act_order } }
match "*.mlp.down_proj" { format int8; group channel; method gptq { act_order } }
match "model.layers.0.mlp.up_proj" { symmetric false; zero int }
match "model.layers.2.mlp.gate_proj" { format fp8_e4m3; group 16 }
match "model.embed_tokens" { keep }
`;

describe('cli run: output compressed_tensors with gptq', function () {
  this.timeout(180000);
  let tmp: string;
  let out: St;
  let fake: St;
  let rtn: St;
  let config: {
    quantization_config: {
      config_groups: Record<
        string,
        {
          targets: string[];
          weights: {
            num_bits: number;
            type: string;
            symmetric: boolean;
            strategy: string;
            group_size: number | null;
            actorder: string | null;
          };
        }
      >;
    };
  };
  let plan: { tensors: { name: string; action: string; method?: string; groupKind?: string }[] };

  before(() => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-ct-gptq-'));
    fs.writeFileSync(
      path.join(tmp, 'ct.quant'),
      `recipe "ct"\nmodel "${FIXTURE}"\n${GPTQ_RULES}output compressed_tensors "w4a16"\n`,
    );
    fs.writeFileSync(
      path.join(tmp, 'fake.quant'),
      `recipe "fake"\nmodel "${FIXTURE}"\n${GPTQ_RULES}output fake "fake.safetensors"\n`,
    );
    const check = run('check', path.join(tmp, 'ct.quant'), '--json');
    assert.equal(check.code, 0, `the language checks accept gptq with compressed_tensors: ${check.out}${check.err}`);
    const a = run('run', path.join(tmp, 'ct.quant'), '--json');
    assert.equal(a.code, 0, a.err);
    const b = run('run', path.join(tmp, 'fake.quant'), '--json');
    assert.equal(b.code, 0, b.err);
    const rtnRules = GPTQ_RULES.replace(/method gptq \{[^}]*\}/g, 'method rtn');
    fs.writeFileSync(
      path.join(tmp, 'rtn.quant'),
      `recipe "rtn"\nmodel "${FIXTURE}"\n${rtnRules}output fake "rtn.safetensors"\n`,
    );
    const c = run('run', path.join(tmp, 'rtn.quant'), '--json');
    assert.equal(c.code, 0, c.err);
    rtn = readSafetensors(path.join(tmp, 'rtn.safetensors')).tensors;
    out = readSafetensors(path.join(tmp, 'w4a16', 'model.safetensors')).tensors;
    fake = readSafetensors(path.join(tmp, 'fake.safetensors')).tensors;
    config = JSON.parse(fs.readFileSync(path.join(tmp, 'w4a16', 'config.json'), 'utf8'));
    const p = run('budget', path.join(tmp, 'ct.quant'), '--json');
    assert.equal(p.code, 0, p.err);
    plan = JSON.parse(p.out).plan;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('every gptq module unpacks to exactly its fake-quantized weights', () => {
    const groups = Object.values(config.quantization_config.config_groups);
    let n = 0,
      differ = 0;
    for (const t of plan.tensors) {
      if (t.action !== 'quantize') continue;
      assert.equal(t.method, 'gptq', t.name);
      const mod = t.name.slice(0, -7);
      const g = groups.find((x) => x.targets.some((s) => new RegExp(`^(?:${s.slice(3)})`).test(mod)))!;
      assert.ok(g, `${mod} has a config group`);
      const got = decodeModule(out, mod, g.weights);
      const want = new Float32Array(floats(fake.get(t.name)!));
      let bad = -1;
      for (let i = 0; i < got.length && bad < 0; i++) if (got[i] !== want[i]) bad = i;
      assert.equal(bad, -1, `${t.name}: element ${bad}: unpacked ${got[bad]}, fake ${want[bad]}`);
      n++;
      // GPTQ's codes, not RTN's: the reconstruction differs from the RTN run's.
      if (!floats(rtn.get(t.name)!).every((v, i) => v === want[i])) differ++;
    }
    assert.ok(n >= 30, `${n} modules`);
    assert.equal(differ, n, `${n - differ} gptq modules equal RTN's`);
  });

  it('actorder is "weight" on group strategies with act_order, null otherwise; no weight_g_idx', () => {
    const groups = Object.values(config.quantization_config.config_groups);
    const seen = new Set<string | null>();
    for (const g of groups) {
      const selfAttn = g.targets.some((s) => s.includes('self_attn'));
      const want = selfAttn && g.weights.strategy === 'group' ? 'weight' : null;
      assert.equal(g.weights.actorder, want, JSON.stringify(g));
      seen.add(g.weights.actorder);
    }
    assert.deepEqual([...seen].sort(), [null, 'weight'].sort());
    assert.ok(![...out.keys()].some((k) => k.endsWith('g_idx')));
  });
});
