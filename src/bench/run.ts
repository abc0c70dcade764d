// `wgvm bench` / `npm run bench`: this data plane against wireguard-go and the plain link, measured
// side by side in one run, with a table, a JSON file and an SVG chart.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, pingTimes, pingUnderLoad, tcp, udp } from './measure.js';
import { dataPlaneEnv } from '../dataplane/openssl-env.js';
import { World } from './netns.js';
import { PAIR_NAMES, PAIRS, setUpPair, type PairName } from './pairs.js';
import { markdownTable, svgChart, type BenchResult, type PairResult, type WgvmResult } from './report.js';
import { summarize } from './stats.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nativeBench = join(root, 'build', 'wgvm_bench');
const addonPath = join(root, 'build', 'Release', 'wgvm_native.node');

/** Something in the way of a run (no root, a missing tool): one line, exit 1. */
export class BenchError extends Error {
  override name = 'BenchError';
}

/** Options the benchmark does not take: one line, exit 2. */
export class BenchUsageError extends BenchError {
  override name = 'BenchUsageError';
}

export const BENCH_USAGE = 'wgvm bench [--quick] [--runs N] [--seconds S] [--only PAIR,…] [--out DIR]';

export interface BenchOptions {
  runs: number;
  seconds: number;
  pings: number;
  quick: boolean;
  only: PairName[];
  /** --only was given: a pair it names that cannot run is an error, not a skip */
  onlyAsked: boolean;
  out: string;
}

const OPTIONS = {
  runs: { type: 'string' },
  seconds: { type: 'string' },
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
  out: { type: 'string' },
} as const;

export function parseBenchOptions(argv: string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    // Node's own message suggests `--` tricks; ours names the option and the usage.
    const option = /'(-[^']*)'/.exec(err instanceof Error ? err.message : '')?.[1] ?? argv.join(' ');
    throw new BenchUsageError(`unknown option or missing value: ${option} (usage: ${BENCH_USAGE})`);
  }
  const { values, positionals } = parsed;
  if (positionals.length) throw new BenchUsageError(`unexpected argument "${positionals[0]}"`);
  const quick = values.quick ?? false;
  const number = (name: string, text: string | undefined, fallback: number, min: number, max: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) throw new BenchUsageError(`--${name} must be a number from ${min} to ${max}, got "${text}"`);
    return n;
  };
  const only = (values.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? [...PAIR_NAMES]) as PairName[];
  for (const name of only) {
    if (!PAIR_NAMES.includes(name)) throw new BenchUsageError(`unknown pair "${name}" (pairs: ${PAIR_NAMES.join(', ')})`);
  }
  return {
    runs: Math.round(number('runs', values.runs, quick ? 1 : 3, 1, 50)),
    seconds: number('seconds', values.seconds, quick ? 2 : 10, 1, 600),
    pings: quick ? 20 : 100,
    quick,
    only,
    onlyAsked: values.only !== undefined,
    out: values.out ?? join(root, 'bench', 'results'),
  };
}

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const progress = (line: string) => process.stderr.write(`${line}\n`);

