// `calibration text "file"`: the text, tokenized with the model's own tokenizer.json
// (Hugging Face tokenizers.js, the same pipeline as the Rust library), cut into windows of
// `length` ids. Each window starts with what the tokenizer's post-processor puts in front
// of a sequence (BOS for Llama-style tokenizers), as llama.cpp's imatrix and perplexity
// tools start each chunk with BOS: a window without it would calibrate on activations
// the model never sees at position 0.
import { Tokenizer } from '@huggingface/tokenizers';
import {
  DEFAULT_PERPLEXITY_CONTEXT,
  MAX_TEXT_BYTES,
  MAX_TOKENIZER_JSON,
  findTokenizer,
  readRegularFile,
  statRegularFile,
  type ModelReadError,
  pushAll,
} from '../../../core/src/index';

/** Text files beyond this are refused: tokenizing them in one piece would take minutes. */
export { MAX_TEXT_BYTES };
/** Window length when the recipe gives none (llama-imatrix's default context), capped by the model's positions. */
export const DEFAULT_TEXT_LENGTH = 512;

export class TextCalibrationError extends Error {
  /** The statement the error belongs on (set by perplexityWindows). */
  statement: 'calibration' | 'perplexity' = 'calibration';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TextWindows {
  sequences: number[][];
  /** Ids the whole text gave (before windowing), and the tokenizer file used. */
  textTokens: number;
  tokenizer: string;
  /** Ids put in front of every window (BOS), from the tokenizer's post-processor. */
  prefix: number[];
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readRegularFile(file, MAX_TOKENIZER_JSON, 'tokenizer JSON').toString('utf8');
  } catch (e) {
    throw new TextCalibrationError('calibration/no-tokenizer', `${file}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TextCalibrationError('calibration/bad-tokenizer', `${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** The model's maximum positions from its config, when it says. */
export function maxPositionsOf(config: Record<string, unknown>): number | undefined {
  for (const key of ['max_position_embeddings', 'n_positions', 'max_seq_len', 'seq_len']) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 1) return v;
  }
  return undefined;
}

/**
 * Tokenizes `textPath` with the tokenizer beside `modelPath` and cuts it into windows of
 * `length` ids (prefix included); the last, shorter window is kept when it has at least
 * half a window of text, so a short file still calibrates. `samples` caps the windows.
 */
/** The text's ids and the prefix the tokenizer's post-processor puts before a sequence. */
interface TokenizedText {
  ids: number[];
  prefix: number[];
  tokenizer: string;
}

function tokenizeFile(textPath: string, modelPath: string, what: string): TokenizedText {
  const files = findTokenizer(modelPath);
  if (!files)
    throw new TextCalibrationError(
      'calibration/no-tokenizer',
      `${modelPath}: no tokenizer.json beside the model, which ${what} needs`,
    );
  let size: number;
  try {
    size = statRegularFile(textPath, 'a text file').size;
  } catch (e) {
    const err = e as ModelReadError;
    if (err.code === 'model/not-found')
      throw new TextCalibrationError('calibration/not-found', `${textPath}: no such file`);
    throw new TextCalibrationError('calibration/bad-text', err.message);
  }
  if (size > MAX_TEXT_BYTES)
    throw new TextCalibrationError(
      'calibration/bad-text',
      `${textPath}: ${size} bytes; ${what} reads at most ${MAX_TEXT_BYTES} (use samples/length, or a shorter file)`,
    );
  const text = readRegularFile(textPath, MAX_TEXT_BYTES, 'a text file').toString('utf8');
  if (!text.trim()) throw new TextCalibrationError('calibration/bad-text', `${textPath}: the file holds no text`);

  const json = readJson(files.tokenizer);
  const config = files.config ? readJson(files.config) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json as object, (config ?? {}) as object);
  } catch (e) {
    throw new TextCalibrationError(
      'calibration/bad-tokenizer',
      `${files.tokenizer}: cannot build the tokenizer (${(e as Error).message})`,
    );
  }
  try {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    // What the post-processor adds around an empty sequence, in front: BOS, or nothing.
    const empty = tokenizer.encode('', { add_special_tokens: true }).ids;
    const prefix =
      empty.length > 0 && (config as { add_bos_token?: unknown }).add_bos_token !== false ? [empty[0]] : [];
    return { ids, prefix, tokenizer: files.tokenizer };
  } catch (e) {
    throw new TextCalibrationError(
      'calibration/bad-tokenizer',
      `${files.tokenizer}: tokenizing ${textPath} failed (${(e as Error).message})`,
    );
  }
}

