// calibration imatrix in the analyzer (what the language server shows): entry names mapped
// both ways (llama.cpp names onto a Hugging Face model, Hugging Face names onto a GGUF
// model), and the diagnostics on the calibration line and on gptq / awq rules.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { analyze, type Analysis } from '../../core/src/analyze';
import { imatrixKey, matchImatrix } from '../../core/src/analysis/imatrix';
import { notExecutable } from '../../core/src/analysis/executable';
import { makeDocument } from '../../server/src/features/document';
import { hover } from '../../server/src/features/hover';
import type { TensorInfo } from '../../core/src/models/types';
import { ggufImatrixBytes, legacyImatrixBytes } from '../helpers/imatrixFile';

const root = path.join(__dirname, '../..');
const MODEL = path.join(root, 'examples/stories260K');
const SITES: [string, string, number][] = [
  ['attn_q', 'self_attn.q_proj', 64],
  ['attn_k', 'self_attn.k_proj', 64],
  ['attn_v', 'self_attn.v_proj', 64],
  ['attn_output', 'self_attn.o_proj', 64],
  ['ffn_gate', 'mlp.gate_proj', 64],
  ['ffn_up', 'mlp.up_proj', 64],
  ['ffn_down', 'mlp.down_proj', 172],
];
/** Every stories260K projection as llama-imatrix names it. */
function stories(filter: (layer: number, site: string) => boolean = () => true, nIn = (n: number) => n) {
  const out: { name: string; values: number[]; ncall: number }[] = [];
  for (let l = 0; l < 5; l++)
    for (const [g, , n] of SITES)
      if (filter(l, g))
        out.push({
          name: `blk.${l}.${g}.weight`,
          values: Array.from({ length: nIn(n) }, (_, j) => 1 + (j % 5)),
          ncall: 1,
        });
  return out;
}

let tmp: string;
let k = 0;
const put = (bytes: Buffer, ext = 'dat') => {
  const f = path.join(tmp, `${k++}.${ext}`);
  fs.writeFileSync(f, bytes);
  return f;
};
const recipe = (
  file: string,
  body = 'defaults { format int4; group 32; clip mse }\nmatch "*.mlp.down_proj" { group channel }\nmatch "model.embed_tokens" { keep }',
) => `model "${MODEL}"\ncalibration imatrix "${file}"\n${body}\n`;
const run = (text: string): Analysis => analyze(text, { recipePath: path.join(tmp, 'r.quant') });
const on = (a: Analysis, text: string, code: string) =>
  a.diagnostics.filter((d) => d.code === code).map((d) => ({ ...d, at: text.slice(d.start, d.end) }));

