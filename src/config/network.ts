// The VPN's addresses: INTERNAL_SUBNET, the hub's address in it, and WORKER_IP_RANGE, the addresses
// workers are given.
import { formatIpv4, parseIpCidr } from '../domain/ip.js';
import { broadcastAddress, hubAddress, MAX_PREFIX, MIN_PREFIX, readRange, subnetContains, type AddressRange, type Subnet } from '../domain/ipam.js';
import type { Config, Ipv4Range, Ipv4Subnet } from './schema.js';
import { CONFIG_DEFAULTS } from './schema.js';
import type { Source } from './source.js';

export type NetworkConfig = Pick<Config, 'internalSubnet' | 'hubAddress' | 'hubAddressInt' | 'workerRange'>;

export function readNetwork(src: Source): NetworkConfig {
  const internalSubnet = readSubnet(src);
  const hubAddressInt = hubAddress(internalSubnet);
  const { first, last } = readWorkerRange(src, internalSubnet) ?? defaultWorkerRange(internalSubnet);
  const workerRange: Ipv4Range = Object.freeze({ first, last, size: last - first + 1, text: `${formatIpv4(first)}-${formatIpv4(last)}` });
  return { internalSubnet, hubAddress: formatIpv4(hubAddressInt), hubAddressInt, workerRange };
}

/** INTERNAL_SUBNET: IPv4 only, written as its network address; /8 to /30. */
function readSubnet(src: Source): Ipv4Subnet {
  const raw = src.get('INTERNAL_SUBNET');
  const text = raw?.value ?? CONFIG_DEFAULTS.INTERNAL_SUBNET;
  const cidr = parseIpCidr(text);
  if (!cidr.ok || cidr.family !== 4 || !text.includes('/')) {
    const hint = !cidr.ok && cidr.why === 'host bits' ? ` (host bits set: did you mean ${cidr.hint}?)` : ' (expected an IPv4 CIDR, e.g. 10.100.0.0/16)';
    src.fail('INTERNAL_SUBNET', raw, `${src.show(text)} is not an IPv4 subnet${hint}`);
  }
  if (cidr.prefix < MIN_PREFIX || cidr.prefix > MAX_PREFIX) {
    src.fail('INTERNAL_SUBNET', raw, `${src.show(text)}: the prefix must be /${MIN_PREFIX} to /${MAX_PREFIX}`);
  }
  return Object.freeze({ network: cidr.network, prefix: cidr.prefix, text: cidr.text });
}

/** WORKER_IP_RANGE, or null when unset: inside the subnet's host addresses, without the hub's. */
function readWorkerRange(src: Source, subnet: Ipv4Subnet): AddressRange | null {
  const raw = src.get('WORKER_IP_RANGE');
  if (!raw) return null;
  const shown = src.show(raw.value);
  const fail: (detail: string) => never = (detail) => src.fail('WORKER_IP_RANGE', raw, detail);
  const range = readRange(raw.value);
  if (range === null) fail(`${shown} is not an IPv4 range (expected FIRST-LAST, e.g. 10.100.1.2-10.100.1.254)`);
  const { first, last } = range;
  if (first > last) fail(`${shown}: the first address is above the last`);
  for (const end of [first, last]) {
    if (!subnetContains(subnet, end)) fail(`${shown}: ${formatIpv4(end)} is outside INTERNAL_SUBNET ${subnet.text}`);
  }
  const hub = hubAddress(subnet);
  if (first <= hub && hub <= last) fail(`${shown} contains the hub address ${formatIpv4(hub)}`);
  if (first === subnet.network) fail(`${shown} contains the subnet's network address ${formatIpv4(first)}`);
  // The hub's kernel treats the last address of the subnet as broadcast: a worker there is unreachable.
  if (last === broadcastAddress(subnet)) fail(`${shown} contains the subnet's broadcast address ${formatIpv4(last)}`);
  return range;
}

/**
 * The worker range when WORKER_IP_RANGE is unset: x.x.1.2-x.x.1.254 relative to the subnet
 * (10.100.1.2-10.100.1.254 for 10.100.0.0/16, the range of the system hubs ran before this one) when
 * the subnet is /23 or wider, else every host address after the hub's. So changing only
 * INTERNAL_SUBNET never needs a second edit.
 */
export function defaultWorkerRange(subnet: Subnet): { first: number; last: number } {
  if (subnet.prefix <= 23) return { first: subnet.network + 258, last: subnet.network + 510 };
  return { first: subnet.network + 2, last: broadcastAddress(subnet) - 1 };
}
