// Environment → typed, validated configuration.
//
// Variable names are the seed's (SERVERURL, SERVERPORT, LOCAL_SERVER_IP, API_TOKEN, INTERNAL_SUBNET)
// plus ours. Values come from the process environment and from a `.env` file in the working
// directory; the environment wins. An empty value (or one of only spaces) counts as unset
// everywhere, so `API_TOKEN=` in a copied .env.example, or `API_TOKEN=${API_TOKEN}` passed through by
// docker-compose, falls back to the .env value or the default instead of failing.
//
// Every bad value throws a ConfigError whose message is one line: "VARIABLE: what is wrong". The
// value of API_TOKEN never appears in any message (nor does any line of the .env file).
import { readFileSync } from 'node:fs';
import { networkInterfaces as osNetworkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { resolve } from 'node:path';
import { formatIpv4, formatIpv6, ipv4Mask, parseIpCidr, parseIp, parseIpv4, parseIpv6 } from '../domain/ip.js';
import { parsePasswordHash } from '../domain/password.js';

// ───────────────────────────────────────────── types ─────────────────────────────────────────────

/** An IPv4 subnet. `network` (uint32) has no host bits set; `text` is "10.100.0.0/16". */
export interface Ipv4Subnet {
  readonly network: number;
  readonly prefix: number;
  readonly text: string;
}

/** An inclusive range of IPv4 addresses (uint32), `text` "10.100.1.2-10.100.1.254". */
export interface Ipv4Range {
  readonly first: number;
  readonly last: number;
  /** Number of addresses in the range. */
  readonly size: number;
  readonly text: string;
}

export interface Config {
  /**
   * SERVERURL: the hub's public host as workers reach it — a host name, an IPv4 address, or an IPv6
   * address in canonical form without brackets ("2001:db8::1"). To build an endpoint or a URL use
   * `endpoint` / `serverHost`, which bracket an IPv6 address.
   */
  readonly serverUrl: string;
  /** serverUrl as the host part of an endpoint or URL: IPv6 in brackets ("[2001:db8::1]"). */
  readonly serverHost: string;
  /** True when SERVERURL was not set and serverUrl was taken from LOCAL_SERVER_IP or a host interface. */
  readonly serverUrlGuessed: boolean;
  /** Where serverUrl came from. */
  readonly serverUrlSource: 'SERVERURL' | 'LOCAL_SERVER_IP' | 'network-interface';
  /** SERVERPORT: the hub's UDP port. */
  readonly serverPort: number;
  /** The Endpoint written into worker configs: `${serverHost}:${serverPort}`, e.g. "[2001:db8::1]:41820". */
  readonly endpoint: string;
  /** LOCAL_SERVER_IP (canonical text), or null. */
  readonly localServerIp: string | null;
  /** API_TOKEN, or null (the caller generates and keeps one). Never log it. */
  readonly apiToken: string | null;
  /** INTERNAL_SUBNET. */
  readonly internalSubnet: Ipv4Subnet;
  /** The hub's VPN address: the first address of the subnet, "10.100.0.1". */
  readonly hubAddress: string;
  /** The same as a uint32. */
  readonly hubAddressInt: number;
  /** WG_INTERFACE. */
  readonly wgInterface: string;
  /** API_PORT (TCP). */
  readonly apiPort: number;
  /** DASHBOARD_PORT (TCP). */
  readonly dashboardPort: number;
  /** DATA_DIR, absolute. */
  readonly dataDir: string;
  /** WORKER_IP_RANGE. */
  readonly workerRange: Ipv4Range;
  /** ALLOWEDIPS: canonical CIDRs (IPv4 and/or IPv6) that workers route into the tunnel. */
  readonly allowedIps: readonly string[];
  /** PERSISTENTKEEPALIVE in seconds; 0 = off. */
  readonly persistentKeepalive: number;
  /** MTU of the hub's interface and of the worker configs. */
  readonly mtu: number;
  /** PEERDNS: DNS servers for the worker configs (canonical IP text); empty = no DNS line. */
  readonly peerDns: readonly string[];
  /** PUBLIC_STATUS: whether GET /api/vpn/status needs no API key. */
  readonly publicStatus: boolean;
  /** PUBLIC_METRICS: whether GET /metrics needs no API key (it lists every node ID). */
  readonly publicMetrics: boolean;
  /** TRUST_PROXY: proxies (addresses or CIDRs) whose X-Forwarded-For/-Proto the hub believes; empty: none. */
  readonly trustProxy: readonly string[];
  /** LOG_LEVEL: the least severe level logged (pino's names), or silent. */
  readonly logLevel: LogLevel;
  /** INSTALL_TOKEN_TTL in seconds. */
  readonly installTokenTtl: number;
  /** INSTALL_TOKEN_USES. */
  readonly installTokenUses: number;
  /** ADMIN_PASSWORD_HASH (checked to be a well-formed scrypt hash), or null. Never log it. */
  readonly adminPasswordHash: string | null;
  /** Lines the caller should print at start-up (a guessed SERVERURL, suspicious values). */
  readonly warnings: readonly string[];
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The defaults, as they would be written in a .env file. */
export const CONFIG_DEFAULTS = Object.freeze({
  SERVERPORT: '41820',
  INTERNAL_SUBNET: '10.100.0.0/16',
  WG_INTERFACE: 'wg0',
  API_PORT: '8090',
  DASHBOARD_PORT: '5000',
  DATA_DIR: './data',
  /** For the default subnet; see defaultWorkerRange() for other subnets. */
  WORKER_IP_RANGE: '10.100.1.2-10.100.1.254',
  /** ALLOWEDIPS defaults to INTERNAL_SUBNET. */
  PERSISTENTKEEPALIVE: '25',
  MTU: '1420',
  PUBLIC_STATUS: 'true',
  PUBLIC_METRICS: 'false',
  LOG_LEVEL: 'info',
  INSTALL_TOKEN_TTL: '86400',
  INSTALL_TOKEN_USES: '5',
});

/** Every variable loadConfig reads. */
export const CONFIG_VARIABLES = Object.freeze([
  'SERVERURL',
  'SERVERPORT',
  'LOCAL_SERVER_IP',
  'API_TOKEN',
  'INTERNAL_SUBNET',
  'WG_INTERFACE',
  'API_PORT',
  'DASHBOARD_PORT',
  'DATA_DIR',
  'WORKER_IP_RANGE',
  'ALLOWEDIPS',
  'PERSISTENTKEEPALIVE',
  'MTU',
  'PEERDNS',
  'PUBLIC_STATUS',
  'PUBLIC_METRICS',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'INSTALL_TOKEN_TTL',
  'INSTALL_TOKEN_USES',
  'ADMIN_PASSWORD_HASH',
] as const);

/** A bad configuration value. `variable` is the variable's name, or ".env:<line>" for the file. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    // One line, whatever reached the message.
    super(`${variable}: ${detail}`.replace(/[\r\n\u0085\u2028\u2029]+/g, ' '));
  }
}

export interface LoadConfigOptions {
  /** The host's interfaces, for guessing SERVERURL; os.networkInterfaces by default. */
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** The .env file, relative to cwd (default ".env"); false to read none. */
  envFile?: string | false;
}

// ─────────────────────────────────────────── .env files ──────────────────────────────────────────

export interface DotEnvEntry {
  readonly value: string;
  /** 1-based line number. */
  readonly line: number;
}

// Escapes understood inside double quotes; any other backslash is kept as written.
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses .env text: KEY=VALUE lines, blank lines, `#` comment lines, an optional `export ` prefix,
 * values bare, 'single-quoted' (literal) or "double-quoted" (\n \t \r \" \\ \$ escapes), and a
 * trailing `# comment` after a value (for a bare value the `#` must follow whitespace, as in the
 * shell: `KEY=a#b` is "a#b"). A later line for the same key wins. Errors name `<label>:<line>` and
 * never quote the line, which may hold a secret.
 */
export function parseDotEnv(text: string, label = '.env'): Map<string, DotEnvEntry> {
  const out = new Map<string, DotEnvEntry>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const fail = (detail: string): never => {
      throw new ConfigError(`${label}:${line}`, detail);
    };
    let s = lines[i]!.trim();
    if (s === '' || s.startsWith('#')) continue;
    const exported = /^export\s+/.exec(s);
    if (exported) s = s.slice(exported[0].length);
    const eq = s.indexOf('=');
    if (eq < 0) fail('not a KEY=VALUE line (no "=")');
    const key = s.slice(0, eq).trimEnd();
    if (!NAME.test(key)) fail('the name before "=" is not a variable name (letters, digits and _, not starting with a digit)');
    const rest = s.slice(eq + 1);
    const body = rest.trimStart();
    let value: string;
    if (body.startsWith('"') || body.startsWith("'")) {
      const quote = body[0]!;
      let j = 1;
      let v = '';
      for (; j < body.length; j++) {
        const c = body[j]!;
        if (quote === '"' && c === '\\' && j + 1 < body.length) {
          const next = body[j + 1]!;
          v += DOUBLE_QUOTE_ESCAPES[next] ?? `\\${next}`;
          j++;
          continue;
        }
        if (c === quote) break;
        v += c;
      }
      if (j >= body.length) {
        fail(`unterminated ${quote === '"' ? 'double' : 'single'} quote in the value of ${key} (values are one line)`);
      }
      const after = body.slice(j + 1);
      if (!/^(\s+#.*|\s*)$/.test(after)) fail(`unexpected text after the closing quote in the value of ${key}`);
      value = v;
    } else if (body.startsWith('#') && body.length < rest.length) {
      value = ''; // KEY=   # only a comment
    } else {
      const comment = body.search(/\s#/);
      value = (comment >= 0 ? body.slice(0, comment) : body).trim();
    }
    out.set(key, { value, line });
  }
  return out;
}

function readDotEnv(cwd: string, file: string): Map<string, DotEnvEntry> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new Map();
    throw new ConfigError(file, `cannot read ${path} (${code ?? (err as Error).message})`);
  }
  return parseDotEnv(text, file);
}

// ─────────────────────────────────────────── validation ──────────────────────────────────────────

interface Raw {
  readonly value: string;
  /** ".env:4" when the value came from the file, null when from the environment. */
  readonly from: string | null;
}

class Source {
  private secret: string | null = null;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: Map<string, DotEnvEntry>,
    private readonly label: string,
  ) {}

  /** The value of a variable: the environment's if set and not blank, else the file's, else undefined. */
  get(name: string): Raw | undefined {
    const e = this.env[name];
    if (e !== undefined && e.trim() !== '') return { value: e.trim(), from: null };
    const f = this.file.get(name);
    if (f !== undefined && f.value.trim() !== '') return { value: f.value, from: `${this.label}:${f.line}` };
    return undefined;
  }

  /** From now on, show() hides any value containing this. */
  hide(secret: string): void {
    this.secret = secret;
  }

  /** A value quoted for a message: one line, at most 80 characters, never the API token. */
  show(value: string): string {
    if (this.secret !== null && value.includes(this.secret)) return '(a value containing API_TOKEN, not shown)';
    const short = value.length > 80 ? `${value.slice(0, 77)}…` : value;
    return JSON.stringify(short).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }

  fail(name: string, raw: Raw | undefined, detail: string): never {
    throw new ConfigError(name, raw?.from ? `${detail} (set in ${raw.from})` : detail);
  }

  /** An integer written in plain decimal (no sign, no leading zeros, no exponent) within [min, max]. */
  integer(name: string, fallback: number, min: number, max: number, what: (shown: string) => string): number {
    const raw = this.get(name);
    if (!raw) return fallback;
    const ok = /^(0|[1-9][0-9]{0,15})$/.test(raw.value);
    const n = ok ? Number(raw.value) : NaN;
    if (!ok || n < min || n > max) this.fail(name, raw, what(this.show(raw.value)));
    return n;
  }

  port(name: string, fallback: number): number {
    return this.integer(name, fallback, 1, 65535, (v) => `${v} is not a port (1-65535)`);
  }
}

const WG_INTERFACE_PATTERN = /^[A-Za-z0-9_=+.-]{1,15}$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const THIRTY_DAYS = 30 * 24 * 3600;

type Host = { host: string; family: 4 | 6 | 0 };

/** SERVERURL: a host name, an IPv4 address, or an IPv6 address (bare or in brackets); no scheme, port or path. */
function parseServerHost(value: string): Host | string {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) {
    return 'must be a host name or IP address without a scheme (e.g. vpn.example.com or 203.0.113.7)';
  }
  if (value.includes('/')) return 'must be a host name or IP address without a path';
  let s = value;
  const bracketed = /^\[([^\]]*)\](.*)$/.exec(s);
  if (bracketed) {
    if (bracketed[2] !== '') {
      return /^:[0-9]*$/.test(bracketed[2]!) ? 'must not include a port (the port is SERVERPORT)' : 'is not a valid IPv6 address';
    }
    s = bracketed[1]!;
    const v6 = parseIpv6(s);
    return v6 === null ? 'is not a valid IPv6 address' : { host: formatIpv6(v6), family: 6 };
  }
  if (s.includes(':')) {
    const v6 = parseIpv6(s);
    if (v6 !== null) return { host: formatIpv6(v6), family: 6 };
    if (/^[^:]+:[0-9]*$/.test(s)) return 'must not include a port (the port is SERVERPORT)';
    return 'is not a valid IPv6 address';
  }
  if (/^[0-9.]+$/.test(s)) {
    const v4 = parseIpv4(s);
    return v4 === null ? 'is not a valid IPv4 address (four numbers 0-255, no leading zeros)' : { host: formatIpv4(v4), family: 4 };
  }
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => HOST_LABEL.test(l))) {
    return 'is not a valid host name (dot-separated labels of letters, digits and inner hyphens)';
  }
  return { host: s, family: 0 };
}

