// The device sync loop (src/hub/device-sync.ts) with a fake device and a clock run by hand, over a
// real registry: changes reach the device coalesced, status readings reach the registry, the
// history and the dashboards, failures are reported and retried, stop() ends the timers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import type { PeerSnapshot } from '../../src/dataplane/device.js';
import { generateKeyPair, keyToHex } from '../../src/domain/keys.js';
import { DeviceSync, STATUS_INTERVAL_MS, type SyncClock } from '../../src/hub/device-sync.js';
import type { Node } from '../../src/domain/node.js';
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

  set(body: string) {
    if (this.refuse) return { errno: 22, message: this.refuse };
    this.bodies.push(body);
    return { errno: 0, message: '' };
  }
  peers(): PeerSnapshot[] {
    if (this.gone) throw new Error('the device is closed');
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
  recorded: Array<{ nodes: readonly Node[]; now: number }>;
  failures: Array<{ message: string; err: unknown }>;
}

let h: Harness;

beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-sync-'));
  const config = loadConfig({ SERVERURL: 'vpn.example.com', API_TOKEN: 'sync-test-token-0123456789' }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const store = Store.open(join(dir, 'data'));
  const device = new FakeDevice();
  const clock = new ManualClock();
  const partial = { dir, store, device, clock, published: 0, recorded: [], failures: [] } as Omit<Harness, 'sync' | 'nodes'>;
  const sync = new DeviceSync({
    device,
    registry: store,
    history: { record: (nodes, now) => void h.recorded.push({ nodes, now: now! }) },
    published: () => void h.published++,
    failed: (err, message) => void h.failures.push({ err, message }),
    clock,
  });
  const nodes = new NodesService(store, config, generateKeyPair(), () => sync.changed());
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
      `public_key=${keyToHex(a.publicKey)}\npreshared_key=${pskHex('worker-a')}\nreplace_allowed_ips=true\nallowed_ip=${a.vpnIp}/32\nendpoint=198.51.100.7:51820\n` +
        `public_key=${keyToHex(b.publicKey)}\npreshared_key=${pskHex('worker-b')}\nreplace_allowed_ips=true\nallowed_ip=${b.vpnIp}/32\n`,
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
    const sync = new DeviceSync({ device: h.device, registry: h.store, history: { record() {} }, published() {}, failed: (err) => { throw err; } });
    const nodes = new NodesService(h.store, loadConfig({ SERVERURL: 'vpn.example.com' }, h.dir, { envFile: false, networkInterfaces: () => ({}) }), generateKeyPair(), () => sync.changed());
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
    expect(h.recorded.at(-1)).toEqual({ nodes: [stored], now: h.clock.time });
    expect(h.published).toBe(published + 1);

    // A peer that never shook hands has no handshake time, and its bytes are stored all the same.
    const b = register('worker-b');
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

  it('reports a failed status reading and keeps reading', () => {
    h.sync.start();
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
    h.nodes.remove('worker-a', 'test');
    h.device.snapshots = [{ publicKey: Buffer.from(a.publicKey, 'base64'), endpoint: null, localAddress: null, lastHandshakeNs: 0n, rxBytes: 0n, txBytes: 0n }];
    const recorded = h.recorded.length;

    h.sync.stop();
    expect(h.clock.intervals.size).toBe(0);
    expect(h.clock.queued.size).toBe(0);
    expect(h.recorded).toHaveLength(recorded + 1); // the last figures are kept
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
});
