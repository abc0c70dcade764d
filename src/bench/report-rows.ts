// The results beside the pairs' table (idle peers, idle CPU, UAPI latency under load, a hub relaying
// between worker pairs) and their Markdown tables.
import type { Summary } from './stats.js';
import type { ImplementationInfo } from './versions.js';

export interface IdlePeersResult {
  label: string;
  implementation: ImplementationInfo;
  /** idle peers on each side */
  idlePeers: number;
  bareGbps: Summary;
  loadedGbps: Summary;
  /** loaded / bare of each run, in % */
  keptPercent: Summary;
  /** seconds to load the idle peers into one device through its UAPI socket */
  loadSeconds: Summary;
}

export interface IdleCpuResult {
  label: string;
  implementation: ImplementationInfo;
  idlePeers: number;
  /** the window the CPU time was counted over */
  seconds: number;
  /** utime + stime of the device's process over the window, in % of one core */
  cpuPercent: Summary;
}

export interface UapiLatencyResult {
  label: string;
  implementation: ImplementationInfo;
  /** idle peers on the probed (sending) device besides its one tunnel peer */
  idlePeers: number;
  /** `get=1` round trips completed during the transfer, per run */
  requests: Summary;
  p50Ms: Summary;
  p99Ms: Summary;
  maxMs: Summary;
  /** size of one `get=1` answer */
  answerBytes: number;
  /** the transfer's throughput while probed */
  tcpGbps: Summary;
  /** the same requests for a second before the transfer, with no traffic */
  idleP50Ms: Summary;
  idleP99Ms: Summary;
}

export interface HubRelayResult {
  label: string;
  hub: ImplementationInfo;
  workers: ImplementationInfo;
  /** K: worker pairs, one TCP stream each, 2K worker namespaces */
  workerPairs: number;
  /** true: the hub's kernel forwards between peers through the TUN (ip_forward=1); false: the device relays */
  kernelForwarding: boolean;
  aggregateGbps: Summary;
  slowestPairGbps: Summary;
  /** CPU seconds of the hub process per GB that arrived at the receiving workers */
  hubCpuSecondsPerGB: Summary;
}

export interface DirectPathsFigures {
  gbps: Summary;
  /** utime + stime of the hub process (data plane and control plane) over the transfer */
  hubCpuSeconds: Summary;
  /** what the hub's wgvm_device_relayed_bytes_total grew by over the transfer */
  hubRelayedBytes: Summary;
}

export interface DirectPathsResult {
  label: string;
  hub: ImplementationInfo;
  workers: ImplementationInfo;
  /** length of each transfer */
  seconds: number;
  /** W1 → W2 with the agents' direct peers */
  direct: DirectPathsFigures;
  /** W1 → W2 with W2's direct paths off: relayed by the hub */
  relayed: DirectPathsFigures;
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
export const range = (s: Summary, digits = 2) => (s.runs > 1 ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : fmt(s.median, digits));
const count = (n: number) => n.toLocaleString('en-US');
const bytes = (n: number) => (n >= 1e6 ? `${fmt(n / 1e6, 1)} MB` : n >= 1e3 ? `${fmt(n / 1e3, 1)} kB` : `${n} B`);

export function idlePeersTable(rows: IdlePeersResult[]): string[] {
  if (!rows.length) return [];
  const n = count(rows[0]!.idlePeers);
  return [
    `| ${n} idle peers on each side, TCP 1 stream | bare Gbit/s | with ${n} idle peers Gbit/s | kept (with / bare) | loading ${n} peers, s |`,
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.label} | ${range(r.bareGbps)} | ${range(r.loadedGbps)} | ${range(r.keptPercent, 0)} % | ${range(r.loadSeconds, 1)} |`),
  ];
}

export function idleCpuTable(rows: IdleCpuResult[]): string[] {
  if (!rows.length) return [];
  return [
    `| idle device with ${count(rows[0]!.idlePeers)} peers, no traffic | CPU, % of one core over ${rows[0]!.seconds} s |`,
    '| --- | --- |',
    ...rows.map((r) => `| ${r.label} | ${range(r.cpuPercent)} |`),
  ];
}

export function uapiLatencyTable(rows: UapiLatencyResult[]): string[] {
  if (!rows.length) return [];
  return [
    '| UAPI `get=1` to the sending side during TCP 1 stream | requests | p50 ms | p99 ms | max ms | answer | TCP Gbit/s meanwhile | no traffic: p50 / p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${range(r.requests, 0)} | ${range(r.p50Ms)} | ${range(r.p99Ms)} | ${range(r.maxMs)} | ${bytes(r.answerBytes)} | ${range(r.tcpGbps)} ` +
        `| ${fmt(r.idleP50Ms.median)} / ${fmt(r.idleP99Ms.median)} |`,
    ),
  ];
}

export function hubRelayTable(rows: HubRelayResult[]): string[] {
  if (!rows.length) return [];
  const k = rows[0]!.workerPairs;
  return [
    `| hub relaying ${k} worker pairs at once (${k} TCP streams, A_i → hub → B_i) | together Gbit/s | slowest pair Gbit/s | hub CPU s per GB | relayed by |`,
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${range(r.aggregateGbps)} | ${range(r.slowestPairGbps)} | ${range(r.hubCpuSecondsPerGB)} ` +
        `| ${r.kernelForwarding ? 'the kernel (ip_forward=1, through the TUN)' : 'the device (ip_forward=0)'} |`,
    ),
  ];
}

export function directPathsTable(rows: DirectPathsResult[]): string[] {
  if (!rows.length) return [];
  return [
    `| W1 → W2 through two NATs (NAT lab, agents), TCP 1 stream ${rows[0]!.seconds} s | direct Gbit/s | hub CPU s | relayed through the hub Gbit/s | hub CPU s | hub relayed meanwhile: direct / relayed |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.label} | ${range(r.direct.gbps)} | ${range(r.direct.hubCpuSeconds)} | ${range(r.relayed.gbps)} | ${range(r.relayed.hubCpuSeconds)} ` +
        `| ${bytes(r.direct.hubRelayedBytes.median)} / ${bytes(r.relayed.hubRelayedBytes.median)} |`,
    ),
  ];
}
