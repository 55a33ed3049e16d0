// output gguf's tokenizer findings by model folder, kept while the user types: converting
// a 150k-token tokenizer.json takes a parse and a run of the pre-tokenizer check, which
// must not happen per keystroke. Only the summary is kept (no token arrays: the run reads
// the files again), valid while the files read, and the optional ones not there, keep
// their size and mtime.
import * as fs from 'fs';
import * as path from 'path';
import { loadGgufTokenizer, tokenizerInfo, type GgufTokenizerResult } from '../../core/src/index';

/** Files whose appearance changes the result even when absent now. */
const OPTIONAL = [
  'tokenizer.json',
  'tokenizer_config.json',
  'generation_config.json',
  'chat_template.jinja',
  'chat_template.json',
  'additional_chat_templates',
];

function stamp(file: string): string {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st ? `${st.size}:${st.mtimeMs}` : 'missing';
}

interface Entry {
  key: string;
  stamps: Map<string, string>;
  result: GgufTokenizerResult | undefined;
}

export class TokenizerCache {
  private readonly entries = new Map<string, Entry>();
  /** Conversions actually performed (for tests). */
  reads = 0;

  constructor(private readonly convert = loadGgufTokenizer) {}

  load(dir: string, config: Record<string, unknown>, vocabSize: number): GgufTokenizerResult | undefined {
    const abs = path.resolve(dir);
    const key = `${vocabSize}\n${JSON.stringify(config)}`;
    const hit = this.entries.get(abs);
    if (hit && hit.key === key && [...hit.stamps].every(([f, s]) => stamp(f) === s)) return hit.result;
    const stamps = new Map<string, string>();
    for (const f of OPTIONAL) stamps.set(path.join(abs, f), stamp(path.join(abs, f)));
    this.reads++;
    const full = this.convert(abs, config, vocabSize);
    const result: GgufTokenizerResult | undefined =
      full && full.ok ? { ok: true, tokenizer: tokenizerInfo(full.tokenizer) } : full;
    for (const f of full?.ok ? full.tokenizer.files : (full?.files ?? [])) if (!stamps.has(f)) stamps.set(f, stamp(f));
    if (this.entries.size >= 8) this.entries.clear();
    this.entries.set(abs, { key, stamps, result });
    return result;
  }
}
