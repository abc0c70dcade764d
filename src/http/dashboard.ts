// The dashboard (DASHBOARD_PORT, 5000): the built front end from dist/web and the JSON it talks to,
// behind a sign-in with the API token or ADMIN_PASSWORD_HASH's password. The session is an
// HttpOnly, SameSite=Strict cookie; every state-changing request must come from the page's own
// origin. Live updates arrive as server-sent events (live.ts).
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/index.js';
import type { NodeHistory } from '../nodes/history.js';
import type { NodesService } from '../nodes/service.js';
import { createLogger, type Logger } from '../runtime/log.js';
import type { NodeTotals } from '../store/index.js';
import { createApp } from './app.js';
import { pageRoutes } from './dashboard-pages.js';
import { sessionRoutes } from './dashboard-session.js';
import { sameOriginGuard, sessionGuard, sessionOf, type Guard } from './guards.js';
import { answerErrors, SERVER_LIMITS, type ServerLimits } from './hardening.js';
import { installView, nodeFileParams, sendDownload, type InstallToken, type NodeFileParams } from './installs.js';
import { DEFAULT_LIVE_LIMITS, LiveFeed, type LiveLimits } from './live.js';
import { nodeRoutes, type NodeDialect } from './node-routes.js';
import { dashboardHub, nodeView, nodeViews, type HubInfo } from './present.js';
import { DEFAULT_SESSION_LIMITS, Sessions, type SessionLimits } from './sessions.js';
import type { DashboardHub, InstallAnswer, NodeAndHistory, NodeAndInstall, NodeAnswer, NodeView } from './views.js';

export { DASHBOARD_CSP } from './dashboard-pages.js';
export type { DashboardHub } from './views.js';

/** Where `npm run build:web` writes the front end (Vite's outDir), relative to dist/http/. */
export const WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** Sign-in and registration bodies are small; nothing here takes the API's 64 KiB. */
const BODY_LIMIT = 16 * 1024;

/** What harden() adds to every answer, for the event stream, which bypasses fastify's hooks. */
const STREAM_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface DashboardOptions {
  config: Config;
  nodes: NodesService;
  hub: HubInfo;
  history: NodeHistory;
  apiToken: string;
  /** The built front end; dist/web by default. */
  webDir?: string;
  sessionLimits?: SessionLimits;
  liveLimits?: LiveLimits;
  serverLimits?: ServerLimits;
  /** Failed sign-ins allowed per source address per minute. */
  maxSignInFailures?: number;
  logger?: Logger;
}

export interface Dashboard {
  app: FastifyInstance;
  live: LiveFeed<NodeView, DashboardHub>;
}

export async function buildDashboard(o: DashboardOptions): Promise<Dashboard> {
  const { config, nodes, hub, history } = o;
  const app = createApp('dashboard', config, { limits: o.serverLimits ?? SERVER_LIMITS, logger: o.logger ?? createLogger('silent'), bodyLimit: BODY_LIMIT });
  const sessions = new Sessions(o.sessionLimits ?? DEFAULT_SESSION_LIMITS);
  // The totals (online, traffic) are a query over every node: counted again only after a node changed.
  let totals: NodeTotals | null = null;
  const live = new LiveFeed<NodeView, DashboardHub>(
    {
      snapshot: () => {
        totals = null;
        const all = nodes.list();
        return { nodes: nodeViews(all, nodes), hub: dashboardHub(config, hub, (totals = nodes.totals())) };
      },
      node: (nodeId) => {
        totals = null;
        const n = nodes.find(nodeId);
        return n && nodeView(n, nodes);
      },
      hub: () => dashboardHub(config, hub, (totals ??= nodes.totals())),
    },
    o.liveLimits ?? DEFAULT_LIVE_LIMITS,
  );
  // Before the server closes: it would otherwise wait for every browser's open event stream.
  app.addHook('preClose', async () => live.close());

  answerErrors(app, 'dashboard');
  app.addHook('onRequest', sameOriginGuard);
  await app.register(pageRoutes, { webDir: o.webDir ?? WEB_DIR });
  await app.register(sessionRoutes, {
    sessions,
    apiToken: o.apiToken,
    passwordHash: config.adminPasswordHash,
    maxFailures: o.maxSignInFailures ?? 10,
    signedOut: () => live.revalidate(), // that session's open streams end now
  });
  const signedIn = sessionGuard(sessions);
  await app.register(nodeRoutes, { nodes, guard: signedIn, app: 'dashboard', dialect: dashboardNodeDialect(config, nodes, history), changed: (nodeId) => live.publish([nodeId]) });
  await app.register(pageDataRoutes, { config, nodes, hub, sessions, live, guard: signedIn });
  return { app, live };
}

/** The node routes as the page calls them: under /api/nodes, each answer an object of named parts. */
function dashboardNodeDialect(config: Config, nodes: NodesService, history: NodeHistory): NodeDialect {
  const install = (nodeId: string, link: InstallToken) => installView(config, nodes, nodeId, link, `/api/nodes/${encodeURIComponent(nodeId)}/files`);
  return {
    paths: {
      register: '/api/nodes',
      list: '/api/nodes',
      get: '/api/nodes/:node_id',
      remove: '/api/nodes/:node_id',
      enable: '/api/nodes/:node_id/enable',
      disable: '/api/nodes/:node_id/disable',
      update: '/api/nodes/:node_id',
      revokeAgent: '/api/nodes/:node_id/agent',
      rotateKeys: '/api/nodes/:node_id/rotate-keys',
      installLink: '/api/nodes/:node_id/install-link',
    },
    node: (n): NodeAnswer => ({ node: nodeView(n, nodes) }),
    detail: (n): NodeAndHistory => ({ node: nodeView(n, nodes), history: history.view(n.nodeId) }),
    registration: async (_req, r): Promise<NodeAndInstall> => ({ node: nodeView(r.node, nodes), install: await install(r.node.nodeId, r) }),
    installLink: async (_req, nodeId, link): Promise<InstallAnswer> => ({ install: await install(nodeId, link) }),
  };
}

interface PageDataOptions {
  config: Config;
  nodes: NodesService;
  hub: HubInfo;
  sessions: Sessions;
  live: Dashboard['live'];
  guard: Guard;
}

/** The signed-in page's other data: the event stream, the hub panel and a node's files. */
const pageDataRoutes: FastifyPluginAsync<PageDataOptions> = async (app, { config, nodes, hub, sessions, live, guard }) => {
  app.addHook('onRequest', guard);

  app.get('/api/events', async (req, reply) => {
    reply.hijack();
    const id = sessionOf(req)!;
    if (!live.attach(reply.raw, STREAM_HEADERS, () => sessions.isLive(id))) {
      reply.raw.writeHead(503, { ...STREAM_HEADERS, 'content-type': 'application/json', 'retry-after': '10' });
      reply.raw.end(JSON.stringify({ error: 'busy', message: 'too many live dashboard connections; close another tab' }));
    }
  });

  app.get('/api/hub', async (): Promise<DashboardHub> => dashboardHub(config, hub, nodes.totals()));

  app.get<{ Params: NodeFileParams }>('/api/nodes/:node_id/files/:file', { schema: { params: nodeFileParams } }, async (req, reply) => {
    const { node_id: id, file } = req.params;
    return sendDownload(reply, config, nodes, id, file, `${id}-${file}`);
  });
};
