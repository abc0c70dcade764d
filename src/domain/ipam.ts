// IPv4 address management for the VPN: subnets and ranges, and picking free addresses. Pure
// functions on uint32 addresses (parsed and written by ./ip.ts); errors are plain `Error`s whose
// message the caller prefixes with where the text came from.
import { formatIpv4, ipv4Mask, parseIpv4 } from './ip.js';

/** An IPv4 subnet: `network` has no host bits set. */
export interface Subnet {
  network: number; // uint32
  prefix: number;
}

/** An inclusive range of IPv4 addresses. */
export interface AddressRange {
  first: number; // uint32
  last: number; // uint32
}

// A VPN subnet needs the hub and at least one worker between its network and broadcast addresses,
// so /31 and /32 make no sense; wider than /8 (16M addresses) is certainly a typo.
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 30;

/** Dotted-quad text → uint32, strictly (see parseIpv4); throws when it is not one. */
export function ipToInt(text: string): number {
  const address = parseIpv4(text);
  if (address === null) throw new Error(`"${text}" is not an IPv4 address (expected four numbers 0-255, e.g. 10.100.0.1)`);
  return address;
}

export function intToIp(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${value} is not a uint32 IPv4 address`);
  }
  return formatIpv4(value);
}

/**
 * Parses "10.100.0.0/16". Host bits are accepted and masked off ("10.100.0.1/16", as written in a
 * wg-quick Address line, means the same subnet); the prefix must be MIN_PREFIX..MAX_PREFIX.
 */
export function parseCidr(text: string): Subnet {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  if (slash < 0) throw new Error(`"${text}" is not a subnet (expected address/prefix, e.g. 10.100.0.0/16)`);
  const address = ipToInt(trimmed.slice(0, slash));
  const prefixText = trimmed.slice(slash + 1);
  if (!/^[0-9]{1,2}$/.test(prefixText)) {
    throw new Error(`"${text}" has no valid prefix length after "/" (expected ${MIN_PREFIX}-${MAX_PREFIX})`);
  }
  const prefix = Number(prefixText);
  if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) {
    throw new Error(`"${text}": prefix /${prefix} is outside /${MIN_PREFIX}-/${MAX_PREFIX} for a VPN subnet`);
  }
  return { network: (address & ipv4Mask(prefix)) >>> 0, prefix };
}

export function formatCidr(subnet: Subnet): string {
  return `${intToIp(subnet.network)}/${subnet.prefix}`;
}

export function broadcastAddress(subnet: Subnet): number {
  return (subnet.network | ~ipv4Mask(subnet.prefix)) >>> 0;
}

/** The addresses a host may use: everything but the network and broadcast addresses. */
export function usableRange(subnet: Subnet): AddressRange {
  return { first: subnet.network + 1, last: broadcastAddress(subnet) - 1 };
}

/** The hub takes the first usable address: 10.100.0.1 in 10.100.0.0/16. */
export function hubAddress(subnet: Subnet): number {
  return subnet.network + 1;
}

export function subnetContains(subnet: Subnet, address: number): boolean {
  return ((address & ipv4Mask(subnet.prefix)) >>> 0) === subnet.network;
}

/**
 * The two ends of "10.100.1.2-10.100.1.254" (space around either end allowed) in the order written,
 * or null when the text is not two IPv4 addresses joined by "-". Callers check the order.
 */
export function readRange(text: string): AddressRange | null {
  const parts = text.split('-');
  if (parts.length !== 2) return null;
  const first = parseIpv4(parts[0]!.trim());
  const last = parseIpv4(parts[1]!.trim());
  return first === null || last === null ? null : { first, last };
}

/** Parses "10.100.1.2-10.100.1.254" (inclusive; a single address "a-a" is allowed); throws saying why not. */
export function parseRange(text: string): AddressRange {
  const range = readRange(text);
  if (range === null) {
    const parts = text.split('-');
    // Two parts: one of them is not an address, and ipToInt says which.
    if (parts.length === 2) for (const part of parts) ipToInt(part.trim());
    throw new Error(`"${text}" is not an address range (expected first-last, e.g. 10.100.1.2-10.100.1.254)`);
  }
  if (range.first > range.last) throw new Error(`"${text}": the first address is above the last`);
  return range;
}

export function formatRange(range: AddressRange): string {
  return `${intToIp(range.first)}–${intToIp(range.last)}`;
}

export function rangeSize(range: AddressRange): number {
  return range.last - range.first + 1;
}

/** True when every address of the range is a usable host address of the subnet. */
export function rangeInside(range: AddressRange, subnet: Subnet): boolean {
  const usable = usableRange(subnet);
  return range.first >= usable.first && range.last <= usable.last;
}

/** Throws a message saying why the range does not fit the subnet. */
export function assertRangeInside(range: AddressRange, subnet: Subnet): void {
  if (rangeInside(range, subnet)) return;
  throw new Error(
    `${formatRange(range)} is not inside ${formatCidr(subnet)} ` +
      `(usable addresses are ${formatRange(usableRange(subnet))})`,
  );
}

/**
 * The lowest address from `start` to the end of the range that is neither used nor excluded, or null
 * when there is none. `usedAscending` yields used addresses in ascending order (an index scan) and
 * is read only up to the first gap: when everything below `start` is known to be taken, finding the
 * next free address costs the addresses visited, not the size of the registry.
 */
export function lowestFreeFrom(range: AddressRange, start: number, usedAscending: Iterable<number>, exclude: ReadonlySet<number>): number | null {
  let candidate = Math.max(start, range.first);
  const skipExcluded = () => {
    while (candidate <= range.last && exclude.has(candidate)) candidate++;
  };
  skipExcluded();
  for (const used of usedAscending) {
    if (candidate > range.last) return null;
    if (used > candidate) return candidate; // a gap below this used address
    if (used === candidate) {
      candidate++;
      skipExcluded();
    }
  }
  return candidate <= range.last ? candidate : null;
}
