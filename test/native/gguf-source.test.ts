// GGUF sources whose tensors are ggml blocks (q4_0 ... q6_k, iq4_nl, iq4_xs): files written
// here with hand-made blocks (test/helpers/ggufFile.ts), read by core's header reader and the
// native model reader, decoded and compared to an independent decoder
// (test/helpers/ggmlDecode.ts); runs from such a file into output fake (decoded values as
// F32) and output gguf (kept blocks copied unchanged, re-quantized blocks = the encoder's);
// hostile files.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readModelHeader } from '../../core/src/index';
import { readGgufHeader } from '../../core/src/models/gguf';
import { BLOCK, decodeTs, setIqGrids } from '../helpers/ggmlDecode';
import { readIqGrids } from '../helpers/iqGrids';
import { GGML_ID, ggufFile, randomBlocks, setBlockScale } from '../helpers/ggufFile';

const root = path.join(__dirname, '../..');

interface Ev {
  type: string;
  name?: string;
  dtype?: string;
  action?: string;
  bytesOut?: number;
}
interface JobTensor {
  name: string;
  shape: number[];
  action: 'quantize' | 'keep';
  config?: Record<string, unknown>;
}
interface Job {
  model: string;
  tensors: JobTensor[];
  threads?: number;
  chunkElements?: number;
  output?: { kind: 'fake'; path: string };
  gguf?: { path: string; spec: string };
}
interface Addon {
  modelInfo(p: string): {
    format: string;
    tensors: { name: string; shape: number[]; dtype: string; bytes: number; offset: number }[];
  };
  readTensor(p: string, name: string): Float32Array;
  startRun(job: Job, onEvent: (e: Ev) => void): { cancel(): void; done: Promise<Ev> };
  ggmlEncode(type: string, data: Float32Array, rows: number, cols: number, options?: { threads?: number }): Uint8Array;
  ggmlDecode(type: string, bytes: Uint8Array, rows: number, cols: number): Float32Array;
  quantize(data: Float32Array, rows: number, cols: number, config: Record<string, unknown>): { dequant: Float32Array };
}
type CodedError = Error & { code?: string; tensor?: string };

let addon: Addon;
let tmp: string;
let counter = 0;
const tmpPath = (name: string) => path.join(tmp, `${counter++}-${name}`);
const TYPES = Object.keys(GGML_ID);

