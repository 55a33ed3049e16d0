// Runs inside the extension host (code-server's or desktop VS Code's) on a workspace holding a copy
// of examples/: the extension's activation, its commands, language features through the
// editor's own provider commands, the status bar and the task provider.
'use strict';
const assert = require('assert');
const vscode = require('vscode');

const EXT_ID = 'bitsmith.bitsmith';
/** Set by index.js from the harness: timeouts stretch on a loaded machine. */
const SCALE = Number(process.env.BITSMITH_E2E_TIMEOUT_SCALE) || 2;
const T = (ms) => Math.round(ms * SCALE);
const COMMANDS = [
  'bitsmith.runRecipe',
  'bitsmith.cancelRun',
  'bitsmith.openLastReport',
  'bitsmith.compareRuns',
  'bitsmith.inspectModel',
  'bitsmith.restartServer',
  'bitsmith.newRecipe',
  'bitsmith.getStarted',
];

function root() {
  const folders = vscode.workspace.workspaceFolders;
  assert.ok(folders && folders.length > 0, 'the tests need a workspace folder (a copy of examples/)');
  return folders[0].uri;
}

async function open(rel) {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(root(), rel));
  await vscode.window.showTextDocument(doc, { preview: false });
  return doc;
}

async function until(fn, what, timeout = T(30_000)) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${(timeout / 1000).toFixed(1)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function hoverText(hovers) {
  return (hovers || [])
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .join('\n');
}

function positionOf(doc, needle) {
  const i = doc.getText().indexOf(needle);
  assert.ok(i >= 0, `${needle} not in ${doc.uri.fsPath}`);
  return doc.positionAt(i);
}

describe('Bitsmith extension', function () {
  this.timeout(T(60_000));
  let ext;

  before(async () => {
    ext = vscode.extensions.getExtension(EXT_ID);
    assert.ok(ext, `extension ${EXT_ID} is not loaded`);
  });

  afterEach(async () => {
    // A dirty editor (a new recipe is unsaved) would make closeAllEditors ask whether to save.
    for (const d of vscode.workspace.textDocuments) {
      if (!d.isDirty) continue;
      await vscode.window.showTextDocument(d);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('activates when a .quant recipe is opened', async () => {
    const doc = await open('int4.quant');
    assert.strictEqual(doc.languageId, 'quant');
    await until(() => ext.isActive, 'extension active');
  });

  it('registers its commands', async () => {
    await until(() => ext.isActive, 'extension active');
    const all = new Set(await vscode.commands.getCommands(true));
    const missing = COMMANDS.filter((c) => !all.has(c));
    assert.deepStrictEqual(missing, [], `commands not registered: ${missing.join(', ')}`);
  });

  it('hover on a match rule gives its bits per weight', async () => {
    const doc = await open('int4.quant');
    const pos = positionOf(doc, 'match "*.mlp.down_proj"').translate(0, 2);
    const text = await until(async () => {
      const t = hoverText(await vscode.commands.executeCommand('vscode.executeHoverProvider', doc.uri, pos));
      return /\d(\.\d+)?\s*bpw/.test(t) && t;
    }, 'a hover with bpw on the match rule');
    assert.match(text, /down_proj/);
  });

  it("completion in a match string offers the model's tensor patterns", async () => {
    const doc = await open('int4.quant');
    const pos = positionOf(doc, '*.mlp.down_proj').translate(0, 1);
    const list = await until(async () => {
      const l = await vscode.commands.executeCommand('vscode.executeCompletionItemProvider', doc.uri, pos);
      return l && l.items.length > 0 && l;
    }, 'completion items');
    const labels = list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
    assert.ok(labels.includes('model.layers.*.mlp.down_proj'), `labels: ${labels.slice(0, 20).join(', ')}`);
    assert.ok(labels.includes('model.embed_tokens'), `labels: ${labels.slice(0, 20).join(', ')}`);
  });

  it('publishes an error diagnostic while a recipe is broken, and clears it when fixed', async () => {
    const doc = await open('int4.quant');
    const at = positionOf(doc, 'format int4\n').translate(0, 'format int4'.length);
    const editor = vscode.window.activeTextEditor;
    assert.ok(await editor.edit((e) => e.insert(at, '4')));
    const diags = await until(() => {
      const d = vscode.languages.getDiagnostics(doc.uri).filter((x) => x.severity === vscode.DiagnosticSeverity.Error);
      return d.length > 0 && d;
    }, 'an error diagnostic for format int44');
    assert.match(diags[0].message, /int44/);
    assert.strictEqual(diags[0].range.start.line, at.line);
    assert.ok(await editor.edit((e) => e.delete(new vscode.Range(at, at.translate(0, 1)))));
    await until(
      () => vscode.languages.getDiagnostics(doc.uri).every((x) => x.severity !== vscode.DiagnosticSeverity.Error),
      'the error to clear',
    );
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  describe('status bar', () => {
    function api() {
      const exp = ext.exports;
      assert.ok(
        exp && typeof exp.statusBarText === 'function',
        'activate() must return { statusBarText(): string | undefined }',
      );
      return exp;
    }

    it('shows the bits per weight of the open recipe', async () => {
      await open('int4.quant');
      const text = await until(() => {
        const t = api().statusBarText();
        return t && /bpw/.test(t) && t;
      }, 'status bar text with bpw');
      assert.match(text, /\d(\.\d+)?\s*bpw/);
    });

    it('mentions the budget of a recipe that has one (mixed.quant: budget 6.6 bpw)', async () => {
      await open('mixed.quant');
      const text = await until(() => {
        const t = api().statusBarText();
        return t && /6\.6/.test(t) && t;
      }, 'status bar text mentioning the 6.6 bpw budget');
      assert.match(text, /bpw/);
    });
  });

  describe('New Recipe from Model', () => {
    const errorsOf = (doc) =>
      vscode.languages.getDiagnostics(doc.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
    const model = () => vscode.Uri.joinPath(root(), 'stories260K');
    const cases = [
      ['w4a16', undefined, /^calibration generated /m],
      ['nvfp4', undefined, /^defaults \{ format nvfp4 \}$/m],
      ['fp8', undefined, /^ {2}format fp8_e4m3$/m],
      ['q4_k_m', undefined, /^output gguf "out\/stories260K-Q4_K_M\.gguf"$/m],
      ['fit', '400 KB', /^budget 400 KB$/m],
    ];
    for (const [preset, budget, line] of cases) {
      it(`${preset}: an unsaved recipe beside the workspace root, checking clean, with its budget in the status bar`, async () => {
        const doc = await vscode.commands.executeCommand('bitsmith.newRecipe', { model: model(), preset, budget });
        assert.ok(doc, 'the command resolves to the new document');
        assert.strictEqual(doc.uri.scheme, 'untitled');
        assert.strictEqual(doc.languageId, 'quant');
        const stem = preset === 'q4_k_m' ? 'Q4_K_M' : preset;
        assert.strictEqual(doc.uri.fsPath, vscode.Uri.joinPath(root(), `stories260K-${stem}.quant`).fsPath);
        assert.match(doc.getText(), /^model "stories260K"$/m);
        assert.match(doc.getText(), line);
        assert.strictEqual(vscode.window.activeTextEditor?.document, doc);
        // The server's figures for this version of the text (the edit that filled the new
        // document reaches the server after its open): no error, a plan.
        const b = await until(async () => {
          const r = await ext.exports.budget(doc.uri.toString());
          return r && r.version === doc.version && r;
        }, `the server's figures for version ${doc.version} of the new recipe`);
        assert.strictEqual(b.errors, 0, `errors: ${JSON.stringify(errorsOf(doc).map((d) => d.message))}`);
        assert.ok(b.quantized > 0 && b.bpw > 0 && b.bpw < 32, JSON.stringify(b));
        // ... and the status bar shows them at once.
        const figure = `${+b.bpw.toFixed(3)} bpw`;
        const text = await until(() => {
          const t = ext.exports.statusBarText();
          return t && t.includes(figure) && t;
        }, `the status bar with ${figure} for the new ${preset} recipe`);
        if (preset === 'fit') assert.match(text, /budget/);
        await until(() => errorsOf(doc).length === 0, 'no error diagnostic published');
      });
    }

    it('never reuses a name in use, and Save writes the recipe where it was named, checking clean there', async () => {
      const a = await vscode.commands.executeCommand('bitsmith.newRecipe', { model: model(), preset: 'fp8' });
      const b = await vscode.commands.executeCommand('bitsmith.newRecipe', { model: model(), preset: 'fp8' });
      assert.strictEqual(a.uri.fsPath, vscode.Uri.joinPath(root(), 'stories260K-fp8.quant').fsPath);
      assert.strictEqual(b.uri.fsPath, vscode.Uri.joinPath(root(), 'stories260K-fp8-2.quant').fsPath);
      const saved = await vscode.workspace.save(a.uri);
      assert.ok(saved, 'saved');
      assert.strictEqual(saved.scheme, 'file');
      assert.strictEqual(saved.fsPath, a.uri.fsPath);
      const onDisk = Buffer.from(await vscode.workspace.fs.readFile(saved)).toString('utf8');
      assert.match(onDisk, /^recipe "stories260K FP8"$/m);
      const doc = await vscode.workspace.openTextDocument(saved);
      await vscode.window.showTextDocument(doc);
      const bs = await until(async () => {
        const r = await ext.exports.budget(saved.toString());
        return r && r.version === doc.version && r;
      }, "the server's figures for the saved recipe");
      assert.ok(bs.errors === 0 && bs.quantized > 0, JSON.stringify(bs));
      await vscode.workspace.fs.delete(saved);
    });
  });

  describe('Run Recipe on a new, unsaved recipe', () => {
    it('saves it where it was named, then runs it: its compressed-tensors folder is written', async function () {
      const doc = await vscode.commands.executeCommand('bitsmith.newRecipe', {
        model: vscode.Uri.joinPath(root(), 'stories260K'),
        preset: 'fp8',
      });
      assert.strictEqual(doc.uri.scheme, 'untitled');
      const file = vscode.Uri.joinPath(root(), 'stories260K-fp8.quant');
      const config = vscode.Uri.joinPath(root(), 'out', 'stories260K-fp8', 'config.json');
      const shown = doc.getText();
      await vscode.commands.executeCommand('bitsmith.runRecipe');
      await until(
        async () => {
          try {
            await vscode.workspace.fs.stat(config);
            return true;
          } catch {
            return false;
          }
        },
        'out/stories260K-fp8/config.json written by the run',
        T(120_000),
      );
      const text = Buffer.from(await vscode.workspace.fs.readFile(file)).toString('utf8');
      assert.strictEqual(text, shown, 'the recipe on disk is the one the editor showed');
      const cfg = JSON.parse(Buffer.from(await vscode.workspace.fs.readFile(config)).toString('utf8'));
      assert.strictEqual(cfg.quantization_config?.quant_method, 'compressed-tensors');
      await until(() => ext.exports.runningRecipes().length === 0, 'the run to end');
      await vscode.workspace.fs.delete(file);
    });
  });

  describe('task provider', () => {
    it('offers one `bitsmith` task per .quant file, keyed by its workspace-relative path', async () => {
      await until(() => ext.isActive, 'extension active');
      const files = await vscode.workspace.findFiles('**/*.quant', '**/{node_modules,.git}/**');
      const expected = files.map((u) => vscode.workspace.asRelativePath(u, false)).sort();
      assert.ok(expected.length >= 3, `expected the example recipes in the workspace, found ${expected}`);
      const tasks = await vscode.tasks.fetchTasks({ type: 'bitsmith' });
      for (const t of tasks) {
        assert.strictEqual(t.definition.type, 'bitsmith');
        assert.strictEqual(typeof t.definition.recipe, 'string');
      }
      assert.deepStrictEqual(tasks.map((t) => t.definition.recipe).sort(), expected);
    });
  });
});
