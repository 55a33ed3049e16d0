// The output-safety rule (core/src/analysis/outputSafety.ts) on an in-memory file system:
// every way an output or export could touch the model, the recipe, an input, another
// output, a device or a file Bitsmith did not write is one error on the statement's path
// string; what is Bitsmith's own is replaced (and its identity handed to the writer). Then
// the real file-system facts (outputFacts.ts) on temporary folders: provenance of
// safetensors, GGUF, translations and marked folders.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { analyze } from '../../core/src/analyze';
import { interpret } from '../../core/src/analysis/recipe';
import { parse } from '../../core/src/syntax/parser';
import {
  checkOutputSafety,
  type Entry,
  type EntryKind,
  type OutputFacts,
  type Provenance,
} from '../../core/src/analysis/outputSafety';
import {
  entryAt,
  fileProvenanceOf,
  folderProvenanceOf,
  nodeOutputFacts,
  realPathOf,
} from '../../core/src/analysis/outputFacts';
import {
  folderMarkerProblem,
  hasTranslationMark,
  OUTPUT_MARKER,
  translationMarkLine,
} from '../../core/src/io/provenance';
import { ggufFile } from '../helpers/ggufFile';

interface FakeNode {
  kind: EntryKind;
  /** symlink target (absolute) */
  to?: string;
  /** file or folder provenance */
  bitsmith?: boolean;
}

/** An in-memory file system: absolute paths to nodes; parents of every path are folders. */
function fakeFs(nodes: Record<string, FakeNode>): OutputFacts {
  const all = new Map<string, FakeNode>();
  for (const [p, n] of Object.entries(nodes)) {
    all.set(p, n);
    for (let d = path.dirname(p); !all.has(d); d = path.dirname(d)) {
      all.set(d, { kind: 'folder' });
      if (d === '/') break;
    }
  }
  const resolve = (p: string): string => {
    // Component by component, following symbolic links (bounded, like the kernel's).
    const parts = path.resolve(p).split('/').filter(Boolean);
    let cur = '/';
    for (let i = 0, hops = 0; i < parts.length; i++) {
      const next = path.join(cur, parts[i]);
      const n = all.get(next);
      if (n?.kind === 'symlink' && n.to && hops++ < 40) {
        parts.splice(0, i + 1);
        const head = resolve(n.to).split('/').filter(Boolean);
        for (let k = head.length - 1; k >= 0; k--) parts.unshift(head[k]);
        i = -1;
        cur = '/';
        continue;
      }
      cur = next;
    }
    return cur;
  };
  const prov = (p: string): Provenance =>
    all.get(p)?.bitsmith ? { bitsmith: true } : { bitsmith: false, reason: 'Bitsmith did not write it' };
  return {
    entry(p: string): Entry | undefined {
      const n = all.get(path.resolve(p));
      return n ? { kind: n.kind, id: `id:${p}`, detail: n.to } : undefined;
    },
    realPath: resolve,
    fileProvenance: prov,
    folderProvenance: prov,
  };
}

const RECIPE = '/w/r.quant';
const MODEL_FOLDER: Record<string, FakeNode> = {
  '/w/model/model.safetensors': { kind: 'file' },
  '/w/model/config.json': { kind: 'file' },
  '/w/r.quant': { kind: 'file' },
};

function check(text: string, nodes: Record<string, FakeNode>, recipePath: string | null = RECIPE) {
  const { recipe } = interpret(parse(text).file);
  const r = checkOutputSafety(recipe, { recipePath: recipePath ?? undefined, facts: fakeFs(nodes) });
  return { ...r, text };
}

/** The codes, and that each diagnostic covers exactly a quoted path string of the text. */
function codes(r: ReturnType<typeof check>): string[] {
  for (const d of r.diagnostics) {
    const s = r.text.slice(d.start, d.end);
    assert.match(s, /^".*"$/, `${d.code} is on ${JSON.stringify(s)}, not on a path string`);
  }
  return r.diagnostics.map((d) => d.code);
}

