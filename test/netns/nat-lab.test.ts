// Which NATs let plain WireGuard punch through, measured in the NAT lab (src/bench/nat-lab.ts).
// No hub control plane here: the test does by hand what the agent will do. Each worker has a session
// with the hub (that is how the hub learns the worker's NAT-mapped endpoint); a pair of workers then
// gets each other as peers with no allowed IPs, the endpoint the hub sees, and keepalive 5, both at
// once, and we wait for a handshake on both sides.
//
//   hub 203.0.113.10 ─┬─ nat1 (masquerade) ── w1, w4 (one LAN, no hairpin)
//                     ├─ nat2 (masquerade) ── w2
//                     └─ nat3 (masquerade fully-random) ── w3
import { fileURLToPath } from 'node:url';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LAB, NatLab, type Sandbox, type WorkerName } from '../../src/bench/nat-lab.js';
import { wgvmEntry, wgvmEnv } from '../../src/bench/tunnel.js';
import { isRoot, run, stderrOf, waitFor } from '../helpers/netns.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';

const TOOLS = ['wg', 'wireguard-go', 'ip', 'ping', 'nft', 'nsenter', 'unshare'];
const skip = skipWithout(...TOOLS) || (!isRoot && !inCI);
const userspaceBin = fileURLToPath(new URL('../../bin/wgvm-userspace.js', import.meta.url));
type Impl = 'wireguard-go' | 'wgvm';
const HUB_PORT = 51820;
const INNER: Record<WorkerName, string> = { w1: '10.100.1.1', w2: '10.100.1.2', w3: '10.100.1.3', w4: '10.100.1.4' };

