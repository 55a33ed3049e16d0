// Public API of the model header readers.

export * from './types';
export { readModelHeader, modelFingerprint, describeModel } from './load';
export { readSafetensorsHeader, MAX_SAFETENSORS_HEADER } from './safetensors';
export type { SafetensorsHeader } from './safetensors';
export { readGgufHeader, GGML_TYPES, GGUF_ARRAY_KEEP, MAX_GGUF_HEADER, MAX_GGUF_STRING } from './gguf';
export type { GgufHeader, GgmlType, GgufArraySummary } from './gguf';
export { readLlama2cHeader } from './llama2c';
export type { Llama2cHeader, Llama2cConfig } from './llama2c';
export { readHfFolder, readConfigJson, architectureOf } from './hfFolder';
export type { HfFolderHeader } from './hfFolder';
export { findTokenizer } from './tokenizer';
export type { TokenizerFiles } from './tokenizer';
export { resolveModelRef, parseHubId, hubCacheDir, hubRepoFolder, describeModelRef } from './modelRef';
export type { ModelRef, HubModel, CacheEnv, CacheSource } from './modelRef';
