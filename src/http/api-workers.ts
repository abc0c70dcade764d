// What a worker fetches from the API to install itself: its config (with the API token or an install
// token), the install page and its downloads under /install/:token, and the registration
// page with its assets. Every request with an install token uses it once.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { RegistryError } from '../domain/errors.js';
import type { NodesService } from '../nodes/service.js';
import { ERROR_BODY, textAnswer, WORKERS_TAG } from './api-docs.js';
import { FailureLimiter } from './auth.js';
import type { Guard } from './guards.js';
import { httpStatusOf } from './hardening.js';
import { DOWNLOAD_NAMES, installUrl, sendDownload } from './installs.js';
import { installPage, pageAssets, setupPage } from './pages.js';
import {
  assetParam,
  configQuery,
  installTokenParam,
  nodeIdParam,
  type AssetParam,
  type ConfigQuery,
  type InstallTokenParam,
  type NodeIdParam,
} from './schemas.js';

export interface WorkerRoutesOptions {
  config: Config;
  nodes: NodesService;
  requireToken: Guard;
}

type Redeem = (req: FastifyRequest, token: string, nodeId?: string) => string;

/** Redeems install tokens; a source that presents too many bad ones waits a minute (guessing is slowed). */
function redeemer(nodes: NodesService): Redeem {
  const failures = new FailureLimiter();
  return function redeem(req, token, nodeId) {
    if (failures.blocked(req.ip)) throw new RegistryError('rate_limited', 'too many invalid install links from this address; wait a minute');
    try {
      return nodes.redeem(token, nodeId);
    } catch (err) {
      if (err instanceof RegistryError) failures.recordFailure(req.ip);
      throw err;
    }
  };
}

const CONFIG_SCHEMA = {
  summary: "A node's wg-quick config (wg0.conf), with the API token or an install token",
  tags: WORKERS_TAG,
  security: [{ apiKey: [] }, { bearer: [] }, {}],
  params: nodeIdParam,
  querystring: configQuery,
  response: { 200: textAnswer('wg0.conf'), '4xx': ERROR_BODY },
};

export const workerRoutes: FastifyPluginAsync<WorkerRoutesOptions> = async (app, { config, nodes, requireToken }) => {
  const redeem = redeemer(nodes);

  // The worker's wg-quick config: with the API token, or with an install token (?token=).
  app.get<{ Params: NodeIdParam; Querystring: ConfigQuery }>('/api/clients/:node_id/config', { schema: CONFIG_SCHEMA }, async (req, reply) => {
    const id = req.params.node_id;
    if (req.query.token) {
      redeem(req, req.query.token, id);
    } else {
      const denied = await requireToken(req, reply);
      if (denied) return denied;
    }
    return sendDownload(reply.header('cache-control', 'no-store'), config, nodes, id, 'wg0.conf');
  });

  // The registration page workers already use; the API token is typed into the page, never put in a URL.
  app.get('/worker/setup', { schema: { hide: true } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(setupPage()));

  // The pages' style sheet and script (no inline code: their Content-Security-Policy forbids it).
  app.get<{ Params: AssetParam }>('/assets/:file', { schema: { hide: true, params: assetParam } }, async (req, reply) => {
    const asset = Object.hasOwn(pageAssets, req.params.file) ? pageAssets[req.params.file] : undefined;
    if (!asset) return reply.code(404).send({ error: 'not_found', message: 'no such file' });
    return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
  });

  installRoute(app, redeem, '', async (id, token, req, reply) =>
    reply.type('text/html; charset=utf-8').send(await installPage.render(nodes.workerInstall(id), installUrl(config, token, req))),
  );
  for (const name of DOWNLOAD_NAMES) installRoute(app, redeem, `/${name}`, (id, _token, req, reply) => sendDownload(reply, config, nodes, id, name, name, req));
};

type InstallAnswer = (nodeId: string, token: string, req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> | FastifyReply;

/** /install/:token<suffix>: the token is used once, then `answer` sends what the worker asked for. */
function installRoute(app: FastifyInstance, redeem: Redeem, suffix: string, answer: InstallAnswer): void {
  app.get<{ Params: InstallTokenParam }>(
    `/install/:token${suffix}`,
    // No automatic HEAD route: every request with the token uses it once.
    { exposeHeadRoute: false, schema: { hide: true, params: installTokenParam } },
    async (req, reply) => {
      const token = req.params.token;
      try {
        const id = redeem(req, token);
        reply.header('cache-control', 'no-store');
        return await answer(id, token, req, reply);
      } catch (err) {
        // The page itself is opened in a browser: its mistakes are a page too.
        if (err instanceof RegistryError && suffix === '') {
          if (err.code === 'rate_limited') reply.header('retry-after', '60');
          return reply.code(httpStatusOf(err)).type('text/html; charset=utf-8').send(installPage.error(err.message));
        }
        throw err;
      }
    },
  );
}
