// Checks that llama.cpp computes the same perplexity from Bitsmith's F32 GGUF as the model
// itself (outside `npm test`: it needs a llama.cpp). A small random model with Llama 3.1's
// configuration (llama architecture, GQA, rope_theta 500000, rope_scaling llama3 — so the
// GGUF's rope_freqs.weight is exercised — an untied lm_head, the real Llama 3.1 tokenizer)
// is written with `bitsmith run` (everything kept: F32), then:
//
//   A. llama-perplexity's protocol (text tokenized with BOS, chunks of --ctx tokens, each
//      starting with BOS, scored on their second half): llama-perplexity's "Final estimate"
//      against the float64 reference forward pass of the safetensors
//      (scripts/lib/llama-forward.mjs, rope scaling as transformers computes it) and against
//      node-llama-cpp on the same tokens;
//   B. Bitsmith's protocol (`evaluate { perplexity "tokens.json" }`: every next token of each
//      sequence): `bitsmith run`'s perplexity of the original model against the reference
//      and node-llama-cpp. Needs a forward pass with rope scaling (reported when refused).
//
// Each is run with the llama3 rope scaling and without rope_scaling (the same weights).
//
//   LLAMA_CPP_DIR=/path/to/llama.cpp/build/bin NODE_LLAMA_CPP_DIR=/tmp/llama node scripts/gguf-perplexity-check.mjs
//   (either may be left out; the reference always runs)
//
// Seen on 2026-12-07 (llama.cpp build of February 2025, node-llama-cpp 3.22.1; dim 128, 2
// layers, GQA 2/1, head_dim 64, vocab 128,256, ctx 128, 2 chunks; the random model is
// sharpened, so its perplexities are huge but move 1.1% with rope scaling):
//   llama3 rope scaling: A reference 737651376.86, llama-perplexity 737650864.25,
//     node-llama-cpp 737650875.13 (7e-7 relative); B reference 466422160.22,
//     node-llama-cpp 466421941.33, bitsmith evaluate 466422344.13 (this branch merged with
//     main, whose forward pass reads rope_scaling; without that it refuses llama3 scaling).
//   no rope scaling: A reference 745857446.90, llama-perplexity 745857173.68,
//     node-llama-cpp 745857159.61; B reference 470054149.77, node-llama-cpp 470053990.89,
//     bitsmith evaluate 470054237.22. llama.cpp tokenizes the text as Hugging Face does.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from './lib/tiny-model.mjs';
import { llamaForward } from './lib/llama-forward.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@huggingface/tokenizers');
const LLAMA_CPP_DIR = process.env.LLAMA_CPP_DIR;
const NODE_LLAMA_CPP_DIR = process.env.NODE_LLAMA_CPP_DIR;
const CTX = 128;
const CHUNKS = 2;
const TOL = 1e-4; // relative, on perplexity: f32 arithmetic (f32 KV cache) against float64

const TEXT = [
  'The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.',
  'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  '中文文本：我想在apple工作1314151天。日本語のテキスト。한국어 텍스트. Русский текст.',
  'Numbers 3 33 333 3333 3.14159 2,718,281 and emoji 🚀🦙.',
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it.",
]
  .join('\n')
  .repeat(6);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-gguf-ppl-'));
const tokDir = path.join(root, 'node_modules', '@lenml', 'tokenizer-llama3_1', 'models');
const hf = new Tokenizer(
  JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer.json'), 'utf8')),
  JSON.parse(fs.readFileSync(path.join(tokDir, 'tokenizer_config.json'), 'utf8')),
);
const ids = hf.encode(TEXT, { add_special_tokens: true }).ids;
if (ids.length < CHUNKS * CTX) throw new Error(`the text gives ${ids.length} tokens, fewer than ${CHUNKS * CTX}`);
const BOS = ids[0];
const textFile = path.join(work, 'text.txt');
fs.writeFileSync(textFile, TEXT);
// Protocol A's chunks (BOS first) and protocol B's sequences (the same chunks).
const chunks = Array.from({ length: CHUNKS }, (_, c) => {
  const t = ids.slice(c * CTX, (c + 1) * CTX);
  t[0] = BOS;
  return t;
});
const tokensFile = path.join(work, 'tokens.json');
fs.writeFileSync(tokensFile, JSON.stringify(chunks));

