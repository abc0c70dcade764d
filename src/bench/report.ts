// The benchmark's results: the JSON document, the Markdown table and the SVG chart.
import {
  directPathsTable,
  fmt,
  hubRelayTable,
  idleCpuTable,
  idlePeersTable,
  range,
  uapiLatencyTable,
  type DirectPathsResult,
  type HubRelayResult,
  type IdleCpuResult,
  type IdlePeersResult,
  type UapiLatencyResult,
} from './report-rows.js';
import type { Summary } from './stats.js';
import { describeImplementation, type ImplementationInfo } from './versions.js';

export interface PairResult {
  label: string;
  /** what ran at each end (null for the plain link) */
  client: ImplementationInfo | null;
  server: ImplementationInfo | null;
  tcp1Gbps: Summary;
  tcp4Gbps: Summary;
  udpPps: Summary;
  udpLossPercent: Summary;
  pingIdleP50Ms: Summary;
  pingIdleP99Ms: Summary;
  pingLoadP50Ms: Summary;
  pingLoadP99Ms: Summary;
  /** CPU seconds of the tunnel processes (both sides) per GB moved; null for the plain link. */
  cpuSecondsPerGB: Summary | null;
}

export interface WgvmResult {
  handshakesPerSecond: Summary;
  rss10kPeersMB: Summary;
  rss10kPeersDeltaMB: Summary;
  /**
   * References timed in the same process and CPU mask: streamGbps, OpenSSL sealing one endless message
   * (what `openssl speed` times; no per-packet work, an upper bound); evpPacketGbps, OpenSSL's own EVP
   * calls sealing the same packets one by one.
   */
  crypto: {
    encryptGbps: number;
    decryptGbps: number;
    streamGbps: number;
    evpPacketGbps: number;
    opensslGbps: number | null;
    encryptToOpenssl: number | null;
  };
  /**
   * The device's transport crypto on its pool (wgvm_bench pool), per wall-clock second with one
   * thread and with two, alternated run by run; ratios are of the medians. seal/open: the crypto
   * alone; …WithLayout/…WithCopy: a turn as it is, with the work that stays on one thread (absent in
   * results from before they were measured).
   */
  pool: {
    oneThread: PoolSide;
    twoThreads: PoolSide;
    sealRatio: number;
    openRatio: number;
    sealWithLayoutRatio?: number;
    openWithCopyRatio?: number;
  };
}

export interface PoolSide {
  sealPps: Summary;
  openPps: Summary;
  sealWithLayoutPps?: Summary;
  openWithCopyPps?: Summary;
}

export interface BenchResult {
  version: 2;
  date: string;
  machine: { cpus: number; model: string; kernel: string; node: string };
  options: {
    runs: number;
    seconds: number;
    quick: boolean;
    only: string[];
    rows: string[];
    /** WGVM_THREADS given to every wgvm process; null: the data plane's default */
    threads: number | null;
    /** worker pairs of the hub row */
    workers: number;
  };
  /** every program the run put at a tunnel end, by role: wgvm, wireguard-go (the reference), wireguard-go-debian */
  implementations: Record<string, ImplementationInfo>;
  pairs: Record<string, PairResult>;
  idlePeers: IdlePeersResult[];
  idleCpu: IdleCpuResult[];
  uapiLatency: UapiLatencyResult[];
  hubRelay: HubRelayResult[];
  /** absent from results written before the row existed */
  directPaths?: DirectPathsResult[];
  wgvm: WgvmResult | null;
  notes: string[];
}

/** "wgvm 0.1.0 (3cc3bdc), WGVM_THREADS=2; reference wireguard-go 0.0.20250522 (/path); …" */
export function versionsLine(implementations: Record<string, ImplementationInfo>): string {
  const roles: Record<string, string> = { wgvm: '', 'wireguard-go': 'reference ', 'wireguard-go-debian': 'extra row: ' };
  return Object.entries(implementations)
    .map(([role, info]) => {
      const threads = info.implementation === 'wgvm' ? `, ${info.threads === null ? 'crypto threads: the data plane default' : `WGVM_THREADS=${info.threads}`}` : '';
      return `${roles[role] ?? `${role}: `}${describeImplementation(info)}${threads} (${info.binary})`;
    })
    .join('; ');
}
const ratio = (a: Summary | undefined, b: Summary | undefined) => (a && b && b.median > 0 ? `${fmt(a.median / b.median, 2)}×` : '–');

