// The dashboard's SSE client (web/src/live.ts) against a scripted EventSource: snapshot, deltas,
// removals, bad events, reconnects and a refused stream.
import { describe, expect, it } from 'vitest';
import { LiveNodes, type EventSourceLike, type LiveChange } from '../src/live.js';
import type { DashboardHub, NodeView } from '../src/types.js';

class FakeSource implements EventSourceLike {
  readonly listeners = new Map<string, (e: { data?: unknown }) => void>();
  readyState = 0;
  closed = false;
  constructor(readonly url: string) {}
  addEventListener(type: string, l: (e: { data?: unknown }) => void) {
    this.listeners.set(type, l);
  }
  close() {
    this.closed = true;
    this.readyState = 2;
  }
  emit(type: string, data: unknown) {
    this.listeners.get(type)!({ data: typeof data === 'string' ? data : JSON.stringify(data) });
  }
  fail(readyState: number) {
    this.readyState = readyState;
    this.listeners.get('error')!({});
  }
}

const node = (id: string, extra: Partial<NodeView> = {}): NodeView => ({
  node_id: id,
  dns_name: null,
  description: '',
  central_server_url: null,
  vpn_ip: '10.100.1.2',
  public_key: 'k',
  status: 'pending',
  enabled: true,
  isolated: false,
  direct_paths: true,
  agent: { reported_at: null, version: null, credential_issued_at: null },
  paths: [],
  last_handshake: null,
  rx_bytes: 0,
  tx_bytes: 0,
  endpoint: null,
  answered_from: null,
  created_at: '2026-11-26T00:00:00Z',
  updated_at: '2026-11-26T00:00:00Z',
  server_holds_private_key: true,
  ...extra,
});
const hub = { peers_total: 2 } as DashboardHub;

function setup() {
  const sources: FakeSource[] = [];
  const live = new LiveNodes((url) => {
    const s = new FakeSource(url);
    sources.push(s);
    return s;
  });
  const changes: LiveChange[] = [];
  const connections: string[] = [];
  live.onChange((c) => changes.push(c));
  live.onConnection((c) => connections.push(c));
  live.start();
  return { live, source: () => sources.at(-1)!, sources, changes, connections };
}

describe('LiveNodes', () => {
  it('a snapshot replaces everything; deltas change only their nodes', () => {
    const t = setup();
    expect(t.source().url).toBe('/api/events');
    t.source().emit('open', '');
    t.source().emit('snapshot', { nodes: [node('a'), node('b')], hub });
    expect([...t.live.nodes.keys()]).toEqual(['a', 'b']);
    expect(t.live.hub).toEqual(hub);
    expect(t.connections).toEqual(['live']);
    expect(t.changes.at(-1)).toEqual({ reset: true, changed: ['a', 'b'], removed: [], hub: true });

    t.source().emit('nodes', { changed: [node('a', { status: 'online' }), node('c')], removed: ['b'] });
    expect(t.live.nodes.get('a')!.status).toBe('online');
    expect([...t.live.nodes.keys()].sort()).toEqual(['a', 'c']);
    expect(t.changes.at(-1)).toEqual({ reset: false, changed: ['a', 'c'], removed: ['b'], hub: false });

    t.source().emit('hub', { ...hub, peers_total: 3 });
    expect(t.live.hub!.peers_total).toBe(3);
    expect(t.changes.at(-1)!.hub).toBe(true);
  });

  it('removing a node it does not hold reports nothing removed', () => {
    const t = setup();
    t.source().emit('snapshot', { nodes: [node('a')], hub });
    t.source().emit('nodes', { changed: [], removed: ['ghost'] });
    expect(t.changes.at(-1)!.removed).toEqual([]);
  });

  it('a malformed event is skipped and the view stays as it was', () => {
    const t = setup();
    t.source().emit('snapshot', { nodes: [node('a')], hub });
    const before = t.changes.length;
    t.source().emit('nodes', '{"changed": [');
    t.source().emit('nodes', { changed: 'x', removed: [] });
    t.source().emit('snapshot', { nodes: null });
    expect(t.changes.length).toBe(before);
    expect([...t.live.nodes.keys()]).toEqual(['a']);
  });

  it('after a dropped stream it shows "reconnecting", and the next snapshot drops nodes deleted meanwhile', () => {
    const t = setup();
    t.source().emit('snapshot', { nodes: [node('a'), node('b')], hub });
    t.source().fail(0); // CONNECTING: EventSource retries by itself
    expect(t.live.connection).toBe('reconnecting');
    t.source().emit('snapshot', { nodes: [node('b')], hub });
    expect(t.live.connection).toBe('live');
    expect([...t.live.nodes.keys()]).toEqual(['b']);
    expect(t.changes.at(-1)!.reset).toBe(true);
  });

  it('a refused stream (HTTP error) is "closed", for the page to check the session', () => {
    const t = setup();
    t.source().fail(2);
    expect(t.connections).toEqual(['closed']);
  });

  it('a retry that is refused again is reported again (the page keeps retrying)', () => {
    const t = setup();
    t.source().fail(2);
    t.live.start();
    t.source().fail(2);
    expect(t.connections).toEqual(['closed', 'connecting', 'closed']);
  });

  it('restarting closes the old stream; local changes apply at once', () => {
    const t = setup();
    const first = t.source();
    t.live.start();
    expect(first.closed).toBe(true);
    expect(t.sources).toHaveLength(2);
    t.live.upsert(node('x'));
    expect(t.changes.at(-1)).toEqual({ reset: false, changed: ['x'], removed: [], hub: false });
    t.live.remove('x');
    expect(t.changes.at(-1)).toEqual({ reset: false, changed: [], removed: ['x'], hub: false });
    t.live.stop();
    expect(t.source().closed).toBe(true);
  });
});
