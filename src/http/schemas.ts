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
