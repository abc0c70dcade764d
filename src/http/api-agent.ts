// The agent protocol (docs/agent-protocol.md) on the management API: an agent fetches the direct
// peers its node is to hold (a long poll) and reports what its interface sees. The credential is
// the node's own agent credential, never the API token, and grants that node's view only.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../domain/errors.js';
import type { NodesService } from '../nodes/service.js';
import type { HubLines } from '../paths/answer.js';
import { MAX_LOCAL_ADDRESSES, MAX_REPORTED_PEERS, ReportError, type AgentReportBody } from '../paths/report.js';
import { ERROR_BODY } from './api-docs.js';
import { FailureLimiter } from './auth.js';
import type { FromSchema } from './from-schema.js';

export const AGENT_TAG = ['agents'];
/** The longest a long poll is held: under the server's request timeout, with room to spare. */
export const MAX_WAIT_S = 25;

const KEY = { type: 'string', minLength: 44, maxLength: 44 } as const;
const COUNT = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

const peersQuery = {
  type: 'object',
  additionalProperties: false,
  // Query values are text (never coerced): the number is declared by pattern.
  properties: {
    wait: { type: 'string', pattern: '^(?:[0-9]|1[0-9]|2[0-5])$', description: `seconds to hold the request while nothing changed (0–${MAX_WAIT_S})` },
    hubs: { type: 'string', enum: ['0', '1'], description: '1: the answer names the active hub and every hub (hubs sharing a registry)' },
  },
} as const;
type PeersQuery = FromSchema<typeof peersQuery>;

const reportBody = {
  type: 'object',
  additionalProperties: false,
  required: ['agent', 'time', 'public_key', 'listen_port', 'local_addresses', 'peers'],
  properties: {
    agent: { type: 'string', pattern: '^[A-Za-z0-9._/-]{1,40}$', description: 'the agent and its version, e.g. wgvm-agent/1' },
    time: { type: 'integer', minimum: 1, maximum: 253402300799, description: "the worker's clock, Unix seconds" },
    public_key: { ...KEY, description: "the interface's public key" },
    listen_port: { type: 'integer', minimum: 1, maximum: 65535 },
    local_addresses: { type: 'array', maxItems: MAX_LOCAL_ADDRESSES, items: { type: 'string', maxLength: 50 }, description: 'the worker’s own addresses with their prefix length' },
    peers: {
      type: 'array',
      maxItems: MAX_REPORTED_PEERS,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['public_key', 'latest_handshake', 'rx_bytes', 'tx_bytes', 'endpoint'],
        properties: {
          public_key: KEY,
          latest_handshake: { ...COUNT, description: 'Unix seconds; 0: never' },
          rx_bytes: COUNT,
          tx_bytes: COUNT,
          endpoint: { type: ['string', 'null'], maxLength: 60 },
        },
      },
    },
  },
} as const;

const PEERS_JSON = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    poll: { type: 'integer' },
    peers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          public_key: { type: 'string' },
          allowed_ip: { type: 'string' },
          preshared_key: { type: 'string' },
          persistent_keepalive: { type: 'integer' },
          mode: { type: 'string', enum: ['try', 'direct'] },
          endpoints: { type: 'array', items: { type: 'string' } },
        },
      },
    },
    hub: { type: ['object', 'null'], description: 'null: the hub’s endpoint is not one an agent takes', properties: { endpoint: { type: 'string' }, session: { type: 'string', enum: ['up', 'none'] } } },
    apis: { type: 'array', items: { type: 'string' } },
  },
} as const;

const AGENT_SECURITY = [{ agent: [] }];
const STANDBY_503 = { ...ERROR_BODY, description: 'this hub is a standby (hubs sharing a registry): ask the next hub' };

export interface AgentRoutesOptions {
  nodes: NodesService;
  /** Hubs sharing a registry; absent: this hub is the only one. */
  hubs?: AgentHubs;
}

/** What the agent routes need of hubs sharing a registry (docs/agent-protocol.md, "Two hubs"). */
export interface AgentHubs {
  /** Null while this hub runs the device; else it is a standby, and which hub is active (if any). */
  standby(): { active: string | null } | null;
  /** The hub and api lines of the node's answer. */
  lines(nodeId: string): HubLines;
}

/** Only the active hub plans pairs and answers agents: a standby sends them on to the next hub. */
function standbyGuard(hubs: AgentHubs) {
  return async function agentStandbyGuard(_req: FastifyRequest, reply: FastifyReply) {
    const standby = hubs.standby();
    if (standby === null) return undefined;
    const active = standby.active ? `hub ${standby.active} is active` : 'no hub is active right now';
    return reply.code(503).header('retry-after', '1').send({ error: 'standby', message: `this hub is a standby: ${active}` });
  };
}

