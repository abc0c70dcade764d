// The live view of every node and the hub, fed by the dashboard's server-sent events: a `snapshot`
// on each (re)connection, then `nodes` ({changed, removed}) and `hub` with only what changed.
import type { DashboardHub, LiveNodesChange, LiveSnapshot, NodeView } from './types.js';

/** The part of EventSource this module uses (a fake one in tests). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (e: { data?: unknown }) => void): void;
  close(): void;
  readonly readyState: number;
}

export interface LiveChange {
  /** True after a snapshot: everything may have changed. */
  reset: boolean;
  changed: string[];
  removed: string[];
  hub: boolean;
}

/** `closed`: the server refused the stream (signed out, too many tabs); the page decides what next. */
export type Connection = 'connecting' | 'live' | 'reconnecting' | 'closed';

const CLOSED = 2; // EventSource.CLOSED, spelled out so the module also loads where EventSource is not

export class LiveNodes {
  readonly nodes = new Map<string, NodeView>();
  hub: DashboardHub | null = null;
  connection: Connection = 'connecting';
  private source: EventSourceLike | null = null;
  private readonly listeners = new Set<(c: LiveChange) => void>();
  private readonly connectionListeners = new Set<(c: Connection) => void>();

  constructor(private readonly open: (url: string) => EventSourceLike = (url) => new EventSource(url)) {}

  start(url = '/api/events'): void {
    this.stop();
    // Shown as connecting again, so that a refusal of this attempt is reported too.
    this.setConnection('connecting');
    const source = this.open(url);
    this.source = source;
    source.addEventListener('snapshot', (e) => this.onSnapshot(e.data));
    source.addEventListener('nodes', (e) => this.onNodes(e.data));
    source.addEventListener('hub', (e) => this.onHub(e.data));
    source.addEventListener('open', () => this.setConnection('live'));
    // EventSource reconnects by itself after a dropped stream, and the snapshot it then gets replaces
    // everything we hold; after an HTTP error it gives up (readyState CLOSED).
    source.addEventListener('error', () => this.setConnection(source.readyState === CLOSED ? 'closed' : 'reconnecting'));
  }

  stop(): void {
    this.source?.close();
    this.source = null;
  }

  onChange(listener: (c: LiveChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onConnection(listener: (c: Connection) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  /** Applies a change made by this page at once (the event that follows is then a no-op). */
  upsert(node: NodeView): void {
    this.nodes.set(node.node_id, node);
    this.emit({ reset: false, changed: [node.node_id], removed: [], hub: false });
  }

  remove(nodeId: string): void {
    if (this.nodes.delete(nodeId)) this.emit({ reset: false, changed: [], removed: [nodeId], hub: false });
  }

  private onSnapshot(data: unknown): void {
    const s = parse<LiveSnapshot>(data);
    if (!s || !Array.isArray(s.nodes)) return;
    this.nodes.clear();
    for (const n of s.nodes) this.nodes.set(n.node_id, n);
    this.hub = s.hub;
    this.setConnection('live');
    this.emit({ reset: true, changed: s.nodes.map((n) => n.node_id), removed: [], hub: true });
  }

  private onNodes(data: unknown): void {
    const d = parse<LiveNodesChange>(data);
    if (!d || !Array.isArray(d.changed) || !Array.isArray(d.removed)) return;
    for (const n of d.changed) this.nodes.set(n.node_id, n);
    const removed = d.removed.filter((id) => this.nodes.delete(id));
    this.emit({ reset: false, changed: d.changed.map((n) => n.node_id), removed, hub: false });
  }

  private onHub(data: unknown): void {
    const h = parse<DashboardHub>(data);
    if (h) this.updateHub(h);
  }

  /** The hub as read outside the stream (the hubs' roles move without a node changing). */
  updateHub(h: DashboardHub): void {
    this.hub = h;
    this.emit({ reset: false, changed: [], removed: [], hub: true });
  }

  private emit(c: LiveChange): void {
    for (const l of this.listeners) l(c);
  }

  private setConnection(c: Connection): void {
    if (c === this.connection) return;
    this.connection = c;
    for (const l of this.connectionListeners) l(c);
  }
}

function parse<T>(data: unknown): T | null {
  if (typeof data !== 'string') return null;
  try {
    return JSON.parse(data) as T;
  } catch {
    return null; // a broken event is skipped; the next snapshot repairs the view
  }
}
