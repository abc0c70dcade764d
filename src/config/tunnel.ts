// The WireGuard side: the hub's interface, and what every worker config carries (AllowedIPs, DNS,
// keepalive, MTU).
import { parseIp, parseIpCidr, type Cidr } from '../domain/ip.js';
import { subnetContains } from '../domain/ipam.js';
import { INTERFACE_NAME_RULE, isInterfaceName } from '../domain/names.js';
import { parseThreads, THREADS_RULE } from '../domain/threads.js';
import type { Config } from './schema.js';
import { CONFIG_DEFAULTS } from './schema.js';
import type { Source } from './source.js';

export type TunnelConfig = Pick<Config, 'wgInterface' | 'allowedIps' | 'persistentKeepalive' | 'mtu' | 'threads' | 'peerDns' | 'directPaths'>;

/** The tunnel group; `network` gives ALLOWEDIPS's default and the hub address it should include. */
export function readTunnel(
  src: Source,
  network: Pick<Config, 'internalSubnet' | 'hubAddress' | 'hubAddressInt'>,
  warnings: string[],
): TunnelConfig {
  const wgInterface = readInterfaceName(src);
  const allowedIps = readAllowedIps(src);
  if (allowedIps !== null && !allowedIps.some((c) => c.family === 4 && subnetContains(c, network.hubAddressInt))) {
    warnings.push(`ALLOWEDIPS does not include the hub address ${network.hubAddress}: workers will not reach the hub or each other through the VPN`);
  }
  const persistentKeepalive = src.integer('PERSISTENTKEEPALIVE', 0, 65535, (v) => `${v} is not a number of seconds (0-65535; 0 turns keepalives off)`);
  // MTU: 1420 is WireGuard's default, 1500 minus the worst-case 80 bytes of overhead (IPv6 40 + UDP 8
  // + WireGuard 32). 1280 is the least a link carrying IPv6 may have (RFC 8200 §5), and below it
  // wg-quick and the kernel refuse IPv6 on the interface; 9000 is the usual jumbo-frame ceiling —
  // above the underlying path's MTU minus 80 every packet would be fragmented or dropped.
  const mtu = src.integer('MTU', 1280, 9000, (v) => `${v} is not an MTU (1280-9000)`);
  return {
    wgInterface,
    allowedIps: Object.freeze(allowedIps === null ? [network.internalSubnet.text] : allowedIps.map((c) => c.text)),
    persistentKeepalive,
    mtu,
    threads: readThreads(src),
    peerDns: Object.freeze(readPeerDns(src)),
    directPaths: src.flag('DIRECT_PATHS'),
  };
}

/** WGVM_THREADS: the hub's crypto threads. */
function readThreads(src: Source): number | 'auto' {
  const raw = src.get('WGVM_THREADS');
  const threads = parseThreads(raw?.value ?? CONFIG_DEFAULTS.WGVM_THREADS);
  if (threads === null) src.fail('WGVM_THREADS', raw, `${src.show(raw!.value)} is not a number of threads (${THREADS_RULE})`);
  return threads;
}

/** WG_INTERFACE: wg-quick's rule for interface names (Linux allows 15 bytes). */
function readInterfaceName(src: Source): string {
  const raw = src.get('WG_INTERFACE');
  const name = raw?.value ?? CONFIG_DEFAULTS.WG_INTERFACE;
  if (raw && !isInterfaceName(name)) src.fail('WG_INTERFACE', raw, `${src.show(name)} is not an interface name (${INTERFACE_NAME_RULE})`);
  return name;
}


/** ALLOWEDIPS: what workers route into the tunnel, without repeats; null when unset. */
function readAllowedIps(src: Source): Cidr[] | null {
  const raw = src.get('ALLOWEDIPS');
  if (!raw) return null;
  const prefixes: Cidr[] = [];
  src.eachItem('ALLOWEDIPS', raw, (item) => {
    const c = parseIpCidr(item);
    if (!c.ok) {
      const hint = c.why === 'host bits' ? ` (host bits set: did you mean ${c.hint}?)` : '';
      src.fail('ALLOWEDIPS', raw, `${src.show(item)} is not an IPv4 or IPv6 CIDR${hint}`);
    }
    if (!prefixes.some((p) => p.text === c.text)) prefixes.push(c);
  });
  return prefixes;
}

/** PEERDNS: DNS server addresses for the worker configs, without repeats. */
function readPeerDns(src: Source): string[] {
  const raw = src.get('PEERDNS');
  const servers: string[] = [];
  if (!raw) return servers;
  if (raw.value.trim().toLowerCase() === 'auto') {
    src.fail('PEERDNS', raw, '"auto" is not supported: list DNS server IP addresses separated by commas, or leave it unset');
  }
  src.eachItem('PEERDNS', raw, (item) => {
    const ip = parseIp(item);
    if (!ip) src.fail('PEERDNS', raw, `${src.show(item)} is not an IP address`);
    if (!servers.includes(ip.text)) servers.push(ip.text);
  });
  return servers;
}
