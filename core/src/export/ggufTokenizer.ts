// The tokenizer of a GGUF written from a Hugging Face folder: tokenizer.ggml.* and
// tokenizer.chat_template*, as llama.cpp's converter (convert_hf_to_gguf.py with gguf-py's
// SpecialVocab) writes them, from tokenizer.json, tokenizer_config.json, config.json,
// generation_config.json and chat_template.jinja.
//
// - Byte-level BPE (Llama 3, Qwen, Mistral Nemo): model `gpt2` with merges; the
//   pre-tokenizer is named the way the converter names it, by the sha256 of the ids the
//   Hugging Face tokenizer gives for a fixed check text (ggufPreTokenizers.json).
// - SentencePiece-style BPE with byte fallback (Llama 2, Mistral): model `llama` with
//   byte tokens and scores. tokenizer.json has no SentencePiece scores; llama.cpp merges
//   the highest-scoring adjacent pair, Hugging Face the lowest-ranked merge, so each token's
//   score is minus the rank of the first merge that makes it: the same merge order.
// - Unigram: model `llama` with the model's own scores (llama.cpp's converter does the same
//   from a SentencePiece tokenizer.model); llama.cpp segments greedily by score, so the
//   result says tokenization can differ.
// Keys that cannot be determined are named in `warnings`; nothing is defaulted silently.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import PRE_TOKENIZERS from './ggufPreTokenizers.json';
import { readRegularFile } from '../models/files';

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export type SpecialTokenKind = 'bos' | 'eos' | 'eot' | 'eom' | 'unk' | 'sep' | 'pad' | 'mask';
/** GGUF key of each special token id. */
export const SPECIAL_TOKEN_KEY: Readonly<Record<SpecialTokenKind, string>> = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  eom: 'tokenizer.ggml.eom_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
  sep: 'tokenizer.ggml.seperator_token_id', // sic: llama.cpp's key
  pad: 'tokenizer.ggml.padding_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
};

/** What the analysis needs to know (small: no token arrays). */
export interface GgufTokenizerInfo {
  model: 'gpt2' | 'llama';
  /** tokenizer.ggml.pre */
  pre: string;
  /** sha256 of the check text's ids (byte-level BPE). */
  preHash?: string;
  vocabSize: number;
  mergeCount: number;
  special: Partial<Record<SpecialTokenKind, number>>;
  addBos: boolean;
  addEos: boolean;
  /** SentencePiece-style only: llama.cpp puts a space in front of the text. */
  addSpacePrefix?: boolean;
  hasChatTemplate: boolean;
  /** Files read, for cache invalidation. */
  files: string[];
  /** Keys not determined (or known to tokenize differently from Hugging Face), and why. */
  warnings: string[];
  /** Worth saying, not a problem (no chat template in a base model). */
  infos: string[];
}

export interface GgufTokenizer extends GgufTokenizerInfo {
  tokens: string[];
  types: Int32Array;
  scores?: Float32Array;
  merges?: string[];
  chatTemplate?: string;
  /** Named templates besides the default (tokenizer.chat_template.<name>). */
  namedTemplates: { name: string; template: string }[];
}

/** A tokenizer, or why the GGUF is written without one. */
export type GgufTokenizerResult =
  { ok: true; tokenizer: GgufTokenizerInfo } | { ok: false; why: string; files: string[] };

/** Everything read from the folder (parsed), for the pure conversion. */
export interface HfTokenizerInput {
  tokenizerJson: unknown;
  tokenizerConfig?: Record<string, unknown>;
  config: Record<string, unknown>;
  generationConfig?: Record<string, unknown>;
  /** chat_template.jinja, and additional_chat_templates/*.jinja by name. */
  chatTemplateJinja?: string;
  additionalTemplates?: { name: string; template: string }[];
  /** chat_template.json's chat_template. */
  chatTemplateJson?: unknown;
  /** Rows of the embedding (config.json vocab_size): the token list's length. */
  vocabSize: number;
  files: string[];
  /** Problems reading the optional files (named in warnings). */
  readWarnings: string[];
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}
interface TokenizerJson {
  model?: {
    type?: string;
    vocab?: unknown;
    merges?: unknown;
    byte_fallback?: boolean;
    unk_token?: string | null;
    unk_id?: number | null;
  };
  added_tokens?: unknown;
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
}

