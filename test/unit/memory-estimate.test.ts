// The run's memory estimate (core/src/memoryEstimate.ts), the recipe option `sequential`,
// and where the editor shows them (completion, hover).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  analyze,
  estimateMemory,
  estimateRunMemory,
  formatMemoryEstimate,
  memoryRefusal,
  type MemoryInput,
  type ModelHeader,
} from '../../core/src/index';
import { llamaHeader } from '../helpers/syntheticModel';

const GiB = 2 ** 30;
// Llama-3.2-1B's shape.
const shape1b = { dim: 2048, hidden: 8192, layers: 16, heads: 32, kvHeads: 8, headDim: 64, vocab: 128256, tied: true };
const base: MemoryInput = {
  shape: shape1b,
  params: 1.236e9,
  largestOutside: 128256 * 2048,
  calibration: { kind: 'tokens', samples: 16, length: 128, sequential: true },
  evaluate: { kind: 'tokens', samples: 8, length: 128 },
  gptq: true,
  awq: false,
  wholeOutside: false,
  threads: 2,
};

describe('memory estimate', () => {
  it('a 1B-shaped gptq run with evaluate is one layer, its Hessians and the activations: under 3 GiB', () => {
    const e = estimateMemory(base);
    assert.equal(e.phase, 'one decoder layer');
    assert.ok(e.peakBytes > 1 * GiB && e.peakBytes < 3 * GiB, `${e.peakBytes / GiB} GiB`);
    assert.match(formatMemoryEstimate(e), /^estimated peak memory \d+\.\d\d GiB \(one decoder layer: /);
  });

  it('does not grow with depth (layer-streamed); grows with the calibration data', () => {
    const deep = estimateMemory({ ...base, shape: { ...shape1b, layers: 64 }, params: 4 * base.params });
    assert.equal(deep.peakBytes, estimateMemory(base).peakBytes);
    const more = estimateMemory({ ...base, calibration: { ...base.calibration!, samples: 128, length: 512 } });
    assert.ok(more.peakBytes > estimateMemory(base).peakBytes + 128 * 512 * 2048 * 4);
    const notSequential = estimateMemory({ ...base, calibration: { ...base.calibration!, sequential: false } });
    assert.ok(notSequential.peakBytes < estimateMemory(base).peakBytes, 'no copy of the calibration states');
  });

  it('sampling generated sequences needs the whole model in f32, and says what to use instead', () => {
    const e = estimateMemory({ ...base, calibration: { ...base.calibration!, kind: 'generated' } });
    assert.match(e.phase, /^sampling 16 generated sequences/);
    assert.ok(e.peakBytes > base.params * 4);
    assert.match(e.advice[0], /`tokens` or `text` instead of `generated`/);
  });

  it('refuses what does not fit 90% of the available memory, naming the estimate and what to reduce', () => {
    const e = estimateMemory({ ...base, calibration: { ...base.calibration!, kind: 'generated' } });
    assert.equal(memoryRefusal(e, e.peakBytes * 2), undefined);
    const why = memoryRefusal(e, e.peakBytes);
    assert.match(
      why!,
      /needs about \d+\.\d\d GiB at its peak \(sampling .*\) but the machine has \d+\.\d\d GiB available; reduce: calibrate on `tokens`/,
    );
    assert.match(why!, /--force-memory/);
  });

  it('from a recipe: only with calibration by activations or evaluate; assumptions are named', () => {
    const header: ModelHeader = {
      ...llamaHeader({ layers: 2, dim: 256, hidden: 688, kvDim: 128, vocab: 1000 }),
      config: {
        hidden_size: 256,
        intermediate_size: 688,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        vocab_size: 1000,
        max_position_embeddings: 2048,
      },
    };
    const a = (text: string) =>
      analyze(`model "m"\n${text}`, { recipePath: '/r/x.quant', exists: () => true, loadModel: () => header });
    assert.equal(estimateRunMemory(a('defaults { format int4 }'), 2), undefined);
    assert.equal(estimateRunMemory(a('calibration imatrix "m.imatrix"\ndefaults { format int4 }'), 2), undefined);
    const t = estimateRunMemory(a('calibration tokens "c.json"\ndefaults { format int4; method gptq }'), 2)!;
    assert.ok(t.peakBytes > 0);
    assert.match(t.assumed[0], /calibration tokens: 16 sequences of 512 tokens/);
    const g = estimateRunMemory(
      a('calibration generated samples 4 length 64\ndefaults { format int4 }\nevaluate { kl_divergence }'),
      2,
    )!;
    assert.deepEqual(g.assumed, []);
  });

  it('perplexity text: the windows from the file size before tokenizing, the real ones in run', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-mem-text-'));
    try {
      const header: ModelHeader = {
        ...llamaHeader({ layers: 2, dim: 256, hidden: 688, kvDim: 128, vocab: 1000 }),
        config: {
          hidden_size: 256,
          intermediate_size: 688,
          num_hidden_layers: 2,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          vocab_size: 1000,
          max_position_embeddings: 2048,
        },
      };
      fs.writeFileSync(path.join(dir, 'wiki.raw'), 'x'.repeat(4 * 512 * 20));
      const recipePath = path.join(dir, 'r.quant');
      const a = analyze(`model "m"\ndefaults { format int4 }\nevaluate { perplexity text "wiki.raw" }\n`, {
        recipePath,
        exists: () => true,
        loadModel: () => header,
      });
      const guessed = estimateRunMemory(a, 2, { recipePath })!;
      assert.match(guessed.assumed[0], /perplexity text: about 20 windows of 512 tokens/);
      const few = estimateRunMemory(a, 2, { recipePath, evaluateWindows: 2 })!;
      const many = estimateRunMemory(a, 2, { recipePath, evaluateWindows: 200 })!;
      assert.deepEqual(few.assumed, []);
      assert.ok(many.peakBytes > few.peakBytes, 'more windows hold more activations');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('recipe: calibration ... sequential', () => {
  const cal = (text: string) => {
    const a = analyze(`model "m"\n${text}\n`, {
      recipePath: '/r/x.quant',
      exists: () => true,
      loadModel: () => llamaHeader(),
    });
    return { cal: a.recipe.calibration, diags: a.diagnostics.map((d) => `${d.code}: ${d.message}`) };
  };
  it('true or false after generated, tokens and text; absent means true', () => {
    assert.equal(cal('calibration generated samples 4 sequential false').cal!.sequential, false);
    assert.equal(cal('calibration tokens "t.json" sequential true length 8').cal!.sequential, true);
    assert.equal(cal('calibration text "t.txt"').cal!.sequential, undefined);
  });
  it('anything else is an error on the value; imatrix has no such option', () => {
    assert.ok(
      cal('calibration generated sequential 1').diags.some((d) =>
        /recipe\/bad-value: 'sequential' needs true or false/.test(d),
      ),
    );
    assert.ok(cal('calibration generated sequential').diags.some((d) => /'sequential' needs true or false/.test(d)));
    assert.ok(
      cal('calibration imatrix "m.imatrix" sequential false').diags.some((d) => /recipe\/unknown-option/.test(d)),
    );
  });
});
