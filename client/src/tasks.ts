// The `bitsmith` task type: every .quant recipe of the workspace runs as a VS Code task
// (`bitsmith run RECIPE`), and tasks.json may define its own with `recipe` and `threads`.
// Diagnostics printed by the runner (file:line:col: severity: message [code]) go to the
// Problems panel through the `$bitsmith` problem matcher.
import * as path from 'path';
import * as vscode from 'vscode';
import { runSettings } from './config';

export const TASK_TYPE = 'bitsmith';

export interface BitsmithTaskDefinition extends vscode.TaskDefinition {
  type: typeof TASK_TYPE;
  /** The recipe, relative to the workspace folder (or absolute). */
  recipe: string;
  threads?: number;
}

export class RecipeTaskProvider implements vscode.TaskProvider {
  constructor(private readonly ext: vscode.ExtensionContext) {}

  async provideTasks(token: vscode.CancellationToken): Promise<vscode.Task[]> {
    // Runs execute code on the workspace's files: none in an untrusted workspace.
    if (!vscode.workspace.isTrusted) return [];
    const files = await vscode.workspace.findFiles('**/*.quant', '**/{node_modules,.git}/**', 1000, token);
    const tasks: vscode.Task[] = [];
    for (const uri of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      if (!folder) continue;
      const recipe = path.relative(folder.uri.fsPath, uri.fsPath).split(path.sep).join('/');
      tasks.push(this.task({ type: TASK_TYPE, recipe }, folder));
    }
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as BitsmithTaskDefinition;
    if (typeof def.recipe !== 'string' || !def.recipe) return undefined;
    const scope = typeof task.scope === 'object' ? task.scope : undefined;
    return this.task(def, scope, task);
  }

  task(def: BitsmithTaskDefinition, folder: vscode.WorkspaceFolder | undefined, base?: vscode.Task): vscode.Task {
    const root = folder?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
    const recipePath = path.resolve(root, def.recipe);
    const settings = runSettings(vscode.Uri.file(recipePath));
    const args = [this.ext.asAbsolutePath(path.join('dist', 'cli.js')), 'run', recipePath];
    const threads = def.threads ?? settings.threads;
    if (threads) args.push('--threads', String(threads));
    if (settings.reportDir) args.push('--report-dir', settings.reportDir);
    const env: Record<string, string> = { ELECTRON_RUN_AS_NODE: '1' };
    if (settings.nativePath) env.BITSMITH_NATIVE = settings.nativePath;
    const execution = new vscode.ProcessExecution(process.execPath, args, { cwd: root, env });
    const task = new vscode.Task(
      def,
      folder ?? vscode.TaskScope.Workspace,
      base?.name ?? `run ${def.recipe}`,
      TASK_TYPE,
      execution,
      ['$bitsmith'],
    );
    task.detail = `bitsmith run ${def.recipe}`;
    task.group = vscode.TaskGroup.Build;
    return task;
  }
}
