// The extension's webview panels: the run report, the comparison of two reports and the
// model inspector (panel and read-only custom editor). `registerPanels` wires the
// serializers (panels come back after a reload) and the custom editor provider.
import * as vscode from 'vscode';
import { ComparePanel, ComparePanelSerializer } from './comparePanel';
import { ModelPanel, ModelPanelSerializer, registerModelInspector } from './modelPanel';
import { ReportPanel, ReportPanelSerializer } from './reportPanel';

export { AllocationPanel, AllocationPanelSerializer } from './allocationPanel';
export { ComparePanel } from './comparePanel';
export { ModelInspectorProvider, ModelPanel } from './modelPanel';
export { ReportPanel } from './reportPanel';

export function registerPanels(ext: vscode.ExtensionContext): vscode.Disposable[] {
  return [
    vscode.window.registerWebviewPanelSerializer(ReportPanel.viewType, new ReportPanelSerializer(ext)),
    vscode.window.registerWebviewPanelSerializer(ComparePanel.viewType, new ComparePanelSerializer(ext)),
    vscode.window.registerWebviewPanelSerializer(ModelPanel.viewType, new ModelPanelSerializer(ext)),
    registerModelInspector(ext),
  ];
}

/** Opens (or reveals) the panel of a run report file. */
export function showReport(ext: vscode.ExtensionContext, reportFile: string): Promise<ReportPanel> {
  return ReportPanel.show(ext, reportFile);
}

/** Opens (or reveals) the comparison of two run report files. */
export function showCompare(ext: vscode.ExtensionContext, files: readonly string[]): Promise<ComparePanel> {
  return ComparePanel.show(ext, files);
}

/** Opens (or reveals) the inspector of a model file or Hugging Face folder. */
export function showModel(ext: vscode.ExtensionContext, uri: vscode.Uri): Promise<ModelPanel> {
  return ModelPanel.show(ext, uri);
}
