// The language server's feature functions on their own: analysis + text + position in,
// LSP values out. The stdio session in test/lsp covers the wiring.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import type { CompletionItem, Hover, MarkupContent } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { analyze } from '../../core/src/analyze';
import { parse } from '../../core/src/syntax/parser';
import { ModelReadError, type ModelHeader } from '../../core/src/models/types';
import { completion, toCompletionList } from '../../server/src/features/completion';
import { makeDocument, type AnalyzedDocument } from '../../server/src/features/document';
import { foldingRanges } from '../../server/src/features/folding';
import { formatRecipe, formatting } from '../../server/src/features/formatting';
import { hover } from '../../server/src/features/hover';
import { patternCandidates } from '../../server/src/features/patterns';
import { LEGEND, semanticTokens } from '../../server/src/features/semanticTokens';
import { documentSymbols } from '../../server/src/features/symbols';
import { codeActions } from '../../server/src/features/codeActions';
import { budget } from '../../server/src/features/budget';
import { ModelCache } from '../../server/src/modelCache';
import { Workspace } from '../../server/src/workspace';
import { llamaHeader, tensor } from '../helpers/syntheticModel';
import { oneOf } from '../helpers/arbitraries';

const model = llamaHeader();
const M = 'model "m"\n';

/** header null: the model cannot be read. */
function doc(text: string, header: ModelHeader | null = model): AnalyzedDocument {
  const analysis = analyze(text, {
    recipePath: '/r/x.quant',
    exists: () => true,
    loadModel: () => {
      if (!header) throw new ModelReadError('model/not-found', '/r/m: no such file or directory', '/r/m');
      return header;
    },
  });
  return makeDocument('file:///r/x.quant', 1, text, analysis, '/r/x.quant');
}

/** Text with a `|` marking the cursor: the document without it, and the position. */
function at(marked: string, header?: ModelHeader | null) {
  const offset = marked.indexOf('|');
  const d = doc(marked.slice(0, offset) + marked.slice(offset + 1), header);
  return { d, pos: d.lines.position(offset) };
}

const labels = (items: CompletionItem[]) => items.map((i) => i.label);
const complete = (marked: string, header?: ModelHeader | null) => {
  const { d, pos } = at(marked, header);
  return completion(d, pos, { snippets: true });
};
const hoverText = (marked: string, header?: ModelHeader | null) => {
  const { d, pos } = at(marked, header);
  const h: Hover | null = hover(d, pos);
  return h ? (h.contents as MarkupContent).value : '';
};

describe("server features: the run's memory estimate", () => {
  const withConfig: ModelHeader = {
    ...model,
    config: {
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      vocab_size: 512,
      max_position_embeddings: 512,
    },
  };
  it('hover on calibration and evaluate shows the estimated peak before anything runs', () => {
    const text = `${M}calibration generated samples 4 length 32\ndefaults { format int4 }\nevaluate { kl_divergence }\n`;
    for (const word of ['|calibration', '|evaluate']) {
      const h = hoverText(text.replace(word.slice(1), word), withConfig);
      assert.match(h, /\*\*Estimated peak memory of `run`: \d+\.\d\d GiB\*\*/, word);
      assert.match(h, /- the process \(Node, the addon\): \d/);
    }
    // Without a forward pass there is nothing to estimate.
    assert.doesNotMatch(hoverText(`${M}|calibration imatrix "m.imatrix"\n`, withConfig), /Estimated peak/);
  });
  it('hover on the sequential option explains it', () => {
    assert.match(hoverText(`${M}calibration generated |sequential false\n`), /outputs of the already-quantized layer/);
  });
});

