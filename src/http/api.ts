// The management API (API_PORT): the seed's paths and verbs, JSON schemas on every route, OpenAPI at
// /docs. A client mistake is a 4xx with {error, message} and changes nothing; never a 500.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { RegistryError } from '../domain/errors.js';
import { statusOf, type Node } from '../domain/node.js';
import type { NodesService, Registration } from '../nodes/service.js';
import { renderLinuxInstaller, renderWindowsInstaller, renderWgQuick } from '../render/index.js';
import { ApiAuth, FailureLimiter } from './auth.js';
import { answerErrors, docsCsp, harden, httpStatusOf, SERVER_LIMITS, serverOptions, type ServerLimits } from './hardening.js';
import { installPage, pageAssets, setupPage } from './pages.js';
import { METRICS_CONTENT_TYPE, prometheusText } from './metrics.js';
import { createLogger, fastifyLogging, logRequests, type Logger } from '../runtime/log.js';
import { nodeIdParam, registerBody, type RegisterBody } from './schemas.js';
import { hubSummary, type HubInfo } from './views.js';

export type { HubInfo } from './views.js';

const errorBody = {
  type: 'object',
  description: 'what was wrong',
  properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
} as const;

const hubSchema = {
  type: 'object',
  properties: {
    public_key: { type: 'string' },
    endpoint: { type: 'string', description: 'SERVERURL:SERVERPORT, as written into worker configs' },
    listen_port: { type: 'integer' },
    subnet: { type: 'string' },
    hub_address: { type: 'string', description: "the hub's VPN address" },
    peers_total: { type: 'integer' },
    peers_online: { type: 'integer' },
    rx_bytes: { type: 'number' },
    tx_bytes: { type: 'number' },
    uptime_seconds: { type: 'integer' },
  },
} as const;

const installLinkSchema = {
  type: 'object',
  properties: { install_url: { type: 'string' }, install_expires_at: { type: 'string' } },
} as const;

const text = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const NODES = ['nodes'];
const WORKERS = ['workers'];
const HUB = ['hub'];

const nodeSchema = {
  type: 'object',
  properties: {
    node_id: { type: 'string' },
    description: { type: 'string' },
    central_server_url: { type: ['string', 'null'] },
    vpn_ip: { type: 'string' },
    public_key: { type: 'string' },
    status: { type: 'string', enum: ['online', 'offline', 'pending', 'disabled'] },
    enabled: { type: 'boolean' },
    last_handshake: { type: ['string', 'null'] },
    rx_bytes: { type: 'number' },
    tx_bytes: { type: 'number' },
    endpoint: { type: ['string', 'null'] },
    answered_from: { type: ['string', 'null'], description: "the hub's own address this node writes to and is answered from" },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
    server_holds_private_key: { type: 'boolean' },
  },
} as const;

const registrationSchema = {
  type: 'object',
  properties: { node: nodeSchema, install_url: { type: 'string' }, install_expires_at: { type: 'string' } },
} as const;

/** The API's view of a node: snake_case as the seed's API, never a secret. */
export function nodeView(n: Node, now = Date.now()) {
  return {
    node_id: n.nodeId,
    description: n.description,
    central_server_url: n.centralServerUrl,
    vpn_ip: n.vpnIp,
    public_key: n.publicKey,
    status: statusOf(n, now),
    enabled: n.enabled,
    last_handshake: n.lastHandshakeAt,
    rx_bytes: n.rxBytes,
    tx_bytes: n.txBytes,
    endpoint: n.endpoint,
    answered_from: n.answeredFrom,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
    server_holds_private_key: n.hasPrivateKey,
  };
}

