// The management API's OpenAPI document (served at /docs): what the API is, its tags and security
// schemes, and the pieces every route's own description uses.
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';

/** Every 4xx answer: what was wrong (hardening.ts, answerErrors). */
export const ERROR_BODY = {
  type: 'object',
  description: 'what was wrong',
  properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
} as const;

export const NODES_TAG = ['nodes'];
export const WORKERS_TAG = ['workers'];
export const HUB_TAG = ['hub'];

/** `security: OPEN`: a route that needs no token. */
export const OPEN = [] as never[];

/** A plain-text answer. */
export const textAnswer = (description: string) => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });

export const OPENAPI_DOCUMENT: NonNullable<FastifyDynamicSwaggerOptions['openapi']> = {
  openapi: '3.0.3',
  info: {
    title: 'wireguard-vpn-manager API',
    version: '1',
    description:
      'Register worker nodes, hand out their WireGuard configs and installers, and watch them. ' +
      'Send the API token as `X-API-Key: <token>` or `Authorization: Bearer <token>`.',
  },
  tags: [
    { name: 'nodes', description: 'the registry of worker nodes' },
    { name: 'workers', description: 'what a worker fetches to install itself' },
    { name: 'hub', description: "the hub's own state" },
    { name: 'agents', description: "what a worker's agent fetches and reports (docs/agent-protocol.md); its node's agent credential, not the API token" },
  ],
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      bearer: { type: 'http', scheme: 'bearer', description: 'the same API token' },
      agent: { type: 'http', scheme: 'bearer', description: "a node's agent credential (from its installer)" },
    },
  },
  security: [{ apiKey: [] }, { bearer: [] }],
};
