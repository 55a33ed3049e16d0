// The rule that keeps a user's files safe from Bitsmith's writes. Every `output` and
// `export` path may not be, contain or lie inside the model (file or folder; for a Hugging
// Face id its whole cache folder: snapshots, blobs and refs; and the real file behind every
// model file that is a link out of the model's folder), the recipe,
// an input file (calibration, held-out tokens, imatrix) or another output or export of
// the same recipe; may not be a device, FIFO, socket or symbolic link; a file output may
// not name a folder (nor end in '/'), a folder output may not name a file. Something
// already there is replaced only when Bitsmith wrote it (analysis/outputFacts.ts reads the
// provenance: export/provenance.ts). Each problem is one error on the statement's path.
//
// Pure: the file system comes in as OutputFacts (lstat, realpath, provenance), so the
// editor, `bitsmith check`, the commands that write and the tests share one rule. The
// commands check again just before they write, and the writers compare what is at the
// destination with the `replaces` identity this returns right before their rename.

import * as path from 'path';
import type { Span } from '../syntax/ast';
import { diag, type Diagnostic } from './diagnostic';
import type { Destination, Recipe } from './recipe';

export type EntryKind =
  'file' | 'folder' | 'symlink' | 'char-device' | 'block-device' | 'fifo' | 'socket' | 'other' | 'unreadable';

export interface Entry {
  kind: EntryKind;
  /** dev:ino:size:mtimeNs: what a writer compares right before replacing it. */
  id: string;
  /** symlink: where it points; unreadable: why. */
  detail?: string;
}

export type Provenance = { bitsmith: true } | { bitsmith: false; reason: string };

export interface OutputFacts {
  /** What is at p, not following a final symbolic link (lstat); undefined when nothing is. */
  entry(p: string): Entry | undefined;
  /** p with every symbolic link resolved; for a path that does not exist, its deepest
   *  existing ancestor's real path joined with the rest. */
  realPath(p: string): string;
  /** Whether Bitsmith wrote this regular file (its own metadata says so). */
  fileProvenance(p: string): Provenance;
  /** Whether this folder is empty or holds only what Bitsmith wrote there (its marker). */
  folderProvenance(p: string): Provenance;
}

export interface CheckedDestination {
  /** The statement's destination (identity: find a statement's check with ===). */
  destination: Destination;
  keyword: 'output' | 'export';
  kind: string;
  /** Absolute path, as the writers receive it. */
  path: string;
  /** A folder (output compressed_tensors) rather than a file. */
  folder: boolean;
  /** No problem found: the writer may write it. */
  ok: boolean;
  /** ok: the identity (Entry.id) of the Bitsmith output it replaces, or null when nothing is there. */
  replaces: string | null;
  span: Span;
}

export interface OutputSafety {
  diagnostics: Diagnostic[];
  destinations: CheckedDestination[];
}

export interface OutputSafetyContext {
  /** Absolute recipe path. Without it (an unsaved buffer) only the checks that need no file system run. */
  recipePath?: string;
  facts: OutputFacts;
  /** The model as analyze() resolved it (analysis/analyze.ts modelGuardOf); null: the model
   *  string names nothing; undefined: the recipe's model string taken as a path. */
  model?: ModelGuard | null;
}

/** What of a model no output may touch, beyond its own file or folder. */
export interface ModelGuard {
  /** Absolute path of the model as read: a file, or a folder (a Hugging Face id's snapshot). */
  path: string;
  /** Folders that hold the model's data: a Hugging Face cache repository (snapshots, blobs, refs). */
  folders: { path: string; what: string }[];
  /** Files the model was read from: guarded by their real paths, for links that lead out of
   *  the model's folder (a cache snapshot's files are links into its blobs). */
  files: string[];
}

/** The statements that write, in recipe order (outputs, then exports). */
export function destinationsOf(recipe: Recipe): { keyword: 'output' | 'export'; d: Destination }[] {
  return [
    ...recipe.outputs.map((d) => ({ keyword: 'output' as const, d })),
    ...recipe.exports.map((d) => ({ keyword: 'export' as const, d })),
  ];
}

