// The pairs the benchmark compares: two namespaces joined by veth, with a tunnel of the given
// implementations between them, or the plain link as the ceiling.
import { encodeKey, generatePrivateKey, publicKeyOf } from '../domain/keys.js';
import { uapiSet } from '../uapi/client.js';
import type { Namespace, World } from './netns.js';
import { startImplementation, type Implementation } from './tunnel.js';

export const PAIR_NAMES = ['wgvm', 'wireguard-go', 'wgvm-to-wireguard-go', 'wireguard-go-to-wgvm', 'veth'] as const;
export type PairName = (typeof PAIR_NAMES)[number];

export const PAIRS: Record<PairName, { label: string; client?: Implementation; server?: Implementation }> = {
  wgvm: { label: 'wgvm ↔ wgvm', client: 'wgvm', server: 'wgvm' },
  'wireguard-go': { label: 'wireguard-go ↔ wireguard-go', client: 'wireguard-go', server: 'wireguard-go' },
  'wgvm-to-wireguard-go': { label: 'wgvm → wireguard-go', client: 'wgvm', server: 'wireguard-go' },
  'wireguard-go-to-wgvm': { label: 'wireguard-go → wgvm', client: 'wireguard-go', server: 'wgvm' },
  veth: { label: 'plain veth (no tunnel)' },
};

export interface PairSetup {
  client: Namespace;
  server: Namespace;
  /** The address the client sends to: the server's tunnel address, or its veth address for the plain link. */
  target: string;
  /** Processes carrying the tunnel (both sides), for CPU accounting. */
  tunnelPids: number[];
}

const UNDERLAY = ['198.18.0.1', '198.18.0.2'] as const;
const TUNNEL = ['10.210.0.1', '10.210.0.2'] as const;
const PORTS = [51820, 51821] as const;

export async function setUpPair(world: World, name: PairName): Promise<PairSetup> {
  const client = world.namespace('c');
  const server = world.namespace('s');
  world.link(client, `${UNDERLAY[0]}/24`, server, `${UNDERLAY[1]}/24`);
  const pair = PAIRS[name];
  if (!pair.client || !pair.server) return { client, server, target: UNDERLAY[1], tunnelPids: [] };

  const sides = [
    { ns: client, impl: pair.client, iface: `wbc${world.id}`.slice(0, 15), key: generatePrivateKey() },
    { ns: server, impl: pair.server, iface: `wbs${world.id}`.slice(0, 15), key: generatePrivateKey() },
  ];
  const pids: number[] = [];
  for (const s of sides) pids.push((await startImplementation(world, s.ns, s.iface, s.impl)).pid!);
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
  // The first packet starts the handshake; a tunnel that does not answer within 10 s is broken.
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      client.exec('ping', ['-c', '1', '-W', '1', TUNNEL[1]]);
      break;
    } catch {
      if (Date.now() > end) {
        throw new Error(`the ${pair.label} tunnel did not come up (no reply from ${TUNNEL[1]} within 10 s; keys ${encodeKey(publicKeyOf(sides[0]!.key)).slice(0, 8)}…)`);
      }
    }
  }
  return { client, server, target: TUNNEL[1], tunnelPids: pids };
}
