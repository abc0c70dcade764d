// The device sync loop (src/hub/device-sync.ts) with a fake device and a clock run by hand, over a
// real registry: changes reach the device coalesced and only for the nodes that changed, status
// readings reach the registry, the history and the dashboards only for the peers that moved, an idle
// device is read rarely, nodes turn offline on time, failures are reported and retried, stop() ends
// the timers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { PeerSnapshot } from '../../src/dataplane/device.js';
import { generateKeyPair, keyToHex } from '../../src/domain/keys.js';
import { DeviceSync, STATUS_INTERVAL_MS, type NodeChanges, type SyncClock } from '../../src/hub/device-sync.js';
import { IDLE_READ_INTERVAL_MS } from '../../src/hub/status-readings.js';
import type { NodeReading } from '../../src/nodes/history.js';
import type { StatusUpdate } from '../../src/store/index.js';
import { NodesService } from '../../src/nodes/service.js';
import { Store } from '../../src/store/index.js';

/** Timers that run only when the test says so. */
class ManualClock implements SyncClock {
  intervals = new Map<number, { ms: number; tick: () => void }>();
  queued = new Map<number, () => void>();
  time = Date.parse('2026-11-26T12:00:00.000Z');
  private next = 0;

  every(ms: number, tick: () => void): () => void {
    const id = this.next++;
    this.intervals.set(id, { ms, tick });
    return () => this.intervals.delete(id);
  }
  soon(task: () => void): () => void {
    const id = this.next++;
    this.queued.set(id, task);
    return () => this.queued.delete(id);
  }
  now(): number {
    return this.time;
  }
  /** Runs what was queued with soon(). */
  runQueued(): void {
    const tasks = [...this.queued.values()];
    this.queued.clear();
    for (const task of tasks) task();
  }
  /** One period of every interval. */
  tick(): void {
    this.time += STATUS_INTERVAL_MS;
    for (const { tick } of [...this.intervals.values()]) tick();
  }
}

class FakeDevice {
  bodies: string[] = [];
  greeted: string[] = [];
  snapshots: PeerSnapshot[] = [];
  refuse: string | undefined;
  gone = false;
  reads = 0;

  set(body: string) {
    if (this.refuse) return { errno: 22, message: this.refuse };
    this.bodies.push(body);
    return { errno: 0, message: '' };
  }
  peers(): PeerSnapshot[] {
    if (this.gone) throw new Error('the device is closed');
    this.reads++;
    return this.snapshots;
  }
  initiateHandshake(publicKey: Uint8Array): boolean {
    this.greeted.push(Buffer.from(publicKey).toString('base64'));
    return true;
  }
}

interface Harness {
  dir: string;
  store: Store;
  nodes: NodesService;
  device: FakeDevice;
  clock: ManualClock;
  sync: DeviceSync;
  published: number;
  publishedChanges: NodeChanges[];
  recorded: Array<{ nodes: readonly NodeReading[]; now: number }>;
  forgotten: string[];
  /** The rows of every status update the registry was given. */
  statusWrites: StatusUpdate[][];
  failures: Array<{ message: string; err: unknown }>;
  /** The registry's next status write, or data-version read, fails (as SQLITE_BUSY would). */
  failNextWrite?: boolean;
  failNextVersion?: boolean;
}

let h: Harness;

beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-sync-'));
  const config = loadConfig({ SERVERURL: 'vpn.example.com', API_TOKEN: 'sync-test-token-0123456789' }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const store = Store.open(join(dir, 'data'));
  const device = new FakeDevice();
  const clock = new ManualClock();
  const partial = { dir, store, device, clock, published: 0, publishedChanges: [], recorded: [], forgotten: [], statusWrites: [], failures: [] } as Omit<Harness, 'sync' | 'nodes'>;
  // The registry as the sync sees it, with every status update it writes noted.
  const registry = {
    listNodes: () => store.listNodes(),
    getNode: (nodeId: string) => store.getNode(nodeId),
    getSecrets: (nodeId: string) => store.getSecrets(nodeId),
    dataVersion: () => {
      if (h.failNextVersion) throw ((h.failNextVersion = false), new Error('SQLITE_BUSY: database is locked'));
      return store.dataVersion();
    },
    updateStatus: (rows: readonly StatusUpdate[]) => {
      if (h.failNextWrite) throw ((h.failNextWrite = false), new Error('SQLITE_BUSY: database is locked'));
      h.statusWrites.push([...rows]);
      return store.updateStatus(rows);
    },
  };
  const sync = new DeviceSync({
    device,
    registry,
    history: { record: (nodes, now) => void h.recorded.push({ nodes, now: now! }), forget: (nodeId) => void h.forgotten.push(nodeId) },
    published: (changes) => {
      h.published++;
      h.publishedChanges.push(changes);
    },
    failed: (err, message) => void h.failures.push({ err, message }),
    clock,
  });
  const nodes = new NodesService(store, config, generateKeyPair(), (nodeId) => sync.changed(nodeId));
  h = { ...partial, sync, nodes };
});

