// The node routes as the management API serves them: the paths workers already call, flat snake_case bodies, an
// install URL on the API's own origin, and the OpenAPI description of each.
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import type { Registration } from '../nodes/service.js';
import { ERROR_BODY, NODES_TAG } from './api-docs.js';
import { allRequired, type FromSchema } from './from-schema.js';
import { installUrl, type InstallToken } from './installs.js';
import type { NodeDialect } from './node-routes.js';
import { nodeView, type NodeNames } from './present.js';
import { UNPAGED_LIST_MAX } from './schemas.js';
import { nodeSchema, type NodeView } from './views.js';

const installLinkSchema = allRequired({
  type: 'object',
  properties: { install_url: { type: 'string' }, install_expires_at: { type: 'string' } },
});
type InstallLink = FromSchema<typeof installLinkSchema>;

const registrationSchema = allRequired({
  type: 'object',
  properties: { node: nodeSchema, ...installLinkSchema.properties },
});
type RegistrationAnswer = FromSchema<typeof registrationSchema>;

const listSchema = {
  type: 'object',
  required: ['nodes'],
  properties: {
    nodes: { type: 'array', items: nodeSchema, description: 'in VPN address order' },
    total: { type: 'integer', description: 'how many nodes match the filters (paged answers only)' },
    limit: { type: 'integer', description: 'the page size used (paged answers only)' },
    offset: { type: 'integer', description: 'the offset used (paged answers only)' },
  },
} as const;
const deletedSchema = allRequired({ type: 'object', properties: { deleted: { type: 'string' } } });

const doc = (summary: string, status: 200 | 201, answer: object) => ({ summary, tags: NODES_TAG, response: { [status]: answer, '4xx': ERROR_BODY } });

const DOCS: NonNullable<NodeDialect['docs']> = {
  register: doc('Register a node: an address, keys (or its own public key) and an install link', 201, registrationSchema),
  list: {
    ...doc('The nodes: every one, or a page of those matching a status and a text', 200, listSchema),
    description:
      `With none of limit, offset, status and q: every node (up to ${UNPAGED_LIST_MAX}; above that a 409 asks for pages), ` +
      'as {nodes}. With any of them: one page in VPN address order, as {nodes, total, limit, offset}.',
  },
  get: doc('One node and its status', 200, nodeSchema),
  remove: doc('Delete a node: its peer leaves the hub at once', 200, deletedSchema),
  enable: doc('Enable a node: its peer is back on the hub', 200, nodeSchema),
  disable: doc('Disable a node: its peer leaves the hub, the node stays registered', 200, nodeSchema),
  update: doc("Isolate a node or not, and allow it direct paths or not: {isolated?, direct_paths?}", 200, nodeSchema),
  revokeAgent: doc("Revoke the node's agent credential: its agent drops its direct peers; a new installer brings a new one", 200, nodeSchema),
  rotateKeys: doc('New keys for a node, and a new install link', 200, registrationSchema),
  installLink: doc('A new single-use, expiring install link', 200, installLinkSchema),
};

export function apiNodeDialect(config: Config, names: NodeNames): NodeDialect {
  const link = (req: FastifyRequest, t: InstallToken): InstallLink => ({
    install_url: installUrl(config, t.installToken, req),
    install_expires_at: t.installExpiresAt,
  });
  return {
    paths: {
      register: '/api/nodes/register',
      list: '/api/nodes/list',
      get: '/api/nodes/status/:node_id',
      remove: '/api/nodes/:node_id',
      enable: '/api/nodes/:node_id/enable',
      disable: '/api/nodes/:node_id/disable',
      update: '/api/nodes/:node_id',
      revokeAgent: '/api/nodes/:node_id/agent',
      rotateKeys: '/api/nodes/:node_id/rotate-keys',
      installLink: '/api/nodes/:node_id/install-link',
    },
    docs: DOCS,
    location: (nodeId) => `/api/nodes/status/${encodeURIComponent(nodeId)}`,
    node: (n): NodeView => nodeView(n, names),
    detail: (n): NodeView => nodeView(n, names),
    registration: (req, r: Registration): RegistrationAnswer => ({ node: nodeView(r.node, names), ...link(req, r) }),
    installLink: (req, _nodeId, t) => link(req, t),
  };
}
