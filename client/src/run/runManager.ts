// Runs recipes: spawns `bitsmith run --events` (dist/cli.js) as a child process, never in the
// extension host, and turns its events into a progress notification with a working Cancel,
// an output channel log, and the report panel when done. One run per recipe at a time.
// `bitsmith allocate --events` (measuring for `allocate`) goes the same way.
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunReport } from '../../../core/src/runReport';
import { runSettings } from '../config';
import { EventLineReader, failureSummary, RunProgress } from './eventStream';

export interface RunOutcome {
  status: 'done' | 'cancelled' | 'failed';
  report?: RunReport;
  /** What went wrong, in one line (failed runs). */
  message?: string;
}

interface ActiveRun {
  recipe: vscode.Uri;
  child: ChildProcess;
  cancelled: boolean;
  finished: Promise<RunOutcome>;
}

/** How long a cancelled run may take to clean up before it is killed outright. */
const KILL_AFTER_MS = 10_000;

export class RunManager implements vscode.Disposable {
  private readonly active = new Map<string, ActiveRun>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when a run starts or ends. */
  readonly onDidChange = this.changed.event;
  private readonly allocated = new vscode.EventEmitter<vscode.Uri>();
  /** Fires when measuring for a recipe's allocate has finished. */
  readonly onDidAllocate = this.allocated.event;

  constructor(
    private readonly ext: vscode.ExtensionContext,
    readonly output: vscode.OutputChannel,
    private readonly openReport: (file: string) => Promise<unknown>,
  ) {}

  get running(): vscode.Uri[] {
    return [...this.active.values()].map((r) => r.recipe);
  }

  isRunning(recipe: vscode.Uri): boolean {
    return this.active.has(recipe.fsPath);
  }

