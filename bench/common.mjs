// What the quantizer benchmarks share: the native addon, command-line options
// (`--name value` and `--flag`), and the median of repeated timings.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const addon = createRequire(import.meta.url)(path.join(here, '..', 'native'));

const args = process.argv.slice(2);
/** The value after `--name`, else `dflt`. */
export const option = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
export const flag = (name) => args.includes(`--${name}`);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
