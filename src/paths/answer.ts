// The desired-peers answer an agent fetches (docs/agent-protocol.md), in its two forms: lines for
// the sh agent and JSON for others. Both are made from one list and share one ETag. Pure.
import { createHash } from 'node:crypto';
import type { AgentPeer } from './manager.js';

export const PEERS_FORMAT_LINE = 'wgvm-agent-peers 1';

/** An agent peer with the preshared key of its pair. */
export interface AnsweredPeer extends AgentPeer {
  presharedKey: string;
}

/**
 * With hubs sharing a registry, and asked for (`hubs=1`): the answering (active) hub's endpoint,
 * whether its device has a session with the node, and every hub's API origin (this one first).
 */
export interface HubLines {
  /** Null: the configured endpoint is not one an agent takes (the hub line is left out). */
  endpoint: string | null;
  session: 'up' | 'none';
  apis: readonly string[];
}

export interface PeersAnswer {
  text: string;
  json: { version: 1; poll: number; peers: object[]; hub?: { endpoint: string; session: 'up' | 'none' } | null; apis?: readonly string[] };
  /** A strong ETag of the content, quoted. */
  etag: string;
}

export function peersAnswer(peers: readonly AnsweredPeer[], poll: number, hubs: HubLines | null = null): PeersAnswer {
  const sorted = [...peers].sort((x, y) => (x.publicKey < y.publicKey ? -1 : x.publicKey > y.publicKey ? 1 : 0));
  const lines = [PEERS_FORMAT_LINE, `poll ${poll}`];
  if (hubs?.endpoint) lines.push(`hub ${hubs.endpoint} ${hubs.session}`);
  if (hubs) lines.push(...hubs.apis.map((origin) => `api ${origin}`));
  for (const p of sorted) {
    const endpoints = p.endpoints.length > 0 ? p.endpoints.join(',') : '-';
    lines.push(`peer ${p.publicKey} ${p.allowedIp} ${p.presharedKey} ${p.keepalive} ${p.mode} ${endpoints}`);
  }
  lines.push(`end ${sorted.length}`);
  const text = lines.join('\n') + '\n';
  const json = {
    version: 1 as const,
    poll,
    peers: sorted.map((p) => ({
      public_key: p.publicKey,
      allowed_ip: p.allowedIp,
      preshared_key: p.presharedKey,
      persistent_keepalive: p.keepalive,
      mode: p.mode,
      endpoints: p.endpoints,
    })),
    ...(hubs ? { hub: hubs.endpoint ? { endpoint: hubs.endpoint, session: hubs.session } : null, apis: hubs.apis } : {}),
  };
  return { text, json, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
}