export async function buildApi(
  config: Config,
  nodes: NodesService,
  hub: HubInfo,
  apiToken: string,
  limits: ServerLimits = SERVER_LIMITS,
  logger: Logger = createLogger('silent'),
): Promise<FastifyInstance> {
  // Unknown properties are an error, not silently dropped, and types are never coerced.
  const app = Fastify({
    ...serverOptions(limits),
    ...fastifyLogging(logger, 'api'),
    // Client addresses and https from X-Forwarded-* only when they come from a proxy named in TRUST_PROXY.
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  harden(app, limits);
  logRequests(app);
  const auth = new ApiAuth(apiToken);
  const installLinks = new FailureLimiter(); // guessing install tokens is slowed per source
  const redeem = (req: FastifyRequest, token: string, nodeId?: string) => {
    if (installLinks.blocked(req.ip)) throw new RegistryError('rate_limited', 'too many invalid install links from this address; wait a minute');
    try {
      return nodes.redeem(token, nodeId);
    } catch (err) {
      if (err instanceof RegistryError) installLinks.recordFailure(req.ip);
      throw err;
    }
  };
  const publicBase = (req: FastifyRequest) => `${req.protocol}://${req.headers.host ?? `${config.serverHost}:${config.apiPort}`}`;

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'wireguard-vpn-manager API',
        version: '1',
        description: 'Register worker nodes, hand out their WireGuard configs and installers, and watch them. ' +
          'Send the API token as `X-API-Key: <token>` or `Authorization: Bearer <token>`.',
      },
      tags: [
        { name: 'nodes', description: 'the registry of worker nodes' },
        { name: 'workers', description: "what a worker fetches to install itself" },
        { name: 'hub', description: "the hub's own state" },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer', description: 'the same API token' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: docsCsp });

  answerErrors(app, 'API');

  // Routes under /api need the API token, except where a route says otherwise.
  const requireToken = async (req: FastifyRequest, reply: FastifyReply) => {
    const source = req.ip;
    if (auth.blocked(source)) {
      return reply.code(429).header('retry-after', '60').send({ error: 'rate_limited', message: 'too many failed attempts; wait a minute' });
    }
    if (!auth.matches(ApiAuth.presented(req.headers))) {
      auth.recordFailure(source);
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="wgvm"')
        .send({ error: 'unauthorized', message: 'a valid API token is needed in X-API-Key or Authorization: Bearer' });
    }
  };
  const actor = (req: FastifyRequest) => `api:${req.ip}`;
  const installUrl = (req: FastifyRequest, token: string) => `${publicBase(req)}/install/${token}`;
  const registration = (req: FastifyRequest, r: Registration) => ({
    node: nodeView(r.node),
    install_url: installUrl(req, r.installToken),
    install_expires_at: r.installExpiresAt,
  });

  const open = [] as never[]; // `security: open`: a route that needs no token
  app.get(
    '/health',
    { schema: { summary: 'Liveness: the API answers', tags: HUB, security: open, response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );

  app.post(
    '/api/nodes/register',
    {
      onRequest: requireToken,
      schema: {
        summary: 'Register a node: an address, keys (or its own public key) and an install link',
        tags: NODES,
        body: registerBody,
        response: { 201: registrationSchema, '4xx': errorBody },
      },
    },
    async (req, reply) => {
      const b = req.body as RegisterBody;
      const r = nodes.register(
        { nodeId: b.node_id, description: b.description, centralServerUrl: b.central_server_url, publicKey: b.public_key },
        actor(req),
      );
      return reply.code(201).header('location', `/api/nodes/status/${encodeURIComponent(r.node.nodeId)}`).send(registration(req, r));
    },
  );

  app.get('/api/nodes/list', { onRequest: requireToken, schema: { summary: 'Every node', tags: NODES, response: { 200: { type: 'object', properties: { nodes: { type: 'array', items: nodeSchema } } }, '4xx': errorBody } } }, async () => {
    const now = Date.now();
    return { nodes: nodes.list().map((n) => nodeView(n, now)) };
  });

  app.get('/api/nodes/status/:node_id', { onRequest: requireToken, schema: { summary: 'One node and its status', tags: NODES, params: nodeIdParam, response: { 200: nodeSchema, '4xx': errorBody } } }, async (req) =>
    nodeView(nodes.get((req.params as { node_id: string }).node_id)),
  );

  const deletedSchema = { type: 'object', properties: { deleted: { type: 'string' } } } as const;
  app.delete('/api/nodes/:node_id', { onRequest: requireToken, schema: { summary: 'Delete a node: its peer leaves the hub at once', tags: NODES, params: nodeIdParam, response: { 200: deletedSchema, '4xx': errorBody } } }, async (req) => {
    const id = (req.params as { node_id: string }).node_id;
    nodes.remove(id, actor(req));
    return { deleted: id };
  });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    const summary = enabled ? 'Enable a node: its peer is back on the hub' : 'Disable a node: its peer leaves the hub, the node stays registered';
    app.post(`/api/nodes/:node_id/${verb}`, { onRequest: requireToken, schema: { summary, tags: NODES, params: nodeIdParam, response: { 200: nodeSchema, '4xx': errorBody } } }, async (req) =>
      nodeView(nodes.setEnabled((req.params as { node_id: string }).node_id, enabled, actor(req))),
    );
  }

  app.post('/api/nodes/:node_id/rotate-keys', { onRequest: requireToken, schema: { summary: 'New keys for a node, and a new install link', tags: NODES, params: nodeIdParam, response: { 200: registrationSchema, '4xx': errorBody } } }, async (req) =>
    registration(req, nodes.rotateKeys((req.params as { node_id: string }).node_id, actor(req))),
  );

  app.post('/api/nodes/:node_id/install-link', { onRequest: requireToken, schema: { summary: 'A new single-use, expiring install link', tags: NODES, params: nodeIdParam, response: { 200: installLinkSchema, '4xx': errorBody } } }, async (req) => {
    const t = nodes.newInstallToken((req.params as { node_id: string }).node_id, actor(req));
    return { install_url: installUrl(req, t.installToken), install_expires_at: t.installExpiresAt };
  });

  // The worker's wg-quick config: with the API token, or with an install token (?token=).
  app.get(
    '/api/clients/:node_id/config',
    {
      schema: {
        summary: "A node's wg-quick config (wg0.conf), with the API token or an install token",
        tags: WORKERS,
        security: [{ apiKey: [] }, { bearer: [] }, {}],
        params: nodeIdParam,
        querystring: { type: 'object', properties: { token: { type: 'string', maxLength: 100, description: 'an install token instead of the API token' } } },
        response: { 200: text('wg0.conf'), '4xx': errorBody },
      },
    },
    async (req, reply) => {
      const id = (req.params as { node_id: string }).node_id;
      const token = (req.query as { token?: string }).token;
      if (token) {
        redeem(req, token, id);
      } else {
        const denied = await requireToken(req, reply);
        if (denied) return denied;
      }
      return reply
        .type('text/plain; charset=utf-8')
        .header('content-disposition', 'attachment; filename="wg0.conf"')
        .header('cache-control', 'no-store')
        .send(renderWgQuick(nodes.workerInstall(id)));
    },
  );

  const tokenUnless = (isPublic: boolean) => (isPublic ? { security: open } : {});
  app.get(
    '/api/vpn/status',
    { schema: { summary: "The hub's key, endpoint, subnet, peers and traffic", tags: HUB, ...tokenUnless(config.publicStatus), response: { 200: hubSchema, '4xx': errorBody } } },
    async (req, reply) => {
      if (!config.publicStatus) {
        const denied = await requireToken(req, reply);
        if (denied) return denied;
      }
      return hubSummary(config, hub, nodes.list());
    },
  );

  // Prometheus: it lists every node ID, so it takes the token (a scrape config's bearer token)
  // unless PUBLIC_METRICS=true.
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics: nodes, data-plane counters, the process', tags: HUB, ...tokenUnless(config.publicMetrics), response: { 200: text('the Prometheus text format 0.0.4'), '4xx': errorBody } } },
    async (req, reply) => {
      if (!config.publicMetrics) {
        const denied = await requireToken(req, reply);
        if (denied) return denied;
      }
      const metrics = prometheusText({ nodes: nodes.list(), counters: hub.counters(), handshakes: hub.handshakes?.() ?? 0, now: Date.now() });
      return reply.type(METRICS_CONTENT_TYPE).send(metrics);
    },
  );

  // The seed's registration page; the API token is typed into the page, never put in a URL.
  app.get('/worker/setup', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(setupPage()));

  // The pages' style sheet and script (no inline code: their Content-Security-Policy forbids it).
  app.get('/assets/:file', { schema: { hide: true, params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 40 } } } } }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    const asset = Object.hasOwn(pageAssets, file) ? pageAssets[file] : undefined;
    if (!asset) return reply.code(404).send({ error: 'not_found', message: 'no such file' });
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
  });

  // The worker's install page and downloads: each request with the token uses it once.
  const installRoute = (suffix: string, send: (id: string, token: string, req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | unknown) =>
    app.get(
      `/install/:token${suffix}`,
      // No automatic HEAD route: every request with the token uses it once.
      { exposeHeadRoute: false, schema: { hide: true, params: { type: 'object', required: ['token'], properties: { token: { type: 'string', maxLength: 100 } } } } },
      async (req, reply) => {
        const token = (req.params as { token: string }).token;
        try {
          const id = redeem(req, token);
          reply.header('cache-control', 'no-store');
          return await send(id, token, req, reply);
        } catch (err) {
          if (err instanceof RegistryError && suffix === '') {
            if (err.code === 'rate_limited') reply.header('retry-after', '60');
            return reply.code(httpStatusOf(err)).type('text/html; charset=utf-8').send(installPage.error(err.message));
          }
          throw err;
        }
      },
    );
  installRoute('', async (id, token, req, reply) =>
    reply.type('text/html; charset=utf-8').send(await installPage.render(nodes.workerInstall(id), `${publicBase(req)}/install/${token}`)),
  );
  installRoute('/wg0.conf', (id, _t, _r, reply) =>
    reply.type('text/plain; charset=utf-8').header('content-disposition', 'attachment; filename="wg0.conf"').send(renderWgQuick(nodes.workerInstall(id))),
  );
  installRoute('/windows.bat', (id, _t, _r, reply) =>
    reply.type('application/x-bat').header('content-disposition', 'attachment; filename="windows.bat"').send(renderWindowsInstaller(nodes.workerInstall(id))),
  );
  installRoute('/linux.sh', (id, _t, _r, reply) =>
    reply.type('text/x-shellscript; charset=utf-8').header('content-disposition', 'attachment; filename="linux.sh"').send(renderLinuxInstaller(nodes.workerInstall(id))),
  );

  return app;
}
