// The desired-peers answer an agent fetches (docs/agent-protocol.md), in its two forms: lines for
// the sh agent and JSON for others. Both are made from one list and share one ETag. Pure.
import { createHash } from 'node:crypto';
import type { AgentPeer } from './manager.js';

export const PEERS_FORMAT_LINE = 'wgvm-agent-peers 1';

/** An agent peer with the preshared key of its pair. */
export interface AnsweredPeer extends AgentPeer {
  presharedKey: string;
}

export interface PeersAnswer {
  text: string;
  json: { version: 1; poll: number; peers: object[] };
  /** A strong ETag of the content, quoted. */
  etag: string;
}

export function peersAnswer(peers: readonly AnsweredPeer[], poll: number): PeersAnswer {
  const sorted = [...peers].sort((x, y) => (x.publicKey < y.publicKey ? -1 : x.publicKey > y.publicKey ? 1 : 0));
  const lines = [PEERS_FORMAT_LINE, `poll ${poll}`];
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
  };
  return { text, json, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
}
