// Checks that Bitsmith's GGUF output runs in llama.cpp (outside `npm test`: it needs a
// llama.cpp). Usage (scripts/llama-cpp-check.sh wraps it):
//
//   LLAMA_CPP_DIR=/path/to/llama.cpp/build node scripts/llama-cpp-check.mjs   # llama-simple from a build
//   NODE_LLAMA_CPP_DIR=/tmp/llama node scripts/llama-cpp-check.mjs           # a folder with node_modules/node-llama-cpp
//
// For stories260K (bundled; it has no tokenizer) it writes a copy of the model folder with a
// placeholder SentencePiece-style tokenizer.json (<unk> <s> </s>, byte tokens, then "[id]"
// for every other id: llama.cpp needs a vocabulary to load a model, and only token ids are compared),
// runs three recipes through `bitsmith run` (everything kept in f32; examples/ggml.quant's
// q4_0/q8_0 mix; q8_0 with the down
// projections kept), then in llama.cpp: greedy decoding of 40 tokens from BOS (id 1), and
// (node-llama-cpp) the perplexity of the first 40 reference tokens. Compared with the
// fixture's reference ids (examples/stories260K/README.md) and with Bitsmith's own float64
// forward pass of the same weights (the source for f32, the run's fake-quant output for
// q8_0; llama.cpp also rounds the activations of a q8_0 matmul to q8_0 blocks, which the
// forward pass then emulates: greedy q8_0 decoding of this tiny model flips on that).
//
// Seen on 2026-11-23 with node-llama-cpp 3.22.1 (its prebuilt llama.cpp, CPU), KV cache f32:
//   f32 GGUF: greedy ids = the reference, all 41; perplexity 2.3337 = Bitsmith's 2.3337.
//   q8_0 GGUF: all 41 greedy ids and the perplexity (2.2951) equal Bitsmith's forward pass
//     of the fake-quant weights with q8_0 activations; without that emulation the ids part
//     after 3 (perplexity 2.3347): this 64-wide model's greedy path flips on tiny changes.
//   q4_0/q8_0 mix: all 41 greedy ids equal (emulated); perplexity 5.8794 vs 5.8320
//     emulated, 5.8802 plain (llama.cpp's batched path rounds activations differently).
//     Again at 19:30, after q4_0's scale search changed (two candidates): ids equal,
//     perplexity 10.4409 = 10.4409 emulated (10.0488 plain); the forward pass is in
//     scripts/lib/llama-forward.mjs, shared with scripts/llama-cpp-kquant-check.mjs.
//   With llama.cpp's default f16 KV cache the f32 file gives the first 37 generated ids.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { llamaForward, q8Activations, readSafetensors } from './lib/llama-forward.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REFERENCE =
  '1 461 461 401 401 401 461 378 455 473 456 435 299 362 409 283 264 283 452 288 13 431 431 431 431 431 431 431 431 431 431 431 431 431 293 430 417 363 416 315 342'
    .split(' ')
    .map(Number);
const REFERENCE_PPL_60 = 2.4392; // over the first 60 greedy tokens (61 ids from BOS)

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-llama-check-'));
const model = path.join(work, 'stories260K');
fs.mkdirSync(model);
for (const f of ['config.json', 'model.safetensors'])
  fs.copyFileSync(path.join(root, 'examples/stories260K', f), path.join(model, f));
const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
// Byte tokens <0x00>..<0xFF> at 3..258 as in llama2's SentencePiece vocabularies (llama.cpp
// looks up <0x0A> for the newline), then "[id]" for the rest.
for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
for (let i = 259; i < 512; i++) vocab[`[${i}]`] = i;
fs.writeFileSync(
  path.join(model, 'tokenizer.json'),
  JSON.stringify({
    model: { type: 'BPE', vocab, merges: [], byte_fallback: true, unk_token: '<unk>' },
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: 1, content: '<s>', special: true },
      { id: 2, content: '</s>', special: true },
    ],
  }),
);

