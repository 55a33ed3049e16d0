// Reads a Hugging Face model folder: config.json plus safetensors weights, either a single
// model.safetensors, a sharded set described by model.safetensors.index.json (weight_map:
// tensor name -> shard file), or several *.safetensors without an index (all are read).
// Only JSON files and safetensors headers are read.

import * as fs from 'fs';
import * as path from 'path';
import { MAX_TENSORS, ModelReadError, TensorInfo } from './types';
import { readRegularFile } from './files';
import { decodeUtf8, fsError, isPlainObject, parseJsonText, readSafetensorsHeader } from './safetensors';

/** config.json files are small; anything bigger is not a config. */
export const MAX_CONFIG_JSON = 16 * 1024 * 1024;
/** Index files list every tensor name once: a few MiB even for the largest models. */
export const MAX_INDEX_JSON = 100 * 1024 * 1024;

const INDEX_NAME = 'model.safetensors.index.json';

export interface HfFolderHeader {
  /** config.model_type, else config.architectures[0], else "unknown". */
  architecture: string;
  /** config.json contents ({} when the folder has none). */
  config: Record<string, unknown>;
  tensors: TensorInfo[];
  /** Absolute paths of every file read: config.json, the index, the shards. */
  files: string[];
}

/** Reads a small JSON file (a regular file, at most maxBytes, valid UTF-8, strict JSON);
 * errors name the file, and parse errors the line and column. */
export function readJsonFile(file: string, maxBytes: number, what: string): unknown {
  const bytes = readRegularFile(file, maxBytes, what);
  return parseJsonText(decodeUtf8(bytes, file, what), file, what);
}

/** Reads config.json; it must be a JSON object. */
export function readConfigJson(file: string): Record<string, unknown> {
  const json = readJsonFile(file, MAX_CONFIG_JSON, 'config.json');
  if (!isPlainObject(json)) {
    throw new ModelReadError('model/bad-json', `${file}: config.json must be a JSON object`, file);
  }
  return json;
}

/** The architecture a config describes: model_type, else architectures[0]. */
export function architectureOf(config: Record<string, unknown>): string {
  if (typeof config.model_type === 'string' && config.model_type) return config.model_type;
  const archs = config.architectures;
  if (Array.isArray(archs) && typeof archs[0] === 'string' && archs[0]) return archs[0];
  return 'unknown';
}

export function readHfFolder(dir: string): HfFolderHeader {
  const abs = path.resolve(dir);
  let names: string[];
  try {
    names = fs.readdirSync(abs).sort();
  } catch (err) {
    throw fsError(err, abs, 'list folder');
  }
  const files: string[] = [];

  let config: Record<string, unknown> = {};
  if (names.includes('config.json')) {
    const configPath = path.join(abs, 'config.json');
    config = readConfigJson(configPath);
    files.push(configPath);
  }

  const indexes = names.filter((n) => n.endsWith('.safetensors.index.json'));
  const indexName = indexes.includes(INDEX_NAME) ? INDEX_NAME : indexes.length === 1 ? indexes[0] : undefined;
  let tensors: TensorInfo[];
  if (indexName !== undefined) {
    const indexPath = path.join(abs, indexName);
    files.push(indexPath);
    tensors = readIndexed(abs, indexPath, files);
  } else {
    const shards = names.filter((n) => n.endsWith('.safetensors'));
    if (shards.length === 0) {
      const hasBin = names.some((n) => n.endsWith('.bin') || n.endsWith('.pt') || n.endsWith('.pth'));
      throw new ModelReadError(
        'model/unknown-format',
        `${abs}: no model.safetensors, ${INDEX_NAME} or *.safetensors files in the folder` +
          (hasBin ? ' (only PyTorch pickle weights found; convert them to safetensors)' : ''),
        abs,
      );
    }
    tensors = [];
    const owner = new Map<string, string>();
    for (const shard of shards) {
      const shardPath = path.join(abs, shard);
      files.push(shardPath);
      for (const t of readSafetensorsHeader(shardPath).tensors) {
        const other = owner.get(t.name);
        if (other !== undefined) {
          throw new ModelReadError(
            'model/bad-header',
            `${shardPath}: tensor "${t.name}" is also stored in ${other}`,
            shardPath,
          );
        }
        owner.set(t.name, shardPath);
        tensors.push(t);
      }
      if (tensors.length > MAX_TENSORS) throw tooMany(shardPath, tensors.length);
    }
  }
  return { architecture: architectureOf(config), config, tensors, files };
}

/** Reads the shards an index names and checks the index against their headers. */
function readIndexed(dir: string, indexPath: string, files: string[]): TensorInfo[] {
  const bad = (msg: string): ModelReadError => new ModelReadError('model/bad-index', `${indexPath}: ${msg}`, indexPath);
  const index = readJsonFile(indexPath, MAX_INDEX_JSON, 'safetensors index');
  if (!isPlainObject(index) || !isPlainObject(index.weight_map)) {
    throw bad('expected an object with a "weight_map" object (tensor name -> shard file)');
  }
  // Group tensor names by shard, in order of first appearance.
  const byShard = new Map<string, string[]>();
  const entries = Object.entries(index.weight_map);
  if (entries.length > MAX_TENSORS) throw bad(`weight_map lists ${entries.length} tensors (limit ${MAX_TENSORS})`);
  for (const [name, shard] of entries) {
    if (name === '') throw bad('weight_map has an empty tensor name');
    if (typeof shard !== 'string' || shard === '') throw bad(`tensor "${name}" maps to a non-string shard`);
    // On the name as written (links are followed when read: a Hugging Face cache snapshot's
    // shards are links into ../../blobs/, outside the folder).
    const shardPath = path.resolve(dir, shard);
    const rel = path.relative(dir, shardPath);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      throw bad(`tensor "${name}" maps to shard "${shard}" outside the model folder`);
    }
    const list = byShard.get(shardPath);
    if (list) list.push(name);
    else byShard.set(shardPath, [name]);
  }
  if (byShard.size === 0) throw bad('weight_map is empty');

  const tensors: TensorInfo[] = [];
  const owner = new Map<string, string>();
  for (const [shardPath, expected] of byShard) {
    if (!fs.existsSync(shardPath)) {
      throw bad(
        `tensor "${expected[0]}"${expected.length > 1 ? ` (and ${expected.length - 1} more)` : ''} ` +
          `maps to shard "${path.relative(dir, shardPath)}", which does not exist`,
      );
    }
    files.push(shardPath);
    const header = readSafetensorsHeader(shardPath);
    const present = new Set(header.tensors.map((t) => t.name));
    for (const name of expected) {
      if (!present.has(name)) {
        throw bad(
          `tensor "${name}" is listed in shard "${path.relative(dir, shardPath)}" but that shard does not contain it`,
        );
      }
    }
    for (const t of header.tensors) {
      const other = owner.get(t.name);
      if (other !== undefined) {
        throw bad(`tensor "${t.name}" is stored in both ${other} and ${shardPath}`);
      }
      owner.set(t.name, shardPath);
      tensors.push(t);
    }
    if (tensors.length > MAX_TENSORS) throw tooMany(shardPath, tensors.length);
  }
  return tensors;
}

function tooMany(file: string, n: number): ModelReadError {
  return new ModelReadError(
    'model/header-too-large',
    `${file}: the model has more than ${MAX_TENSORS} tensors (${n} so far)`,
    file,
  );
}
