// Which name a question asks about: the zone's apex (the hub), a node in the zone, a VPN address in
// the reverse tree, or something the hub does not answer for. Names arrive as dns-packet decodes
// them: labels joined by dots, without the final dot.
import { formatIpv4 } from '../domain/ip.js';
import { subnetContains, type Subnet } from '../domain/ipam.js';

export type NameKind =
  | { kind: 'apex' }
  | { kind: 'node'; nodeId: string }
  /** A name in the zone that no node can have (more than one label below the apex). */
  | { kind: 'nowhere' }
  | { kind: 'reverse'; address: number }
  | { kind: 'outside' };

/** The zone's settings: VPN_DOMAIN and INTERNAL_SUBNET. */
export interface ZoneNames {
  /** Lower case, no final dot. */
  domain: string;
  subnet: Subnet;
}

// What can be echoed back faithfully: dns-packet joins labels with "." and decodes bytes as UTF-8,
// so a label holding a dot or a byte outside this set would not be written back as it came.
const PLAIN_NAME = /^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*-]+)*$/;

/** Whether `name` is made of plain ASCII labels (or is the root, "."). */
export function isPlainName(name: string): boolean {
  return name === '.' || (name.length <= 253 && PLAIN_NAME.test(name));
}

export function classifyName(name: string, zone: ZoneNames): NameKind {
  const lower = name.toLowerCase();
  if (lower === zone.domain) return { kind: 'apex' };
  if (lower.endsWith(`.${zone.domain}`)) {
    const below = lower.slice(0, -zone.domain.length - 1);
    return below.includes('.') ? { kind: 'nowhere' } : { kind: 'node', nodeId: below };
  }
  const address = reverseAddress(lower);
  if (address !== null && subnetContains(zone.subnet, address)) return { kind: 'reverse', address };
  return { kind: 'outside' };
}

/** d.c.b.a.in-addr.arpa → the address a.b.c.d (uint32); null for anything else. */
function reverseAddress(lower: string): number | null {
  const m = /^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.in-addr\.arpa$/.exec(lower);
  if (!m) return null;
  const octets = m.slice(1, 5).reverse();
  if (octets.some((o) => (o.length > 1 && o.startsWith('0')) || Number(o) > 255)) return null;
  return octets.reduce((a, o) => a * 256 + Number(o), 0);
}

/** The reverse name of an IPv4 address: 10.100.1.2 → 2.1.100.10.in-addr.arpa. */
export function reverseName(address: number): string {
  return `${formatIpv4(address).split('.').reverse().join('.')}.in-addr.arpa`;
}

/**
 * The reverse zone the subnet's addresses fall in, cut at an octet boundary (a /16 → 100.10.in-addr.arpa,
 * a /20 or /24 → the /16 or /24 around it): the owner of the SOA in negative reverse answers.
 */
export function reverseZone(subnet: Subnet): string {
  const octets = Math.max(1, Math.floor(subnet.prefix / 8));
  return `${formatIpv4(subnet.network).split('.').slice(0, octets).reverse().join('.')}.in-addr.arpa`;
}