const recipes = {
  f32: 'recipe "stories260K f32"\nmodel "stories260K"\noutput gguf "stories260K-f32.gguf"\n',
  q8_0: 'recipe "stories260K q8_0"\nmodel "stories260K"\ndefaults { format q8_0 }\nmatch "*.mlp.down_proj" { keep }\noutput gguf "stories260K-q8_0.gguf"\noutput fake "stories260K-q8_0.safetensors"\n',
  // examples/ggml.quant's mix: q4_0, q8_0 for k/v and the embedding (both multiply q8_0 activations).
  ggml: 'recipe "stories260K ggml mix"\nmodel "stories260K"\ndefaults { format q4_0 }\nmatch "*.self_attn.[kv]_proj" { format q8_0 }\nmatch "*.mlp.down_proj" { keep }\nmatch "model.embed_tokens" { format q8_0 }\noutput gguf "stories260K-ggml.gguf"\noutput fake "stories260K-ggml.safetensors"\n',
};
const files = {};
for (const [name, text] of Object.entries(recipes)) {
  const r = path.join(work, `${name}.quant`);
  fs.writeFileSync(r, text);
  const p = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'run', r, '--report-dir', work], {
    encoding: 'utf8',
  });
  if (p.status !== 0) {
    console.error(p.stdout, p.stderr);
    process.exit(1);
  }
  files[name] = path.join(work, `stories260K-${name}.gguf`);
  console.log(`bitsmith: wrote ${files[name]} (${fs.statSync(files[name]).size} bytes)`);
}

// ---- Bitsmith's own figures: a float64 forward pass (scripts/lib/llama-forward.mjs) ------
function bitsmithFigures(weightsFile, actQ8) {
  const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
  const act = (name) => (actQ8?.has(name) ? q8Activations : undefined);
  let step = llamaForward(weightsFile, cfg, act);
  const ids = [1];
  for (let i = 0; i < 40; i++) {
    const lg = step(ids[i], i);
    let b = 0;
    for (let j = 1; j < lg.length; j++) if (lg[j] > lg[b]) b = j;
    ids.push(b);
  }
  step = llamaForward(weightsFile, cfg, act);
  let nll = 0;
  for (let i = 0; i < 40; i++) {
    const lg = step(REFERENCE[i], i);
    const m = lg.reduce((a, b) => Math.max(a, b), -Infinity);
    const z = lg.reduce((a, v) => a + Math.exp(v - m), 0);
    nll += -(lg[REFERENCE[i + 1]] - m - Math.log(z));
  }
  return { ids, ppl: Math.exp(nll / 40) };
}

