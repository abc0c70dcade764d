// Faults on the wire: a 100 MB file crosses the tunnel over TCP intact while our fault relay (this
// kernel has no netem) drops, duplicates and delays with jitter (reorders) the WireGuard datagrams.
// Topology: A — M — B; each endpoint's peer endpoint is the relay's address in M facing it.
// The relay's seed is printed; FAULT_SEED=N replays a run's fault decisions.
import { randomInt } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Faults, RelayStats } from '../../src/bench/fault-relay.js';
import { isRoot, run, type World } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { addressUp, makeSide, startImplementation, useWorld, wgvmEntry, type Implementation, type Side } from '../helpers/tunnel.js';
import { randomFile, sendFile } from '../helpers/transfer.js';

const skip = skipWithout('wg', 'wireguard-go', 'ip', 'sysctl') || (!isRoot && !inCI);
const relayEntry = fileURLToPath(new URL('../../dist/bench/fault-relay.js', import.meta.url));

const FILE_BYTES = 100 * 1024 * 1024;
const CONNECTIONS = Number(process.env.FAULT_CONNECTIONS ?? 4);
const TIMEOUT_MS = 150_000;

const cases: Record<string, Faults> = {
  'loss 5 %': { loss: 0.05, dup: 0, delayMs: 0, jitterMs: 0 },
  'duplication 5 %': { loss: 0, dup: 0.05, delayMs: 0, jitterMs: 0 },
  'delay 20 ± 10 ms': { loss: 0, dup: 0, delayMs: 20, jitterMs: 10 },
  'all together': { loss: 0.05, dup: 0.05, delayMs: 20, jitterMs: 10 },
};
// Sender → receiver.
const pairings: [Implementation, Implementation][] = [
  ['wgvm', 'wgvm'],
  ['wgvm', 'wireguard-go'],
  ['wireguard-go', 'wgvm'],
];

describe.skipIf(skip)('a 100 MB TCP transfer through faults on the wire', () => {
  const t = useWorld('wgvm-faults-', ['wg', 'wireguard-go', 'ip', 'sysctl']);
  const file = join(tmpdir(), `wgvm-faults-${process.pid}.bin`);
  let sha256 = '';
  beforeAll(async () => {
    sha256 = await randomFile(file, FILE_BYTES);
  });
  afterAll(() => rmSync(file, { force: true }));

  for (const [name, faults] of Object.entries(cases)) {
    for (const [senderImpl, receiverImpl] of pairings) {
      it(`${name}: ${senderImpl} → ${receiverImpl}`, async () => {
        const seed = Number(process.env.FAULT_SEED ?? randomInt(2 ** 32));
        const { a, b, relay } = await throughRelay(t.world, t.dir, senderImpl, receiverImpl, faults, seed);
        const got = await sendFile(t.world, a.ns, b.ns, b.inner, file, { connections: CONNECTIONS, timeoutMs: TIMEOUT_MS });
        // Once the last delayed copies are out, the devices' counters first, then the relay's: every
        // duplicate a device has seen is then in the relay's count.
        await new Promise((r) => setTimeout(r, faults.delayMs + faults.jitterMs + 200));
        const counters = { sender: senderImpl === 'wgvm' ? drops(a) : undefined, receiver: receiverImpl === 'wgvm' ? drops(b) : undefined };
        const stats = await relay.stats();
        console.log(JSON.stringify({ case: name, pairing: `${senderImpl}->${receiverImpl}`, seed, seconds: got.seconds,
          mbitPerSecond: Math.round((FILE_BYTES * 8) / got.seconds / 1e6), relay: stats,
          drops: { sender: nonZero(counters.sender), receiver: nonZero(counters.receiver) } }));
        const why = `seed ${seed} (FAULT_SEED=${seed} replays it)`;

        expect(got.bytes, why).toBe(FILE_BYTES);
        expect(got.sha256, why).toBe(sha256);

        // The relay did what it was asked, in both directions: the data and the acknowledgements.
        for (const d of [stats.aToB, stats.bToA]) {
          expectRate(d.dropped, d.received, faults.loss, why);
          expectRate(d.duplicated, d.received - d.dropped, faults.dup, why);
          expect(d.sent + d.inFlight, why).toBe(d.received - d.dropped + d.duplicated);
          if (faults.jitterMs > 0) expect(d.reordered / d.sent, why).toBeGreaterThan(0.05);
          else expect(d.reordered, why).toBe(0);
        }
        // Our sending side never uses a counter twice: whatever the relay counts as a replay toward
        // the other end, it made itself.
        for (const [impl, d] of [[senderImpl, stats.aToB], [receiverImpl, stats.bToA]] as const) {
          if (impl === 'wgvm') expect(d.replays, why).toBeLessThanOrEqual(d.duplicated);
        }

        // Each of our sides: every data message the relay sent it that a correct window refuses (the
        // relay's duplicates, and anything else it counted: a counter the other side sent twice, or
        // one reordered out of the window), and nothing else, is refused as a replay; reordered
        // packets are accepted. Nothing fails to decrypt or goes missing inside the device.
        for (const [side, toward] of [[counters.sender, stats.bToA], [counters.receiver, stats.aToB]] as const) {
          if (!side) continue;
          expect(side.replay, why).toBeLessThanOrEqual(toward.replays);
          // Below only if a copy was lost on the way into the device, making its twin the first.
          expect(side.replay, why).toBeGreaterThanOrEqual(toward.replays - 2);
          if (faults.dup > 0) expect(side.replay, why).toBeGreaterThan(0);
          expect({ decrypt: side.decrypt, malformed: side.malformed_inner, unknownIndex: side.unknown_index }, why).toEqual({
            decrypt: 0, malformed: 0, unknownIndex: 0,
          });
        }
      }, TIMEOUT_MS + 30_000);
    }
  }
});

