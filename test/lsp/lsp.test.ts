// The language server as an editor sees it: node dist/server.js --stdio, spoken to over
// JSON-RPC, on recipes that reference the bundled stories260K model.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import type {
  CodeAction,
  CompletionItem,
  CompletionList,
  Diagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  InitializeResult,
  MarkupContent,
  PublishDiagnosticsParams,
  SemanticTokens,
  TextEdit,
} from 'vscode-languageserver-protocol';
import type { BudgetResult } from '../../server/src/protocol';
import { MANY_TENSORS, writeManyTensorModel } from '../helpers/manyTensors';
import { COMMIT_A, makeHfRepo } from '../helpers/hfCache';

const root = path.join(__dirname, '../..');
const serverJs = path.join(root, 'dist/server.js');
const modelDir = path.join(root, 'examples/stories260K');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-lsp-'));
const hubCache = path.join(tmp, 'hf-hub');

/** Writes a recipe into the temp folder and returns its URI. */
function recipe(name: string, text: string): { uri: string; text: string; file: string } {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return { uri: pathToFileURL(file).toString(), text, file };
}

/** 0-based position of the n-th occurrence of `needle` in `text`, plus `delta` characters. */
function pos(text: string, needle: string, delta = 0, nth = 0) {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    assert.ok(at >= 0, `${needle} not found`);
  }
  const o = at + delta;
  const before = text.slice(0, o);
  const line = before.split('\n').length - 1;
  return { line, character: o - (before.lastIndexOf('\n') + 1) };
}

const M = `model "${modelDir}"\n`;