const logSoftmaxAt = (lg, k) => {
  let m = -Infinity;
  for (const v of lg) if (v > m) m = v;
  let z = 0;
  for (const v of lg) z += Math.exp(v - m);
  return lg[k] - m - Math.log(z);
};
/** Perplexity of `chunks` from a per-chunk function giving logits at positions >= from. */
async function perplexity(logitsOf, from) {
  let nll = 0,
    n = 0;
  for (const t of chunks) {
    const lgs = await logitsOf(t, from);
    for (let j = from; j + 1 < t.length; j++) {
      nll -= logSoftmaxAt(lgs[j - from], t[j + 1]);
      n++;
    }
  }
  return Math.exp(nll / n);
}

let nodeLlama;
if (NODE_LLAMA_CPP_DIR) {
  const req = createRequire(path.join(path.resolve(NODE_LLAMA_CPP_DIR), 'package.json'));
  const { getLlama } = await import(req.resolve('node-llama-cpp'));
  nodeLlama = await getLlama({ gpu: false, logLevel: 'error' });
}

const rows = [];
let failures = 0;
const close = (a, b) => Math.abs(a - b) <= TOL * Math.max(a, b);
for (const variant of ['llama3 rope scaling', 'no rope scaling']) {
  const scaled = variant.startsWith('llama3');
  const dir = path.join(work, scaled ? 'llama31' : 'plain');
  const cfg = writeTinyModel(dir, {
    modelType: 'llama',
    dim: 128,
    hidden: 256,
    layers: 2,
    heads: 2,
    kvHeads: 1,
    vocab: 128256,
    tied: false,
    sharp: true,
    ropeTheta: 500000,
    maxPositions: 131072,
    ropeScaling: scaled
      ? {
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 8192,
          rope_type: 'llama3',
        }
      : undefined,
    extra: { bos_token_id: 128000, eos_token_id: [128001, 128008, 128009] },
  });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokDir, f), path.join(dir, f));
  const gguf = path.join(work, `${path.basename(dir)}.gguf`);
  const recipe = path.join(work, `${path.basename(dir)}.quant`);
  fs.writeFileSync(recipe, `model "${dir}"\ndefaults { keep }\noutput gguf "${gguf}"\n`);
  const run = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'run', recipe, '--report-dir', work], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`bitsmith run failed:\n${run.stderr}`);
  const row = { model: variant };

  // The float64 reference, both protocols (one pass per chunk gives every position).
  const refLogits = [];
  for (const t of chunks) {
    const step = llamaForward(path.join(dir, 'model.safetensors'), cfg);
    refLogits.push(t.map((tok, pos) => step(tok, pos, pos + 1 < t.length)));
  }
  let ci = 0;
  const fromRef = async (t, from) => refLogits[ci++ % CHUNKS].slice(from);
  row['A reference'] = await perplexity(fromRef, CTX / 2);
  ci = 0;
  row['B reference'] = await perplexity(fromRef, 0);

  if (LLAMA_CPP_DIR) {
    // The text tokenizes in llama.cpp as in Hugging Face (scripts/gguf-tokenizer-check.mjs checks many more).
    const tk = spawnSync(
      path.join(LLAMA_CPP_DIR, 'llama-tokenize'),
      ['-m', gguf, '-f', textFile, '--ids', '--log-disable'],
      {
        encoding: 'utf8',
        env: { ...process.env, LD_LIBRARY_PATH: LLAMA_CPP_DIR },
      },
    );
    const llamaIds = tk.status === 0 ? JSON.parse(tk.stdout.trim().split('\n').pop()) : undefined;
    row['same tokens'] = JSON.stringify(llamaIds) === JSON.stringify(ids);
    if (!row['same tokens']) failures++;
    const p = spawnSync(
      path.join(LLAMA_CPP_DIR, 'llama-perplexity'),
      [
        '-m',
        gguf,
        '-f',
        textFile,
        '-c',
        String(CTX),
        '-b',
        String(CTX),
        '--chunks',
        String(CHUNKS),
        '-t',
        '2',
        '-ctk',
        'f32',
        '-ctv',
        'f32',
      ],
      { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: LLAMA_CPP_DIR } },
    );
    const m = /Final estimate: PPL = ([\d.]+)/.exec(p.stderr + p.stdout);
    if (!m) throw new Error(`llama-perplexity failed:\n${(p.stderr + p.stdout).split('\n').slice(-15).join('\n')}`);
    row['A llama-perplexity'] = Number(m[1]);
    if (!close(row['A llama-perplexity'], row['A reference'])) failures++;
  }
  if (nodeLlama) {
    const model = await nodeLlama.loadModel({ modelPath: gguf });
    const ctx = await model.createContext({
      contextSize: CTX,
      batchSize: CTX,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    const seq = ctx.getSequence();
    const fromNode = async (t, from) => {
      await seq.clearHistory();
      const res = await seq.controlledEvaluate(
        t.map((tok, j) => (j >= from && j + 1 < t.length ? [tok, { generateNext: { logits: true } }] : tok)),
      );
      const out = [];
      for (let j = from; j + 1 < t.length; j++) {
        const lg = new Float64Array(128256);
        for (const [k, v] of res[j].next.logits) lg[k] = v;
        out.push(lg);
      }
      return out;
    };
    row['A node-llama-cpp'] = await perplexity(fromNode, CTX / 2);
    row['B node-llama-cpp'] = await perplexity(fromNode, 0);
    for (const k of ['A', 'B']) if (!close(row[`${k} node-llama-cpp`], row[`${k} reference`])) failures++;
    await ctx.dispose();
    await model.dispose();
  }
  // B: Bitsmith's own forward pass (the original model of a run with evaluate).
  const ev = path.join(work, `${path.basename(dir)}-eval.quant`);
  fs.writeFileSync(
    ev,
    `model "${dir}"\ndefaults { keep }\nevaluate { perplexity "${tokensFile}" samples ${CHUNKS} length ${CTX} }\n`,
  );
  const e = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'run', ev, '--json', '--report-dir', work], {
    encoding: 'utf8',
  });
  if (e.status === 0) {
    row['B bitsmith evaluate'] = JSON.parse(e.stdout).evaluation.perplexityOriginal;
    if (!close(row['B bitsmith evaluate'], row['B reference'])) failures++;
  } else {
    const why = /rope_scaling[^\n[]*/.exec(e.stderr)?.[0] ?? e.stderr.trim().split('\n').pop();
    row['B bitsmith evaluate'] = `refused: ${why}`;
    if (!scaled) failures++;
  }
  rows.push(row);
}
// The check tells rope scaling apart: the reference's perplexities with and without it differ.
const effect = Math.abs(rows[0]['A reference'] / rows[1]['A reference'] - 1);
for (const r of rows) {
  console.log(`${r.model}:`);
  for (const [k, v] of Object.entries(r))
    if (k !== 'model') console.log(`  ${k.padEnd(22)} ${typeof v === 'number' ? v.toFixed(4) : v}`);
}
console.log(
  `rope scaling moves the reference's perplexity by ${(100 * effect).toFixed(2)}% (the agreement asked: ${100 * TOL}%)`,
);
if (effect < 10 * TOL) {
  console.log('  too little to tell the computations apart: make the model sharper');
  failures++;
}
console.log(
  `ctx ${CTX}, ${CHUNKS} chunks, ${ids.length} text tokens; relative tolerance ${TOL}; ${failures} failure(s); files in ${work}`,
);
process.exit(failures ? 1 : 0);
