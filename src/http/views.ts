// What the API and the dashboard show of the hub: one summary, computed the same way for both.
import type { Config } from '../config/index.js';
import type { DeviceCounters } from '../dataplane/native.js';
import { statusOf, type Node } from '../domain/node.js';

export interface HubInfo {
  publicKey: string;
  startedAt: number;
  counters(): DeviceCounters | null;
  /** Handshakes completed since start (from the device's events). */
  handshakes?(): number;
}

export function hubSummary(config: Config, hub: HubInfo, nodes: readonly Node[], now = Date.now()) {
  return {
    public_key: hub.publicKey,
    endpoint: config.endpoint,
    listen_port: config.serverPort,
    subnet: config.internalSubnet.text,
    hub_address: config.hubAddress,
    peers_total: nodes.length,
    peers_online: nodes.filter((n) => statusOf(n, now) === 'online').length,
    rx_bytes: nodes.reduce((s, n) => s + n.rxBytes, 0),
    tx_bytes: nodes.reduce((s, n) => s + n.txBytes, 0),
    uptime_seconds: Math.round((now - hub.startedAt) / 1000),
  };
}

export type HubSummary = ReturnType<typeof hubSummary>;
