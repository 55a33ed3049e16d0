/// <reference lib="dom" />
// Entry of the run report webview: restores its state, says `ready`, renders what the host sends.
import type { ReportState } from '../shared/messages';
import { getState, onHostMessage, post } from '../shared/vscodeApi';
import { ReportApp } from './reportView';

const root = document.getElementById('app')!;
const app = new ReportApp(root, getState<ReportState>('report'));

onHostMessage((message) => {
  switch (message.type) {
    case 'report':
      app.show(message.file, message.report);
      break;
    case 'error':
      app.showError(message.title, message.message, message.file);
      break;
    case 'notice':
      app.notice(message.message, message.level);
      break;
    default:
      break;
  }
});

post({ type: 'ready' });
