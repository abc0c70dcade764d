// Replies leave from the address the peer wrote to. The hub's public address is on its loopback (a
// floating IP, a second public address), its link has another; a worker behind an nftables
// masquerade NAT writes to the public address. A reply from the link's address would find no
// connection in the NAT and be dropped: the handshake completes only if the hub answers from the
// address it was written to (IP_PKTINFO / IPV6_PKTINFO, as the kernel module and wireguard-go do).
//
//   worker (192.168.77.2, fd00:77::2) ── NAT (masquerade) ── hub link 198.18.1.1, 2001:db8:1::1
//                                                            hub lo   203.0.113.1, 2001:db8:ffff::1
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, type Namespace, type World } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { randomFile, sendFile } from '../helpers/transfer.js';
import { makeSide, received, startImplementation, wgvmEntry, type Implementation, type Side, useWorld } from '../helpers/tunnel.js';

const TOOLS = ['wg', 'wireguard-go', 'ip', 'ping', 'nft'];
const skip = skipWithout(...TOOLS) || (!isRoot && !inCI);
const HUB_PORT = 41820;

interface Family {
  name: 'IPv4' | 'IPv6';
  hubLink: string; // the hub's address on its link, with prefix
  natLink: string; // the NAT's address on the hub's link
  hubPublic: string[]; // the hub's public addresses, put on its loopback
  natInside: string; // the NAT's address towards the worker
  worker: string;
  table: 'ip' | 'ip6';
}

const V4: Family = {
  name: 'IPv4', hubLink: '198.18.1.1/24', natLink: '198.18.1.2/24', hubPublic: ['203.0.113.1', '203.0.113.2'],
  natInside: '192.168.77.1/24', worker: '192.168.77.2/24', table: 'ip',
};
const V6: Family = {
  name: 'IPv6', hubLink: '2001:db8:1::1/64', natLink: '2001:db8:1::2/64', hubPublic: ['2001:db8:ffff::1', '2001:db8:ffff::2'],
  natInside: 'fd00:77::1/64', worker: 'fd00:77::2/64', table: 'ip6',
};

const bare = (cidr: string) => cidr.split('/')[0]!;
const hostPrefix = (f: Family) => (f.name === 'IPv4' ? '32' : '128');
const endpointOf = (f: Family, address: string) => (f.name === 'IPv4' ? `${address}:${HUB_PORT}` : `[${address}]:${HUB_PORT}`);
/** The name of the interface that has `address` in `ns`. */
const interfaceWith = (ns: Namespace, address: string) => ns.ip('-o', 'addr', 'show', 'to', address).trim().split(/\s+/)[1]!;

/** The hub with its public addresses on lo; `workers` namespaces each behind their own NAT, or direct. */
function network(world: World, f: Family, behindNat: boolean[]) {
  const hub = world.namespace('hub');
  for (const address of f.hubPublic) hub.ip('addr', 'add', `${address}/${hostPrefix(f)}`, 'dev', 'lo');
  const workers = behindNat.map((nat, i) => {
    const worker = world.namespace(`w${i}`);
    const hubLink = f.name === 'IPv4' ? `198.18.${i + 1}.1/24` : `2001:db8:${i + 1}::1/64`;
    const outside = f.name === 'IPv4' ? `198.18.${i + 1}.2/24` : `2001:db8:${i + 1}::2/64`;
    if (!nat) {
      world.link(hub, hubLink, worker, outside);
      worker.ip('route', 'add', f.name === 'IPv4' ? 'default' : '::/0', 'via', bare(hubLink));
      return worker;
    }
    const router = world.namespace(`nat${i}`);
    world.link(hub, hubLink, router, outside);
    world.link(router, f.natInside, worker, f.worker);
    const toHub = interfaceWith(router, bare(outside));
    router.exec('sysctl', ['-qw', f.name === 'IPv4' ? 'net.ipv4.ip_forward=1' : 'net.ipv6.conf.all.forwarding=1']);
    for (const address of f.hubPublic) router.ip('route', 'add', `${address}/${hostPrefix(f)}`, 'via', bare(hubLink));
    router.exec('nft', ['-f', '-'], `table ${f.table} nat {\n chain post {\n  type nat hook postrouting priority 100;\n  oifname "${toHub}" masquerade\n }\n}\n`);
    worker.ip('route', 'add', f.name === 'IPv4' ? 'default' : '::/0', 'via', bare(f.natInside));
    return worker;
  });
  return { hub, workers };
}

const inner = (i: number) => `10.203.0.${i + 2}`;

