// The dashboard (DASHBOARD_PORT, 5000): the built front end from dist/web and the JSON it talks to,
// behind a sign-in with the API token or ADMIN_PASSWORD_HASH's password. The session is an
// HttpOnly, SameSite=Strict cookie; every state-changing request must come from the page's own
// origin. Live updates arrive as server-sent events (live.ts).
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/index.js';
import type { NodeHistory } from '../nodes/history.js';
import type { NodesService } from '../nodes/service.js';
import { parsePasswordHash, verifyPassword, type PasswordHash } from '../domain/password.js';
import { qrSvg, renderLinuxInstaller, renderWgQuick, renderWindowsInstaller } from '../render/index.js';
import { nodeView } from './api.js';
import { ApiAuth, FailureLimiter } from './auth.js';
import { DEFAULT_LIVE_LIMITS, LiveFeed, type LiveLimits } from './live.js';
import { DEFAULT_SESSION_LIMITS, SESSION_COOKIE, Sessions, type SessionLimits } from './sessions.js';
import { loadStaticFiles, type StaticFile } from './static-files.js';
import { answerErrors, harden, SERVER_LIMITS, serverOptions, type ServerLimits } from './hardening.js';
import { nodeIdParam, registerBody, type RegisterBody } from './schemas.js';
import { hubSummary, type HubInfo } from './views.js';
import { createLogger, fastifyLogging, logRequests, type Logger } from '../runtime/log.js';

export const WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** Password checks (scrypt, 32 MiB each) running at once; more sign-ins wait (429). */
const MAX_CONCURRENT_VERIFICATIONS = 2;

/** Sign-in and registration bodies are small; nothing here takes the API's 64 KiB. */
const BODY_LIMIT = 16 * 1024;