const recipeWith = (lines: string, model = 'model') => `model "${model}"\ndefaults { format int8 }\n${lines}\n`;

describe('output safety: the rule', () => {
  it('output compressed_tensors "." in the folder that holds the model and the recipe is refused', () => {
    const r = check(recipeWith('output compressed_tensors "."'), MODEL_FOLDER);
    assert.deepEqual(codes(r), ['output/overwrites-model']);
    assert.match(r.diagnostics[0].message, /\/w contains the model folder \/w\/model/);
    assert.equal(r.destinations[0].ok, false);
  });

  it('a folder output that contains a model named by a deeper path ("data" with data/model) is refused', () => {
    const r = check(recipeWith('output compressed_tensors "data"', 'data/model'), {
      '/w/data/model/model.safetensors': { kind: 'file' },
      '/w/r.quant': { kind: 'file' },
    });
    assert.deepEqual(codes(r), ['output/overwrites-model']);
  });

  it('an export onto the model weights or onto the recipe is refused', () => {
    const r = check(
      recipeWith('export llama_quantize "model/model.safetensors"\nexport llm_compressor "r.quant"'),
      MODEL_FOLDER,
    );
    assert.deepEqual(codes(r), ['export/overwrites-model', 'export/overwrites-recipe']);
  });

  it('a file output inside the model folder is refused, however the path is spelt', () => {
    for (const p of ['model/config.json', './model/../model/config.json', 'model/new.safetensors', '/w/model/x']) {
      const r = check(recipeWith(`output fake "${p}"`), MODEL_FOLDER);
      assert.deepEqual(codes(r), ['output/overwrites-model'], p);
      assert.doesNotMatch(r.diagnostics[0].message, /links/, p);
    }
  });

  it('symbolic links are resolved: a link to the model folder, a link to the model file, a linked parent', () => {
    const nodes = {
      ...MODEL_FOLDER,
      '/w/mlink': { kind: 'symlink' as const, to: '/w/model' },
      '/w/wlink': { kind: 'symlink' as const, to: '/w/model/model.safetensors' },
      '/w/up': { kind: 'symlink' as const, to: '/w' },
    };
    for (const p of ['mlink/x.yaml', 'wlink', 'up/model/config.json', 'up/up/model']) {
      const r = check(recipeWith(`output fake "${p}"`), nodes);
      assert.deepEqual(codes(r), ['output/overwrites-model'], p);
      assert.match(r.diagnostics[0].message, /once links are resolved/, p);
    }
    // A single-file model behind a link.
    const single = check(recipeWith('output fake "out.safetensors"', 'weights/m.safetensors'), {
      '/w/weights/m.safetensors': { kind: 'file' },
      '/w/out.safetensors': { kind: 'symlink', to: '/w/weights/m.safetensors' },
      '/w/r.quant': { kind: 'file' },
    });
    assert.deepEqual(codes(single), ['output/overwrites-model']);
  });

  it('a single-file model: outputs beside it are fine, the file itself is not', () => {
    const nodes = { '/w/m.safetensors': { kind: 'file' as const }, '/w/r.quant': { kind: 'file' as const } };
    assert.deepEqual(codes(check(recipeWith('output fake "m2.safetensors"', 'm.safetensors'), nodes)), []);
    assert.deepEqual(codes(check(recipeWith('output fake "m.safetensors"', 'm.safetensors'), nodes)), [
      'output/overwrites-model',
    ]);
  });

  it('a sharded model named by its index guards the whole folder', () => {
    const nodes = {
      '/w/m/model.safetensors.index.json': { kind: 'file' as const },
      '/w/m/model-00001-of-00002.safetensors': { kind: 'file' as const },
      '/w/r.quant': { kind: 'file' as const },
    };
    const r = check(
      recipeWith('output fake "m/model-00001-of-00002.safetensors"', 'm/model.safetensors.index.json'),
      nodes,
    );
    assert.deepEqual(codes(r), ['output/overwrites-model']);
  });

  it('calibration and held-out token files are inputs: never written', () => {
    const nodes = {
      ...MODEL_FOLDER,
      '/w/cal.json': { kind: 'file' as const },
      '/w/held.json': { kind: 'file' as const },
    };
    const text =
      'model "model"\ncalibration tokens "cal.json"\nevaluate { perplexity "held.json" }\ndefaults { format int8 }\n' +
      'output fake "cal.json"\nexport llm_compressor "held.json"\n';
    assert.deepEqual(codes(check(text, nodes)), ['output/overwrites-input', 'export/overwrites-input']);
  });

  it('two destinations of one recipe may not share a path or nest', () => {
    const same = check(recipeWith('output fake "a.safetensors"\nexport llm_compressor "a.safetensors"'), MODEL_FOLDER);
    assert.deepEqual(codes(same), ['export/overwrites-output']);
    const nested = check(
      recipeWith('output compressed_tensors "out"\nexport llm_compressor "out/r.yaml"'),
      MODEL_FOLDER,
    );
    assert.deepEqual(codes(nested), ['export/overwrites-output']);
    assert.match(nested.diagnostics[0].message, /inside the folder of output compressed_tensors "out"/);
  });

  it('an empty path, a path ending in "/" for a file, and an existing folder for a file are errors', () => {
    assert.deepEqual(codes(check(recipeWith('output fake ""'), MODEL_FOLDER)), ['output/empty-path']);
    assert.deepEqual(codes(check(recipeWith('output fake "outdir/"'), MODEL_FOLDER)), ['output/folder-path']);
    assert.deepEqual(codes(check(recipeWith('export llama_quantize "sub/.."'), MODEL_FOLDER)), ['export/folder-path']);
    const folder = check(recipeWith('output gguf "sub"'), { ...MODEL_FOLDER, '/w/sub/x': { kind: 'file' } });
    assert.deepEqual(codes(folder), ['output/is-a-folder']);
    assert.match(folder.diagnostics[0].message, /name a file \(e\.g\. sub\/model\.gguf\)/);
    // A folder output may end in '/'; a file where a folder output goes is refused.
    assert.deepEqual(codes(check(recipeWith('output compressed_tensors "ct/"'), MODEL_FOLDER)), []);
    const file = check(recipeWith('output compressed_tensors "f"'), {
      ...MODEL_FOLDER,
      '/w/f': { kind: 'file', bitsmith: true },
    });
    assert.deepEqual(codes(file), ['output/not-a-folder']);
    // Under a file nothing can be created.
    const under = check(recipeWith('output fake "LICENSE/x.safetensors"'), {
      ...MODEL_FOLDER,
      '/w/LICENSE': { kind: 'file' },
    });
    assert.deepEqual(codes(under), ['output/not-a-folder']);
  });

  it('devices, FIFOs, sockets and symbolic links are never replaced', () => {
    const nodes: Record<string, FakeNode> = {
      ...MODEL_FOLDER,
      '/dev/null': { kind: 'char-device' },
      '/w/fifo': { kind: 'fifo' },
      '/w/sock': { kind: 'socket' },
      '/w/disk': { kind: 'block-device' },
      '/w/elsewhere': { kind: 'symlink', to: '/tmp/x.safetensors' },
    };
    for (const p of ['/dev/null', 'fifo', 'sock', 'disk', 'elsewhere']) {
      assert.deepEqual(codes(check(recipeWith(`output fake "${p}"`), nodes)), ['output/not-a-file'], p);
    }
  });

  it('an existing file is replaced only when Bitsmith wrote it; the writer gets its identity', () => {
    const nodes: Record<string, FakeNode> = {
      ...MODEL_FOLDER,
      '/w/LICENSE': { kind: 'file' },
      '/w/old.safetensors': { kind: 'file', bitsmith: true },
      '/w/ct': { kind: 'folder', bitsmith: true },
      '/w/mine': { kind: 'folder' },
      '/abs/elsewhere.txt': { kind: 'file' },
    };
    const foreign = check(recipeWith('output fake "LICENSE"\nexport llm_compressor "/abs/elsewhere.txt"'), nodes);
    assert.deepEqual(codes(foreign), ['output/overwrites-foreign', 'export/overwrites-foreign']);
    assert.match(
      foreign.diagnostics[0].message,
      /\/w\/LICENSE exists and Bitsmith did not write it.*Delete it yourself or choose another path/,
    );
    const ours = check(recipeWith('output fake "old.safetensors"\noutput compressed_tensors "ct"'), nodes);
    assert.deepEqual(codes(ours), []);
    assert.deepEqual(
      ours.destinations.map((d) => [d.ok, d.replaces, d.path]),
      [
        [true, 'id:/w/old.safetensors', '/w/old.safetensors'],
        [true, 'id:/w/ct', '/w/ct'],
      ],
    );
    assert.deepEqual(codes(check(recipeWith('output compressed_tensors "mine"'), nodes)), [
      'output/overwrites-foreign',
    ]);
    const fresh = check(recipeWith('output fake "new/a.safetensors"'), nodes);
    assert.deepEqual([fresh.destinations[0].ok, fresh.destinations[0].replaces], [true, null]);
  });

  it('without a recipe path (an unsaved buffer) only the checks that need no file system run', () => {
    const r = check(recipeWith('output fake "model/config.json"\nexport llm_compressor ""'), MODEL_FOLDER, null);
    assert.deepEqual(codes(r), ['export/empty-path']);
  });

  it('analyze reports the rule with the other diagnostics (the editor and `bitsmith check` show it)', () => {
    const a = analyze(recipeWith('output fake "model/config.json"'), {
      recipePath: RECIPE,
      outputFacts: fakeFs(MODEL_FOLDER),
      loadModel: () => {
        throw new Error('not needed');
      },
    });
    assert.ok(a.diagnostics.some((d) => d.code === 'output/overwrites-model' && d.severity === 'error'));
  });
});

