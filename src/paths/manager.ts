// The path manager: which pairs of agent nodes to connect directly, which endpoints to try in which
// order, and when a pair goes direct, falls back to the hub's relay, or is tried again. Pure: the
// caller passes the time and what it knows of each node; nothing here does I/O.
import { ipv4Mask, ipv6Mask, parseIp, splitEndpoint } from '../domain/ip.js';
import { otherOf, pairKey, type PairState, type PathVia } from '../domain/paths.js';

/** An agent that has not reported for this long is gone: its pairs are dropped. */
export const AGENT_FRESH_MS = 90_000;
/** How long one candidate endpoint is tried before the next (or before giving up). */
export const TRY_MS = 15_000;
/** The first wait before a relayed pair is tried again; doubled per failed try, up to RETRY_MAX_MS. */
export const RETRY_FIRST_MS = 60_000;
export const RETRY_MAX_MS = 30 * 60_000;
/** Past WireGuard's REJECT_AFTER_TIME (180 s) plus a report's lag, a direct pair has no session. */
export const HANDSHAKE_DEAD_MS = 195_000;
/**
 * Direct peers keep each other alive every KEEPALIVE_S: a side that received nothing for three
 * keepalives and a report interval has lost the path.
 */
export const RX_SILENT_MS = 100_000;
/** Persistent keepalive of direct peers: keeps both NAT mappings open. */
export const KEEPALIVE_S = 25;
/** Full mesh grows with the square of the agents: beyond this many, the rest stay relayed. */
export const MAX_AGENT_NODES = 512;

/** What one agent saw of one of its peers, in the hub's time. */
export interface PeerSighting {
  /** When its latest handshake was (ms, hub clock), or null for never. */
  handshakeAt: number | null;
  rxBytes: number;
  /** When rxBytes last grew, as far as the reports show (ms, hub clock). */
  rxChangedAt: number;
}

/** An agent's latest report, in the hub's time. */
export interface AgentReport {
  receivedAt: number;
  listenPort: number;
  /** The worker's own addresses with their prefix ("192.168.1.10/24"). */
  localAddresses: readonly string[];
  /** By the peer's public key. */
  peers: ReadonlyMap<string, PeerSighting>;
}

/** A node as the path manager sees it. */
export interface PathNode {
  nodeId: string;
  publicKey: string;
  vpnIp: string;
  /** Enabled, not isolated, direct paths on for the node and on the hub. */
  eligible: boolean;
  /** The endpoint the hub sees on the node's own WireGuard session ("203.0.113.7:51820"), or null. */
  observedEndpoint: string | null;
  /** Null until the agent reports (after a hub restart, known only from stored pairs). */
  report: AgentReport | null;
  /** When the agent was last heard from (ms): its last report, or the hub's start. */
  lastSeen: number;
}

export interface Candidate {
  endpoint: string;
  via: PathVia;
}

export interface PlanChanges {
  added: PairState[];
  changed: PairState[];
  removed: PairState[];
}

function hostOf(endpoint: string | null): string | null {
  const split = endpoint === null ? null : splitEndpoint(endpoint);
  return split ? (parseIp(split.host)?.text ?? null) : null;
}

function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether `address` (a plain address) is in the subnet of `local` ("a.b.c.d/n"). */
function inSubnetOf(local: string, address: string): boolean {
  const slash = local.indexOf('/');
  const mine = parseIp(local.slice(0, slash));
  const theirs = parseIp(address);
  const prefix = Number(local.slice(slash + 1));
  if (!mine || !theirs) return false;
  if (mine.family === 4 && theirs.family === 4) return ((mine.value ^ theirs.value) & ipv4Mask(prefix)) === 0;
  if (mine.family === 6 && theirs.family === 6) return ((mine.value ^ theirs.value) & ipv6Mask(prefix)) === 0n;
  return false;
}

/**
 * The endpoints `from` should try to reach `to` at, best first: `to`'s addresses on a LAN the two
 * share, when both are seen behind one public address (a NAT that may not hairpin), then the
 * endpoint the hub sees on `to`'s session.
 */