/** tokenizer.json files are tens of MiB at most: a bound before reading. */
export const MAX_TOKENIZER_JSON = 512 * 1024 * 1024;
const MAX_SMALL_FILE = 64 * 1024 * 1024;
/** More tokens than any vocabulary has (Gemma's is 262,144): a bound before allocating. */
export const MAX_VOCAB = 1 << 24;

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isId = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

// ---- reading the folder ---------------------------------------------------------------

// Regular files only (a FIFO named tokenizer.json would block), bounded before reading.
function readText(file: string, max: number): string {
  return readRegularFile(file, max, path.basename(file)).toString('utf8');
}

/** Reads the tokenizer files of the model folder `dir`; undefined without tokenizer.json. */
export function readHfTokenizerInput(
  dir: string,
  config: Record<string, unknown>,
  vocabSize: number,
): HfTokenizerInput | { error: string; files: string[] } | undefined {
  const file = (n: string) => path.join(dir, n);
  const tj = file('tokenizer.json');
  if (!fs.existsSync(tj)) return undefined;
  const files = [tj];
  let tokenizerJson: unknown;
  try {
    tokenizerJson = JSON.parse(readText(tj, MAX_TOKENIZER_JSON));
  } catch (e) {
    return { error: `${tj} could not be read (${(e as Error).message})`, files };
  }
  const readWarnings: string[] = [];
  const optionalJson = (name: string): Record<string, unknown> | undefined => {
    const f = file(name);
    if (!fs.existsSync(f)) return undefined;
    files.push(f);
    try {
      const v = JSON.parse(readText(f, MAX_SMALL_FILE));
      if (isObj(v)) return v;
      readWarnings.push(`${f} is not a JSON object: not read`);
    } catch (e) {
      readWarnings.push(`${f} could not be read (${(e as Error).message}): not read`);
    }
    return undefined;
  };
  const optionalText = (f: string): string | undefined => {
    if (!fs.existsSync(f)) return undefined;
    files.push(f);
    try {
      return readText(f, MAX_SMALL_FILE);
    } catch (e) {
      readWarnings.push(`${f} could not be read (${(e as Error).message}): not read`);
      return undefined;
    }
  };
  const tokenizerConfig = optionalJson('tokenizer_config.json');
  const generationConfig = optionalJson('generation_config.json');
  const chatTemplateJinja = optionalText(file('chat_template.jinja'));
  const additionalTemplates: { name: string; template: string }[] = [];
  const extraDir = file('additional_chat_templates');
  if (chatTemplateJinja !== undefined && fs.existsSync(extraDir)) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(extraDir).filter((n) => n.endsWith('.jinja'));
    } catch (e) {
      readWarnings.push(`${extraDir} could not be listed (${(e as Error).message})`);
    }
    for (const n of names.sort()) {
      const t = optionalText(path.join(extraDir, n));
      if (t !== undefined) additionalTemplates.push({ name: n.slice(0, -'.jinja'.length), template: t });
    }
  }
  const chatJson = chatTemplateJinja === undefined ? optionalJson('chat_template.json') : undefined;
  return {
    tokenizerJson,
    tokenizerConfig,
    config,
    generationConfig,
    chatTemplateJinja,
    additionalTemplates,
    chatTemplateJson: chatJson?.chat_template,
    vocabSize,
    files,
    readWarnings,
  };
}

/** The GGUF tokenizer of the folder `dir` (see convertTokenizer); undefined without tokenizer.json. */
export function loadGgufTokenizer(
  dir: string,
  config: Record<string, unknown>,
  vocabSize: number,
): GgufTokenizerResult | undefined {
  const input = readHfTokenizerInput(dir, config, vocabSize);
  if (!input) return undefined;
  if ('error' in input) return { ok: false, why: input.error, files: input.files };
  return convertTokenizer(input);
}

// ---- pre-tokenizer ---------------------------------------------------------------------

