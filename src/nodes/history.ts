// What the dashboard's node detail shows over time: traffic over the last hour and recent
// handshakes. Kept in memory (a restart starts the chart afresh), bounded per node. It is told only
// of the nodes whose figures moved: an interval without a reading shows as zero traffic.
import type { Node } from '../domain/node.js';

/** A node's figures as the device last reported them. */
export type NodeReading = Pick<Node, 'nodeId' | 'lastHandshakeAt' | 'rxBytes' | 'txBytes'>;

export interface TrafficPoint {
  /** Start of the interval, ms since the epoch. */
  at: number;
  /** Bytes received from / sent to the node during the interval. */
  rx: number;
  tx: number;
}

export interface NodeHistoryView {
  intervalMs: number;
  traffic: TrafficPoint[];
  /** Handshake times, newest first (ISO 8601). */
  handshakes: string[];
}

interface Track {
  points: TrafficPoint[];
  handshakes: string[];
  lastRx: number;
  lastTx: number;
  lastHandshake: string | null;
}

export const HISTORY_INTERVAL_MS = 10_000;
const HISTORY_SPAN_MS = 3_600_000;
const MAX_POINTS = HISTORY_SPAN_MS / HISTORY_INTERVAL_MS;
const MAX_HANDSHAKES = 50;

export class NodeHistory {
  private readonly tracks = new Map<string, Track>();

  /**
   * Takes the figures of the nodes that moved since their last reading (and of nodes read for the
   * first time, whose figures are the baseline).
   */
  record(readings: readonly NodeReading[], now = Date.now()): void {
    const bucket = now - (now % HISTORY_INTERVAL_MS);
    for (const n of readings) {
      let t = this.tracks.get(n.nodeId);
      if (!t) {
        // The first sight only sets the baseline: counters from before we watched are not "now".
        t = { points: [], handshakes: n.lastHandshakeAt ? [n.lastHandshakeAt] : [], lastRx: n.rxBytes, lastTx: n.txBytes, lastHandshake: n.lastHandshakeAt };
        this.tracks.set(n.nodeId, t);
        continue;
      }
      // A counter going down means the device was reset (a restart, a key rotation): count from zero.
      const rx = n.rxBytes >= t.lastRx ? n.rxBytes - t.lastRx : n.rxBytes;
      const tx = n.txBytes >= t.lastTx ? n.txBytes - t.lastTx : n.txBytes;
      t.lastRx = n.rxBytes;
      t.lastTx = n.txBytes;
      const last = t.points.at(-1);
      if (last && last.at === bucket) {
        last.rx += rx;
        last.tx += tx;
      } else {
        t.points.push({ at: bucket, rx, tx });
      }
      while (t.points.length > 0 && t.points[0]!.at <= bucket - HISTORY_SPAN_MS) t.points.shift();
      if (t.points.length > MAX_POINTS) t.points.splice(0, t.points.length - MAX_POINTS);
      if (n.lastHandshakeAt && n.lastHandshakeAt !== t.lastHandshake) {
        t.handshakes.unshift(n.lastHandshakeAt);
        if (t.handshakes.length > MAX_HANDSHAKES) t.handshakes.length = MAX_HANDSHAKES;
      }
      t.lastHandshake = n.lastHandshakeAt;
    }
  }

  /** The node is gone (deleted): its history goes with it. */
  forget(nodeId: string): void {
    this.tracks.delete(nodeId);
  }

  /** The node's last hour, one point per interval (intervals without data are zeros). */
  view(nodeId: string, now = Date.now()): NodeHistoryView {
    const t = this.tracks.get(nodeId);
    const end = now - (now % HISTORY_INTERVAL_MS);
    const byTime = new Map((t?.points ?? []).map((p) => [p.at, p]));
    const traffic: TrafficPoint[] = [];
    for (let at = end - (MAX_POINTS - 1) * HISTORY_INTERVAL_MS; at <= end; at += HISTORY_INTERVAL_MS) {
      const p = byTime.get(at);
      traffic.push({ at, rx: p?.rx ?? 0, tx: p?.tx ?? 0 });
    }
    return { intervalMs: HISTORY_INTERVAL_MS, traffic, handshakes: [...(t?.handshakes ?? [])] };
  }
}
