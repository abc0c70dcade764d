// How long a control read waits while the device moves packets at full speed: during an iperf3 TCP
// transfer through the wgvm pair, `get=1` to the sending side's UAPI socket again and again (a new
// connection each, as `wg show` makes), each round trip timed. Then the same with 10,000 idle peers
// on the sending side, whose answer lists them all.
import { createConnection } from 'node:net';
import { socketPath } from '../uapi/server.js';
import { IDLE_PEERS, loadIdlePeers } from './idle-peers.js';
import { iperfServer, tcpClient, type TcpResult } from './measure.js';
import { withWorld } from './netns.js';
import { pairLabel, setUpPair, type Contenders } from './pairs.js';
import type { UapiLatencyResult } from './report-rows.js';
import { percentile, summarize } from './stats.js';

const RAMP_UP_MS = 500; // the transfer reaches full speed before the first request
const IDLE_PROBE_MS = 1000; // the same requests with no traffic first: what the machine alone costs
const GAP_MS = 10; // between one answer and the next request: about 100 requests a second

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TIMEOUT_MS = 10_000;

/**
 * One `get=1` round trip, speaking the protocol of src/uapi/client.ts but keeping the answer as
 * chunks and looking only at its end: uapiRequest re-scans the whole text on every chunk, which for a
 * 3 MB answer costs the client more than the device. Resolves with the answer's size in bytes.
 */
export function timedGet(iface: string): Promise<number> {
  const path = socketPath(iface);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let size = 0;
    let tail = '';
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`${path}: no answer within ${TIMEOUT_MS / 1000} s`)));
    socket.once('error', (err) => reject(new Error(`${path}: ${err.message}`)));
    socket.once('close', () => reject(new Error(`${path}: the connection closed without a complete answer`)));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 64))).slice(-64);
      const m = /(?:^|\n)errno=(-?\d+)\n\n$/.exec(tail);
      if (!m) return;
      socket.end();
      if (m[1] !== '0') reject(new Error(`${iface}: get=1 answered errno=${m[1]}`));
      else resolve(size);
    });
    socket.write('get=1\n\n');
  });
}

export interface Probe {
  /** round trips in milliseconds, in the order sent */
  times: number[];
  /** bytes of the last answer */
  answerBytes: number;
}

/** Sends `get=1` to `iface` until `transfer` settles (after a ramp-up), and returns the round trips. */
export async function probeDuring(iface: string, transfer: Promise<unknown>, rampUpMs = RAMP_UP_MS): Promise<Probe> {
  let done = false;
  const settled = transfer.then(
    () => (done = true),
    () => (done = true),
  );
  const times: number[] = [];
  let answerBytes = 0;
  await Promise.race([sleep(rampUpMs), settled]);
  while (!done) {
    const start = performance.now();
    answerBytes = await timedGet(iface);
    times.push(performance.now() - start);
    await sleep(GAP_MS);
  }
  return { times, answerBytes };
}

/** The latency statistics of one probe: count, p50, p99, max (ms). */
export function latencyStats(times: number[]): { count: number; p50: number; p99: number; max: number } {
  if (times.length === 0) throw new Error('no UAPI request completed during the transfer');
  return { count: times.length, p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(...times) };
}

export async function measureUapiLatency(contenders: Contenders, runs: number, seconds: number, report: (line: string) => void): Promise<UapiLatencyResult[]> {
  const label = pairLabel('wgvm', contenders);
  const samples = [0, IDLE_PEERS].map((idlePeers) => ({
    idlePeers,
    count: [] as number[],
    p50: [] as number[],
    p99: [] as number[],
    max: [] as number[],
    gbps: [] as number[],
    idleP50: [] as number[],
    idleP99: [] as number[],
    answerBytes: 0,
  }));
  for (let run = 1; run <= runs; run++) {
    await withWorld('wgvmb', async (world) => {
      const p = await setUpPair(world, 'wgvm', contenders);
      for (const s of samples) {
        if (s.idlePeers) await loadIdlePeers(p.client, p.ifaces[0]!, s.idlePeers);
        const idle = latencyStats((await probeDuring(p.ifaces[0]!, sleep(IDLE_PROBE_MS), 0)).times);
        s.idleP50.push(idle.p50);
        s.idleP99.push(idle.p99);
        await iperfServer(world, p.server, p.target);
        const transfer = tcpClient(p.client, p.target, seconds);
        let probe: Probe;
        try {
          probe = await probeDuring(p.ifaces[0]!, transfer);
        } finally {
          // A failed probe must not leave the transfer's rejection unhandled.
          await transfer.catch(() => undefined);
        }
        const tcpResult: TcpResult = await transfer;
        const stats = latencyStats(probe.times);
        s.count.push(stats.count);
        s.p50.push(stats.p50);
        s.p99.push(stats.p99);
        s.max.push(stats.max);
        s.gbps.push(tcpResult.gbps);
        s.answerBytes = probe.answerBytes;
        report(
          `${label}${s.idlePeers ? `, ${s.idlePeers} idle peers on the sending side` : ''} run ${run}/${runs}: UAPI get ${stats.count} requests during TCP ` +
            `(${tcpResult.gbps.toFixed(2)} Gbit/s), p50 ${stats.p50.toFixed(2)} ms, p99 ${stats.p99.toFixed(2)} ms, max ${stats.max.toFixed(2)} ms, answer ${probe.answerBytes} bytes; ` +
            `no traffic: p50 ${idle.p50.toFixed(2)} ms, p99 ${idle.p99.toFixed(2)} ms`,
        );
      }
    });
  }
  return samples.map((s) => ({
    label: s.idlePeers ? `${label}, ${s.idlePeers.toLocaleString('en-US')} idle peers on the sending side` : label,
    implementation: contenders.wgvm!,
    idlePeers: s.idlePeers,
    requests: summarize(s.count),
    p50Ms: summarize(s.p50),
    p99Ms: summarize(s.p99),
    maxMs: summarize(s.max),
    answerBytes: s.answerBytes,
    tcpGbps: summarize(s.gbps),
    idleP50Ms: summarize(s.idleP50),
    idleP99Ms: summarize(s.idleP99),
  }));
}