async function measurePair(name: PairName, o: BenchOptions, step: () => string): Promise<PairResult> {
  const samples: Record<string, number[]> = {};
  const add = (key: string, v: number) => (samples[key] ??= []).push(v);
  for (let run = 1; run <= o.runs; run++) {
    const world = new World('wgvmb');
    current = world;
    try {
      const p = await setUpPair(world, name);
      const label = `${PAIRS[name].label} run ${run}/${o.runs}`;
      const cpu0 = p.tunnelPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
      const t1 = await tcp(world, p.client, p.server, p.target, o.seconds, 1);
      const cpu1 = p.tunnelPids.reduce((s, pid) => s + cpuSeconds(pid), 0);
      add('tcp1', t1.gbps);
      if (p.tunnelPids.length) add('cpu', (cpu1 - cpu0) / (t1.bytes / 1e9));
      progress(`${step()} ${label}: TCP 1 stream ${t1.gbps.toFixed(2)} Gbit/s`);
      const t4 = await tcp(world, p.client, p.server, p.target, o.seconds, 4);
      add('tcp4', t4.gbps);
      progress(`${step()} ${label}: TCP 4 streams ${t4.gbps.toFixed(2)} Gbit/s`);
      const u = await udp(world, p.client, p.server, p.target, o.seconds);
      add('udpPps', u.pps);
      add('udpLoss', u.lossPercent);
      progress(`${step()} ${label}: UDP ${(u.pps / 1000).toFixed(1)} kpps, ${u.lossPercent.toFixed(1)} % lost`);
      const idle = await pingTimes(p.client, p.target, o.pings);
      add('idle50', idle.p50);
      add('idle99', idle.p99);
      const loaded = await pingUnderLoad(world, p.client, p.server, p.target, Math.max(o.seconds, o.pings * 0.02 + 1.5), o.pings);
      add('load50', loaded.p50);
      add('load99', loaded.p99);
      progress(`${step()} ${label}: ping p50/p99 idle ${idle.p50}/${idle.p99} ms, under load ${loaded.p50}/${loaded.p99} ms`);
    } finally {
      await world.cleanup();
      current = null;
    }
  }
  const s = (k: string) => summarize(samples[k]!);
  return {
    label: PAIRS[name].label,
    tcp1Gbps: s('tcp1'),
    tcp4Gbps: s('tcp4'),
    udpPps: s('udpPps'),
    udpLossPercent: s('udpLoss'),
    pingIdleP50Ms: s('idle50'),
    pingIdleP99Ms: s('idle99'),
    pingLoadP50Ms: s('load50'),
    pingLoadP99Ms: s('load99'),
    cpuSecondsPerGB: samples.cpu ? s('cpu') : null,
  };
}

/** Resident memory of a process holding a wgvm device with 10,000 peers (in a namespace of its own). */
function measureMemory(): { totalMB: number; deltaMB: number } {
  const world = new World('wgvmb');
  current = world;
  try {
    const ns = world.namespace('m');
    const script = `
      const { Device } = require(${JSON.stringify(addonPath)});
      const crypto = require('node:crypto');
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
      const d = new Device('wbm${world.id}'.slice(0, 15));
      global.gc?.();
      const before = rss();
      const lines = [];
      for (let i = 0; i < 10000; i++) {
        lines.push('public_key=' + crypto.randomBytes(32).toString('hex'));
        lines.push('allowed_ip=10.' + (100 + (i >> 16)) + '.' + ((i >> 8) & 255) + '.' + (i & 255) + '/32');
      }
      const r = d.set(lines.join('\\n'));
      if (r.errno) throw new Error(r.message);
      lines.length = 0;
      global.gc?.();
      const after = rss();
      d.close();
      console.log(JSON.stringify({ totalMB: after, deltaMB: after - before }));`;
    const out = execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--expose-gc', '-e', script], { encoding: 'utf8' });
    return JSON.parse(out.trim());
  } finally {
    void world.cleanup();
    current = null;
  }
}

function opensslGbps(seconds: number): number | null {
  if (!has('openssl')) return null;
  const out = spawnSync('openssl', ['speed', '-evp', 'chacha20-poly1305', '-bytes', '1420', '-seconds', String(Math.max(1, Math.round(seconds)))], {
    encoding: 'utf8',
  }).stdout;
  const m = /chacha20-poly1305\s+([\d.]+)k/i.exec(out ?? '');
  return m ? (Number(m[1]) * 1000 * 8) / 1e9 : null;
}

