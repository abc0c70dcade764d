// IP addresses and prefixes as the hub reads them from people and files: one module for every layer.
// Parsing is strict on purpose: IPv4 is four decimal numbers without leading zeros (inet_aton reads
// "010" as octal), IPv6 has no zone and no other shorthand than "::"; IPv6 is written back in its
// RFC 5952 form, so one address always has one text.
import { isLookupName } from './names.js';

/** A parsed address: IPv4 as a uint32, IPv6 as a 128-bit integer; `text` is its canonical form. */
export type Ip = { family: 4; value: number; text: string } | { family: 6; value: bigint; text: string };

const OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const ALL_ONES_128 = (1n << 128n) - 1n;

/** Dotted-quad IPv4 text → uint32, or null. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The netmask of an IPv4 prefix length as a uint32 (/24 → 0xffffff00). */
export function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The netmask of an IPv6 prefix length as a 128-bit integer. */
export function ipv6Mask(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL_ONES_128 << BigInt(128 - prefix)) & ALL_ONES_128;
}

/** Colon-separated hex groups ("" for none), or null when one is not 1-4 hex digits. */
function hexGroups(part: string): number[] | null {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (!HEX_GROUP.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** IPv6 text (with "::" and an optional dotted-quad tail; no zone) → 128-bit integer, or null. */
export function parseIpv6(text: string): bigint | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null;
  let s = text;
  if (s.includes('.')) {
    // "::ffff:192.0.2.7": the dotted quad stands for the last two groups.
    const colon = s.lastIndexOf(':');
    const v4 = parseIpv4(s.slice(colon + 1));
    if (colon < 0 || v4 === null) return null;
    s = `${s.slice(0, colon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  let groups: number[];
  if (halves.length === 1) {
    const g = hexGroups(s);
    if (!g || g.length !== 8) return null;
    groups = g;
  } else if (halves.length === 2) {
    const a = hexGroups(halves[0]!);
    const b = hexGroups(halves[1]!);
    if (!a || !b || a.length + b.length > 7) return null;
    groups = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else {
    return null;
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(16 * (7 - i))) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** An IPv4 or IPv6 address, or null. */
export function parseIp(text: string): Ip | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, value: v4, text: formatIpv4(v4) };
  const v6 = parseIpv6(text);
  if (v6 !== null) return { family: 6, value: v6, text: formatIpv6(v6) };
  return null;
}

/** An IPv4-mapped IPv6 address (::ffff:192.0.2.7) as the IPv4 address it stands for; any other as it is. */
export function unmapIpv4(ip: Ip): Ip {
  if (ip.family === 4 || ip.value >> 32n !== 0xffffn) return ip;
  const v4 = Number(ip.value & 0xffffffffn);
  return { family: 4, value: v4, text: formatIpv4(v4) };
}

/** A parsed prefix; `network` has no host bits, `text` is canonical ("fd00::/64"). */
export type Cidr =
  | { ok: true; family: 4; network: number; prefix: number; text: string }
  | { ok: true; family: 6; network: bigint; prefix: number; text: string };
/** Why text is not a prefix: a bad address or prefix length, or host bits set (`hint`: the network meant). */
export type CidrError = { ok: false; why: 'address' | 'prefix' } | { ok: false; why: 'host bits'; hint: string };

/**
 * "a.b.c.d/n" or "v6/n", strictly: the prefix in plain decimal within the family's length, and host
 * bits are an error. A bare address means /32 or /128 (as in wg-quick).
 */
export function parseIpCidr(text: string): Cidr | CidrError {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return { ok: false, why: 'address' };
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) return { ok: false, why: 'prefix' };
    prefix = Number(p);
  }
  if (ip.family === 4) {
    const network = (ip.value & ipv4Mask(prefix)) >>> 0;
    if (network !== ip.value) return { ok: false, why: 'host bits', hint: `${formatIpv4(network)}/${prefix}` };
    return { ok: true, family: 4, network, prefix, text: `${ip.text}/${prefix}` };
  }
  const network = ip.value & ipv6Mask(prefix);
  if (network !== ip.value) return { ok: false, why: 'host bits', hint: `${formatIpv6(network)}/${prefix}` };
  return { ok: true, family: 6, network, prefix, text: `${ip.text}/${prefix}` };
}

/** An IPv4 or IPv6 address without zone (digits, hex, '.' and ':' only). */
export function isPlainIp(value: string): boolean {
  return parseIp(value) !== null;
}

/** address/prefix, IPv4 or IPv6, the prefix within the family's length (host bits allowed). */
export function isCidr(value: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  const ip = m ? parseIp(m[1]!) : null;
  return ip !== null && Number(m![2]) <= (ip.family === 4 ? 32 : 128);
}

/**
 * "host:port" split in two, the port 1-65535: an IPv6 host in brackets ("[2001:db8::1]:51820", the
 * brackets taken off, `bracketed` true), any other without ":" or brackets. The host is not checked.
 */
export function splitEndpoint(value: string): { host: string; bracketed: boolean; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return m[1] !== undefined ? { host: m[1], bracketed: true, port } : { host: m[2]!, bracketed: false, port };
}

/** host:port, host being a DNS name, an IPv4 address or a bracketed IPv6 address. */
export function isEndpoint(value: string): boolean {
  const endpoint = splitEndpoint(value);
  if (!endpoint) return false;
  if (endpoint.bracketed) return parseIpv6(endpoint.host) !== null;
  return isPlainIp(endpoint.host) || isLookupName(endpoint.host);
}
