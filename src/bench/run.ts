// `wgvm bench` / `npm run bench`: this data plane against wireguard-go and the plain link, measured
// side by side in one run, with a table, a JSON file and an SVG chart.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, pingTimes, pingUnderLoad, tcp, udp } from './measure.js';
import { dataPlaneEnv } from '../dataplane/openssl-env.js';
import { World } from './netns.js';
import { BenchError, type BenchOptions } from './options.js';
import { DEBIAN_PAIR, pairLabel, PAIRS, setUpPair, type Contender, type Contenders, type PairName } from './pairs.js';
import { markdownTable, svgChart, type BenchResult, type PairResult, type WgvmResult } from './report.js';
import { NatLab } from './nat-lab.js';
import { measureDirectPaths } from './row-direct-paths.js';
import { measureHubRelay } from './row-hub-relay.js';
import { measureIdleCpu } from './row-idle-cpu.js';
import { measureIdlePeers } from './row-idle-peers.js';
import { measureUapiLatency } from './row-uapi-latency.js';
import { summarize } from './stats.js';
import { wgvmEnv } from './tunnel.js';
import { resolveCommand, wgvmInfo, wireguardGoInfo } from './versions.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const nativeBench = join(root, 'build', 'wgvm_bench');
const addonPath = join(root, 'build', 'Release', 'wgvm_native.node');

export { BENCH_USAGE, BenchError, BenchUsageError, parseBenchOptions, type BenchOptions } from './options.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const progress = (line: string) => process.stderr.write(`${line}\n`);

