// Language-server latency on a large model: a synthetic Llama-like HF folder with ~1,000
// tensors (a real safetensors file whose data section is sparse: ftruncate gives it its
// full size without writing the weights) and a 300-rule recipe. Measures p50/p95 of hover,
// completion and full re-analysis, through the pure feature functions and through the
// real stdio server (node dist/server.js --stdio; run `npm run build` first).
//
//   node bench/lsp-bench.mjs [--iterations 200] [--no-server]
//   (SERVER_NODE_FLAGS="--max-semi-space-size=32" passes node flags to the server process.)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

const require = createRequire(import.meta.url);
require('../test/register.js'); // lets require() load the TypeScript sources
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const core = require('../core/src/index.ts');
const { makeDocument } = require('../server/src/features/document.ts');
const { hover, ruleHover } = require('../server/src/features/hover.ts');
const { completion } = require('../server/src/features/completion.ts');
const { semanticTokens } = require('../server/src/features/semanticTokens.ts');
const { documentSymbols } = require('../server/src/features/symbols.ts');
const { formatting } = require('../server/src/features/formatting.ts');
const { ModelCache } = require('../server/src/modelCache.ts');

const args = process.argv.slice(2);
const ITER = Number(args[args.indexOf('--iterations') + 1]) || 200;
const withServer = !args.includes('--no-server');

// ---- synthetic model ---------------------------------------------------------------------

const LAYERS = 111; // 111 x 9 + embed, norm, lm_head = 1,002 tensors
const DIM = 2048;
const HIDDEN = 5632;
const KV = 512;
const VOCAB = 32000;

function writeModel(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const tensors = [['model.embed_tokens.weight', [VOCAB, DIM]]];
  for (let l = 0; l < LAYERS; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      [`${p}.input_layernorm.weight`, [DIM]],
      [`${p}.self_attn.q_proj.weight`, [DIM, DIM]],
      [`${p}.self_attn.k_proj.weight`, [KV, DIM]],
      [`${p}.self_attn.v_proj.weight`, [KV, DIM]],
      [`${p}.self_attn.o_proj.weight`, [DIM, DIM]],
      [`${p}.post_attention_layernorm.weight`, [DIM]],
      [`${p}.mlp.gate_proj.weight`, [HIDDEN, DIM]],
      [`${p}.mlp.up_proj.weight`, [HIDDEN, DIM]],
      [`${p}.mlp.down_proj.weight`, [DIM, HIDDEN]],
    );
  }
  tensors.push(['model.norm.weight', [DIM]], ['lm_head.weight', [VOCAB, DIM]]);
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned, as writers do
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, 'model.safetensors');
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  fs.ftruncateSync(fd, 8 + json.length + offset); // sparse: the data section is a hole
  fs.closeSync(fd);
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: DIM,
      intermediate_size: HIDDEN,
      num_hidden_layers: LAYERS,
      num_attention_heads: 16,
      num_key_value_heads: 4,
      vocab_size: VOCAB,
      torch_dtype: 'bfloat16',
    }),
  );
  return { tensors: tensors.length, bytes: offset };
}

/** defaults + 299 match rules of the kinds real recipes use, all valid for the model. */
function writeRecipe(modelDir) {
  const lines = [
    `# 300-rule benchmark recipe`,
    `recipe "bench"`,
    `model "${modelDir}"`,
    `budget 5 bpw`,
    ``,
    `defaults {`,
    `  format int4`,
    `  group 128`,
    `  symmetric false`,
    `}`,
    ``,
  ];
  const kinds = [
    (l) => `match "model.layers.${l}.mlp.down_proj" {\n  format int3\n  group 64\n}`,
    (l) => `match "model.layers.${l}.self_attn.[qkv]_proj" { format int6 }`,
    (l) => `match "model.layers.{${l}..${l + 2}}.mlp.[gu]*_proj" {\n  method hqq { iters 10 }\n  outliers 0.5%\n}`,
  ];
  for (let i = 0; i < 299; i++) lines.push(kinds[i % 3](Math.floor(i / 3) % (LAYERS - 2)));
  lines.push('', 'match "model.embed_tokens", "lm_head" { keep }', 'output fake "out/bench.safetensors"', '');
  return lines.join('\n');
}

// ---- measurement ---------------------------------------------------------------------------

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p95: q(0.95), max: s[s.length - 1], n: s.length };
}

// A full collection before each measurement, so one row does not pay for the garbage of the last.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

function time(fn, n = ITER) {
  gc();
  for (let i = 0; i < Math.min(10, n); i++) fn(i); // warm up (JIT, first-use caches)
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return stats(out);
}

async function timeAsync(fn, n = ITER) {
  for (let i = 0; i < Math.min(10, n); i++) await fn(i);
  const out = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return stats(out);
}

