// What the hub shows of its nodes and of itself, to the API's clients and to the dashboard's page:
// each shape declared once, as the JSON schema the API documents and serializes it with, or as a
// type where only the dashboard sends it. Nothing here needs Node.js: the web front end imports
// these types (web/src/api.ts), so the page and the server cannot disagree about a field.
import type { HaView } from '../domain/hub-roles.js';
import type { NodeHistoryView } from '../nodes/history.js';
import { allRequired, type FromSchema } from './from-schema.js';

export type { HaView } from '../domain/hub-roles.js';
export type { NodeHistoryView } from '../nodes/history.js';

/** A node, snake_case as the API workers already call; never a secret. */
export const nodeSchema = allRequired({
  type: 'object',
  properties: {
    node_id: { type: 'string' },
    dns_name: { type: ['string', 'null'], description: "the node's name in the hub's DNS, <node_id>.<VPN_DOMAIN>; null while VPN_DNS is off" },
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
    isolated: { type: 'boolean', description: 'reaches the hub only: no relay to other nodes, no direct peers' },
    direct_paths: { type: 'boolean', description: 'whether the hub may give this node direct peers (DIRECT_PATHS must be on too)' },
    agent: allRequired({
      type: 'object',
      description: "the node's worker agent",
      properties: {
        reported_at: { type: ['string', 'null'], description: 'its last report since the hub started; null: none' },
        version: { type: ['string', 'null'] },
        credential_issued_at: { type: ['string', 'null'], description: 'null: the node has no agent credential' },
      },
    }),
    paths: {
      type: 'array',
      description: "the node's pairs with other agent nodes; every other node is reached through the hub",
      items: allRequired({
        type: 'object',
        properties: {
          peer: { type: 'string', description: 'the other node' },
          state: { type: 'string', enum: ['trying', 'direct', 'relayed'] },
          via: { type: ['string', 'null'], enum: ['lan', 'nat', null], description: 'over a LAN both share, or across NATs' },
          since: { type: 'string' },
        },
      }),
    },
  },
});

export type NodeView = FromSchema<typeof nodeSchema>;
export type NodeStatus = NodeView['status'];

/** The hub: the same summary for the API and the dashboard. */
export const hubSchema = allRequired({
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
    ha: {
      type: ['object', 'null'],
      description: 'with a shared (PostgreSQL) registry: this hub and the one that runs the device; null for the only hub',
      required: ['hub_id', 'role', 'active_hub', 'active_since', 'lease_expires_at', 'hubs'],
      properties: {
        hub_id: { type: 'string' },
        role: { type: 'string', enum: ['active', 'standby'] },
        active_hub: { type: ['string', 'null'] },
        active_since: { type: ['string', 'null'] },
        lease_expires_at: { type: ['string', 'null'] },
        hubs: {
          type: 'array',
          description: 'every hub seen in the last hour; away: it has not claimed the lease for a lease’s length (10 s)',
          items: {
            type: 'object',
            required: ['hub_id', 'api_url', 'endpoint', 'state', 'seen_at'],
            properties: {
              hub_id: { type: 'string' },
              api_url: { type: 'string' },
              endpoint: { type: 'string' },
              state: { type: 'string', enum: ['active', 'standby', 'away'] },
              seen_at: { type: 'string' },
            },
          },
        },
      },
    },
  },
});

export type HubSummary = Omit<FromSchema<typeof hubSchema>, 'ha'> & { ha: HaView | null };

/**
 * The dashboard's hub panel: the summary, the data plane's counters by name (drop_replay, relayed,
 * …: src/dataplane/counters.ts) and the handshakes completed since the hub started.
 */
export type DashboardHub = HubSummary & { counters: Record<string, number>; handshakes: number };

/** What the dashboard shows to install a worker: the link, both QR codes, the downloads' paths. */
export interface InstallView {
  url: string;
  expires_at: string;
  qr_install_svg: string;
  qr_config_svg: string;
  downloads: { conf: string; bat: string; sh: string };
}

// The dashboard's answers (dashboard.ts and the node routes as it registers them).
export interface SessionState {
  signed_in: boolean;
  password_enabled: boolean;
}
/** The node list: `total`, `limit` and `offset` only when it was asked for a page or a filter. */
export interface NodeList {
  nodes: NodeView[];
  total?: number;
  limit?: number;
  offset?: number;
}
export interface NodeAnswer {
  node: NodeView;
}
export interface NodeAndHistory {
  node: NodeView;
  history: NodeHistoryView;
}
export interface NodeAndInstall {
  node: NodeView;
  install: InstallView;
}
export interface InstallAnswer {
  install: InstallView;
}
export interface Deleted {
  deleted: string;
}

/** The live stream's events (live.ts): `snapshot` on connecting, then `nodes` and `hub` with what changed. */
export interface LiveSnapshot {
  nodes: NodeView[];
  hub: DashboardHub;
}
export interface LiveNodesChange {
  changed: NodeView[];
  removed: string[];
}