describe('output safety: provenance marks', () => {
  it('translations carry a mark line that is recognised (and only near the top)', () => {
    const line = translationMarkLine('r.quant');
    assert.ok(hasTranslationMark(`${line}\nfoo: 1\n`));
    assert.ok(hasTranslationMark(`#!/bin/sh\n${line}\n`));
    assert.ok(!hasTranslationMark('# written by someone\nfoo: 1\n'));
    // Translations of Bitsmith 0.1, before the mark line.
    assert.ok(hasTranslationMark('#!/bin/sh\n# llama-quantize command written by bitsmith from r.quant\n'));
    assert.ok(!hasTranslationMark(`a\nb\nc\nd\n${line}\n`));
  });

  it("a marked folder is Bitsmith's only with exactly the files it lists, unchanged", () => {
    const marker = {
      writer: 'bitsmith' as const,
      version: '0',
      kind: 'compressed-tensors',
      files: [{ name: 'model.safetensors', size: 10, mtimeMs: 5 }],
    };
    const file = { name: 'model.safetensors', kind: 'file', size: 10, mtimeMs: 5 };
    const m = { name: OUTPUT_MARKER, kind: 'file', size: 1, mtimeMs: 1 };
    assert.equal(folderMarkerProblem(marker, [file, m]), undefined);
    assert.match(folderMarkerProblem(marker, [file, m, { ...file, name: 'notes.txt' }])!, /notes\.txt/);
    assert.match(folderMarkerProblem(marker, [{ ...file, size: 11 }])!, /changed since Bitsmith wrote them/);
    assert.match(folderMarkerProblem(marker, [{ ...file, kind: 'folder' }])!, /did not write/);
  });
});

