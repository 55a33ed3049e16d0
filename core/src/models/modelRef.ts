// Where a recipe's `model "..."` (or `--model`) points: a path, or a Hugging Face id
// (`org/name`, `org/name@revision`) found in the local Hugging Face cache the way
// huggingface_hub finds a cached snapshot offline. Nothing is ever downloaded.
//
// Which one a string is:
//   - absolute, or starting with ./ or ../ (or .\ ..\), or not shaped like an id: a path,
//     resolved from the base folder (the recipe's folder; the current folder for --model);
//   - shaped like an id (`org/name`, optionally `@revision`): a path when something exists
//     at that relative path (a folder `org/name` beside the recipe wins), else the id.
//     `./org/name` always means the path.
//
// The cache folder (huggingface_hub's constants; `~` and $VARS expanded, an empty
// variable counts as unset): HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (its older name),
// else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
// In it, `models--{org}--{name}/` holds `refs/{revision}` (a file holding a commit hash),
// `snapshots/{commit}/` (the repository's files at that commit, usually symbolic links
// into `../../blobs/`) and `blobs/`. The revision (default `main`) is read from its refs
// file, as huggingface_hub does; without one it must name a snapshot folder: a full commit
// hash, or an unambiguous prefix of at least 7 hex digits.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ModelReadError } from './types';
import { readRegularFile } from './files';

/** The environment variables the cache location depends on. */
export type CacheEnv = Readonly<Record<string, string | undefined>>;

export interface HubModel {
  /** `org/name` */
  id: string;
  /** The revision asked for (`main` when none). */
  revision: string;
  /** The commit the revision resolved to (the snapshot folder's name). */
  commit: string;
  /** The refs file the commit was read from (absent when the revision named the commit). */
  refFile?: string;
  /** The cache folder, and the variable that chose it ('default': ~/.cache/huggingface/hub). */
  cache: string;
  cacheFrom: CacheSource;
  /** `<cache>/models--org--name`: its snapshots, blobs and refs are the model's. */
  repo: string;
  /** `<repo>/snapshots/<commit>`: the folder the model is read from. */
  snapshot: string;
}

export type CacheSource = 'HF_HUB_CACHE' | 'HUGGINGFACE_HUB_CACHE' | 'HF_HOME' | 'XDG_CACHE_HOME' | 'default';

export interface ModelRef {
  /** As written (recipe string or --model value). */
  written: string;
  /** Absolute path the model is read from: the file or folder, the snapshot folder of an
   *  id, or (unresolved id) the relative path it was also tried as. */
  path: string;
  /** How `written` was read. */
  kind: 'path' | 'hub';
  /** An id-shaped string that named an existing relative path (the path won). */
  shadowsId?: boolean;
  hub?: HubModel;
  /** An id that is in no cache: model/not-found naming every path tried. */
  error?: ModelReadError;
}

export interface ResolveOptions {
  env?: CacheEnv;
  /** The home folder for `~` (default os.homedir()). */
  home?: string;
  exists?: (p: string) => boolean;
}

const PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;
const REVISION = /^[A-Za-z0-9._][A-Za-z0-9._/+-]{0,254}$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** `org/name[@revision]` split, when the string is shaped like a Hugging Face model id. */
export function parseHubId(s: string): { id: string; revision?: string } | undefined {
  const at = s.indexOf('@');
  const id = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? undefined : s.slice(at + 1);
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every((p) => PART.test(p))) return undefined;
  // huggingface_hub refuses '--' and '..' in ids ('--' separates the cache folder's parts).
  if (id.includes('--') || id.includes('..') || id.length > 96) return undefined;
  if (revision !== undefined && !validRevision(revision)) return undefined;
  return { id, revision };
}

function validRevision(r: string): boolean {
  return REVISION.test(r) && !r.split('/').some((p) => p === '' || p === '.' || p === '..');
}

/** Written as a path on purpose: absolute, or ./ ../ in front. */
function explicitPath(s: string): boolean {
  return path.isAbsolute(s) || /^\.\.?([\\/]|$)/.test(s);
}

/** `~` and $VAR / ${VAR} expanded as Python's os.path.expanduser and expandvars do (unknown variables stay). */
function expand(p: string, env: CacheEnv, home: string): string {
  let s = p.replace(/\$(\w+)|\$\{([^}]+)\}/g, (m, a: string | undefined, b: string | undefined) => {
    const v = env[(a ?? b)!];
    return v === undefined ? m : v;
  });
  if (s === '~' || s.startsWith('~/') || s.startsWith('~\\')) s = home + s.slice(1);
  return s;
}

/** The Hugging Face cache folder, and which variable chose it. */
export function hubCacheDir(
  env: CacheEnv = process.env,
  home: string = os.homedir(),
): { dir: string; from: CacheSource } {
  const get = (k: string) => {
    const v = env[k];
    return v === undefined || v === '' ? undefined : v;
  };
  const at = (p: string, from: CacheSource) => ({ dir: path.resolve(expand(p, env, home)), from });
  const direct = get('HF_HUB_CACHE');
  if (direct) return at(direct, 'HF_HUB_CACHE');
  const legacy = get('HUGGINGFACE_HUB_CACHE');
  if (legacy) return at(legacy, 'HUGGINGFACE_HUB_CACHE');
  const hfHome = get('HF_HOME');
  if (hfHome) return at(path.join(hfHome, 'hub'), 'HF_HOME');
  const xdg = get('XDG_CACHE_HOME');
  if (xdg) return at(path.join(xdg, 'huggingface', 'hub'), 'XDG_CACHE_HOME');
  return at(path.join(home, '.cache', 'huggingface', 'hub'), 'default');
}

