// 10,000 idle peers, as a hub carries them: random public keys, a /32 each from a range no tunnel in
// the benchmark uses, every second one with an endpoint in TEST-NET-3 that the namespace cannot
// reach. Loaded through the UAPI socket in chunks, as `wg addconf` would send them.
import { randomBytes } from 'node:crypto';
import { uapiGet, uapiSet } from '../uapi/client.js';
import type { Namespace } from './netns.js';

export const IDLE_PEERS = 10_000;
/** Their AllowedIPs: 10.220.0.0 upwards, one /32 each (the tunnels use 10.210/24, the hub 10.240/24). */
const IDLE_PREFIX = [10, 220] as const;
/** TEST-NET-3 (RFC 5737): endpoints no packet can reach. */
export const UNREACHABLE_ENDPOINTS = '203.0.113.0/24';
const CHUNK = 1000;

/** The `set=1` bodies that add `count` idle peers, `chunk` peers per request. */
export function idlePeerChunks(count: number, chunk = CHUNK, random: (n: number) => Buffer = randomBytes): string[] {
  if (count > 1 << 16) throw new Error(`at most ${1 << 16} idle peers fit in ${IDLE_PREFIX.join('.')}.0.0/16`);
  const bodies: string[] = [];
  for (let start = 0; start < count; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      lines.push(`public_key=${random(32).toString('hex')}`);
      lines.push(`allowed_ip=${IDLE_PREFIX[0]}.${IDLE_PREFIX[1]}.${i >> 8}.${i & 255}/32`);
      if (i % 2 === 1) lines.push(`endpoint=203.0.113.${1 + ((i >> 1) % 254)}:${1024 + (i % 60000)}`);
    }
    bodies.push(lines.join('\n'));
  }
  return bodies;
}

/**
 * Adds `count` idle peers to the device on `iface` in `ns` and returns the seconds it took. First
 * makes TEST-NET-3 unreachable in the namespace, so that even a peer the device did contact sends
 * nothing out of it.
 */
export async function loadIdlePeers(ns: Namespace, iface: string, count = IDLE_PEERS): Promise<number> {
  ns.ip('route', 'replace', 'unreachable', UNREACHABLE_ENDPOINTS);
  const before = countPeers(await uapiGet(iface));
  const start = performance.now();
  for (const body of idlePeerChunks(count)) await uapiSet(iface, body);
  const seconds = (performance.now() - start) / 1000;
  const after = countPeers(await uapiGet(iface));
  if (after !== before + count) throw new Error(`${iface}: ${after} peers after adding ${count} idle peers to ${before}`);
  return seconds;
}

/** How many peers the device on `iface` reports (the `public_key=` lines of its `get=1` answer). */
export function countPeers(getReply: string): number {
  return getReply.match(/^public_key=/gm)?.length ?? 0;
}