/**
 * Runs before anything else on the agent routes (no body is read for a stranger): the node whose
 * credential the request carries, or a 401 (and a slowed source).
 */
function agentGuard(nodes: NodesService, agentOf: WeakMap<FastifyRequest, string>) {
  const failures = new FailureLimiter();
  return async function agentCredentialGuard(req: FastifyRequest, reply: FastifyReply) {
    if (failures.blocked(req.ip)) {
      return reply.code(429).header('retry-after', '60').send({ error: 'rate_limited', message: 'too many invalid agent credentials from this address; wait a minute' });
    }
    const nodeId = nodes.agentNodeOf(agentCredential(req));
    if (nodeId === null) {
      failures.recordFailure(req.ip);
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: "an agent credential is required (this node's, from its installer); this one is unknown or revoked" });
    }
    agentOf.set(req, nodeId);
    return undefined;
  };
}

export const agentRoutes: FastifyPluginAsync<AgentRoutesOptions> = async (app, { nodes, hubs }) => {
  const agentOf = new WeakMap<FastifyRequest, string>();
  if (hubs) app.addHook('onRequest', standbyGuard(hubs));
  app.addHook('onRequest', agentGuard(nodes, agentOf));

  app.get<{ Querystring: PeersQuery }>(
    '/api/agent/v1/peers',
    {
      schema: {
        summary: "The direct peers this agent's node is to hold (a long poll with If-None-Match and ?wait)",
        description:
          'Accept: text/plain gives the line format of docs/agent-protocol.md; otherwise JSON. With If-None-Match equal to the current ETag, ' +
          'the answer waits up to `wait` seconds for a change, then is a 304.',
        tags: AGENT_TAG,
        security: AGENT_SECURITY,
        querystring: peersQuery,
        response: {
          200: { description: 'the peers', content: { 'application/json': { schema: PEERS_JSON }, 'text/plain': { schema: { type: 'string' } } } },
          304: { description: 'no change within `wait` seconds', type: 'null' },
          '4xx': ERROR_BODY,
          503: STANDBY_503,
        },
      },
    },
    async (req, reply) => {
      const nodeId = agentOf.get(req)!;
      const lines = () => (hubs && req.query.hubs === '1' ? hubs.lines(nodeId) : null);
      const known = req.headers['if-none-match'];
      const deadline = Date.now() + Number(req.query.wait ?? 0) * 1000;
      const gone = new AbortController();
      req.raw.once('close', () => gone.abort());
      let answer = nodes.paths.peersOf(nodeId, lines());
      while (answer.etag === known && Date.now() < deadline && !gone.signal.aborted && !nodes.paths.closed) {
        await nodes.paths.changed(nodeId, deadline - Date.now(), gone.signal);
        if (nodes.agentNodeOf(agentCredential(req)) !== nodeId) {
          return reply.code(401).send({ error: 'unauthorized', message: 'the agent credential was revoked' });
        }
        answer = nodes.paths.peersOf(nodeId, lines());
      }
      reply.header('etag', answer.etag);
      if (answer.etag === known) return reply.code(304).send();
      if (/^text\/plain\b/.test(req.headers.accept ?? '')) return reply.type('text/plain; charset=utf-8').send(answer.text);
      return answer.json;
    },
  );

  app.post<{ Body: FromSchema<typeof reportBody> }>(
    '/api/agent/v1/report',
    {
      schema: {
        summary: "What the agent's interface sees: its addresses and port, and each peer's handshake and traffic",
        tags: AGENT_TAG,
        security: AGENT_SECURITY,
        body: reportBody,
        response: { 204: { description: 'accepted', type: 'null' }, '4xx': ERROR_BODY, 503: STANDBY_503 },
      },
    },
    async (req, reply) => {
      const nodeId = agentOf.get(req)!;
      try {
        nodes.paths.report(nodeId, req.body as AgentReportBody);
      } catch (err) {
        if (err instanceof ReportError) throw new RegistryError('invalid', err.message);
        throw err;
      }
      return reply.code(204).send();
    },
  );

  app.post(
    '/api/agent/v1/stopping',
    {
      schema: {
        summary: 'The agent is stopping and has removed its direct peers: the other ends drop theirs now',
        tags: AGENT_TAG,
        security: AGENT_SECURITY,
        body: { type: 'object', additionalProperties: false, required: ['stopping'], properties: { stopping: { type: 'boolean', const: true } } },
        response: { 204: { description: 'the node has no direct paths until its agent reports again', type: 'null' }, '4xx': ERROR_BODY, 503: STANDBY_503 },
      },
    },
    async (req, reply) => {
      nodes.paths.agentStopped(agentOf.get(req)!);
      return reply.code(204).send();
    },
  );
};

function agentCredential(req: FastifyRequest): string {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

