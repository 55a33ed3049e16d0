// clang-format over native/src (the WebAssembly build from npm, so every machine formats alike).
//   node scripts/clang-format.mjs          rewrite the files in place
//   node scripts/clang-format.mjs --check  list the files that differ; exit 1 if any
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const files = fs
  .readdirSync(path.join(root, 'native'), { recursive: true })
  .filter((f) => /^(src|fuzz|test)\//.test(f) && /\.(cc|h)$/.test(f))
  .map((f) => path.join('native', f))
  .sort();
const bin = path.join(root, 'node_modules', '.bin', 'clang-format');
const args = check ? ['--dry-run', '--Werror', ...files] : ['-i', ...files];
const r = spawnSync(bin, args, { cwd: root, encoding: 'utf8', maxBuffer: 256 << 20 });
if (r.status !== 0) {
  const bad = new Set();
  const ansi = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'); // clang-format colours its diagnostics
  for (const line of (r.stderr ?? '').replace(ansi, '').split('\n')) {
    const m = /^(native\/\S+?\.(?:cc|h)):\d+:\d+: (?:error|warning)/.exec(line);
    if (m) bad.add(m[1]);
  }
  console.error(
    bad.size
      ? `clang-format: ${bad.size} file(s) not formatted (npm run format fixes them):\n  ${[...bad].join('\n  ')}`
      : r.stderr || r.error?.message,
  );
  process.exit(1);
}
if (check) console.log(`clang-format: ${files.length} files formatted`);