afterEach(() => {
  h.sync.stop();
  h.store.close();
  rmSync(h.dir, { recursive: true, force: true });
});

const register = (nodeId: string) => h.nodes.register({ nodeId }, 'test').node;
const pskHex = (nodeId: string) => keyToHex(h.store.getSecrets(nodeId)!.presharedKey);

describe('DeviceSync', () => {
  it('starts with every enabled node on the device, reaches out to those with an endpoint, and reads every second', () => {
    const a = register('worker-a');
    const b = register('worker-b');
    register('worker-off');
    h.nodes.setEnabled('worker-off', false, 'test');
    h.store.updateStatus([{ nodeId: 'worker-a', lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: '198.51.100.7:51820' }]);
    h.clock.queued.clear(); // the registrations' own reconciles: start() is what is tested here

    h.sync.start();
    expect(h.device.bodies).toEqual([
      `public_key=${keyToHex(a.publicKey)}\npreshared_key=${pskHex('worker-a')}\nreplace_allowed_ips=true\nallowed_ip=${a.vpnIp}/32\nwgvm_isolated=false\nendpoint=198.51.100.7:51820\n` +
        `public_key=${keyToHex(b.publicKey)}\npreshared_key=${pskHex('worker-b')}\nreplace_allowed_ips=true\nallowed_ip=${b.vpnIp}/32\nwgvm_isolated=false\n`,
    ]);
    expect(h.device.greeted).toEqual([a.publicKey]);
    expect([...h.clock.intervals.values()].map((i) => i.ms)).toEqual([1000]);
  });

  it('reconciles once for many changes arriving at once, after they are all in', () => {
    h.sync.start();
    expect(h.device.bodies).toEqual([]); // an empty registry: nothing to set
    const made = ['w1', 'w2', 'w3', 'w4', 'w5'].map(register);
    h.nodes.remove('w5', 'test');
    expect(h.device.bodies).toEqual([]); // not yet: the changes of this turn are still coming
    expect(h.clock.queued.size).toBe(1);

    h.clock.runQueued();
    expect(h.device.bodies).toHaveLength(1);
    const body = h.device.bodies[0]!;
    for (const n of made.slice(0, 4)) expect(body).toContain(`public_key=${keyToHex(n.publicKey)}\npreshared_key=`);
    expect(body).not.toContain(keyToHex(made[4]!.publicKey)); // registered and deleted in the same turn
    expect(h.published).toBe(1);

    // The next change is a new reconcile, setting only what differs.
    h.nodes.setEnabled('w2', false, 'test');
    h.clock.runQueued();
    expect(h.device.bodies[1]).toBe(`public_key=${keyToHex(made[1]!.publicKey)}\nremove=true\n`);
  });

  it('with the system clock, coalesces the changes of one turn of the event loop into one reconcile', async () => {
    const sync = new DeviceSync({ device: h.device, registry: h.store, history: { record() {}, forget() {} }, published() {}, failed: (err) => { throw err; } });
    const nodes = new NodesService(h.store, loadConfig({ SERVERURL: 'vpn.example.com' }, h.dir, { envFile: false, networkInterfaces: () => ({}) }), generateKeyPair(), (nodeId) => sync.changed(nodeId));
    try {
      sync.start();
      for (let i = 0; i < 20; i++) nodes.register({ nodeId: `burst-${i}` }, 'test');
      expect(h.device.bodies).toEqual([]);
      await new Promise((r) => setImmediate(r));
      expect(h.device.bodies).toHaveLength(1);
      expect(h.device.bodies[0]!.match(/^public_key=/gm)).toHaveLength(20);
    } finally {
      sync.stop();
    }
  });

  it("stores each registered peer's handshake, bytes and endpoints, then feeds the history and the dashboards", () => {
    const a = register('worker-a');
    h.sync.start();
    h.clock.runQueued();
    const published = h.published;
    const handshakeMs = Date.parse('2026-11-26T11:59:30.000Z');
    h.device.snapshots = [
      { publicKey: Buffer.from(a.publicKey, 'base64'), endpoint: '198.51.100.7:40000', localAddress: '203.0.113.1', lastHandshakeNs: BigInt(handshakeMs) * 1_000_000n + 123n, rxBytes: 1500n, txBytes: 2500n },
      { publicKey: Buffer.alloc(32, 9), endpoint: '198.51.100.9:1', localAddress: null, lastHandshakeNs: 1n, rxBytes: 1n, txBytes: 1n }, // not registered
    ];

    h.clock.tick();
    const stored = h.store.getNode('worker-a')!;
    expect(stored).toMatchObject({ lastHandshakeAt: '2026-11-26T11:59:30.000Z', rxBytes: 1500, txBytes: 2500, endpoint: '198.51.100.7:40000', answeredFrom: '203.0.113.1' });
    expect(h.store.listNodes()).toHaveLength(1);
    const row = { nodeId: 'worker-a', lastHandshakeAt: stored.lastHandshakeAt, rxBytes: 1500, txBytes: 2500, endpoint: '198.51.100.7:40000', answeredFrom: '203.0.113.1' };
    expect(h.recorded.at(-1)).toEqual({ nodes: [row], now: h.clock.time });
    expect(h.published).toBe(published + 1);
    expect(h.publishedChanges.at(-1)).toEqual(['worker-a']);

    // A peer that never shook hands has no handshake time, and its bytes are stored all the same.
    const b = register('worker-b');
    h.clock.runQueued(); // on the device before any reading can see it
    h.device.snapshots = [{ publicKey: Buffer.from(b.publicKey, 'base64'), endpoint: null, localAddress: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 148n }];
    h.clock.tick();
    expect(h.store.getNode('worker-b')).toMatchObject({ lastHandshakeAt: null, txBytes: 148 });
  });

  it('reports a refused reconcile and tries again with the next status reading until the device takes it', () => {
    h.sync.start();
    h.device.refuse = 'line 2 (preshared_key): invalid value';
    const a = register('worker-a');
    h.clock.runQueued();
    expect(h.device.bodies).toEqual([]);
    expect(h.failures.map((f) => [f.message, (f.err as Error).message])).toEqual([
      ["the device did not take the registry's changes", 'the device refused its configuration: line 2 (preshared_key): invalid value'],
    ]);
    expect(h.published).toBe(1); // the registry did change: the dashboards show it

    h.clock.tick(); // still refused: reported again
    expect(h.failures).toHaveLength(2);
    h.device.refuse = undefined;
    h.clock.tick();
    expect(h.device.bodies).toHaveLength(1);
    expect(h.device.bodies[0]).toContain(`public_key=${keyToHex(a.publicKey)}\n`);
    h.clock.tick(); // caught up: nothing more to set
    expect(h.device.bodies).toHaveLength(1);
    expect(h.failures).toHaveLength(2);
  });

  it('writes figures whose first write failed at the next reading, though the device shows nothing new', () => {
    const a = register('worker-a');
    h.sync.start();
    h.device.snapshots = [{ publicKey: Buffer.from(a.publicKey, 'base64'), endpoint: null, localAddress: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 148n }];
    h.failNextWrite = true;
    h.clock.tick();
    expect(h.failures.map((f) => f.message)).toEqual(['status update failed']);
    expect(h.store.getNode('worker-a')!.txBytes).toBe(0);
    h.clock.tick();
    expect(h.store.getNode('worker-a')!.txBytes).toBe(148);
  });

  it('reports a registry that cannot be read from its timer, never throws out of it, and goes on', () => {
    register('worker-a');
    h.sync.start();
    h.failNextVersion = true;
    expect(() => h.clock.tick()).not.toThrow();
    expect(h.failures.map((f) => f.message)).toEqual(['catching up with the registry failed']);
    const reads = h.device.reads;
    h.clock.tick();
    h.sync.readStatus(true);
    expect(h.device.reads).toBeGreaterThan(reads);
    expect(h.failures).toHaveLength(1);
  });

  it('reports a failed status reading and keeps reading', () => {
    const a = register('worker-a');
    h.sync.start();
    h.device.snapshots = [{ publicKey: Buffer.from(a.publicKey, 'base64'), endpoint: null, localAddress: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 148n }];
    h.device.gone = true;
    h.clock.tick();
    expect(h.failures.map((f) => f.message)).toEqual(['status update failed']);
    h.device.gone = false;
    h.clock.tick();
    expect(h.failures).toHaveLength(1);
    expect(h.recorded).toHaveLength(1);
  });

  it('stop() ends the timers and the pending reconcile, reads the status once more, and is idempotent', () => {
    const a = register('worker-a');
    h.sync.start();
    h.clock.runQueued();
    h.nodes.setEnabled('worker-a', true, 'test'); // a change whose reconcile is still to come
    h.device.snapshots = [{ publicKey: Buffer.from(a.publicKey, 'base64'), endpoint: null, localAddress: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 96n }];
    const recorded = h.recorded.length;

    h.sync.stop();
    expect(h.clock.intervals.size).toBe(0);
    expect(h.clock.queued.size).toBe(0);
    expect(h.recorded).toHaveLength(recorded + 1); // the last figures are kept, though no reading was due
    expect(h.store.getNode('worker-a')!.txBytes).toBe(96);
    h.sync.stop();
    expect(h.recorded).toHaveLength(recorded + 1);
    register('worker-b');
    expect(h.clock.queued.size).toBe(0);
    expect(h.device.bodies).toHaveLength(1);
  });

  it('stop() after the device is gone still ends quietly', () => {
    h.sync.start();
    h.device.gone = true;
    expect(() => h.sync.stop()).not.toThrow();
    expect(h.failures).toEqual([]);
  });
  it('a change to one node among many reconciles that node alone, without listing the registry', () => {
    const made = Array.from({ length: 50 }, (_, i) => register(`fleet-${i}`));
    h.sync.start();
    h.clock.runQueued();
    const listed = vi.spyOn(h.store, 'listNodes');
    const bodies = h.device.bodies.length;

    h.nodes.setEnabled('fleet-7', false, 'test');
    const rotated = h.nodes.rotateKeys('fleet-9', 'test').node;
    h.nodes.remove('fleet-11', 'test');
    const fresh = register('fleet-new');
    h.clock.runQueued();

    expect(listed).not.toHaveBeenCalled();
    expect(h.device.bodies).toHaveLength(bodies + 1);
    const body = h.device.bodies.at(-1)!;
    const keys = [...body.matchAll(/^public_key=([0-9a-f]+)$/gm)].map((m) => m[1]);
    expect(new Set(keys)).toEqual(new Set([made[7]!, made[9]!, made[11]!, rotated, fresh].map((n) => keyToHex(n.publicKey))));
    expect(body).toContain(`public_key=${keyToHex(made[7]!.publicKey)}\nremove=true\n`);
    expect(body).toContain(`public_key=${keyToHex(made[9]!.publicKey)}\nremove=true\n`);
    expect(body).toContain(`public_key=${keyToHex(rotated.publicKey)}\npreshared_key=${pskHex('fleet-9')}\nreplace_allowed_ips=true\nallowed_ip=${rotated.vpnIp}/32\nwgvm_isolated=false\n`);
    expect(h.publishedChanges.at(-1)).toEqual(['fleet-7', 'fleet-9', 'fleet-11', 'fleet-new']);
    expect(h.forgotten).toEqual(['fleet-11']);

    // Enabled again: back on the device with the same keys.
    h.nodes.setEnabled('fleet-7', true, 'test');
    h.clock.runQueued();
    expect(h.device.bodies.at(-1)).toBe(
      `public_key=${keyToHex(made[7]!.publicKey)}\npreshared_key=${pskHex('fleet-7')}\nreplace_allowed_ips=true\nallowed_ip=${made[7]!.vpnIp}/32\nwgvm_isolated=false\n`,
    );
  });

  it('a public key deleted with one node and registered with another in the same turn starts a new session', () => {
    // A clock that stands still: both registrations have the same updatedAt.
    const store = Store.open(join(h.dir, 'still'), { clock: () => new Date(h.clock.time) });
    const sync = new DeviceSync({ device: h.device, registry: store, history: { record() {}, forget() {} }, published() {}, failed: (err) => { throw err; }, clock: h.clock });
    const config = loadConfig({ SERVERURL: 'vpn.example.com' }, h.dir, { envFile: false, networkInterfaces: () => ({}) });
    const nodes = new NodesService(store, config, generateKeyPair(), (nodeId) => sync.changed(nodeId));
    try {
      const key = generateKeyPair().publicKey;
      for (const nodeId of ['old', 'again']) {
        nodes.register({ nodeId: 'old', publicKey: key }, 'test');
        if (nodeId === 'old') sync.start();
        h.clock.runQueued();
        nodes.remove('old', 'test');
        // The same key comes back with a new preshared key, under another ID and then under the same one.
        nodes.register({ nodeId: nodeId === 'old' ? 'new' : 'old', publicKey: key }, 'test');
        h.clock.runQueued();
        const now = nodeId === 'old' ? 'new' : 'old';
        const hex = keyToHex(key);
        expect(h.device.bodies.at(-1)).toBe(
          `public_key=${hex}\nremove=true\npublic_key=${hex}\npreshared_key=${keyToHex(store.getSecrets(now)!.presharedKey)}\nreplace_allowed_ips=true\nallowed_ip=${store.getNode(now)!.vpnIp}/32\nwgvm_isolated=false\n`,
        );
        nodes.remove(now, 'test');
        h.clock.runQueued();
      }
    } finally {
      sync.stop();
      store.close();
    }
  });

  it('an idle device is read every 30 s; a handshake event makes it read every second; only peers that moved are stored', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => register(`idle-${i}`));
    h.sync.start();
    h.clock.runQueued();
    const snapshot = (n: (typeof nodes)[number], tx = 0n, handshakeNs = 0n): PeerSnapshot => ({
      publicKey: Buffer.from(n.publicKey, 'base64'), endpoint: null, localAddress: null, lastHandshakeNs: handshakeNs, rxBytes: 0n, txBytes: tx,
    });
    h.device.snapshots = nodes.map((n) => snapshot(n));

    h.clock.tick(); // the first reading: every peer is news
    expect(h.device.reads).toBe(1);
    expect(h.statusWrites.at(-1)).toHaveLength(20);
    const ticks = IDLE_READ_INTERVAL_MS / STATUS_INTERVAL_MS;
    for (let i = 0; i < ticks - 1; i++) h.clock.tick();
    expect(h.device.reads).toBe(1); // nothing moved, no event: not read for 30 s
    h.clock.tick();
    expect(h.device.reads).toBe(2);
    expect(h.statusWrites).toHaveLength(1); // read, nothing moved: nothing written or published
    const published = h.published;
    const mark = h.publishedChanges.length;

    // A worker comes up: the event makes the device read every second; only its row is written.
    const handshakeMs = h.clock.time;
    h.device.snapshots[3] = snapshot(nodes[3]!, 92n, BigInt(handshakeMs) * 1_000_000n);
    h.sync.deviceActivity();
    h.clock.tick();
    expect(h.device.reads).toBe(3);
    expect(h.statusWrites.at(-1)!.map((r) => r.nodeId)).toEqual(['idle-3']);
    expect(h.publishedChanges.at(-1)).toEqual(['idle-3']);
    expect(h.published).toBe(published + 1);
    expect(h.store.getNode('idle-3')).toMatchObject({ txBytes: 92, lastHandshakeAt: new Date(handshakeMs).toISOString() });
    h.clock.tick();
    expect(h.device.reads).toBe(4);
    expect(h.statusWrites.map((w) => w.length)).toEqual([20, 1]);

    // Three minutes without a sign of life: idle again, and the node turns offline on time, unread.
    for (let i = 0; i < 178; i++) h.clock.tick();
    const reads = h.device.reads;
    h.clock.tick();
    h.clock.tick();
    expect(h.publishedChanges.slice(mark)).toEqual([['idle-3'], ['idle-3']]); // online, then offline
    expect(h.device.reads - reads).toBeLessThanOrEqual(1);
    for (let i = 0; i < 10; i++) h.clock.tick();
    expect(h.device.reads - reads).toBeLessThanOrEqual(1);
  });

  it('a node online at start turns offline when its handshake is 180 s old, and the dashboards are told', () => {
    register('seen');
    h.store.updateStatus([{ nodeId: 'seen', lastHandshakeAt: new Date(h.clock.time - 170_000).toISOString(), rxBytes: 1, txBytes: 1, endpoint: '198.51.100.7:1' }]);
    h.sync.start();
    h.clock.runQueued();
    const before = h.publishedChanges.length;
    for (let i = 0; i < 9; i++) h.clock.tick();
    expect(h.publishedChanges.slice(before).flat()).not.toContain('seen');
    h.clock.tick();
    expect(h.publishedChanges.at(-1)).toEqual(['seen']);
  });

  it('takes in what another process wrote to the registry (an import while the hub runs)', () => {
    register('here');
    h.sync.start();
    h.clock.runQueued();
    const other = Store.open(join(h.dir, 'data'));
    try {
      const key = generateKeyPair().publicKey;
      other.registerNode({ nodeId: 'imported', description: '', centralServerUrl: null, publicKey: key, privateKey: null, presharedKey: generateKeyPair().publicKey, range: { first: 0x0a640102, last: 0x0a6401fe }, exclude: new Set() });
      const bodies = h.device.bodies.length;
      h.clock.tick();
      expect(h.device.bodies).toHaveLength(bodies + 1);
      expect(h.device.bodies.at(-1)).toContain(`public_key=${keyToHex(key)}\n`);
      expect(h.publishedChanges).toContain('all');
    } finally {
      other.close();
    }
  });
});