describe('language server over stdio', function () {
  this.timeout(30000);
  let server: ChildProcess;
  let conn: MessageConnection;
  let init: InitializeResult;
  const published = new Map<string, PublishDiagnosticsParams[]>();
  const waiters: {
    uri: string;
    test: (p: PublishDiagnosticsParams) => boolean;
    resolve: (p: PublishDiagnosticsParams) => void;
  }[] = [];
  let version = 1;

  /** The next diagnostics published for `uri` that satisfy `test` (or the last one already published). */
  function diagnosticsFor(
    uri: string,
    test: (p: PublishDiagnosticsParams) => boolean = () => true,
  ): Promise<PublishDiagnosticsParams> {
    const seen = published.get(uri) ?? [];
    const last = seen[seen.length - 1];
    if (last && test(last)) return Promise.resolve(last);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no matching diagnostics for ${uri}; last: ${JSON.stringify(last)}`)),
        10000,
      );
      waiters.push({
        uri,
        test,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  async function open(name: string, text: string) {
    const r = recipe(name, text);
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: r.uri, languageId: 'quant', version: version++, text },
    });
    return r;
  }

  before(async () => {
    if (!fs.existsSync(serverJs)) {
      // CI builds before testing; a fresh checkout running this file alone builds here.
      const b = spawnSync('npm', ['run', 'build'], {
        cwd: root,
        encoding: 'utf8',
        shell: process.platform === 'win32',
      });
      assert.equal(b.status, 0, b.stderr);
    }
    // A Hugging Face cache the server finds through HF_HUB_CACHE (model "tiny/stories260K").
    const files: Record<string, Buffer> = {};
    for (const f of fs.readdirSync(modelDir)) files[f] = fs.readFileSync(path.join(modelDir, f));
    makeHfRepo(hubCache, 'tiny/stories260K', [{ hash: COMMIT_A, files }]);
    server = spawn(process.execPath, [serverJs, '--stdio'], {
      cwd: tmp,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, HF_HUB_CACHE: hubCache },
    });
    server.stderr!.on('data', (d) => process.stderr.write(`[server] ${d}`));
    conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      published.set(p.uri, [...(published.get(p.uri) ?? []), p]);
      for (const w of waiters.splice(0)) {
        if (w.uri === p.uri && w.test(p)) w.resolve(p);
        else waiters.push(w);
      }
    });
    conn.onRequest('client/registerCapability', () => null);
    conn.onNotification('window/logMessage', () => undefined);
    conn.listen();
    init = await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(tmp).toString(),
      workspaceFolders: null,
      capabilities: {
        textDocument: {
          completion: { completionItem: { snippetSupport: true }, completionList: { itemDefaults: ['editRange'] } },
        },
        workspace: { didChangeWatchedFiles: { dynamicRegistration: true } },
      },
    });
    await conn.sendNotification('initialized', {});
  });

  after(async () => {
    if (conn) {
      await conn.sendRequest('shutdown').catch(() => undefined);
      await conn.sendNotification('exit').catch(() => undefined);
      conn.dispose();
    }
    server?.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('declares its capabilities', () => {
    const c = init.capabilities;
    assert.ok(
      c.hoverProvider &&
        c.completionProvider &&
        c.documentSymbolProvider &&
        c.documentFormattingProvider &&
        c.codeActionProvider &&
        c.foldingRangeProvider,
    );
    assert.ok(c.semanticTokensProvider?.legend.tokenTypes.includes('keyword'));
  });

  it('publishes no diagnostics for a valid recipe', async () => {
    const r = await open(
      'valid.quant',
      `${M}defaults {\n  format int4\n  group 32\n}\nmatch "*.mlp.down_proj" { group channel }\n`,
    );
    const d = await diagnosticsFor(r.uri);
    assert.deepEqual(d.diagnostics, []);
  });

  it('reports a typo, an unknown format and a group that does not divide a tensor', async () => {
    const text = `${M}defaults {\n  formt int4\n  format int9\n}\nmatch "**" { format int4; group 32 }\n`;
    const r = await open('broken.quant', text);
    const { diagnostics } = await diagnosticsFor(r.uri, (p) => p.diagnostics.length > 0);
    const byCode = (code: string) => diagnostics.filter((d) => d.code === code);
    const typo = byCode('recipe/unknown-property')[0];
    assert.match(typo.message, /Unknown property 'formt'\. Did you mean 'format'\?/);
    assert.deepEqual(typo.range, { start: { line: 2, character: 2 }, end: { line: 2, character: 7 } });
    assert.equal(typo.source, 'bitsmith');
    assert.equal(typo.severity, 1);
    assert.match(byCode('recipe/unknown-format')[0].message, /int9/);
    const group = byCode('tensor/group-mismatch')[0];
    assert.match(
      group.message,
      /group 32 does not divide the input dimension of model\.layers\.0\.mlp\.down_proj\.weight \[64, 172\]/,
    );
    assert.deepEqual(group.range.start, pos(text, 'group 32'));
  });

  it('checks calibration imatrix: a bad file on its path, unmatched entries, gptq on the method', async () => {
    const imx = path.join(root, 'examples/stories260K.imatrix');
    const good = `${M}calibration imatrix "${imx}"\ndefaults { format int4; group 32; method gptq }\nmatch "*.mlp.down_proj" { group channel }\nmatch "model.embed_tokens" { keep }\n`;
    const g = await open('imatrix-gptq.quant', good);
    const gd = (await diagnosticsFor(g.uri, (p) => p.diagnostics.length > 0)).diagnostics;
    assert.deepEqual(
      gd.map((d) => [d.code, d.severity]),
      [['calibration/needs-hessian', 1]],
    );
    assert.deepEqual(gd[0].range.start, pos(good, 'method gptq'));
    // A copy cut short inside its third entry, and one with an entry for another model.
    const bytes = fs.readFileSync(imx);
    const cut = path.join(tmp, 'cut.imatrix');
    fs.writeFileSync(cut, bytes.subarray(0, 700));
    const bad = `${M}calibration imatrix "${cut}"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n`;
    const b = await open('imatrix-cut.quant', bad);
    const bd = (await diagnosticsFor(b.uri, (p) => p.diagnostics.length > 0)).diagnostics;
    assert.equal(bd.length, 1);
    assert.equal(bd[0].code, 'calibration/bad-imatrix');
    assert.equal(bd[0].severity, 1);
    assert.match(bd[0].message, /cut\.imatrix: entry "blk\.0\.[a-z_]+\.weight": \d+ values need \d+ bytes/);
    assert.deepEqual(bd[0].range.start, pos(bad, `"${cut}"`));
    // The file repaired on disk: the client reports it, the recipe is checked again.
    fs.copyFileSync(imx, cut);
    await conn.sendNotification('workspace/didChangeWatchedFiles', {
      changes: [{ uri: pathToFileURL(cut).toString(), type: 2 }],
    });
    const fixed = (await diagnosticsFor(b.uri, (p) => !p.diagnostics.some((d) => d.severity === 1))).diagnostics;
    assert.deepEqual(
      fixed.map((d) => d.code),
      ['calibration/imatrix-missing'],
    ); // the quantized embedding has no entry
    const extra = path.join(tmp, 'extra.imatrix');
    const n = bytes.readInt32LE(0);
    const entry = Buffer.concat([
      Buffer.from(new Int32Array([20]).buffer),
      Buffer.from('blk.9.attn_q.weight\0'.slice(0, 20)),
      Buffer.from(new Int32Array([1, 2, 0, 0]).buffer),
    ]);
    fs.writeFileSync(extra, Buffer.concat([Buffer.from(new Int32Array([n + 1]).buffer), entry, bytes.subarray(4)]));
    const e = await open('imatrix-extra.quant', bad.replace(cut, extra));
    const ed = (await diagnosticsFor(e.uri, (p) => p.diagnostics.length > 0)).diagnostics;
    // The embedding (quantized here) has no entry: information, not a warning.
    assert.deepEqual(
      ed.map((d) => [d.code, d.severity]),
      [
        ['calibration/imatrix-unmatched', 2],
        ['calibration/imatrix-missing', 3],
      ],
    );
    assert.match(ed[0].message, /1 of 36 imatrix entry matches no tensor of the model \(blk\.9\.attn_q\.weight/);
    assert.match(ed[1].message, /1 quantized matrix has no imatrix entry .*\(model\.embed_tokens\.weight\)/);
  });

  it('reports a missing model on the model line, naming the path', async () => {
    const missing = path.join(tmp, 'no-such-model');
    const r = await open('missing.quant', `model "${missing}"\ndefaults { format int4 }\n`);
    const { diagnostics } = await diagnosticsFor(r.uri, (p) => p.diagnostics.length > 0);
    const d = diagnostics.find((x) => x.code === 'model/not-found')!;
    assert.ok(d, JSON.stringify(diagnostics));
    assert.equal(d.range.start.line, 0);
    assert.ok(d.message.includes(missing), d.message);
  });

  it('reports an output that would overwrite the model or the recipe on its path string', async () => {
    const text = `${M}defaults { format int8; group channel }\noutput fake "${modelDir}/config.json"\nexport llm_compressor "unsafe.quant"\n`;
    const r = await open('unsafe.quant', text);
    const { diagnostics } = await diagnosticsFor(r.uri, (p) => p.diagnostics.length > 0);
    const model = diagnostics.find((d) => d.code === 'output/overwrites-model')!;
    assert.ok(model, JSON.stringify(diagnostics));
    assert.equal(model.severity, 1);
    assert.deepEqual(model.range.start, pos(text, `"${modelDir}/config.json"`));
    const self = diagnostics.find((d) => d.code === 'export/overwrites-recipe')!;
    assert.ok(self, JSON.stringify(diagnostics));
    assert.deepEqual(self.range.start, pos(text, '"unsafe.quant"'));
  });

  it('re-reads a model when the client reports its files changed', async () => {
    const dir = path.join(tmp, 'late-model');
    const r = await open('late.quant', `model "late-model"\ndefaults { format int8; group channel }\n`);
    await diagnosticsFor(r.uri, (p) => p.diagnostics.some((d) => d.code === 'model/not-found'));
    fs.mkdirSync(dir);
    for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(modelDir, f), path.join(dir, f));
    await conn.sendNotification('workspace/didChangeWatchedFiles', {
      changes: [{ uri: pathToFileURL(path.join(dir, 'model.safetensors')).toString(), type: 1 }],
    });
    const d = await diagnosticsFor(r.uri, (p) => p.diagnostics.length === 0);
    assert.deepEqual(d.diagnostics, []);
  });

  it('follows edits: diagnostics after the debounce, hover on the current text at once', async () => {
    const r = await open('edit.quant', `${M}defaults { format int4; group 32 }\n`);
    await diagnosticsFor(r.uri, (p) => p.diagnostics.some((d) => d.code === 'tensor/group-mismatch'));
    const text = `${M}defaults { format int4; group 4 }\n`;
    const v = version++;
    await conn.sendNotification('textDocument/didChange', {
      textDocument: { uri: r.uri, version: v },
      contentChanges: [{ text }],
    });
    const h: Hover = await conn.sendRequest('textDocument/hover', {
      textDocument: { uri: r.uri },
      position: pos(text, 'defaults'),
    });
    assert.match((h.contents as MarkupContent).value, /int4 g4: `4 \+ 16\/4 = 8 bpw`/);
    const d = await diagnosticsFor(r.uri, (p) => p.version === v);
    assert.deepEqual(
      d.diagnostics.filter((x) => x.code === 'tensor/group-mismatch'),
      [],
    );
  });

  it('a Hugging Face id: no errors, and the hover on model shows the revision, commit and snapshot folder', async () => {
    const text = 'model "tiny/stories260K"\ndefaults { format int8; group channel }\n';
    const r = await open('hub.quant', text);
    const d = await diagnosticsFor(r.uri);
    assert.deepEqual(
      d.diagnostics.filter((x) => x.severity === 1),
      [],
    );
    const h: Hover = await conn.sendRequest('textDocument/hover', {
      textDocument: { uri: r.uri },
      position: pos(text, 'model', 1),
    });
    const v = (h.contents as MarkupContent).value;
    assert.match(v, /\*\*Model\*\* `tiny\/stories260K` from the Hugging Face cache/);
    assert.ok(v.includes(`\`main\` → commit \`${COMMIT_A}\``), v);
    assert.ok(v.includes(path.join(hubCache, 'models--tiny--stories260K', 'snapshots', COMMIT_A)), v);
    assert.match(v, /from HF_HUB_CACHE/);
  });

  it('calibration: the hover says what the forward pass runs; a model it cannot run is an error on the line', async () => {
    const text = `${M}calibration generated samples 4\ndefaults { format int8; group channel }\n`;
    const r = await open('forward.quant', text);
    await diagnosticsFor(r.uri);
    const h: Hover = await conn.sendRequest('textDocument/hover', {
      textDocument: { uri: r.uri },
      position: pos(text, 'calibration', 2),
    });
    assert.match(
      (h.contents as MarkupContent).value,
      /Forward pass: llama, 5 layers, 8 heads \(4 kv\) of 8, rope theta 10000, tied embeddings\./,
    );
    const dir = path.join(tmp, 'longrope-model');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(modelDir, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const cfg = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...cfg, rope_scaling: { rope_type: 'longrope', short_factor: [], long_factor: [] } }),
    );
    const bad = `model "${dir}"\ncalibration generated samples 4\ndefaults { format int8; group channel }\n`;
    const rb = await open('forward-bad.quant', bad);
    const d = await diagnosticsFor(rb.uri, (p) => p.diagnostics.length > 0);
    assert.deepEqual(
      d.diagnostics.map((x) => [x.code, x.severity, x.range.start.line]),
      [['forward/unsupported-architecture', 1, 1]],
    );
    assert.match(d.diagnostics[0].message, /llama with rope_scaling of type "longrope"/);
  });

  describe('on a recipe', () => {
    const text = `${M}budget 9 bpw\ndefaults {\n  format int4\n  group 32\n  symmetric false\n}\nmatch "model.embed_tokens" { keep }\nmatch "*.mlp.down_proj" {\n  group channel\n  method kmeans { iters 10 }\n}\n`;
    let uri: string;
    before(async () => {
      uri = (await open('recipe.quant', text)).uri;
      const published = (await diagnosticsFor(uri)).diagnostics as {
        code: string;
        severity: number;
        message: string;
      }[];
      assert.deepEqual(
        published.filter((x) => x.code !== 'run/unsupported'),
        [],
      );
      // The editor marks what bitsmith run would refuse, as a warning on the method line.
      assert.deepEqual(
        published.map((x) => [x.code, x.severity]),
        [['run/unsupported', 2]],
      );
      assert.match(published[0].message, /method kmeans .* is not executed by bitsmith run yet/);
    });
    const hoverAt = async (needle: string, delta = 0, nth = 0) => {
      const h: Hover | null = await conn.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: pos(text, needle, delta, nth),
      });
      return h ? (h.contents as MarkupContent).value : '';
    };
    let lastList: CompletionList | undefined;
    const complete = async (t: string, position: { line: number; character: number }, name = 'complete.quant') => {
      const r = await open(name, t);
      const res: CompletionItem[] | CompletionList = await conn.sendRequest('textDocument/completion', {
        textDocument: { uri: r.uri },
        position,
      });
      lastList = Array.isArray(res) ? undefined : res;
      return Array.isArray(res) ? res : res.items;
    };

    it('hovers a rule with its tensors, bpw formula, sizes and overrides', async () => {
      const v = await hoverAt('defaults', 2);
      assert.match(v, /Matches \*\*36 tensors\*\*/);
      assert.ok(v.includes('int4 g32: `4 + (16+16)/32 = 5 bpw` × 30 tensors'), v);
      assert.ok(v.includes('int4 channel: `4 + (16+16)/172 = 4.186 bpw` × 5 tensors'), v);
      assert.match(v, /and 31 more/);
      assert.match(v, /Size: 1013\.0 KiB → \*\*/);
      assert.match(v, /`format` by match "model\.embed_tokens" \(line 8\) for 1 of 36 tensors/);
      assert.match(v, /`group` by match "\*\.mlp\.down_proj" \(line 9\) for 5 of 36 tensors/);
    });

    it('hovers a pattern with what it matches', async () => {
      const v = await hoverAt('"*.mlp.down_proj"', 3);
      assert.match(v, /Pattern `"\*\.mlp\.down_proj"` matches 5 tensors/);
      assert.match(v, /bpw/);
    });

    it('hovers the model, the budget, words and options', async () => {
      const m = await hoverAt('model', 1);
      assert.match(m, /architecture \| llama/);
      assert.match(m, /parameters \| 260,032/);
      assert.match(m, /tensors \| 47/);
      const b = await hoverAt('budget', 1);
      assert.match(b, /\*\*Budget\*\* 9 bpw/);
      assert.match(b, /fits, with/);
      assert.match(await hoverAt('int4', 1), /4-bit uniform integer grid/);
      assert.match(await hoverAt('kmeans', 1), /k-means/);
      assert.match(await hoverAt('iters', 1), /\*\*iters\*\* — option of `kmeans`/);
      assert.match(await hoverAt('symmetric', 1), /zero point/);
    });

    it('completes tensor patterns inside a match string', async () => {
      const t = `${M}match "" { keep }\n`;
      const items = await complete(t, pos(t, 'match "', 7));
      const labels = items.map((i) => i.label);
      for (const p of [
        'model.layers.*.mlp.down_proj',
        'model.layers.*.self_attn.q_proj',
        'model.layers.*.self_attn.[qkv]_proj',
        'model.embed_tokens',
        'model.layers.3.mlp.up_proj',
      ]) {
        assert.ok(labels.includes(p), `${p} not in ${labels.join(' ')}`);
      }
      const down = items.find((i) => i.label === 'model.layers.*.mlp.down_proj')!;
      assert.equal(down.detail, '5 tensors');
      // The client accepts a shared edit range: the whole string content, sent once.
      assert.deepEqual(lastList?.itemDefaults?.editRange, {
        start: { line: 1, character: 7 },
        end: { line: 1, character: 7 },
      });
      assert.equal(down.textEdit, undefined);
      // Generalised patterns sort before individual names.
      const sorted = [...items].sort((a, b) => (a.sortText! < b.sortText! ? -1 : 1)).map((i) => i.label);
      assert.ok(sorted.indexOf('model.layers.*.mlp.down_proj') < sorted.indexOf('model.layers.0.mlp.down_proj'));
    });

    it('completes formats after `format `, with their bpw', async () => {
      const t = `${M}defaults {\n  format \n}\n`;
      const items = await complete(t, pos(t, 'format ', 7));
      const int4 = items.find((i) => i.label === 'int4');
      assert.ok(int4, items.map((i) => i.label).join(' '));
      assert.equal(int4.detail, '4.125 bpw at group 128');
      assert.ok(items.some((i) => i.label === 'q4_k'));
    });

    it('completes keywords by context: top level, rule blocks, method options', async () => {
      const t = `${M}\nmatch "**" {\n  \n  method gptq {  }\n}\n`;
      const top = await complete(t, { line: 1, character: 0 });
      assert.ok(top.some((i) => i.label === 'match' && i.insertTextFormat === 2));
      const props = await complete(t, { line: 3, character: 2 });
      assert.deepEqual(props.map((i) => i.label).slice(0, 3), ['keep', 'format', 'method']);
      const opts = await complete(t, pos(t, 'gptq { ', 7));
      assert.deepEqual(
        opts.map((i) => i.label),
        ['damp', 'block', 'act_order'],
      );
    });

    it('completes model paths relative to the recipe', async () => {
      fs.mkdirSync(path.join(tmp, 'models/tiny'), { recursive: true });
      fs.writeFileSync(path.join(tmp, 'models/tiny/config.json'), '{}');
      fs.writeFileSync(path.join(tmp, 'models/a.gguf'), '');
      fs.writeFileSync(path.join(tmp, 'models/notes.txt'), '');
      const t = 'model "models/"\n';
      const items = await complete(t, pos(t, 'models/', 7), 'paths.quant');
      assert.deepEqual(items.map((i) => i.label).sort(), ['a.gguf', 'tiny/']);
    });

    it('gives an outline of statements, rules and properties', async () => {
      const symbols: DocumentSymbol[] = await conn.sendRequest('textDocument/documentSymbol', {
        textDocument: { uri },
      });
      assert.deepEqual(
        symbols.map((s) => s.name),
        [`model "${modelDir}"`, 'budget 9 bpw', 'defaults', 'model.embed_tokens', '*.mlp.down_proj'],
      );
      assert.deepEqual(
        symbols[2].children!.map((c) => c.name),
        ['format', 'group', 'symmetric'],
      );
      assert.equal(symbols[4].detail, 'match · 5 tensors · 4.186 bpw');
      assert.deepEqual(
        symbols[4].children![1].children!.map((c) => c.name),
        ['iters'],
      );
    });

    it('returns semantic tokens and folding ranges', async () => {
      const tokens: SemanticTokens = await conn.sendRequest('textDocument/semanticTokens/full', {
        textDocument: { uri },
      });
      assert.equal(tokens.data.length % 5, 0);
      assert.ok(tokens.data.length > 5 * 10);
      const folds: FoldingRange[] = await conn.sendRequest('textDocument/foldingRange', { textDocument: { uri } });
      assert.deepEqual(
        folds.map((f) => [f.startLine, f.endLine]),
        [
          [2, 5],
          [8, 10],
        ],
      );
    });

    it('answers bitsmith/budget', async () => {
      const b: BudgetResult = await conn.sendRequest('bitsmith/budget', { uri });
      assert.equal(b.tensors, 47);
      assert.equal(b.quantized, 35);
      assert.equal(b.budgetBpw, 9);
      assert.equal(b.errors, 0);
      assert.equal(b.fits, true);
      assert.ok(b.bpw > 4 && b.bpw < 9, String(b.bpw));
      assert.equal(b.bytesIn, 1040128);
    });
  });

  it('formats a messy recipe to the canonical layout', async () => {
    const messy = [
      '# header comment',
      '',
      '',
      `model    "${modelDir}"   # the model`,
      'defaults {format int4;group 32',
      '      symmetric   false  # asymmetric',
      '}',
      'match "*.mlp.down_proj" ,"model.embed_tokens"{ group channel }',
      'match "**.q_proj" { method gptq {damp 0.01;block 128} }',
      'calibration generated samples 8',
      '   # trailing comment',
    ].join('\n');
    const r = await open('messy.quant', messy);
    const edits: TextEdit[] = await conn.sendRequest('textDocument/formatting', {
      textDocument: { uri: r.uri },
      options: { tabSize: 4, insertSpaces: true },
    });
    assert.equal(edits.length, 1);
    const expected = [
      '# header comment',
      '',
      `model "${modelDir}" # the model`,
      'defaults {',
      '  format int4',
      '  group 32',
      '  symmetric false # asymmetric',
      '}',
      'match "*.mlp.down_proj", "model.embed_tokens" { group channel }',
      'match "**.q_proj" { method gptq { damp 0.01; block 128 } }',
      'calibration generated samples 8',
      '# trailing comment',
      '',
    ].join('\n');
    assert.equal(edits[0].newText, expected);
    // Formatting the result again changes nothing.
    const again = await open('messy2.quant', expected);
    assert.deepEqual(
      await conn.sendRequest('textDocument/formatting', {
        textDocument: { uri: again.uri },
        options: { tabSize: 2, insertSpaces: true },
      }),
      [],
    );
  });

  it('does not format a file with syntax errors', async () => {
    const r = await open('syntax.quant', `${M}defaults {  format int4\n`);
    assert.deepEqual(
      await conn.sendRequest('textDocument/formatting', {
        textDocument: { uri: r.uri },
        options: { tabSize: 2, insertSpaces: true },
      }),
      [],
    );
  });

  it('offers the did-you-mean fix as a preferred quick fix', async () => {
    const text = `${M}defualts { format int4 }\n`;
    const r = await open('fix.quant', text);
    const { diagnostics } = await diagnosticsFor(r.uri, (p) => p.diagnostics.length > 0);
    const d = diagnostics.find((x) => x.code === 'recipe/unknown-keyword') as Diagnostic;
    const actions: CodeAction[] = await conn.sendRequest('textDocument/codeAction', {
      textDocument: { uri: r.uri },
      range: d.range,
      context: { diagnostics: [d] },
    });
    assert.equal(actions.length, 1);
    assert.equal(actions[0].title, "Change to 'defaults'");
    assert.equal(actions[0].isPreferred, true);
    assert.equal(actions[0].kind, 'quickfix');
    assert.deepEqual(actions[0].diagnostics, [d]);
    assert.deepEqual(actions[0].edit!.changes![r.uri], [{ range: d.range, newText: 'defaults' }]);
  });

  it('stays responsive on a hostile document: Unicode spaces, nested quantifiers, deep nesting, CR line ends', async () => {
    // Each of these hung or crashed the server before: an NBSP (and its cousins) made the
    // lexer loop forever, the nested quantifier backtracked for minutes, 5,000 braces
    // overflowed the parser's stack.
    const spaces = '\u00a0\u3000\u2003\u202f\u2028\u1680';
    const hostile =
      `${M}${spaces}\rmatch "re:((\\w|\\.)+)+X$" { format int4 }\r` +
      `match "re:${'(a|aa)+'.repeat(20)}b" { format int4 }\r` +
      `match "x" ${'{'.repeat(5000)}\r\uD800 \u200F emoji \u{1F600}\r`;
    const h = await open('hostile.quant', hostile);
    const { diagnostics } = await diagnosticsFor(h.uri, (p) => p.diagnostics.length > 0);
    const codes = new Set(diagnostics.map((d) => d.code));
    assert.ok(codes.has('syntax/too-deep'), [...codes].join(', '));
    // CR-only line ends: the nested-quantifier rule is on line 2 (0-based) of the editor (U+2028
    // does not start a line there, as LSP counts lines).
    const nq = diagnostics.find((d) => d.code === 'pattern/no-match' && d.message.includes('(\\w|\\.)'));
    assert.ok(nq, JSON.stringify(diagnostics.map((d) => d.message)));
    assert.equal(nq.range.start.line, 2);
    // The server still answers, on this document and on a normal one.
    const symbols: DocumentSymbol[] = await conn.sendRequest('textDocument/documentSymbol', {
      textDocument: { uri: h.uri },
    });
    assert.ok(symbols.some((s) => s.name.startsWith('model')));
    const text = `${M}defaults { format int4; group 32 }\n`;
    const r = await open('after-hostile.quant', text);
    const hv: Hover | null = await conn.sendRequest('textDocument/hover', {
      textDocument: { uri: r.uri },
      position: pos(text, 'defaults', 2),
    });
    assert.match((hv!.contents as MarkupContent).value, /Matches \*\*36 tensors\*\*/);
  });
});