async function measurePair(name: PairName, contenders: Contenders, o: BenchOptions, step: () => string): Promise<PairResult> {
  const samples: Record<string, number[]> = {};
  const add = (key: string, v: number) => (samples[key] ??= []).push(v);
  for (let run = 1; run <= o.runs; run++) {
    const world = new World('wgvmb');
    try {
      const p = await setUpPair(world, name, contenders);
      const label = `${pairLabel(name, contenders)} run ${run}/${o.runs}`;
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
    }
  }
  const s = (k: string) => summarize(samples[k]!);
  const { client, server } = PAIRS[name];
  return {
    label: pairLabel(name, contenders),
    client: client ? contenders[client]! : null,
    server: server ? contenders[server]! : null,
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
function measureMemory(threads: number | null): { totalMB: number; deltaMB: number } {
  const world = new World('wgvmb');
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
    const out = execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--expose-gc', '-e', script], { encoding: 'utf8', env: wgvmEnv(process.env, threads) });
    return JSON.parse(out.trim());
  } finally {
    void world.cleanup();
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
  const native = (what: string, ...args: string[]) =>
    JSON.parse(execFileSync(nativeBench, ['--seconds', String(o.quick ? 0.5 : 3), ...args, what], { encoding: 'utf8', env: dataPlaneEnv(process.env) }));
  const handshakes: number[] = [];
  const rss: number[] = [];
  const delta: number[] = [];
  for (let run = 1; run <= o.runs; run++) {
    handshakes.push(native('handshakes').handshakes.responder_handshakes_per_second);
    const m = measureMemory(o.threads);
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
  // One thread and two, alternated, so that a change in the machine's load hits both alike.
  const measures = ['seal', 'open', 'seal_with_layout', 'open_with_copy'] as const;
  const empty = () => Object.fromEntries(measures.map((m) => [m, [] as number[]])) as Record<(typeof measures)[number], number[]>;
  const pools = { '1': empty(), '2': empty() };
  for (let run = 1; run <= o.runs; run++) {
    for (const threads of ['1', '2'] as const) {
      const pool = native('pool', '--threads', threads).pool;
      for (const m of measures) pools[threads][m].push(pool[m].packets_per_second);
    }
  }
  const side = (t: '1' | '2') => ({
    sealPps: summarize(pools[t].seal),
    openPps: summarize(pools[t].open),
    sealWithLayoutPps: summarize(pools[t].seal_with_layout),
    openWithCopyPps: summarize(pools[t].open_with_copy),
  });
  const one = side('1');
  const two = side('2');
  const pool = {
    oneThread: one,
    twoThreads: two,
    sealRatio: two.sealPps.median / one.sealPps.median,
    openRatio: two.openPps.median / one.openPps.median,
    sealWithLayoutRatio: two.sealWithLayoutPps.median / one.sealWithLayoutPps.median,
    openWithCopyRatio: two.openWithCopyPps.median / one.openWithCopyPps.median,
  };
  progress(
    `${step()} crypto pool: two threads seal ${pool.sealRatio.toFixed(2)}×, open ${pool.openRatio.toFixed(2)}× one thread's packets ` +
      `(with the layout and the copy a turn does on one thread: ${pool.sealWithLayoutRatio.toFixed(2)}×, ${pool.openWithCopyRatio.toFixed(2)}×)`,
  );
  return {
    pool,
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

/** The programs the run puts at tunnel ends, with their versions; pairs and rows that need a missing one are dropped. */
function resolveContenders(o: BenchOptions): Contenders {
  const contenders: Contenders = { wgvm: wgvmInfo(o.threads) };
  const reference = resolveCommand(o.wireguardGo);
  if (reference) contenders['wireguard-go'] = wireguardGoInfo(reference);
  else if (o.wireguardGoAsked) throw new BenchError(`--wireguard-go: ${o.wireguardGo} is not in PATH`);
  if (o.only.includes(DEBIAN_PAIR)) {
    const fromPath = resolveCommand('wireguard-go');
    if (!fromPath) throw new BenchError(`${DEBIAN_PAIR} runs the wireguard-go in PATH, and there is none (apt-get install -y --no-install-recommends wireguard-go)`);
    if (fromPath === reference) throw new BenchError(`${DEBIAN_PAIR}: the wireguard-go in PATH is --wireguard-go itself (${fromPath})`);
    contenders[DEBIAN_PAIR] = wireguardGoInfo(fromPath);
  }
  return contenders;
}

export async function runBench(o: BenchOptions): Promise<number> {
  if (process.getuid?.() !== 0) throw new BenchError('the benchmark needs root (it creates network namespaces and TUN interfaces)');
  for (const tool of ['ip', 'iperf3', 'ping']) {
    if (!has(tool)) throw new BenchError(`${tool} is not installed (apt-get install -y --no-install-recommends iperf3 iproute2 iputils-ping)`);
  }
  const notes: string[] = [];
  const contenders = resolveContenders(o);
  const runnable = (p: PairName) => [PAIRS[p].client, PAIRS[p].server].every((c) => c === undefined || contenders[c]);
  const needing = o.only.filter((p) => !runnable(p));
  if (needing.length && o.onlyAsked) throw new BenchError(`wireguard-go is not installed, but --only asks for ${needing.join(', ')}`);
  if (needing.length) notes.push('wireguard-go is not installed: its pairs were skipped');
  const pairs = o.only.filter(runnable);
  // The direct-paths row installs workers with wg-quick and runs their agents in a NAT lab.
  const labTools = ['wg', 'wg-quick', 'curl', 'nft', 'nsenter', 'unshare', 'ss'].filter((t) => !has(t));
  let rows = o.rows;
  if (rows.includes('direct-paths') && labTools.length) {
    if (o.onlyAsked) throw new BenchError(`the direct-paths row needs ${labTools.join(', ')} (apt-get install -y --no-install-recommends wireguard-tools curl nftables util-linux iproute2)`);
    notes.push(`${labTools.join(', ')} not installed: the direct-paths row was skipped`);
    rows = rows.filter((r) => r !== 'direct-paths');
  }
  // The rows compare wgvm with the reference wireguard-go when there is one.
  const references: Contender[] = contenders['wireguard-go'] ? ['wgvm', 'wireguard-go'] : ['wgvm'];
  if (o.rows.length && !contenders['wireguard-go']) notes.push('wireguard-go is not installed: the idle-peer, idle-CPU and hub rows measured wgvm alone');

  const onSignal = () => {
    progress('interrupted: cleaning up');
    void Promise.all([...[...World.live].map((w) => w.cleanup()), ...[...NatLab.live].map((l) => l.close())]).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  // Progress lines: four per pair and run, one per handshake/memory run the crypto line and the pool line, one per row run and implementation (two for UAPI: bare and loaded).
  const rowSteps = { 'idle-peers': references.length, 'idle-cpu': references.length, 'uapi-latency': 2, 'hub-relay': references.length, 'direct-paths': 2 };
  const total = pairs.length * o.runs * 4 + (pairs.includes('wgvm') ? o.runs + 2 : 0) + rows.reduce((n, row) => n + rowSteps[row] * o.runs, 0);
  let done = 0;
  const step = () => `[${++done}/${total}]`;
  const report = (line: string) => progress(`${step()} ${line}`);
  const result: BenchResult = {
    version: 2,
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim() ?? 'unknown', kernel: os.release(), node: process.version },
    options: { runs: o.runs, seconds: o.seconds, quick: o.quick, only: pairs, rows, threads: o.threads, workers: o.workers },
    implementations: contenders as Record<string, NonNullable<Contenders[Contender]>>,
    pairs: {},
    idlePeers: [],
    idleCpu: [],
    uapiLatency: [],
    hubRelay: [],
    directPaths: [],
    wgvm: null,
    notes,
  };
  try {
    for (const name of pairs) result.pairs[name] = await measurePair(name, contenders, o, step);
    if (pairs.includes('wgvm')) result.wgvm = await measureWgvm(o, step);
    if (rows.includes('idle-peers')) {
      for (const c of references) result.idlePeers.push(await measureIdlePeers(c as 'wgvm' | 'wireguard-go', contenders, o.runs, o.seconds, report));
    }
    if (rows.includes('idle-cpu')) {
      for (const c of references) result.idleCpu.push(await measureIdleCpu(c, contenders, o.runs, o.idleSeconds, report));
    }
    if (rows.includes('uapi-latency')) {
      result.uapiLatency = await measureUapiLatency(contenders, o.runs, o.seconds, report);
    }
    if (rows.includes('hub-relay')) {
      for (const c of references) result.hubRelay.push(await measureHubRelay(c, contenders, o.workers, o.runs, o.seconds, report));
    }
    if (rows.includes('direct-paths')) {
      result.directPaths!.push(await measureDirectPaths(contenders, o.runs, o.seconds, report));
    }
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
