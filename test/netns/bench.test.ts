// `npm run bench -- --quick --only wgvm,<every row>`: the harness runs end to end, writes plausible
// results for the pair and the rows (10,000 idle peers, idle CPU, UAPI latency, the hub, direct paths
// in the NAT lab), and leaves no namespace or process behind.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/netns.js';
import { hasTool, inCI, requireTools, skipWithout } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// The direct-paths row installs workers with wg-quick in the NAT lab and runs their agents.
const TOOLS = ['iperf3', 'ip', 'ping', 'wg', 'wg-quick', 'curl', 'nft', 'nsenter', 'unshare', 'ss'];
const skip = skipWithout(...TOOLS) || (!isRoot && !inCI);

const namespaces = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('wgvmb-'));
const benchProcesses = () =>
  ['up --foreground wb', 'wireguard-go -f wb'].flatMap((pattern) => spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const summary = { median: expect.any(Number), min: expect.any(Number), max: expect.any(Number), runs: 1 };

describe.skipIf(skip)('benchmark harness', () => {
  let out = '';
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  it('quick run of the wgvm pair and every row writes every figure, plausibly, and cleans up', () => {
    requireTools(...TOOLS);
    // With wireguard-go (CI: Debian's, from PATH) the rows compare it with wgvm; without, wgvm alone.
    const withGo = inCI || hasTool('wireguard-go');
    out = mkdtempSync(join(tmpdir(), 'wgvm-bench-'));
    // Only what this run leaves counts (another bench on the machine has namespaces of its own).
    const before = { namespaces: new Set(namespaces()), processes: new Set(benchProcesses()) };
    const args = ['--quick', '--only', 'wgvm,idle-peers,idle-cpu,uapi-latency,hub-relay,direct-paths', '--threads', '1', '--workers', '2', '--out', out];
    const r = spawnSync('npm', ['run', 'bench', '--', ...args], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[1\/\d+\] wgvm ↔ wgvm run 1\/1: TCP 1 stream/);
    expect(r.stdout).toContain('| wgvm ↔ wgvm |');
    for (const heading of ['| 10,000 idle peers on each side', '| idle device with 10,000 peers', '| UAPI `get=1` to the sending side', '| hub relaying 2 worker pairs at once', '| W1 → W2 through two NATs']) {
      expect(r.stdout).toContain(heading);
    }
    expect(r.stdout).toContain(`- Versions: wgvm ${version} `);
    expect(r.stdout).toContain('WGVM_THREADS=1');

    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('.json'))!;
    expect(files).toContain(json.replace('.json', '.svg'));
    const result = JSON.parse(readFileSync(join(out, json), 'utf8'));
    const p = result.pairs.wgvm;
    for (const key of ['tcp1Gbps', 'tcp4Gbps', 'udpPps', 'udpLossPercent', 'pingIdleP50Ms', 'pingIdleP99Ms', 'pingLoadP50Ms', 'pingLoadP99Ms', 'cpuSecondsPerGB']) {
      expect(p[key], key).toMatchObject({ median: expect.any(Number), min: expect.any(Number), max: expect.any(Number), runs: 1 });
    }
    expect(p.tcp1Gbps.median).toBeGreaterThan(0);
    expect(p.tcp4Gbps.median).toBeGreaterThan(0);
    expect(p.udpPps.median).toBeGreaterThan(0);
    expect(p.udpLossPercent.median).toBeGreaterThanOrEqual(0);
    expect(p.udpLossPercent.median).toBeLessThanOrEqual(100);
    expect(p.pingIdleP99Ms.median).toBeGreaterThanOrEqual(p.pingIdleP50Ms.median);
    expect(p.pingLoadP99Ms.median).toBeGreaterThanOrEqual(p.pingLoadP50Ms.median);
    expect(p.cpuSecondsPerGB.median).toBeGreaterThan(0);
    const w = result.wgvm;
    expect(w.handshakesPerSecond.median).toBeGreaterThan(0);
    expect(w.rss10kPeersMB.median).toBeGreaterThan(w.rss10kPeersDeltaMB.median);
    expect(w.crypto.encryptGbps).toBeGreaterThan(0);
    expect(w.crypto.decryptGbps).toBeGreaterThan(0);
    expect(w.crypto.streamGbps).toBeGreaterThan(0);
    expect(w.crypto.evpPacketGbps).toBeGreaterThan(0);
    // The pool with one thread and two: both moved packets, and the ratio is of what was measured.
    for (const t of [w.pool.oneThread, w.pool.twoThreads]) expect(Math.min(t.sealPps.min, t.openPps.min)).toBeGreaterThan(0);
    expect(w.pool.sealRatio).toBeCloseTo(w.pool.twoThreads.sealPps.median / w.pool.oneThread.sealPps.median, 6);
    expect(w.pool.openWithCopyRatio).toBeCloseTo(w.pool.twoThreads.openWithCopyPps!.median / w.pool.oneThread.openWithCopyPps!.median, 6);
    for (const t of [w.pool.oneThread, w.pool.twoThreads]) expect(Math.min(t.sealWithLayoutPps!.min, t.openWithCopyPps!.min)).toBeGreaterThan(0);
    expect(readFileSync(join(out, json.replace('.json', '.svg')), 'utf8')).toMatch(/^<svg[\s\S]*wgvm ↔ wgvm[\s\S]*<\/svg>\n$/);

    // Who ran: versions, and the thread setting passed to wgvm.
    expect(result.version).toBe(2);
    expect(result.options).toMatchObject({ threads: 1, workers: 2, rows: ['idle-peers', 'idle-cpu', 'uapi-latency', 'hub-relay', 'direct-paths'] });
    expect(result.implementations.wgvm).toMatchObject({ implementation: 'wgvm', version, threads: 1 });
    expect(p.client).toEqual(result.implementations.wgvm);
    const go = result.implementations['wireguard-go'];
    if (withGo) expect(go).toMatchObject({ implementation: 'wireguard-go', version: expect.stringMatching(/^\d+\.\d+\.\d+/), binary: expect.stringMatching(/^\//) });
    const implementations = withGo ? ['wgvm', 'wireguard-go'] : ['wgvm'];

    // 10,000 idle peers: both throughputs measured, the ratio theirs.
    expect(result.idlePeers.map((x: { implementation: { implementation: string } }) => x.implementation.implementation)).toEqual(implementations);
    for (const x of result.idlePeers) {
      expect(x.idlePeers).toBe(10_000);
      for (const key of ['bareGbps', 'loadedGbps', 'keptPercent']) expect(x[key], key).toMatchObject(summary);
      expect(x.bareGbps.median).toBeGreaterThan(0);
      expect(x.loadedGbps.median).toBeGreaterThan(0);
      expect(x.keptPercent.median).toBeCloseTo((100 * x.loadedGbps.median) / x.bareGbps.median, 6);
      expect(x.loadSeconds.median).toBeGreaterThan(0);
      expect(x.loadSeconds.max).toBeLessThan(60);
    }
    // Idle CPU: a share of one core over the quick window.
    expect(result.idleCpu.map((x: { implementation: { implementation: string } }) => x.implementation.implementation)).toEqual(implementations);
    for (const x of result.idleCpu) {
      expect(x).toMatchObject({ idlePeers: 10_000, seconds: 3, cpuPercent: summary });
      expect(x.cpuPercent.median).toBeGreaterThanOrEqual(0);
      expect(x.cpuPercent.median).toBeLessThan(100);
    }
    // UAPI latency: bare, then with 10,000 peers whose answer lists them all.
    expect(result.uapiLatency.map((x: { idlePeers: number }) => x.idlePeers)).toEqual([0, 10_000]);
    for (const x of result.uapiLatency) {
      expect(x.requests.median).toBeGreaterThanOrEqual(1);
      expect(x.p50Ms.median).toBeGreaterThan(0);
      expect(x.p99Ms.median).toBeGreaterThanOrEqual(x.p50Ms.median);
      expect(x.maxMs.median).toBeGreaterThanOrEqual(x.p99Ms.median);
      expect(x.idleP99Ms.median).toBeGreaterThanOrEqual(x.idleP50Ms.median);
      expect(x.tcpGbps.median).toBeGreaterThan(0);
    }
    expect(result.uapiLatency[0].answerBytes).toBeLessThan(10_000);
    expect(result.uapiLatency[1].answerBytes).toBeGreaterThan(10_000 * 75); // a public_key line per peer at least
    // The hub: a wgvm hub relays in the device, a wireguard-go hub through the kernel.
    expect(result.hubRelay.map((x: { hub: { implementation: string }; kernelForwarding: boolean }) => [x.hub.implementation, x.kernelForwarding])).toEqual(
      implementations.map((i) => [i, i !== 'wgvm']),
    );
    for (const x of result.hubRelay) {
      expect(x.workerPairs).toBe(2);
      expect(x.workers.implementation).toBe('wgvm');
      expect(x.aggregateGbps.median).toBeGreaterThan(0);
      expect(x.slowestPairGbps.median).toBeGreaterThan(0);
      expect(x.slowestPairGbps.median * 2).toBeLessThanOrEqual(x.aggregateGbps.median + 1e-9);
      expect(x.hubCpuSecondsPerGB.median).toBeGreaterThan(0);
    }
    // Direct paths: W1 → W2 direct (the hub relays nothing of it) and relayed (the hub relays it all).
    expect(result.directPaths).toHaveLength(1);
    const d = result.directPaths[0];
    expect(d.hub).toEqual(result.implementations.wgvm);
    expect(d.workers).toEqual(result.implementations.wgvm);
    expect(d.seconds).toBe(2);
    for (const mode of [d.direct, d.relayed]) {
      for (const key of ['gbps', 'hubCpuSeconds', 'hubRelayedBytes']) expect(mode[key], key).toMatchObject(summary);
      expect(mode.gbps.median).toBeGreaterThan(0);
      expect(mode.hubCpuSeconds.median).toBeGreaterThanOrEqual(0);
    }
    expect(d.direct.hubRelayedBytes.max).toBeLessThan(4096);
    expect(d.relayed.hubRelayedBytes.median).toBeGreaterThan(1e6);
    expect(d.relayed.hubCpuSeconds.median).toBeGreaterThan(d.direct.hubCpuSeconds.median);

    expect(namespaces().filter((n) => !before.namespaces.has(n))).toEqual([]);
    expect(benchProcesses().filter((p) => !before.processes.has(p))).toEqual([]);
  }, 300_000);

  it('refuses bad options with one clear line', () => {
    for (const [args, message] of [
      [['--only', 'nonsense'], /unknown pair or row "nonsense"/],
      [['--threads', '0'], /--threads must be a whole number from 1 to 256/],
      [['--debian-wireguard-go'], /give --wireguard-go PATH/],
      [['--runs', '0'], /--runs must be a number from 1 to 50/],
      [['--bogus'], /bench: .*bogus/],
    ] as const) {
      const r = spawnSync(process.execPath, [join(root, 'bin/wgvm.js'), 'bench', ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
