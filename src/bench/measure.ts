// One measurement each: iperf3 TCP and UDP, ping percentiles, CPU time of the tunnel processes.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { percentile } from './stats.js';
import type { Namespace, World } from './netns.js';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** User plus system CPU seconds a process (all its threads) has used so far. */
export function cpuSeconds(pid: number, statFile = `/proc/${pid}/stat`): number {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
}

/**
 * CPU seconds used so far by the process's main thread (JavaScript, for Node.js) and by all its other
 * threads together (V8's helpers, libuv's pool, native threads); threads that ended are not counted.
 */
export function cpuSecondsOfThreads(pid: number): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const seconds = cpuSeconds(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (Number(tid) === pid) main = seconds;
      else others += seconds;
    } catch {
      // the thread ended meanwhile
    }
  }
  return { main, others };
}

/** Starts a one-shot iperf3 server in `ns` bound to `address` and waits until it listens. */
export async function iperfServer(world: World, ns: Namespace, address: string): Promise<void> {
  world.spawn(ns, 'iperf3', ['-s', '-1', '-B', address]);
  const end = Date.now() + 5000;
  while (!ns.exec('ss', ['-ltn']).includes(`${address}:5201`)) {
    if (Date.now() > end) throw new Error(`iperf3 server in ${ns.name} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runAsync(ns: Namespace, cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: ${err || out || `exit ${code}`}`))));
  });
}

export interface TcpResult {
  gbps: number;
  bytes: number;
}

/** iperf3 TCP from `client` to the server at `address` for `seconds`, with `streams` parallel streams. */
export async function tcp(world: World, client: Namespace, server: Namespace, address: string, seconds: number, streams: number): Promise<TcpResult> {
  await iperfServer(world, server, address);
  return tcpClient(client, address, seconds, streams);
}

/** The client half of `tcp`, for a server already listening (several transfers started at once). */
export async function tcpClient(client: Namespace, address: string, seconds: number, streams = 1): Promise<TcpResult> {
  const out = JSON.parse(await runAsync(client, 'iperf3', ['-c', address, '-t', String(seconds), '-P', String(streams), '-J']));
  const received = out.end.sum_received;
  return { gbps: (received.bits_per_second as number) / 1e9, bytes: received.bytes as number };
}

export interface UdpResult {
  pps: number;
  lossPercent: number;
}

const UDP_DATAGRAM = 1400;

/** iperf3 UDP with 1,400-byte datagrams, sent as fast as the sender can. */
export async function udp(world: World, client: Namespace, server: Namespace, address: string, seconds: number): Promise<UdpResult> {
  await iperfServer(world, server, address);
  const args = ['-c', address, '-u', '-l', String(UDP_DATAGRAM), '-b', '0', '-t', String(seconds), '-J'];
  return udpResult(JSON.parse(await runAsync(client, 'iperf3', args)));
}

/**
 * Datagrams per second that arrived, and the share of those sent that did not. Counted from the
 * bytes the server received: iperf3's own `packets`/`lost_packets` are the sender's count and 0
 * when nothing arrives at all (a stalled tunnel would read as no loss).
 */
export function udpResult(report: { end: { sum_sent: { packets: number }; sum_received: { bytes: number; seconds: number } } }): UdpResult {
  const sent = report.end.sum_sent.packets;
  const received = Math.floor(report.end.sum_received.bytes / UDP_DATAGRAM);
  if (!(sent > 0)) throw new Error('iperf3 sent no UDP datagrams');
  return {
    pps: report.end.sum_received.seconds > 0 ? received / report.end.sum_received.seconds : 0,
    lossPercent: (100 * Math.max(0, sent - received)) / sent,
  };
}

export interface PingResult {
  p50: number;
  p99: number;
  count: number;
}

/** Round-trip times of `count` pings 20 ms apart (milliseconds). */
export async function pingTimes(ns: Namespace, address: string, count: number): Promise<PingResult> {
  const out = await runAsync(ns, 'ping', ['-n', '-c', String(count), '-i', '0.02', '-W', '2', address]).catch((e: Error) => e.message);
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (times.length === 0) throw new Error(`no ping reply from ${address}`);
  return { p50: percentile(times, 50), p99: percentile(times, 99), count: times.length };
}

/** Pings while a TCP stream saturates the path. */
export async function pingUnderLoad(world: World, client: Namespace, server: Namespace, address: string, seconds: number, count: number): Promise<PingResult> {
  await iperfServer(world, server, address);
  const load = runAsync(client, 'iperf3', ['-c', address, '-t', String(seconds), '-J']);
  await new Promise((r) => setTimeout(r, 500)); // let the stream ramp up
  const result = await pingTimes(client, address, count);
  await load;
  return result;
}
