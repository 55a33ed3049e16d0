// Reads `bitsmith run --events` output: JSON lines on stdout (start, tensor-start, tensor,
// done, then the report; or an error event). Pure (no vscode), so it is unit-tested.
import { formatProgress } from '../../../core/src/progress';
import type { RunEvent, RunReport } from '../../../core/src/runReport';

export type StreamItem = RunEvent | RunReport;

/** Splits a byte stream into lines and parses each as one event; a line that is not JSON is
 * passed to onText (the CLI never prints such lines on stdout with --events, but a custom
 * native build might). */
export class EventLineReader {
  private rest = '';

  constructor(
    private readonly onItem: (item: StreamItem) => void,
    private readonly onText: (line: string) => void,
  ) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.rest) this.line(this.rest);
    this.rest = '';
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch {
      this.onText(line);
      return;
    }
    if (item && typeof item === 'object' && typeof (item as { type?: unknown }).type === 'string')
      this.onItem(item as StreamItem);
    else this.onText(line);
  }
}

/** What a run has reached so far, for the progress notification. */
export class RunProgress {
  total = 0;
  done = 0;
  current: string | undefined;
  report: RunReport | undefined;
  error: { code: string; message: string; tensor?: string } | undefined;
  /** Percent of the run reported so far; with progress events it follows their fraction
   * through every phase (calibration, quantization, evaluation), else tensors done. */
  percent = 0;
  private byFraction = false;

  private advance(to: number): number {
    const inc = Math.max(0, Math.min(100, to) - this.percent);
    this.percent += inc;
    return inc;
  }

  apply(item: StreamItem): { message: string; increment: number } | undefined {
    switch (item.type) {
      case 'start':
        this.total = item.tensors;
        return {
          message: `${item.tensors} tensors, ${item.threads} thread${item.threads === 1 ? '' : 's'}`,
          increment: 0,
        };
      case 'calibration':
        return {
          message: `calibrated on ${item.source.sequences} sequences (${item.source.tokens.toLocaleString('en-US')} tokens)`,
          increment: 0,
        };
      case 'evaluation':
        return {
          message: `evaluated: perplexity ${item.perplexityOriginal.toFixed(2)} → ${item.perplexityQuantized.toFixed(2)}, KL ${item.klMean.toPrecision(3)}`,
          increment: 0,
        };
      case 'tensor-start':
        this.current = item.name;
        return { message: `tensor ${item.index + 1}/${this.total}: ${item.name}`, increment: 0 };
      case 'progress':
        this.byFraction = true;
        return { message: formatProgress(item), increment: this.advance(100 * item.fraction) };
      case 'tensor':
        this.done++;
        return {
          message: `tensor ${item.index + 1}/${this.total}: ${item.name}`,
          increment: this.byFraction ? 0 : this.total ? this.advance((100 * this.done) / this.total) : 0,
        };
      case 'measure':
        return {
          message:
            item.phase === 'error'
              ? `allocate: measuring ${item.format} (${item.formatIndex + 1}/${item.formats}), ${item.done}/${item.total}`
              : `allocate: KL divergence ${item.formatIndex + 1}/${item.formats}, ${item.tensor} as ${item.format}`,
          increment: 0,
        };
      case 'done':
        return { message: 'writing the report', increment: 0 };
      case 'error':
        this.error = { code: item.code, message: item.message, tensor: item.tensor };
        return undefined;
      case 'report':
        this.report = item;
        return undefined;
    }
  }
}

/** The first line of the CLI's stderr that says what went wrong: a diagnostic
 * (file:line:col: error: ...) or a `bitsmith: ...` line, else the first non-empty line. */
export function failureSummary(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /:\d+:\d+: error: /.test(l)) ?? lines.find((l) => l.startsWith('bitsmith: ')) ?? lines[0];
}