export function checkOutputSafety(recipe: Recipe, ctx: OutputSafetyContext): OutputSafety {
  const { recipePath } = ctx;
  const facts = memoized(ctx.facts);
  const diagnostics: Diagnostic[] = [];
  const destinations: CheckedDestination[] = [];
  const base = recipePath ? path.dirname(recipePath) : undefined;
  const abs = (p: string) => path.resolve(base ?? '/', p);

  // What no output may touch, by real path.
  interface Guarded {
    real: string;
    /** As written (links not resolved): to say when only links make the paths meet. */
    lexical: string;
    folder: boolean;
    code: string;
    what: string;
  }
  const guarded: Guarded[] = [];
  if (base) {
    const model =
      ctx.model === undefined
        ? recipe.model
          ? { path: abs(recipe.model.path), folders: [], files: [] }
          : null
        : ctx.model;
    if (model) {
      const p = model.path;
      const real = facts.realPath(p);
      const e = facts.entry(real);
      // A sharded model named by its index reads every shard of the folder.
      const isFolder = e?.kind === 'folder';
      const folder = isFolder || /\.index\.json$/i.test(real);
      guarded.push({
        real: isFolder ? real : folder ? path.dirname(real) : real,
        lexical: folder && !isFolder ? path.dirname(p) : p,
        folder,
        code: 'overwrites-model',
        what: isFolder ? `the model folder ${p}` : folder ? `the model folder ${path.dirname(p)}` : `the model ${p}`,
      });
      const modelReal = guarded[guarded.length - 1];
      for (const f of model.folders) {
        guarded.push({
          real: facts.realPath(f.path),
          lexical: f.path,
          folder: true,
          code: 'overwrites-model',
          what: `${f.what} ${f.path}`,
        });
      }
      for (const f of model.files) {
        // Files inside the model's folder are covered by it; links out of it are not.
        const r = facts.realPath(f);
        if (modelReal.folder ? overlap(r, modelReal.real, true) : r === modelReal.real) continue;
        guarded.push({ real: r, lexical: f, folder: false, code: 'overwrites-model', what: `the model file ${f}` });
      }
    }
    guarded.push({
      real: facts.realPath(recipePath!),
      lexical: path.resolve(recipePath!),
      folder: false,
      code: 'overwrites-recipe',
      what: `the recipe ${recipePath}`,
    });
    const inputs: { value: string; what: string }[] = [];
    const cal = recipe.calibration;
    if (cal?.path) inputs.push({ value: cal.path.value, what: `the calibration ${cal.kind} file` });
    const tokens = recipe.evaluate?.perplexity?.tokens;
    if (tokens) inputs.push({ value: tokens.value, what: 'the held-out token file' });
    for (const i of inputs) {
      const p = abs(i.value);
      const real = facts.realPath(p);
      guarded.push({
        real,
        lexical: p,
        folder: facts.entry(real)?.kind === 'folder',
        code: 'overwrites-input',
        what: `${i.what} ${p}`,
      });
    }
  }

  const written: { real: string; folder: boolean; label: string }[] = [];
  for (const { keyword, d } of destinationsOf(recipe)) {
    const folderOut = keyword === 'output' && d.kind === 'compressed_tensors';
    const label = `${keyword} ${d.kind}`;
    const value = d.path.value;
    const target = abs(value);
    const checked: CheckedDestination = {
      destination: d,
      keyword,
      kind: d.kind,
      path: target,
      folder: folderOut,
      ok: false,
      replaces: null,
      span: d.path.span,
    };
    destinations.push(checked);
    const problem = (code: string, message: string) =>
      diagnostics.push(diag(`${keyword}/${code}`, 'error', d.path.span, message));

    if (value.trim() === '') {
      problem('empty-path', `'${label}' needs a ${folderOut ? 'folder' : 'file'} path: this one is empty`);
      continue;
    }
    if (!folderOut && (/[\\/]$/.test(value) || /(^|[\\/])\.\.?$/.test(value))) {
      problem(
        'folder-path',
        `'${value}' names a folder, and '${label}' writes a file: give the file's name (e.g. ${path.posix.join(value.replace(/[\\/]+$/, '') || '.', exampleName(keyword, d.kind))})`,
      );
      continue;
    }
    if (!base) {
      checked.ok = true;
      continue;
    }

    const real = facts.realPath(target);
    let refused = false;
    for (const g of guarded) {
      const why = overlap(real, g.real, g.folder);
      if (!why) continue;
      const shown = overlap(target, g.lexical, g.folder) ? target : `${target} (${real} once links are resolved)`;
      problem(
        g.code,
        why === 'same'
          ? `${shown} is ${g.what}: '${label}' would overwrite it`
          : why === 'inside'
            ? `${shown} is inside ${g.what}: '${label}' may not write there`
            : `${shown} contains ${g.what}: '${label}' would replace what holds it`,
      );
      refused = true;
      break;
    }
    if (refused) continue;
    const other = written.find((w) => overlap(real, w.real, w.folder));
    written.push({ real, folder: folderOut, label: statementText(keyword, d) });
    if (other) {
      const why = overlap(real, other.real, other.folder);
      problem(
        'overwrites-output',
        why === 'same'
          ? `${target} is also the path of ${other.label}: each output needs its own path`
          : why === 'inside'
            ? `${target} is inside the folder of ${other.label}, which replaces that folder as a whole`
            : `${target} contains the path of ${other.label}: the two outputs would overwrite each other`,
      );
      continue;
    }

    const e = facts.entry(target);
    if (!e) {
      const blocker = ancestorProblem(target, facts);
      if (blocker) {
        problem('not-a-folder', blocker);
        continue;
      }
      checked.ok = true;
      continue;
    }
    switch (e.kind) {
      case 'unreadable':
        problem(
          'unreadable',
          `${target} cannot be checked (${e.detail ?? 'unknown error'}), so Bitsmith will not replace it`,
        );
        continue;
      case 'symlink':
        problem(
          'not-a-file',
          `${target} is a symbolic link${e.detail ? ` (to ${e.detail})` : ''}: Bitsmith does not replace links. Remove the link or choose another path`,
        );
        continue;
      case 'char-device':
      case 'block-device':
      case 'fifo':
      case 'socket':
      case 'other':
        problem(
          'not-a-file',
          `${target} is ${KIND_TEXT[e.kind]}, not a ${folderOut ? 'folder' : 'regular file'}: Bitsmith writes only regular files and folders`,
        );
        continue;
      case 'folder':
        if (!folderOut) {
          problem(
            'is-a-folder',
            `${target} is a folder, and '${label}' writes a file: name a file (e.g. ${path.join(value, exampleName(keyword, d.kind))})`,
          );
          continue;
        }
        break;
      case 'file':
        if (folderOut) {
          problem('not-a-folder', `${target} is a file, and '${label}' writes a folder: choose another path`);
          continue;
        }
        break;
    }
    const prov = folderOut ? facts.folderProvenance(target) : facts.fileProvenance(target);
    if (!prov.bitsmith) {
      problem(
        'overwrites-foreign',
        `${target} exists and ${prov.reason}: it will not be replaced. Delete it yourself or choose another path`,
      );
      continue;
    }
    checked.ok = true;
    checked.replaces = e.id;
  }
  return { diagnostics, destinations };
}

