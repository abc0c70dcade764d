// The node routes, served by both apps: the list, one node, register, delete, enable, disable, rotate
// keys and a new install link. Each app registers this plugin with its own guard (the API token, the
// dashboard's session) and its own NodeDialect: where each route is and how its answer looks (the API
// keeps the paths and flat bodies workers already call, the dashboard wraps them for its page). What a route does
// to the registry, whom the audit log names, and what a bad ID or body answers are the same for both.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema, FastifySchemaValidationError } from 'fastify';
import { RegistryError } from '../domain/errors.js';
import type { Node } from '../domain/node.js';
import type { NodesService, Registration } from '../nodes/service.js';
import type { Guard } from './guards.js';
import type { InstallToken } from './installs.js';
import { nodeViews } from './present.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, nodeIdParam, nodeListQuery, registerBody, UNPAGED_LIST_MAX, updateBody, type NodeIdParam, type NodeListQuery, type RegisterBody, type UpdateBody } from './schemas.js';
import type { Deleted, NodeList } from './views.js';

export type NodeOperation = 'list' | 'get' | 'register' | 'remove' | 'enable' | 'disable' | 'update' | 'rotateKeys' | 'revokeAgent' | 'installLink';

/** A route's answer body, or a promise of one. */
type Answer = unknown;

/** One app's paths and answer shapes for the node routes. */
export interface NodeDialect {
  /** Each operation's path; `:node_id` where it names a node. */
  paths: Readonly<Record<NodeOperation, string>>;
  /** What the OpenAPI document says of each route (summary, tags, answers), where the app has one. */
  docs?: Readonly<Partial<Record<NodeOperation, FastifySchema>>>;
  /** Where a node just registered can be read (the 201's Location header), where the app says so. */
  location?(nodeId: string): string;
  /** The answer to enable, disable, update and revoking the agent's credential. */
  node(node: Node): Answer;
  /** The answer to get. */
  detail(node: Node): Answer;
  /** The answer to register and to rotate keys: the node and its new install link. */
  registration(req: FastifyRequest, r: Registration): Answer;
  /** The answer to a new install link. */
  installLink(req: FastifyRequest, nodeId: string, link: InstallToken): Answer;
}

export interface NodeRoutesOptions {
  nodes: NodesService;
  /** Runs before every route here: the app's own authentication. */
  guard: Guard;
  /** How the audit log names who acted: `<app>:<client address>`. */
  app: 'api' | 'dashboard';
  dialect: NodeDialect;
  /** Called after each change to a node, with its ID (the dashboard's live feed). */
  changed?: (nodeId: string) => void;
}

type ById = FastifyRequest<{ Params: NodeIdParam }>;

/** The handlers, one per operation; arrow properties, as fastify calls them with its own `this`. */
class NodeHandlers {
  constructor(private readonly o: NodeRoutesOptions) {}

  private actor = (req: FastifyRequest) => `${this.o.app}:${req.ip}`;
  private changed = (nodeId: string) => this.o.changed?.(nodeId);

  list = async (req: FastifyRequest<{ Querystring: NodeListQuery }>): Promise<NodeList> => {
    const { limit, offset, status, q } = req.query;
    if (limit === undefined && offset === undefined && status === undefined && q === undefined) {
      // The whole list, as clients from before paging ask for it; bounded, as it costs the fleet.
      const count = this.o.nodes.count();
      if (count > UNPAGED_LIST_MAX) {
        throw new RegistryError('limit', `the registry holds ${count} nodes, more than the ${UNPAGED_LIST_MAX} a list without paging answers: ask for pages with ?limit=${MAX_PAGE_SIZE}&offset=0, …`);
      }
      return { nodes: nodeViews(this.o.nodes.list(), this.o.nodes) };
    }
    const page = { limit: limit === undefined ? DEFAULT_PAGE_SIZE : Number(limit), offset: offset === undefined ? 0 : Number(offset) };
    const { nodes, total } = this.o.nodes.page({ ...page, status, text: q || undefined });
    return { nodes: nodeViews(nodes, this.o.nodes), total, ...page };
  };

  get = async (req: ById) => this.o.dialect.detail(this.o.nodes.get(req.params.node_id));