describe('language server with an analysis time limit', function () {
  this.timeout(30000);
  let server: ChildProcess;
  let conn: MessageConnection;
  const published: PublishDiagnosticsParams[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-lsp-limit-'));

  before(async () => {
    server = spawn(process.execPath, [serverJs, '--stdio'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => published.push(p));
    conn.onNotification('window/logMessage', () => undefined);
    conn.listen();
    // A budget of 0 ms: every analysis that reaches the plan stops at its first deadline check.
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(dir).toString(),
      workspaceFolders: null,
      capabilities: {},
      initializationOptions: { analysisTimeLimitMs: 0 },
    });
    await conn.sendNotification('initialized', {});
  });

  after(async () => {
    await conn.sendRequest('shutdown').catch(() => undefined);
    await conn.sendNotification('exit').catch(() => undefined);
    conn.dispose();
    server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stops an analysis past its budget with a diagnostic, and answers the next request', async () => {
    const text = `${M}defaults { format int4; group 32 }\nmatch "re:.*q_proj" { format int8 }\n`;
    const r = { uri: pathToFileURL(path.join(dir, 'limited.quant')).toString() };
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: r.uri, languageId: 'quant', version: 1, text },
    });
    // Symbols need no plan: answered from the parse, even though the analysis stopped.
    const symbols: DocumentSymbol[] = await conn.sendRequest('textDocument/documentSymbol', {
      textDocument: { uri: r.uri },
    });
    assert.equal(symbols.length, 3);
    const mine = published.filter((p) => p.uri === r.uri);
    assert.ok(mine.length > 0, 'diagnostics published with the first analysis');
    const d = mine[mine.length - 1].diagnostics;
    assert.deepEqual(
      d.map((x) => x.code),
      ['analysis/timeout'],
    );
    assert.match(d[0].message, /Analysis stopped after 0 ms while applying 2 rules to 47 tensors, its time budget/);
    assert.equal(d[0].severity, 2);
    const hv: Hover | null = await conn.sendRequest('textDocument/hover', {
      textDocument: { uri: r.uri },
      position: pos(text, 'defaults', 2),
    });
    assert.match((hv!.contents as MarkupContent).value, /No model/);
  });
});

