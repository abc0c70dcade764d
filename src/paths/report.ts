// An agent's report (docs/agent-protocol.md) checked and read into the hub's time. The HTTP schema
// has checked the shape; here every value is checked for what it means, and the first problem is
// named. Pure.
import { isPlainIp, parseIp, splitEndpoint } from '../domain/ip.js';
import { isValidKey } from '../domain/keys.js';
import type { AgentReport, PeerSighting } from './manager.js';

/** The report's JSON body, as the agent sends it. */
export interface AgentReportBody {
  agent: string;
  time: number;
  public_key: string;
  listen_port: number;
  local_addresses: string[];
  peers: { public_key: string; latest_handshake: number; rx_bytes: number; tx_bytes: number; endpoint: string | null }[];
}

export const MAX_LOCAL_ADDRESSES = 16;
export const MAX_REPORTED_PEERS = 4096;

/** A report that does not say what the protocol says; the message names the first thing wrong. */
export class ReportError extends Error {}

function isHostPrefix(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const ip = parseIp(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(bits)) return false;
  return Number(bits) <= (ip.family === 4 ? 32 : 128) && ip.text === text.slice(0, slash);
}

/** An endpoint as WireGuard prints it: IPv4:port or [IPv6]:port. */
export function isIpEndpoint(text: string): boolean {
  const e = splitEndpoint(text);
  return e !== null && isPlainIp(e.host) && e.bracketed === e.host.includes(':');
}

/** Throws ReportError for the first value that is not what the protocol allows. */
export function checkReport(body: AgentReportBody, nodePublicKey: string): void {
  if (!isValidKey(body.public_key)) throw new ReportError('public_key must be a WireGuard key (44 characters of base64)');
  if (body.public_key !== nodePublicKey) {
    throw new ReportError("public_key is not this node's registered key: the interface runs another key (install the node again)");
  }
  body.local_addresses.forEach((a, i) => {
    if (!isHostPrefix(a)) throw new ReportError(`local_addresses[${i}] must be an address with its prefix length, like 192.168.1.10/24`);
  });
  const seen = new Set<string>();
  body.peers.forEach((p, i) => {
    if (!isValidKey(p.public_key)) throw new ReportError(`peers[${i}].public_key must be a WireGuard key`);
    if (seen.has(p.public_key)) throw new ReportError(`peers[${i}].public_key appears twice`);
    seen.add(p.public_key);
    if (p.latest_handshake > body.time + 5) throw new ReportError(`peers[${i}].latest_handshake is later than the report's time`);
    if (p.endpoint !== null && !isIpEndpoint(p.endpoint)) throw new ReportError(`peers[${i}].endpoint must be IPv4:port or [IPv6]:port`);
  });
}

/**
 * The report in the hub's time: handshake times are read relative to the report's own `time`, so
 * the worker's clock need not agree with the hub's. rxChangedAt carries over from `previous` while
 * a peer's rx count stands still.
 */
export function readReport(body: AgentReportBody, receivedAt: number, previous: AgentReport | null): AgentReport {
  const peers = new Map<string, PeerSighting>();
  for (const p of body.peers) {
    const before = previous?.peers.get(p.public_key);
    peers.set(p.public_key, {
      handshakeAt: p.latest_handshake === 0 ? null : receivedAt - Math.max(0, body.time - p.latest_handshake) * 1000,
      rxBytes: p.rx_bytes,
      rxChangedAt: before && before.rxBytes === p.rx_bytes ? before.rxChangedAt : receivedAt,
    });
  }
  return { receivedAt, listenPort: body.listen_port, localAddresses: body.local_addresses, peers };
}