/** The facts with lstat and realpath asked once per path in one check (the same folders come up often). */
function memoized(f: OutputFacts): OutputFacts {
  const entries = new Map<string, Entry | undefined>();
  const reals = new Map<string, string>();
  return {
    entry: (p) => {
      if (!entries.has(p)) entries.set(p, f.entry(p));
      return entries.get(p);
    },
    realPath: (p) => {
      let r = reals.get(p);
      if (r === undefined) reals.set(p, (r = f.realPath(p)));
      return r;
    },
    fileProvenance: (p) => f.fileProvenance(p),
    folderProvenance: (p) => f.folderProvenance(p),
  };
}

const KIND_TEXT: Record<string, string> = {
  'char-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a FIFO',
  socket: 'a socket',
  other: 'neither a file nor a folder',
};

function exampleName(keyword: string, kind: string): string {
  if (keyword === 'export') return kind === 'llama_quantize' ? 'quantize.sh' : 'recipe.yaml';
  return kind === 'imatrix' ? 'imatrix.gguf' : kind === 'gguf' ? 'model.gguf' : 'model.safetensors';
}

/** The statement as written, to name it in a message. */
function statementText(keyword: string, d: Destination): string {
  return `${keyword} ${d.kind} "${d.path.value}"`;
}

/** How path a relates to b (a folder when bFolder): the same, a inside b, a containing b, or apart. */
function overlap(a: string, b: string, bFolder: boolean): 'same' | 'inside' | 'contains' | undefined {
  if (a === b) return 'same';
  if (bFolder && isInside(a, b)) return 'inside';
  // Any output contains what lies under its path (a file output replaces a folder there as a whole).
  if (isInside(b, a)) return 'contains';
  return undefined;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** The deepest existing ancestor of a missing path must be a folder (else nothing can be created under it). */
function ancestorProblem(target: string, facts: OutputFacts): string | undefined {
  let dir = path.dirname(target);
  for (;;) {
    const e = facts.entry(dir);
    if (e) {
      const kind = e.kind === 'symlink' ? facts.entry(facts.realPath(dir))?.kind : e.kind;
      return kind === 'folder' || kind === undefined
        ? undefined
        : `${dir} is not a folder, so ${target} cannot be created`;
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
