// Checks Bitsmith's `evaluate { perplexity text "file" }` against llama-perplexity (outside
// `npm test`: it needs a llama.cpp build). Usage:
//
//   LLAMA_CPP_BIN=/work/ext/llama.cpp/build/bin node scripts/llama-perplexity-check.mjs \
//     [MODEL] [TEXT] [--ctx 128] [--chunks 8] [--format q4_0] [--threads 2] [--keep]
//
// MODEL: a Hugging Face Llama folder in F32 with a tokenizer.json that llama.cpp and
// tokenizers.js split identically (a byte-level vocabulary such as bench/train-byte-llama.py's;
// default /work/ext/byte-llama when it holds a model). Without one, stories260K (bundled) is
// run with a tokenizer.json written here that both tools split identically (its ids as
// characters, see below) on text it samples itself. TEXT: default
// /work/ext/byte-llama/eval.txt with a given MODEL, the sampled text without.
//
// What it does, in a scratch folder:
//   1. bitsmith run: the model kept whole -> output gguf "f32.gguf" (llama.cpp's base);
//   2. bitsmith run: every weight but the embedding in FORMAT -> output gguf "q.gguf", with
//      evaluate { perplexity text TEXT length CTX samples CHUNKS; kl_divergence }: Bitsmith's
//      figures for the original (its own f32 forward pass of the safetensors) vs the
//      fake-quantized model (the same blocks the GGUF holds);
//   3. llama-tokenize on f32.gguf: the text's ids must equal tokenizers.js's (else the windows
//      differ and nothing is compared);
//   4. llama-perplexity -m f32.gguf -f TEXT -c CTX --chunks CHUNKS --kl-divergence-base base.kld,
//      then -m q.gguf --kl-divergence-base base.kld --kl-divergence (f32 KV cache both times);
//   5. prints both tools' figures side by side with their differences.
//
// Differences to expect: llama.cpp multiplies q4_0/q8_0 weights by activations rounded to
// q8_0 blocks (Bitsmith's evaluation is f32 throughout), and its KL base file keeps 16-bit
// log-probabilities with values below max-16 dropped (Bitsmith's per-position KL is exact).
//
// Measured on 2026-12-08 (llama.cpp Feb-2025 build, CPU, 2 threads; the stories260K fallback
// on its own sampled text, --ctx 128 --chunks 8: 8 windows, 504 scored ids; the two
// tokenizers agree on all 1,330 ids). `node scripts/llama-perplexity-check.mjs [--format q8_0]`:
//   base (F32 GGUF): PPL 654.519273 (Bitsmith) vs 654.519400 (llama-perplexity's perplexity
//     run): 2e-7 relative, so the windows, the BOS and the scored positions are the same.
//     (Its --kl-divergence run reports PPL(base) 639.73 from the 16-bit log-probabilities
//     of its base file, 2.3% lower.)
//   q4_0: PPL(Q) 815.92 vs 816.16 (−0.03%); mean KLD 1.8593 ± 0.0801 vs 1.8459 ± 0.0794
//     (+0.7%); max 12.557 vs 12.437; 99.9% 12.552 vs 12.373; 99% 8.357 vs 8.487; median
//     1.431 vs 1.454; 10% 0.1268 vs 0.1267; RMS Δp 17.91 vs 17.84%; Δp 99% 70.3 vs 71.1%;
//     same top 35.32 ± 2.13% vs 35.52 ± 2.13%: within the uncertainties everywhere.
//   q8_0: mean KLD 0.0161 vs 0.0269, same top 92.3 vs 91.7%: at 8 bits the weights' error is
//     of the order of llama.cpp's q8_0 rounding of the activations, which Bitsmith's f32
//     evaluation does not model, so llama.cpp's KL is larger.
// With the byte-level text of /work/ext/byte-llama/eval.txt instead (which this model never
// saw: near-uniform predictions), base PPL 352.032847 vs 352.032800 and q4_0 mean KLD
// 0.206559 vs 0.206380.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const flag = (name) => {
  const i = args.indexOf(`--${name}`);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
};
const CTX = Number(opt('ctx', '128'));
const CHUNKS = Number(opt('chunks', '8'));
const FORMAT = opt('format', 'q4_0');
const THREADS = opt('threads', '2');
const KEEP = flag('keep');
const BIN = process.env.LLAMA_CPP_BIN ?? '/work/ext/llama.cpp/build/bin';
const byteLlama = '/work/ext/byte-llama';
let MODEL = args[0] ?? (fs.existsSync(path.join(byteLlama, 'model.safetensors')) ? byteLlama : undefined);
let TEXT = args[1] ? path.resolve(args[1]) : MODEL ? path.join(byteLlama, 'eval.txt') : undefined;
for (const tool of ['llama-perplexity', 'llama-tokenize'])
  if (!fs.existsSync(path.join(BIN, tool))) {
    console.error(`no ${tool} in ${BIN} (set LLAMA_CPP_BIN)`);
    process.exit(2);
  }