async function measureWgvm(o: BenchOptions, step: () => string): Promise<WgvmResult> {
  if (!existsSync(nativeBench)) throw new BenchError(`${nativeBench} is missing: run "npm run build"`);
  const native = (what: string) =>
    JSON.parse(execFileSync(nativeBench, ['--seconds', String(o.quick ? 0.5 : 3), what], { encoding: 'utf8', env: dataPlaneEnv(process.env) }));
  const handshakes: number[] = [];
  const rss: number[] = [];
  const delta: number[] = [];
  for (let run = 1; run <= o.runs; run++) {
    handshakes.push(native('handshakes').handshakes.responder_handshakes_per_second);
    const m = measureMemory();
    rss.push(m.totalMB);
    delta.push(m.deltaMB);
    progress(`${step()} wgvm run ${run}/${o.runs}: ${handshakes.at(-1)!.toFixed(0)} handshakes/s, ${m.totalMB.toFixed(1)} MB with 10,000 peers`);
  }
  const crypto = native('crypto').crypto;
  const openssl = opensslGbps(o.quick ? 1 : 3);
  const encryptGbps = crypto.encrypt.gbit_per_second as number;
  const streamGbps = crypto.stream.gbit_per_second as number;
  const evpPacketGbps = crypto.evp_packet.gbit_per_second as number;
  progress(
    `${step()} crypto: encrypt ${encryptGbps.toFixed(2)} Gbit/s, OpenSSL EVP per packet ${evpPacketGbps.toFixed(2)} Gbit/s, one stream ${streamGbps.toFixed(2)} Gbit/s, openssl speed ${openssl?.toFixed(2) ?? 'n/a'} Gbit/s`,
  );
  return {
    handshakesPerSecond: summarize(handshakes),
    rss10kPeersMB: summarize(rss),
    rss10kPeersDeltaMB: summarize(delta),
    crypto: {
      encryptGbps,
      decryptGbps: crypto.decrypt.gbit_per_second,
      streamGbps,
      evpPacketGbps,
      opensslGbps: openssl,
      encryptToOpenssl: openssl ? encryptGbps / openssl : null,
    },
  };
}

let current: World | null = null;

export async function runBench(o: BenchOptions): Promise<number> {
  if (process.getuid?.() !== 0) throw new BenchError('the benchmark needs root (it creates network namespaces and TUN interfaces)');
  for (const tool of ['ip', 'iperf3', 'ping']) {
    if (!has(tool)) throw new BenchError(`${tool} is not installed (apt-get install -y --no-install-recommends iperf3 iproute2 iputils-ping)`);
  }
  const notes: string[] = [];
  let pairs = o.only;
  if (!has('wireguard-go')) {
    const needing = pairs.filter((p) => [PAIRS[p].client, PAIRS[p].server].includes('wireguard-go'));
    if (o.onlyAsked && needing.length) {
      throw new BenchError(`wireguard-go is not installed, but --only asks for ${needing.join(', ')}`);
    }
    pairs = pairs.filter((p) => !needing.includes(p));
    if (needing.length) notes.push('wireguard-go is not installed: its pairs were skipped');
  }

  const onSignal = () => {
    progress('interrupted: cleaning up');
    void (current?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const total = pairs.length * o.runs * 4 + (pairs.includes('wgvm') ? o.runs + 1 : 0);
  let done = 0;
  const step = () => `[${++done}/${total}]`;
  const result: BenchResult = {
    version: 1,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim() ?? 'unknown', kernel: os.release(), node: process.version },
    options: { runs: o.runs, seconds: o.seconds, quick: o.quick, only: pairs },
    pairs: {},
    wgvm: null,
    notes,
  };
  try {
    for (const name of pairs) result.pairs[name] = await measurePair(name, o, step);
    if (pairs.includes('wgvm')) result.wgvm = await measureWgvm(o, step);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  mkdirSync(o.out, { recursive: true });
  const stamp = result.date.replace(/[:.]/g, '-').slice(0, 19);
  const json = join(o.out, `${stamp}.json`);
  const svg = join(o.out, `${stamp}.svg`);
  writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(svg, svgChart(result) + '\n');
  process.stdout.write(`${markdownTable(result)}\n\nResults: ${json}\nChart:   ${svg}\n`);
  return 0;
}
