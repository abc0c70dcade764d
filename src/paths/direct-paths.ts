// Direct paths in the running hub: the agents' reports, the pairs and their preshared keys, the
// planning loop, and the long polls of agents waiting for their peers to change. The decisions are
// the path manager's (paths/manager.ts); this keeps its inputs and outputs in step with the registry.
import { generatePresharedKey, encodeKey } from '../domain/keys.js';
import type { Node } from '../domain/node.js';
import { otherOf, pairKey, type PairState, type PathState, type PathVia } from '../domain/paths.js';
import { peersAnswer, type AnsweredPeer, type HubLines, type PeersAnswer } from './answer.js';
import { activeNodes, agentPeer, plan, type PathNode } from './manager.js';
import { checkReport, readReport, type AgentReportBody } from './report.js';
import type { Store, StoredPair } from '../store/index.js';

/** How often a standby reads the pairs again for what it shows (the active hub writes them). */
export const STANDBY_VIEW_MS = 5000;
/** How often pairs are planned: a report's news reaches both agents within this. */
export const PLAN_INTERVAL_MS = 1000;
/** A planning step reads up to this many nodes one by one, and all of them in one query beyond. */
const SINGLE_READS_UP_TO = 16;
/** The `poll` an agent is told: short while one of its pairs is being tried, else a long poll. */
export const POLL_TRYING_S = 2;
export const POLL_IDLE_S = 25;

export interface AgentStatus {
  /** When the agent last reported (ISO), or null when it has not since the hub started. */
  reportedAt: string | null;
  /** What the agent calls itself ("wgvm-agent/1"). */
  version: string | null;
  /** When its credential was issued, or null when the node has none. */
  credentialIssuedAt: string | null;
}

export interface PathView {
  peer: string;
  state: PathState;
  via: PathVia | null;
  since: string;
}

type Registry = Pick<
  Store,
  'getNode' | 'listNodes' | 'listPairs' | 'listPairStates' | 'applyPairs' | 'agentCredentialIssuedAt' | 'agentCredentialsIssuedAt'
>;
/** A pair in memory: a standby's view holds no keys (it answers no agent; activate() reads them). */
type KnownPair = PairState & { presharedKey: string | null };

interface Agent extends PathNode {
  version: string | null;
}

export class DirectPaths {
  readonly #agents = new Map<string, Agent>();
  readonly #pairs = new Map<string, KnownPair>();
  /** Pair keys by node. */
  readonly #pairsOf = new Map<string, Set<string>>();
  readonly #waiters = new Map<string, Set<() => void>>();
  #startedAt: number;
  #closed = false;
  /** Another hub of a shared registry runs the device and plans the pairs: nothing is planned or written here. */
  #standby = false;
  /** When a standby last read the pairs from the registry. */
  #readAt = -Infinity;
  /** Keys of the pairs not direct: the only ones a deadline moves. */
  readonly #timed = new Set<string>();
  /** Nodes that reported or changed since the last step: their pairs are looked at. */
  readonly #dirty = new Set<string>();
  /** The nodes that took part at the last step. */
  #wasActive = new Set<string>();

  constructor(
    private readonly registry: Registry,
    /** DIRECT_PATHS: off makes every node ineligible (every pair is dropped, agents hold no peers). */
    private readonly enabled: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.#startedAt = now();
    this.#loadPairs();
  }

  /**
   * A standby of hubs sharing a registry: the active hub plans the pairs and answers the agents,
   * so this one neither plans nor writes until activate().
   */
  standby(): void {
    this.#standby = true;
    this.#reload(); // without the keys
  }

  /** This hub runs the device now: the pairs are taken as the registry holds them (the last active hub left them there). */
  activate(): void {
    this.#standby = false;
    this.#reload();
  }