const nonZero = (c?: Record<string, number>) => c && Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0));

// |observed rate − p| within five standard deviations of a binomial(n, p), plus a count's rounding.
function expectRate(count: number, n: number, p: number, why: string): void {
  if (p === 0) return void expect(count, why).toBe(0);
  const tolerance = 5 * Math.sqrt((p * (1 - p)) / n) + 1 / n;
  expect(Math.abs(count / n - p), `${count} of ${n} for p = ${p}; ${why}`).toBeLessThan(tolerance);
}

/** Our device's drop counters, read through its socket (`wgvm counters`). */
function drops(s: Side): Record<string, number> {
  const out = run(process.execPath, [wgvmEntry, 'counters', s.iface]);
  const result: Record<string, number> = {};
  for (const m of out.matchAll(/^drop_(\w+)=(\d+)$/gm)) result[m[1]!] = Number(m[2]);
  if (!('replay' in result)) throw new Error(`no drop_replay in "wgvm counters ${s.iface}": ${out}`);
  return result;
}

// A (198.18.1.2) — M (198.18.1.1 | 198.18.2.1, the relay) — B (198.18.2.2); the tunnel is
// 10.203.0.1 — 10.203.0.2 and each side's peer endpoint is the relay. TCP in A and B uses BBR,
// which does not read random loss as congestion (CUBIC would crawl at 5 % loss).
async function throughRelay(world: World, dir: string, implA: Implementation, implB: Implementation, faults: Faults, seed: number) {
  const nsA = world.namespace('fla');
  const nsM = world.namespace('flm');
  const nsB = world.namespace('flb');
  world.link(nsA, '198.18.1.2/24', nsM, '198.18.1.1/24');
  world.link(nsM, '198.18.2.1/24', nsB, '198.18.2.2/24');
  for (const ns of [nsA, nsB]) {
    try {
      ns.exec('sysctl', ['-qw', 'net.ipv4.tcp_congestion_control=bbr']);
    } catch (err) {
      throw new Error(`TCP BBR is needed (CUBIC takes minutes per transfer at 5 % loss): "modprobe tcp_bbr" (${(err as Error).message.trim()})`);
    }
  }

  const child = world.spawn(nsM, process.execPath, [relayEntry,
    '--a-listen', '198.18.1.1:40001', '--a-peer', '198.18.1.2:51820',
    '--b-listen', '198.18.2.1:40002', '--b-peer', '198.18.2.2:51821',
    '--loss', String(faults.loss), '--dup', String(faults.dup), '--delay', String(faults.delayMs), '--jitter', String(faults.jitterMs),
    '--seed', String(seed)]);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await until(() => out.includes('ready'), () => `the relay to start: ${child.exitCode ?? ''} ${out}`);

  const a = makeSide(world, dir, 'flA', nsA, '198.18.1.2', '10.203.0.1');
  const b = makeSide(world, dir, 'flB', nsB, '198.18.2.2', '10.203.0.2');
  await startImplementation(world, a, implA);
  await startImplementation(world, b, implB);
  for (const [s, peer, port, relayFacing] of [[a, b, 51820, '198.18.1.1:40001'], [b, a, 51821, '198.18.2.1:40002']] as const) {
    s.ns.exec('wg', ['set', s.iface, 'private-key', s.privateKeyFile, 'listen-port', String(port),
      'peer', peer.publicKey, 'allowed-ips', `${peer.inner}/32`, 'endpoint', relayFacing]);
    addressUp(s);
  }
  const relay = {
    /** The relay's statistics so far (it prints them on SIGUSR1). */
    async stats(): Promise<RelayStats> {
      const before = out.length;
      child.kill('SIGUSR1');
      await until(() => out.slice(before).includes('}\n'), () => 'the relay\'s statistics');
      return JSON.parse(out.slice(before).split('\n').find((l) => l.startsWith('{'))!) as RelayStats;
    },
  };
  return { a, b, relay };
}

async function until(check: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