const rows = [];
function row(name, s, target) {
  rows.push({ name, ...s, target });
}

function printTable() {
  const f = (x) => x.toFixed(2).padStart(8);
  console.log(
    `\n${'measurement'.padEnd(58)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}  target`,
  );
  console.log('-'.repeat(102));
  for (const r of rows) {
    const verdict = r.target === undefined ? '' : `p95 < ${r.target}: ${r.p95 < r.target ? 'ok' : 'MISSED'}`;
    console.log(`${r.name.padEnd(58)} ${f(r.p50)} ${f(r.p95)} ${f(r.max)}  ${verdict}`);
  }
}

// ---- run -----------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bitsmith-bench-'));
try {
  const modelDir = path.join(tmp, 'llama-1k');
  const m = writeModel(modelDir);
  const text = writeRecipe(modelDir);
  const recipePath = path.join(tmp, 'bench.quant');
  fs.writeFileSync(recipePath, text);
  console.log(`model: ${m.tensors} tensors, ${(m.bytes / 2 ** 30).toFixed(1)} GiB sparse safetensors (${modelDir})`);
  console.log(`recipe: ${text.split('\n').length} lines, 300 rules; ${ITER} iterations per measurement`);

  const models = new ModelCache();
  const loadModel = (p) => models.load(p);
  const t0 = process.hrtime.bigint();
  const header = core.readModelHeader(modelDir);
  console.log(
    `header read: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms (${header.tensors.length} tensors)`,
  );

  const analysis = core.analyze(text, { recipePath, loadModel });
  const problems = analysis.diagnostics.filter((d) => d.severity === 'error');
  if (problems.length) console.log(`note: ${problems.length} errors in the recipe, first: ${problems[0].message}`);
  const doc = makeDocument(pathToFileURL(recipePath).toString(), 1, text, analysis, recipePath);
  const at = (needle, delta = 0) => doc.lines.position(text.indexOf(needle) + delta);

  // A rule in the middle of the file, a match string, and a format position.
  const rulePos = at('match "model.layers.50.self_attn.[qkv]_proj"', 2);
  const stringText = text.replace('match "model.embed_tokens"', 'match "model.layers.*.m"');
  const stringDoc = makeDocument(
    doc.uri,
    2,
    stringText,
    core.analyze(stringText, { recipePath, loadModel }),
    recipePath,
  );
  const stringPos = stringDoc.lines.position(stringText.indexOf('model.layers.*.m"') + 16);
  const formatText = text.replace('format int6 }', 'format  }');
  const formatDoc = makeDocument(
    doc.uri,
    3,
    formatText,
    core.analyze(formatText, { recipePath, loadModel }),
    recipePath,
  );
  const formatPos = formatDoc.lines.position(formatText.indexOf('format  }') + 7);

  const h = hover(doc, rulePos);
  if (!h || !/bpw/.test(h.contents.value)) throw new Error('hover on the rule gave no bpw');
  const c1 = completion(stringDoc, stringPos);
  if (!c1.some((i) => i.label === 'model.layers.*.mlp.down_proj'))
    throw new Error('pattern completion is missing model.layers.*.mlp.down_proj');
  const c2 = completion(formatDoc, formatPos);
  if (!c2.some((i) => i.label === 'int4')) throw new Error('format completion is missing int4');

  // A rule's hover text is cached per analysis; the first hover after each analysis builds it
  // (ruleHover), later ones over the same word read the cache (hover).
  const ruleAt = (needle) => analysis.recipe.rules.find((r) => r.stmt.start === text.indexOf(needle));
  const mid = ruleAt('match "model.layers.50.self_attn.[qkv]_proj"');
  row(
    'hover on a rule, first after an analysis',
    time(() => ruleHover(doc, mid)),
    5,
  );
  const defaultsMatched = analysis.plan.rules[0].matched.length;
  row(
    `hover on defaults (${defaultsMatched} tensors), first after an analysis`,
    time(() => ruleHover(doc, analysis.recipe.rules[0])),
    5,
  );
  row(
    'hover on a rule, again (from the cache)',
    time(() => hover(doc, rulePos)),
    5,
  );
  row(
    `completion in a match string (${c1.length} items)`,
    time(() => completion(stringDoc, stringPos)),
    5,
  );
  row(
    `completion after format (${c2.length} items)`,
    time(() => completion(formatDoc, formatPos)),
    5,
  );
  row(
    'analyze: full re-analysis, same text',
    time(() => core.analyze(text, { recipePath, loadModel })),
    20,
  );
  // Typing changes one pattern at a time: core's per-pattern match cache misses once per edit.
  row(
    'analyze: full re-analysis, one pattern edited',
    time((i) =>
      core.analyze(text.replace('"model.layers.7.mlp.down_proj"', `"model.layers.${i % 100}.mlp.*_proj"`), {
        recipePath,
        loadModel,
      }),
    ),
    20,
  );
  row(
    'semantic tokens (full)',
    time(() => semanticTokens(doc)),
  );
  row(
    'document symbols',
    time(() => documentSymbols(doc)),
  );
  row(
    'formatting',
    time(() => formatting(doc), Math.min(ITER, 50)),
  );

  if (withServer) await serverBench({ text, recipePath, rulePos, stringText, stringPos, formatText, formatPos });
  printTable();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** The same requests through node dist/server.js --stdio, as an editor sends them (Content-Length framing by hand). */
async function serverBench({ text, recipePath, rulePos, stringText, stringPos, formatText, formatPos }) {
  const serverJs = path.join(root, 'dist/server.js');
  if (!fs.existsSync(serverJs)) {
    console.log('dist/server.js missing: run `npm run build` for the server rows');
    return;
  }
  const child = spawn(
    process.execPath,
    [...(process.env.SERVER_NODE_FLAGS ? process.env.SERVER_NODE_FLAGS.split(' ') : []), serverJs, '--stdio'],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let buf = Buffer.alloc(0);
  let id = 0;
  const pending = new Map();
  const notes = [];
  child.stdout.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const sep = buf.indexOf('\r\n\r\n');
      if (sep < 0) return;
      const len = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, sep).toString())[1]);
      if (buf.length < sep + 4 + len) return;
      const msg = JSON.parse(buf.subarray(sep + 4, sep + 4 + len).toString());
      buf = buf.subarray(sep + 4 + len);
      if (msg.id !== undefined && pending.has(msg.id)) {
        pending.get(msg.id)(msg);
        pending.delete(msg.id);
      } else if (msg.id !== undefined) {
        send({ jsonrpc: '2.0', id: msg.id, result: null }); // server -> client requests
      } else {
        notes.push(msg);
        for (const w of waiters.splice(0)) if (!w(msg)) waiters.push(w);
      }
    }
  });
  const waiters = [];
  const send = (msg) => {
    const body = Buffer.from(JSON.stringify(msg));
    child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    child.stdin.write(body);
  };
  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const mid = ++id;
      pending.set(mid, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
      send({ jsonrpc: '2.0', id: mid, method, params });
    });
  const notify = (method, params) => send({ jsonrpc: '2.0', method, params });
  const nextDiagnostics = (uri, version) =>
    new Promise((resolve) => {
      waiters.push((m) => {
        if (
          m.method === 'textDocument/publishDiagnostics' &&
          m.params.uri === uri &&
          (version === undefined || m.params.version === version)
        ) {
          resolve(m.params);
          return true;
        }
        return false;
      });
    });

  try {
    await request('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {
        textDocument: {
          completion: { completionItem: { snippetSupport: true }, completionList: { itemDefaults: ['editRange'] } },
        },
      },
    });
    notify('initialized', {});
    const uri = pathToFileURL(recipePath).toString();
    let version = 1;
    const opened = nextDiagnostics(uri);
    const t0 = process.hrtime.bigint();
    notify('textDocument/didOpen', { textDocument: { uri, languageId: 'quant', version, text } });
    await opened;
    console.log(
      `server: open to first diagnostics (header read + analysis): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms`,
    );

    const setText = (t) =>
      notify('textDocument/didChange', { textDocument: { uri, version: ++version }, contentChanges: [{ text: t }] });
    row(
      'server: hover on a rule',
      await timeAsync(() => request('textDocument/hover', { textDocument: { uri }, position: rulePos })),
    );
    setText(stringText);
    row(
      'server: completion in a match string',
      await timeAsync(() => request('textDocument/completion', { textDocument: { uri }, position: stringPos })),
    );
    setText(formatText);
    row(
      'server: completion after format',
      await timeAsync(() => request('textDocument/completion', { textDocument: { uri }, position: formatPos })),
    );
    // An edit followed at once by a hover: the server re-analyses synchronously for it.
    row(
      'server: edit + hover (re-analysis + hover)',
      await timeAsync(
        (i) => {
          setText(text.replace('# 300-rule', `# ${i} 300-rule`));
          return request('textDocument/hover', { textDocument: { uri }, position: rulePos });
        },
        Math.min(ITER, 100),
      ),
    );
    // Diagnostics after an edit arrive after the 150 ms debounce plus the analysis.
    row(
      'server: edit to diagnostics (incl. 150 ms debounce)',
      await timeAsync((i) => {
        const done = nextDiagnostics(uri, version + 1);
        setText(text.replace('# 300-rule', `# d${i} 300-rule`));
        return done;
      }, 20),
    );
    await request('shutdown');
    notify('exit');
  } finally {
    child.kill();
  }
}