interface Wg {
  s: Sandbox;
  publicKey: string;
  port: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** wg0 in the sandbox, served by `impl`, with a fresh key; listen port `port` or (unset) a random one, as the installer leaves it. */
async function wg0(s: Sandbox, impl: Impl, address: string, port?: number): Promise<Wg> {
  const child =
    impl === 'wgvm'
      ? s.spawn(process.execPath, [userspaceBin, '-f', 'wg0'], wgvmEnv(process.env, null))
      : s.spawn('wireguard-go', ['-f', 'wg0'], { LOG_LEVEL: 'error' });
  await waitFor(`${impl} on wg0 in ${s.label}`, () => child.exitCode !== null || existsSync(s.file('/run/wireguard/wg0.sock')), 15_000);
  if (child.exitCode !== null) throw new Error(`${impl} in ${s.label} exited: ${stderrOf(child)}`);
  const key = run('wg', ['genkey']);
  // (not /dev/stdin: node's pipes are sockets, which wg cannot fopen)
  const keyFile = join(s.dir, 'wg0.key');
  writeFileSync(keyFile, key, { mode: 0o600 });
  s.exec('wg', ['set', 'wg0', 'private-key', keyFile, ...(port ? ['listen-port', String(port)] : [])]);
  s.exec('ip', ['addr', 'add', address, 'dev', 'wg0']);
  s.exec('ip', ['link', 'set', 'wg0', 'mtu', '1420', 'up']);
  return { s, publicKey: run('wg', ['pubkey'], key).trim(), port: Number(s.exec('wg', ['show', 'wg0', 'listen-port']).trim()) };
}

/** One column of `wg show wg0 <field>` for `peer`. */
function field(w: Wg, what: string, peer: string): string[] {
  const line = w.s.exec('wg', ['show', 'wg0', what]).split('\n').find((l) => l.startsWith(peer));
  return line ? line.split('\t').slice(1) : [];
}
const handshake = (w: Wg, peer: Wg) => Number(field(w, 'latest-handshakes', peer.publicKey)[0] ?? 0);
const transfer = (w: Wg, peer: Wg) => field(w, 'transfer', peer.publicKey).map(Number) as [number, number];
const endpoint = (w: Wg, peer: Wg) => field(w, 'endpoints', peer.publicKey)[0];

/** A direct peer as the agent sets it in `try` mode: no allowed IPs, an endpoint, keepalive 5. */
function tryPeer(w: Wg, peer: Wg, ep: string): Promise<string> {
  return w.s.execAsync('wg', ['set', 'wg0', 'peer', peer.publicKey, 'allowed-ips', '', 'endpoint', ep, 'persistent-keepalive', '5']);
}

interface Attempt {
  /** ms from both ends configured to a handshake on both sides; null: none before the deadline */
  ms: number | null;
  /** ms from its own configuration until each side had sent something to the other (null: nothing) */
  firstTx: [number | null, number | null];
}

/**
 * Configures a→b and b→a (b `delayMs` after a, or both at once) and polls both sides until each
 * has a handshake with the other or `deadlineMs` passed.
 */
async function attempt(a: Wg, b: Wg, epForA: string, epForB: string, deadlineMs: number, beforeB?: () => Promise<void>): Promise<Attempt> {
  const start: [number, number] = [0, 0];
  if (beforeB) {
    start[0] = Date.now();
    await tryPeer(a, b, epForA);
    await beforeB();
    start[1] = Date.now();
    await tryPeer(b, a, epForB);
  } else {
    start[0] = start[1] = Date.now();
    await Promise.all([tryPeer(a, b, epForA), tryPeer(b, a, epForB)]);
  }
  const t0 = Date.now();
  const firstTx: [number | null, number | null] = [null, null];
  for (;;) {
    for (const [i, [x, y]] of ([[a, b], [b, a]] as const).entries()) {
      if (firstTx[i] === null && transfer(x, y)[1] > 0) firstTx[i] = Date.now() - start[i]!;
    }
    const done = handshake(a, b) > 0 && handshake(b, a) > 0;
    const now = Date.now(); // after the reads: an upper bound, to within one poll (~50 ms)
    if (done) return { ms: now - t0, firstTx };
    if (now - t0 > deadlineMs) return { ms: null, firstTx };
    await sleep(50);
  }
}

describe.skipIf(skip)('NAT lab: which NATs plain WireGuard punches through', () => {
  let lab: NatLab | undefined;
  beforeEach(() => {
    requireTools(...TOOLS);
    if (!isRoot) throw new Error('namespace tests need root');
  });
  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  /** The hub (wireguard-go or wgvm, forwarding between its peers) and the workers, each with a session to it. */
  async function world(impl: Impl, ports: Partial<Record<WorkerName, number>> = {}) {
    const l = lab!;
    const hub = await wg0(l.hub, impl, '10.100.0.1/16', HUB_PORT);
    l.hub.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const w = {} as Record<WorkerName, Wg>;
    for (const name of ['w1', 'w2', 'w3', 'w4'] as const) {
      w[name] = await wg0(l.workers[name], impl, `${INNER[name]}/16`, ports[name]);
      l.hub.exec('wg', ['set', 'wg0', 'peer', w[name].publicKey, 'allowed-ips', `${INNER[name]}/32`]);
      l.workers[name].exec('wg', ['set', 'wg0', 'peer', hub.publicKey, 'allowed-ips', '10.100.0.0/16',
        'endpoint', `${LAB.hub}:${HUB_PORT}`, 'persistent-keepalive', '25']);
    }
    for (const name of ['w1', 'w2', 'w3', 'w4'] as const) l.workers[name].run('ping', ['-c', '1', '-W', '3', '10.100.0.1']);
    await waitFor('a session between the hub and every worker', () => Object.values(w).every((x) => handshake(hub, x) > 0), 15_000).catch(
      (e: Error) => {
        throw new Error(`${e.message}\n${l.state()}`);
      },
    );
    return { hub, w };
  }

  for (const impl of ['wireguard-go', 'wgvm'] as const) {
    it(`${impl}: W1↔W2 (two port-preserving NATs) punch through; W1↔W3 (fully-random) and W1↔W4 through nat1 (no hairpin) do not; W1↔W4 over the LAN do; a /32 beats the hub's /16`, async () => {
      lab = await NatLab.create();
      const { hub, w } = await world(impl);
      const seen = (x: Wg) => endpoint(hub, x)!;
      // Port-preserving NATs keep the (random, distinct) listen ports; fully-random does not keep it.
      expect(seen(w.w1)).toBe(`${LAB.nat.nat1}:${w.w1.port}`);
      expect(seen(w.w4)).toBe(`${LAB.nat.nat1}:${w.w4.port}`);
      expect(seen(w.w2)).toBe(`${LAB.nat.nat2}:${w.w2.port}`);
      expect(seen(w.w3)).toMatch(new RegExp(`^${LAB.nat.nat3.replace(/\./g, '\\.')}:\\d+$`));

      const w12 = await attempt(w.w1, w.w2, seen(w.w2), seen(w.w1), 15_000);
      console.log(`nat-lab ${impl}: W1↔W2 handshake on both sides after ${w12.ms} ms; first tx W1 ${w12.firstTx[0]} ms, W2 ${w12.firstTx[1]} ms`);
      expect(w12.ms, `W1↔W2 did not complete a handshake\n${lab.state()}`).not.toBeNull();
      // The direct path is where the other's datagrams came from: the NAT-mapped endpoint.
      expect(endpoint(w.w1, w.w2)).toBe(seen(w.w2));

      // Both at once, 20 s each: the fully-random NAT, and W1↔W4 through their NAT's public address.
      const [w13, w14] = await Promise.all([
        attempt(w.w1, w.w3, seen(w.w3), seen(w.w1), 20_000),
        attempt(w.w1, w.w4, seen(w.w4), seen(w.w1), 20_000),
      ]);
      console.log(`nat-lab ${impl}: W1↔W3 ${w13.ms} ms, W1↔W4 via nat1 ${w14.ms} ms (null: none in 20 s); first tx W1→W3 ${w13.firstTx[0]} ms, W3→W1 ${w13.firstTx[1]} ms`);
      expect(w13.ms, `W1↔W3 completed a handshake through a fully-random NAT\n${lab.state()}`).toBeNull();
      expect(w14.ms, `W1↔W4 completed a handshake through nat1 (hairpin?)\n${lab.state()}`).toBeNull();
      expect(handshake(w.w1, w.w3) + handshake(w.w3, w.w1) + handshake(w.w1, w.w4) + handshake(w.w4, w.w1)).toBe(0);

      // W1↔W4 with each other's LAN address: fresh peers, so that the timing is theirs alone.
      w.w1.s.exec('wg', ['set', 'wg0', 'peer', w.w4.publicKey, 'remove']);
      w.w4.s.exec('wg', ['set', 'wg0', 'peer', w.w1.publicKey, 'remove']);
      const lan = await attempt(w.w1, w.w4, `${LAB.lan.w4}:${w.w4.port}`, `${LAB.lan.w1}:${w.w1.port}`, 15_000);
      console.log(`nat-lab ${impl}: W1↔W4 over the LAN after ${lan.ms} ms`);
      expect(lan.ms, `W1↔W4 did not complete a handshake over their LAN\n${lab.state()}`).not.toBeNull();

      // Direct mode: the pair's /32s win over the hub's /16; the hub sees none of the ping.
      w.w1.s.exec('wg', ['set', 'wg0', 'peer', w.w2.publicKey, 'allowed-ips', `${INNER.w2}/32`]);
      w.w2.s.exec('wg', ['set', 'wg0', 'peer', w.w1.publicKey, 'allowed-ips', `${INNER.w1}/32`]);
      const hubBefore = [...transfer(hub, w.w1), ...transfer(hub, w.w2)];
      const directBefore = transfer(w.w1, w.w2);
      const out = w.w1.s.run('ping', ['-c', '5', '-i', '0.2', '-W', '2', '-s', '1000', INNER.w2]);
      expect(out.stdout, `${out.stdout}${out.stderr}\n${lab.state()}`).toMatch(/5 received/);
      const hubAfter = [...transfer(hub, w.w1), ...transfer(hub, w.w2)];
      const directAfter = transfer(w.w1, w.w2);
      // Through the hub it would be ≥ 5 × 1028 bytes each way on both of the hub's peers; keepalives are 32.
      for (const [i, before] of hubBefore.entries()) expect(hubAfter[i]! - before, `hub transfer ${hubBefore} → ${hubAfter}`).toBeLessThan(1000);
      expect(directAfter[0] - directBefore[0]).toBeGreaterThan(5000);
      expect(directAfter[1] - directBefore[1]).toBeGreaterThan(5000);
    }, 120_000);

    it(`${impl}: order does not matter: W1's first packets reach nat2 (and are dropped) before W2 sends anything`, async () => {
      lab = await NatLab.create();
      const { hub, w } = await world(impl);
      const l = lab;
      const dropped = () => Number(/counter packets (\d+) bytes \d+ drop/.exec(l.nat('nat2', 'nft', ['list', 'chain', 'ip', 'natlab', 'input']))?.[1]);
      const before = dropped();
      const r = await attempt(w.w1, w.w2, endpoint(hub, w.w2)!, endpoint(hub, w.w1)!, 15_000, async () => {
        await waitFor("W1's first packet dropped at nat2", () => dropped() > before, 10_000);
      });
      console.log(`nat-lab ${impl}: W1 first, W2 after nat2 dropped W1's packet: handshake after ${r.ms} ms from W2's start; W1 first tx ${r.firstTx[0]} ms`);
      expect(r.ms, `W1↔W2 did not complete a handshake when W1 started first\n${l.state()}`).not.toBeNull();
    }, 90_000);
  }

  it('without the drop on the NATs, a packet that arrives first takes the port: the punch fails', async () => {
    lab = await NatLab.create({ filterUnsolicited: false });
    const { hub, w } = await world('wireguard-go');
    const l = lab;
    const accepted = (nat: 'nat1' | 'nat2') => Number(/counter packets (\d+) bytes \d+ accept/.exec(l.nat(nat, 'nft', ['list', 'chain', 'ip', 'natlab', 'input']))?.[1]);
    let atNat1 = 0;
    const r = await attempt(w.w1, w.w2, endpoint(hub, w.w2)!, endpoint(hub, w.w1)!, 20_000, async () => {
      // W1's initiation (sent on configuration) reaches nat2, whose own stack takes it (no socket:
      // ICMP port unreachable); conntrack confirms that entry, which holds W2's mapped port towards W1.
      await waitFor("W1's first packet accepted at nat2", () => accepted('nat2') > 0, 10_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${l.state()}`);
      });
      atNat1 = accepted('nat1');
    });
    const later = accepted('nat1');
    console.log(`nat-lab naive NAT: W1 first, then W2: ${r.ms} ms (null: none in 20 s); nat1 took ${later - atNat1} unsolicited packets after W2 started`);
    expect(r.ms, `W1↔W2 completed a handshake through NATs that accept unsolicited inbound\n${l.state()}`).toBeNull();
    // W2's packets reached nat1 but matched no connection of W1's: nat2 sent them from another port.
    expect(later).toBeGreaterThan(atNat1);
  }, 90_000);

  it('two workers on one LAN with the same listen port: the second keeps its remapped port towards every peer', async () => {
    lab = await NatLab.create();
    // All on 51820: w1 keeps 51820 on nat1 towards the hub; w4 cannot, so the hub sees it on another
    // port. Towards w2, 51820 would be free, but conntrack's NAT reuses the mapping an existing
    // connection from the same source already has (find_appropriate_src), so w4 goes out on the
    // same remapped port: the mapping is endpoint-independent, and the hub's view is right for w2.
    const { hub, w } = await world('wireguard-go', { w1: 51820, w2: 51820, w3: 51820, w4: 51820 });
    const l = lab;
    expect(endpoint(hub, w.w1)).toBe(`${LAB.nat.nat1}:51820`);
    const w4seen = endpoint(hub, w.w4)!;
    expect(w4seen).not.toBe(`${LAB.nat.nat1}:51820`);
    const r = await attempt(w.w2, w.w4, w4seen, endpoint(hub, w.w2)!, 15_000);
    console.log(`nat-lab same port: hub sees w4 at ${w4seen}; W2↔W4 handshake after ${r.ms} ms`);
    expect(r.ms, `W2↔W4 did not complete a handshake\n${l.state()}`).not.toBeNull();
    expect(endpoint(w.w2, w.w4)).toBe(w4seen);
  }, 90_000);

  // With relay on (wgvm's default), W1's packet for W2 arrives directly and matches the hub peer's
  // 10.100.0.0/16 too (W2's own address is in it): W2 must write it to its TUN, not relay it to the hub.
  it('wgvm-userspace with its default relay on: a worker delivers what a direct peer sends it', async () => {
    lab = await NatLab.create();
    const { hub, w } = await world('wgvm');
    const l = lab;
    const r = await attempt(w.w1, w.w2, endpoint(hub, w.w2)!, endpoint(hub, w.w1)!, 15_000);
    expect(r.ms, l.state()).not.toBeNull();
    w.w1.s.exec('wg', ['set', 'wg0', 'peer', w.w2.publicKey, 'allowed-ips', `${INNER.w2}/32`]);
    w.w2.s.exec('wg', ['set', 'wg0', 'peer', w.w1.publicKey, 'allowed-ips', `${INNER.w1}/32`]);
    const out = w.w1.s.run('ping', ['-c', '3', '-i', '0.2', '-W', '2', INNER.w2]);
    expect(out.stdout).toMatch(/3 received/);
  }, 90_000);
});
