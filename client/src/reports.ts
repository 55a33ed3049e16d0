// Saved run reports in the workspace, for Open Last Report and Compare Runs.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { runSettings } from './config';

export interface ReportEntry {
  file: string;
  mtime: number;
  /** `<recipe name> · <timestamp>`, from the file name (see cli/src/run/report.ts). */
  label: string;
}

/** Every timestamped report (not the -latest copies) under .bitsmith/reports folders of the
 * workspace and in the configured report folder, newest first. */
export async function listReports(): Promise<ReportEntry[]> {
  const files = new Set<string>();
  for (const uri of await vscode.workspace.findFiles('**/.bitsmith/reports/*.json', '**/node_modules/**', 5000))
    files.add(uri.fsPath);
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const dir = runSettings(folder.uri).reportDir;
    if (!dir || !fs.existsSync(dir)) continue;
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.json')) files.add(path.join(dir, f));
  }
  const out: ReportEntry[] = [];
  for (const file of files) {
    if (file.endsWith('-latest.json')) continue;
    let mtime = 0;
    try {
      mtime = fs.statSync(file).mtimeMs;
    } catch {
      continue;
    }
    const m = /^(.*)-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(?:\.\d+)?Z)\.json$/.exec(path.basename(file));
    const label = m
      ? `${m[1]} · ${m[2].replace(/T(\d\d)-(\d\d)-(\d\d)/, ' $1:$2:$3').replace(/\.\d+Z$/, ' UTC')}`
      : path.basename(file);
    out.push({ file, mtime, label });
  }
  return out.sort((a, b) => b.mtime - a.mtime);
}

export function reportPickItems(entries: ReportEntry[]): (vscode.QuickPickItem & { file: string })[] {
  return entries.map((e) => ({
    label: e.label,
    description: vscode.workspace.asRelativePath(path.dirname(e.file)),
    file: e.file,
  }));
}
