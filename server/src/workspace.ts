// Per-document analysis cache. Edits schedule a debounced re-analysis (diagnostics need
// not follow every keystroke); requests that need the current text (hover, completion,
// ...) analyse it synchronously when the cache is behind, so they never answer for an
// older version. Models come from the shared ModelCache, so re-analysis costs a parse,
// the cascade and the checks, never a header read (imatrix headers are kept too, by
// path, size and mtime, and output gguf's tokenizer summaries by folder).
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { analyze, readImatrixHeader, resolvePath, type ImatrixHeader, type ModelHeader } from '../../core/src/index';
import { makeDocument, type AnalyzedDocument } from './features/document';
import type { ModelCache } from './modelCache';
import { TokenizerCache } from './tokenizerCache';

interface State {
  /** The live document (TextDocuments updates it in place). */
  doc: TextDocument;
  analyzed?: AnalyzedDocument;
  /** The analysis last handed to onAnalyzed. */
  published?: AnalyzedDocument;
  timer?: NodeJS.Timeout;
}

/** An analysis's time budget: 3 s, plus 50 ms per 1,000 tensors (a 130,000-tensor model's
 * first analysis takes a few seconds), at most 20 s. Pattern results are cached, so an
 * analysis that stops keeps its finished patterns and the next one gets further. */
export function defaultTimeLimitMs(model: ModelHeader): number {
  return Math.min(20_000, 3000 + 0.05 * model.tensors.length);
}

export function recipePathOf(uri: string): string | undefined {
  // An untitled document with the path it will be saved to (`untitled:/ws/new.quant`, as New
  // Recipe from Model opens them) resolves its model from that folder already.
  const file = uri.startsWith('untitled:/') ? `file://${uri.slice('untitled:'.length)}` : uri;
  if (!file.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(file);
  } catch {
    return undefined;
  }
}

export class Workspace {
  private readonly states = new Map<string, State>();
  /** calibration imatrix headers (or the error reading them), valid while size and mtime hold. */
  private readonly imatrices = new Map<string, { size: number; mtimeMs: number; result: ImatrixHeader | Error }>();
  /** output gguf's tokenizer summaries, by model folder. */
  readonly tokenizers = new TokenizerCache();

  constructor(
    private readonly models: ModelCache,
    /** Called once per analysed version (publish diagnostics, notify the budget). */
    private readonly onAnalyzed: (doc: AnalyzedDocument) => void,
    private readonly delayMs = 150,
    /** Reports a failure of a debounced analysis (a thrown error there would end the process). */
    private readonly onError: (err: unknown) => void = () => undefined,
    /** Time budget of one analysis (plan and checks): the server answers nothing while it runs. */
    public timeLimitMs: number | ((model: ModelHeader) => number) = defaultTimeLimitMs,
  ) {}

  opened(doc: TextDocument): void {
    this.states.set(doc.uri, { doc });
    this.publish(doc.uri);
  }

  changed(doc: TextDocument): void {
    const state = this.states.get(doc.uri) ?? { doc };
    state.doc = doc;
    this.states.set(doc.uri, state);
    if (state.timer) clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      state.timer = undefined;
      try {
        this.publish(doc.uri);
      } catch (err) {
        this.onError(err);
      }
    }, this.delayMs);
  }

  closed(uri: string): void {
    const state = this.states.get(uri);
    if (state?.timer) clearTimeout(state.timer);
    this.states.delete(uri);
  }

  /** The analysis of the document's current version, computed now if the cache is behind. */
  get(doc: TextDocument): AnalyzedDocument {
    let state = this.states.get(doc.uri);
    if (!state) this.states.set(doc.uri, (state = { doc }));
    if (state.analyzed?.version !== doc.version || state.doc !== doc) {
      state.doc = doc;
      state.analyzed = this.analyze(doc);
    }
    return state.analyzed;
  }

  /** Re-analyses every open document (a model file changed) and publishes the results. */
  refreshAll(): void {
    for (const [uri, state] of this.states) {
      state.analyzed = undefined;
      try {
        this.publish(uri);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  private publish(uri: string): void {
    const state = this.states.get(uri);
    if (!state) return;
    const analyzed = this.get(state.doc);
    if (state.published === analyzed) return;
    state.published = analyzed;
    this.onAnalyzed(analyzed);
  }

  /** Whether an open document's calibration imatrix is one of these files (re-analyse then). */
  readsAny(paths: readonly string[]): boolean {
    const changed = new Set(paths.map((p) => path.resolve(p)));
    for (const { analyzed } of this.states.values()) {
      const cal = analyzed?.analysis.recipe.calibration;
      if (cal?.kind === 'imatrix' && cal.path && changed.has(resolvePath(analyzed!.recipePath, cal.path.value)))
        return true;
    }
    return false;
  }

  private loadImatrix(p: string): ImatrixHeader {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p);
    } catch {
      // The reader names the problem.
    }
    const hit = st ? this.imatrices.get(p) : undefined;
    let result: ImatrixHeader | Error;
    if (hit && st && hit.size === st.size && hit.mtimeMs === st.mtimeMs) {
      result = hit.result;
    } else {
      try {
        result = readImatrixHeader(p);
      } catch (e) {
        result = e as Error;
      }
      if (this.imatrices.size >= 16) this.imatrices.clear();
      if (st) this.imatrices.set(p, { size: st.size, mtimeMs: st.mtimeMs, result });
    }
    if (result instanceof Error) throw result;
    return result;
  }

  private analyze(doc: TextDocument): AnalyzedDocument {
    const text = doc.getText();
    const recipePath = recipePathOf(doc.uri);
    const analysis = analyze(text, {
      recipePath,
      loadModel: (p) => this.models.load(p),
      loadImatrix: (p) => this.loadImatrix(p),
      timeLimitMs: this.timeLimitMs,
      loadGgufTokenizer: (dir, config, vocab) => this.tokenizers.load(dir, config, vocab),
    });
    return makeDocument(doc.uri, doc.version, text, analysis, recipePath);
  }
}
