// The pairs the benchmark compares: two namespaces joined by veth, with a tunnel of the given
// implementations between them, or the plain link as the ceiling.
import { encodeKey, generatePrivateKey, publicKeyOf } from '../domain/keys.js';
import { uapiSet } from '../uapi/client.js';
import type { Namespace, World } from './netns.js';
import { startImplementation } from './tunnel.js';
import type { ImplementationInfo } from './versions.js';

export const PAIR_NAMES = ['wgvm', 'wireguard-go', 'wgvm-to-wireguard-go', 'wireguard-go-to-wgvm', 'veth', 'wireguard-go-debian'] as const;
export type PairName = (typeof PAIR_NAMES)[number];

/** The extra pair `--debian-wireguard-go` adds: the wireguard-go found in PATH (Debian's package here). */
export const DEBIAN_PAIR = 'wireguard-go-debian' satisfies PairName;

/**
 * The programs a run can put at a tunnel end: wgvm, the reference wireguard-go (`--wireguard-go`),
 * and the wireguard-go in PATH as an extra row.
 */
export type Contender = 'wgvm' | 'wireguard-go' | 'wireguard-go-debian';
export type Contenders = Partial<Record<Contender, ImplementationInfo>>;

export const PAIRS: Record<PairName, { client?: Contender; server?: Contender }> = {
  wgvm: { client: 'wgvm', server: 'wgvm' },
  'wireguard-go': { client: 'wireguard-go', server: 'wireguard-go' },
  'wgvm-to-wireguard-go': { client: 'wgvm', server: 'wireguard-go' },
  'wireguard-go-to-wgvm': { client: 'wireguard-go', server: 'wgvm' },
  veth: {},
  'wireguard-go-debian': { client: 'wireguard-go-debian', server: 'wireguard-go-debian' },
};

/** The row's name: "wgvm ↔ wgvm", "wireguard-go ↔ wireguard-go (0.0.20250522)", "wgvm → wireguard-go 0.0.20250522". */
export function pairLabel(name: PairName, contenders: Contenders): string {
  const { client, server } = PAIRS[name];
  if (!client || !server) return 'plain veth (no tunnel)';
  const c = contenders[client];
  const s = contenders[server];
  if (!c || !s) throw new Error(`pair ${name}: no ${!c ? client : server} to run`);
  if (c === s) return c.implementation === 'wgvm' ? 'wgvm ↔ wgvm' : `wireguard-go ↔ wireguard-go (${c.version})`;
  const short = (i: ImplementationInfo) => (i.implementation === 'wgvm' ? 'wgvm' : `wireguard-go ${i.version}`);
  return `${short(c)} → ${short(s)}`;
}

export interface PairSetup {
  client: Namespace;
  server: Namespace;
  /** The address the client sends to: the server's tunnel address, or its veth address for the plain link. */
  target: string;
  /** Processes carrying the tunnel (both sides), for CPU accounting. */
  tunnelPids: number[];
  /** The tunnel interfaces (client, server), whose UAPI sockets configure them; empty for the plain link. */
  ifaces: string[];
}

const UNDERLAY = ['198.18.0.1', '198.18.0.2'] as const;
const TUNNEL = ['10.210.0.1', '10.210.0.2'] as const;
const PORTS = [51820, 51821] as const;

/** An interface name unique to the world (the UAPI socket directory is shared by all namespaces). */
export function interfaceName(prefix: string, world: World, suffix = ''): string {
  const name = `${prefix}${world.id}${suffix}`;
  if (name.length > 15) throw new Error(`interface name ${name} is longer than 15 characters`);
  return name;
}

/** Pings `address` from `ns` until it answers (the first packet starts the handshake); throws `what` after 10 s. */
export function awaitTunnel(ns: Namespace, address: string, what: () => string): void {
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      ns.exec('ping', ['-c', '1', '-W', '1', address]);
      return;
    } catch {
      if (Date.now() > end) throw new Error(what());
    }
  }
}

export async function setUpPair(world: World, name: PairName, contenders: Contenders): Promise<PairSetup> {
  const client = world.namespace('c');
  const server = world.namespace('s');
  world.link(client, `${UNDERLAY[0]}/24`, server, `${UNDERLAY[1]}/24`);
  const pair = PAIRS[name];
  if (!pair.client || !pair.server) return { client, server, target: UNDERLAY[1], tunnelPids: [], ifaces: [] };

  const sides = [
    { ns: client, impl: contenders[pair.client]!, iface: interfaceName('wbc', world), key: generatePrivateKey() },
    { ns: server, impl: contenders[pair.server]!, iface: interfaceName('wbs', world), key: generatePrivateKey() },
  ];
  const pids: number[] = [];
  for (const s of sides) {
    const child = await startImplementation(world, s.ns, s.iface, s.impl.implementation, { wireguardGo: s.impl.binary, threads: s.impl.threads });
    pids.push(child.pid!);
  }
  const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');
  for (const [i, s] of sides.entries()) {
    const other = sides[1 - i]!;
    await uapiSet(
      s.iface,
      [
        `private_key=${hex(s.key)}`,
        `listen_port=${PORTS[i]}`,
        `public_key=${hex(publicKeyOf(other.key))}`,
        `allowed_ip=${TUNNEL[1 - i]}/32`,
        `endpoint=${UNDERLAY[1 - i]}:${PORTS[1 - i]}`,
      ].join('\n'),
    );
    s.ns.ip('addr', 'add', `${TUNNEL[i]}/24`, 'dev', s.iface);
    s.ns.ip('link', 'set', s.iface, 'mtu', '1420', 'up');
  }
  awaitTunnel(
    client,
    TUNNEL[1],
    () => `the ${pairLabel(name, contenders)} tunnel did not come up (no reply from ${TUNNEL[1]} within 10 s; keys ${encodeKey(publicKeyOf(sides[0]!.key)).slice(0, 8)}…)`,
  );
  return { client, server, target: TUNNEL[1], tunnelPids: pids, ifaces: sides.map((s) => s.iface) };
}
