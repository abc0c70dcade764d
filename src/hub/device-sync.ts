// Keeps the hub's device and the registry in step, both ways. The registry is the source of truth:
// after every change the device's peers for the changed nodes are brought in line with the registry.
// The device is the source of what happened on the wire: every second, while it shows signs of
// life, each peer's last handshake, bytes and endpoint go back to the registry, the node history
// and the live dashboards — only for the peers whose figures moved. Each change, and each second,
// costs what changed, not the size of the fleet.
import { configureDevice, type NativeDevice } from '../dataplane/device.js';
import { appliedAfter, desiredPeers, reconcileBody, type AppliedPeer, type DesiredPeer } from '../dataplane/reconciler.js';
import { decodeKey } from '../domain/keys.js';
import { ONLINE_WINDOW_MS, type Node } from '../domain/node.js';
import type { NodeHistory } from '../nodes/history.js';
import type { StatusUpdate, Store } from '../store/index.js';
import { OnlineDeadlines } from './online-deadlines.js';
import { StatusReadings, type MovedPeer } from './status-readings.js';

/** How often the status loop runs (it reads the device when StatusReadings says so). */
export const STATUS_INTERVAL_MS = 1000;

/** Which nodes changed: their IDs, or 'all' when that is not known by node. */
export type NodeChanges = readonly string[] | 'all';

/** Timers and time, given from outside so that tests can run the loop by hand. */
export interface SyncClock {
  /** Calls `tick` every `ms` milliseconds; the function returned stops it. */
  every(ms: number, tick: () => void): () => void;
  /** Calls `task` once, after the work of this turn of the event loop; the function returned cancels it. */
  soon(task: () => void): () => void;
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: SyncClock = {
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    return () => clearInterval(timer);
  },
  // setImmediate runs after every request read in this turn: a burst of registrations costs one reconcile.
  soon(task) {
    const immediate = setImmediate(task);
    return () => clearImmediate(immediate);
  },
  now: () => Date.now(),
};

export interface DeviceSyncOptions {
  device: Pick<NativeDevice, 'set' | 'peers' | 'initiateHandshake'>;
  registry: Pick<Store, 'listNodes' | 'getNode' | 'getSecrets' | 'updateStatus' | 'dataVersion'>;
  history: Pick<NodeHistory, 'record' | 'forget'>;
  /** Called after a reconcile or a status reading changed nodes: the live dashboards send them. */
  published: (changes: NodeChanges) => void;
  /** A failure of the loop, which keeps running; `message` says what failed. */
  failed: (err: unknown, message: string) => void;
  /** Another hand wrote to the registry (a standby hub's API, an import): called after the device caught up. */
  registryChanged?: () => void;
  clock?: SyncClock;
}

type Applied = AppliedPeer & { nodeId: string };

export class DeviceSync {
  private readonly clock: SyncClock;
  /** What the device holds, as far as we set it, by public key. */
  private applied = new Map<string, Applied>();
  /** The public key each node has on the device. */
  private keyOf = new Map<string, string>();
  /** Nodes changed since the last reconcile; `pendingAll` when a change is not known by node. */
  private readonly pending = new Set<string>();
  private pendingAll = false;
  private readonly readings = new StatusReadings();
  private readonly deadlines = new OnlineDeadlines();
  /** The registry's data version as of our last look: it moves when another process writes. */
  private dataVersion = 0;
  private cancelReconcile: (() => void) | undefined;
  private stopReadings: (() => void) | undefined;
  /** A reconcile failed: the next status tick tries again, so that no change is left behind. */
  private behind = false;
  private stopped = false;