  register = async (req: FastifyRequest<{ Body: RegisterBody }>, reply: FastifyReply) => {
    const b = req.body;
    const r = this.o.nodes.register(
      { nodeId: b.node_id, description: b.description, centralServerUrl: b.central_server_url, publicKey: b.public_key },
      this.actor(req),
    );
    this.changed(r.node.nodeId);
    const location = this.o.dialect.location?.(r.node.nodeId);
    if (location !== undefined) reply.header('location', location);
    return reply.code(201).send(await this.o.dialect.registration(req, r));
  };

  remove = async (req: ById): Promise<Deleted> => {
    const id = req.params.node_id;
    this.o.nodes.remove(id, this.actor(req));
    this.changed(id);
    return { deleted: id };
  };

  enable = (req: ById) => this.setEnabled(req, true);
  disable = (req: ById) => this.setEnabled(req, false);

  update = async (req: FastifyRequest<{ Params: NodeIdParam; Body: UpdateBody }>) => {
    const node = this.o.nodes.setPathFlags(req.params.node_id, { isolated: req.body.isolated, directPaths: req.body.direct_paths }, this.actor(req));
    this.changed(node.nodeId);
    return this.o.dialect.node(node);
  };

  revokeAgent = async (req: ById) => {
    const id = req.params.node_id;
    this.o.nodes.revokeAgentCredential(id, this.actor(req));
    this.changed(id);
    return this.o.dialect.node(this.o.nodes.get(id));
  };

  rotateKeys = async (req: ById) => {
    const r = this.o.nodes.rotateKeys(req.params.node_id, this.actor(req));
    this.changed(r.node.nodeId);
    return this.o.dialect.registration(req, r);
  };

  installLink = async (req: ById) => {
    const id = req.params.node_id;
    return this.o.dialect.installLink(req, id, this.o.nodes.newInstallToken(id, this.actor(req)));
  };

  private async setEnabled(req: ById, enabled: boolean) {
    const node = this.o.nodes.setEnabled(req.params.node_id, enabled, this.actor(req));
    this.changed(node.nodeId);
    return this.o.dialect.node(node);
  }
}

/** A bad paging or filter value, said with what it must be: "limit must be a whole number from 1 to 1000". */
function queryErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const rules = nodeListQuery.properties as Record<string, { description: string }>;
  const messages = errors.map((e) => {
    const name = e.instancePath.slice(1);
    return rules[name] ? `${name} must be ${rules[name].description.split(':')[0]}` : `${dataVar}${e.instancePath} ${e.message ?? 'is not valid'}`;
  });
  return new Error(messages.join(', '));
}

export const nodeRoutes: FastifyPluginAsync<NodeRoutesOptions> = async (app, o) => {
  const h = new NodeHandlers(o);
  const { paths, docs = {} } = o.dialect;
  const schema = (op: NodeOperation, request: FastifySchema = {}): FastifySchema => ({ ...docs[op], ...request });
  const byId = { params: nodeIdParam };
  app.addHook('onRequest', o.guard);
  // In the order the API's OpenAPI document lists them.
  app.post<{ Body: RegisterBody }>(paths.register, { schema: schema('register', { body: registerBody }) }, h.register);
  app.get<{ Querystring: NodeListQuery }>(paths.list, { schema: schema('list', { querystring: nodeListQuery }), schemaErrorFormatter: queryErrors }, h.list);
  app.get<{ Params: NodeIdParam }>(paths.get, { schema: schema('get', byId) }, h.get);
  app.delete<{ Params: NodeIdParam }>(paths.remove, { schema: schema('remove', byId) }, h.remove);
  app.post<{ Params: NodeIdParam }>(paths.enable, { schema: schema('enable', byId) }, h.enable);
  app.post<{ Params: NodeIdParam }>(paths.disable, { schema: schema('disable', byId) }, h.disable);
  app.patch<{ Params: NodeIdParam; Body: UpdateBody }>(paths.update, { schema: schema('update', { ...byId, body: updateBody }) }, h.update);
  app.post<{ Params: NodeIdParam }>(paths.rotateKeys, { schema: schema('rotateKeys', byId) }, h.rotateKeys);
  app.delete<{ Params: NodeIdParam }>(paths.revokeAgent, { schema: schema('revokeAgent', byId) }, h.revokeAgent);
  app.post<{ Params: NodeIdParam }>(paths.installLink, { schema: schema('installLink', byId) }, h.installLink);
};
