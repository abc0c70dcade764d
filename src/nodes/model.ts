// The node registry's vocabulary, shared by the store, the nodes service, the renderers and the API.

/** A worker node as the registry knows it. Never carries secrets. */
export interface Node {
  nodeId: string;
  description: string;
  centralServerUrl: string | null;
  /** The worker's VPN address, e.g. "10.100.1.2". */
  vpnIp: string;
  publicKey: string;
  /** False when the worker registered its own public key: the hub never held its private key. */
  hasPrivateKey: boolean;
  enabled: boolean;
  createdAt: string; // ISO 8601
  updatedAt: string;
  lastHandshakeAt: string | null;
  rxBytes: number;
  txBytes: number;
  /** Last endpoint seen, "203.0.113.7:51820" or "[2001:db8::1]:51820". */
  endpoint: string | null;
  /** The hub's own address that endpoint writes to and is answered from, on a hub with several. */
  answeredFrom: string | null;
}

export type NodeStatus = 'online' | 'offline' | 'pending' | 'disabled';

/** A node is online when its last handshake is under 180 s old (WireGuard's REJECT_AFTER_TIME). */
export const ONLINE_WINDOW_MS = 180_000;

export function statusOf(node: Node, nowMs: number): NodeStatus {
  if (!node.enabled) return 'disabled';
  if (!node.lastHandshakeAt) return 'pending';
  return nowMs - Date.parse(node.lastHandshakeAt) < ONLINE_WINDOW_MS ? 'online' : 'offline';
}

export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A client mistake: the API turns it into a 4xx with `{error, message, field?}`. */
export class RegistryError extends Error {
  constructor(
    readonly code: 'duplicate' | 'not_found' | 'range_full' | 'invalid' | 'gone' | 'rate_limited' | 'limit',
    message: string,
    /** The request field at fault (node_id, description, …), so a form can show the message beside it. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}
