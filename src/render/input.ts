// What every renderer gets: one worker's installation data, and the one place it is validated.
//
// The installers are scripts: every value that reaches them is either checked against a narrow
// character set here (keys, addresses, node id, numbers, interface name) or treated as free text
// (description, URLs) that the script never parses — see windows.ts and posix-shell.ts.
import { isIP } from 'node:net';
import { isValidKey } from '../keys.js';
import { NODE_ID_PATTERN, RegistryError } from '../nodes/model.js';

export interface WorkerInstall {
  /** wg-quick interface name and Windows tunnel name, e.g. 'wg0'. */
  interfaceName: string;
  nodeId: string;
  description: string;
  centralServerUrl: string | null;
  /** The worker's VPN address, e.g. '10.100.1.2'. */
  vpnIp: string;
  /** null: the worker registered its own public key; the hub never had the private key. */
  privateKey: string | null;
  presharedKey: string;
  /** PEERDNS; may be empty. */
  dns: readonly string[];
  mtu: number;
  hubPublicKey: string;
  /** SERVERURL:SERVERPORT, e.g. 'vpn.example.com:41820'; an IPv6 literal is bracketed. */
  endpoint: string;
  /** ALLOWEDIPS, default ['10.100.0.0/16']. */
  allowedIps: readonly string[];
  /** Seconds; 0 turns it off (the line is then left out). */
  persistentKeepalive: number;
  /** The hub's VPN address; the installers ping it at the end. */
  hubVpnIp: string;
  /** SERVERPORT, for the Windows firewall rule. */
  serverPort: number;
  /** INTERNAL_SUBNET, for the Windows firewall rule. */
  subnet: string;
  /** Where the config can be fetched with an install token; only mentioned in the .sh header. */
  configUrl?: string;
}

/** A value the installers cannot carry safely. A RegistryError('invalid'), so the API answers 400. */
export class InstallInputError extends RegistryError {
  constructor(field: string, message: string) {
    super('invalid', `${field}: ${message}`, field);
    this.name = 'InstallInputError';
  }
}

/** Longest description, in UTF-16 code units (keeps every .bat line far below cmd's 8191). */
export const MAX_DESCRIPTION_LENGTH = 1024;
export const MAX_URL_LENGTH = 2048;

// wg-quick's own rule for interface names (and a valid Windows tunnel name).
const INTERFACE_PATTERN = /^[A-Za-z0-9_=+.-]{1,15}$/;
// C0 controls (newline, CR, tab, NUL…), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const HOST_LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`);
// RFC 3986 characters only: no space, quote, backslash, caret, backtick, braces, pipe, angle brackets.
const URL_CHARS = /^[A-Za-z0-9._~:/?#[\]@!$&'()*+,;=%-]+$/;

/**
 * Free text (the description): any printable Unicode, at most MAX_DESCRIPTION_LENGTH.
 * Newlines and other control characters are REJECTED, not replaced: silently changing what
 * the admin typed would make the worker's DESCRIPTION differ from the registry's.
 */
export function checkFreeText(field: string, value: string, max = MAX_DESCRIPTION_LENGTH): void {
  if (typeof value !== 'string') throw new InstallInputError(field, 'must be a string');
  if (value.length > max) throw new InstallInputError(field, `at most ${max} characters`);
  if (CONTROL.test(value)) {
    throw new InstallInputError(field, 'must not contain newlines, tabs or other control characters');
  }
  if (LONE_SURROGATE.test(value)) throw new InstallInputError(field, 'is not valid Unicode');
}

/** An http(s) URL made of RFC 3986 characters only. */
export function checkHttpUrl(field: string, value: string): void {
  checkFreeText(field, value, MAX_URL_LENGTH);
  if (!URL_CHARS.test(value)) throw new InstallInputError(field, 'contains characters a URL cannot hold');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InstallInputError(field, 'is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InstallInputError(field, 'must be an http:// or https:// URL');
  }
}

/** An IPv4 or IPv6 address without zone (digits, hex, '.' and ':' only). */
export function isPlainIp(value: string): boolean {
  return /^[0-9A-Fa-f:.]{2,45}$/.test(value) && isIP(value) !== 0;
}

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
  return isPlainIp(m[1]!) || HOSTNAME.test(m[1]!);
}

function checkInt(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InstallInputError(field, `must be an integer from ${min} to ${max}`);
  }
}

function checkKey(field: string, value: string): void {
  if (typeof value !== 'string' || !isValidKey(value)) {
    throw new InstallInputError(field, 'must be a WireGuard key (32 bytes of base64)');
  }
}

/** Throws InstallInputError naming the first field an installer cannot carry safely. */
export function checkWorkerInstall(i: WorkerInstall): void {
  if (!INTERFACE_PATTERN.test(i.interfaceName)) {
    throw new InstallInputError('interfaceName', 'must be 1-15 of A-Z a-z 0-9 _ = + . -');
  }
  if (!NODE_ID_PATTERN.test(i.nodeId)) {
    throw new InstallInputError('nodeId', `must match ${NODE_ID_PATTERN.source}`);
  }
  checkFreeText('description', i.description);
  if (i.centralServerUrl !== null) checkHttpUrl('centralServerUrl', i.centralServerUrl);
  if (i.configUrl !== undefined) checkHttpUrl('configUrl', i.configUrl);
  if (!isPlainIp(i.vpnIp)) throw new InstallInputError('vpnIp', 'must be an IP address');
  if (!isPlainIp(i.hubVpnIp)) throw new InstallInputError('hubVpnIp', 'must be an IP address');
  if (i.privateKey !== null) checkKey('privateKey', i.privateKey);
  checkKey('presharedKey', i.presharedKey);
  checkKey('hubPublicKey', i.hubPublicKey);
  for (const d of i.dns) {
    if (!isPlainIp(d) && !HOSTNAME.test(d)) {
      throw new InstallInputError('dns', `${JSON.stringify(d)} is neither an IP address nor a search domain`);
    }
  }
  checkInt('mtu', i.mtu, 576, 65535);
  if (!isEndpoint(i.endpoint)) {
    throw new InstallInputError('endpoint', 'must be host:port (an IPv6 address in brackets)');
  }
  if (i.allowedIps.length === 0) throw new InstallInputError('allowedIps', 'must not be empty');
  for (const a of i.allowedIps) {
    if (!isCidr(a)) throw new InstallInputError('allowedIps', `${JSON.stringify(a)} is not address/prefix`);
  }
  checkInt('persistentKeepalive', i.persistentKeepalive, 0, 65535);
  checkInt('serverPort', i.serverPort, 1, 65535);
  if (!isCidr(i.subnet)) throw new InstallInputError('subnet', 'must be address/prefix');
}
