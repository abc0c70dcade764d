// Server-sent events for the dashboard: on connect a `snapshot` (every node and the hub), then only
// what changed: `nodes` ({changed, removed}) and `hub`. A publish names the nodes that changed, so it
// costs those nodes, not the fleet. Bounded: a capped number of clients, and a client that stops
// reading is dropped before its unsent data grows past a limit (its browser reconnects and gets a
// fresh snapshot).
import type { ServerResponse } from 'node:http';

export interface LiveState<N extends { node_id: string }, H> {
  nodes: N[];
  hub: H;
}

/** Where the feed reads what it sends. */
export interface LiveSource<N extends { node_id: string }, H> {
  /** Every node and the hub, for a client that connects. */
  snapshot(): LiveState<N, H>;
  /** One node as it is now; null when it is gone. */
  node(nodeId: string): N | null;
  hub(): H;
}

/** The nodes a publish is about, or 'all' when that is not known. */
export type LiveChanges = Iterable<string> | 'all';

export interface LiveLimits {
  maxClients: number;
  /** Unsent bytes a client may hold before it is disconnected. */
  maxBufferedBytes: number;
  heartbeatMs: number;
}

export const DEFAULT_LIVE_LIMITS: LiveLimits = { maxClients: 32, maxBufferedBytes: 1 << 20, heartbeatMs: 15_000 };

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export class LiveFeed<N extends { node_id: string }, H> {
  /** Each open stream, with what says whether it may still receive (its session is alive). */
  private readonly clients = new Map<ServerResponse, () => boolean>();
  /** The JSON of each node as last published, to send only what changed. */
  private sentNodes = new Map<string, string>();
  private sentHub = '';
  private readonly heartbeat: NodeJS.Timeout;
  /** Clients dropped for not reading (for tests and /metrics). */
  dropped = 0;

  constructor(
    private readonly source: LiveSource<N, H>,
    private readonly limits: LiveLimits = DEFAULT_LIVE_LIMITS,
  ) {
    this.heartbeat = setInterval(() => {
      this.revalidate();
      this.broadcast(': keep-alive\n\n');
    }, limits.heartbeatMs);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Starts the stream on `res` (headers included); false when the client limit is reached. */
  attach(res: ServerResponse, headers: Record<string, string> = {}, allowed: () => boolean = () => true): boolean {
    if (this.clients.size >= this.limits.maxClients) return false;
    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // a reverse proxy must not hold events back
    });
    const { nodes, hub } = this.source.snapshot();
    if (this.clients.size === 0) {
      // Nothing was being tracked: this snapshot is the baseline for the next change set.
      this.sentNodes = new Map(nodes.map((n) => [n.node_id, JSON.stringify(n)]));
      this.sentHub = JSON.stringify(hub);
    }
    this.clients.set(res, allowed);
    res.on('close', () => this.clients.delete(res));
    this.send(res, `retry: 3000\n\n${frame('snapshot', { nodes, hub })}`);
    return true;
  }

  /**
   * Sends each client what changed of the named nodes (of every node with 'all') and of the hub since
   * the last call. Cheap when nobody is connected.
   */
  publish(changes: LiveChanges = 'all'): void {
    if (this.clients.size === 0) {
      this.sentNodes.clear();
      this.sentHub = '';
      return;
    }
    const { changed, removed } = changes === 'all' ? this.diffAll() : this.diff(changes);
    let out = '';
    if (changed.length > 0 || removed.length > 0) out += frame('nodes', { changed, removed });
    const hub = this.source.hub();
    const hubJson = JSON.stringify(hub);
    if (hubJson !== this.sentHub) {
      this.sentHub = hubJson;
      out += frame('hub', hub);
    }
    if (out) this.broadcast(out);
  }

  /** Ends the streams that may no longer receive (signed out, session expired). */
  revalidate(): void {
    for (const [res, allowed] of this.clients) {
      if (allowed()) continue;
      this.clients.delete(res);
      res.end();
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients.keys()) res.end();
    this.clients.clear();
  }

  /** What differs of the named nodes from what was sent. */
  private diff(nodeIds: Iterable<string>): { changed: N[]; removed: string[] } {
    const changed: N[] = [];
    const removed: string[] = [];
    for (const id of new Set(nodeIds)) {
      const n = this.source.node(id);
      if (!n) {
        if (this.sentNodes.delete(id)) removed.push(id);
        continue;
      }
      const json = JSON.stringify(n);
      if (this.sentNodes.get(id) === json) continue;
      this.sentNodes.set(id, json);
      changed.push(n);
    }
    return { changed, removed };
  }

  /** What differs of every node from what was sent. */
  private diffAll(): { changed: N[]; removed: string[] } {
    const next = new Map<string, string>();
    const changed: N[] = [];
    for (const n of this.source.snapshot().nodes) {
      const json = JSON.stringify(n);
      next.set(n.node_id, json);
      if (this.sentNodes.get(n.node_id) !== json) changed.push(n);
    }
    const removed = [...this.sentNodes.keys()].filter((id) => !next.has(id));
    this.sentNodes = next;
    return { changed, removed };
  }

  private broadcast(text: string): void {
    for (const res of this.clients.keys()) this.send(res, text);
  }

  private send(res: ServerResponse, text: string): void {
    // What is still unsent is bounded; one message more may go on top (a large snapshot included).
    if (res.writableLength > this.limits.maxBufferedBytes) {
      this.dropped++;
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  }
}