export function candidates(from: PathNode, to: PathNode): Candidate[] {
  const list: Candidate[] = [];
  const fromPublic = hostOf(from.observedEndpoint);
  if (fromPublic !== null && fromPublic === hostOf(to.observedEndpoint) && from.report && to.report) {
    const own = new Set(from.report.localAddresses.map((a) => a.slice(0, a.indexOf('/'))));
    for (const theirs of to.report.localAddresses) {
      const address = theirs.slice(0, theirs.indexOf('/'));
      if (own.has(address)) continue; // the same address on both: a container bridge, not a LAN
      if (from.report.localAddresses.some((mine) => inSubnetOf(mine, address))) {
        list.push({ endpoint: formatEndpoint(address, to.report.listenPort), via: 'lan' });
      }
    }
  }
  if (to.observedEndpoint !== null && hostOf(to.observedEndpoint) !== null) list.push({ endpoint: to.observedEndpoint, via: 'nat' });
  return list;
}

/** How many candidates a pair's try goes through: the longer of its two lists. */
function tries(a: PathNode, b: PathNode): { count: number; via: (i: number) => PathVia } {
  const ab = candidates(a, b);
  const ba = candidates(b, a);
  return { count: Math.max(ab.length, ba.length), via: (i) => (ab[i] ?? ba[i] ?? ab[ab.length - 1] ?? ba[ba.length - 1])!.via };
}

function backoff(attempt: number): number {
  return Math.min(RETRY_FIRST_MS * 2 ** Math.max(0, attempt - 1), RETRY_MAX_MS);
}

/** What `from` saw of `to` in a report made after `after`, or null. */
function sighting(from: PathNode, to: PathNode, after: number): PeerSighting | null {
  if (!from.report || from.report.receivedAt < after) return null;
  return from.report.peers.get(to.publicKey) ?? null;
}

function handshakeSince(a: PathNode, b: PathNode, since: number): boolean {
  // A second of slack: the agent's clock reads whole seconds.
  const seen = (s: PeerSighting | null) => s !== null && s.handshakeAt !== null && s.handshakeAt >= since - 1000;
  return seen(sighting(a, b, since)) || seen(sighting(b, a, since));
}

/** A direct pair has lost its path when either side's report says so. */
function lostPath(a: PathNode, b: PathNode, pair: PairState, now: number): boolean {
  const lost = (from: PathNode, to: PathNode): boolean => {
    if (!from.report || from.report.receivedAt <= pair.since) return false; // nothing new from this side
    const s = from.report.peers.get(to.publicKey);
    const heard = Math.max(s?.rxChangedAt ?? 0, pair.since);
    if (now - heard > RX_SILENT_MS) return true;
    const handshake = s?.handshakeAt ?? null;
    return now - pair.since > HANDSHAKE_DEAD_MS && (handshake === null || now - handshake > HANDSHAKE_DEAD_MS);
  };
  return lost(a, b) || lost(b, a);
}

function startTry(pair: Omit<PairState, 'state' | 'via' | 'candidate' | 'deadline'>, a: PathNode, b: PathNode, now: number): PairState {
  const { count, via } = tries(a, b);
  if (count === 0) return { ...pair, state: 'relayed', via: null, since: now, candidate: 0, deadline: now + backoff(pair.attempt) };
  return { ...pair, state: 'trying', via: via(0), since: now, candidate: 0, deadline: now + TRY_MS };
}

/** The next state of one pair, or the same object when nothing changes. */
export function stepPair(pair: PairState, a: PathNode, b: PathNode, now: number): PairState {
  switch (pair.state) {
    case 'trying': {
      if (handshakeSince(a, b, pair.since)) return { ...pair, state: 'direct', since: now, deadline: 0 };
      if (now < pair.deadline) return pair;
      const { count, via } = tries(a, b);
      const next = pair.candidate + 1;
      if (next < count) return { ...pair, candidate: next, via: via(next), deadline: now + TRY_MS };
      return { ...pair, state: 'relayed', via: null, since: now, candidate: 0, deadline: now + backoff(pair.attempt) };
    }
    case 'direct':
      if (!lostPath(a, b, pair, now)) return pair;
      return { ...pair, state: 'relayed', via: null, since: now, attempt: 1, candidate: 0, deadline: now + RETRY_FIRST_MS };
    case 'relayed':
      if (now < pair.deadline) return pair;
      return startTry({ a: pair.a, b: pair.b, since: now, attempt: pair.attempt + 1 }, a, b, now);
  }
}