const PRE_HASHES = PRE_TOKENIZERS.hashes as Record<string, { pre: string; ref: string }>;
export const PRE_CHECK_TEXT: string = PRE_TOKENIZERS.checkText;

/** GPT-2's byte-to-character table (printable Latin-1 maps to itself, the rest above 255). */
const BYTE_CHARS: string[] = (() => {
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCodePoint(printable ? b : next++);
  }
  return out;
})();
const byteLevel = (s: string): string => {
  let o = '';
  for (const b of Buffer.from(s, 'utf8')) o += BYTE_CHARS[b];
  return o;
};

/**
 * tokenizer.json reduced to what can touch `text`: BPE only applies a merge whose result
 * is a substring of a (byte-level) pre-token, so merges and vocabulary entries that occur
 * in no form of the text are dropped (ids unchanged). Building the full tokenizer for a
 * 128k vocabulary takes seconds; the reduced one milliseconds. A form missed here would
 * change the ids and so the hash: the result is then "not recognised", never wrong.
 */
function reduceForText(tj: TokenizerJson, text: string, texts?: string[], ids?: number[]): TokenizerJson {
  const forms = new Set<string>();
  // A leading space covers ByteLevel's add_prefix_space; every substring of the text is in it too.
  for (const t of [text, text.normalize('NFC'), text.normalize('NFKC'), text.normalize('NFD')])
    for (const u of [' ' + t, ' ' + t.toLowerCase()]) forms.add(u).add(byteLevel(u));
  const all = [...forms].join('\u0000');
  // Where each prefix of up to K units starts: a token occurs if its K-unit prefix does and
  // the rest follows at one of those places (few: K units rarely repeat).
  const K = 8;
  const at = new Map<string, number[]>();
  for (let i = 0; i < all.length; i++)
    for (let n = 1; n <= K && i + n <= all.length; n++) {
      const key = all.slice(i, i + n);
      const list = at.get(key);
      if (list) list.push(i);
      else at.set(key, [i]);
    }
  const occurs = (s: string): boolean => {
    const list = at.get(s.length > K ? s.slice(0, K) : s);
    if (!list) return false;
    if (s.length <= K) return true;
    for (const p of list) if (all.startsWith(s, p)) return true;
    return false;
  };
  const m = tj.model!;
  const vocab: Record<string, number> = {};
  const keys = texts ?? Object.keys(m.vocab as Record<string, number>);
  for (let k = 0; k < keys.length; k++)
    if (occurs(keys[k])) vocab[keys[k]] = ids ? ids[k] : (m.vocab as Record<string, number>)[keys[k]];
  const merges: (string | string[])[] = [];
  for (const x of m.merges as (string | string[])[]) {
    const [a, b] = mergeParts(x);
    if (a !== undefined && b !== undefined && occurs(a + b)) merges.push(x);
  }
  // tokenizers.js wants every part present (null when absent).
  const parts = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [] };
  return { ...parts, ...tj, model: { ...m, vocab, merges } };
}

/** The ids Hugging Face gives for llama.cpp's check text, as the converter hashes them. */
export function preTokenizerHash(
  tokenizerJson: unknown,
  tokenizerConfig?: Record<string, unknown>,
  vocabTexts?: string[],
  vocabIds?: number[],
): string {
  const tok = new Tokenizer(
    reduceForText(tokenizerJson as TokenizerJson, PRE_CHECK_TEXT, vocabTexts, vocabIds),
    tokenizerConfig ?? {},
  );
  const ids = tok.encode(PRE_CHECK_TEXT, { add_special_tokens: true }).ids;
  // Python's str() of a list of ints.
  return crypto
    .createHash('sha256')
    .update('[' + ids.join(', ') + ']')
    .digest('hex');
}

/** llama.cpp's pre-tokenizer name for a check-text hash, if its converter knows it. */
export function preTokenizerName(hash: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(PRE_HASHES, hash) ? PRE_HASHES[hash].pre : undefined;
}

// ---- conversion ----------------------------------------------------------------------