describe(`language server on a ${MANY_TENSORS}-tensor model`, function () {
  this.timeout(120_000);
  let server: ChildProcess;
  let conn: MessageConnection;
  const published: PublishDiagnosticsParams[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-lsp-many-'));

  before(async () => {
    writeManyTensorModel(dir);
    server = spawn(process.execPath, [serverJs, '--stdio'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
    conn.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => published.push(p));
    conn.onNotification('window/logMessage', () => undefined);
    conn.listen();
    // The default time budget scales with the model; a generous fixed one here keeps the test
    // independent of how busy the machine is (what it checks is that the analysis completes).
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(dir).toString(),
      workspaceFolders: null,
      capabilities: {},
      initializationOptions: { analysisTimeLimitMs: 100_000 },
    });
    await conn.sendNotification('initialized', {});
  });

  after(async () => {
    await conn.sendRequest('shutdown').catch(() => undefined);
    await conn.sendNotification('exit').catch(() => undefined);
    conn.dispose();
    server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('analyses it, hovers a rule and answers bitsmith/budget', async () => {
    const text = `model "${dir}"\ndefaults { format int4; group 32 }\nmatch "*.mlp.experts.*.down_proj" { format int8 }\n`;
    const uri = pathToFileURL(path.join(dir, 'many.quant')).toString();
    await conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'quant', version: 1, text },
    });
    const budget: BudgetResult | null = await conn.sendRequest('bitsmith/budget', { uri });
    assert.ok(budget, 'a budget');
    assert.deepEqual([budget.tensors, budget.errors], [MANY_TENSORS, 0]);
    assert.equal(budget.quantized, MANY_TENSORS - 2 * 60 - 1, 'every matrix but the norms');
    const mine = published.filter((p) => p.uri === uri);
    assert.deepEqual(mine[mine.length - 1].diagnostics, []);
    const hv: Hover | null = await conn.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: pos(text, '"*.mlp.experts', 3),
    });
    assert.match((hv!.contents as MarkupContent).value, /matches 43,?200 tensors/);
  });
});
