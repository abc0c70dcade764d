// The pure pieces of the benchmark's new rows: the idle peers it loads, the latency statistics, the
// versions it names, the environment of the wgvm processes and the tables it prints.
import { describe, expect, it } from 'vitest';
import { countPeers, idlePeerChunks } from '../../src/bench/idle-peers.js';
import { pairLabel, type Contenders } from '../../src/bench/pairs.js';
import { markdownTable, type BenchResult } from '../../src/bench/report.js';
import { latencyStats } from '../../src/bench/row-uapi-latency.js';
import type { Summary } from '../../src/bench/stats.js';
import { wgvmEnv } from '../../src/bench/tunnel.js';
import { describeImplementation, parseVersion, type ImplementationInfo } from '../../src/bench/versions.js';

const ipv4 = (text: string) => text.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const inside = (address: string, cidr: string) => {
  const [base, bits] = cidr.split('/');
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return ((ipv4(address) & mask) >>> 0) === ((ipv4(base!) & mask) >>> 0);
};

describe('the 10,000 idle peers', () => {
  const bodies = idlePeerChunks(10_000);
  const lines = bodies.join('\n').split('\n');
  const peers = lines.filter((l) => l.startsWith('public_key='));

  it('come in chunks of 1,000 peers, each with its own random key', () => {
    expect(bodies).toHaveLength(10);
    expect(bodies.map(countPeers)).toEqual(Array(10).fill(1000));
    expect(peers).toHaveLength(10_000);
    expect(new Set(peers).size).toBe(10_000);
    for (const p of peers) expect(p).toMatch(/^public_key=[0-9a-f]{64}$/);
    // Nothing else: no private key, no listen port, no keepalive that would send to them.
    expect(new Set(lines.map((l) => l.split('=')[0]))).toEqual(new Set(['public_key', 'allowed_ip', 'endpoint']));
  });

  it('have a /32 each, all different, outside the tunnels the benchmark routes', () => {
    const allowed = lines.filter((l) => l.startsWith('allowed_ip=')).map((l) => l.slice('allowed_ip='.length));
    expect(allowed).toHaveLength(10_000);
    expect(new Set(allowed).size).toBe(10_000);
    for (const a of allowed) {
      expect(a).toMatch(/^10\.220\.\d+\.\d+\/32$/);
      const address = a.slice(0, -3);
      for (const tunnel of ['10.210.0.0/24', '10.240.0.0/24', '10.230.0.0/16']) expect(inside(address, tunnel), `${a} in ${tunnel}`).toBe(false);
    }
  });

  it('every second one has an endpoint in TEST-NET-3, which nothing can reach', () => {
    const endpoints = lines.filter((l) => l.startsWith('endpoint=')).map((l) => l.slice('endpoint='.length));
    expect(endpoints).toHaveLength(5000);
    for (const e of endpoints) {
      const [host, port] = e.split(':');
      expect(inside(host!, '203.0.113.0/24'), e).toBe(true);
      expect(Number(port)).toBeGreaterThan(0);
      expect(Number(port)).toBeLessThan(65536);
    }
    // Peer 0 has none, peer 1 has one.
    const first = bodies[0]!.split('public_key=').slice(1, 3);
    expect(first[0]).not.toContain('endpoint=');
    expect(first[1]).toContain('endpoint=203.0.113.');
  });

  it('use the random source given (the keys are not made up here)', () => {
    const fixed = idlePeerChunks(3, 2, (n) => Buffer.alloc(n, 0xab));
    expect(fixed).toHaveLength(2);
    expect(fixed[0]).toBe(`public_key=${'ab'.repeat(32)}\nallowed_ip=10.220.0.0/32\npublic_key=${'ab'.repeat(32)}\nallowed_ip=10.220.0.1/32\nendpoint=203.0.113.1:1025`);
    expect(() => idlePeerChunks(70_000)).toThrow(/at most 65536/);
  });

  it('are counted from a get=1 answer', () => {
    expect(countPeers('private_key=aa\nlisten_port=1\npublic_key=bb\nallowed_ip=1.2.3.4/32\npublic_key=cc\n')).toBe(2);
    expect(countPeers('private_key=aa\n')).toBe(0);
  });
});

describe('UAPI latency statistics', () => {
  it('are count, nearest-rank p50 and p99, and max', () => {
    const times = Array.from({ length: 200 }, (_, i) => i + 1); // 1..200 ms
    expect(latencyStats(times)).toEqual({ count: 200, p50: 100, p99: 198, max: 200 });
    expect(latencyStats([3, 1, 2])).toEqual({ count: 3, p50: 2, p99: 3, max: 3 });
  });

  it('refuse an empty probe instead of reporting zeros', () => {
    expect(() => latencyStats([])).toThrow(/no UAPI request completed/);
  });
});