/** Hub and workers as WireGuard peers: hub 10.203.0.1, worker i at inner(i), writing to `targets[i]`. */
async function tunnels(world: World, dir: string, hubNs: Namespace, hubImpl: Implementation, workers: Array<{ ns: Namespace; impl: Implementation; target: string }>) {
  const hub = makeSide(world, dir, 'H', hubNs, '', '10.203.0.1');
  await startImplementation(world, hub, hubImpl);
  const sides: Side[] = [];
  for (const [i, w] of workers.entries()) {
    const side = makeSide(world, dir, `W${i}`, w.ns, '', inner(i));
    await startImplementation(world, side, w.impl);
    sides.push(side);
  }
  hubNs.exec('wg', ['set', hub.iface, 'private-key', hub.privateKeyFile, 'listen-port', String(HUB_PORT),
    ...sides.flatMap((s) => ['peer', s.publicKey, 'allowed-ips', `${s.inner}/32`])]);
  for (const [i, s] of sides.entries()) {
    s.ns.exec('wg', ['set', s.iface, 'private-key', s.privateKeyFile,
      'peer', hub.publicKey, 'allowed-ips', '10.203.0.0/24', 'endpoint', workers[i]!.target, 'persistent-keepalive', '25']);
  }
  for (const s of [hub, ...sides]) {
    s.ns.ip('addr', 'add', `${s.inner}/24`, 'dev', s.iface);
    s.ns.ip('link', 'set', s.iface, 'mtu', '1420', 'up');
  }
  return { hub, sides };
}

/** The hub's endpoint as the worker's WireGuard sees it: where the hub's datagrams came from. */
const hubSeenBy = (s: Side, hub: Side) => {
  const line = s.ns.exec('wg', ['show', s.iface, 'endpoints']).trim().split('\n').find((l) => l.startsWith(hub.publicKey));
  return line?.split('\t')[1];
};

describe.skipIf(skip)('sticky sources: replies leave from the address the peer wrote to', () => {
  const t = useWorld('wgvm-sticky-', TOOLS);

  for (const f of [V4, V6]) {
    for (const workerImpl of ['wireguard-go', 'wgvm'] as const) {
      it(`${f.name}: a worker (${workerImpl}) behind a NAT reaches a wgvm hub at its second address, pings and moves 100 MB`, async () => {
        const { hub: hubNs, workers } = network(t.world, f, [true]);
        const target = endpointOf(f, f.hubPublic[0]!);
        const { hub, sides } = await tunnels(t.world, t.dir, hubNs, 'wgvm', [{ ns: workers[0]!, impl: workerImpl, target }]);
        const [worker] = sides;
        expect(received(worker!.ns, hub.inner, 3)).toBe(3);
        expect(received(hubNs, worker!.inner, 3)).toBe(3);
        expect(hubSeenBy(worker!, hub)).toBe(target); // never roamed to the link's address
        const file = join(t.dir, 'payload');
        const sha256 = await randomFile(file, 100 << 20);
        const got = await sendFile(t.world, worker!.ns, hubNs, hub.inner, file, { connections: 1, timeoutMs: 120_000 });
        expect(got.bytes).toBe(100 << 20);
        expect(got.sha256).toBe(sha256);
      }, 180_000);
    }

    it(`${f.name}: two workers writing to two different hub addresses are each answered from theirs`, async () => {
      const { hub: hubNs, workers } = network(t.world, f, [false, false]);
      const targets = f.hubPublic.map((a) => endpointOf(f, a));
      const { hub, sides } = await tunnels(t.world, t.dir, hubNs, 'wgvm', [
        { ns: workers[0]!, impl: 'wireguard-go', target: targets[0]! },
        { ns: workers[1]!, impl: 'wgvm', target: targets[1]! },
      ]);
      for (const [i, side] of sides.entries()) {
        expect(received(side.ns, hub.inner, 3)).toBe(3);
        // Both roam to wherever the hub's datagrams come from: each still names the address it used.
        expect(hubSeenBy(side, hub)).toBe(targets[i]);
      }
      // Hub-initiated traffic too (not only replies) leaves from the remembered source.
      expect(received(hubNs, sides[0]!.inner, 2)).toBe(2);
      expect(hubSeenBy(sides[0]!, hub)).toBe(targets[0]);
    }, 120_000);

    it(`${f.name}: the address a worker uses is removed while traffic flows; the hub falls back and the worker recovers`, async () => {
      const { hub: hubNs, workers } = network(t.world, f, [false]);
      const target = endpointOf(f, f.hubPublic[0]!);
      const { hub, sides } = await tunnels(t.world, t.dir, hubNs, 'wgvm', [{ ns: workers[0]!, impl: 'wireguard-go', target }]);
      const [worker] = sides;
      expect(received(worker!.ns, hub.inner, 3)).toBe(3);
      expect(hubSeenBy(worker!, hub)).toBe(target);
      const flood = t.world.spawn(worker!.ns, 'ping', ['-i', '0.01', '-q', hub.inner]);
      hubNs.ip('addr', 'del', `${f.hubPublic[0]}/${hostPrefix(f)}`, 'dev', 'lo');
      // The hub still has a session; what it sends now cannot leave from the removed address. With
      // the source dropped it leaves from the kernel's choice, and the worker follows it there.
      expect(received(hubNs, worker!.inner, 3)).toBe(3);
      const fallback = endpointOf(f, bare(f.hubLink));
      expect(hubSeenBy(worker!, hub)).toBe(fallback);
      expect(received(worker!.ns, hub.inner, 3)).toBe(3);
      flood.kill('SIGINT');
      // Nothing was counted as a failed send: the datagrams went out without the source.
      const counters = hubNs.exec(process.execPath, [wgvmEntry, 'counters', hub.iface]);
      expect(counters).toMatch(/^udp_send_errors=0$/m);
      // And the hub still answers the worker.
      expect(received(worker!.ns, hub.inner, 2)).toBe(2);
    }, 120_000);
  }
});
