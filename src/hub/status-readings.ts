// What the once-a-second status loop reads from the device, and when it needs to. Reading the
// device's peers is a snapshot of every peer (tens of milliseconds of CPU at 10,000 peers), so it is
// taken every second only while the device shows signs of life — a handshake or endpoint event, or
// counters that moved at the last reading — and every IDLE_READ_INTERVAL_MS otherwise, for what no
// event announces (a handshake the hub keeps sending to a worker that is away). Of a snapshot, only
// the peers whose figures moved since the last one go on to the registry, the history and the
// dashboards.
import type { PeerSnapshot } from '../dataplane/device.js';

/** A session lives this long after its handshake (WireGuard's REJECT_AFTER_TIME): traffic can move until then. */
export const ACTIVE_WINDOW_MS = 180_000;
/** How often an idle device is read all the same. */
export const IDLE_READ_INTERVAL_MS = 30_000;

interface Seen {
  lastHandshakeNs: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  endpoint: string | null;
  localAddress: string | null;
}

export interface MovedPeer {
  /** Base64, as the registry keeps it. */
  publicKey: string;
  peer: PeerSnapshot;
}

export class StatusReadings {
  private readonly seen = new Map<string, Seen>();
  private lastRead = -Infinity;
  private activeUntil = -Infinity;

  /** Whether the device is to be read at `now`. */
  due(now: number): boolean {
    return now < this.activeUntil || now - this.lastRead >= IDLE_READ_INTERVAL_MS;
  }

  /** The device told of a handshake or a new endpoint: read it every second for a while. */
  activity(now: number): void {
    this.activeUntil = Math.max(this.activeUntil, now + ACTIVE_WINDOW_MS);
  }

  /**
   * Takes a snapshot of the device's peers: returns those whose figures differ from the last
   * snapshot, or that it did not hold yet (the registry may hold older figures, e.g. after a restart).
   */
  read(peers: readonly PeerSnapshot[], now: number): MovedPeer[] {
    this.lastRead = now;
    const moved: MovedPeer[] = [];
    let lively = false;
    for (const peer of peers) {
      const publicKey = peer.publicKey.toString('base64');
      const was = this.seen.get(publicKey);
      if (was && sameFigures(was, peer)) continue;
      // A peer seen for the first time with nothing on it yet is news, not a sign of life.
      if (was || peer.lastHandshakeNs > 0n || peer.rxBytes > 0n || peer.txBytes > 0n) lively = true;
      this.seen.set(publicKey, {
        lastHandshakeNs: peer.lastHandshakeNs,
        rxBytes: peer.rxBytes,
        txBytes: peer.txBytes,
        endpoint: peer.endpoint,
        localAddress: peer.localAddress,
      });
      moved.push({ publicKey, peer });
    }
    if (lively) this.activity(now);
    return moved;
  }

  /** When the device last completed a handshake with the peer (ms since the epoch), as of the last reading; null: never. */
  lastHandshakeAt(publicKey: string): number | null {
    const ns = this.seen.get(publicKey)?.lastHandshakeNs ?? 0n;
    return ns > 0n ? Number(ns / 1_000_000n) : null;
  }

  /** The peer left the device: if it comes back, its first figures are news again. */
  forget(publicKey: string): void {
    this.seen.delete(publicKey);
  }
}

function sameFigures(a: Seen, b: PeerSnapshot): boolean {
  return a.lastHandshakeNs === b.lastHandshakeNs && a.rxBytes === b.rxBytes && a.txBytes === b.txBytes && a.endpoint === b.endpoint && a.localAddress === b.localAddress;
}