function mergeParts(x: unknown): [string | undefined, string | undefined] {
  if (typeof x === 'string') {
    const i = x.indexOf(' ', 1);
    return i < 0 ? [undefined, undefined] : [x.slice(0, i), x.slice(i + 1)];
  }
  if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string') return [x[0], x[1]];
  return [undefined, undefined];
}

/** Added tokens the converter marks control even when not flagged special. */
function looksSpecial(t: string): boolean {
  return (
    t === '<pad>' ||
    t === '<mask>' ||
    t === '<2mass>' ||
    t === '[@BOS@]' ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<｜') && t.endsWith('｜>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

/** Token texts llama.cpp itself treats as end of turn / end of message (llama-vocab.cpp). */
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<EOT>'];
const EOM_TEXTS = ['<|eom_id|>'];
const EOG_TEXTS = new Set([...EOT_TEXTS, ...EOM_TEXTS]);

/** Token content of a tokenizer_config.json `{kind}_token` entry (string or {content}). */
function configTokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObj(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

const firstId = (v: unknown): number | undefined => (isId(v) ? v : Array.isArray(v) && isId(v[0]) ? v[0] : undefined);
const idList = (v: unknown): number[] => (isId(v) ? [v] : Array.isArray(v) ? v.filter(isId) : []);

/** Does the post-processor put `first` special token in front / `last` at the end of a single sequence? */
function templateEnds(pp: unknown): { first?: string; last?: string; found: boolean } {
  if (!isObj(pp)) return { found: false };
  const list = pp.type === 'Sequence' && Array.isArray(pp.processors) ? pp.processors : [pp];
  for (const p of list) {
    if (!isObj(p)) continue;
    if (p.type === 'TemplateProcessing' && Array.isArray(p.single)) {
      const single = p.single as unknown[];
      const special = (x: unknown) =>
        isObj(x) && isObj(x.SpecialToken) && typeof x.SpecialToken.id === 'string' ? x.SpecialToken.id : undefined;
      return {
        found: true,
        first: single.length > 1 ? special(single[0]) : undefined,
        last: single.length > 1 ? special(single[single.length - 1]) : undefined,
      };
    }
    if (p.type === 'RobertaProcessing' || p.type === 'BertProcessing')
      return {
        found: true,
        first: Array.isArray(p.cls) ? String(p.cls[0]) : undefined,
        last: Array.isArray(p.sep) ? String(p.sep[0]) : undefined,
      };
  }
  return { found: false };
}

/** Does the normalizer / pre-tokenizer put "▁" in front of the text (SentencePiece's dummy prefix)? */
function prependsSpace(tj: TokenizerJson): boolean {
  let found: boolean | undefined;
  const visit = (x: unknown) => {
    if (!isObj(x)) return;
    if (x.type === 'Prepend' && x.prepend === '▁') found = true;
    if (x.type === 'Metaspace') {
      const scheme = x.prepend_scheme;
      if (scheme === 'always' || scheme === 'first') found = true;
      else if (scheme === 'never') found = found ?? false;
      else if (typeof x.add_prefix_space === 'boolean') found = found || x.add_prefix_space;
    }
    for (const k of ['normalizers', 'pretokenizers'])
      if (Array.isArray(x[k])) for (const y of x[k] as unknown[]) visit(y);
  };
  visit(tj.normalizer);
  visit(tj.pre_tokenizer);
  return found ?? false;
}

/** tokenizer_config.json classes whose transformers implementation adds BOS unless told not to. */
const BOS_BY_DEFAULT = /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/;

/** The GGUF tokenizer of an already-read folder (pure). */
export function convertTokenizer(input: HfTokenizerInput): GgufTokenizerResult {
  const { files } = input;
  const fail = (why: string): GgufTokenizerResult => ({ ok: false, why, files });
  if (!isObj(input.tokenizerJson)) return fail('tokenizer.json is not a JSON object');
  const tj = input.tokenizerJson as TokenizerJson;
  const m = tj.model;
  if (!isObj(m)) return fail('tokenizer.json has no model');
  const kind =
    m.type === 'BPE' ? (m.byte_fallback === true ? 'spm-bpe' : 'byte-bpe') : m.type === 'Unigram' ? 'unigram' : '';
  if (!kind)
    return fail(
      `tokenizer.json model type ${String(m.type ?? 'missing')} has no llama.cpp equivalent for these architectures (BPE or Unigram)`,
    );
  const warnings = [...input.readWarnings];
  const infos: string[] = [];
  const cfg = input.tokenizerConfig ?? {};
  const n = input.vocabSize;
  if (!isId(n) || n < 1 || n > MAX_VOCAB) return fail(`config.json vocab_size ${String(n)} is not a vocabulary size`);

  // Base vocabulary: token -> id (BPE), or [piece, score] by id (Unigram); parallel arrays
  // (a 262k vocabulary as 262k small arrays is most of the time and garbage otherwise).
  const baseText: string[] = [];
  const baseId: number[] = [];
  const baseScore: number[] = [];
  if (kind === 'unigram') {
    if (!Array.isArray(m.vocab)) return fail('tokenizer.json Unigram vocab is not a list');
    const v = m.vocab as unknown[];
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number')
        return fail(`tokenizer.json Unigram vocab entry ${i} is not [piece, score]`);
      baseText.push(e[0]);
      baseId.push(i);
      baseScore.push(e[1]);
    }
  } else {
    if (!isObj(m.vocab)) return fail('tokenizer.json BPE vocab is not an object');
    const vocab = m.vocab;
    const keys = Object.keys(vocab);
    for (let k = 0; k < keys.length; k++) {
      const id = vocab[keys[k]];
      if (!isId(id)) return fail(`tokenizer.json vocab "${keys[k]}" has id ${JSON.stringify(id)}, not a token id`);
      baseText.push(keys[k]);
      baseId.push(id);
    }
  }
  const added: AddedToken[] = [];
  if (tj.added_tokens !== undefined && !Array.isArray(tj.added_tokens))
    return fail('tokenizer.json added_tokens is not a list');
  for (const a of (tj.added_tokens ?? []) as unknown[]) {
    if (!isObj(a) || !isId(a.id) || typeof a.content !== 'string')
      return fail(`tokenizer.json added token ${JSON.stringify(a).slice(0, 80)} has no id and content`);
    added.push({ id: a.id, content: a.content, special: a.special === true });
  }
  let top = -1;
  for (const id of baseId) if (id > top) top = id;
  for (const a of added) if (a.id > top) top = a.id;
  if (top >= n)
    return fail(
      `tokenizer.json has token id ${top}, beyond config.json vocab_size ${n} (the embedding's rows): llama.cpp would refuse the file`,
    );

  // Tokens and types.
  const tokens: string[] = new Array<string>(n);
  const types = new Int32Array(n);
  const spm = kind !== 'byte-bpe';
  const unkText = typeof m.unk_token === 'string' ? m.unk_token : undefined;
  const unkId = kind === 'unigram' && isId(m.unk_id) ? m.unk_id : undefined;
  for (let k = 0; k < baseText.length; k++) {
    const t = baseText[k],
      id = baseId[k];
    tokens[id] = t;
    types[id] =
      spm && /^<0x[0-9A-Fa-f]{2}>$/.test(t)
        ? TOKEN_TYPE.byte
        : spm && (t === unkText || id === unkId)
          ? TOKEN_TYPE.unknown
          : TOKEN_TYPE.normal;
  }
  const addedIds = new Set<number>();
  for (const a of added) {
    addedIds.add(a.id);
    // The unknown token keeps its SentencePiece type.
    if (spm && types[a.id] === TOKEN_TYPE.unknown && tokens[a.id] === a.content) continue;
    if (a.special || looksSpecial(a.content)) {
      tokens[a.id] = a.content;
      types[a.id] = TOKEN_TYPE.control;
    } else {
      // llama.cpp expects user-defined tokens pre-normalized: SentencePiece spaces as spaces.
      tokens[a.id] = a.content.replace(/▁/g, ' ');
      types[a.id] = TOKEN_TYPE.userDefined;
    }
  }
  let pads = 0;
  for (let i = 0; i < n; i++)
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.unused;
      pads++;
    }
  if (pads) infos.push(`${pads} unused ids padded as [PAD<id>] up to config.json vocab_size ${n}`);
  {
    // llama.cpp indexes tokens by text and refuses a vocabulary with a text twice.
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const j = seen.get(tokens[i]);
      if (j !== undefined) {
        warnings.push(
          `tokenizer.ggml.tokens: ids ${j} and ${i} are both ${JSON.stringify(tokens[i])}; llama.cpp refuses a vocabulary with a repeated token`,
        );
        break;
      }
      seen.set(tokens[i], i);
    }
  }

  // Merges (byte-level BPE) or scores (SentencePiece-style).
  let merges: string[] | undefined;
  let scores: Float32Array | undefined;
  const rawMerges = m.merges === undefined ? [] : m.merges;
  if (kind !== 'unigram' && !Array.isArray(rawMerges)) return fail('tokenizer.json merges is not a list');
  if (kind === 'byte-bpe') {
    merges = [];
    for (const x of rawMerges as unknown[]) {
      if (typeof x === 'string') merges.push(x);
      else {
        const [a, b] = mergeParts(x);
        if (a === undefined || b === undefined)
          return fail(`tokenizer.json merge ${JSON.stringify(x).slice(0, 60)} is not a pair`);
        // Pair form (transformers >= 4.45): a space inside a part is written as U+0120.
        merges.push(`${a.replace(/ /g, 'Ġ')} ${b.replace(/ /g, 'Ġ')}`);
      }
    }
    if (merges.length === 0)
      warnings.push('tokenizer.ggml.merges: tokenizer.json has no merges; llama.cpp then tokenizes byte by byte');
  } else {
    scores = new Float32Array(n);
    if (kind === 'unigram') for (let k = 0; k < baseId.length; k++) scores[baseId[k]] = baseScore[k];
    else {
      // Score = -(rank of the first merge making the token); tokens no merge makes rank after all merges, by id.
      const vocab = m.vocab as Record<string, unknown>;
      const done = new Uint8Array(n);
      const list = rawMerges as unknown[];
      for (let r = 0; r < list.length; r++) {
        const [a, b] = mergeParts(list[r]);
        if (a === undefined || b === undefined)
          return fail(`tokenizer.json merge ${JSON.stringify(list[r]).slice(0, 60)} is not a pair`);
        const id = vocab[a + b]; // own ids are numbers; inherited names are not
        if (typeof id === 'number' && !done[id]) {
          scores[id] = -r;
          done[id] = 1;
        }
      }
      for (const id of baseId) if (!done[id]) scores[id] = -(list.length + id);
    }
    for (const id of addedIds) scores[id] = -1000;
    for (let i = 0; i < n; i++) if (types[i] === TOKEN_TYPE.unused) scores[i] = -1000;
    if (kind === 'unigram')
      warnings.push(
        "tokenizer.ggml.scores: a Unigram tokenizer is written as llama.cpp's SentencePiece model (as its converter writes one), which segments greedily by score where Hugging Face finds the best segmentation: tokenization can differ",
      );
  }

  // Pre-tokenizer.
  let pre = 'default';
  let preHash: string | undefined;
  if (kind === 'byte-bpe') {
    const dec = tj.decoder;
    const byteLevelDecoder =
      isObj(dec) &&
      (dec.type === 'ByteLevel' ||
        (dec.type === 'Sequence' &&
          Array.isArray(dec.decoders) &&
          (dec.decoders as unknown[]).some((d) => isObj(d) && d.type === 'ByteLevel')));
    if (!byteLevelDecoder)
      warnings.push(
        "tokenizer.ggml.model: this BPE tokenizer has no ByteLevel decoder, but llama.cpp's gpt2 model reads every token as byte-level text: tokenization can differ",
      );
    try {
      preHash = preTokenizerHash(tj, input.tokenizerConfig, baseText, baseId);
      const name = preTokenizerName(preHash);
      if (name) pre = name;
      else
        warnings.push(
          `tokenizer.ggml.pre: llama.cpp's converter does not recognise this pre-tokenizer (check-text hash ${preHash.slice(0, 12)}…); written as "default", with which llama.cpp splits text by GPT-2's pattern and can tokenize differently from Hugging Face`,
        );
    } catch (e) {
      warnings.push(
        `tokenizer.ggml.pre: the tokenizer could not be run to identify its pre-tokenizer (${(e as Error).message}); written as "default", which can tokenize differently from Hugging Face`,
      );
    }
  }

  // Special token ids, in SpecialVocab's order: tokenizer_config.json by content (first
  // added token with that text), then config.json ids; then generation_config.json. Lists
  // (Llama 3.1's eos_token_id) give their first id.
  const special: Partial<Record<SpecialTokenKind, number>> = {};
  const addedByContent = new Map<string, number>();
  for (const a of added) if (!addedByContent.has(a.content)) addedByContent.set(a.content, a.id);
  const set = (k: SpecialTokenKind, id: number | undefined) => {
    if (id === undefined || special[k] !== undefined) return;
    if (id < n) special[k] = id;
    else warnings.push(`${SPECIAL_TOKEN_KEY[k]}: id ${id} is beyond the ${n} tokens; not written`);
  };
  const KINDS = ['bos', 'eos', 'unk', 'sep', 'pad', 'mask'] as const;
  for (const k of KINDS) {
    const text = configTokenText(cfg[`${k}_token`]);
    if (text !== undefined) set(k, addedByContent.get(text));
  }
  for (const k of KINDS) set(k, firstId(input.config[`${k}_token_id`]));
  for (const k of KINDS) set(k, firstId(input.generationConfig?.[`${k}_token_id`]));
  if (spm && special.unk === undefined && unkText !== undefined) set('unk', baseId[baseText.indexOf(unkText)]);
  if (spm && special.unk === undefined && unkId !== undefined) set('unk', unkId);
  const idOfText = new Map<string, number>();
  for (const t of [...EOT_TEXTS, ...EOM_TEXTS]) {
    const i = addedByContent.get(t);
    if (i !== undefined) idOfText.set(t, i);
  }
  for (const t of EOT_TEXTS) if (special.eot === undefined) set('eot', idOfText.get(t));
  for (const t of EOM_TEXTS) if (special.eom === undefined) set('eom', idOfText.get(t));
  if (special.eos === undefined)
    warnings.push(
      `tokenizer.ggml.eos_token_id: no eos token in tokenizer_config.json, config.json or generation_config.json; llama.cpp then uses id ${spm ? 2 : 11}`,
    );
  // Every id the model lists as an end of sequence should stop llama.cpp's generation.
  const eogIds = new Set<number>();
  for (const k of ['eos', 'eot', 'eom'] as const) if (special[k] !== undefined) eogIds.add(special[k]!);
  for (const [t, i] of addedByContent) if (EOG_TEXTS.has(t)) eogIds.add(i);
  const listed = new Set([...idList(input.config.eos_token_id), ...idList(input.generationConfig?.eos_token_id)]);
  const missed = [...listed].filter((i) => i < n && !eogIds.has(i));
  if (missed.length)
    warnings.push(
      `tokenizer.ggml.eos_token_id: config.json / generation_config.json list end-of-sequence id${missed.length === 1 ? '' : 's'} ${missed.join(', ')} (${missed.map((i) => JSON.stringify(tokens[i])).join(', ')}), which llama.cpp does not stop at (GGUF has one eos id)`,
    );

  // add_bos / add_eos: tokenizer_config.json flags, else what the post-processor adds.
  const tmpl = templateEnds(tj.post_processor);
  const textOf = (id: number | undefined) => (id === undefined ? undefined : tokens[id]);
  let addBos: boolean;
  let addEos: boolean;
  if (typeof cfg.add_bos_token === 'boolean') addBos = cfg.add_bos_token;
  else if (tmpl.found) addBos = tmpl.first !== undefined && tmpl.first === textOf(special.bos);
  else addBos = typeof cfg.tokenizer_class === 'string' && BOS_BY_DEFAULT.test(cfg.tokenizer_class);
  if (typeof cfg.add_eos_token === 'boolean') addEos = cfg.add_eos_token;
  else addEos = tmpl.found && tmpl.last !== undefined && tmpl.last === textOf(special.eos);
  if (tmpl.first !== undefined && tmpl.first !== textOf(special.bos))
    warnings.push(
      `tokenizer.ggml.add_bos_token: the post-processor starts a sequence with ${tmpl.first}, which is not the bos token; llama.cpp adds only bos`,
    );
  if (addBos && special.bos === undefined)
    warnings.push(
      `tokenizer.ggml.bos_token_id: the tokenizer adds a bos token but none is named in tokenizer_config.json or config.json; llama.cpp then uses id ${spm ? 1 : 11}`,
    );

  let addSpacePrefix: boolean | undefined;
  if (typeof cfg.add_prefix_space === 'boolean') addSpacePrefix = cfg.add_prefix_space;
  else if (spm) addSpacePrefix = prependsSpace(tj);

  const { chatTemplate, namedTemplates } = chatTemplates(input, warnings, infos);

  const tokenizer: GgufTokenizer = {
    model: spm ? 'llama' : 'gpt2',
    pre,
    preHash,
    vocabSize: n,
    mergeCount: merges?.length ?? 0,
    special,
    addBos,
    addEos,
    addSpacePrefix,
    hasChatTemplate: chatTemplate !== undefined || namedTemplates.length > 0,
    files,
    warnings,
    infos,
    tokens,
    types,
    scores,
    merges,
    chatTemplate,
    namedTemplates,
  };
  return { ok: true, tokenizer };
}