export function textWindows(
  textPath: string,
  modelPath: string,
  opts: { samples?: number; length?: number; maxPositions?: number },
): TextWindows {
  const { ids, prefix, tokenizer } = tokenizeFile(textPath, modelPath, 'calibration text');
  const cap = opts.maxPositions && opts.maxPositions > 1 ? opts.maxPositions : undefined;
  if (opts.length && cap && opts.length > cap) {
    throw new TextCalibrationError(
      'calibration/bad-text',
      `length ${opts.length} is more than the model's ${cap} positions`,
    );
  }
  const length = opts.length ?? Math.min(DEFAULT_TEXT_LENGTH, cap ?? DEFAULT_TEXT_LENGTH);
  const body = length - prefix.length;
  if (body < 1)
    throw new TextCalibrationError(
      'calibration/bad-text',
      `length ${length} leaves no room for text after the tokenizer's ${prefix.length} leading id(s)`,
    );
  const sequences: number[][] = [];
  for (let i = 0; i < ids.length; i += body) {
    const piece = ids.slice(i, i + body);
    if (piece.length < body && sequences.length > 0 && piece.length < body / 2) break;
    if (prefix.length + piece.length < 2) break;
    sequences.push([...prefix, ...piece]);
    if (opts.samples && sequences.length >= opts.samples) break;
  }
  if (sequences.length === 0)
    throw new TextCalibrationError(
      'calibration/bad-text',
      `${textPath}: tokenizes to ${ids.length} id(s), too few for one window`,
    );
  return { sequences, textTokens: ids.length, tokenizer, prefix };
}

/**
 * `perplexity text "file"`: the windows llama-perplexity evaluates. The text is tokenized
 * as a whole with the tokenizer's prefix (BOS) in front, the ids cut into consecutive
 * windows of `length` (n_ctx) with no remainder, and the first id of every window replaced
 * by the prefix (BOS) when the tokenizer adds one, so the id it replaces is neither input
 * nor target; only the predictions of positions length/2 .. length−2 are scored
 * (`scoreFrom`). `samples` keeps the first N windows (llama-perplexity's --chunks).
 */
export function perplexityWindows(
  textPath: string,
  modelPath: string,
  opts: { samples?: number; length?: number; maxPositions?: number },
): TextWindows & { scoreFrom: number } {
  try {
    return perplexityWindowsOf(textPath, modelPath, opts);
  } catch (e) {
    if (e instanceof TextCalibrationError) e.statement = 'perplexity';
    throw e;
  }
}

function perplexityWindowsOf(
  textPath: string,
  modelPath: string,
  opts: { samples?: number; length?: number; maxPositions?: number },
): TextWindows & { scoreFrom: number } {
  const { ids, prefix, tokenizer } = tokenizeFile(textPath, modelPath, 'perplexity text');
  const cap = opts.maxPositions && opts.maxPositions > 1 ? opts.maxPositions : undefined;
  if (opts.length && cap && opts.length > cap)
    throw new TextCalibrationError(
      'calibration/bad-text',
      `length ${opts.length} is more than the model's ${cap} positions`,
    );
  const length = opts.length ?? Math.min(DEFAULT_PERPLEXITY_CONTEXT, cap ?? DEFAULT_PERPLEXITY_CONTEXT);
  if (length < 3)
    throw new TextCalibrationError('calibration/bad-text', `length ${length}: perplexity windows need at least 3 ids`);
  const all = prefix.length > 0 ? [prefix[0]] : [];
  pushAll(all, ids);
  const windows = Math.floor(all.length / length);
  if (windows === 0)
    throw new TextCalibrationError(
      'calibration/bad-text',
      `${textPath}: tokenizes to ${all.length} id(s), too few for one window of ${length} (llama-perplexity needs ${2 * length})`,
    );
  const n = opts.samples ? Math.min(opts.samples, windows) : windows;
  const sequences: number[][] = [];
  for (let w = 0; w < n; w++) {
    const s = all.slice(w * length, (w + 1) * length);
    if (prefix.length > 0) s[0] = prefix[0];
    sequences.push(s);
  }
  return { sequences, textTokens: ids.length, tokenizer, prefix, scoreFrom: Math.floor(length / 2) };
}
