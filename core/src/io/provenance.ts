// How Bitsmith marks what it writes, so that it replaces only its own outputs (never a
// file it did not write):
//   safetensors (output fake, a compressed-tensors folder's weights): __metadata__ "bitsmith.version"
//   GGUF (output gguf): the key "bitsmith.version"
//   translations (export llm_compressor / llama_quantize): a comment line starting
//     TRANSLATION_MARK among the first lines (after the shebang)
//   folders (output compressed_tensors): a file OUTPUT_MARKER inside, listing each file
//     Bitsmith wrote there with its size and modification time
// Pure: the file reads are in analysis/outputFacts.ts; native writes the folder marker
// (native/src/run/compressed_tensors.cc) in the same layout.

/** The marker file inside a folder Bitsmith wrote. */
export const OUTPUT_MARKER = '.bitsmith-output.json';

/** The start of the comment line that says a translation is Bitsmith's. */
export const TRANSLATION_MARK = '# Written by Bitsmith';

/** The marker line of a translation (a comment in both YAML and sh). */
export function translationMarkLine(source: string): string {
  return `${TRANSLATION_MARK} from ${source}: bitsmith run/export replace this file (delete this line to keep your edits)`;
}

/** The first comment lines of translations written before the mark existed (Bitsmith 0.1). */
const EARLIER_MARKS = [
  '# llm-compressor recipe written by bitsmith from ',
  '# llama-quantize command written by bitsmith from ',
];

/** Whether text (the first bytes of a file) carries the translation mark in its first lines. */
export function hasTranslationMark(head: string): boolean {
  const lines = head.split('\n', 4).map((l) => l.replace(/\r$/, ''));
  return lines.some((l) => l.startsWith(TRANSLATION_MARK) || EARLIER_MARKS.some((m) => l.startsWith(m)));
}

export interface FolderMarkerFile {
  name: string;
  size: number;
  /** Modification time in whole milliseconds since the epoch, as Bitsmith left the file. */
  mtimeMs: number;
}

export interface FolderMarker {
  writer: 'bitsmith';
  version: string;
  kind: string;
  files: FolderMarkerFile[];
}

/** The marker's content, or undefined when it is not one (bad JSON, wrong shape). */
export function parseFolderMarker(text: string): FolderMarker | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (o.writer !== 'bitsmith' || !Array.isArray(o.files)) return undefined;
  const files: FolderMarkerFile[] = [];
  for (const f of o.files) {
    if (!f || typeof f !== 'object') return undefined;
    const e = f as Record<string, unknown>;
    if (typeof e.name !== 'string' || typeof e.size !== 'number' || typeof e.mtimeMs !== 'number') return undefined;
    files.push({ name: e.name, size: e.size, mtimeMs: e.mtimeMs });
  }
  return {
    writer: 'bitsmith',
    version: typeof o.version === 'string' ? o.version : '',
    kind: typeof o.kind === 'string' ? o.kind : '',
    files,
  };
}

/** What is in a folder now, as the marker check needs it. */
export interface FolderEntryNow {
  name: string;
  /** 'file' for a regular file; anything else is never Bitsmith's. */
  kind: string;
  size: number;
  mtimeMs: number;
}

/** Why a folder with this marker and these entries is not (only) what Bitsmith wrote; undefined when it is. */
export function folderMarkerProblem(marker: FolderMarker, entries: readonly FolderEntryNow[]): string | undefined {
  const listed = new Map(marker.files.map((f) => [f.name, f]));
  const foreign: string[] = [];
  const changed: string[] = [];
  for (const e of entries) {
    if (e.name === OUTPUT_MARKER) continue;
    const f = listed.get(e.name);
    if (!f || e.kind !== 'file') foreign.push(e.name);
    else if (f.size !== e.size || f.mtimeMs !== e.mtimeMs) changed.push(e.name);
  }
  const few = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? ` and ${xs.length - 3} more` : '');
  if (foreign.length) return `holds files Bitsmith did not write there (${few(foreign)})`;
  if (changed.length) return `holds files changed since Bitsmith wrote them (${few(changed)})`;
  return undefined;
}