  /** Starts a run with a progress notification; resolves when it ends (opening the report when done).
   * mode 'allocate' measures what the recipe's allocate lacks (no report; `onAllocated` fires). */
  async run(recipe: vscode.Uri, mode: 'run' | 'allocate' = 'run'): Promise<RunOutcome> {
    const existing = this.active.get(recipe.fsPath);
    if (existing) {
      void vscode.window
        .showInformationMessage(`Bitsmith: ${path.basename(recipe.fsPath)} is already running.`, 'Cancel Run')
        .then((a) => {
          if (a) this.cancel(recipe);
        });
      return existing.finished;
    }
    const name = path.basename(recipe.fsPath);
    const outcome = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Bitsmith: ${mode === 'run' ? 'running' : 'measuring for allocate:'} ${name}`,
        cancellable: true,
      },
      (progress, token) => {
        const run = this.start(recipe, (message, increment) => progress.report({ message, increment }), mode);
        token.onCancellationRequested(() => this.cancel(recipe));
        return run.finished;
      },
    );
    if (outcome.status === 'done' && mode === 'allocate') {
      this.allocated.fire(recipe);
    } else if (outcome.status === 'done' && outcome.report?.file) {
      const t = outcome.report.totals;
      void vscode.window.setStatusBarMessage(
        `Bitsmith: ${name} done, ${t.quantized} tensors, ${t.bpw.toFixed(3)} bpw`,
        5000,
      );
      await this.openReport(outcome.report.file);
    } else if (outcome.status === 'cancelled') {
      void vscode.window.showInformationMessage(
        mode === 'run'
          ? `Bitsmith: run of ${name} cancelled; no output was written.`
          : `Bitsmith: measuring ${name} cancelled; what was measured is kept.`,
      );
    } else if (outcome.status === 'failed') {
      void vscode.window
        .showErrorMessage(
          `Bitsmith: ${mode === 'run' ? 'run' : 'measuring'} of ${name} failed: ${outcome.message}`,
          'Show Output',
        )
        .then((a) => {
          if (a) this.output.show(true);
        });
    }
    return outcome;
  }

  /** Cancels the run of `recipe` (or every run). The CLI cancels on SIGTERM and removes its temporary output. */
  cancel(recipe?: vscode.Uri): boolean {
    const runs = recipe
      ? [this.active.get(recipe.fsPath)].filter((r): r is ActiveRun => !!r)
      : [...this.active.values()];
    for (const r of runs) {
      if (r.cancelled) continue;
      r.cancelled = true;
      this.output.appendLine(`cancelling the run of ${r.recipe.fsPath}`);
      r.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (r.child.exitCode === null && r.child.signalCode === null) {
          this.output.appendLine(`the run did not stop within ${KILL_AFTER_MS / 1000} s: killing it`);
          r.child.kill('SIGKILL');
        }
      }, KILL_AFTER_MS);
      void r.finished.finally(() => clearTimeout(timer));
    }
    return runs.length > 0;
  }

  dispose(): void {
    this.cancel();
    this.changed.dispose();
    this.allocated.dispose();
  }

  private start(
    recipe: vscode.Uri,
    report: (message: string, increment: number) => void,
    mode: 'run' | 'allocate',
  ): ActiveRun {
    const settings = runSettings(recipe);
    const cli = this.ext.asAbsolutePath(path.join('dist', 'cli.js'));
    const args = [cli, mode, recipe.fsPath, '--events'];
    if (settings.threads) args.push('--threads', String(settings.threads));
    if (settings.reportDir && mode === 'run') args.push('--report-dir', settings.reportDir);
    // The extension host's executable runs as plain Node with ELECTRON_RUN_AS_NODE (desktop
    // VS Code); under code-server it is Node already and ignores the variable.
    const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
    if (settings.nativePath) env.BITSMITH_NATIVE = settings.nativePath;
    else delete env.BITSMITH_NATIVE;

    const out = this.output;
    out.appendLine('');
    out.appendLine(
      `[${new Date().toLocaleTimeString()}] bitsmith ${mode} ${recipe.fsPath}${settings.threads ? ` --threads ${settings.threads}` : ''}${settings.reportDir ? ` --report-dir ${settings.reportDir}` : ''}${settings.nativePath ? ` (native: ${settings.nativePath})` : ''}`,
    );
    const child = spawn(process.execPath, args, {
      cwd: path.dirname(recipe.fsPath),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const progress = new RunProgress();
    let stderr = '';
    const reader = new EventLineReader(
      (item) => {
        const step = progress.apply(item);
        if (step) report(step.message, step.increment);
        if (item.type === 'tensor') {
          out.appendLine(
            item.action === 'keep'
              ? `  ${item.name}: kept (${item.dtype})`
              : `  ${item.name}: ${item.format} ${+item.bpw.toFixed(4)} bpw, rel err ${item.relError?.toPrecision(3)}, SQNR ${item.sqnrDb?.toFixed(2)} dB`,
          );
        } else if (item.type === 'start') {
          out.appendLine(
            `  ${item.tensors} tensors, ${item.params.toLocaleString('en-US')} params, ${item.threads} thread${item.threads === 1 ? '' : 's'}${item.output ? ` -> ${item.output}` : ''}${item.gguf ? ` -> ${item.gguf}` : ''}`,
          );
        } else if (item.type === 'calibration') {
          out.appendLine(
            `  calibration: ${item.source.sequences} sequences, ${item.source.tokens} tokens, ${item.hessians} Hessians (${item.seconds.toFixed(2)} s)`,
          );
        } else if (item.type === 'evaluation') {
          out.appendLine(
            `  evaluation on ${item.tokens} tokens: perplexity ${item.perplexityOriginal.toFixed(3)} -> ${item.perplexityQuantized.toFixed(3)}, KL mean ${item.klMean.toPrecision(3)} p99 ${item.klP99.toPrecision(3)}, top-1 agreement ${(100 * item.top1Agreement).toFixed(1)}%`,
          );
        } else if (item.type === 'error') {
          out.appendLine(`  error${item.tensor ? ` in ${item.tensor}` : ''}: ${item.message} [${item.code}]`);
        }
      },
      (line) => out.appendLine(`  ${line}`),
    );
    child.stdout!.setEncoding('utf8').on('data', (s: string) => reader.push(s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      out.append(s);
    });
    const run: ActiveRun = { recipe, child, cancelled: false, finished: undefined as unknown as Promise<RunOutcome> };
    run.finished = new Promise<RunOutcome>((resolve) => {
      let spawnError: Error | undefined;
      child.on('error', (e) => {
        spawnError = e;
      });
      child.on('close', (code, signal) => {
        reader.end();
        this.active.delete(recipe.fsPath);
        this.changed.fire();
        let outcome: RunOutcome;
        if (spawnError)
          outcome = {
            status: 'failed',
            message: `cannot start the runner (${process.execPath}): ${spawnError.message}`,
          };
        else if (run.cancelled && code !== 0) outcome = { status: 'cancelled' };
        else if (code === 0 && (progress.report || mode === 'allocate'))
          outcome = { status: 'done', report: progress.report };
        else {
          const e = progress.error;
          const message = e
            ? `${e.message}${e.tensor && !e.message.includes(e.tensor) ? ` (tensor ${e.tensor})` : ''}`
            : (failureSummary(stderr) ?? `the runner exited with ${signal ?? `code ${code}`}`);
          outcome = { status: 'failed', message };
        }
        out.appendLine(
          `[${new Date().toLocaleTimeString()}] ${outcome.status}${outcome.report?.file ? `: report ${outcome.report.file}` : ''}${outcome.message ? `: ${outcome.message}` : ''}`,
        );
        resolve(outcome);
      });
    });
    this.active.set(recipe.fsPath, run);
    this.changed.fire();
    return run;
  }
}
