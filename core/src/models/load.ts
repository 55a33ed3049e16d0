// Entry point: detects a model's format from its path (and magic bytes) and builds a
// ModelHeader from the matching header reader. Never reads tensor data.

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ModelFormat, ModelHeader, ModelReadError, TensorInfo } from './types';
import { fileKind } from './files';
import { fsError, readExact, readSafetensorsHeader, withModelFile } from './safetensors';
import { readGgufHeader } from './gguf';
import { readLlama2cHeader } from './llama2c';
import { architectureOf, readConfigJson, readHfFolder } from './hfFolder';

export function readModelHeader(modelPath: string): ModelHeader {
  const abs = path.resolve(modelPath);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    throw fsError(err, abs, 'stat');
  }

  if (st.isDirectory()) {
    const h = readHfFolder(abs);
    return build(abs, 'hf-folder', h.architecture, h.config, h.tensors, h.files);
  }
  if (!st.isFile()) {
    throw new ModelReadError('model/unreadable', `${abs}: is ${fileKind(st)}, not a regular file or folder`, abs);
  }

  // The first bytes settle GGUF whatever the extension, and reveal PyTorch pickles in .bin.
  const magic = withModelFile(abs, (f) => readExact(f, 0, Math.min(8, f.size), 'magic bytes'));
  const ext = path.extname(abs).toLowerCase();

  if (magic.subarray(0, 4).toString('latin1') === 'GGUF' || ext === '.gguf') {
    const h = readGgufHeader(abs);
    const arch = h.metadata['general.architecture'];
    return build(abs, 'gguf', typeof arch === 'string' && arch ? arch : 'unknown', h.metadata, h.tensors, [abs]);
  }
  if (ext === '.safetensors') {
    const h = readSafetensorsHeader(abs);
    // A config.json beside a lone .safetensors describes it (the usual HF layout).
    const configPath = path.join(path.dirname(abs), 'config.json');
    if (fs.existsSync(configPath)) {
      const config = readConfigJson(configPath);
      return build(abs, 'safetensors', architectureOf(config), config, h.tensors, [abs, configPath]);
    }
    return build(abs, 'safetensors', 'unknown', {}, h.tensors, [abs]);
  }
  if (ext === '.bin') {
    if (isPyTorchPickle(magic)) {
      throw new ModelReadError(
        'model/unknown-format',
        `${abs}: this is a PyTorch checkpoint (zip/pickle), not a llama2.c .bin; convert it to safetensors`,
        abs,
      );
    }
    const h = readLlama2cHeader(abs);
    return build(abs, 'llama2c', 'llama', { ...h.config }, h.tensors, [abs]);
  }
  throw new ModelReadError(
    'model/unknown-format',
    `${abs}: unrecognised model format (expected a folder, .safetensors, .gguf or llama2.c .bin)`,
    abs,
  );
}

/** torch.save writes a zip ("PK\x03\x04"); older checkpoints are raw pickles (0x80 proto). */
function isPyTorchPickle(magic: Buffer): boolean {
  if (magic.length >= 4 && magic.readUInt32LE(0) === 0x04034b50) return true;
  return magic.length >= 2 && magic[0] === 0x80 && magic[1] >= 2 && magic[1] <= 5;
}

function build(
  abs: string,
  format: ModelFormat,
  architecture: string,
  config: Record<string, unknown>,
  tensors: TensorInfo[],
  files: string[],
): ModelHeader {
  let parameters = 0;
  let bytes = 0;
  const byDtype = new Map<string, number>();
  for (const t of tensors) {
    parameters += t.elements;
    bytes += t.bytes;
    byDtype.set(t.dtype, (byDtype.get(t.dtype) ?? 0) + t.elements);
  }
  let dtype = 'none';
  let best = -1;
  for (const [d, n] of byDtype) {
    if (n > best) {
      best = n;
      dtype = d;
    }
  }
  return { path: abs, format, architecture, tensors, parameters, bytes, dtype, config, files: [...new Set(files)] };
}

/**
 * A cache key for a header: changes when any file read to build it is replaced, resized or
 * touched. Built from each file's path, size and mtimeMs (no content hashing: stays cheap).
 */
export function modelFingerprint(header: ModelHeader): string {
  const h = crypto.createHash('sha256');
  h.update(`${header.format}\n`);
  for (const file of header.files) {
    let line: string;
    try {
      const st = fs.statSync(file);
      line = `${file}\0${st.size}\0${st.mtimeMs}`;
    } catch {
      line = `${file}\0missing`;
    }
    h.update(`${line}\n`);
  }
  return h.digest('hex');
}

/** One-line description, e.g. "stories260K: llama, 260.03K params in 47 tensors, F32, 1015.8 KiB (hf-folder)". */
export function describeModel(header: ModelHeader): string {
  const name = path.basename(header.path);
  return (
    `${name}: ${header.architecture}, ${formatCount(header.parameters)} params in ${header.tensors.length} tensors, ` +
    `${header.dtype}, ${formatBytes(header.bytes)} (${header.format})`
  );
}

function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [size, unit] of units) {
    if (n >= size) return `${Number((n / size).toPrecision(n / size >= 100 ? 5 : 4))}${unit}`;
  }
  return String(n);
}

function formatBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (n < 1024) return `${n} B`;
  let v = n;
  let unit = 'B';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return `${v.toFixed(1)} ${unit}`;
}
