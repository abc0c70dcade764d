// A data plane that records what the hub asks of it, for the Hub's in-process tests (hub.test.ts,
// hub-standby.test.ts): the UAPI bodies set, the fences, the reads of its peers, its close.
import { existsSync } from 'node:fs';
import type { DeviceEvent, NativeDevice, PeerSnapshot } from '../../src/dataplane/device.js';

export class FakeDevice implements NativeDevice {
  bodies: string[] = [];
  /** Every fenceAfter(ms), in order. */
  fences: number[] = [];
  closed = false;
  /** Whether the UAPI socket (when given) still existed when the device closed. */
  socketAtClose: boolean | undefined;
  /** What peers() answers, and how often it was asked. */
  snapshots: PeerSnapshot[] = [];
  reads = 0;

  constructor(
    readonly name: string,
    readonly onEvent: (e: DeviceEvent) => void,
    private readonly socket?: string,
    /** What the hub asked for: undefined leaves it to the data plane (one per core). */
    readonly requestedThreads?: number,
  ) {}

  get threads() {
    return this.requestedThreads ?? 2;
  }
  set(body: string) {
    this.bodies.push(body);
    return { errno: 0, message: '' };
  }
  get() {
    return 'listen_port=51820\n';
  }
  peers(): PeerSnapshot[] {
    this.reads++;
    return this.snapshots;
  }
  counters() {
    return { drops: {}, tunWriteErrors: 0, tunMalformed: 0, udpSendErrors: 0, relayed: 0, relayedBytes: 0, handshakesAdmitted: 0, underLoad: false };
  }
  setRelay() {}
  fenceAfter(ms: number) {
    this.fences.push(ms);
  }
  setIsolated() {
    return false;
  }
  initiateHandshake() {
    return false;
  }
  close() {
    this.closed = true;
    if (this.socket) this.socketAtClose = existsSync(this.socket);
  }
}
