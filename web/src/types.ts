// The shapes the dashboard app sends and takes, as the server declares them (src/http/views.ts and
// schemas.ts). Type-only: nothing of the server reaches the bundle, and the page cannot drift from it.
export type {
  DashboardHub,
  Deleted,
  InstallAnswer,
  InstallView,
  LiveNodesChange,
  LiveSnapshot,
  NodeAndHistory,
  NodeAndInstall,
  NodeAnswer,
  NodeHistoryView,
  NodeStatus,
  NodeView,
  SessionState,
} from '../../src/http/views.js';
export type { RegisterBody } from '../../src/http/schemas.js';
