// A hub relaying between several worker pairs at once: one hub namespace, 2K worker namespaces each
// joined to it by veth. Every worker has the hub as its only peer (AllowedIPs the tunnel subnet); the
// hub has each worker as a peer (/32). K iperf3 TCP streams run at once, worker A_i → hub → worker
// B_i. A wgvm hub relays inside the device (ip_forward stays 0); a wireguard-go hub hands the packet
// to its TUN and the kernel forwards it back out of the same TUN (ip_forward=1).
import { generatePrivateKey, publicKeyOf } from '../domain/keys.js';
import { uapiSet } from '../uapi/client.js';
import { cpuSeconds, iperfServer, tcpClient } from './measure.js';
import { withWorld, type Namespace } from './netns.js';
import { awaitTunnel, interfaceName, type Contender, type Contenders } from './pairs.js';
import type { HubRelayResult } from './report-rows.js';
import { summarize } from './stats.js';
import { startImplementation } from './tunnel.js';
import type { ImplementationInfo } from './versions.js';

const SUBNET = '10.240.0.0/24';
const HUB_ADDRESS = '10.240.0.1';
const workerAddress = (i: number) => `10.240.0.${10 + i}`;
/** Worker i's veth to the hub: 198.18.(i+1).0/24, hub .1, worker .2. */
const underlay = (i: number, side: 1 | 2) => `198.18.${i + 1}.${side}`;
const PORT = 51820;

const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');

interface Node {
  ns: Namespace;
  iface: string;
  key: Uint8Array;
  pid: number;
}

async function start(world: Parameters<typeof startImplementation>[0], ns: Namespace, iface: string, info: ImplementationInfo): Promise<Node> {
  const child = await startImplementation(world, ns, iface, info.implementation, { wireguardGo: info.binary, threads: info.threads });
  return { ns, iface, key: generatePrivateKey(), pid: child.pid! };
}

export async function measureHubRelay(
  hubContender: Contender,
  contenders: Contenders,
  workerPairs: number,
  runs: number,
  seconds: number,
  report: (line: string) => void,
): Promise<HubRelayResult> {
  const hubInfo = contenders[hubContender]!;
  const workerInfo = contenders.wgvm!;
  const kernelForwarding = hubInfo.implementation !== 'wgvm';
  const label = `hub ${hubInfo.implementation === 'wgvm' ? 'wgvm' : `wireguard-go ${hubInfo.version}`}, ${2 * workerPairs} wgvm workers`;
  const aggregate: number[] = [];
  const slowest: number[] = [];
  const cpuPerGB: number[] = [];
  for (let run = 1; run <= runs; run++) {
    await withWorld('wgvmb', async (world) => {
      const hubNs = world.namespace('h');
      const workerNs = Array.from({ length: 2 * workerPairs }, (_, i) => world.namespace(`w${i}`));
      workerNs.forEach((ns, i) => world.link(hubNs, `${underlay(i, 1)}/24`, ns, `${underlay(i, 2)}/24`));
      if (kernelForwarding) {
        hubNs.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.default.send_redirects=0']);
      }
      const hub = await start(world, hubNs, interfaceName('wbh', world), hubInfo);
      const workers = await Promise.all(workerNs.map((ns, i) => start(world, ns, interfaceName('wbw', world, String(i)), workerInfo)));

      const hubConfig = [`private_key=${hex(hub.key)}`, `listen_port=${PORT}`];
      workers.forEach((w, i) => hubConfig.push(`public_key=${hex(publicKeyOf(w.key))}`, `allowed_ip=${workerAddress(i)}/32`, `endpoint=${underlay(i, 2)}:${PORT}`));
      await uapiSet(hub.iface, hubConfig.join('\n'));
      await Promise.all(
        workers.map((w, i) =>
          uapiSet(w.iface, [`private_key=${hex(w.key)}`, `listen_port=${PORT}`, `public_key=${hex(publicKeyOf(hub.key))}`, `allowed_ip=${SUBNET}`, `endpoint=${underlay(i, 1)}:${PORT}`].join('\n')),
        ),
      );
      for (const [node, address] of [[hub, HUB_ADDRESS], ...workers.map((w, i) => [w, workerAddress(i)] as const)] as const) {
        node.ns.ip('addr', 'add', `${address}/24`, 'dev', node.iface);
        node.ns.ip('link', 'set', node.iface, 'mtu', '1420', 'up');
      }
      // Forwarding as the row claims: none in the kernel for the wgvm hub.
      const forwarding = hubNs.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim() === '1';
      if (forwarding !== kernelForwarding) throw new Error(`hub namespace has ip_forward=${forwarding ? 1 : 0}, expected ${kernelForwarding ? 1 : 0}`);

      const pairs = Array.from({ length: workerPairs }, (_, i) => ({ from: workers[2 * i]!, to: 2 * i + 1 }));
      for (const { from, to } of pairs) {
        awaitTunnel(from.ns, workerAddress(to), () => `${label}: worker ${to - 1} does not reach worker ${to} through the hub within 10 s`);
      }
      for (const { to } of pairs) await iperfServer(world, workers[to]!.ns, workerAddress(to));
      const cpu0 = cpuSeconds(hub.pid);
      const results = await Promise.all(pairs.map(({ from, to }) => tcpClient(from.ns, workerAddress(to), seconds)));
      const cpu1 = cpuSeconds(hub.pid);
      const bytes = results.reduce((s, r) => s + r.bytes, 0);
      aggregate.push(results.reduce((s, r) => s + r.gbps, 0));
      slowest.push(Math.min(...results.map((r) => r.gbps)));
      cpuPerGB.push((cpu1 - cpu0) / (bytes / 1e9));
      report(
        `${label} run ${run}/${runs}: ${workerPairs} TCP streams through the hub, ${aggregate.at(-1)!.toFixed(2)} Gbit/s together ` +
          `(${results.map((r) => r.gbps.toFixed(2)).join(' + ')}), hub ${cpuPerGB.at(-1)!.toFixed(2)} CPU s per GB`,
      );
    });
  }
  return {
    label,
    hub: hubInfo,
    workers: workerInfo,
    workerPairs,
    kernelForwarding,
    aggregateGbps: summarize(aggregate),
    slowestPairGbps: summarize(slowest),
    hubCpuSecondsPerGB: summarize(cpuPerGB),
  };
}
