// IP addresses and prefixes as the hub reads them from people and files: one module for every layer.
import { isIP } from 'node:net';
import { isLookupName } from './names.js';

/** An IPv4 or IPv6 address without zone (digits, hex, '.' and ':' only). */
export function isPlainIp(value: string): boolean {
  return /^[0-9A-Fa-f:.]{2,45}$/.test(value) && isIP(value) !== 0;
}

/** address/prefix, IPv4 or IPv6, the prefix within the family's length. */
export function isCidr(value: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!m || !isPlainIp(m[1]!)) return false;
  const prefix = Number(m[2]);
  return prefix <= (isIP(m[1]!) === 4 ? 32 : 128);
}

/** host:port, host being a DNS name, an IPv4 address or a bracketed IPv6 address. */
export function isEndpoint(value: string): boolean {
  const m = /^(\[([0-9A-Fa-f:.]+)\]|[^:[\]]+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return false;
  if (m[2] !== undefined) return isIP(m[2]) === 6;
  return isPlainIp(m[1]!) || isLookupName(m[1]!);
}