/** The chat templates: tokenizer_config.json's (a string, or [{name, template}] with the
 *  default one first-class), else chat_template.jinja (with additional_chat_templates/),
 *  else chat_template.json. Names are reduced to [A-Za-z0-9_] as gguf-py does. */
function chatTemplates(
  input: HfTokenizerInput,
  warnings: string[],
  infos: string[],
): { chatTemplate?: string; namedTemplates: { name: string; template: string }[] } {
  let chatTemplate: string | undefined;
  const namedTemplates: { name: string; template: string }[] = [];
  let source: unknown = input.tokenizerConfig?.chat_template;
  if (source === undefined || source === null) {
    if (input.chatTemplateJinja !== undefined)
      source = input.additionalTemplates?.length
        ? [{ name: 'default', template: input.chatTemplateJinja }, ...input.additionalTemplates]
        : input.chatTemplateJinja;
    else source = input.chatTemplateJson;
  }
  if (typeof source === 'string') chatTemplate = source;
  else if (Array.isArray(source)) {
    for (const c of source) {
      if (!isObj(c) || typeof c.template !== 'string') continue;
      const name = String(c.name ?? '').replace(/[^A-Za-z0-9]/g, '_');
      if (!name) continue;
      if (name === 'default') chatTemplate = c.template;
      else if (!namedTemplates.some((t) => t.name === name)) namedTemplates.push({ name, template: c.template });
    }
  } else if (source !== undefined && source !== null)
    warnings.push('tokenizer.chat_template: the chat_template found is neither a string nor a list; not written');
  if (chatTemplate === undefined && namedTemplates.length === 0)
    infos.push(
      'no chat template (tokenizer_config.json chat_template, chat_template.jinja): a base model; llama.cpp chat then guesses a template',
    );
  return { chatTemplate, namedTemplates };
}

/** The small part of a tokenizer (what the editor keeps per model). */
export function tokenizerInfo(t: GgufTokenizerInfo): GgufTokenizerInfo {
  return {
    model: t.model,
    pre: t.pre,
    preHash: t.preHash,
    vocabSize: t.vocabSize,
    mergeCount: t.mergeCount,
    special: t.special,
    addBos: t.addBos,
    addEos: t.addEos,
    addSpacePrefix: t.addSpacePrefix,
    hasChatTemplate: t.hasChatTemplate,
    files: t.files,
    warnings: t.warnings,
    infos: t.infos,
  };
}

/** Whether `t` carries the token arrays (a full conversion, not an editor summary). */
export function isFullTokenizer(t: GgufTokenizerInfo): t is GgufTokenizer {
  return Array.isArray((t as GgufTokenizer).tokens);
}
