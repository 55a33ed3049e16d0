// A Hugging Face hub cache on disk, laid out as huggingface_hub writes it:
//   <cache>/models--<org>--<name>/blobs/<sha256 of the content>
//                                /snapshots/<commit>/<file>  -> ../../blobs/<sha256> (relative links)
//                                /refs/<revision>            (the commit hash, no newline)
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export interface FakeCommit {
  /** 40 hex digits. */
  hash: string;
  /** File name in the snapshot -> its content. */
  files: Record<string, Buffer | string>;
}

/** Builds one repository in `cache`; returns its folder (models--org--name). */
export function makeHfRepo(
  cache: string,
  id: string,
  commits: FakeCommit[],
  refs: Record<string, string> = { main: commits[0].hash },
): string {
  const repo = path.join(cache, `models--${id.replace('/', '--')}`);
  const blobs = path.join(repo, 'blobs');
  fs.mkdirSync(blobs, { recursive: true });
  for (const c of commits) {
    const snap = path.join(repo, 'snapshots', c.hash);
    for (const [name, content] of Object.entries(c.files)) {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      const sha = crypto.createHash('sha256').update(bytes).digest('hex');
      const blob = path.join(blobs, sha);
      if (!fs.existsSync(blob)) fs.writeFileSync(blob, bytes);
      const link = path.join(snap, name);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.relative(path.dirname(link), blob), link);
    }
  }
  for (const [rev, hash] of Object.entries(refs)) {
    const f = path.join(repo, 'refs', rev);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, hash);
  }
  return repo;
}

/** The files of examples/stories260K plus the small JSON files a Hugging Face repository carries. */
export function stories260KFiles(root: string): Record<string, Buffer | string> {
  const dir = path.join(root, 'examples/stories260K');
  const files: Record<string, Buffer | string> = {};
  for (const name of fs.readdirSync(dir)) files[name] = fs.readFileSync(path.join(dir, name));
  files['tokenizer_config.json'] = JSON.stringify({ add_bos_token: true, model_max_length: 512 });
  files['generation_config.json'] = JSON.stringify({ bos_token_id: 1, eos_token_id: 2 });
  files['special_tokens_map.json'] = JSON.stringify({ bos_token: '<s>', eos_token: '</s>' });
  return files;
}

export const COMMIT_A = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';
export const COMMIT_B = 'b'.repeat(8) + 'fedcba9876543210fedcba9876543210';