  /** Forgets what is in memory and takes the pairs as the registry holds them. */
  #reload(): void {
    this.#agents.clear();
    this.#pairs.clear();
    this.#pairsOf.clear();
    this.#timed.clear();
    this.#dirty.clear();
    this.#wasActive = new Set();
    this.#startedAt = this.now();
    this.#readAt = this.#startedAt;
    this.#loadPairs();
  }

  /** A standby shows the pairs as the active hub last wrote them, read again at most every STANDBY_VIEW_MS. */
  #freshView(): void {
    if (this.#standby && this.now() - this.#readAt >= STANDBY_VIEW_MS) this.#reload();
  }

  /** Pairs outlive a restart: their nodes count as heard from now, so that agents have AGENT_FRESH_MS to report before their pairs are judged. */
  #loadPairs(): void {
    const pairs: KnownPair[] = this.#standby ? this.registry.listPairStates().map((p) => ({ ...p, presharedKey: null })) : this.registry.listPairs();
    if (pairs.length === 0) return;
    // One query for the nodes (a standby does this every STANDBY_VIEW_MS), not one per pair's end.
    const nodes = new Map(this.registry.listNodes().map((n) => [n.nodeId, n]));
    for (const pair of pairs) {
      const ends = [nodes.get(pair.a), nodes.get(pair.b)];
      for (const node of ends) if (node && !this.#agents.has(node.nodeId)) this.#agents.set(node.nodeId, this.#fromNode(node));
      if (ends.every(Boolean)) this.#remember(pair);
    }
  }

  /** Takes an agent's report; throws ReportError (nothing changed) for a bad one. */
  report(nodeId: string, body: AgentReportBody): void {
    if (this.#standby) return;
    const node = this.registry.getNode(nodeId);
    if (!node) return;
    checkReport(body, node.publicKey);
    const now = this.now();
    const agent = this.#agents.get(nodeId) ?? this.#fromNode(node);
    this.#agents.set(nodeId, {
      ...agent,
      ...this.#nodeFields(node),
      report: readReport(body, now, agent.report),
      lastSeen: now,
      version: body.agent,
    });
    this.#dirty.add(nodeId);
    // Planned at the next step (every PLAN_INTERVAL_MS): reports come in from every agent, and
    // planning walks every pair.
  }

  /** The node's agent stopped (and removed its direct peers): its pairs end now at the other ends. */
  agentStopped(nodeId: string): void {
    if (this.#standby) return;
    this.#dropAgent(nodeId);
    this.step();
  }

  /** A node changed in the registry (or was deleted): its pairs follow at once. */
  nodeChanged(nodeId: string): void {
    if (this.#standby) return;
    this.#recheck(nodeId);
    this.#wake([nodeId]);
    this.step();
  }

  /**
   * The registry changed by another hand (a standby's API, an import): every agent node is looked
   * at again, as after a change made here.
   */
  registryChanged(): void {
    if (this.#standby) return;
    const ids = [...this.#agents.keys()];
    // Two queries for all of them, not two per agent node (a round trip each on PostgreSQL).
    const nodes = new Map(this.registry.listNodes().map((n) => [n.nodeId, n]));
    const issued = this.registry.agentCredentialsIssuedAt();
    for (const id of ids) this.#recheck(id, nodes.get(id) ?? null, issued.has(id));
    this.#wake(ids);
    this.step(nodes);
  }

  /**
   * Drops the node's agent when what it reported is about an install that is no more (the node
   * deleted, its keys rotated, which also deletes its pairs' rows, or its credential revoked): it
   * takes part again once it reports. `node` and `hasCredential` are read here unless given.
   */
  #recheck(nodeId: string, node?: Node | null, hasCredential?: boolean): void {
    const agent = this.#agents.get(nodeId);
    if (!agent) return;
    const current = node === undefined ? this.registry.getNode(nodeId) : node;
    const credential = hasCredential ?? this.registry.agentCredentialIssuedAt(nodeId) !== null;
    if (!current || agent.publicKey !== current.publicKey || !credential) this.#dropAgent(nodeId);
    else {
      this.#agents.set(nodeId, { ...agent, ...this.#nodeFields(current) });
      this.#dirty.add(nodeId);
    }
  }



  /**
   * Re-reads what the hub's device saw of each agent node, then plans the pairs that may have moved:
   * those of nodes that reported, changed, came or went, and those whose deadline came. A step costs
   * what happened since the last one, not the number of pairs. `known` holds nodes just read.
   */
  step(known?: ReadonlyMap<string, Node>): void {
    if (this.#standby) return;
    const now = this.now();
    const active = new Set(activeNodes(this.#agents.values(), now).keys());
    const nodes = new Set(this.#dirty);
    for (const id of active) if (!this.#wasActive.has(id)) nodes.add(id);
    for (const id of this.#wasActive) if (!active.has(id)) nodes.add(id);
    this.#dirty.clear();
    this.#wasActive = active;
    const pairs: KnownPair[] = [];
    for (const id of nodes) for (const key of this.#pairsOf.get(id) ?? []) pairs.push(this.#pairs.get(key)!);
    for (const key of this.#timed) {
      const pair = this.#pairs.get(key)!;
      if (pair.deadline <= now) pairs.push(pair);
    }
    // The endpoints the hub's device saw, for the nodes whose tries may start or move now: one query
    // for many of them rather than a round trip each (on PostgreSQL).
    const involved = new Set([...nodes, ...pairs.flatMap((p) => [p.a, p.b])]);
    const read = known ?? (involved.size > SINGLE_READS_UP_TO ? new Map(this.registry.listNodes().map((n) => [n.nodeId, n])) : undefined);
    for (const id of involved) {
      const agent = this.#agents.get(id);
      const node = agent && (read ? read.get(id) : this.registry.getNode(id));
      if (agent && node) this.#agents.set(id, { ...agent, ...this.#nodeFields(node) });
    }
    const changes = plan(this.#agents.values(), this.#pairs, now, { pairs, nodes });
    if (changes.added.length + changes.changed.length + changes.removed.length === 0) return;
    const added: StoredPair[] = changes.added.map((p) => ({ ...p, presharedKey: encodeKey(generatePresharedKey()) }));
    this.registry.applyPairs(added, changes.changed, changes.removed);
    for (const p of changes.removed) this.#forget(p);
    for (const p of added) this.#remember(p);
    for (const p of changes.changed) this.#remember({ ...p, presharedKey: this.#pairs.get(pairKey(p.a, p.b))!.presharedKey });
    const touched = new Set<string>();
    for (const p of [...changes.removed, ...changes.added, ...changes.changed]) touched.add(p.a).add(p.b);
    this.#wake([...touched]);
  }

  /** The peers the node's agent is to hold, as both answers and their ETag (with the hub lines, when given). */
  peersOf(nodeId: string, hubs: HubLines | null = null): PeersAnswer {
    const self = this.#agents.get(nodeId);
    const peers: AnsweredPeer[] = [];
    let trying = false;
    for (const key of this.#pairsOf.get(nodeId) ?? []) {
      const pair = this.#pairs.get(key)!;
      const other = this.#agents.get(otherOf(pair, nodeId));
      if (!self || !other) continue;
      const peer = agentPeer(self, other, pair);
      if (peer && pair.presharedKey) peers.push({ ...peer, presharedKey: pair.presharedKey });
      trying ||= pair.state === 'trying';
    }
    return peersAnswer(peers, trying ? POLL_TRYING_S : POLL_IDLE_S, hubs);
  }

  /**
   * Resolves when the node's peers may have changed, or after `ms`, or when `signal` aborts. The
   * caller compares ETags: a wake-up is a hint, not a promise that something changed.
   */
  changed(nodeId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve();
      let set = this.#waiters.get(nodeId);
      if (!set) this.#waiters.set(nodeId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(nodeId) === set) this.#waiters.delete(nodeId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      set.add(done);
    });
  }

  /** The hub is stopping: every held long poll answers now, and none is held again. */
  close(): void {
    this.#closed = true;
    this.#wake([...this.#waiters.keys()]);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * What the API and the dashboard show of one node's agent and paths. A list passes every node's
   * credential time, read at once (credentialsIssuedAt), instead of one query per node.
   */
  viewOf(nodeId: string, issued: ReadonlyMap<string, string> | null = null): { agent: AgentStatus; paths: PathView[] } {
    this.#freshView();
    const agent = this.#agents.get(nodeId);
    const paths: PathView[] = [];
    for (const key of this.#pairsOf.get(nodeId) ?? []) {
      const pair = this.#pairs.get(key)!;
      paths.push({ peer: otherOf(pair, nodeId), state: pair.state, via: pair.via, since: new Date(pair.since).toISOString() });
    }
    paths.sort((x, y) => (x.peer < y.peer ? -1 : 1));
    return {
      agent: {
        reportedAt: agent?.report ? new Date(agent.report.receivedAt).toISOString() : null,
        version: agent?.version ?? null,
        credentialIssuedAt: issued ? (issued.get(nodeId) ?? null) : this.registry.agentCredentialIssuedAt(nodeId),
      },
      paths,
    };
  }

  /** When each node that has an agent credential got it. */
  credentialsIssuedAt(): Map<string, string> {
    return this.registry.agentCredentialsIssuedAt();
  }

  /** Whether the node's agent has reported recently enough to take part. */
  hasAgent(nodeId: string): boolean {
    return this.#agents.get(nodeId)?.report != null;
  }

  /** How many pairs are in each state, and how many agents have reported since the start. */
  totals(): Record<PathState, number> & { agents: number } {
    this.#freshView();
    const t = { trying: 0, direct: 0, relayed: 0, agents: 0 };
    for (const p of this.#pairs.values()) t[p.state]++;
    for (const a of this.#agents.values()) if (a.report) t.agents++;
    return t;
  }

  #nodeFields(node: Node): Pick<PathNode, 'publicKey' | 'vpnIp' | 'eligible' | 'observedEndpoint'> {
    return {
      publicKey: node.publicKey,
      vpnIp: node.vpnIp,
      eligible: this.enabled && node.enabled && !node.isolated && node.directPaths,
      observedEndpoint: node.endpoint,
    };
  }

  #fromNode(node: Node): Agent {
    return { nodeId: node.nodeId, ...this.#nodeFields(node), report: null, lastSeen: this.#startedAt, version: null };
  }

  #remember(pair: KnownPair): void {
    const key = pairKey(pair.a, pair.b);
    this.#pairs.set(key, pair);
    if (pair.state === 'direct') this.#timed.delete(key);
    else this.#timed.add(key);
    for (const id of [pair.a, pair.b]) {
      let set = this.#pairsOf.get(id);
      if (!set) this.#pairsOf.set(id, (set = new Set()));
      set.add(key);
    }
  }

  #forget(pair: Pick<PairState, 'a' | 'b'>): void {
    const key = pairKey(pair.a, pair.b);
    this.#pairs.delete(key);
    this.#timed.delete(key);
    this.#pairsOf.get(pair.a)?.delete(key);
    this.#pairsOf.get(pair.b)?.delete(key);
  }

  /** Forgets the node's agent and its pairs (in the registry too), until it reports again. */
  #dropAgent(nodeId: string): void {
    this.registry.applyPairs([], [], this.#forgetPairsOf(nodeId));
    this.#agents.delete(nodeId);
  }

  /** Drops the node's pairs from memory, wakes the other ends, and returns the pairs. */
  #forgetPairsOf(nodeId: string): KnownPair[] {
    const pairs = [...(this.#pairsOf.get(nodeId) ?? [])].map((key) => this.#pairs.get(key)!);
    for (const pair of pairs) this.#forget(pair);
    this.#pairsOf.delete(nodeId);
    this.#wake(pairs.map((p) => otherOf(p, nodeId)));
    return pairs;
  }

  #wake(nodeIds: readonly string[]): void {
    for (const id of nodeIds) for (const wake of [...(this.#waiters.get(id) ?? [])]) wake();
  }
}
