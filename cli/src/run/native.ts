// The native addon as `bitsmith run` uses it. Loaded at run time from <package>/native
// (native/index.js honours BITSMITH_NATIVE), found by walking up from this file so it
// works from the bundle (dist/cli.js) and from the sources (tests).
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';

export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}

export interface StartEvent {
  type: 'start';
  tensors: number;
  params: number;
  bytesIn: number;
  model: string;
  modelFormat: string;
  threads: number;
  output: string | null;
}

export interface TensorStartEvent {
  type: 'tensor-start';
  index: number;
  name: string;
}

export interface TensorEvent {
  type: 'tensor';
  index: number;
  name: string;
  shape: number[];
  dtype: string;
  action: 'quantize' | 'keep';
  format: string;
  method?: string;
  config?: Record<string, unknown>;
  bpw: number;
  bytesIn: number;
  bytesOut: number;
  bytes?: Record<string, number>;
  relError?: number;
  sqnrDb?: number;
  maxAbsError?: number;
  cosine?: number;
  outliers?: number;
  chunks?: number;
  seconds: number;
  weightHist?: Histogram;
  errorHist?: Histogram;
}

export interface RunTotals {
  tensors: number;
  quantized: number;
  params: number;
  bytesIn: number;
  bytesOut: number;
  bpw: number;
  seconds: number;
  peakRssBytes: number;
}

export interface DoneEvent {
  type: 'done';
  totals: RunTotals;
  output: string | null;
  threads: number;
}

export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  tensor?: string;
}

export type RunEvent = StartEvent | TensorStartEvent | TensorEvent | DoneEvent | ErrorEvent;

export interface JobConfig {
  format: string;
  method: string;
  group: number;
  groupKind: 'size' | 'channel' | 'tensor';
  symmetric: boolean;
  scale: string;
  zero: string;
  clip: 'mse' | 'none';
  outliers: number;
  lowrank: number;
  lowrankIters?: number;
  rotate: 'hadamard' | 'none';
  seed?: number;
}

export interface RunJob {
  model: string;
  tensors: { name: string; shape: number[]; action: 'quantize' | 'keep'; config?: JobConfig }[];
  output?: { kind: 'fake'; path: string; metadata?: Record<string, string> };
  threads?: number;
  /** Row-chunk size target in elements (<= 0: whole tensors). */
  chunkElements?: number;
  reference?: boolean;
}

export interface RunHandle {
  cancel(): void;
  done: Promise<DoneEvent>;
}

/** An Error from the addon: `code` (model/..., run/...) and the tensor when there is one. */
export interface NativeError extends Error {
  code?: string;
  tensor?: string;
}

export interface NativeAddon {
  version(): string;
  startRun(job: RunJob, onEvent: (e: RunEvent) => void): RunHandle;
  modelInfo(path: string): { path: string; format: string; architecture: string; tensors: { name: string; shape: number[]; dtype: string; elements: number; bytes: number; file: string; offset: number }[] };
  readTensor(path: string, name: string): Float32Array;
}

/** The package root: the nearest folder up from here with native/index.js. */
export function packageRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'native', 'index.js')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the bitsmith package (native/index.js) above ${from}`);
    dir = up;
  }
}

export function loadNative(): NativeAddon {
  const req = createRequire(__filename);
  return req(path.join(packageRoot(), 'native')) as NativeAddon;
}
