// /metrics in the Prometheus text exposition format (version 0.0.4), named by Prometheus's
// conventions (base units, `_total` on counters): per node traffic, handshake time and state; every
// data-plane counter of dataplane/counters.ts; the hub process's own CPU, memory and descriptors.
// `promtool check metrics` accepts it (test/unit/metrics.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { counterValue, DEVICE_COUNTERS, DROP_COUNTERS, isFlag, type DeviceCounters } from '../dataplane/counters.js';
import { statusOf, type Node } from '../domain/node.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const label = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export interface MetricsInput {
  nodes: Node[];
  /** null when the device is not running */
  counters: DeviceCounters | null;
  /** handshakes completed since the hub started */
  handshakes: number;
  /** What the DNS server did with the messages it got, by outcome; null or absent when it is off. */
  dnsMessages?: Readonly<Record<string, number>> | null;
  /** Pairs of agent nodes by path state, and the agents heard from since the start; absent: not shown. */
  paths?: { trying: number; direct: number; relayed: number; agents: number };
  /** With a shared registry: this hub's name and whether it runs the device; absent for the only hub. */
  ha?: { hubId: string; active: boolean; standbys: number } | null;
  now: number;
}

export function prometheusText({ nodes, counters, handshakes, dnsMessages, paths, ha, now }: MetricsInput): string {
  const out: string[] = [];
  const metric = (name: string, help: string, type: 'counter' | 'gauge', rows: Array<[labels: string, value: number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) out.push(`${name}${labels} ${value}`);
  };
  const one = (value: number): Array<[string, number]> => [['', value]];
  const byNode = (f: (n: Node) => number): Array<[string, number]> => nodes.map((n) => [`{node_id="${label(n.nodeId)}"}`, f(n)]);

  metric('wgvm_nodes', 'Registered nodes.', 'gauge', one(nodes.length));
  metric('wgvm_node_rx_bytes_total', 'Bytes received from the node, on the wire.', 'counter', byNode((n) => n.rxBytes));
  metric('wgvm_node_tx_bytes_total', 'Bytes sent to the node, on the wire.', 'counter', byNode((n) => n.txBytes));
  metric('wgvm_node_last_handshake_timestamp_seconds', 'Unix time of the last handshake with the node; 0 if never.', 'gauge',
    byNode((n) => (n.lastHandshakeAt ? Math.floor(Date.parse(n.lastHandshakeAt) / 1000) : 0)));
  metric('wgvm_node_online', '1 when the last handshake is under 180 s old.', 'gauge', byNode((n) => (statusOf(n, now) === 'online' ? 1 : 0)));
  metric('wgvm_handshakes_total', 'Handshakes completed since the hub started.', 'counter', one(handshakes));
  if (ha) metric('wgvm_hub_active', '1 while this hub holds the shared registry\'s lease and runs the device, 0 as a standby.', 'gauge', [[`{hub_id="${label(ha.hubId)}"}`, ha.active ? 1 : 0]]);
  if (ha) metric('wgvm_hub_standbys', 'Standby hubs that claimed the lease within its length (10 s): ready to take over.', 'gauge', one(ha.standbys));
  if (paths) {
    metric('wgvm_agents', 'Worker agents that reported since the hub started.', 'gauge', one(paths.agents));
    metric('wgvm_paths', 'Pairs of agent nodes by path: direct, trying, or relayed through the hub.', 'gauge',
      (['direct', 'trying', 'relayed'] as const).map((state) => [`{state="${state}"}`, paths[state]]));
  }
  if (counters) {
    metric(DROP_COUNTERS.metric, DROP_COUNTERS.help, 'counter', Object.entries(counters.drops).map(([reason, v]) => [`{reason="${label(reason)}"}`, v]));
    for (const c of DEVICE_COUNTERS) metric(c.metric, c.help, isFlag(c) ? 'gauge' : 'counter', one(counterValue(c, counters)));
  }
  if (dnsMessages) {
    metric('wgvm_dns_messages_total', 'DNS messages to the hub by outcome: answered, refused (not from the VPN), limited (over a rate limit), dropped (unreadable), failed.', 'counter',
      Object.entries(dnsMessages).map(([result, v]) => [`{result="${label(result)}"}`, v]));
  }
  processMetrics(metric, one);
  return `${out.join('\n')}\n`;
}

// The standard process metrics of Prometheus's client libraries, from /proc on Linux.
function processMetrics(
  metric: (name: string, help: string, type: 'counter' | 'gauge', rows: Array<[string, number]>) => void,
  one: (value: number) => Array<[string, number]>,
): void {
  const cpu = process.cpuUsage();
  metric('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', one((cpu.user + cpu.system) / 1e6));
  metric('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', one(process.memoryUsage.rss()));
  metric('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds.', 'gauge',
    one(Math.round((Date.now() / 1000 - process.uptime()) * 1000) / 1000));
  try {
    // stat: the fields after the command name's ")"; vsize (bytes) is field 23 of proc(5), so the 21st here.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const vsize = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[20]);
    metric('process_virtual_memory_bytes', 'Virtual memory size in bytes.', 'gauge', one(vsize));
    metric('process_open_fds', 'Number of open file descriptors.', 'gauge', one(readdirSync('/proc/self/fd').length));
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    if (limit) metric('process_max_fds', 'Maximum number of open file descriptors.', 'gauge', one(Number(limit)));
  } catch {
    // not Linux: the portable ones above are enough
  }
}