/** No inline script or style anywhere, no framing, nothing fetched from elsewhere. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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
  live: LiveFeed<ReturnType<typeof nodeView>, DashboardHub>;
}

export type DashboardHub = ReturnType<typeof hubSummary> & { counters: Record<string, number>; handshakes: number };

// Secure when the page came over https (directly, or through a proxy named in TRUST_PROXY): the
// browser then never sends the session over plain http.
function sessionCookie(req: FastifyRequest, value: string, maxAge: number): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}${req.protocol === 'https' ? '; Secure' : ''}`;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export async function buildDashboard(o: DashboardOptions): Promise<Dashboard> {
  const { config, nodes, hub, history } = o;
  const limits = o.serverLimits ?? SERVER_LIMITS;
  const app = Fastify({
    ...serverOptions(limits),
    bodyLimit: BODY_LIMIT,
    ...fastifyLogging(o.logger ?? createLogger('silent'), 'dashboard'),
    // Behind a TLS proxy named in TRUST_PROXY: the client's address (sign-in limits) and https (Secure cookies).
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  harden(app, limits);
  logRequests(app);
  const files = loadStaticFiles(o.webDir ?? WEB_DIR);
  const sessions = new Sessions(o.sessionLimits ?? DEFAULT_SESSION_LIMITS);
  const token = new ApiAuth(o.apiToken);
  const signIns = new FailureLimiter(o.maxSignInFailures ?? 10);
  let verifying = 0;
  const password: PasswordHash | null = config.adminPasswordHash ? parsePasswordHash(config.adminPasswordHash) : null;

  const hubView = (): DashboardHub => {
    const c = hub.counters();
    const counters: Record<string, number> = {};
    if (c) {
      for (const [reason, n] of Object.entries(c.drops)) counters[`drop_${reason}`] = n;
      counters.relayed = c.relayed;
      counters.tun_write_errors = c.tunWriteErrors;
      counters.tun_malformed = c.tunMalformed;
      counters.udp_send_errors = c.udpSendErrors;
      counters.handshakes_admitted = c.handshakesAdmitted;
      counters.under_load = c.underLoad ? 1 : 0;
    }
    return { ...hubSummary(config, hub, nodes.list()), counters, handshakes: hub.handshakes?.() ?? 0 };
  };
  const live = new LiveFeed(() => {
    const now = Date.now();
    const all = nodes.list();
    return { nodes: all.map((n) => nodeView(n, now)), hub: hubView() };
  }, o.liveLimits ?? DEFAULT_LIVE_LIMITS);
  // Before the server closes: it would otherwise wait for every browser's open event stream.
  app.addHook('preClose', async () => live.close());

  answerErrors(app, 'dashboard');

  const sessionOf = (req: FastifyRequest) => cookieValue(req.headers.cookie, SESSION_COOKIE);

  // A page on another site can make the browser send requests here; the Origin header says whose
  // page it is. Browsers always send it with POST and DELETE.
  const sameOrigin = (req: FastifyRequest) => {
    const origin = req.headers.origin;
    const host = req.headers.host;
    return typeof origin === 'string' && typeof host === 'string' && (origin === `http://${host}` || origin === `https://${host}`);
  };
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && !sameOrigin(req)) {
      return reply.code(403).send({ error: 'forbidden', message: 'this request did not come from the dashboard page (Origin does not match)' });
    }
  });

  const signedIn = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!sessions.touch(sessionOf(req))) return reply.code(401).send({ error: 'unauthorized', message: 'sign in first' });
  };
  const actor = (req: FastifyRequest) => `dashboard:${req.ip}`;

  // ── Pages ──
  // The page's own CSP (harden() leaves a CSP that is already set alone).
  const sendFile = (reply: FastifyReply, f: StaticFile) =>
    reply
      .type(f.type)
      .header('content-security-policy', f.type.startsWith('text/html') ? DASHBOARD_CSP : "default-src 'none'; frame-ancestors 'none'")
      .header('cache-control', f.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(f.body);
  app.get('/', async (_req, reply) => {
    const index = files?.get('/index.html');
    if (!index) {
      return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run "npm run build" (it writes dist/web).\n');
    }
    return sendFile(reply, index);
  });
  app.get('/*', async (req, reply) => {
    const f = files?.get(new URL(req.url, 'http://x').pathname);
    if (!f || f.type.startsWith('text/html')) return reply.code(404).send({ error: 'not_found', message: 'no such file' });
    return sendFile(reply, f);
  });
  app.get('/health', async () => ({ status: 'ok' }));

  // ── Session ──
  app.get('/api/session', async (req) => ({ signed_in: sessions.touch(sessionOf(req)), password_enabled: password !== null }));

  app.post(
    '/api/session',
    {
      schema: {
        body: {
          type: 'object',
          required: ['secret'],
          additionalProperties: false,
          properties: { secret: { type: 'string', minLength: 1, maxLength: 1024 } },
        },
      },
    },
    async (req, reply) => {
      if (signIns.blocked(req.ip)) {
        return reply.code(429).header('retry-after', '60').send({ error: 'rate_limited', message: 'too many failed sign-ins from this address; wait a minute' });
      }
      const { secret } = req.body as { secret: string };
      let ok = token.matches(secret);
      if (!ok && password !== null) {
        // scrypt takes a while and 32 MiB: attempts in flight count as failures until they pass (so
        // parallel guesses meet the limit too), and only a few run at once.
        if (verifying >= MAX_CONCURRENT_VERIFICATIONS) {
          return reply.code(429).header('retry-after', '1').send({ error: 'rate_limited', message: 'too many sign-ins at once; try again in a moment' });
        }
        signIns.recordFailure(req.ip);
        verifying++;
        try {
          ok = await verifyPassword(secret, password);
        } finally {
          verifying--;
        }
        if (ok) signIns.forgive(req.ip);
      } else if (!ok) {
        signIns.recordFailure(req.ip);
      }
      if (!ok) return reply.code(401).send({ error: 'unauthorized', message: password ? 'wrong password or API token' : 'wrong API token' });
      const id = sessions.create();
      return reply.code(204).header('set-cookie', sessionCookie(req, id, sessions.maxAgeSeconds)).send();
    },
  );

  app.delete('/api/session', async (req, reply) => {
    sessions.end(sessionOf(req));
    live.revalidate(); // that session's open streams end now
    return reply.code(204).header('set-cookie', sessionCookie(req, '', 0)).send();
  });

  // ── Data (signed in) ──
  const installUrl = (t: string) => `http://${config.serverHost}:${config.apiPort}/install/${t}`;
  const installView = async (nodeId: string, installToken: string, expiresAt: string) => {
    const url = installUrl(installToken);
    const files = `/api/nodes/${encodeURIComponent(nodeId)}/files`;
    return {
      url,
      expires_at: expiresAt,
      qr_install_svg: await qrSvg(url),
      qr_config_svg: await qrSvg(renderWgQuick(nodes.workerInstall(nodeId))),
      downloads: { conf: `${files}/wg0.conf`, bat: `${files}/windows.bat`, sh: `${files}/linux.sh` },
    };
  };
  const idOf = (req: FastifyRequest) => (req.params as { node_id: string }).node_id;

  app.get('/api/events', { onRequest: signedIn }, async (req, reply) => {
    reply.hijack();
    const id = sessionOf(req)!;
    if (!live.attach(reply.raw, STREAM_HEADERS, () => sessions.isLive(id))) {
      reply.raw.writeHead(503, { ...STREAM_HEADERS, 'content-type': 'application/json', 'retry-after': '10' });
      reply.raw.end(JSON.stringify({ error: 'busy', message: 'too many live dashboard connections; close another tab' }));
    }
  });

  app.get('/api/nodes', { onRequest: signedIn }, async () => {
    const now = Date.now();
    return { nodes: nodes.list().map((n) => nodeView(n, now)) };
  });

  app.get('/api/hub', { onRequest: signedIn }, async () => hubView());

  app.post(
    '/api/nodes',
    {
      onRequest: signedIn,
      schema: {
        body: registerBody,
      },
    },
    async (req, reply) => {
      const b = req.body as RegisterBody;
      const r = nodes.register(
        { nodeId: b.node_id, description: b.description, centralServerUrl: b.central_server_url || undefined, publicKey: b.public_key || undefined },
        actor(req),
      );
      live.publish();
      return reply.code(201).send({ node: nodeView(r.node), install: await installView(r.node.nodeId, r.installToken, r.installExpiresAt) });
    },
  );

  app.get('/api/nodes/:node_id', { onRequest: signedIn, schema: { params: nodeIdParam } }, async (req) => {
    const node = nodes.get(idOf(req));
    return { node: nodeView(node), history: history.view(node.nodeId) };
  });

  app.delete('/api/nodes/:node_id', { onRequest: signedIn, schema: { params: nodeIdParam } }, async (req) => {
    nodes.remove(idOf(req), actor(req));
    live.publish();
    return { deleted: idOf(req) };
  });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/api/nodes/:node_id/${verb}`, { onRequest: signedIn, schema: { params: nodeIdParam } }, async (req) => {
      const node = nodes.setEnabled(idOf(req), enabled, actor(req));
      live.publish();
      return { node: nodeView(node) };
    });
  }

  app.post('/api/nodes/:node_id/rotate-keys', { onRequest: signedIn, schema: { params: nodeIdParam } }, async (req) => {
    const r = nodes.rotateKeys(idOf(req), actor(req));
    live.publish();
    return { node: nodeView(r.node), install: await installView(r.node.nodeId, r.installToken, r.installExpiresAt) };
  });

  app.post('/api/nodes/:node_id/install-link', { onRequest: signedIn, schema: { params: nodeIdParam } }, async (req) => {
    const t = nodes.newInstallToken(idOf(req), actor(req));
    return { install: await installView(idOf(req), t.installToken, t.installExpiresAt) };
  });

  const downloads: Record<string, { type: string; render: (id: string) => string }> = {
    'wg0.conf': { type: 'text/plain; charset=utf-8', render: (id) => renderWgQuick(nodes.workerInstall(id)) },
    'windows.bat': { type: 'application/x-bat', render: (id) => renderWindowsInstaller(nodes.workerInstall(id)) },
    'linux.sh': { type: 'text/x-shellscript; charset=utf-8', render: (id) => renderLinuxInstaller(nodes.workerInstall(id)) },
  };
  app.get(
    '/api/nodes/:node_id/files/:file',
    {
      onRequest: signedIn,
      schema: { params: { type: 'object', required: ['node_id', 'file'], properties: { node_id: { type: 'string', maxLength: 63 }, file: { type: 'string', enum: Object.keys(downloads) } } } },
    },
    async (req, reply) => {
      const { node_id: id, file } = req.params as { node_id: string; file: string };
      const d = downloads[file]!;
      const body = d.render(id); // first: an unknown node is a 404 before any header names it
      return reply.type(d.type).header('content-disposition', `attachment; filename="${id}-${file}"`).send(body);
    },
  );

  return { app, live };
}
