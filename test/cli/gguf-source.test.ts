// bitsmith inspect / check / run on a GGUF whose tensors are ggml blocks (hand-made by
// test/helpers/ggufFile.ts): the source bpw is shown, the language-server infos are printed,
// and a run re-quantizes and keeps block tensors into output fake (decoded F32) and output gguf
// (kept blocks copied), checked against the independent decoder.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { readGgufHeader } from '../../core/src/models/gguf';
import { decodeTs } from '../helpers/ggmlDecode';
import { GGML_ID, ggufFile, randomBlocks } from '../helpers/ggufFile';

const root = path.join(__dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

function parseSafetensors(file: string) {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, { dtype: string; data: Buffer }>();
  for (const [name, v] of Object.entries(header)) {
    if (name !== '__metadata__')
      tensors.set(name, {
        dtype: v.dtype,
        data: buf.subarray(8 + len + v.data_offsets[0], 8 + len + v.data_offsets[1]),
      });
  }
  return tensors;
}
const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

describe('cli on a GGUF with ggml block tensors', function () {
  this.timeout(60000);
  let tmp: string;
  let model: string;
  const q4k = randomBlocks('q4_k', 4, 7);
  const q8 = randomBlocks('q8_0', 16, 8);

  before(function () {
    if (!fs.existsSync(cli)) this.skip();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-cli-ggufsrc-'));
    model = path.join(tmp, 'm.gguf');
    fs.writeFileSync(
      model,
      ggufFile([
        { name: 'blk.0.ffn_up.weight', ne: [256, 4], type: GGML_ID.q4_k, data: q4k },
        { name: 'blk.0.ffn_down.weight', ne: [64, 8], type: GGML_ID.q8_0, data: q8 },
        { name: 'output_norm.weight', ne: [64], type: 0, data: Buffer.from(new Float32Array(64).fill(1).buffer) },
      ]),
    );
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("inspect shows each tensor's source format and bpw", () => {
    const r = run('inspect', model);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /blk\.0\.ffn_up\.weight\s+4x256\s+Q4_K\s+4\.5\s/);
    assert.match(r.out, /blk\.0\.ffn_down\.weight\s+8x64\s+Q8_0\s+8\.5\s/);
    const j = JSON.parse(run('inspect', model, '--json').out) as {
      tensors: { name: string; bitsPerElement: number }[];
    };
    assert.equal(j.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!.bitsPerElement, 4.5);
  });

  it('run: re-quantized and kept block tensors into output fake (decoded F32) and output gguf (kept blocks copied), the two agreeing', () => {
    const recipe = path.join(tmp, 'r.quant');
    fs.writeFileSync(
      recipe,
      `model "m.gguf"\nmatch "blk.0.ffn_down" { format q4_0 }\nmatch "blk.0.ffn_up" { keep }\noutput fake "out.safetensors"\noutput gguf "out.gguf"\n`,
    );
    const check = run('check', recipe);
    assert.equal(check.code, 0, check.out + check.err);
    assert.match(check.out + check.err, /already Q8_0 \(8\.5 bpw\)/);
    assert.match(check.out + check.err, /decoded values as F32/);
    const r = run('run', recipe);
    assert.equal(r.code, 0, r.out + r.err);
    const st = parseSafetensors(path.join(tmp, 'out.safetensors'));
    assert.equal(st.get('blk.0.ffn_up.weight')!.dtype, 'F32');
    assert.deepEqual(f32(st.get('blk.0.ffn_up.weight')!.data), decodeTs('q4_k', q4k, 4, 256));
    const src = decodeTs('q8_0', q8, 8, 64);
    const down = f32(st.get('blk.0.ffn_down.weight')!.data);
    assert.equal(down.length, src.length);
    assert.notDeepEqual(down, src);
    const out = path.join(tmp, 'out.gguf');
    const h = readGgufHeader(out);
    const buf = fs.readFileSync(out);
    const downG = h.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')!;
    assert.equal(downG.dtype, 'Q4_0');
    // The fake-quant values are exactly what the GGUF's q4_0 blocks decode to.
    assert.deepEqual(decodeTs('q4_0', buf.subarray(downG.offset, downG.offset + downG.bytes), 8, 64), down);
    const up = h.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!;
    assert.equal(up.dtype, 'Q4_K');
    assert.ok(
      fs
        .readFileSync(out)
        .subarray(up.offset, up.offset + up.bytes)
        .equals(q4k),
      'kept q4_k blocks copied',
    );
  });
});
