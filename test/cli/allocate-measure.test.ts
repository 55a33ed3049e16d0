// What measuring asks the runner for, checked with a recording stand-in for the addon: the
// KL divergence of a (tensor, candidate) must be that of the quantization `run` produces.
// With calibration generated/tokens/text, rtn's searches (ggml blocks, clip mse, outliers)
// are weighted by the calibration's Hessian diagonal, so the KL pass must carry the
// calibration too: without it the runner quantizes the tensor unweighted, another tensor.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { loadRecipe } from '../../cli/src/load';
import { measure } from '../../cli/src/run/measure';
import type { NativeAddon, RunJob } from '../../cli/src/run/native';
import type { RunEvent } from '../../core/src/runReport';

const MODEL = path.join(__dirname, '../../examples/stories260K');

function recordingNative(jobs: RunJob[]): NativeAddon {
  return {
    version: () => 'test',
    modelInfo: () => {
      throw new Error('not used');
    },
    readTensor: () => {
      throw new Error('not used');
    },
    startRun(job: RunJob, onEvent: (e: RunEvent) => void) {
      jobs.push(JSON.parse(JSON.stringify(job)) as RunJob);
      job.tensors.forEach((t, index) => {
        if (t.action !== 'quantize') return;
        onEvent({
          type: 'tensor',
          index,
          name: t.name,
          shape: t.shape,
          dtype: 'F32',
          action: 'quantize',
          format: String(t.config?.format ?? ''),
          method: 'rtn',
          bpw: 4,
          bytesIn: 4,
          bytesOut: 1 + index,
          relError: 0.1,
          squaredError: 0.01 * (index + 1),
          outputErrorSum: 0.02 * (index + 1),
          outputError: 0.1,
          seconds: 0,
        } as RunEvent);
      });
      if (job.evaluate) onEvent({ type: 'evaluation', klMean: 0.05 } as RunEvent);
      return { cancel() {}, done: Promise.resolve({ type: 'done' } as never) };
    },
  };
}

describe('allocate measuring (the jobs it runs)', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-measure-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('measures each KL divergence with the calibration, so rtn quantizes as run does (importance-weighted)', async () => {
    const file = path.join(tmp, 'a.quant');
    fs.writeFileSync(
      file,
      [
        `model "${MODEL}"`,
        'calibration generated samples 2 length 16 seed 5',
        'budget 600 KiB',
        'defaults { format int4; group 32; clip mse }',
        'match "*.mlp.down_proj", "model.embed_tokens" { keep }',
        'allocate { formats int3 int4 int8; metric output }',
      ].join('\n') + '\n',
    );
    const loaded = loadRecipe(file)!;
    assert.ok(loaded.analysis.allocation?.missing.length, 'something to measure');
    const jobs: RunJob[] = [];
    await measure(loaded, recordingNative(jobs), { threads: 1, version: 'test' });
    const kl = jobs.filter((j) => j.evaluate);
    const errorPasses = jobs.filter((j) => !j.evaluate);
    assert.equal(errorPasses.length, 3, 'one pass per candidate format');
    assert.ok(kl.length > 0, 'KL passes ran');
    for (const j of [...errorPasses, ...kl]) {
      const q = j.tensors.filter((t) => t.action === 'quantize');
      assert.ok(q.length >= 1);
      assert.deepEqual(
        j.calibration,
        { kind: 'generated', samples: 2, length: 16, seed: 5 },
        `the ${j.evaluate ? 'KL' : 'error'} pass of ${q[0].name} has the recipe's calibration`,
      );
    }
    // The KL pass quantizes exactly one tensor, with the same config as the error pass.
    for (const j of kl) {
      const q = j.tensors.filter((t) => t.action === 'quantize');
      assert.equal(q.length, 1);
      const same = errorPasses
        .map((e) => e.tensors.find((t) => t.name === q[0].name && t.action === 'quantize'))
        .find((t) => t && JSON.stringify(t.config) === JSON.stringify(q[0].config));
      assert.ok(same, `${q[0].name}: the KL pass quantizes it as an error pass did`);
    }
  });
});
