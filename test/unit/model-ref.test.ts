// `model "org/name[@revision]"`: Hugging Face ids resolved in a local cache laid out as
// huggingface_hub lays it out (test/helpers/hfCache.ts), with its environment rules; paths
// that exist win over ids; every path tried is named when nothing is found; outputs stay
// out of the snapshot and its blobs; --model (modelOverride) replaces the recipe's model.
import { strict as assert } from 'node:assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Hover, MarkupContent } from 'vscode-languageserver';
import { analyze } from '../../core/src/analyze';
import { hubCacheDir, parseHubId, resolveModelRef } from '../../core/src/models/modelRef';
import { readModelHeader } from '../../core/src/models/load';
import { planToJson } from '../../core/src/serialize';
import { hover } from '../../server/src/features/hover';
import { makeDocument } from '../../server/src/features/document';
import { COMMIT_A, COMMIT_B, makeHfRepo, stories260KFiles } from '../helpers/hfCache';

const root = path.join(__dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-hf-'));
const cache = path.join(tmp, 'hub');
const env = { HF_HUB_CACHE: cache };
const recipes = path.join(tmp, 'recipes');
fs.mkdirSync(recipes);
const recipePath = path.join(recipes, 'r.quant');
// A third commit sharing COMMIT_A's first 8 digits: prefixes must be unambiguous.
const COMMIT_A2 = 'a'.repeat(8) + 'ffffffffffffffffffffffffffffffff';

let repo: string;
before(() => {
  const files = stories260KFiles(root);
  repo = makeHfRepo(
    cache,
    'tiny/stories260K',
    [
      { hash: COMMIT_A, files },
      { hash: COMMIT_B, files: { ...files, 'README.md': 'revision B' } },
      { hash: COMMIT_A2, files: { 'config.json': files['config.json'] } },
    ],
    { main: COMMIT_A, v2: COMMIT_B, 'refs/pr/1': COMMIT_B },
  );
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const resolve = (s: string, base = recipes) => resolveModelRef(s, base, { env, home: '/home/u' });

describe('Hugging Face ids', () => {
  it('are org/name with an optional @revision; anything else is a path', () => {
    // [written, id, revision] (undefined id: a path).
    const table: [string, string | undefined, string | undefined][] = [
      ['meta-llama/Llama-3.2-1B', 'meta-llama/Llama-3.2-1B', undefined],
      ['Qwen/Qwen2.5-0.5B@main', 'Qwen/Qwen2.5-0.5B', 'main'],
      ['org/name@refs/pr/1', 'org/name', 'refs/pr/1'],
      [`org/name@${COMMIT_A}`, 'org/name', COMMIT_A],
      ['stories260K', undefined, undefined], // no org: a path
      ['a/b/c', undefined, undefined], // two slashes: a path
      ['org--x/name', undefined, undefined], // '--' is not allowed in ids
      ['org/na..me', undefined, undefined],
      ['org/name@../x', undefined, undefined], // a revision may not climb out of refs/
      ['org/name@', undefined, undefined],
      ['-org/name', undefined, undefined],
      ['org\\name', undefined, undefined],
    ];
    for (const [s, id, revision] of table) {
      const got = parseHubId(s);
      assert.deepEqual(got && { id: got.id, revision: got.revision }, id && { id, revision }, s);
    }
  });

  it('find the cache as huggingface_hub does: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub', () => {
    const home = '/home/u';
    // [env, expected dir, source]; each row drops the variable that won the row before.
    const table: [Record<string, string>, string, string][] = [
      [
        { HF_HUB_CACHE: '/c1', HUGGINGFACE_HUB_CACHE: '/c2', HF_HOME: '/h', XDG_CACHE_HOME: '/x' },
        '/c1',
        'HF_HUB_CACHE',
      ],
      [{ HUGGINGFACE_HUB_CACHE: '/c2', HF_HOME: '/h', XDG_CACHE_HOME: '/x' }, '/c2', 'HUGGINGFACE_HUB_CACHE'],
      [{ HF_HOME: '/h', XDG_CACHE_HOME: '/x' }, '/h/hub', 'HF_HOME'],
      [{ XDG_CACHE_HOME: '/x' }, '/x/huggingface/hub', 'XDG_CACHE_HOME'],
      [{}, '/home/u/.cache/huggingface/hub', 'default'],
      // An empty variable counts as unset; ~ and $VARS are expanded (os.path.expanduser/expandvars).
      [{ HF_HUB_CACHE: '', HF_HOME: '~/hf' }, '/home/u/hf/hub', 'HF_HOME'],
      [{ HF_HUB_CACHE: '$BASE/cache', BASE: '/data' }, '/data/cache', 'HF_HUB_CACHE'],
      [{ HF_HUB_CACHE: '${BASE}/c' }, path.resolve('${BASE}/c'), 'HF_HUB_CACHE'], // unknown: kept
    ];
    for (const [e, dir, from] of table) assert.deepEqual(hubCacheDir(e, home), { dir, from }, JSON.stringify(e));
  });

  it('resolve main through refs/main to its snapshot folder', () => {
    const r = resolve('tiny/stories260K');
    assert.equal(r.kind, 'hub');
    assert.equal(r.error, undefined);
    assert.equal(r.path, path.join(repo, 'snapshots', COMMIT_A));
    assert.deepEqual(
      { id: r.hub!.id, revision: r.hub!.revision, commit: r.hub!.commit, refFile: r.hub!.refFile },
      { id: 'tiny/stories260K', revision: 'main', commit: COMMIT_A, refFile: path.join(repo, 'refs', 'main') },
    );
    assert.equal(r.hub!.repo, repo);
    assert.equal(r.hub!.cacheFrom, 'HF_HUB_CACHE');
  });

  it('resolve a branch, a PR ref, a full commit and an unambiguous commit prefix', () => {
    const snap = (c: string) => path.join(repo, 'snapshots', c);
    assert.equal(resolve('tiny/stories260K@v2').path, snap(COMMIT_B));
    assert.equal(resolve('tiny/stories260K@refs/pr/1').path, snap(COMMIT_B));
    const direct = resolve(`tiny/stories260K@${COMMIT_B}`);
    assert.equal(direct.path, snap(COMMIT_B));
    assert.equal(direct.hub!.refFile, undefined);
    assert.equal(resolve('tiny/stories260K@bbbbbbbbfe').path, snap(COMMIT_B));
    const ambiguous = resolve('tiny/stories260K@aaaaaaaa');
    assert.match(ambiguous.error!.message, /prefix of 2 cached commits/);
  });

  it('name every path tried, the cache and how it was chosen, and huggingface-cli, when the id is not cached', () => {
    const r = resolve('nobody/nothing');
    assert.equal(r.error?.code, 'model/not-found');
    const m = r.error!.message;
    assert.ok(m.includes(path.join(recipes, 'nobody/nothing')), m);
    assert.ok(m.includes(path.join(cache, 'models--nobody--nothing')), m);
    assert.match(m, /from HF_HUB_CACHE/);
    assert.match(m, /never downloads: run `huggingface-cli download nobody\/nothing`/);
    assert.match(m, /\.\/nobody\/nothing for a folder/);

    const rev = resolve('tiny/stories260K@v9');
    assert.ok(rev.error!.message.includes(path.join(repo, 'refs', 'v9')), rev.error!.message);
    assert.ok(rev.error!.message.includes(path.join(repo, 'snapshots', 'v9')), rev.error!.message);
    assert.match(rev.error!.message, /cached refs: main, v2; snapshots: aaaaaaaa0123, aaaaaaaaffff, bbbbbbbbfedc/);
    assert.match(rev.error!.message, /huggingface-cli download tiny\/stories260K --revision v9/);

    const dflt = resolveModelRef('nobody/nothing', recipes, { env: {}, home: '/home/u' });
    assert.match(
      dflt.error!.message,
      /\/home\/u\/\.cache\/huggingface\/hub \(the default: HF_HUB_CACHE, HF_HOME and XDG_CACHE_HOME are unset\)/,
    );
  });

  it('refuse a refs file that holds no commit, and a commit whose snapshot is missing', () => {
    const c2 = path.join(tmp, 'hub2');
    const r2 = makeHfRepo(c2, 'x/y', [{ hash: COMMIT_A, files: { 'config.json': '{}' } }], {
      main: COMMIT_A,
      bad: 'not a hash\n',
      gone: COMMIT_B,
    });
    const e = { HF_HUB_CACHE: c2 };
    assert.match(resolveModelRef('x/y@bad', recipes, { env: e }).error!.message, /does not hold a commit hash/);
    const gone = resolveModelRef('x/y@gone', recipes, { env: e }).error!.message;
    assert.match(gone, /names commit b{8}/);
    assert.ok(gone.includes(path.join(r2, 'snapshots', COMMIT_B)), gone);
  });

  it('a path that exists wins over an id of the same spelling, and ./org/name is always a path', () => {
    const shadow = path.join(tmp, 'shadow');
    fs.mkdirSync(path.join(shadow, 'tiny/stories260K'), { recursive: true });
    const r = resolve('tiny/stories260K', shadow);
    assert.deepEqual([r.kind, r.path, r.shadowsId], ['path', path.join(shadow, 'tiny/stories260K'), true]);
    const forced = resolve('./tiny/stories260K');
    assert.deepEqual(
      [forced.kind, forced.path, forced.error],
      ['path', path.join(recipes, 'tiny/stories260K'), undefined],
    );
  });
});

describe('analysis of a recipe naming a Hugging Face id', () => {
  const text =
    'model "tiny/stories260K"\ndefaults { format int4; group 32 }\nmatch "*.mlp.down_proj" { group channel }\n';

  it('reads the snapshot (links into blobs) and plans it; the plan JSON names the id and commit', () => {
    const a = analyze(text, { recipePath, env });
    assert.equal(a.diagnostics.filter((d) => d.severity === 'error').length, 0, JSON.stringify(a.diagnostics));
    assert.equal(a.model!.path, path.join(repo, 'snapshots', COMMIT_A));
    assert.equal(a.model!.format, 'hf-folder');
    assert.equal(a.model!.tensors.length, readModelHeader(path.join(root, 'examples/stories260K')).tensors.length);
    assert.deepEqual(planToJson(a, text)!.model.hub, { id: 'tiny/stories260K', revision: 'main', commit: COMMIT_A });
  });

  it('an id not in the cache is an error on the model string', () => {
    const t = 'model "nobody/nothing"\ndefaults { format int8 }\n';
    const a = analyze(t, { recipePath, env });
    const d = a.diagnostics.find((x) => x.code === 'model/not-found')!;
    assert.ok(d, JSON.stringify(a.diagnostics));
    assert.equal(t.slice(d.start, d.end), '"nobody/nothing"');
    assert.match(d.message, /huggingface-cli download/);
  });

  it('a snapshot without weights says the download may be incomplete', () => {
    const a = analyze(`model "tiny/stories260K@${COMMIT_A2}"\ndefaults { format int8 }\n`, { recipePath, env });
    const d = a.diagnostics.find((x) => x.code === 'model/unknown-format');
    assert.ok(d, JSON.stringify(a.diagnostics));
    assert.match(
      d.message,
      /is the download complete\? `huggingface-cli download tiny\/stories260K --revision a{8}f+`/,
    );
  });

  it('--model replaces the recipe model: a path from the current folder, or an id; errors say --model', () => {
    const noModel = 'defaults { format int8; group channel }\n';
    const byPath = analyze(noModel, { recipePath, modelOverride: 'examples/stories260K', modelBase: root, env });
    assert.equal(
      byPath.diagnostics.filter((d) => d.severity === 'error').length,
      0,
      JSON.stringify(byPath.diagnostics),
    );
    assert.equal(byPath.model!.path, path.join(root, 'examples/stories260K'));
    const byId = analyze(text, { recipePath, modelOverride: 'tiny/stories260K@v2', modelBase: root, env });
    assert.equal(byId.model!.path, path.join(repo, 'snapshots', COMMIT_B));
    const bad = analyze(text, { recipePath, modelOverride: 'nobody/nothing', modelBase: root, env });
    const d = bad.diagnostics.find((x) => x.code === 'model/not-found')!;
    assert.match(d.message, /^--model nobody\/nothing: /);
    assert.equal(text.slice(d.start, d.end), '"tiny/stories260K"');
    // Without a model statement the error goes on the first line, and no recipe/missing-model.
    const none = analyze(noModel, { recipePath, modelOverride: 'nobody/nothing', modelBase: root, env });
    assert.ok(none.diagnostics.some((x) => x.code === 'model/not-found' && x.start === 0));
    assert.ok(!none.diagnostics.some((x) => x.code === 'recipe/missing-model'));
  });

  it('outputs may not land in the snapshot, its blobs or its refs', () => {
    const snap = path.join(repo, 'snapshots', COMMIT_A);
    const blob = fs.realpathSync(path.join(snap, 'model.safetensors'));
    const cases: [string, RegExp][] = [
      [path.join(snap, 'out.safetensors'), /is inside the model folder/],
      [path.join(repo, 'blobs', 'new.safetensors'), /is inside the Hugging Face cache folder of tiny\/stories260K/],
      [blob, /is inside the Hugging Face cache folder of tiny\/stories260K/],
      [path.join(repo, 'refs', 'out.yaml'), /is inside the Hugging Face cache folder/],
    ];
    for (const [out, msg] of cases) {
      const kind = out.endsWith('.yaml') ? 'export llm_compressor' : 'output fake';
      const a = analyze(`${text}${kind} "${out}"\n`, { recipePath, env });
      const d = a.diagnostics.filter((x) => x.code.endsWith('/overwrites-model'));
      assert.equal(d.length, 1, `${out}: ${JSON.stringify(a.diagnostics.map((x) => x.message))}`);
      assert.match(d[0].message, msg);
    }
    // Beside the recipe is fine.
    const ok = analyze(`${text}output fake "out/m.safetensors"\n`, { recipePath, env });
    assert.equal(ok.diagnostics.filter((x) => x.severity === 'error').length, 0);
  });

  it('a model folder whose files are links elsewhere guards the files the links lead to', () => {
    const elsewhere = path.join(tmp, 'elsewhere');
    const folder = path.join(tmp, 'linked');
    fs.mkdirSync(elsewhere);
    fs.mkdirSync(folder);
    for (const f of ['config.json', 'model.safetensors']) {
      fs.copyFileSync(path.join(root, 'examples/stories260K', f), path.join(elsewhere, f));
      fs.symlinkSync(path.join(elsewhere, f), path.join(folder, f));
    }
    const a = analyze(
      `model "${folder}"\ndefaults { format int8 }\noutput fake "${path.join(elsewhere, 'model.safetensors')}"\n`,
      {
        recipePath,
      },
    );
    const d = a.diagnostics.find((x) => x.code === 'output/overwrites-model');
    assert.ok(d, JSON.stringify(a.diagnostics));
    assert.match(d.message, /is the model file .*linked\/model\.safetensors/);
  });

  it('a sharded index whose shard is a link to a blob outside the folder is read', () => {
    const c3 = path.join(tmp, 'hub3');
    const files = stories260KFiles(root);
    const names = readModelHeader(path.join(root, 'examples/stories260K')).tensors.map((t) => t.name);
    // Every tensor in one shard named by the index: the shard is a link to ../../blobs/<sha>.
    const weightMap: Record<string, string> = {};
    for (const n of names) weightMap[n] = 'model-00001-of-00001.safetensors';
    makeHfRepo(c3, 'tiny/sharded', [
      {
        hash: COMMIT_A,
        files: {
          'config.json': files['config.json'],
          'model-00001-of-00001.safetensors': files['model.safetensors'],
          'model.safetensors.index.json': JSON.stringify({ metadata: {}, weight_map: weightMap }),
        },
      },
    ]);
    const a = analyze('model "tiny/sharded"\ndefaults { format int8; group channel }\n', {
      recipePath,
      env: { HF_HUB_CACHE: c3 },
    });
    assert.equal(a.diagnostics.filter((d) => d.severity === 'error').length, 0, JSON.stringify(a.diagnostics));
    assert.equal(a.model!.tensors.length, names.length);
    assert.ok(a.model!.files.some((f) => f.endsWith('model-00001-of-00001.safetensors')));
  });

  it('hover on model shows the id, the revision, the commit and the snapshot folder', () => {
    const hoverOn = (t: string) => {
      const a = analyze(t, { recipePath, env });
      const d = makeDocument('file:///r.quant', 1, t, a, recipePath);
      const h: Hover | null = hover(d, d.lines.position(2));
      return h ? (h.contents as MarkupContent).value : '';
    };
    const v = hoverOn(text);
    assert.match(v, /\*\*Model\*\* `tiny\/stories260K` from the Hugging Face cache/);
    assert.ok(v.includes(`\`main\` → commit \`${COMMIT_A}\` (from its refs file)`), v);
    assert.ok(v.includes(`Folder \`${path.join(repo, 'snapshots', COMMIT_A)}\``), v);
    assert.match(v, /\| architecture \| llama \|/);
    const missing = hoverOn('model "nobody/nothing"\n');
    assert.match(missing, /`nobody\/nothing` \(a Hugging Face id, not found\)/);
    assert.match(missing, /huggingface-cli download nobody\/nothing/);
  });
});
