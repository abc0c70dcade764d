// Where workers reach the hub: SERVERURL (or a guess from LOCAL_SERVER_IP or this host's interfaces)
// and SERVERPORT, making the Endpoint of every worker config.
import { networkInterfaces as osNetworkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { formatIpv4, formatIpv6, parseIp, parseIpv4, parseIpv6 } from '../domain/ip.js';
import { subnetContains, type Subnet } from '../domain/ipam.js';
import { isHostName } from '../domain/names.js';
import { ConfigError } from './error.js';
import type { Config, LoadConfigOptions } from './schema.js';
import type { Source } from './source.js';

export type ServerConfig = Pick<
  Config,
  'serverUrl' | 'serverHost' | 'serverUrlGuessed' | 'serverUrlSource' | 'serverPort' | 'endpoint' | 'localServerIp'
>;

/** A host as workers reach it; family 0 for a host name. */
type Host = { host: string; family: 4 | 6 | 0 };

/** The server address group; what was guessed, or looks wrong, goes into `warnings`. */
export function readServer(src: Source, subnet: Subnet, options: LoadConfigOptions, warnings: string[]): ServerConfig {
  const serverPort = src.port('SERVERPORT');
  const localServerIp = readLocalServerIp(src);
  const { host, source } = chooseHost(src, localServerIp, subnet, options);
  const serverHost = host.family === 6 ? `[${host.host}]` : host.host;
  if (source !== 'SERVERURL') {
    const from = source === 'LOCAL_SERVER_IP' ? 'LOCAL_SERVER_IP' : "this host's first non-internal IPv4 address";
    warnings.push(`SERVERURL is not set: worker configs will use ${host.host} (${from}); set SERVERURL to the hub's public address`);
  }
  if ((host.family === 4 && host.host.startsWith('127.')) || (host.family === 6 && host.host === '::1') || host.host === 'localhost') {
    warnings.push(`SERVERURL ${host.host} is a loopback address: only this host can use the worker configs`);
  }
  return {
    serverUrl: host.host,
    serverHost,
    serverUrlGuessed: source !== 'SERVERURL',
    serverUrlSource: source,
    serverPort,
    endpoint: `${serverHost}:${serverPort}`,
    localServerIp,
  };
}

/**
 * LOCAL_SERVER_IP: an IP address of this host (the .env files of the system hubs ran before this one
 * set it next to SERVERURL).
 */
function readLocalServerIp(src: Source): string | null {
  const raw = src.get('LOCAL_SERVER_IP');
  if (!raw) return null;
  const ip = parseIp(raw.value);
  if (!ip) src.fail('LOCAL_SERVER_IP', raw, `${src.show(raw.value)} is not an IP address`);
  return ip.text;
}

/** SERVERURL, or else LOCAL_SERVER_IP, or else a guess from this host's interfaces. */
function chooseHost(
  src: Source,
  localServerIp: string | null,
  subnet: Subnet,
  options: LoadConfigOptions,
): { host: Host; source: Config['serverUrlSource'] } {
  const raw = src.get('SERVERURL');
  if (raw) {
    const parsed = parseServerHost(raw.value);
    if (typeof parsed === 'string') src.fail('SERVERURL', raw, `${src.show(raw.value)} ${parsed}`);
    if (parsed.host === '0.0.0.0' || parsed.host === '::') {
      src.fail('SERVERURL', raw, `${src.show(raw.value)} is the unspecified address; workers cannot connect to it`);
    }
    return { host: parsed, source: 'SERVERURL' };
  }
  if (localServerIp !== null) {
    return { host: { host: localServerIp, family: localServerIp.includes(':') ? 6 : 4 }, source: 'LOCAL_SERVER_IP' };
  }
  const guess = guessHostAddress(options.networkInterfaces ?? osNetworkInterfaces, subnet);
  if (guess === null) {
    throw new ConfigError(
      'SERVERURL',
      "not set, and neither LOCAL_SERVER_IP nor a non-internal IPv4 address of this host can stand in; set it to the hub's public host name or IP address",
    );
  }
  return { host: { host: guess, family: 4 }, source: 'network-interface' };
}

/** SERVERURL: a host name, an IPv4 address, or an IPv6 address (bare or in brackets); no scheme, port or path. */
function parseServerHost(value: string): Host | string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) {
    return 'must be a host name or IP address without a scheme (e.g. vpn.example.com or 203.0.113.7)';
  }
  if (value.includes('/')) return 'must be a host name or IP address without a path';
  const bracketed = /^\[([^\]]*)\](.*)$/.exec(value);
  if (bracketed) {
    if (bracketed[2] !== '') {
      return /^:[0-9]*$/.test(bracketed[2]!) ? 'must not include a port (the port is SERVERPORT)' : 'is not a valid IPv6 address';
    }
    const v6 = parseIpv6(bracketed[1]!);
    return v6 === null ? 'is not a valid IPv6 address' : { host: formatIpv6(v6), family: 6 };
  }
  if (value.includes(':')) {
    const v6 = parseIpv6(value);
    if (v6 !== null) return { host: formatIpv6(v6), family: 6 };
    if (/^[^:]+:[0-9]*$/.test(value)) return 'must not include a port (the port is SERVERPORT)';
    return 'is not a valid IPv6 address';
  }
  if (/^[0-9.]+$/.test(value)) {
    const v4 = parseIpv4(value);
    return v4 === null ? 'is not a valid IPv4 address (four numbers 0-255, no leading zeros)' : { host: formatIpv4(v4), family: 4 };
  }
  if (!isHostName(value)) return 'is not a valid host name (dot-separated labels of letters, digits and inner hyphens)';
  return { host: value, family: 0 };
}

/** This host's first non-internal IPv4 address that a worker could reach, or null. */
function guessHostAddress(list: () => NodeJS.Dict<NetworkInterfaceInfo[]>, subnet: Subnet): string | null {
  let interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>;
  try {
    interfaces = list();
  } catch {
    return null;
  }
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      // Node 18.0-18.3 reported family as a number.
      const family = info.family as string | number;
      if (info.internal || (family !== 'IPv4' && family !== 4)) continue;
      const n = parseIpv4(info.address);
      if (n === null) continue;
      if (n >>> 16 === 0xa9fe) continue; // 169.254/16 link-local: no worker can reach it
      if (subnetContains(subnet, n)) continue; // our own VPN interface
      return formatIpv4(n);
    }
  }
  return null;
}