const wgvm: ImplementationInfo = { implementation: 'wgvm', version: '0.1.0', binary: '/x/bin/wgvm.js', commit: 'abc1234', threads: 2 };
const go: ImplementationInfo = { implementation: 'wireguard-go', version: '0.0.20250522', binary: '/tools/wireguard-go', commit: null, threads: null };
const debian: ImplementationInfo = { implementation: 'wireguard-go', version: '0.0.20220316', binary: '/usr/bin/wireguard-go', commit: null, threads: null };
const contenders: Contenders = { wgvm, 'wireguard-go': go, 'wireguard-go-debian': debian };

describe('versions', () => {
  it('are read from the first line of --version', () => {
    expect(parseVersion('wireguard-go v0.0.20250522\n\nUserspace WireGuard daemon for linux-amd64.\n')).toBe('0.0.20250522');
    expect(parseVersion('wireguard-go v0.0.20220316\n')).toBe('0.0.20220316');
    expect(parseVersion('wgvm 0.1.0\n')).toBe('0.1.0');
    expect(parseVersion('wgvm 1.2.3-rc.1\n')).toBe('1.2.3-rc.1');
    expect(parseVersion('usage: wireguard-go [-f] INTERFACE\n')).toBeNull();
    expect(parseVersion('')).toBeNull();
  });

  it('name each side of every pair', () => {
    expect(describeImplementation(wgvm)).toBe('wgvm 0.1.0 (abc1234)');
    expect(describeImplementation(go)).toBe('wireguard-go 0.0.20250522');
    expect(pairLabel('wgvm', contenders)).toBe('wgvm ↔ wgvm');
    expect(pairLabel('wireguard-go', contenders)).toBe('wireguard-go ↔ wireguard-go (0.0.20250522)');
    expect(pairLabel('wireguard-go-debian', contenders)).toBe('wireguard-go ↔ wireguard-go (0.0.20220316)');
    expect(pairLabel('wgvm-to-wireguard-go', contenders)).toBe('wgvm → wireguard-go 0.0.20250522');
    expect(pairLabel('wireguard-go-to-wgvm', contenders)).toBe('wireguard-go 0.0.20250522 → wgvm');
    expect(pairLabel('veth', contenders)).toBe('plain veth (no tunnel)');
    expect(() => pairLabel('wireguard-go', { wgvm })).toThrow(/no wireguard-go to run/);
  });
});

describe('the environment of wgvm processes', () => {
  it('carries WGVM_THREADS when asked, beside the OpenSSL mask', () => {
    expect(wgvmEnv({ PATH: '/bin' }, 3)).toEqual({ PATH: '/bin', OPENSSL_ia32cap: ':~0x200000', WGVM_THREADS: '3' });
    expect(wgvmEnv({ PATH: '/bin' }, null)).toEqual({ PATH: '/bin', OPENSSL_ia32cap: ':~0x200000' });
    expect(wgvmEnv({ WGVM_THREADS: '8' }, undefined).WGVM_THREADS).toBe('8');
  });
});

const one = (median: number): Summary => ({ median, min: median, max: median, runs: 1 });

