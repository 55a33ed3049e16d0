// Where a model's tokenizer lives: `calibration text` tokenizes with the Hugging Face
// tokenizer.json beside the weights (the folder, or the folder of a .safetensors file).
// GGUF and llama2.c sources carry their vocabularies in other forms, which are not read.

import * as fs from 'fs';
import * as path from 'path';

export interface TokenizerFiles {
  /** tokenizer.json */
  tokenizer: string;
  /** tokenizer_config.json, when present (special tokens, add_bos_token). */
  config?: string;
}

export function findTokenizer(
  modelPath: string,
  exists: (p: string) => boolean = fs.existsSync,
): TokenizerFiles | undefined {
  let dir = modelPath;
  try {
    if (!fs.statSync(modelPath).isDirectory()) dir = path.dirname(modelPath);
  } catch {
    dir = path.dirname(modelPath);
  }
  const tokenizer = path.join(dir, 'tokenizer.json');
  if (!exists(tokenizer)) return undefined;
  const config = path.join(dir, 'tokenizer_config.json');
  return { tokenizer, config: exists(config) ? config : undefined };
}
