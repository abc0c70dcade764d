// `npm run bench -- --quick --only wgvm`: the harness runs end to end, writes plausible results,
// and leaves no namespace or process behind.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/netns.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const skip = skipWithout('iperf3', 'ip', 'ping') || (!isRoot && !inCI);

const namespaces = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('wgvmb-'));
const benchProcesses = () =>
  spawnSync('pgrep', ['-f', 'up --foreground wb'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

describe.skipIf(skip)('benchmark harness', () => {
  let out = '';
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  it('quick run of the wgvm pair writes every figure, plausibly, and cleans up', () => {
    requireTools('iperf3', 'ip', 'ping');
    out = mkdtempSync(join(tmpdir(), 'wgvm-bench-'));
    // Only what this run leaves counts (another bench on the machine has namespaces of its own).
    const before = { namespaces: new Set(namespaces()), processes: new Set(benchProcesses()) };
    const r = spawnSync('npm', ['run', 'bench', '--', '--quick', '--only', 'wgvm', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[1\/\d+\] wgvm ↔ wgvm run 1\/1: TCP 1 stream/);
    expect(r.stdout).toContain('| wgvm ↔ wgvm |');

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
    expect(readFileSync(join(out, json.replace('.json', '.svg')), 'utf8')).toMatch(/^<svg[\s\S]*wgvm ↔ wgvm[\s\S]*<\/svg>\n$/);

    expect(namespaces().filter((n) => !before.namespaces.has(n))).toEqual([]);
    expect(benchProcesses().filter((p) => !before.processes.has(p))).toEqual([]);
  }, 180_000);

  it('refuses bad options with one clear line', () => {
    for (const [args, message] of [
      [['--only', 'nonsense'], /unknown pair "nonsense"/],
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