before(function () {
  try {
    addon = require(path.join(root, 'native')) as Addon;
  } catch {
    this.skip();
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-ggufsrc-'));
  setIqGrids(readIqGrids(addon.ggmlDecode));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function run(job: Job) {
  const events: Ev[] = [];
  const handle = addon.startRun(job, (e) => events.push(e));
  try {
    return { events, done: await handle.done, error: undefined as CodedError | undefined };
  } catch (e) {
    return { events, done: undefined, error: e as CodedError };
  }
}

function expectCode(fn: () => unknown, code: string, ...fragments: string[]): void {
  let err: CodedError | undefined;
  try {
    fn();
  } catch (e) {
    err = e as CodedError;
  }
  assert.ok(err, `expected ${code}`);
  assert.equal(err.code, code, err.message);
  for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" should mention ${f}`);
}

function parseSafetensors(file: string) {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const tensors = new Map<string, { dtype: string; shape: number[]; data: Buffer }>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, {
      dtype: v.dtype,
      shape: v.shape,
      data: buf.subarray(8 + len + v.data_offsets[0], 8 + len + v.data_offsets[1]),
    });
  }
  return { metadata: (header.__metadata__ ?? {}) as unknown as Record<string, string>, tensors };
}
const f32 = (b: Buffer) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

function sameFloats(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++)
    if (!Object.is(a[i], b[i]) && !(a[i] === 0 && b[i] === 0)) assert.fail(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
}

/** One tensor per block type: 3 rows of 2 blocks, hand-made blocks. */
function allTypesFile(): { file: string; data: Map<string, Buffer> } {
  const data = new Map<string, Buffer>();
  const tensors = TYPES.map((type, i) => {
    const [bw] = BLOCK[type];
    const d = randomBlocks(type, 3 * 2, 17 + i);
    data.set(type, d);
    return { name: `t.${type}`, ne: [2 * bw, 3], type: GGML_ID[type], data: d };
  });
  const file = tmpPath('all.gguf');
  fs.writeFileSync(file, ggufFile(tensors));
  return { file, data };
}

describe('GGUF sources with ggml block tensors', () => {
  it('core and the native reader agree on every block type: shape, exact bytes, bpw, offsets', () => {
    const { file } = allTypesFile();
    const h = readGgufHeader(file);
    const info = addon.modelInfo(file);
    assert.equal(info.format, 'gguf');
    for (const type of TYPES) {
      const [bw, bb] = BLOCK[type];
      const t = h.tensors.find((x) => x.name === `t.${type}`)!;
      assert.equal(t.dtype, type.toUpperCase());
      assert.deepEqual(t.shape, [3, 2 * bw]);
      assert.equal(t.bytes, 3 * 2 * bb, `${type} bytes`);
      assert.equal(t.bitsPerElement, (8 * bb) / bw, `${type} bpw`);
      const n = info.tensors.find((x) => x.name === t.name)!;
      assert.deepEqual([n.shape, n.dtype, n.bytes, n.offset], [t.shape, t.dtype, t.bytes, t.offset], type);
    }
    const m = readModelHeader(file);
    assert.equal(
      m.bytes,
      TYPES.reduce((a, type) => a + 6 * BLOCK[type][1], 0),
    );
  });

  it('decodes every block type exactly as the independent decoder', () => {
    const { file, data } = allTypesFile();
    for (const type of TYPES) {
      const [bw] = BLOCK[type];
      const got = addon.readTensor(file, `t.${type}`);
      const want = decodeTs(type, data.get(type)!, 3, 2 * bw);
      assert.ok(
        want.some((v) => v !== 0),
        `${type}: the test blocks decode to something`,
      );
      sameFloats(got, want, type);
    }
  });

  describe('hostile files', () => {
    it('a row that is not whole blocks: both readers refuse it, naming the tensor and type', () => {
      const file = tmpPath('row.gguf');
      fs.writeFileSync(file, ggufFile([{ name: 'w', ne: [48, 2], type: GGML_ID.q4_k, data: Buffer.alloc(2 * 144) }]));
      expectCode(() => readGgufHeader(file), 'model/bad-shape', '"w"', 'Q4_K', '256');
      expectCode(() => addon.modelInfo(file), 'model/bad-shape', '"w"', 'Q4_K', '256');
      // 48 = 1.5 blocks of 32 for q8_0
      const file2 = tmpPath('row2.gguf');
      fs.writeFileSync(file2, ggufFile([{ name: 'w', ne: [48, 2], type: GGML_ID.q8_0, data: Buffer.alloc(3 * 34) }]));
      expectCode(() => addon.readTensor(file2, 'w'), 'model/bad-shape', '"w"', 'Q8_0', '32');
    });

    it('block data past the end of the file: refused before any decoding', () => {
      const whole = ggufFile([{ name: 'w', ne: [256, 4], type: GGML_ID.q6_k, data: randomBlocks('q6_k', 4, 3) }]);
      const file = tmpPath('trunc.gguf');
      fs.writeFileSync(file, whole.subarray(0, whole.length - 1));
      expectCode(() => readGgufHeader(file), 'model/truncated', '"w"', 'past the end');
      expectCode(() => addon.readTensor(file, 'w'), 'model/truncated', '"w"', 'past the end');
    });

    it('a ggml type without a decoder (Q8_K) is listed but not read; an infinite scale is a non-finite weight', async () => {
      const file = tmpPath('q8k.gguf');
      fs.writeFileSync(file, ggufFile([{ name: 'w', ne: [256, 1], type: 15, data: Buffer.alloc(292) }]));
      assert.equal(addon.modelInfo(file).tensors[0].dtype, 'Q8_K');
      expectCode(() => addon.readTensor(file, 'w'), 'model/unsupported-dtype', '"w"', 'Q8_K', 'cannot decode');
      const r = await run({
        model: file,
        tensors: [{ name: 'w', shape: [1, 256], action: 'quantize', config: { format: 'int4', group: 32 } }],
      });
      assert.equal(r.error?.code, 'model/unsupported-dtype');

      const d = randomBlocks('q4_0', 4, 5);
      setBlockScale(d, 'q4_0', 2, 0x7c00);
      const inf = tmpPath('inf.gguf');
      fs.writeFileSync(inf, ggufFile([{ name: 'w', ne: [64, 2], type: GGML_ID.q4_0, data: d }]));
      const q = await run({
        model: inf,
        tensors: [{ name: 'w', shape: [2, 64], action: 'quantize', config: { format: 'int4', group: 32 } }],
      });
      assert.equal(q.error?.code, 'run/non-finite');
      assert.match(q.error!.message, /"w".*\[1, 0\]/);
    });
  });

  describe('runs from a quantized GGUF', () => {
    // q8_0 [4, 64] re-quantized, q4_k [2, 256] kept, q6_k [2, 256] re-quantized to q4_k, an F32 norm kept.
    function model() {
      const blocks = { a: randomBlocks('q8_0', 8, 31), b: randomBlocks('q4_k', 2, 32), c: randomBlocks('q6_k', 2, 33) };
      const norm = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
      const file = tmpPath('src.gguf');
      fs.writeFileSync(
        file,
        ggufFile([
          { name: 'a.weight', ne: [64, 4], type: GGML_ID.q8_0, data: blocks.a },
          { name: 'b.weight', ne: [256, 2], type: GGML_ID.q4_k, data: blocks.b },
          { name: 'c.weight', ne: [256, 2], type: GGML_ID.q6_k, data: blocks.c },
          { name: 'n.weight', ne: [4], type: 0, data: norm },
        ]),
      );
      return { file, blocks };
    }

    it('output fake: quantized and kept block tensors are written as decoded F32 values; the metadata says so', async () => {
      const { file, blocks } = model();
      const out = tmpPath('fake.safetensors');
      const r = await run({
        model: file,
        threads: 2,
        output: { kind: 'fake', path: out },
        tensors: [
          { name: 'a.weight', shape: [4, 64], action: 'quantize', config: { format: 'int4', group: 32 } },
          { name: 'b.weight', shape: [2, 256], action: 'keep' },
          { name: 'c.weight', shape: [2, 256], action: 'quantize', config: { format: 'q4_k' } },
          { name: 'n.weight', shape: [4], action: 'keep' },
        ],
      });
      assert.equal(r.error, undefined, r.error?.message);
      const st = parseSafetensors(out);
      const decodedA = decodeTs('q8_0', blocks.a, 4, 64);
      const decodedC = decodeTs('q6_k', blocks.c, 2, 256);
      assert.equal(st.tensors.get('a.weight')!.dtype, 'F32');
      sameFloats(
        f32(st.tensors.get('a.weight')!.data),
        addon.quantize(decodedA, 4, 64, { format: 'int4', group: 32 }).dequant,
        'a: int4 of the decoded q8_0',
      );
      assert.equal(st.tensors.get('b.weight')!.dtype, 'F32');
      sameFloats(f32(st.tensors.get('b.weight')!.data), decodeTs('q4_k', blocks.b, 2, 256), 'b: kept q4_k decoded');
      sameFloats(
        f32(st.tensors.get('c.weight')!.data),
        decodeTs('q4_k', addon.ggmlEncode('q4_k', decodedC, 2, 256), 2, 256),
        'c: q4_k of the decoded q6_k',
      );
      assert.deepEqual(Array.from(f32(st.tensors.get('n.weight')!.data)), [1, 2, 3, 4]);
      const formats = JSON.parse(st.metadata['bitsmith.tensors']) as Record<string, unknown>;
      assert.equal(formats['b.weight'], 'keep: Q4_K blocks decoded to F32');
      assert.equal(formats['n.weight'], 'keep');
      const ev = r.events.find((e) => e.type === 'tensor' && e.name === 'b.weight')!;
      assert.equal(ev.dtype, 'Q4_K');
      assert.equal(ev.action, 'keep');
    });

    it('a tensor streamed in row chunks decodes its blocks chunk by chunk: the same output as in one piece', async () => {
      const blocks = randomBlocks('q5_1', 100 * 2, 41);
      const file = tmpPath('rows.gguf');
      fs.writeFileSync(file, ggufFile([{ name: 'w.weight', ne: [64, 100], type: GGML_ID.q5_1, data: blocks }]));
      const outs = [];
      for (const chunkElements of [40 * 64, 0]) {
        const out = tmpPath(`rows-${chunkElements}.safetensors`);
        const r = await run({
          model: file,
          threads: 2,
          chunkElements,
          output: { kind: 'fake', path: out },
          tensors: [{ name: 'w.weight', shape: [100, 64], action: 'quantize', config: { format: 'int8', group: 32 } }],
        });
        assert.equal(r.error, undefined, r.error?.message);
        outs.push(f32(parseSafetensors(out).tensors.get('w.weight')!.data));
      }
      sameFloats(outs[0], outs[1], 'chunked vs whole');
      sameFloats(
        outs[1],
        addon.quantize(decodeTs('q5_1', blocks, 100, 64), 100, 64, { format: 'int8', group: 32 }).dequant,
        'int8 of the decoded q5_1',
      );
    });

    it("output gguf: kept blocks are copied unchanged, re-quantized tensors are the encoder's blocks of the decoded values", async () => {
      const { file, blocks } = model();
      const out = tmpPath('out.gguf');
      const spec = {
        metadata: [],
        copySourceMetadata: true,
        tensors: Object.fromEntries(['a.weight', 'b.weight', 'c.weight', 'n.weight'].map((n) => [n, { name: n }])),
      };
      const r = await run({
        model: file,
        threads: 2,
        gguf: { path: out, spec: JSON.stringify(spec) },
        tensors: [
          { name: 'a.weight', shape: [4, 64], action: 'keep' },
          { name: 'b.weight', shape: [2, 256], action: 'keep' },
          { name: 'c.weight', shape: [2, 256], action: 'quantize', config: { format: 'q4_k' } },
          { name: 'n.weight', shape: [4], action: 'keep' },
        ],
      });
      assert.equal(r.error, undefined, r.error?.message);
      const h = readGgufHeader(out);
      const buf = fs.readFileSync(out);
      const bytesOf = (name: string) => {
        const t = h.tensors.find((x) => x.name === name)!;
        return buf.subarray(t.offset, t.offset + t.bytes);
      };
      assert.deepEqual(
        h.tensors.map((t) => t.dtype),
        ['Q8_0', 'Q4_K', 'Q4_K', 'F32'],
      );
      assert.ok(bytesOf('a.weight').equals(blocks.a), 'q8_0 copied');
      assert.ok(bytesOf('b.weight').equals(blocks.b), 'q4_k copied');
      const want = addon.ggmlEncode('q4_k', decodeTs('q6_k', blocks.c, 2, 256), 2, 256);
      assert.ok(bytesOf('c.weight').equals(Buffer.from(want)), 'q6_k re-encoded as q4_k');
      assert.equal(h.metadata['general.architecture'], 'llama');
    });
  });
});