describe('the report of a run with the new rows', () => {
  const result: BenchResult = {
    version: 2,
    date: '2026-12-05T09:00:00.000Z',
    machine: { cpus: 2, model: 'test', kernel: '6.1', node: 'v20' },
    options: { runs: 1, seconds: 2, quick: true, only: ['wgvm', 'wireguard-go'], rows: ['idle-peers', 'idle-cpu', 'uapi-latency', 'hub-relay', 'direct-paths'], threads: 2, workers: 3 },
    implementations: { wgvm, 'wireguard-go': go },
    pairs: Object.fromEntries(
      (['wgvm', 'wireguard-go'] as const).map((name) => [
        name,
        {
          label: pairLabel(name, contenders),
          client: contenders[name]!,
          server: contenders[name]!,
          tcp1Gbps: one(name === 'wgvm' ? 4 : 3.2),
          tcp4Gbps: one(4),
          udpPps: one(1000),
          udpLossPercent: one(0),
          pingIdleP50Ms: one(0.1),
          pingIdleP99Ms: one(0.2),
          pingLoadP50Ms: one(1),
          pingLoadP99Ms: one(2),
          cpuSecondsPerGB: one(3),
        },
      ]),
    ),
    idlePeers: [
      { label: 'wgvm ↔ wgvm', implementation: wgvm, idlePeers: 10_000, bareGbps: one(4), loadedGbps: one(3.9), keptPercent: one(97.5), loadSeconds: one(0.8) },
    ],
    idleCpu: [{ label: 'wgvm 0.1.0 (abc1234)', implementation: wgvm, idlePeers: 10_000, seconds: 3, cpuPercent: one(0.33) }],
    uapiLatency: [
      {
        label: 'wgvm ↔ wgvm',
        implementation: wgvm,
        idlePeers: 0,
        requests: one(150),
        p50Ms: one(0.4),
        p99Ms: one(1.8),
        maxMs: one(2.5),
        answerBytes: 466,
        tcpGbps: one(3.8),
        idleP50Ms: one(0.3),
        idleP99Ms: one(0.9),
      },
    ],
    hubRelay: [
      {
        label: 'hub wgvm, 6 wgvm workers',
        hub: wgvm,
        workers: wgvm,
        workerPairs: 3,
        kernelForwarding: false,
        aggregateGbps: one(2.5),
        slowestPairGbps: one(0.7),
        hubCpuSecondsPerGB: one(1.5),
      },
    ],
    directPaths: [
      {
        label: 'hub wgvm, W1 and W2 wgvm-userspace',
        hub: wgvm,
        workers: wgvm,
        seconds: 10,
        direct: { gbps: one(1.25), hubCpuSeconds: one(0.04), hubRelayedBytes: one(0) },
        relayed: { gbps: { median: 0.8, min: 0.75, max: 0.9, runs: 3 }, hubCpuSeconds: one(9.5), hubRelayedBytes: one(1_010_000_000) },
      },
    ],
    wgvm: null,
    notes: [],
  };
  const table = markdownTable(result);

  it('compares with the reference wireguard-go by its version', () => {
    expect(table).toContain('| vs wireguard-go 0.0.20250522 |');
    expect(table).toMatch(/^\| wgvm ↔ wgvm \| 4\.00 \| 1\.25× \|/m);
    expect(table).toMatch(/^\| wireguard-go ↔ wireguard-go \(0\.0\.20250522\) \| 3\.20 \| 1\.00× \|/m);
  });

  it('prints a table per row with its figures', () => {
    expect(table).toContain('| 10,000 idle peers on each side, TCP 1 stream | bare Gbit/s | with 10,000 idle peers Gbit/s |');
    expect(table).toContain('| wgvm ↔ wgvm | 4.00 | 3.90 | 98 % | 0.8 |');
    expect(table).toContain('| idle device with 10,000 peers, no traffic | CPU, % of one core over 3 s |');
    expect(table).toContain('| wgvm 0.1.0 (abc1234) | 0.33 |');
    expect(table).toContain('| wgvm ↔ wgvm | 150 | 0.40 | 1.80 | 2.50 | 466 B | 3.80 | 0.30 / 0.90 |');
    expect(table).toContain('| hub relaying 3 worker pairs at once (3 TCP streams, A_i → hub → B_i) |');
    expect(table).toContain('| hub wgvm, 6 wgvm workers | 2.50 | 0.70 | 1.50 | the device (ip_forward=0) |');
  });

  it('prints the direct-paths row: direct against relayed, with the hub CPU seconds of each', () => {
    expect(table).toContain(
      '| W1 → W2 through two NATs (NAT lab, agents), TCP 1 stream 10 s | direct Gbit/s | hub CPU s | relayed through the hub Gbit/s | hub CPU s | hub relayed meanwhile: direct / relayed |',
    );
    expect(table).toContain('| hub wgvm, W1 and W2 wgvm-userspace | 1.25 | 0.04 | 0.80 (0.75–0.90) | 9.50 | 0 B / 1010.0 MB |');
    // After the hub table, before the versions.
    expect(table.indexOf('| hub relaying')).toBeLessThan(table.indexOf('| W1 → W2 through two NATs'));
    expect(table.indexOf('| W1 → W2 through two NATs')).toBeLessThan(table.indexOf('- Versions:'));
  });

  it('reads results written before the direct-paths row existed', () => {
    const { directPaths: _, ...old } = result;
    expect(markdownTable(old)).not.toContain('through two NATs');
  });

  it('names every program with its version, binary and thread setting', () => {
    expect(table).toContain(
      '- Versions: wgvm 0.1.0 (abc1234), WGVM_THREADS=2 (/x/bin/wgvm.js); reference wireguard-go 0.0.20250522 (/tools/wireguard-go)',
    );
  });

  it('leaves out the tables of rows not run', () => {
    const bare = markdownTable({ ...result, pairs: {}, idlePeers: [], uapiLatency: [], hubRelay: [], directPaths: [] });
    expect(bare).not.toContain('| pair |');
    expect(bare).not.toContain('idle peers on each side');
    expect(bare.startsWith('| idle device with 10,000 peers')).toBe(true);
  });
});
