// A worker node as the registry knows it, and its status; shared by every layer above.

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
  /** Reaches the hub only: the hub relays nothing to or from it and pairs it with no one. */
  isolated: boolean;
  /** Whether the hub may give this node's agent direct peers (it stays relayed otherwise). */
  directPaths: boolean;
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
