// LSP wiring only: transport, document sync, capabilities, and one handler per feature
// delegating to features/*. createConnection picks the transport from the command line
// (--stdio standalone, --node-ipc when VS Code starts it).
import { fileURLToPath } from 'url';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ProposedFeatures,
  TextDocumentSyncKind,
  TextDocuments,
  createConnection,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { budget } from './features/budget';
import { codeActions } from './features/codeActions';
import { completion, toCompletionList } from './features/completion';
import { diagnostics } from './features/diagnostics';
import type { AnalyzedDocument } from './features/document';
import { foldingRanges } from './features/folding';
import { formatting } from './features/formatting';
import { hover } from './features/hover';
import { LEGEND, semanticTokens } from './features/semanticTokens';
import { documentSymbols } from './features/symbols';
import { ModelCache } from './modelCache';
import { BudgetChangedNotification, BudgetRequest } from './protocol';
import { Workspace } from './workspace';

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);
const models = new ModelCache();
let snippets = false;
let editRangeDefault = false;
let registerWatcher = false;

const workspace = new Workspace(
  models,
  (doc: AnalyzedDocument) => {
    void connection.sendDiagnostics({ uri: doc.uri, version: doc.version, diagnostics: diagnostics(doc) });
    void connection.sendNotification(BudgetChangedNotification, { uri: doc.uri, budget: budget(doc) });
  },
  150,
  (err) =>
    connection.console.error(
      `Bitsmith: analysis failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    ),
);

/** The analysis of an open document's current version (undefined for documents we do not hold). */
function analyzed(uri: string): AnalyzedDocument | undefined {
  const doc = documents.get(uri);
  return doc && workspace.get(doc);
}

connection.onInitialize((params): InitializeResult => {
  const caps = params.capabilities;
  snippets = caps.textDocument?.completion?.completionItem?.snippetSupport === true;
  editRangeDefault = caps.textDocument?.completion?.completionList?.itemDefaults?.includes('editRange') === true;
  registerWatcher = caps.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
  // Tests and clients may set the analysis time budget (ms); 0 stops every analysis at once.
  const limit = (params.initializationOptions as { analysisTimeLimitMs?: unknown } | undefined)?.analysisTimeLimitMs;
  if (typeof limit === 'number' && Number.isFinite(limit) && limit >= 0) workspace.timeLimitMs = limit;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      completionProvider: { triggerCharacters: ['"', '.', '/', ' '] },
      documentSymbolProvider: true,
      semanticTokensProvider: { legend: LEGEND, full: true },
      foldingRangeProvider: true,
      documentFormattingProvider: true,
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix, CodeActionKind.RefactorRewrite] },
    },
    serverInfo: { name: 'bitsmith' },
  };
});

connection.onInitialized(() => {
  // VS Code's client forwards model-file (and imatrix) events itself (synchronize.fileEvents); other clients are asked to.
  if (registerWatcher) {
    void connection.client.register(DidChangeWatchedFilesNotification.type, {
      watchers: [{ globPattern: '**/*.{safetensors,gguf,bin,json,dat,imatrix}' }],
    });
  }
});

documents.onDidOpen((e) => workspace.opened(e.document));
documents.onDidChangeContent((e) => workspace.changed(e.document));
documents.onDidClose((e) => {
  workspace.closed(e.document.uri);
  void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
});

// Model-file events come in bursts (a copied sharded model, or the same change reported by
// the client's watcher and ours): collect them briefly, then invalidate and re-analyse once.
const changedFiles = new Set<string>();
let changeTimer: NodeJS.Timeout | undefined;
connection.onDidChangeWatchedFiles((params) => {
  for (const c of params.changes) if (c.uri.startsWith('file:')) changedFiles.add(fileURLToPath(c.uri));
  if (changeTimer) return;
  changeTimer = setTimeout(() => {
    changeTimer = undefined;
    const paths = [...changedFiles];
    changedFiles.clear();
    const modelChanged = models.invalidate(paths);
    // A new or updated allocate measurement table (bitsmith allocate, Run Recipe, the
    // Allocation panel's Measure) changes the allocation of the recipes beside it.
    const measured = paths.some((p) => /[\\/]\.bitsmith[\\/]measure[\\/][^\\/]+\.json$/.test(p));
    if (modelChanged || measured || workspace.readsAny(paths)) workspace.refreshAll();
  }, 50);
});

connection.onHover((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc ? hover(doc, p.position) : null;
});
connection.onCompletion((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc
    ? toCompletionList(
        completion(doc, p.position, { snippets, triggerCharacter: p.context?.triggerCharacter }),
        editRangeDefault,
      )
    : [];
});
connection.onDocumentSymbol((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc ? documentSymbols(doc) : [];
});
connection.languages.semanticTokens.on((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc ? semanticTokens(doc) : { data: [] };
});
connection.onFoldingRanges((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc ? foldingRanges(doc) : [];
});
connection.onDocumentFormatting((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc ? formatting(doc) : [];
});
connection.onCodeAction((p) => {
  const doc = analyzed(p.textDocument.uri);
  return doc ? codeActions(doc, p.range, p.context.diagnostics) : [];
});
connection.onRequest(BudgetRequest, (p) => {
  const doc = analyzed(p.uri);
  return doc ? budget(doc) : null;
});

documents.listen(connection);
connection.listen();
