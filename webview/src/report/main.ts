/// <reference lib="dom" />
// Entry of the run report webview: restores its state, says `ready`, renders what the host sends.
import type { ReportState } from '../shared/messages';
import { getState, serve } from '../shared/vscodeApi';
import { ReportApp } from './reportView';

const root = document.getElementById('app')!;
const app = new ReportApp(root, getState<ReportState>('report'));

serve('report', {
  data: (message) => app.show(message.file, message.report),
  error: (message) => app.showError(message.title, message.message, message.file),
  notice: (message) => app.notice(message.message, message.level),
});
