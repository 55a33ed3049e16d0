// What the analyzer needs to know about a model: its tensors (name, shape, dtype) and
// enough metadata to describe it. Readers fill this from file headers only; no weights.

/** Source element types Bitsmith understands, with their storage bits. */
export const DTYPE_BITS: Readonly<Record<string, number>> = {
  F64: 64,
  F32: 32,
  F16: 16,
  BF16: 16,
  F8_E4M3: 8,
  F8_E5M2: 8,
  I64: 64,
  I32: 32,
  I16: 16,
  I8: 8,
  U8: 8,
  BOOL: 8,
};

/** Tensors one model may have. The largest published checkpoints have about 100,000
 * (mixture-of-experts models storing each expert's matrices apart); a header declaring
 * more is refused before the per-tensor work (and memory) it would take. */
export const MAX_TENSORS = 1_000_000;

export type ModelFormat = 'hf-folder' | 'safetensors' | 'gguf' | 'llama2c';

export interface TensorInfo {
  /** Name as stored in the model (HF names for safetensors/llama2.c, GGUF names for .gguf). */
  name: string;
  /** PyTorch order: [out, in] for a linear weight; the last dimension is the input dimension. */
  shape: number[];
  /** Source dtype, e.g. "F32", "BF16", or a ggml type name such as "Q4_K" for GGUF. */
  dtype: string;
  /** Bits per element in the source (fractional for ggml block types, e.g. 4.5). */
  bitsPerElement: number;
  /** Number of elements. */
  elements: number;
  /** Bytes the tensor occupies in the source. */
  bytes: number;
  /** File holding the data and the byte offset of its data there (for the backend). */
  file: string;
  offset: number;
}

export interface ModelHeader {
  /** The path as resolved (absolute). */
  path: string;
  format: ModelFormat;
  /** e.g. "llama" (config.json model_type, GGUF general.architecture, "llama" for llama2.c). */
  architecture: string;
  tensors: TensorInfo[];
  /** Total parameters (elements) over all tensors. */
  parameters: number;
  /** Total bytes of tensor data. */
  bytes: number;
  /** The most common dtype by elements, for display. */
  dtype: string;
  /** config.json contents (HF folder) or GGUF metadata / llama2.c header as plain values. */
  config: Record<string, unknown>;
  /** Files read to build this header (for cache invalidation). */
  files: string[];
}

/** A header read failure: a stable code and a message naming the file (and tensor). */
export class ModelReadError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    readonly file: string,
    /** The tensor the problem is about, when there is one (as the native reader's errors). */
    readonly tensor?: string,
  ) {
    super(message);
    this.name = 'ModelReadError';
  }
}

export type ModelErrorCode =
  | 'model/not-found'
  | 'model/unreadable'
  | 'model/unknown-format'
  | 'model/truncated'
  | 'model/header-too-large'
  | 'model/bad-json'
  | 'model/bad-header'
  | 'model/unknown-dtype'
  | 'model/bad-shape'
  | 'model/bad-offsets'
  | 'model/bad-index';