function agree(a, b) {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

async function withNodeLlamaCpp(dir) {
  const req = createRequire(path.join(dir, 'package.json'));
  const { getLlama } = await import(req.resolve('node-llama-cpp'));
  const llama = await getLlama({ build: 'never', gpu: false, logLevel: 'error' });
  const out = {};
  for (const [name, file] of Object.entries(files)) {
    const m = await llama.loadModel({ modelPath: file });
    // KV cache in f32 (llama.cpp's default is f16, which moves near-ties in the f32 model's logits).
    const ctx = await m.createContext({
      contextSize: 128,
      batchSize: 128,
      flashAttention: false,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    const seq = ctx.getSequence();
    // Greedy: argmax of the raw logits at each step.
    const ids = [1];
    for (let i = 0; i < 40; i++) {
      const res = await seq.controlledEvaluate([[ids[ids.length - 1], { generateNext: { logits: true } }]]);
      const logits = res[0].next.logits;
      let best = -1,
        bestV = -Infinity;
      for (const [t, v] of logits)
        if (v > bestV) {
          bestV = v;
          best = t;
        }
      ids.push(best);
    }
    await seq.clearHistory();
    // Perplexity of the reference sequence (first 61 ids): mean NLL of each next id.
    const seqIds = REFERENCE.slice(0, 41);
    const res = await seq.controlledEvaluate(
      seqIds.map((t, i) => (i < seqIds.length - 1 ? [t, { generateNext: { logits: true } }] : t)),
    );
    let nll = 0;
    for (let i = 0; i < seqIds.length - 1; i++) {
      const logits = res[i].next.logits;
      let max = -Infinity;
      for (const v of logits.values()) max = Math.max(max, v);
      let z = 0;
      for (const v of logits.values()) z += Math.exp(v - max);
      nll += -(logits.get(seqIds[i + 1]) - max - Math.log(z));
    }
    out[name] = { ids, ppl: Math.exp(nll / (seqIds.length - 1)) };
    await ctx.dispose();
    await m.dispose();
  }
  return out;
}

function withLlamaSimple(dir) {
  const bin = ['bin/llama-simple', 'llama-simple', 'build/bin/llama-simple']
    .map((b) => path.join(dir, b))
    .find((b) => fs.existsSync(b));
  if (!bin) throw new Error(`no llama-simple under ${dir}`);
  const out = {};
  for (const [name, file] of Object.entries(files)) {
    // An empty prompt tokenizes to BOS alone; the pieces of the placeholder vocabulary are "[id]".
    const p = spawnSync(bin, ['-m', file, '-n', '40', ''], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${bin} failed on ${file}: ${p.stderr}`);
    out[name] = { ids: [1, ...[...p.stdout.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]))].slice(0, 41) };
  }
  return out;
}

const results = process.env.LLAMA_CPP_DIR
  ? withLlamaSimple(process.env.LLAMA_CPP_DIR)
  : await withNodeLlamaCpp(process.env.NODE_LLAMA_CPP_DIR ?? '/tmp/llama');
let ok = true;
for (const [name, r] of Object.entries(results)) {
  const same = agree(r.ids, REFERENCE);
  console.log(`llama.cpp ${name}: ${r.ids.join(' ')}`);
  console.log(
    `  greedy ids equal to the float64 reference: first ${same} of 41${r.ppl ? `; perplexity over the first 40 reference tokens ${r.ppl.toFixed(4)}` : ''}`,
  );
  if (name === 'f32' && same < 41) ok = false;
}
const own = { f32: bitsmithFigures(path.join(model, 'model.safetensors')) };
// The block-quantized matrices of both quantized recipes (everything but the down projections and the norms).
const q8Names = new Set(
  Object.keys(readSafetensors(path.join(model, 'model.safetensors'))).filter((n) => !/down_proj|norm/.test(n)),
);
for (const name of ['q8_0', 'ggml']) {
  if (!results[name]) continue;
  own[name] = bitsmithFigures(path.join(work, `stories260K-${name}.safetensors`));
  own[`${name} with q8_0 activations (as llama.cpp computes)`] = bitsmithFigures(
    path.join(work, `stories260K-${name}.safetensors`),
    q8Names,
  );
}
for (const [name, r] of Object.entries(own)) {
  console.log(
    `bitsmith float64 forward of the ${name === 'f32' ? 'source' : `fake-quant ${name}`} weights: ${r.ids.join(' ')}; perplexity over the first 40 reference tokens ${r.ppl.toFixed(4)}`,
  );
  const lc = results[name.split(' ')[0]];
  if (name.includes(' ') || name === 'f32') if (agree(lc.ids, r.ids) < 41) ok = false;
  console.log(
    `  llama.cpp ${name.split(' ')[0]} agrees on the first ${agree(lc.ids, r.ids)} of 41 ids${lc.ppl ? `; perplexity ${lc.ppl.toFixed(4)} vs ${r.ppl.toFixed(4)}` : ''}`,
  );
}
if (results.q8_0 && results.f32)
  console.log(`q8_0 vs f32 greedy: first ${agree(results.q8_0.ids, results.f32.ids)} of 41 ids agree`);
console.log(`reference: ${REFERENCE.join(' ')} (perplexity over 60 tokens ${REFERENCE_PPL_60})`);
console.log(
  ok
    ? "OK: llama.cpp reproduces the reference greedy tokens on the f32 GGUF, and Bitsmith's own forward pass of the fake-quant weights (with llama.cpp's q8_0 activations) on the q8_0 and q4_0/q8_0 GGUFs"
    : 'MISMATCH (above)',
);
fs.rmSync(work, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
