// What the language server says about GGUF sources whose tensors are already ggml blocks:
// re-quantizing them (info: the errors compound), writing them to safetensors (info: decoded
// to F32), keeping them in output gguf (copied, no diagnostic), and block types the runner
// cannot decode (refused as run/unsupported).
import { strict as assert } from 'node:assert';
import { analyze, type Analysis } from '../../core/src/analyze';
import type { ModelHeader, TensorInfo } from '../../core/src/models/types';
import type { MarkupContent } from 'vscode-languageserver';
import { makeDocument } from '../../server/src/features/document';
import { hover } from '../../server/src/features/hover';

function t(name: string, shape: number[], dtype: string, bpw: number): TensorInfo {
  const elements = shape.reduce((a, b) => a * b, 1);
  return { name, shape, dtype, bitsPerElement: bpw, elements, bytes: (elements * bpw) / 8, file: '/m.gguf', offset: 0 };
}
const tensors = [
  t('a.weight', [64, 256], 'Q8_0', 8.5),
  t('b.weight', [64, 256], 'Q4_K', 4.5),
  t('c.weight', [64, 256], 'Q8_K', 9.125),
  t('n.weight', [256], 'F32', 32),
];
const header: ModelHeader = {
  path: '/m.gguf',
  format: 'gguf',
  architecture: 'llama',
  tensors,
  parameters: tensors.reduce((a, x) => a + x.elements, 0),
  bytes: tensors.reduce((a, x) => a + x.bytes, 0),
  dtype: 'Q4_K',
  config: {},
  files: [],
};
const run = (text: string): Analysis =>
  analyze(`model "m"\n${text}`, { recipePath: '/r/x.quant', loadModel: () => header, exists: () => true });
const find = (a: Analysis, code: string) => a.diagnostics.filter((d) => d.code === code);

describe('analysis of GGUF sources with ggml block tensors', () => {
  it('re-quantizing a block-quantized tensor is an info on the format, one per source/target pair', () => {
    const text = 'match "a" "b" { format q8_0 }';
    const a = run(text);
    const infos = find(a, 'source/requantized');
    assert.equal(infos.length, 2, JSON.stringify(a.diagnostics));
    const full = `model "m"\n${text}`;
    for (const d of infos) {
      assert.equal(d.severity, 'info');
      assert.equal(full.slice(d.start, d.end), 'format q8_0');
    }
    const same = infos.find((d) => d.message.includes('a.weight'))!;
    assert.match(
      same.message,
      /already Q8_0 \(8\.5 bpw\).*quantizing it to q8_0 again.*keep it to copy the blocks unchanged/,
    );
    const other = infos.find((d) => d.message.includes('b.weight'))!;
    assert.match(other.message, /already Q4_K \(4\.5 bpw\).*rounds the decoded Q4_K values.*errors add up/);
    // A float source tensor gets nothing; keeping gets nothing.
    assert.deepEqual(find(run('match "n" { format int8; group channel }'), 'source/requantized'), []);
    assert.deepEqual(find(run('match "b" { keep }'), 'source/requantized'), []);
  });

  it('output fake / compressed_tensors say that block tensors are written decoded as F32', () => {
    const a = run('match "a" { format int4; group 32 }\noutput fake "o.safetensors"');
    const d = find(a, 'output/decoded-source');
    assert.equal(d.length, 1);
    assert.equal(d[0].severity, 'info');
    assert.match(
      d[0].message,
      /2 tensors are block-quantized in the source.*output fake writes their decoded values as F32.*1 of them kept; output gguf copies kept blocks unchanged/,
    );
    // compressed_tensors stores quantized tensors packed: only the kept block tensor is decoded.
    const ct = find(
      run('match "a" { format int4; group 32 }\noutput compressed_tensors "dir"'),
      'output/decoded-source',
    );
    assert.match(ct[0].message, /^1 tensor is block-quantized .*b\.weight, Q4_K/);
    assert.deepEqual(find(run('match "a" { format q4_k }\noutput gguf "o.gguf"'), 'output/decoded-source'), []);
  });

  it('output gguf keeps the decodable block types (copied); the others are errors', () => {
    const a = run('match "c" { format q4_k }\noutput gguf "o.gguf"');
    assert.deepEqual(find(a, 'output/unsupported-format'), []);
    const b = run('output gguf "o.gguf"');
    const e = find(b, 'output/unsupported-format');
    assert.equal(e.length, 1);
    assert.match(e[0].message, /c\.weight \[64, 256\] is kept in Q8_K/);
    assert.doesNotMatch(e[0].message, /b\.weight|a\.weight/);
  });

  it('a block type bitsmith run cannot decode is run/unsupported when quantized, or kept into safetensors', () => {
    const q = find(run('match "c" { format q4_k }'), 'run/unsupported');
    assert.equal(q.length, 1);
    assert.match(q[0].message, /c\.weight is stored as Q8_K, which bitsmith run cannot decode.*keep it/);
    const k = find(run('match "a" { format q4_k }\noutput fake "o.safetensors"'), 'run/unsupported');
    assert.equal(k.length, 1);
    assert.match(k[0].message, /c\.weight is stored as Q8_K.*output fake.*output gguf can copy it/);
    assert.deepEqual(find(run('match "a" { format q4_k }\noutput gguf "o.gguf"'), 'run/unsupported'), []);
  });

  it('the i-quant and ternary block types are decoded: re-quantized with an info, never run/unsupported', () => {
    const iq = [t('x.weight', [64, 256], 'IQ1_M', 1.75), t('y.weight', [64, 256], 'TQ2_0', 2.0625)];
    const h: ModelHeader = { ...header, tensors: iq, parameters: 2 * 64 * 256, bytes: iq[0].bytes + iq[1].bytes };
    const a = analyze('model "m"\nmatch "x" "y" { format q4_k }\noutput fake "o.safetensors"', {
      recipePath: '/r/x.quant',
      loadModel: () => h,
      exists: () => true,
    });
    assert.deepEqual(find(a, 'run/unsupported'), []);
    const infos = find(a, 'source/requantized').map((d) => d.message);
    assert.ok(
      infos.some((m) => /already IQ1_M \(1\.75 bpw\)/.test(m)) && infos.some((m) => /already TQ2_0/.test(m)),
      String(infos),
    );
  });

  it('hover shows the source formats and bpw: on the model line, and the block types a rule matches', () => {
    const hoverAt = (text: string, needle: string) => {
      const full = `model "m"\n${text}`;
      const d = makeDocument('file:///r/x.quant', 1, full, run(text), '/r/x.quant');
      const h = hover(d, d.lines.position(full.indexOf(needle) + 1));
      return h ? (h.contents as MarkupContent).value : '';
    };
    const m = hoverAt('match "b" { keep }', 'model');
    assert.match(
      m,
      /\| source formats \| Q8_0 8\.5 bpw × 1, Q4_K 4\.5 bpw × 1, Q8_K 9\.125 bpw × 1, F32 32 bpw × 1 \|/,
    );
    assert.match(m, /\| size \| .* \(\d+(\.\d+)? bpw\) \|/);
    const r = hoverAt('match "a" "b" "n" { format q8_0 }', 'match');
    assert.match(r, /Source \(GGUF blocks\): Q8_0 8\.5 bpw × 1, Q4_K 4\.5 bpw × 1\./);
    assert.doesNotMatch(hoverAt('match "n" { format int8; group channel }', 'match'), /GGUF blocks/);
  });
});
