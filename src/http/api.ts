// The management API (API_PORT): the paths and verbs workers and their scripts already call, JSON schemas on every route, OpenAPI at
// /docs. A client mistake is a 4xx with {error, message} and changes nothing; never a 500.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import type { NodesService } from '../nodes/service.js';
import { createLogger, type Logger } from '../runtime/log.js';
import { ERROR_BODY, HUB_TAG, OPEN, OPENAPI_DOCUMENT, textAnswer } from './api-docs.js';
import { apiNodeDialect } from './api-nodes.js';
import { agentRoutes } from './api-agent.js';
import { workerRoutes } from './api-workers.js';
import { createApp } from './app.js';
import { ApiAuth } from './auth.js';
import { apiTokenGuard, type Guard } from './guards.js';
import { answerErrors, docsCsp, SERVER_LIMITS, type ServerLimits } from './hardening.js';
import { METRICS_CONTENT_TYPE, prometheusText } from './metrics.js';
import { nodeRoutes } from './node-routes.js';
import { hubSummary, type HubInfo } from './present.js';
import { hubSchema } from './views.js';

export type { HubInfo } from './present.js';

export async function buildApi(
  config: Config,
  nodes: NodesService,
  hub: HubInfo,
  apiToken: string,
  limits: ServerLimits = SERVER_LIMITS,
  logger: Logger = createLogger('silent'),
): Promise<FastifyInstance> {
  const app = createApp('api', config, { limits, logger });
  await app.register(swagger, { openapi: OPENAPI_DOCUMENT });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: docsCsp });
  answerErrors(app, 'API');

  // Routes under /api need the API token, except where a route says otherwise.
  const requireToken = apiTokenGuard(new ApiAuth(apiToken));
  app.get(
    '/health',
    { schema: { summary: 'Liveness: the API answers', tags: HUB_TAG, security: OPEN, response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );
  await app.register(nodeRoutes, { nodes, guard: requireToken, app: 'api', dialect: apiNodeDialect(config, nodes) });
  await app.register(workerRoutes, { config, nodes, requireToken });
  await app.register(agentRoutes, { nodes, ...(hub.agentHubs ? { hubs: hub.agentHubs } : {}) });
  await app.register(hubRoutes, { config, nodes, hub, requireToken });
  return app;
}

interface HubRoutesOptions {
  config: Config;
  nodes: NodesService;
  hub: HubInfo;
  requireToken: Guard;
}

function haOf(hub: HubInfo): { hubId: string; active: boolean; standbys: number } | null {
  const r = hub.role?.();
  return r ? { hubId: r.hubId, active: r.role === 'active', standbys: r.hubs.filter((h) => h.state === 'standby').length } : null;
}

/** The hub's state: its summary (public unless PUBLIC_STATUS=false) and the Prometheus metrics. */
const hubRoutes: FastifyPluginAsync<HubRoutesOptions> = async (app, { config, nodes, hub, requireToken }) => {
  const tokenUnless = (isPublic: boolean) => (isPublic ? { security: OPEN } : {});
  // Public by configuration or not: the token is checked in the handler, once the request is valid.
  const refusedUnless = async (isPublic: boolean, req: FastifyRequest, reply: FastifyReply) => (isPublic ? undefined : requireToken(req, reply));

  app.get(
    '/api/vpn/status',
    { schema: { summary: "The hub's key, endpoint, subnet, peers and traffic", tags: HUB_TAG, ...tokenUnless(config.publicStatus), response: { 200: hubSchema, '4xx': ERROR_BODY } } },
    async (req, reply) => (await refusedUnless(config.publicStatus, req, reply)) ?? hubSummary(config, hub, nodes.totals()),
  );

  // Prometheus: it lists every node ID, so it takes the token (a scrape config's bearer token)
  // unless PUBLIC_METRICS=true.
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics: nodes, data-plane counters, the process',
        tags: HUB_TAG,
        ...tokenUnless(config.publicMetrics),
        response: { 200: textAnswer('the Prometheus text format 0.0.4'), '4xx': ERROR_BODY },
      },
    },
    async (req, reply) => {
      const denied = await refusedUnless(config.publicMetrics, req, reply);
      if (denied) return denied;
      const metrics = prometheusText({ nodes: nodes.list(), counters: hub.counters(), handshakes: hub.handshakes?.() ?? 0, dnsMessages: hub.dnsMessages?.() ?? null, paths: nodes.paths.totals(), ha: haOf(hub), now: Date.now() });
      return reply.type(METRICS_CONTENT_TYPE).send(metrics);
    },
  );
};