/** How the cache folder was chosen, for messages. */
export function cacheOrigin(from: CacheSource): string {
  switch (from) {
    case 'HF_HUB_CACHE':
      return 'from HF_HUB_CACHE';
    case 'HUGGINGFACE_HUB_CACHE':
      return 'from HUGGINGFACE_HUB_CACHE';
    case 'HF_HOME':
      return 'from HF_HOME';
    case 'XDG_CACHE_HOME':
      return 'from XDG_CACHE_HOME';
    default:
      return 'the default: HF_HUB_CACHE, HF_HOME and XDG_CACHE_HOME are unset';
  }
}

/** The cache folder of a model repository: models--org--name. */
export function hubRepoFolder(cache: string, id: string): string {
  return path.join(cache, `models--${id.split('/').join('--')}`);
}

/** Resolves what a `model` string names (never throws: an unresolved id carries `error`). */
export function resolveModelRef(written: string, baseDir: string, options: ResolveOptions = {}): ModelRef {
  const exists = options.exists ?? fs.existsSync;
  const rel = path.resolve(baseDir, written);
  const hub = explicitPath(written) ? undefined : parseHubId(written);
  if (!hub) return { written, path: rel, kind: 'path' };
  if (exists(rel)) return { written, path: rel, kind: 'path', shadowsId: true };

  const env = options.env ?? process.env;
  const home = options.home ?? os.homedir();
  const { dir: cache, from } = hubCacheDir(env, home);
  const repo = hubRepoFolder(cache, hub.id);
  const revision = hub.revision ?? 'main';
  const download = `huggingface-cli download ${hub.id}${hub.revision ? ` --revision ${hub.revision}` : ''}`;
  const fail = (tried: string[], why: string): ModelRef => ({
    written,
    path: rel,
    kind: 'hub',
    error: new ModelReadError(
      'model/not-found',
      `"${written}" is not a path (nothing at ${rel}) and ${why}. Tried: ${tried.join(', ')}. ` +
        `The Hugging Face cache is ${cache} (${cacheOrigin(from)}). Bitsmith reads the cache and never downloads: ` +
        `run \`${download}\` first, or write ./${written} for a folder beside the recipe`,
      rel,
    ),
  });

  if (!isDir(repo)) return fail([rel, repo], `${hub.id} is not in the Hugging Face cache`);
  const snapshots = path.join(repo, 'snapshots');
  const refFile = path.join(repo, 'refs', revision);
  let commit: string | undefined;
  let fromRef: string | undefined;
  if (isFile(refFile)) {
    let text: string;
    try {
      text = readRegularFile(refFile, 1024, 'a Hugging Face refs file').toString('utf8').trim();
    } catch (e) {
      return fail([rel, refFile], `its refs file cannot be read (${(e as Error).message})`);
    }
    if (!COMMIT.test(text)) {
      return fail([rel, refFile], `${refFile} does not hold a commit hash (40 hex digits)`);
    }
    commit = text;
    fromRef = refFile;
  } else {
    const cached = listDir(snapshots);
    if (cached.includes(revision)) commit = revision;
    else if (/^[0-9a-f]{7,39}$/.test(revision)) {
      const hits = cached.filter((c) => c.startsWith(revision));
      if (hits.length === 1) commit = hits[0];
      else if (hits.length > 1) {
        return fail(
          [rel, refFile, snapshots],
          `revision ${revision} is the prefix of ${hits.length} cached commits (${hits.map((h) => h.slice(0, 12)).join(', ')}): give more digits`,
        );
      }
    }
    if (commit === undefined) {
      return fail(
        [rel, refFile, path.join(snapshots, revision)],
        `revision ${revision} of ${hub.id} is not in the cache (${describeCached(repo)})`,
      );
    }
  }
  const snapshot = path.join(snapshots, commit);
  if (!isDir(snapshot)) {
    return fail(
      [rel, refFile, snapshot],
      `${fromRef ?? 'the revision'} names commit ${commit}, whose snapshot folder is missing (${describeCached(repo)})`,
    );
  }
  return {
    written,
    path: snapshot,
    kind: 'hub',
    hub: {
      id: hub.id,
      revision,
      commit,
      refFile: fromRef,
      cache,
      cacheFrom: from,
      repo,
      snapshot,
    },
  };
}

/** What a cached repository holds, for messages: its refs and snapshot folders. */
function describeCached(repo: string): string {
  const refs = listDir(path.join(repo, 'refs')).filter((r) => isFile(path.join(repo, 'refs', r)));
  const snaps = listDir(path.join(repo, 'snapshots'));
  const show = (xs: string[], f: (x: string) => string) =>
    xs.length === 0 ? 'none' : xs.slice(0, 5).map(f).join(', ') + (xs.length > 5 ? `, … (${xs.length})` : '');
  return `cached refs: ${show(refs, (r) => r)}; snapshots: ${show(snaps, (s) => s.slice(0, 12))}`;
}

function listDir(p: string): string[] {
  try {
    return fs.readdirSync(p).sort();
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** One line for hovers and CLI output: `org/name@main (commit 1a2b3c4d5e6f) in <snapshot>`. */
export function describeModelRef(ref: ModelRef): string {
  if (!ref.hub) return ref.path;
  const h = ref.hub;
  return `${h.id}@${h.revision}${h.revision === h.commit ? '' : ` (commit ${h.commit.slice(0, 12)})`} in ${h.snapshot}`;
}
