// Keeps the hub's device and the registry in step, both ways. The registry is the source of truth:
// after every change the device's peers are brought in line with the enabled nodes. The device is
// the source of what happened on the wire: every second each peer's last handshake, bytes and
// endpoint go back to the registry, the node history and the live dashboards.
import { configureDevice, type NativeDevice, type PeerSnapshot } from '../dataplane/device.js';
import { appliedAfter, desiredPeers, reconcileBody, type AppliedPeer, type DesiredPeer } from '../dataplane/reconciler.js';
import { decodeKey } from '../domain/keys.js';
import type { NodeHistory } from '../nodes/history.js';
import type { StatusUpdate, Store } from '../store/index.js';

/** How often the device's view of the peers is read back. */
export const STATUS_INTERVAL_MS = 1000;

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
  registry: Pick<Store, 'listNodes' | 'getSecrets' | 'updateStatus'>;
  history: Pick<NodeHistory, 'record'>;
  /** Called after each reconcile and status reading: the live dashboards send what moved. */
  published: () => void;
  /** A failure of the loop, which keeps running; `message` says what failed. */
  failed: (err: unknown, message: string) => void;
  clock?: SyncClock;
}

export class DeviceSync {
  private readonly clock: SyncClock;
  /** What the device holds, as far as we set it. */
  private applied = new Map<string, AppliedPeer>();
  private cancelReconcile: (() => void) | undefined;
  private stopReadings: (() => void) | undefined;
  /** A reconcile failed: the next status reading tries again, so that no change is left behind. */
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
    for (const peer of this.reconcile(true)) {
      if (peer.endpoint) this.o.device.initiateHandshake(decodeKey(peer.publicKey));
    }
    this.stopReadings = this.clock.every(STATUS_INTERVAL_MS, () => this.tick());
  }

  /** The registry changed. The device follows once this turn's changes are all in: one reconcile for many. */
  changed(): void {
    if (this.stopped || this.cancelReconcile) return;
    this.cancelReconcile = this.clock.soon(() => {
      this.cancelReconcile = undefined;
      this.catchUp();
      try {
        this.o.published();
      } catch (err) {
        this.o.failed(err, 'publishing the change failed');
      }
    });
  }

  /** Stores the device's view of each registered peer, then updates the history and the dashboards. */
  readStatus(): void {
    const nodeIdByKey = new Map(this.o.registry.listNodes().map((n) => [n.publicKey, n.nodeId]));
    const rows = this.o.device.peers().flatMap((peer) => {
      const nodeId = nodeIdByKey.get(peer.publicKey.toString('base64'));
      return nodeId ? [statusOf(nodeId, peer)] : [];
    });
    this.o.registry.updateStatus(rows);
    this.o.history.record(this.o.registry.listNodes(), this.clock.now());
    this.o.published();
  }

  /** Stops the timers and reads the status a last time, to keep the last traffic figures. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelReconcile?.();
    this.stopReadings?.();
    try {
      this.readStatus();
    } catch {
      // the device may already be gone
    }
  }

  private tick(): void {
    if (this.behind) this.catchUp();
    try {
      this.readStatus();
    } catch (err) {
      this.o.failed(err, 'status update failed');
    }
  }

  private catchUp(): void {
    try {
      this.reconcile(false);
      this.behind = false;
    } catch (err) {
      this.behind = true;
      this.o.failed(err, "the device did not take the registry's changes");
    }
  }

  /** Sets what differs between the device and the registry; endpoints only when asked (at start). */
  private reconcile(withEndpoints: boolean): DesiredPeer[] {
    const registry = this.o.registry;
    const desired = desiredPeers(registry.listNodes(), this.applied, (nodeId) => registry.getSecrets(nodeId)!.presharedKey);
    const body = reconcileBody(this.applied, desired, withEndpoints);
    if (body) configureDevice(this.o.device, body); // refused, the device is as it was: `applied` stays true
    this.applied = appliedAfter(desired);
    return desired;
  }
}

function statusOf(nodeId: string, peer: PeerSnapshot): StatusUpdate {
  const ns = peer.lastHandshakeNs;
  return {
    nodeId,
    lastHandshakeAt: ns > 0n ? new Date(Number(ns / 1_000_000n)).toISOString() : null,
    rxBytes: Number(peer.rxBytes),
    txBytes: Number(peer.txBytes),
    endpoint: peer.endpoint,
    answeredFrom: peer.localAddress,
  };
}
