// Request shapes both HTTP apps accept (the API and the dashboard register nodes the same way).

/** POST body of a registration: unknown properties are refused, types never coerced. */
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

/** What a registration body holds once the schema let it through. */
export interface RegisterBody {
  node_id: string;
  description?: string;
  central_server_url?: string;
  public_key?: string;
}

export const nodeIdParam = {
  type: 'object',
  required: ['node_id'],
  properties: { node_id: { type: 'string', maxLength: 63 } },
} as const;