describe('output safety: facts from the file system', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-facts-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const safetensors = (metadata: Record<string, string> | undefined) => {
    const header: Record<string, unknown> = { t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } };
    if (metadata) header.__metadata__ = metadata;
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, Buffer.alloc(4)]);
  };

  it('reads provenance from safetensors metadata, GGUF keys and translation marks', () => {
    const w = (name: string, data: string | Buffer) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, data);
      return p;
    };
    assert.ok(fileProvenanceOf(w('a.safetensors', safetensors({ 'bitsmith.version': '0.1.0' }))).bitsmith);
    assert.ok(!fileProvenanceOf(w('b.safetensors', safetensors({ format: 'pt' }))).bitsmith);
    assert.ok(!fileProvenanceOf(w('c.safetensors', safetensors(undefined))).bitsmith);
    const gguf = (kv: Record<string, string>) => ggufFile([], { 'general.architecture': 'llama', ...kv });
    assert.ok(fileProvenanceOf(w('a.gguf', gguf({ 'bitsmith.version': '0.1.0' }))).bitsmith);
    assert.ok(!fileProvenanceOf(w('b.gguf', gguf({}))).bitsmith);
    assert.ok(fileProvenanceOf(w('r.yaml', `${translationMarkLine('x.quant')}\nstage: {}\n`)).bitsmith);
    assert.ok(!fileProvenanceOf(w('LICENSE', 'MIT License\n')).bitsmith);
    assert.ok(!fileProvenanceOf(w('empty', '')).bitsmith);
  });

  it('a changed file is read again (the cache is keyed by identity)', () => {
    const p = path.join(tmp, 'r.yaml');
    fs.writeFileSync(p, `${translationMarkLine('x.quant')}\n`);
    assert.ok(fileProvenanceOf(p).bitsmith);
    fs.writeFileSync(p, 'my own edits, much longer than before\n');
    assert.ok(!fileProvenanceOf(p).bitsmith);
  });

  it('folders: empty is fine, a marker listing the files is, anything else is not', () => {
    const d = path.join(tmp, 'ct');
    fs.mkdirSync(d);
    assert.ok(folderProvenanceOf(d).bitsmith);
    fs.writeFileSync(path.join(d, 'model.safetensors'), 'x');
    assert.ok(!folderProvenanceOf(d).bitsmith);
    const st = fs.statSync(path.join(d, 'model.safetensors'), { bigint: true });
    const marker = {
      writer: 'bitsmith',
      version: '0',
      kind: 'compressed-tensors',
      files: [{ name: 'model.safetensors', size: 1, mtimeMs: Number(st.mtimeNs / BigInt(1000000)) }],
    };
    fs.writeFileSync(path.join(d, OUTPUT_MARKER), JSON.stringify(marker));
    assert.ok(folderProvenanceOf(d).bitsmith);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'mine');
    assert.ok(!folderProvenanceOf(d).bitsmith);
  });

  it('entries, identities and real paths', () => {
    const f = path.join(tmp, 'f');
    fs.writeFileSync(f, 'x');
    fs.symlinkSync(tmp, path.join(tmp, 'link'));
    assert.equal(entryAt(f)?.kind, 'file');
    assert.equal(entryAt(path.join(tmp, 'link'))?.kind, 'symlink');
    assert.equal(entryAt('/dev/null')?.kind, 'char-device');
    assert.equal(entryAt(path.join(tmp, 'missing')), undefined);
    assert.equal(entryAt(path.join(f, 'under')), undefined);
    const real = fs.realpathSync(tmp);
    assert.equal(realPathOf(path.join(tmp, 'link', 'missing', 'deeper')), path.join(real, 'missing', 'deeper'));
    const id = entryAt(f)!.id;
    fs.writeFileSync(f, 'longer');
    assert.notEqual(entryAt(f)!.id, id);
    assert.equal(nodeOutputFacts.realPath(path.join(tmp, 'link', 'f')), path.join(real, 'f'));
  });
});