if (TEXT && !fs.existsSync(TEXT)) {
  console.error(`no text file ${TEXT}`);
  process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-ppl-check-'));
const sh = (cmd, argv, what) => {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 256 << 20, cwd: work });
  if (r.status !== 0) {
    console.error(`${what} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    process.exit(1);
  }
  return r.stdout + r.stderr;
};

if (!MODEL) {
  // stories260K with a tokenizer both tools split into the same ids: ids 3..258 are the bytes
  // (GPT-2's byte-level spelling), ids 259..511 the characters U+0100.. (two UTF-8 bytes, one
  // merge each); <s> = 1 and </s> = 2 as in its config. Unless a text is given, the text is
  // the model's own: sequences it samples (temperature 0.7) written with those characters
  // (the 13% of byte ids it samples are left out, so every text id is one character).
  MODEL = path.join(work, 'stories260K');
  fs.mkdirSync(MODEL);
  const src = path.join(root, 'examples/stories260K');
  fs.copyFileSync(path.join(src, 'model.safetensors'), path.join(MODEL, 'model.safetensors'));
  fs.copyFileSync(path.join(src, 'config.json'), path.join(MODEL, 'config.json'));
  // GPT-2's reversible byte -> printable character map (the ByteLevel pre-tokenizer's).
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const level = new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[level.get(b)] = 3 + b;
  const merges = [];
  for (let id = 259; id < 512; id++) {
    const [b1, b2] = Buffer.from(String.fromCodePoint(0x100 + id - 259), 'utf8');
    vocab[level.get(b1) + level.get(b2)] = id;
    merges.push(`${level.get(b1)} ${level.get(b2)}`);
  }
  const special = (id, content) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  fs.writeFileSync(
    path.join(MODEL, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges,
      },
    }),
  );
  fs.writeFileSync(
    path.join(MODEL, 'tokenizer_config.json'),
    JSON.stringify({ add_bos_token: true, bos_token: '<s>' }),
  );
  if (!args[1]) {
    const { forward } = require(path.join(root, 'native'));
    const lines = [];
    for (let seed = 0; lines.join('').length < CTX * CHUNKS + CTX; seed++) {
      const ids = forward.generate(src, [1], 255, { temperature: 0.7, seed });
      lines.push(
        ids
          .filter((id) => id >= 259)
          .map((id) => String.fromCodePoint(0x100 + id - 259))
          .join(''),
      );
    }
    TEXT = path.join(work, 'stories.txt');
    fs.writeFileSync(TEXT, lines.join('\n'));
  }
}
console.log(`model ${MODEL}\ntext ${TEXT}\nctx ${CTX}, chunks ${CHUNKS}, format ${FORMAT}, work ${work}`);

// 1-2. Bitsmith: the base GGUF, then the quantized one with the evaluation.
const cli = path.join(root, 'dist/cli.js');
fs.writeFileSync(path.join(work, 'f32.quant'), `model "${MODEL}"\noutput gguf "f32.gguf"\n`);
sh(process.execPath, [cli, 'run', 'f32.quant', '--json', '--report-dir', 'reports'], 'bitsmith run f32.quant');
// A feed-forward width no ggml block divides (stories260K's 172) keeps the down projections.
const hidden = JSON.parse(fs.readFileSync(path.join(MODEL, 'config.json'), 'utf8')).intermediate_size;
fs.writeFileSync(
  path.join(work, 'q.quant'),
  [
    `model "${MODEL}"`,
    `defaults { format ${FORMAT} }`,
    'match "model.embed_tokens" { keep }',
    ...(hidden % 32 !== 0 ? ['match "*.mlp.down_proj" { keep }'] : []),
    `evaluate { perplexity text "${TEXT}" length ${CTX} samples ${CHUNKS}; kl_divergence }`,
    'output gguf "q.gguf"',
  ].join('\n') + '\n',
);
const qOut = spawnSync(process.execPath, [cli, 'run', 'q.quant', '--json', '--report-dir', 'reports'], {
  encoding: 'utf8',
  maxBuffer: 256 << 20,
  cwd: work,
});
if (qOut.status !== 0) {
  console.error(`bitsmith run q.quant failed:\n${qOut.stderr}`);
  process.exit(1);
}
const report = JSON.parse(qOut.stdout);
const e = report.evaluation;

// 3. Same ids in both tokenizers.
const { Tokenizer } = require(path.join(root, 'node_modules/@huggingface/tokenizers'));
const tok = new Tokenizer(
  JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer.json'), 'utf8')),
  JSON.parse(fs.readFileSync(path.join(MODEL, 'tokenizer_config.json'), 'utf8')),
);
const text = fs.readFileSync(TEXT, 'utf8');
const ours = tok.encode(text, { add_special_tokens: false }).ids;
const theirsOut = sh(
  path.join(BIN, 'llama-tokenize'),
  ['-m', 'f32.gguf', '-f', TEXT, '--ids', '--log-disable', '--no-bos', '--no-escape'],
  'llama-tokenize',
);
const theirs = JSON.parse(theirsOut.slice(theirsOut.indexOf('['), theirsOut.lastIndexOf(']') + 1));
let firstDiff = -1;
for (let i = 0; i < Math.max(ours.length, theirs.length); i++)
  if (ours[i] !== theirs[i]) {
    firstDiff = i;
    break;
  }
if (firstDiff >= 0) {
  console.error(
    `the tokenizers disagree at id ${firstDiff} (tokenizers.js ${ours.length} ids, llama.cpp ${theirs.length}): ${ours.slice(firstDiff, firstDiff + 8)} vs ${theirs.slice(firstDiff, firstDiff + 8)}; the windows would differ`,
  );
  process.exit(1);
}
console.log(`tokenizers agree: ${ours.length} ids`);

// 4. llama-perplexity: base logits from the F32 GGUF, then KL of the quantized GGUF.
const common = [
  '-c',
  String(CTX),
  '--chunks',
  String(CHUNKS),
  '-t',
  THREADS,
  '-ctk',
  'f32',
  '-ctv',
  'f32',
  '-b',
  String(CTX),
];
const base = sh(
  path.join(BIN, 'llama-perplexity'),
  ['-m', 'f32.gguf', '-f', TEXT, '--kl-divergence-base', 'base.kld', ...common],
  'llama-perplexity (base)',
);
const kld = sh(
  path.join(BIN, 'llama-perplexity'),
  ['-m', 'q.gguf', '--kl-divergence-base', 'base.kld', '--kl-divergence', ...common],
  'llama-perplexity (kl)',
);
const num = (out, re) => {
  const m = re.exec(out);
  return m ? [Number(m[1]), m[2] !== undefined ? Number(m[2]) : undefined] : [NaN, undefined];
};
const finalPpl = num(base, /Final estimate: PPL = ([\d.]+) \+\/- ([\d.]+)/);
const L = {
  pplBase: num(kld, /Mean PPL\(base\)\s*:\s*(-?[\d.]+)\s*±\s*([\d.]+)/),
  pplQ: num(kld, /Mean PPL\(Q\)\s*:\s*(-?[\d.]+)\s*±\s*([\d.]+)/),
  lnRatio: num(kld, /Mean ln\(PPL\(Q\)\/PPL\(base\)\)\s*:\s*(-?[\d.]+)\s*±\s*([\d.]+)/),
  klMean: num(kld, /Mean\s+KLD:\s*(-?[\d.]+)\s*±\s*([\d.]+)/),
  klMax: num(kld, /Maximum KLD:\s*([\d.]+)/),
  kl999: num(kld, /99\.9%\s+KLD:\s*([\d.]+)/),
  kl99: num(kld, /99\.0%\s+KLD:\s*([\d.]+)/),
  klMedian: num(kld, /Median\s+KLD:\s*([\d.]+)/),
  kl10: num(kld, /10\.0%\s+KLD:\s*([\d.]+)/),
  klMin: num(kld, /Minimum KLD:\s*([\d.]+)/),
  dpMean: num(kld, /Mean\s+Δp:\s*(-?[\d.]+)\s*±\s*([\d.]+) %/),
  dpMax: num(kld, /Maximum Δp:\s*(-?[\d.]+)%/),
  dp99: num(kld, /99\.0%\s+Δp:\s*(-?[\d.]+)%/),
  dpMedian: num(kld, /Median\s+Δp:\s*(-?[\d.]+)%/),
  dp1: num(kld, / 1\.0%\s+Δp:\s*(-?[\d.]+)%/),
  dpRms: num(kld, /RMS Δp\s*:\s*(-?[\d.]+)\s*±\s*([\d.]+) %/),
  same: num(kld, /Same top p:\s*(-?[\d.]+)\s*±\s*([\d.]+) %/),
};
const rows = [
  ['PPL(base) (f32)', e.perplexityOriginal, e.perplexityOriginalUncertainty, ...L.pplBase],
  ['PPL(base) plain run', e.perplexityOriginal, e.perplexityOriginalUncertainty, ...finalPpl],
  [`PPL(Q) (${FORMAT})`, e.perplexityQuantized, e.perplexityQuantizedUncertainty, ...L.pplQ],
  ['ln(PPL(Q)/PPL(base))', e.lnPerplexityRatio, e.lnPerplexityRatioUncertainty, ...L.lnRatio],
  ['Mean KLD', e.kl.mean, e.kl.uncertainty, ...L.klMean],
  ['Maximum KLD', e.kl.max, undefined, ...L.klMax],
  ['99.9% KLD', e.kl.p999, undefined, ...L.kl999],
  ['99.0% KLD', e.kl.p99, undefined, ...L.kl99],
  ['Median KLD', e.kl.median, undefined, ...L.klMedian],
  ['10.0% KLD', e.kl.p10, undefined, ...L.kl10],
  ['Minimum KLD', e.kl.min, undefined, ...L.klMin],
  ['Mean Δp %', 100 * e.deltaP.mean, 100 * e.deltaP.uncertainty, ...L.dpMean],
  ['Maximum Δp %', 100 * e.deltaP.max, undefined, ...L.dpMax],
  ['99.0% Δp %', 100 * e.deltaP.p99, undefined, ...L.dp99],
  ['Median Δp %', 100 * e.deltaP.median, undefined, ...L.dpMedian],
  ['1.0% Δp %', 100 * e.deltaP.p1, undefined, ...L.dp1],
  ['RMS Δp %', 100 * e.deltaP.rms, 100 * e.deltaP.rmsUncertainty, ...L.dpRms],
  ['Same top p %', 100 * e.sameTop.share, 100 * e.sameTop.uncertainty, ...L.same],
];
const f = (x, d = 6) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));
console.log(`\nBitsmith: ${e.sequences} windows, ${e.tokens} scored tokens (from position ${e.scoreFrom} of each)`);
const scored = num(base, /calculating perplexity over (\d+) chunks/)[0];
console.log(`llama-perplexity: ${scored} chunks of ${CTX}\n`);
console.log(
  `${'figure'.padEnd(24)}${'Bitsmith'.padStart(24)}${'llama-perplexity'.padStart(24)}${'difference'.padStart(14)}${'rel'.padStart(10)}`,
);
for (const [label, b, bu, l, lu] of rows) {
  const d = b - l;
  const rel = l !== 0 ? d / Math.abs(l) : NaN;
  console.log(
    `${label.padEnd(24)}${`${f(b)}${bu !== undefined ? ` ± ${f(bu, 4)}` : ''}`.padStart(24)}${`${f(l)}${lu !== undefined ? ` ± ${f(lu, 4)}` : ''}`.padStart(24)}${f(d).padStart(14)}${`${(100 * rel).toFixed(2)}%`.padStart(10)}`,
  );
}
if (!KEEP) fs.rmSync(work, { recursive: true, force: true });
else console.log(`\nkept ${work}`);
