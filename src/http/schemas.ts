// What requests the two HTTP apps accept, each declared once as its JSON schema; the type a handler
// sees follows from it. Both apps refuse unknown body properties and never coerce types (app.ts).
import type { FromSchema } from './from-schema.js';

/** POST body of a registration (the API and the dashboard register nodes the same way). */
export const registerBody = {
  type: 'object',
  required: ['node_id'],
  additionalProperties: false,
  properties: {
    node_id: { type: 'string', minLength: 1, maxLength: 63 },
    description: { type: 'string', maxLength: 200 },
    central_server_url: { type: 'string', maxLength: 2000 },
    public_key: { type: 'string', maxLength: 64 },
  },
} as const;
export type RegisterBody = FromSchema<typeof registerBody>;

/** PATCH of a node: what an admin decides about its paths; at least one field. */
export const updateBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    isolated: { type: 'boolean', description: 'true: the node reaches the hub only' },
    direct_paths: { type: 'boolean', description: 'false: the node stays relayed (its agent holds no direct peers)' },
  },
} as const;
export type UpdateBody = FromSchema<typeof updateBody>;

/** The most nodes one page of GET /api/nodes/list holds, and how many it holds unless asked. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;
/** The most nodes the list answers without paging, as it did before paging existed (about 4 MB). */
export const UNPAGED_LIST_MAX = 10_000;

/**
 * The node list's paging and filters. Query values are text (types are never coerced), so numbers
 * are declared by pattern. With none of them the list is whole, in the shape it always had.
 */
export const nodeListQuery = {
  type: 'object',
  properties: {
    limit: { type: 'string', pattern: `^(?:[1-9][0-9]{0,2}|${MAX_PAGE_SIZE})$`, description: `a whole number from 1 to ${MAX_PAGE_SIZE}: nodes per page (default ${DEFAULT_PAGE_SIZE})` },
    offset: { type: 'string', pattern: '^(?:0|[1-9][0-9]{0,8})$', description: 'a whole number from 0 to 999999999: matching nodes to skip (default 0)' },
    status: { type: 'string', enum: ['online', 'offline', 'pending', 'disabled'], description: 'one of online, offline, pending, disabled' },
    q: { type: 'string', maxLength: 100, description: 'text of at most 100 characters, found in the node ID, description, VPN address, endpoint, central server URL or public key (case-insensitive for A-Z)' },
  },
} as const;
export type NodeListQuery = FromSchema<typeof nodeListQuery>;

export const nodeIdParam = {
  type: 'object',
  required: ['node_id'],
  properties: { node_id: { type: 'string', maxLength: 63 } },
} as const;
export type NodeIdParam = FromSchema<typeof nodeIdParam>;

/** An install link's token, in the path (/install/:token) or in a query (?token=). */
const installToken = { type: 'string', maxLength: 100 } as const;

export const installTokenParam = { type: 'object', required: ['token'], properties: { token: installToken } } as const;
export type InstallTokenParam = FromSchema<typeof installTokenParam>;

export const configQuery = {
  type: 'object',
  properties: { token: { ...installToken, description: 'an install token instead of the API token' } },
} as const;
export type ConfigQuery = FromSchema<typeof configQuery>;

/** A file of the server-rendered pages, under /assets/. */
export const assetParam = { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 40 } } } as const;
export type AssetParam = FromSchema<typeof assetParam>;

/** The dashboard's sign-in: the API token or the admin password. */
export const signInBody = {
  type: 'object',
  required: ['secret'],
  additionalProperties: false,
  properties: { secret: { type: 'string', minLength: 1, maxLength: 1024 } },
} as const;
export type SignInBody = FromSchema<typeof signInBody>;