/**
 * The worker range when WORKER_IP_RANGE is unset: the seed's layout x.x.1.2-x.x.1.254 relative to
 * the subnet (10.100.1.2-10.100.1.254 for 10.100.0.0/16) when the subnet is /23 or wider, else
 * every host address after the hub's. So changing only INTERNAL_SUBNET never needs a second edit.
 */
export function defaultWorkerRange(subnet: { network: number; prefix: number }): { first: number; last: number } {
  if (subnet.prefix <= 23) return { first: subnet.network + 258, last: subnet.network + 510 };
  const broadcast = (subnet.network | ~ipv4Mask(subnet.prefix)) >>> 0;
  return { first: subnet.network + 2, last: broadcast - 1 };
}

function guessHostAddress(list: () => NodeJS.Dict<NetworkInterfaceInfo[]>, subnet: Ipv4Subnet): string | null {
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
      if (((n & ipv4Mask(subnet.prefix)) >>> 0) === subnet.network) continue; // our own VPN interface
      return formatIpv4(n);
    }
  }
  return null;
}

function readConfig(src: Source, cwd: string, options: LoadConfigOptions): Config {
  const warnings: string[] = [];

  // API_TOKEN first: once it is known, no later message can show it.
  const tokenRaw = src.get('API_TOKEN');
  let apiToken: string | null = null;
  if (tokenRaw) {
    const t = tokenRaw.value;
    if (t.length >= 4) src.hide(t);
    // It travels in an HTTP header (X-API-Key / Authorization), hence printable ASCII only.
    if (/\s/.test(t)) src.fail('API_TOKEN', tokenRaw, 'must not contain whitespace');
    if (!/^[\x21-\x7e]+$/.test(t)) src.fail('API_TOKEN', tokenRaw, 'must be printable ASCII (it is sent in an HTTP header)');
    if (t.length < 16) src.fail(
        'API_TOKEN',
        tokenRaw,
        `must be at least 16 characters (it has ${t.length}); e.g. \`openssl rand -base64 24\`, or leave it unset to have one generated`,
      );
    apiToken = t;
  }

  // WG_INTERFACE: Linux allows 15 bytes (IFNAMSIZ - 1); the character set is wg-quick's.
  const ifRaw = src.get('WG_INTERFACE');
  const wgInterface = ifRaw?.value ?? CONFIG_DEFAULTS.WG_INTERFACE;
  if (ifRaw && !WG_INTERFACE_PATTERN.test(wgInterface)) {
    src.fail('WG_INTERFACE', ifRaw, `${src.show(wgInterface)} is not an interface name (1-15 of A-Z a-z 0-9 _ = + . -)`);
  }

  const serverPort = src.port('SERVERPORT', 41820);
  const apiPort = src.port('API_PORT', 8090);
  const dashboardPort = src.port('DASHBOARD_PORT', 5000);
  if (apiPort === dashboardPort) {
    // Blame the one that was set (DASHBOARD_PORT when both were).
    const dash = src.get('DASHBOARD_PORT');
    if (dash) src.fail('DASHBOARD_PORT', dash, `${dashboardPort} is also API_PORT; the two must differ`);
    src.fail('API_PORT', src.get('API_PORT'), `${apiPort} is also DASHBOARD_PORT; the two must differ`);
  }

  // INTERNAL_SUBNET: IPv4 only; /8 to /30 (a /31 or /32 has no room for the hub and a worker).
  const subnetRaw = src.get('INTERNAL_SUBNET');
  const subnetText = subnetRaw?.value ?? CONFIG_DEFAULTS.INTERNAL_SUBNET;
  const sn = parseIpCidr(subnetText);
  if (!sn.ok || sn.family !== 4 || !subnetText.includes('/')) {
    const hint = !sn.ok && sn.why === 'host bits' ? ` (host bits set: did you mean ${sn.hint}?)` : ' (expected an IPv4 CIDR, e.g. 10.100.0.0/16)';
    src.fail('INTERNAL_SUBNET', subnetRaw, `${src.show(subnetText)} is not an IPv4 subnet${hint}`);
  }
  if (sn.prefix < 8 || sn.prefix > 30) {
    src.fail('INTERNAL_SUBNET', subnetRaw, `${src.show(subnetText)}: the prefix must be /8 to /30`);
  }
  const internalSubnet: Ipv4Subnet = Object.freeze({ network: sn.network, prefix: sn.prefix, text: sn.text });
  const hubAddressInt = internalSubnet.network + 1;
  const hubAddress = formatIpv4(hubAddressInt);
  const broadcast = (internalSubnet.network | ~ipv4Mask(internalSubnet.prefix)) >>> 0;

  // WORKER_IP_RANGE: inside the subnet's host addresses, without the hub's.
  const rangeRaw = src.get('WORKER_IP_RANGE');
  let first: number;
  let last: number;
  if (rangeRaw) {
    const shown = src.show(rangeRaw.value);
    const parts = rangeRaw.value.split('-');
    const a = parts.length === 2 ? parseIpv4(parts[0]!.trim()) : null;
    const b = parts.length === 2 ? parseIpv4(parts[1]!.trim()) : null;
    if (a === null || b === null) {
      src.fail('WORKER_IP_RANGE', rangeRaw, `${shown} is not an IPv4 range (expected FIRST-LAST, e.g. 10.100.1.2-10.100.1.254)`);
    }
    if (a > b) src.fail('WORKER_IP_RANGE', rangeRaw, `${shown}: the first address is above the last`);
    const inside = (n: number) => ((n & ipv4Mask(internalSubnet.prefix)) >>> 0) === internalSubnet.network;
    for (const n of [a, b]) {
      if (!inside(n)) src.fail('WORKER_IP_RANGE', rangeRaw, `${shown}: ${formatIpv4(n)} is outside INTERNAL_SUBNET ${internalSubnet.text}`);
    }
    if (a <= hubAddressInt && hubAddressInt <= b) {
      src.fail('WORKER_IP_RANGE', rangeRaw, `${shown} contains the hub address ${hubAddress}`);
    }
    if (a === internalSubnet.network) {
      src.fail('WORKER_IP_RANGE', rangeRaw, `${shown} contains the subnet's network address ${formatIpv4(a)}`);
    }
    // The hub's kernel treats the last address of the subnet as broadcast: a worker there is unreachable.
    if (b === broadcast) {
      src.fail('WORKER_IP_RANGE', rangeRaw, `${shown} contains the subnet's broadcast address ${formatIpv4(b)}`);
    }
    first = a;
    last = b;
  } else {
    ({ first, last } = defaultWorkerRange(internalSubnet));
  }
  const workerRange: Ipv4Range = Object.freeze({ first, last, size: last - first + 1, text: `${formatIpv4(first)}-${formatIpv4(last)}` });

  // LOCAL_SERVER_IP: an IP address of this host (the seed sets it next to SERVERURL).
  const localRaw = src.get('LOCAL_SERVER_IP');
  let localServerIp: string | null = null;
  if (localRaw) {
    const ip = parseIp(localRaw.value);
    if (!ip) src.fail('LOCAL_SERVER_IP', localRaw, `${src.show(localRaw.value)} is not an IP address`);
    localServerIp = ip.text;
  }

  // SERVERURL, or a guess that the caller is told about.
  const urlRaw = src.get('SERVERURL');
  let host: Host;
  let serverUrlSource: Config['serverUrlSource'];
  if (urlRaw) {
    const parsed = parseServerHost(urlRaw.value);
    if (typeof parsed === 'string') src.fail('SERVERURL', urlRaw, `${src.show(urlRaw.value)} ${parsed}`);
    if (parsed.host === '0.0.0.0' || parsed.host === '::') {
      src.fail('SERVERURL', urlRaw, `${src.show(urlRaw.value)} is the unspecified address; workers cannot connect to it`);
    }
    host = parsed;
    serverUrlSource = 'SERVERURL';
  } else if (localServerIp !== null) {
    host = { host: localServerIp, family: localServerIp.includes(':') ? 6 : 4 };
    serverUrlSource = 'LOCAL_SERVER_IP';
  } else {
    const guess = guessHostAddress(options.networkInterfaces ?? osNetworkInterfaces, internalSubnet);
    if (guess === null) {
      throw new ConfigError(
        'SERVERURL',
        "not set, and neither LOCAL_SERVER_IP nor a non-internal IPv4 address of this host can stand in; set it to the hub's public host name or IP address",
      );
    }
    host = { host: guess, family: 4 };
    serverUrlSource = 'network-interface';
  }
  const serverUrl = host.host;
  const serverHost = host.family === 6 ? `[${host.host}]` : host.host;
  const serverUrlGuessed = serverUrlSource !== 'SERVERURL';
  if (serverUrlGuessed) {
    const from = serverUrlSource === 'LOCAL_SERVER_IP' ? 'LOCAL_SERVER_IP' : "this host's first non-internal IPv4 address";
    warnings.push(`SERVERURL is not set: worker configs will use ${serverUrl} (${from}); set SERVERURL to the hub's public address`);
  }
  if ((host.family === 4 && host.host.startsWith('127.')) || (host.family === 6 && host.host === '::1') || host.host === 'localhost') {
    warnings.push(`SERVERURL ${serverUrl} is a loopback address: only this host can use the worker configs`);
  }

  // ALLOWEDIPS: what workers route into the tunnel.
  const allowedRaw = src.get('ALLOWEDIPS');
  let allowedIps: string[];
  if (allowedRaw) {
    allowedIps = [];
    for (const item of allowedRaw.value.split(',').map((x) => x.trim())) {
      if (item === '') src.fail('ALLOWEDIPS', allowedRaw, 'has an empty entry (a doubled or trailing comma?)');
      const c = parseIpCidr(item);
      if (!c.ok) {
        const hint = c.why === 'host bits' ? ` (host bits set: did you mean ${c.hint}?)` : '';
        src.fail('ALLOWEDIPS', allowedRaw, `${src.show(item)} is not an IPv4 or IPv6 CIDR${hint}`);
      }
      if (!allowedIps.includes(c.text)) allowedIps.push(c.text);
    }
    const coversHub = allowedIps.some((text) => {
      const c = parseIpCidr(text);
      return c.ok && c.family === 4 && ((hubAddressInt & ipv4Mask(c.prefix)) >>> 0) === c.network;
    });
    if (!coversHub) {
      warnings.push(`ALLOWEDIPS does not include the hub address ${hubAddress}: workers will not reach the hub or each other through the VPN`);
    }
  } else {
    allowedIps = [internalSubnet.text];
  }

  const persistentKeepalive = src.integer('PERSISTENTKEEPALIVE', 25, 0, 65535, (v) => `${v} is not a number of seconds (0-65535; 0 turns keepalives off)`);

  // MTU: 1420 is WireGuard's default, 1500 minus the worst-case 80 bytes of overhead (IPv6 40 + UDP 8
  // + WireGuard 32). 1280 is the least a link carrying IPv6 may have (RFC 8200 §5), and below it
  // wg-quick and the kernel refuse IPv6 on the interface; 9000 is the usual jumbo-frame ceiling —
  // above the underlying path's MTU minus 80 every packet would be fragmented or dropped.
  const mtu = src.integer('MTU', 1420, 1280, 9000, (v) => `${v} is not an MTU (1280-9000)`);

  const dnsRaw = src.get('PEERDNS');
  const peerDns: string[] = [];
  if (dnsRaw) {
    if (dnsRaw.value.trim().toLowerCase() === 'auto') {
      src.fail('PEERDNS', dnsRaw, '"auto" is not supported: list DNS server IP addresses separated by commas, or leave it unset');
    }
    for (const item of dnsRaw.value.split(',').map((x) => x.trim())) {
      if (item === '') src.fail('PEERDNS', dnsRaw, 'has an empty entry (a doubled or trailing comma?)');
      const ip = parseIp(item);
      if (!ip) src.fail('PEERDNS', dnsRaw, `${src.show(item)} is not an IP address`);
      if (!peerDns.includes(ip.text)) peerDns.push(ip.text);
    }
  }

  const flag = (name: 'PUBLIC_STATUS' | 'PUBLIC_METRICS', fallback: boolean): boolean => {
    const raw = src.get(name);
    if (!raw) return fallback;
    const w = raw.value.toLowerCase();
    if (TRUE_WORDS.has(w)) return true;
    if (FALSE_WORDS.has(w)) return false;
    return src.fail(name, raw, `${src.show(raw.value)} is not true or false`);
  };
  const publicStatus = flag('PUBLIC_STATUS', true);
  const publicMetrics = flag('PUBLIC_METRICS', false);

  // TRUST_PROXY: the TLS proxy in front of the hub (docs/deployment.md), by address or CIDR.
  const proxyRaw = src.get('TRUST_PROXY');
  const trustProxy: string[] = [];
  if (proxyRaw && !FALSE_WORDS.has(proxyRaw.value.toLowerCase())) {
    for (const item of proxyRaw.value.split(',').map((x) => x.trim())) {
      if (item === '') src.fail('TRUST_PROXY', proxyRaw, 'has an empty entry (a doubled or trailing comma?)');
      const ip = item.includes('/') ? null : parseIp(item);
      const cidr = ip ? null : parseIpCidr(item);
      if (!ip && !cidr?.ok) {
        src.fail('TRUST_PROXY', proxyRaw, `${src.show(item)} is not an IP address or CIDR (the proxies the hub may believe; "true" would believe anyone)`);
      }
      trustProxy.push(ip ? ip.text : (cidr as { text: string }).text);
    }
  }

  const levelRaw = src.get('LOG_LEVEL');
  const logLevel = (levelRaw?.value.toLowerCase() ?? 'info') as LogLevel;
  if (levelRaw && !LOG_LEVELS.includes(logLevel)) src.fail('LOG_LEVEL', levelRaw, `${src.show(levelRaw.value)} is not one of ${LOG_LEVELS.join(', ')}`);

  const installTokenTtl = src.integer(
    'INSTALL_TOKEN_TTL',
    86400,
    60,
    THIRTY_DAYS,
    (v) => `${v} is not a lifetime in seconds (60-${THIRTY_DAYS}, i.e. 1 minute to 30 days)`,
  );
  const installTokenUses = src.integer('INSTALL_TOKEN_USES', 5, 1, 100, (v) => `${v} is not a number of uses (1-100)`);

  const dataRaw = src.get('DATA_DIR');
  if (dataRaw?.value.includes('\0')) src.fail('DATA_DIR', dataRaw, 'must not contain a NUL character');
  const dataDir = resolve(cwd, dataRaw?.value ?? CONFIG_DEFAULTS.DATA_DIR);

  const hashRaw = src.get('ADMIN_PASSWORD_HASH');
  const adminPasswordHash = hashRaw?.value ? hashRaw.value : null;
  if (adminPasswordHash !== null) {
    try {
      parsePasswordHash(adminPasswordHash);
    } catch (err) {
      // The message never quotes the value: it is a secret's hash.
      src.fail('ADMIN_PASSWORD_HASH', hashRaw, (err as Error).message);
    }
  }

  return Object.freeze({
    serverUrl,
    serverHost,
    serverUrlGuessed,
    serverUrlSource,
    serverPort,
    endpoint: `${serverHost}:${serverPort}`,
    localServerIp,
    apiToken,
    internalSubnet,
    hubAddress,
    hubAddressInt,
    wgInterface,
    apiPort,
    dashboardPort,
    dataDir,
    workerRange,
    allowedIps: Object.freeze(allowedIps),
    persistentKeepalive,
    mtu,
    peerDns: Object.freeze(peerDns),
    publicStatus,
    publicMetrics,
    trustProxy: Object.freeze(trustProxy),
    logLevel,
    installTokenTtl,
    installTokenUses,
    adminPasswordHash,
    warnings: Object.freeze(warnings),
  });
}

/**
 * Reads the configuration from `env` and the `.env` file in `cwd` (the environment wins). Throws
 * ConfigError with a one-line message naming the variable for every bad value.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd(), options: LoadConfigOptions = {}): Config {
  const dir = resolve(cwd);
  const envFile = options.envFile ?? '.env';
  const file = envFile === false ? new Map<string, DotEnvEntry>() : readDotEnv(dir, envFile);
  const src = new Source(env, file, envFile === false ? '.env' : envFile);
  try {
    return readConfig(src, dir, options);
  } catch (err) {
    // Belt and braces: whatever path a message took, the token does not leave in it.
    const token = src.get('API_TOKEN')?.value;
    if (err instanceof Error && token && token.length >= 4 && err.message.includes(token)) {
      err.message = err.message.split(token).join('(API_TOKEN)');
    }
    throw err;
  }
}
