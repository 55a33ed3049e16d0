// The native addon as `bitsmith run` uses it. Loaded at run time from <package>/native
// (native/index.js honours BITSMITH_NATIVE), found by walking up from this file so it
// works from the bundle (dist/cli.js) and from the sources (tests).
import * as fs from 'fs';
import { createRequire } from 'module';
import * as path from 'path';

export type {
  Histogram,
  StartEvent,
  TensorStartEvent,
  TensorEvent,
  RunTotals,
  DoneEvent,
  ErrorEvent,
  RunEvent,
  CalibrationEvent,
  EvaluationEvent,
  ImportanceEvent,
  ProgressEvent,
} from '../../../core/src/runReport';
import type { DoneEvent, RunEvent } from '../../../core/src/runReport';

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
  /** method gptq: damp (fraction of mean diag H, default 0.01), block (default 128), act_order. */
  damp?: number;
  block?: number;
  actOrder?: boolean;
  /** method hqq: zero-point updates (default 20), lp norm p (0.7), beta (10), kappa (1.01). */
  hqq?: { iters?: number; lpNorm?: number; beta?: number; kappa?: number };
  /** method awq: points of the alpha grid (default 20). */
  grid?: number;
}

export interface RunJob {
  model: string;
  /** bytesOut: the plan's bytes for the tensor; the runner fails (before renaming any output) when it produces others. */
  tensors: { name: string; shape: number[]; action: 'quantize' | 'keep'; config?: JobConfig; bytesOut?: number }[];
  output?: {
    kind: 'fake' | 'compressed_tensors';
    /** A file (fake) or a folder (compressed_tensors). */
    path: string;
    /** What may be there at the rename: null nothing, else the identity (dev:ino:size:mtimeNs) of the
     *  Bitsmith output the caller checked; absent: unchecked. */
    replaces?: string | null;
    metadata?: Record<string, string>;
    /** compressed_tensors: config.json's text, and files copied into the folder. */
    config?: string;
    copy?: { from: string; name: string }[];
  };
  /** output gguf: spec is JSON {metadata, tensors, extraTensors} (core/src/export/gguf.ts);
   *  raw holds the value bytes of the large arrays its metadata names by index (ggufEncode.ts).
   *  replaces: see the output's. */
  gguf?: { path: string; spec: string; raw?: Buffer[]; replaces?: string | null };
  threads?: number;
  /** Row-chunk size target in elements (<= 0: whole tensors). */
  chunkElements?: number;
  reference?: boolean;
  /** Forward-pass calibration (Hessians per linear input; per-tensor output error). */
  calibration?: SequenceSource;
  /** calibration imatrix: the file and, per quantized tensor that has one, its entry's name. */
  imatrix?: { path: string; tensors: Record<string, string> };
  /** Original vs fake-quantized model on held-out sequences. */
  evaluate?: SequenceSource;
  /** Layer-streamed calibration: layer l + 1 sees the quantized layer l's outputs (true, the default) or the original's. */
  sequential?: boolean;
  /** output imatrix: llama.cpp's importance matrix from the calibration's statistics. */
  imatrixOutput?: {
    path: string;
    format: 'gguf' | 'dat';
    replaces?: string | null;
    /** Model tensor -> llama.cpp name, for every layer's linear weight. */
    tensors: Record<string, string>;
    dataset: string;
    chunkSize: number;
    version: string;
  };
  /** evaluate: a folder caching the original model's logits on the evaluation set between runs. */
  logitsCache?: string;
  /** Calibration hidden states above this many bytes (f32) are kept in bf16 (default 1 GiB). */
  activationsBf16Above?: number;
}

/** Sequences for the forward pass; samples/length 0 or absent: the runner's defaults
 * (generated: 16 sequences of min(128, max positions) ids; tokens and text: as given). */
export interface SequenceSource {
  kind: 'generated' | 'tokens' | 'text';
  /** tokens: absolute path of the JSON file (an array of arrays of token ids); text: the text file. */
  path?: string;
  /** text: the windows of token ids the CLI tokenized (the runner re-checks them against the model). */
  sequences?: number[][];
  samples?: number;
  length?: number;
  seed?: number;
  /** evaluate: the first position of each sequence whose prediction is scored (perplexity text: length / 2). */
  scoreFrom?: number;
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
  modelInfo(path: string): {
    path: string;
    format: string;
    architecture: string;
    tensors: {
      name: string;
      shape: number[];
      dtype: string;
      elements: number;
      bytes: number;
      file: string;
      offset: number;
    }[];
  };
  readTensor(path: string, name: string): Float32Array;
}

/** The package root: the nearest folder up from here with native/index.js. */
export function packageRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'native', 'index.js')) && fs.existsSync(path.join(dir, 'package.json')))
      return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the bitsmith package (native/index.js) above ${from}`);
    dir = up;
  }
}

export function loadNative(): NativeAddon {
  const req = createRequire(__filename);
  return req(path.join(packageRoot(), 'native')) as NativeAddon;
}
