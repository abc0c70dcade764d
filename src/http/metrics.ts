// /metrics in the Prometheus text format: per node traffic, handshake age and state; device counters.
import type { DeviceCounters } from '../native.js';
import { statusOf, type Node } from '../nodes/model.js';

const label = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function prometheusText(nodes: Node[], counters: DeviceCounters | null, now: number): string {
  const out: string[] = [];
  const metric = (name: string, help: string, type: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) out.push(`${name}${labels} ${value}`);
  };
  const byNode = (f: (n: Node) => number): [string, number][] => nodes.map((n) => [`{node_id="${label(n.nodeId)}"}`, f(n)]);
  metric('wgvm_node_rx_bytes', 'Bytes received from the node (on the wire).', 'counter', byNode((n) => n.rxBytes));
  metric('wgvm_node_tx_bytes', 'Bytes sent to the node (on the wire).', 'counter', byNode((n) => n.txBytes));
  metric('wgvm_node_last_handshake_seconds', 'Unix time of the last handshake with the node; 0 if never.', 'gauge',
    byNode((n) => (n.lastHandshakeAt ? Math.floor(Date.parse(n.lastHandshakeAt) / 1000) : 0)));
  metric('wgvm_node_online', '1 when the last handshake is under 180 s old.', 'gauge', byNode((n) => (statusOf(n, now) === 'online' ? 1 : 0)));
  metric('wgvm_nodes', 'Registered nodes.', 'gauge', [['', nodes.length]]);
  if (counters) {
    metric('wgvm_device_drops_total', 'Packets the data plane dropped, by reason.', 'counter',
      Object.entries(counters.drops).map(([reason, v]) => [`{reason="${label(reason)}"}`, v]));
    metric('wgvm_device_relayed_total', 'Packets relayed between peers inside the device.', 'counter', [['', counters.relayed]]);
    metric('wgvm_device_udp_send_errors_total', 'Datagrams the kernel refused to send.', 'counter', [['', counters.udpSendErrors]]);
    metric('wgvm_device_tun_malformed_total', 'TUN frames with an offload header that could not be segmented.', 'counter', [['', counters.tunMalformed]]);
    metric('wgvm_device_handshakes_admitted_total', 'Handshake messages given a Diffie-Hellman.', 'counter', [['', counters.handshakesAdmitted]]);
    metric('wgvm_device_under_load', '1 while the device answers initiations with cookies (a handshake flood).', 'gauge', [['', counters.underLoad ? 1 : 0]]);
  }
  return `${out.join('\n')}\n`;
}