export function markdownTable(r: BenchResult): string {
  const go = r.pairs['wireguard-go'];
  const veth = r.pairs.veth;
  const reference = r.implementations['wireguard-go'];
  const lines = [
    `| pair | TCP 1 stream Gbit/s | vs wireguard-go${reference ? ` ${reference.version}` : ''} | vs veth | TCP 4 streams Gbit/s | UDP 1400 B kpps (loss %) | ping idle p50/p99 ms | ping under load p50/p99 ms | CPU s per GB |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  if (Object.keys(r.pairs).length === 0) lines.length = 0;
  for (const p of Object.values(r.pairs)) {
    lines.push(
      `| ${p.label} | ${range(p.tcp1Gbps)} | ${ratio(p.tcp1Gbps, go?.tcp1Gbps)} | ${ratio(p.tcp1Gbps, veth?.tcp1Gbps)} | ${range(p.tcp4Gbps)} ` +
        `| ${fmt(p.udpPps.median / 1000, 1)} (${fmt(p.udpLossPercent.median, 1)}) | ${fmt(p.pingIdleP50Ms.median, 3)} / ${fmt(p.pingIdleP99Ms.median, 3)} ` +
        `| ${fmt(p.pingLoadP50Ms.median, 3)} / ${fmt(p.pingLoadP99Ms.median, 3)} | ${p.cpuSecondsPerGB ? fmt(p.cpuSecondsPerGB.median, 2) : '–'} |`,
    );
  }
  for (const table of [idlePeersTable(r.idlePeers), idleCpuTable(r.idleCpu), uapiLatencyTable(r.uapiLatency), hubRelayTable(r.hubRelay), directPathsTable(r.directPaths ?? [])]) {
    if (table.length) lines.push(...(lines.length ? [''] : []), ...table);
  }
  lines.push(...(lines.length ? [''] : []), `- Versions: ${versionsLine(r.implementations)}`);
  if (r.wgvm) {
    const w = r.wgvm;
    lines.push(`- Handshakes completed per second by one wgvm responder (one core): ${range(w.handshakesPerSecond, 0)}`);
    lines.push(`- Resident memory of a wgvm device with 10,000 peers: ${range(w.rss10kPeersMB, 1)} MB (${range(w.rss10kPeersDeltaMB, 1)} MB for the peers)`);
    const c = w.crypto;
    lines.push(
      `- Crypto pipeline, 1,420-byte packets, one core: encrypt ${fmt(c.encryptGbps)} Gbit/s, decrypt ${fmt(c.decryptGbps)} Gbit/s` +
        `; in the same process, OpenSSL sealing the same packets through EVP ${fmt(c.evpPacketGbps)} Gbit/s (encrypt = ${fmt((100 * c.encryptGbps) / c.evpPacketGbps, 0)} % of it)` +
        ` and streaming one message ${fmt(c.streamGbps)} Gbit/s (${fmt((100 * c.encryptGbps) / c.streamGbps, 0)} %)` +
        (c.opensslGbps ? `; openssl speed ${fmt(c.opensslGbps)} Gbit/s (encrypt = ${fmt(100 * c.encryptToOpenssl!, 0)} % of it)` : '; openssl not found'),
    );
    const p = w.pool;
    lines.push(
      `- Crypto pool, batches of 1,420-byte packets per wall-clock second: seal ${range(p.oneThread.sealPps, 0)} with one thread, ` +
        `${range(p.twoThreads.sealPps, 0)} with two (${fmt(p.sealRatio)}×); open ${range(p.oneThread.openPps, 0)} and ${range(p.twoThreads.openPps, 0)} (${fmt(p.openRatio)}×)` +
        (p.sealWithLayoutRatio !== undefined && p.openWithCopyRatio !== undefined
          ? `; a turn as it is, with the layout and the copy that stay on one thread: seal ${fmt(p.sealWithLayoutRatio)}×, open ${fmt(p.openWithCopyRatio)}×`
          : ''),
    );
  }
  for (const n of r.notes) lines.push(`- ${n}`);
  return lines.join('\n');
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A horizontal bar chart of TCP throughput per pair (1 and 4 streams, min–max whiskers). When the plain
 * link dwarfs the tunnels, the axis is scaled to the tunnels and the longer bars are drawn broken, so
 * that the tunnels stay comparable; every bar carries its value and its ratio to wireguard-go.
 */
export function svgChart(r: BenchResult): string {
  const pairs = Object.values(r.pairs);
  const go = r.pairs['wireguard-go'];
  const all = Math.max(0.001, ...pairs.flatMap((p) => [p.tcp1Gbps.max, p.tcp4Gbps.max]));
  const tunnels = pairs.filter((p) => p.cpuSecondsPerGB !== null);
  const tunnelMax = Math.max(0, ...tunnels.flatMap((p) => [p.tcp1Gbps.max, p.tcp4Gbps.max]));
  const scale = tunnelMax > 0 && all > 3 * tunnelMax ? tunnelMax * 1.25 : all;
  const left = 330;
  const width = 1010;
  const plot = width - left - 220;
  const barH = 16;
  const groupH = 2 * barH + 18;
  const top = 70;
  const height = top + pairs.length * groupH + 50;
  const x = (v: number) => left + (Math.min(v, scale) / scale) * plot;
  const colors = ['#3b6fd4', '#8fb0ee'];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">TCP throughput through the tunnel (iperf3, Gbit/s, higher is better)</text>`,
    `<text x="${width / 2}" y="44" text-anchor="middle" fill="#555">${escape(`${r.date.slice(0, 10)} · ${r.machine.cpus} cores · ${r.machine.model} · Linux ${r.machine.kernel} · median of ${r.options.runs} run(s), ${r.options.seconds} s each`)}</text>`,
  ];
  pairs.forEach((p, i) => {
    const y0 = top + i * groupH;
    out.push(`<text x="${left - 10}" y="${y0 + barH + 4}" text-anchor="end">${escape(p.label)}</text>`);
    [p.tcp1Gbps, p.tcp4Gbps].forEach((s, k) => {
      const y = y0 + k * barH;
      const broken = s.median > scale;
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(s.median) - left).toFixed(1)}" height="${barH - 2}" fill="${colors[k]}"/>`);
      if (broken) {
        const bx = left + plot * 0.9;
        out.push(`<path d="M${bx - 4} ${y + barH} L${bx + 2} ${y - 2} M${bx + 2} ${y + barH} L${bx + 8} ${y - 2}" stroke="#fff" stroke-width="3"/>`);
      } else if (s.runs > 1) {
        out.push(`<line x1="${x(s.min).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${y + barH / 2 - 1}" y2="${y + barH / 2 - 1}" stroke="#222"/>`);
      }
      const base = k === 0 ? go?.tcp1Gbps : go?.tcp4Gbps;
      const vs = base && base.median > 0 && p !== go ? `  (${fmt(s.median / base.median)}× wireguard-go)` : '';
      const labelX = (broken ? x(s.median) : x(Math.max(s.median, s.max))) + 6;
      out.push(`<text x="${labelX.toFixed(1)}" y="${y + barH - 4}" fill="#222">${fmt(s.median)}${escape(vs)}</text>`);
    });
  });
  const ly = height - 22;
  out.push(`<rect x="${left}" y="${ly - 11}" width="14" height="12" fill="${colors[0]}"/><text x="${left + 20}" y="${ly}">1 stream</text>`);
  out.push(`<rect x="${left + 110}" y="${ly - 11}" width="14" height="12" fill="${colors[1]}"/><text x="${left + 130}" y="${ly}">4 streams</text>`);
  const note = scale < all ? 'whiskers: min–max over the runs · broken bars exceed the axis' : 'whiskers: min–max over the runs';
  out.push(`<text x="${left + 230}" y="${ly}" fill="#555">${note}</text>`);
  out.push('</svg>');
  return out.join('\n');
}