  constructor(private readonly o: DeviceSyncOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /**
   * Gives the device every enabled node, with its last known endpoint, and reaches out to those that
   * have one (after a restart the hub does not wait for the workers); then starts the status
   * readings. Throws when the device refuses the peers.
   */
  start(): void {
    this.dataVersion = this.o.registry.dataVersion();
    const nodes = this.o.registry.listNodes();
    for (const peer of this.reconcileAll(nodes, true)) {
      if (peer.endpoint) this.o.device.initiateHandshake(decodeKey(peer.publicKey));
    }
    for (const n of nodes) this.watchOnline(n.nodeId, n.lastHandshakeAt);
    this.stopReadings = this.clock.every(STATUS_INTERVAL_MS, () => this.tick());
  }

  /**
   * A node changed in the registry (or, without an ID, anything may have). The device follows once
   * this turn's changes are all in: one reconcile for many.
   */
  changed(nodeId?: string): void {
    if (this.stopped) return;
    if (nodeId === undefined) this.pendingAll = true;
    else this.pending.add(nodeId);
    this.cancelReconcile ??= this.clock.soon(() => {
      this.cancelReconcile = undefined;
      const changes = this.catchUp();
      try {
        this.o.published(changes);
      } catch (err) {
        this.o.failed(err, 'publishing the change failed');
      }
    });
  }

  /** When the device last completed a handshake with the peer (ms), as of the last reading; null: not since it came up. */
  lastHandshakeAt(publicKey: string): number | null {
    return this.readings.lastHandshakeAt(publicKey);
  }

  /** The device told of a handshake or an endpoint: its peers are read every second for a while. */
  deviceActivity(): void {
    this.readings.activity(this.clock.now());
  }

  /**
   * Reads the device when it may have moved (or when `always`), stores the figures of the peers that
   * moved, updates their history, and tells the dashboards of them and of nodes that just went offline.
   */
  readStatus(always = false): void {
    const now = this.clock.now();
    const changed: string[] = [];
    if (always || this.readings.due(now)) {
      const moved = this.readings.read(this.o.device.peers(), now);
      const rows = this.statusRows(moved);
      if (rows.length > 0) {
        try {
          this.o.registry.updateStatus(rows);
        } catch (err) {
          // Not written: the next reading must see these figures as news again.
          for (const { publicKey } of moved) this.readings.forget(publicKey);
          throw err;
        }
        this.o.history.record(rows, now);
        for (const row of rows) {
          this.watchOnline(row.nodeId, row.lastHandshakeAt);
          changed.push(row.nodeId);
        }
      }
    }
    changed.push(...this.deadlines.due(now));
    if (changed.length > 0) this.o.published(changed);
  }

  /** Stops the timers and reads the status a last time, to keep the last traffic figures. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelReconcile?.();
    this.stopReadings?.();
    try {
      this.readStatus(true);
    } catch {
      // the device may already be gone
    }
  }

  private tick(): void {
    // Runs from a timer: nothing may be thrown out of it (that would end the hub).
    try {
      const version = this.o.registry.dataVersion();
      const foreign = version !== this.dataVersion;
      if (foreign) {
        // Another process wrote to the registry (a standby hub's API, an import): take it all in.
        this.dataVersion = version;
        this.pendingAll = true;
        this.behind = true;
      }
      if (this.behind) {
        const changes = this.catchUp();
        if (changes === 'all') this.o.published('all');
      }
      if (foreign) this.o.registryChanged?.();
    } catch (err) {
      this.o.failed(err, 'catching up with the registry failed');
    }
    try {
      this.readStatus();
    } catch (err) {
      this.o.failed(err, 'status update failed');
    }
  }

  /** Reconciles what is pending; on failure it stays pending for the next tick. Returns what changed. */
  private catchUp(): NodeChanges {
    const all = this.pendingAll;
    const ids = [...this.pending];
    this.pendingAll = false;
    this.pending.clear();
    try {
      if (all) this.reconcileAll(this.o.registry.listNodes(), false);
      else if (ids.length > 0) this.reconcileNodes(ids);
      this.behind = false;
    } catch (err) {
      this.pendingAll ||= all;
      for (const id of ids) this.pending.add(id);
      this.behind = true;
      this.o.failed(err, "the device did not take the registry's changes");
    }
    return all ? 'all' : ids;
  }

  /** Sets what differs between the device and the registry for these nodes only. */
  private reconcileNodes(nodeIds: readonly string[]): void {
    const registry = this.o.registry;
    // What the device has of these nodes (by their keys as applied and as registered now)…
    const had = new Map<string, Applied>();
    const present: Node[] = [];
    const gone: string[] = [];
    for (const nodeId of nodeIds) {
      const key = this.keyOf.get(nodeId);
      if (key) had.set(key, this.applied.get(key)!);
      const node = registry.getNode(nodeId);
      if (!node) {
        gone.push(nodeId);
        continue;
      }
      present.push(node);
      const applied = this.applied.get(node.publicKey);
      if (applied) had.set(node.publicKey, applied);
    }
    // …and what it should have: reconcileBody removes what is had but not desired. The preshared keys
    // of changed nodes are always read again (no shortcut by updatedAt, which a node deleted and
    // registered again within the same millisecond would share).
    const desired = desiredPeers(present, new Map(), (nodeId) => registry.getSecrets(nodeId)!.presharedKey);
    const body = reconcileBody(had, desired, false);
    if (body) configureDevice(this.o.device, body); // refused, the device is as it was: nothing below happens
    for (const nodeId of nodeIds) this.keyOf.delete(nodeId);
    this.remember(had, desired, present);
    for (const nodeId of gone) {
      this.o.history.forget(nodeId);
      this.deadlines.delete(nodeId);
    }
  }

  /** Sets what differs between the device and the whole registry; endpoints only when asked (at start). */
  private reconcileAll(nodes: readonly Node[], withEndpoints: boolean): DesiredPeer[] {
    const registry = this.o.registry;
    const desired = desiredPeers(nodes, this.applied, (nodeId) => registry.getSecrets(nodeId)!.presharedKey);
    const body = reconcileBody(this.applied, desired, withEndpoints);
    if (body) configureDevice(this.o.device, body);
    const registered = new Set(nodes.map((n) => n.nodeId));
    for (const nodeId of this.keyOf.keys()) {
      if (registered.has(nodeId)) continue;
      this.o.history.forget(nodeId);
      this.deadlines.delete(nodeId);
    }
    const had = this.applied;
    this.applied = new Map();
    this.keyOf.clear();
    this.remember(had, desired, nodes);
    return desired;
  }

  /** Remembers what the device took: `desired` in place of what it `had` of the same nodes. */
  private remember(had: ReadonlyMap<string, Applied>, desired: readonly DesiredPeer[], nodes: readonly Node[]): void {
    const wanted = new Map(desired.map((d) => [d.publicKey, d]));
    for (const [key, was] of had) {
      this.applied.delete(key);
      // Removed, or removed and added again with a new preshared key: the device starts the peer
      // afresh, so its first figures are news.
      if (wanted.get(key)?.presharedKey !== was.presharedKey) this.readings.forget(key);
    }
    const nodeIdOf = new Map(nodes.map((n) => [n.publicKey, n.nodeId]));
    for (const [key, peer] of appliedAfter(desired)) {
      const nodeId = nodeIdOf.get(key)!;
      this.applied.set(key, { ...peer, nodeId });
      this.keyOf.set(nodeId, key);
    }
  }

  /** The moved peers that are registered nodes, as rows for the registry. */
  private statusRows(moved: readonly MovedPeer[]): StatusUpdate[] {
    return moved.flatMap(({ publicKey, peer }) => {
      const nodeId = this.applied.get(publicKey)?.nodeId;
      if (!nodeId) return [];
      const ns = peer.lastHandshakeNs;
      return [
        {
          nodeId,
          lastHandshakeAt: ns > 0n ? new Date(Number(ns / 1_000_000n)).toISOString() : null,
          rxBytes: Number(peer.rxBytes),
          txBytes: Number(peer.txBytes),
          endpoint: peer.endpoint,
          answeredFrom: peer.localAddress,
        },
      ];
    });
  }

  /** A node with a handshake turns offline ONLINE_WINDOW_MS after it, unless it shakes hands again. */
  private watchOnline(nodeId: string, lastHandshakeAt: string | null): void {
    if (!lastHandshakeAt) return;
    const offlineAt = Date.parse(lastHandshakeAt) + ONLINE_WINDOW_MS;
    if (offlineAt > this.clock.now()) this.deadlines.set(nodeId, offlineAt);
  }
}
