// Makes the device match the registry. The database is the source of truth in `serve` mode: on start
// and after every change the device's peers are brought in line with the enabled nodes, changing
// only what differs so that established sessions survive.
import { keyToHex } from '../domain/keys.js';

/** What the device should have for one enabled node. */
export interface DesiredPeer {
  publicKey: string; // base64
  presharedKey: string; // base64
  allowedIp: string; // "10.100.1.2/32"
  /** Reaches the hub only: the device relays nothing to or from it. */
  isolated: boolean;
  /** Last endpoint known for the node: set on start so that the hub can reach out at once. */
  endpoint: string | null;
  /** The node's updatedAt: its keys cannot have changed while it stays the same. */
  version?: string;
}

export interface AppliedPeer {
  presharedKey: string;
  allowedIp: string;
  isolated: boolean;
  version?: string;
}

/** The registry's side of a node, as far as the device cares. */
export interface RegisteredPeer {
  nodeId: string;
  publicKey: string;
  vpnIp: string;
  enabled: boolean;
  isolated: boolean;
  endpoint: string | null;
  updatedAt: string;
}

/**
 * The peers the device should have: every enabled node. Unsealing every preshared key on every
 * change would make each registration cost O(nodes); a node's keys only change together with its
 * updatedAt, so a peer applied at the same version keeps its key and only new or changed nodes
 * are unsealed.
 */
export function desiredPeers(
  nodes: readonly RegisteredPeer[],
  applied: ReadonlyMap<string, AppliedPeer>,
  presharedKeyOf: (nodeId: string) => string,
): DesiredPeer[] {
  return nodes
    .filter((n) => n.enabled)
    .map((n) => {
      const had = applied.get(n.publicKey);
      const presharedKey = had?.version !== undefined && had.version === n.updatedAt ? had.presharedKey : presharedKeyOf(n.nodeId);
      return { publicKey: n.publicKey, presharedKey, allowedIp: `${n.vpnIp}/32`, isolated: n.isolated, endpoint: n.endpoint, version: n.updatedAt };
    });
}

/**
 * The UAPI set body that turns `applied` (what the device has, as far as we set it) into `desired`.
 * With `withEndpoints`, endpoints are set too (used at start: afterwards the device learns them).
 * Returns an empty string when nothing needs to change.
 */
export function reconcileBody(
  applied: ReadonlyMap<string, AppliedPeer>,
  desired: readonly DesiredPeer[],
  withEndpoints: boolean,
): string {
  const lines: string[] = [];
  const wanted = new Set(desired.map((d) => d.publicKey));
  for (const key of applied.keys()) {
    if (!wanted.has(key)) lines.push(`public_key=${keyToHex(key)}`, 'remove=true');
  }
  for (const d of desired) {
    const had = applied.get(d.publicKey);
    const changed = !had || had.presharedKey !== d.presharedKey || had.allowedIp !== d.allowedIp || had.isolated !== d.isolated;
    const endpoint = withEndpoints && d.endpoint ? d.endpoint : null;
    if (!changed && !endpoint) continue;
    // A new preshared key means a new registration of the same public key (deleted and registered
    // again between two reconciles): removed first, so that sessions made with the old key end now,
    // as the delete alone would have ended them.
    if (had && had.presharedKey !== d.presharedKey) lines.push(`public_key=${keyToHex(d.publicKey)}`, 'remove=true');
    lines.push(`public_key=${keyToHex(d.publicKey)}`);
    if (changed) {
      lines.push(`preshared_key=${keyToHex(d.presharedKey)}`, 'replace_allowed_ips=true', `allowed_ip=${d.allowedIp}`, `wgvm_isolated=${d.isolated}`);
    }
    if (endpoint) lines.push(`endpoint=${endpoint}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** The state `reconcileBody` leads to, to remember as applied once the device accepted it. */
export function appliedAfter(desired: readonly DesiredPeer[]): Map<string, AppliedPeer> {
  return new Map(desired.map((d) => [d.publicKey, { presharedKey: d.presharedKey, allowedIp: d.allowedIp, isolated: d.isolated, ...(d.version ? { version: d.version } : {}) }]));
}
