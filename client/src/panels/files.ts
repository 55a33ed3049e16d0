// File helpers of the panels: reading a run report with errors that name the file, and
// writing exports whole or not at all (temporary file in the same folder, then rename).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunReport } from '../../../core/src/runReport';
import { writeFileAtomic as writeWhole } from '../../../core/src/io/atomicWrite';
import { reportProblem } from '../../../webview/src/shared/messages';

export class ReportFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'ReportFileError';
  }
}

export async function readReport(file: string): Promise<RunReport> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'the file does not exist (was the report deleted or moved?)'
        : code === 'EISDIR'
          ? 'it is a folder'
          : String((err as Error).message);
    throw new ReportFileError(`Cannot read the report ${file}: ${why}`, file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ReportFileError(`${file} is not valid JSON: ${(err as Error).message}`, file);
  }
  const problem = reportProblem(json, file);
  if (problem) throw new ReportFileError(problem, file);
  return json as RunReport;
}

/** Writes `data` to `target` whole or not at all (core/src/io/atomicWrite.ts: a temporary
 *  `.<name>.bitsmith-tmp-<pid>-<hex>` beside it, then a rename). The user chose the path in a
 *  save dialog, which asks before replacing a file. */
export async function writeFileAtomic(target: string, data: string): Promise<void> {
  writeWhole(target, data);
  return Promise.resolve();
}

/** Asks where to save, then writes; returns the path written or undefined when cancelled. */
export async function saveAs(
  defaultPath: string,
  filters: Record<string, string[]>,
  data: string,
  title: string,
): Promise<string | undefined> {
  const uri = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(defaultPath), filters, title });
  if (!uri) return undefined;
  if (uri.scheme === 'file') {
    await writeFileAtomic(uri.fsPath, data);
  } else {
    await vscode.workspace.fs.writeFile(uri, Buffer.from(data, 'utf8'));
  }
  return uri.scheme === 'file' ? uri.fsPath : uri.toString();
}

/** Calls `onChange` (debounced) when the file is created, changed or deleted. */
export function watchFile(file: string, onChange: () => void): vscode.Disposable {
  const watcher = vscode.workspace.createFileSystemWatcher(
    new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file)),
  );
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, 250);
  };
  const subs = [watcher.onDidChange(fire), watcher.onDidCreate(fire), watcher.onDidDelete(fire)];
  return new vscode.Disposable(() => {
    if (timer) clearTimeout(timer);
    for (const s of subs) s.dispose();
    watcher.dispose();
  });
}