describe('calibration imatrix (analyzer)', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-imx-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('maps llama.cpp names onto Hugging Face tensors and Hugging Face names onto GGUF tensors', () => {
    assert.equal(imatrixKey('model.layers.3.mlp.down_proj.weight'), 'blk.3.ffn_down.weight');
    assert.equal(imatrixKey('blk.3.ffn_down.weight'), 'blk.3.ffn_down.weight');
    assert.equal(imatrixKey('lm_head.weight'), 'output.weight');
    const t = (name: string): TensorInfo => ({
      name,
      shape: [8, 64],
      dtype: 'F32',
      bitsPerElement: 32,
      elements: 512,
      bytes: 2048,
      file: '',
      offset: 0,
    });
    const hfModel = [
      t('model.layers.3.mlp.down_proj.weight'),
      t('lm_head.weight'),
      t('model.layers.0.self_attn.q_proj.weight'),
    ];
    const m1 = matchImatrix(
      {
        path: 'f',
        format: 'dat',
        entries: [
          { name: 'blk.3.ffn_down.weight', nIn: 64, nMat: 1 },
          { name: 'output.weight', nIn: 64, nMat: 1 },
          { name: 'blk.9.ffn_up.weight', nIn: 64, nMat: 1 },
        ],
      },
      hfModel,
    );
    assert.deepEqual(
      [...m1.entryOf].map(([k, e]) => [k, e.name]),
      [
        ['model.layers.3.mlp.down_proj.weight', 'blk.3.ffn_down.weight'],
        ['lm_head.weight', 'output.weight'],
      ],
    );
    assert.deepEqual(
      m1.unmatched.map((e) => e.name),
      ['blk.9.ffn_up.weight'],
    );
    const ggufModel = [t('blk.3.ffn_down.weight'), t('output.weight'), t('token_embd.weight')];
    const m2 = matchImatrix(
      {
        path: 'f',
        format: 'gguf',
        entries: [
          { name: 'model.layers.3.mlp.down_proj.weight', nIn: 64, nMat: 1 },
          { name: 'lm_head.weight', nIn: 64, nMat: 1 },
        ],
      },
      ggufModel,
    );
    assert.deepEqual(
      [...m2.entryOf].map(([k, e]) => [k, e.name]),
      [
        ['blk.3.ffn_down.weight', 'model.layers.3.mlp.down_proj.weight'],
        ['output.weight', 'lm_head.weight'],
      ],
    );
    assert.deepEqual(m2.unmatched, []);
  });

  it('a complete imatrix in either format: no diagnostics, every projection matched, executable', () => {
    const e = stories();
    for (const f of [
      put(legacyImatrixBytes(e)),
      put(
        ggufImatrixBytes(e.map((x) => ({ name: x.name, nIn: x.values.length, nMat: 1, sums: x.values, counts: [3] }))),
        'gguf',
      ),
    ]) {
      const text = recipe(f);
      const a = run(text);
      assert.deepEqual(
        a.diagnostics.map((d) => `${d.code}: ${d.message}`),
        [],
      );
      assert.equal(a.imatrix!.match.entryOf.size, 35);
      assert.equal(a.imatrix!.match.entryOf.get('model.layers.2.mlp.down_proj.weight')!.name, 'blk.2.ffn_down.weight');
      assert.deepEqual(notExecutable(a.recipe, a.plan, 'warning'), []);
    }
  });

  it('unmatched entries: a warning with the count and examples; quantized matrices without one: info', () => {
    const f = put(
      legacyImatrixBytes([
        ...stories((l) => l !== 4),
        { name: 'blk.7.ffn_up.weight', values: [1, 2], ncall: 1 },
        { name: 'blk.8.attn_q.weight', values: [1], ncall: 1 },
      ]),
    );
    const text = recipe(f);
    const a = run(text);
    const [w] = on(a, text, 'calibration/imatrix-unmatched');
    assert.equal(w.severity, 'warning');
    assert.equal(w.at, `"${f}"`);
    assert.match(
      w.message,
      /2 of 30 imatrix entries match no tensor of the model \(blk\.7\.ffn_up\.weight, blk\.8\.attn_q\.weight\)/,
    );
    const [i] = on(a, text, 'calibration/imatrix-missing');
    assert.equal(i.severity, 'info');
    assert.match(
      i.message,
      /^7 quantized matrices have no imatrix entry and are quantized unweighted \(model\.layers\.4\.mlp\.down_proj\.weight, /,
    );
    assert.ok(!a.diagnostics.some((d) => d.severity === 'error'));
  });

  it("an entry whose length is not the tensor's input features: an error naming both", () => {
    const f = put(legacyImatrixBytes(stories(undefined, (n) => (n === 172 ? 170 : n))));
    const text = recipe(f);
    const errs = on(run(text), text, 'calibration/bad-imatrix');
    assert.equal(errs.length, 5);
    assert.equal(errs[0].severity, 'error');
    assert.match(
      errs[0].message,
      /entry "blk\.0\.ffn_down\.weight" has 170 values but tensor "model\.layers\.0\.mlp\.down_proj\.weight" has 172 input features/,
    );
  });

  it('a legacy entry with whole multiples of the input features is named as possible MoE experts', () => {
    const f = put(legacyImatrixBytes(stories(undefined, (n) => (n === 64 ? 256 : n))));
    const text = recipe(f);
    const errs = on(run(text), text, 'calibration/bad-imatrix');
    assert.equal(errs.length, 30);
    assert.match(
      errs[0].message,
      /has 256 values but tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has 64 input features \(4 expert matrices back to back\? MoE imatrices are not supported\)/,
    );
  });

  it('MoE entries (n_mat > 1) on a tensor are refused', () => {
    const e = stories().map((x) => ({
      name: x.name,
      nIn: x.values.length,
      nMat: x.name === 'blk.1.ffn_up.weight' ? 4 : 1,
      sums: [] as number[],
      counts: [] as number[],
    }));
    for (const x of e) {
      x.sums = new Array(x.nIn * x.nMat).fill(1);
      x.counts = new Array(x.nMat).fill(2);
    }
    const text = recipe(put(ggufImatrixBytes(e), 'gguf'));
    const [d] = on(run(text), text, 'calibration/unsupported');
    assert.equal(d.severity, 'error');
    assert.match(
      d.message,
      /entry "blk\.1\.ffn_up\.weight" holds 4 matrices \(MoE experts\) for tensor "model\.layers\.1\.mlp\.up_proj\.weight"/,
    );
  });

  it('a bad file is an error on the path naming the file and entry; a missing one is not-found', () => {
    const f = put(legacyImatrixBytes([{ name: 'blk.0.attn_q.weight', values: [1, 2], ncall: 1, nval: 1 << 20 }]));
    const text = recipe(f);
    const [d] = on(run(text), text, 'calibration/bad-imatrix');
    assert.equal(d.at, `"${f}"`);
    assert.ok(d.message.startsWith(`${f}: entry "blk.0.attn_q.weight": 1048576 values need`), d.message);
    const model = put(ggufImatrixBytes([{ name: 'x', nIn: 1, nMat: 1, sums: [1], counts: [1] }], 'model'), 'gguf');
    assert.match(
      on(run(recipe(model)), recipe(model), 'calibration/bad-imatrix')[0].message,
      /general\.type is "model"/,
    );
    const missing = path.join(tmp, 'none.dat');
    const m = run(recipe(missing));
    assert.deepEqual(
      m.diagnostics.map((x) => x.code),
      ['calibration/not-found'],
    );
  });

  it('gptq and awq with only an imatrix: an error on the method (the diagonal is not X^T X)', () => {
    const f = put(legacyImatrixBytes(stories()));
    const text = recipe(
      f,
      'defaults { format int4; group 32; method gptq }\nmatch "*.mlp.down_proj" { group channel; method awq }\nmatch "model.embed_tokens" { keep }',
    );
    const errs = on(run(text), text, 'calibration/needs-hessian');
    assert.deepEqual(
      errs.map((e) => [e.severity, e.at]),
      [
        ['error', 'method gptq'],
        ['error', 'method awq'],
      ],
    );
    assert.match(errs[0].message, /full Hessian X\^T X; calibration imatrix gives only its diagonal/);
    // With the forward pass there is no such error.
    const gen = text.replace(/calibration imatrix "[^"]*"/, 'calibration generated');
    assert.deepEqual(on(run(gen), gen, 'calibration/needs-hessian'), []);
  });

  it('hovering the file says what it holds and how much of the model it weights', () => {
    const f = put(
      legacyImatrixBytes([...stories((l) => l !== 4), { name: 'blk.7.ffn_up.weight', values: [1, 2], ncall: 1 }]),
    );
    const text = recipe(f);
    const d = makeDocument('file:///x.quant', 1, text, run(text), path.join(tmp, 'r.quant'));
    const h = hover(d, d.lines.position(text.indexOf(f) + 2));
    const value = (h!.contents as { value: string }).value;
    assert.match(value, /^\*\*imatrix\*\* `.*` \(legacy \.dat\): 29 entries/);
    assert.match(value, /Weights the searches of 28 of 35 quantized matrices by mean x² per input channel/);
    assert.match(value, /1 entry matches no tensor\./);
  });

  it('calibration imatrix takes no options', () => {
    const f = put(legacyImatrixBytes(stories()));
    const text = recipe(f).replace(`"${f}"`, `"${f}" samples 4`);
    assert.ok(run(text).diagnostics.some((d) => d.code === 'recipe/unknown-option' && d.severity === 'error'));
  });
});