describe('server features: completion', () => {
  it('offers top-level keywords as snippets at the start of a statement, once-only ones last when present', () => {
    const items = complete(`${M}|`);
    assert.ok(labels(items).includes('match'));
    const model = items.find((i) => i.label === 'model')!;
    const match = items.find((i) => i.label === 'match')!;
    assert.ok(match.sortText! < model.sortText!, 'model is already there');
    assert.equal((match.textEdit as { newText: string }).newText, 'match "${1:pattern}" {\n\t$0\n}');
  });

  it('offers properties inside a rule block, also on a line of its own in an unclosed block', () => {
    assert.deepEqual(labels(complete(`${M}match "**" { fo| }`)).slice(0, 2), ['keep', 'format']);
    assert.ok(labels(complete(`${M}defaults {\n  format int4\n  |`)).includes('group'));
    assert.ok(labels(complete(`${M}defaults { format int4; | }`)).includes('symmetric'));
  });

  it("offers words after property keywords, and group sizes that divide the rule's tensors", () => {
    assert.deepEqual(labels(complete(`${M}defaults { symmetric | }`)), ['true', 'false']);
    assert.deepEqual(labels(complete(`${M}defaults { scale | }`)), ['f16', 'bf16', 'f32', 'e8m0', 'e4m3']);
    assert.deepEqual(labels(complete(`${M}defaults { rotate | }`)), ['none', 'hadamard']);
    assert.deepEqual(
      labels(complete(`${M}match "*.mlp.down_proj" { group | }`)),
      ['16', 'channel', 'tensor'].filter((g) => g !== '16'),
    );
    assert.deepEqual(labels(complete(`${M}match "*.q_proj" { group | }`)), ['16', '32', '64', 'channel', 'tensor']);
    assert.ok(labels(complete(`${M}defaults { method | }`)).includes('gptq'));
  });

  it("shows bpw under the rule's grouping in the format list, and flags blocks that do not fit", () => {
    const items = complete(`${M}match "*.mlp.down_proj" {\n  group 4\n  symmetric false\n  format |\n}`);
    assert.equal(items.find((i) => i.label === 'int4')!.detail, '12 bpw at group 4, asymmetric');
    assert.equal(items.find((i) => i.label === 'q4_k')!.detail, '4.5 bpw — block of 256 does not fit 172 columns');
    assert.equal(items.find((i) => i.label === 'mxfp4')!.detail, '4.25 bpw — block of 32 does not fit 172 columns');
  });

  it('offers method options in a method block, and true/false after a boolean option', () => {
    assert.deepEqual(labels(complete(`${M}defaults { method gptq { damp 0.1; | } }`)), ['damp', 'block', 'act_order']);
    assert.deepEqual(labels(complete(`${M}defaults {\n  method kmeans {\n    |\n  }\n}`)), ['iters', 'weighted']);
    assert.deepEqual(labels(complete(`${M}defaults { method gptq { act_order | } }`)), ['true', 'false']);
  });

  it('offers kinds, units and options of top-level statements', () => {
    assert.deepEqual(labels(complete(`${M}calibration |`)), ['imatrix', 'text', 'tokens', 'generated']);
    assert.deepEqual(labels(complete(`${M}calibration generated samples 8 |`)), ['length', 'seed', 'sequential']);
    assert.deepEqual(labels(complete(`${M}calibration tokens "t.json" samples 8 |`)), ['length', 'sequential']);
    assert.deepEqual(labels(complete(`${M}calibration tokens "t.json" sequential |`)), ['true', 'false']);
    assert.deepEqual(labels(complete(`${M}calibration imatrix "m.imatrix" |`)), []);
    assert.deepEqual(labels(complete(`${M}calibration generated samples |`)), []);
    assert.deepEqual(labels(complete(`${M}output |`)), ['fake', 'gguf', 'compressed_tensors', 'imatrix']);
    assert.deepEqual(labels(complete(`${M}export |`)), ['llm_compressor', 'llama_quantize']);
    assert.ok(labels(complete(`${M}budget 4.5 |`)).includes('bpw'));
  });

  it('offers allocate and evaluate vocabulary', () => {
    assert.deepEqual(labels(complete(`${M}allocate {\n  |\n}`)), ['formats', 'metric', 'granularity']);
    const fmts = labels(complete(`${M}allocate { formats q4_k | }`));
    assert.ok(fmts.includes('q6_k') && !fmts.includes('q4_k'));
    assert.deepEqual(labels(complete(`${M}allocate { metric | }`)), ['weight', 'output', 'kld']);
    assert.deepEqual(labels(complete(`${M}evaluate { perplexity samples 4 | }`)), ['length']);
    assert.deepEqual(labels(complete(`${M}evaluate { perplexity | }`)), ['samples', 'length', 'text', 'tokens']);
    assert.deepEqual(labels(complete(`${M}evaluate { perplexity text "wiki.raw" | }`)), ['samples', 'length']);
    assert.match(
      hoverText(`${M}evaluate { perplexity te|xt "wiki.raw" }`),
      /windowed|windows of `length` ids.*second half/s,
    );
  });

  it('perplexity text: the file and the tokenizer are checked before any run', () => {
    const missing = analyze(`${M}evaluate { perplexity text "gone.txt" }\n`, {
      recipePath: '/r/x.quant',
      exists: (p) => !p.endsWith('gone.txt') && !p.endsWith('tokenizer.json'),
      loadModel: () => model,
    }).diagnostics;
    const text = missing.map((x) => `${x.code}: ${x.message}`).join('\n');
    assert.match(text, /calibration\/not-found: Held-out text file not found: \/r\/gone\.txt/);
    assert.match(text, /calibration\/no-tokenizer: perplexity text needs the model's tokenizer/);
  });

  it('answers trigger characters only where they mean something', () => {
    const { d, pos } = at(`${M}defaults {\n  format |\n}`);
    assert.ok(completion(d, pos, { triggerCharacter: ' ' }).length > 20);
    const indent = at(`${M}defaults {\n  |\n}`);
    assert.deepEqual(completion(indent.d, indent.pos, { triggerCharacter: ' ' }), []);
    assert.ok(completion(indent.d, indent.pos).length > 0);
    const dot = at(`${M}defaults { outliers 0.| }`);
    assert.deepEqual(completion(dot.d, dot.pos, { triggerCharacter: '.' }), []);
    const str = at(`${M}match "model.|"`);
    assert.ok(completion(str.d, str.pos, { triggerCharacter: '.' }).length > 0);
  });

  it('offers nothing in comments, numbers, or after a closing quote', () => {
    assert.deepEqual(complete(`${M}# format |`), []);
    assert.deepEqual(complete(`${M}defaults { group 12| }`), []);
    assert.deepEqual(complete(`${M}match "**"| { keep }`), []);
  });

  it('replaces the whole string content with a pattern, wherever the cursor is in it', () => {
    const { d, pos } = at(`${M}match "model.la|yers" { keep }`);
    const items = completion(d, pos);
    const item = items.find((i) => i.label === 'model.layers.*.mlp.down_proj')!;
    const edit = item.textEdit as { range: { start: { character: number }; end: { character: number } } };
    assert.deepEqual([edit.range.start.character, edit.range.end.character], [7, 19]);
    const list = toCompletionList(items, true);
    assert.deepEqual(list.itemDefaults?.editRange, edit.range);
    assert.ok(list.items.every((i) => i.textEdit === undefined));
    // Snippets cannot share the range default.
    assert.equal(toCompletionList(complete(`${M}|`), true).itemDefaults, undefined);
  });

  it('offers files by kind relative to the recipe folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-paths-'));
    try {
      fs.mkdirSync(path.join(dir, 'out'));
      for (const f of ['a.safetensors', 'b.gguf', 'c.yaml', 'd.sh', 'calib.imatrix', 'x.txt', '.hidden.gguf', 'w.raw'])
        fs.writeFileSync(path.join(dir, f), '');
      const recipePath = path.join(dir, 'r.quant');
      const run = (marked: string) => {
        const offset = marked.indexOf('|');
        const text = marked.slice(0, offset) + marked.slice(offset + 1);
        const d = makeDocument(
          'file:///r.quant',
          1,
          text,
          analyze(text, { recipePath, loadModel: () => model }),
          recipePath,
        );
        return labels(completion(d, d.lines.position(offset))).sort();
      };
      assert.deepEqual(run('model "|"'), ['a.safetensors', 'b.gguf', 'out/']);
      assert.deepEqual(run(`${M}output gguf "|"`), ['b.gguf', 'out/']);
      assert.deepEqual(run(`${M}output compressed_tensors "|"`), ['out/']);
      assert.deepEqual(run(`${M}export llm_compressor "|"`), ['c.yaml', 'out/']);
      assert.deepEqual(run(`${M}calibration imatrix "|"`), ['b.gguf', 'calib.imatrix', 'out/']);
      assert.deepEqual(run(`${M}calibration text "|"`), ['out/', 'x.txt']);
      assert.deepEqual(run(`${M}evaluate { perplexity text "|" }`), ['out/', 'w.raw', 'x.txt']);
      assert.deepEqual(run(`${M}evaluate { perplexity "|" }`), ['out/']);
      assert.deepEqual(run(`${M}output imatrix "|"`), ['b.gguf', 'calib.imatrix', 'out/']);
      assert.deepEqual(run('model "out/|"'), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('server features: tensor patterns', () => {
  it('generalises layer indices, builds sibling classes, tails, sub-blocks, then names', () => {
    const c = patternCandidates(model);
    const find = (p: string) => c.find((x) => x.pattern === p);
    assert.equal(find('model.layers.*.mlp.down_proj')?.count, 5);
    assert.equal(find('model.layers.*.self_attn.[qkv]_proj')?.count, 15);
    assert.equal(find('model.layers.*.self_attn.[kv]_proj')?.count, 10);
    assert.equal(find('*.mlp.down_proj')?.count, 5);
    assert.equal(find('model.layers.*.mlp.*')?.count, 15);
    assert.equal(find('model.layers.2.**')?.count, 9);
    assert.equal(find('model.embed_tokens')?.category, 4);
    // Every offered pattern is valid and matches what it claims.
    const { compilePattern } =
      require('../../core/src/analysis/pattern') as typeof import('../../core/src/analysis/pattern');
    for (const x of c) {
      const p = compilePattern(x.pattern);
      assert.equal(p.error, undefined, x.pattern);
      assert.equal(model.tensors.filter((t) => p.test(t.name)).length, x.count, x.pattern);
    }
  });

  it('works on GGUF names', () => {
    const tensors = [tensor('token_embd.weight', [512, 64])];
    for (let l = 0; l < 3; l++)
      for (const n of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_down'])
        tensors.push(tensor(`blk.${l}.${n}.weight`, [64, 64]));
    const gguf = { ...llamaHeader(), tensors };
    const names = patternCandidates(gguf).map((x) => x.pattern);
    for (const p of ['blk.*.attn_q', 'blk.*.attn_[qkv]', '*.attn_[qkv]', 'blk.1.**', 'token_embd', 'blk.0.ffn_down'])
      assert.ok(names.includes(p), `${p} in ${names.join(' ')}`);
  });
});

describe('server features: hover', () => {
  it("shows a rule's tensors, formula per configuration, sizes and overrides", () => {
    const v = hoverText(
      `${M}def|aults { format int4; group 32 }\nmatch "*.mlp.*" { format int8 }\nmatch "*.down_proj" { group channel }`,
    );
    assert.match(v, /Matches \*\*36 tensors\*\*/);
    assert.ok(v.includes('- int4 g32: `4 + 16/32 = 4.5 bpw` × 21 tensors'), v);
    assert.ok(v.includes('- int8 g32: `8 + 16/32 = 8.5 bpw` × 10 tensors'), v);
    assert.ok(v.includes('- int8 channel: `8 + 16/172 = 8.093 bpw` × 5 tensors'), v);
    assert.match(v, /`format` by match "\*\.mlp\.\*" \(line 3\) for 15 of 36 tensors/);
    assert.match(v, /`group` by match "\*\.down_proj" \(line 4\) for 5 of 36 tensors/);
  });

  it('explains a rule without a model, a pattern that matches nothing, and kept tensors', () => {
    assert.match(hoverText(`${M}mat|ch "**" { format int4 }`, null), /No model to match against: \/r\/m: no such file/);
    assert.match(hoverText(`${M}match "no|pe" { format int4 }`), /matches 0 tensors/);
    assert.ok(hoverText(`${M}match "model.em|bed_tokens" { keep }`).includes('Result: keep F32: `32 bpw` × 1 tensor'));
  });

  it('shows the model read error on the model line', () => {
    assert.match(hoverText('mo|del "m"\n', null), /Cannot be read: \/r\/m: no such file or directory/);
  });

  it('shows the budget verdict', () => {
    assert.match(hoverText(`${M}bud|get 1 bpw\ndefaults { format int4 }`), /\*\*over by [\d.]+ KiB\*\*/);
    assert.match(hoverText(`${M}bud|get 1 GiB\ndefaults { format int4 }`), /fits, with/);
  });

  it('documents keywords, words, options and kinds', () => {
    assert.match(
      hoverText(`${M}defaults { format q|4_k }`),
      /super-blocks of 256.*\n\n256 weights per 144-byte block: 4\.5 bpw/,
    );
    assert.match(hoverText(`${M}defaults { gro|up 32 }`), /\*\*group\*\* — Scale granularity/);
    assert.match(
      hoverText(`${M}defaults { method gptq { da|mp 0.1 } }`),
      /option of `gptq` \(number, at least 0, at most 1\)/,
    );
    assert.match(hoverText(`${M}output gg|uf "x.gguf"`), /llama\.cpp-loadable/);
    assert.match(hoverText(`${M}thr|eads 4`), /```quant\nthreads 4\n```/);
    assert.equal(hoverText(`${M}# a com|ment`), '');
  });
});

describe('server features: formatting', () => {
  const fmt = (text: string) => {
    const { file, errors } = parse(text);
    assert.deepEqual(errors, []);
    return formatRecipe(text, file);
  };

  it('splits ;-separated statements, keeps one-line single-statement and method blocks', () => {
    assert.equal(
      fmt('defaults {format int4;group 32}\nmatch "a" {keep}\nmatch "b" { method gptq {damp 0.1;block 64} }'),
      'defaults {\n  format int4\n  group 32\n}\nmatch "a" { keep }\nmatch "b" { method gptq { damp 0.1; block 64 } }\n',
    );
    assert.equal(fmt('recipe "x"; model "m"'), 'recipe "x"\nmodel "m"\n');
    assert.equal(fmt('defaults { }\nevaluate {\n}'), 'defaults { }\nevaluate {\n}\n');
  });

  it('keeps comments in place and aligns trailing comments of consecutive lines', () => {
    const text =
      'allocate {   # candidates\n  formats int2 int4    # a\n  metric output # b\n\n\n  # own line\n  granularity tensor\n  # last\n}   # after\n';
    assert.equal(
      fmt(text),
      'allocate { # candidates\n  formats int2 int4 # a\n  metric output     # b\n\n  # own line\n  granularity tensor\n  # last\n} # after\n',
    );
  });

  it('keeps units, percent, commas, escapes and CRLF', () => {
    assert.equal(
      fmt('budget 3.8   GiB\ndefaults{outliers 0.5%}\nmatch "a\\"b" ,"re:x\\.y" { keep }'),
      'budget 3.8 GiB\ndefaults { outliers 0.5% }\nmatch "a\\"b", "re:x\\.y" { keep }\n',
    );
    assert.equal(
      fmt('model "m"\r\ndefaults {\r\n format int4 # c\r\n}\r\n'),
      'model "m"\r\ndefaults {\r\n  format int4 # c\r\n}\r\n',
    );
  });

  it('returns no edits for syntax errors or canonical text', () => {
    assert.deepEqual(formatting(doc(`${M}defaults { format int4`)), []);
    assert.deepEqual(formatting(doc(`${M}defaults { format int4 }\n`)), []);
  });

  it('is idempotent and never loses content on the examples and mutations of them', () => {
    const dir = path.join(__dirname, '../../examples');
    const examples = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.quant'))
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    const mutated = fc
      .tuple(
        oneOf(examples),
        fc.array(
          fc.record({
            at: fc.nat(2000),
            ins: fc.constantFrom(';', ' ', '\n', '\n\n\n', '  # c\n', '{ keep }', ', "x"', '\t'),
          }),
          { maxLength: 6 },
        ),
      )
      .map(([text, edits]) =>
        edits.reduce((t, e) => t.slice(0, Math.min(e.at, t.length)) + e.ins + t.slice(Math.min(e.at, t.length)), text),
      );
    let formatted = 0;
    fc.assert(
      fc.property(mutated, (text) => {
        const { file, errors } = parse(text);
        if (errors.length) return;
        const once = formatRecipe(text, file);
        assert.ok(once !== undefined, 'formatting refused valid text');
        const again = parse(once);
        assert.deepEqual(again.errors, [], once);
        assert.equal(formatRecipe(once, again.file), once);
        // Same statements, same arguments: only layout changed.
        const shape = (t: string) =>
          JSON.stringify(parse(t).file.statements, (k, v) =>
            ['start', 'end', 'close', 'separators'].includes(k) ? undefined : v,
          );
        assert.equal(shape(once), shape(text));
        formatted++;
      }),
      { numRuns: 400, seed: 3 },
    );
    assert.ok(formatted > 100);
  });
});

describe('server features: symbols, tokens, folding, actions, budget', () => {
  const text = `# one\n# two\n${M}defaults {\n  format int4 # x\n  group 32\n}\nmatch "*.mlp.down_proj", "lm_head" { group channel }\nbudget 9 bpw\n`;

  it('outlines rules by pattern with properties as children', () => {
    const s = documentSymbols(doc(text));
    assert.deepEqual(
      s.map((x) => x.name),
      ['model "m"', 'defaults', '*.mlp.down_proj, lm_head', 'budget 9 bpw'],
    );
    assert.deepEqual(
      s[1].children!.map((c) => [c.name, c.detail]),
      [
        ['format', 'int4'],
        ['group', '32'],
      ],
    );
  });

  it('encodes semantic tokens in order with the legend', () => {
    const d = doc(text);
    const data = semanticTokens(d).data;
    const decoded: string[] = [];
    let line = 0;
    let ch = 0;
    for (let i = 0; i < data.length; i += 5) {
      line += data[i];
      ch = data[i] === 0 ? ch + data[i + 1] : data[i + 1];
      const start = d.lines.offset({ line, character: ch });
      decoded.push(`${LEGEND.tokenTypes[data[i + 3]]}:${text.slice(start, start + data[i + 2])}`);
    }
    assert.deepEqual(decoded.slice(0, 9), [
      'comment:# one',
      'comment:# two',
      'keyword:model',
      'string:"m"',
      'keyword:defaults',
      'property:format',
      'enumMember:int4',
      'comment:# x',
      'property:group',
    ]);
    assert.ok(
      decoded.includes('regexp:"*.mlp.down_proj"') && decoded.includes('type:bpw') && decoded.includes('number:9'),
    );
  });

  it('folds blocks and comment runs', () => {
    assert.deepEqual(
      foldingRanges(doc(text)).map((f) => [f.startLine, f.endLine, f.kind]),
      [
        [0, 1, 'comment'],
        [3, 5, undefined],
      ],
    );
  });

  it('turns fixes into preferred quick fixes, only where asked', () => {
    const d = doc(`${M}defaults { fromat int4 }\nbudget 4\n`);
    const all = codeActions(d, { start: { line: 0, character: 0 }, end: { line: 3, character: 0 } });
    assert.deepEqual(
      all.map((a) => a.title),
      ["Change to 'format'", "Add 'bpw'"],
    );
    assert.deepEqual(all[1].edit!.changes!['file:///r/x.quant'], [
      { range: { start: { line: 2, character: 7 }, end: { line: 2, character: 8 } }, newText: '4 bpw' },
    ]);
    assert.deepEqual(
      codeActions(d, { start: { line: 2, character: 8 }, end: { line: 2, character: 8 } }).map((a) => a.title),
      ["Add 'bpw'"],
    );
  });

  it('reports the budget figures, or null without a plan', () => {
    const b = budget(doc(text))!;
    assert.equal(b.tensors, model.tensors.length);
    assert.equal(b.budgetBpw, 9);
    assert.equal(b.fits, true);
    assert.equal(budget(doc(text, null)), null);
  });
});

describe('server: model cache and workspace', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-cache-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a header once, re-reads when a file it came from changes, and caches failures', () => {
    const file = path.join(dir, 'm.bin');
    fs.writeFileSync(file, 'x');
    let reads = 0;
    const cache = new ModelCache((p) => {
      reads++;
      if (!fs.existsSync(p)) throw new ModelReadError('model/not-found', `${p}: no such file or directory`, p);
      return { ...llamaHeader(), path: p, files: [p] };
    });
    cache.load(file);
    cache.load(file);
    assert.equal(reads, 1);
    fs.writeFileSync(file, 'xy'); // size changes
    cache.load(file);
    assert.equal(reads, 2);
    assert.equal(cache.invalidate([path.join(dir, 'other')]), false);
    assert.equal(cache.invalidate([file]), true);
    cache.load(file);
    assert.equal(reads, 3);

    const missing = path.join(dir, 'missing');
    assert.throws(() => cache.load(missing), /no such file/);
    assert.throws(() => cache.load(missing), /no such file/);
    assert.equal(reads, 4);
    fs.writeFileSync(missing, 'now here');
    cache.load(missing);
    assert.equal(reads, 5);
  });

  it('debounces analyses of edits, but answers requests on the current text at once', async () => {
    const published: number[] = [];
    const ws = new Workspace(new ModelCache(() => model), (d) => published.push(d.version), 30);
    const td = TextDocument.create('file:///r/x.quant', 'quant', 1, `${M}defaults { format int4 }`);
    ws.opened(td);
    assert.deepEqual(published, [1]);
    let cur = td;
    for (let v = 2; v <= 5; v++) {
      cur = TextDocument.update(cur, [{ text: `${M}defaults { format int${v} }` }], v);
      ws.changed(cur);
    }
    assert.deepEqual(published, [1]);
    assert.equal(ws.get(cur).analysis.recipe.rules[0].settings.format!.value, 'int5');
    for (let waited = 0; published.length < 2 && waited < 2000; waited += 10)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(published, [1, 5]);
    ws.closed(cur.uri);
  });
});
