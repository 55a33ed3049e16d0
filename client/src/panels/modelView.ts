// The model header as the Inspect Model webview receives it (no vscode dependency, so the
// preview harness and unit tests can use it).
import * as path from 'path';
import type { ModelHeader } from '../../../core/src/models';
import type { ModelView } from '../../../webview/src/shared/messages';

const CONFIG_ENTRIES = 200;
const CONFIG_VALUE_CHARS = 160;

/** The header as the webview shows it: paths relative to the model's folder, scalar config entries. */
export function modelView(header: ModelHeader): ModelView {
  const dir = header.format === 'hf-folder' ? header.path : path.dirname(header.path);
  const rel = (file: string) => path.relative(dir, file) || path.basename(file);
  const config: [string, string][] = [];
  for (const [key, value] of Object.entries(header.config)) {
    if (config.length >= CONFIG_ENTRIES) break;
    if (value === null || value === undefined) continue;
    let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (text.length > CONFIG_VALUE_CHARS) text = `${text.slice(0, CONFIG_VALUE_CHARS - 1)}…`;
    config.push([key, text]);
  }
  return {
    path: header.path,
    name: path.basename(header.path),
    format: header.format,
    architecture: header.architecture,
    parameters: header.parameters,
    bytes: header.bytes,
    dtype: header.dtype,
    files: header.files.map(rel),
    tensors: header.tensors.map((t) => ({
      name: t.name,
      shape: t.shape,
      dtype: t.dtype,
      elements: t.elements,
      bytes: t.bytes,
      file: rel(t.file),
      offset: t.offset,
    })),
    config,
  };
}
