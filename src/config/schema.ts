// What the configuration is: the Config every part of the hub reads, the variables it comes from and
// their defaults.
import type { NetworkInterfaceInfo } from 'node:os';

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
  /**
   * DATABASE_URL: the registry on this PostgreSQL database (postgres:// or postgresql://), shared by
   * hubs; null: SQLite in dataDir. Holds a password: show it only through maskDatabaseUrl.
   */
  readonly databaseUrl: string | null;
  /** WORKER_IP_RANGE. */
  readonly workerRange: Ipv4Range;
  /** ALLOWEDIPS: canonical CIDRs (IPv4 and/or IPv6) that workers route into the tunnel. */
  readonly allowedIps: readonly string[];
  /** PERSISTENTKEEPALIVE in seconds; 0 = off. */
  readonly persistentKeepalive: number;
  /** MTU of the hub's interface and of the worker configs. */
  readonly mtu: number;
  /** Threads sealing and opening packets in the hub's data plane (WGVM_THREADS). */
  readonly threads: number | 'auto';
  /** PEERDNS: DNS servers for the worker configs (canonical IP text); empty = no DNS line. */
  readonly peerDns: readonly string[];
  /** DIRECT_PATHS: whether the hub pairs agent nodes for direct paths (off: everything is relayed). */
  readonly directPaths: boolean;
  /** VPN_DNS: whether the hub answers DNS for its nodes on its VPN address (and worker configs name it). */
  readonly vpnDns: boolean;
  /** VPN_DOMAIN: the zone of the nodes' names, lower case without a final dot ("wg.internal"). */
  readonly vpnDomain: string;
  /** PUBLIC_STATUS: whether GET /api/vpn/status needs no API key. */
  readonly publicStatus: boolean;
  /** PUBLIC_METRICS: whether GET /metrics needs no API key (it lists every node ID). */
  readonly publicMetrics: boolean;
  /** TRUST_PROXY: proxies (addresses or CIDRs) whose X-Forwarded-For/-Proto/-Host the hub believes; empty: none. */
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
  WGVM_THREADS: 'auto',
  DIRECT_PATHS: 'true',
  VPN_DNS: 'false',
  VPN_DOMAIN: 'wg.internal',
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
  'DATABASE_URL',
  'WORKER_IP_RANGE',
  'ALLOWEDIPS',
  'PERSISTENTKEEPALIVE',
  'MTU',
  'WGVM_THREADS',
  'PEERDNS',
  'DIRECT_PATHS',
  'VPN_DNS',
  'VPN_DOMAIN',
  'PUBLIC_STATUS',
  'PUBLIC_METRICS',
  'TRUST_PROXY',
  'LOG_LEVEL',
  'INSTALL_TOKEN_TTL',
  'INSTALL_TOKEN_USES',
  'ADMIN_PASSWORD_HASH',
] as const);

export interface LoadConfigOptions {
  /** The host's interfaces, for guessing SERVERURL; os.networkInterfaces by default. */
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** The .env file, relative to cwd (default ".env"); false to read none. */
  envFile?: string | false;
}
