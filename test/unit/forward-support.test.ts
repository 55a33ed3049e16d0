// The editor knows before any run: a model the built-in forward pass cannot run is an
// error on each statement that would run it (calibration generated / tokens / text,
// evaluate, allocate metric kld), naming the model_type and what is missing; nothing when
// the recipe runs no forward pass or the model is one it runs. (The rules themselves are
// checked against the native reader in test/native/forward-support.test.ts.)
import { strict as assert } from 'node:assert';
import { analyze, type Analysis } from '../../core/src/analyze';
import { describeForward, forwardSupport } from '../../core/src/analysis/forwardSupport';
import type { ModelHeader } from '../../core/src/models/types';
import { llamaHeader, tensor } from '../helpers/syntheticModel';

const run = (text: string, header: ModelHeader): Analysis =>
  analyze(text, { recipePath: '/r/x.quant', loadModel: () => header, exists: () => true });
const forwardErrors = (a: Analysis) => a.diagnostics.filter((d) => d.code.startsWith('forward/'));
const withConfig = (c: Record<string, unknown>): ModelHeader => {
  const h = llamaHeader();
  return { ...h, config: { ...h.config, ...c } };
};

const M = 'model "m"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n';

describe('forward support in the analysis', () => {
  it('the synthetic Llama header runs: no forward error, whatever the recipe asks', () => {
    const a = run(`${M}calibration generated\nevaluate { perplexity }\n`, llamaHeader());
    assert.deepEqual(forwardErrors(a), []);
  });

  it('an unsupported rope type: an error on the calibration and evaluate lines naming model_type and rope type', () => {
    const text = `${M}calibration tokens "t.json"\nevaluate { perplexity }\n`;
    const a = run(text, withConfig({ rope_scaling: { rope_type: 'longrope', short_factor: [], long_factor: [] } }));
    const e = forwardErrors(a);
    assert.deepEqual(
      e.map((d) => [d.code, d.severity, text.slice(d.start, d.end).split('\n')[0]]),
      [
        ['forward/unsupported-architecture', 'error', 'calibration tokens "t.json"'],
        ['forward/unsupported-architecture', 'error', 'evaluate'],
      ],
    );
    assert.match(e[0].message, /^calibration tokens runs the built-in forward pass, which cannot run this model: /);
    assert.match(e[0].message, /llama with rope_scaling of type "longrope"/);
    assert.match(e[1].message, /^evaluate runs the built-in forward pass/);
  });

  it('the calibration error points at the gptq / awq rules that need its activations', () => {
    const text = `model "m"\ncalibration generated\ndefaults { format int4; group 32; method gptq }\nmatch "*.mlp.down_proj" { group channel; method awq }\n`;
    const e = forwardErrors(run(text, withConfig({ hidden_act: 'gelu_pytorch_tanh' })));
    assert.equal(e.length, 1);
    assert.match(
      e[0].message,
      /llama with hidden_act "gelu_pytorch_tanh": the forward pass runs silu \(SwiGLU\) MLPs only/,
    );
    assert.deepEqual(
      e[0].related?.map((r) => [text.slice(r.span.start, r.span.end), r.message]),
      [
        ['method gptq', 'method gptq needs the activations of this forward pass'],
        ['method awq', 'method awq needs the activations of this forward pass'],
      ],
    );
  });

  it('allocate metric kld runs it (on the metric line); calibration imatrix and metric weight do not', () => {
    const moe = withConfig({ model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 8 });
    const text = `${M}calibration imatrix "x.imatrix"\nbudget 4 bpw\nallocate {\n  formats int4 int8\n  metric kld\n}\n`;
    const e = forwardErrors(run(text, moe));
    assert.equal(e.length, 1);
    assert.equal(text.slice(e[0].start, e[0].end), 'metric kld');
    assert.match(e[0].message, /model_type "mixtral" \(MixtralForCausalLM\), a mixture-of-experts model/);
    const weight = text.replace('metric kld', 'metric weight');
    assert.deepEqual(forwardErrors(run(weight, moe)), []);
  });

  it('a recipe that runs no forward pass gets no forward error even for a model the pass cannot run', () => {
    assert.deepEqual(forwardErrors(run(M, withConfig({ hidden_act: 'gelu' }))), []);
  });

  it('names the missing tensor (qwen3 without q_norm) and the GGUF format', () => {
    const h = llamaHeader({ layers: 2 });
    const qwen3: ModelHeader = {
      ...h,
      config: { ...h.config, model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'] },
      tensors: [
        ...h.tensors,
        tensor('model.layers.0.self_attn.q_norm.weight', [8]),
        tensor('model.layers.0.self_attn.k_norm.weight', [8]),
      ],
    };
    const e = forwardErrors(run(`${M}calibration generated\n`, qwen3));
    assert.equal(e.length, 1);
    assert.equal(e[0].code, 'forward/missing-tensor');
    assert.match(
      e[0].message,
      /the qwen3 forward pass needs tensor "model\.layers\.1\.self_attn\.q_norm\.weight", which the model lacks/,
    );
    const gguf: ModelHeader = { ...llamaHeader(), format: 'gguf', path: '/m.gguf', files: ['/m.gguf'] };
    const g = forwardErrors(run(`${M}calibration generated\n`, gguf));
    assert.deepEqual(
      g.map((d) => d.code),
      ['forward/unsupported-format'],
    );
  });

  it('describes what runs, for the calibration hover', () => {
    const s = forwardSupport(
      withConfig({
        rope_theta: 500000,
        rope_scaling: {
          factor: 32,
          high_freq_factor: 4,
          low_freq_factor: 1,
          original_max_position_embeddings: 8192,
          rope_type: 'llama3',
        },
      }),
    );
    assert.ok(s.ok);
    assert.equal(
      describeForward(s.arch),
      'llama, 5 layers, 8 heads (4 kv) of 8, rope llama3 (factor 32 over 8192 positions, theta 500000), tied embeddings',
    );
  });
});