/** The nodes whose agents take part now: eligible, heard from recently, at most MAX_AGENT_NODES. */
export function activeNodes(nodes: Iterable<PathNode>, now: number): Map<string, PathNode> {
  const active = [...nodes].filter((n) => n.eligible && now - n.lastSeen <= AGENT_FRESH_MS);
  active.sort((x, y) => (x.nodeId < y.nodeId ? -1 : x.nodeId > y.nodeId ? 1 : 0));
  return new Map(active.slice(0, MAX_AGENT_NODES).map((n) => [n.nodeId, n]));
}

/**
 * What one step looks at, when not every pair: the pairs that may have changed (their nodes reported
 * or changed, or their deadline came), and the nodes that may have new pairs.
 */
export interface PlanScope {
  pairs: Iterable<PairState>;
  nodes: Iterable<string>;
}

/**
 * One planning step: pairs of nodes that left are removed, every new pair of active nodes starts
 * trying, and each existing pair moves on (stepPair). Over every pair, or over `scope` only.
 */
export function plan(nodes: Iterable<PathNode>, pairs: ReadonlyMap<string, PairState>, now: number, scope?: PlanScope): PlanChanges {
  const active = activeNodes(nodes, now);
  const changes: PlanChanges = { added: [], changed: [], removed: [] };
  const seen = new Set<PairState>();
  for (const pair of scope ? scope.pairs : pairs.values()) {
    if (seen.has(pair)) continue;
    seen.add(pair);
    const a = active.get(pair.a);
    const b = active.get(pair.b);
    if (!a || !b) {
      changes.removed.push(pair);
      continue;
    }
    const next = stepPair(pair, a, b, now);
    if (next !== pair) changes.changed.push(next);
  }
  // New pairs: of every two active nodes, or (scoped) of the scope's nodes with every active node.
  const ids = [...active.keys()];
  const firsts = scope ? [...new Set(scope.nodes)].filter((id) => active.has(id)) : ids;
  const added = new Set<string>();
  firsts.forEach((x, i) => {
    for (const y of scope ? ids : ids.slice(i + 1)) {
      const key = pairKey(x, y);
      if (x === y || pairs.has(key) || added.has(key)) continue;
      added.add(key);
      const [a, b] = x < y ? [x, y] : [y, x];
      changes.added.push(startTry({ a, b, since: now, attempt: 1 }, active.get(a)!, active.get(b)!, now));
    }
  });
  return changes;
}

/** A direct peer as one agent is to hold it. */
export interface AgentPeer {
  nodeId: string;
  publicKey: string;
  /** "10.100.1.3/32" (or /128). */
  allowedIp: string;
  mode: 'try' | 'direct';
  /** Best first: the one to use now, then the others in the hub's order. */
  endpoints: string[];
  keepalive: number;
}

/** The peer `self` should hold for one of its pairs; null for a relayed pair (no peer). */
export function agentPeer(self: PathNode, other: PathNode, pair: PairState): AgentPeer | null {
  if (pair.state === 'relayed') return null;
  const list = candidates(self, other).map((c) => c.endpoint);
  const first = pair.state === 'trying' ? Math.min(pair.candidate, Math.max(0, list.length - 1)) : 0;
  return {
    nodeId: other.nodeId,
    publicKey: other.publicKey,
    allowedIp: `${other.vpnIp}/${other.vpnIp.includes(':') ? 128 : 32}`,
    mode: pair.state === 'direct' ? 'direct' : 'try',
    endpoints: [...list.slice(first), ...list.slice(0, first)],
    keepalive: KEEPALIVE_S,
  };
}

export { otherOf };
