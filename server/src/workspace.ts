// Per-document analysis cache. Edits schedule a debounced re-analysis (diagnostics need
// not follow every keystroke); requests that need the current text (hover, completion,
// ...) analyse it synchronously when the cache is behind, so they never answer for an
// older version. Models come from the shared ModelCache, so re-analysis costs a parse,
// the cascade and the checks, never a header read.
import { fileURLToPath } from 'url';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { analyze } from '../../core/src/index';
import { makeDocument, type AnalyzedDocument } from './features/document';
import type { ModelCache } from './modelCache';

interface State {
  /** The live document (TextDocuments updates it in place). */
  doc: TextDocument;
  analyzed?: AnalyzedDocument;
  /** The analysis last handed to onAnalyzed. */
  published?: AnalyzedDocument;
  timer?: NodeJS.Timeout;
}

export function recipePathOf(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

export class Workspace {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly models: ModelCache,
    /** Called once per analysed version (publish diagnostics, notify the budget). */
    private readonly onAnalyzed: (doc: AnalyzedDocument) => void,
    private readonly delayMs = 150,
    /** Reports a failure of a debounced analysis (a thrown error there would end the process). */
    private readonly onError: (err: unknown) => void = () => undefined,
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

  private analyze(doc: TextDocument): AnalyzedDocument {
    const text = doc.getText();
    const recipePath = recipePathOf(doc.uri);
    const analysis = analyze(text, { recipePath, loadModel: (p) => this.models.load(p) });
    return makeDocument(doc.uri, doc.version, text, analysis, recipePath);
  }
}
