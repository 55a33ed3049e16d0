// Measured (tensor, candidate) figures, cached on disk beside the recipe so that
// re-allocating at another budget, the language server and later runs never recompute.
//
// One file per measuring context: the model (its files' sizes and mtimes), the calibration
// (kind, options, and its file's size and mtime). Inside, one entry per tensor and
// candidate configuration: the format and every property that changes the stored codes
// (group, symmetric, scale, zero, clip, outliers, lowrank, rotate, method and its options),
// so editing one rule re-measures only the tensors it changes.

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { PropValues } from '../analysis/recipe';
import { BUILTIN_DEFAULTS } from '../analysis/resolve';

export const MEASUREMENTS_VERSION = 1;

export interface MeasureContext {
  model: string;
  modelFingerprint: string;
  calibration?: { kind: string; path?: string; stamp?: string; samples?: number; length?: number; seed?: number };
}

export interface MeasurementEntry {
  tensor: string;
  format: string;
  /** The method that ran (may differ from the rule's when it does not apply: say so). */
  method: string;
  bytes: number;
  relError: number;
  /** ||dW||^2 */
  squaredError: number;
  /** tr(dW H dW^T) on the calibration inputs, when the forward pass sees the tensor's input. */
  outputErrorSum?: number;
  outputError?: number;
}

export interface MeasurementTable {
  version: number;
  context: MeasureContext;
  entries: Record<string, MeasurementEntry>;
}

/** The calibration part of the context: what changes Hessians (and GPTQ's result). */
export function calibrationContext(cal: { kind: string; samples?: number; length?: number; seed?: number } | undefined, file: string | undefined): MeasureContext['calibration'] {
  if (!cal) return undefined;
  let stamp: string | undefined;
  if (file) {
    try {
      const st = fs.statSync(file);
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      stamp = 'missing';
    }
  }
  return { kind: cal.kind, path: file, stamp, samples: cal.samples, length: cal.length, seed: cal.seed };
}

export function contextKey(ctx: MeasureContext): string {
  return crypto.createHash('sha256').update(JSON.stringify([ctx.modelFingerprint, ctx.calibration ?? null])).digest('hex').slice(0, 24);
}

/** Where the table of a context lives: `<recipe folder>/.bitsmith/measure/<key>.json`. */
export function measurementFile(recipePath: string, ctx: MeasureContext): string {
  return path.join(path.dirname(recipePath), '.bitsmith', 'measure', `${contextKey(ctx)}.json`);
}

/** The entry key of a tensor under one candidate configuration. */
export function candidateKey(tensor: string, values: Partial<PropValues>, format: string): string {
  const D = BUILTIN_DEFAULTS;
  const method = values.method ?? D.method;
  const cfg = [
    format, values.group ?? D.group, values.symmetric ?? D.symmetric, values.scale ?? D.scale, values.zero ?? D.zero,
    values.clip ?? D.clip, values.outliers ?? D.outliers, values.lowrank ?? D.lowrank, values.rotate ?? D.rotate,
    method.name, Object.keys(method.options).sort().map((k) => [k, method.options[k]]),
  ];
  return `${tensor}|${JSON.stringify(cfg)}`;
}

function isEntry(e: unknown): e is MeasurementEntry {
  const x = e as MeasurementEntry;
  return !!x && typeof x.tensor === 'string' && typeof x.format === 'string' && typeof x.method === 'string'
    && Number.isFinite(x.bytes) && x.bytes >= 0 && Number.isFinite(x.squaredError) && x.squaredError >= 0
    && (x.outputErrorSum === undefined || (Number.isFinite(x.outputErrorSum) && x.outputErrorSum >= 0));
}

// The language server reads tables on every analysis: keep them by file, size and mtime.
const loaded = new Map<string, { stamp: string; table: MeasurementTable | undefined }>();

/** The table in `file` if it exists, is well-formed and is of `ctx` (else undefined: a
 * damaged or foreign file is re-measured, never trusted). Bad entries are dropped. */
export function loadMeasurements(file: string, ctx: MeasureContext): MeasurementTable | undefined {
  let stamp: string;
  try {
    const st = fs.statSync(file);
    stamp = `${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  const hit = loaded.get(file);
  let table: MeasurementTable | undefined;
  if (hit && hit.stamp === stamp) {
    table = hit.table;
  } else {
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as MeasurementTable;
      if (raw && raw.version === MEASUREMENTS_VERSION && raw.context && raw.entries && typeof raw.entries === 'object') {
        const entries: Record<string, MeasurementEntry> = {};
        for (const [k, e] of Object.entries(raw.entries)) if (isEntry(e)) entries[k] = e;
        table = { version: raw.version, context: raw.context, entries };
      }
    } catch {
      table = undefined;
    }
    if (loaded.size > 64) loaded.clear();
    loaded.set(file, { stamp, table });
  }
  if (!table || contextKey(table.context) !== contextKey(ctx)) return undefined;
  return table;
}

/** Writes the table to a temporary file beside `file`, then renames it over `file`. */
export function saveMeasurements(file: string, table: MeasurementTable): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(table));
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing to clean
    }
    throw e;
  }
  loaded.delete(file);
}
