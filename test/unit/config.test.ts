// src/config/: environment and .env → a typed, frozen Config; one-line ConfigErrors naming the variable.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDotEnv, workerDns, type Config, type LoadConfigOptions } from '../../src/config/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wgvm-config-'));
  dirs.push(d);
  return d;
}

type Iface = Pick<NetworkInterfaceInfo, 'address' | 'internal'> & { family: 'IPv4' | 'IPv6' };

function interfaces(map: Record<string, Iface[]>): () => NodeJS.Dict<NetworkInterfaceInfo[]> {
  const full = (i: Iface) =>
    ({ netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null, ...(i.family === 'IPv6' ? { scopeid: 0 } : {}), ...i }) as NetworkInterfaceInfo;
  return () => Object.fromEntries(Object.entries(map).map(([name, list]) => [name, list.map(full)]));
}

// A host like the hub's: loopback, an IPv6 link-local, a public IPv4 address.
const HOST = interfaces({
  lo: [
    { address: '127.0.0.1', family: 'IPv4', internal: true },
    { address: '::1', family: 'IPv6', internal: true },
  ],
  eth0: [
    { address: 'fe80::1', family: 'IPv6', internal: false },
    { address: '203.0.113.7', family: 'IPv4', internal: false },
  ],
});
const NO_ADDRESS = interfaces({ lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }] });

/** loadConfig in a fresh directory, with an optional .env file and the fake host by default. */
function load(env: Record<string, string>, dotenv?: string, options: LoadConfigOptions = {}): Config & { dir: string } {
  const dir = tempDir();
  if (dotenv !== undefined) writeFileSync(join(dir, '.env'), dotenv);
  const config = loadConfig(env, dir, { networkInterfaces: HOST, ...options });
  return Object.assign(Object.create(null) as object, config, { dir });
}

function errorOf(env: Record<string, string>, dotenv?: string, options: LoadConfigOptions = {}): ConfigError {
  try {
    load(env, dotenv, options);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).not.toMatch(/[\r\n]/);
    return e;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  it('an empty environment and no .env give the documented defaults', () => {
    const dir = tempDir();
    const config = loadConfig({}, dir, { networkInterfaces: HOST });
    expect(config).toEqual({
      serverUrl: '203.0.113.7',
      serverHost: '203.0.113.7',
      serverUrlGuessed: true,
      serverUrlSource: 'network-interface',
      serverPort: 41820,
      endpoint: '203.0.113.7:41820',
      localServerIp: null,
      apiToken: null,
      internalSubnet: { network: 0x0a640000, prefix: 16, text: '10.100.0.0/16' },
      hubAddress: '10.100.0.1',
      hubAddressInt: 0x0a640001,
      wgInterface: 'wg0',
      apiPort: 8090,
      dashboardPort: 5000,
      dataDir: join(dir, 'data'),
      databaseUrl: null,
      workerRange: { first: 0x0a640102, last: 0x0a6401fe, size: 253, text: '10.100.1.2-10.100.1.254' },
      allowedIps: ['10.100.0.0/16'],
      persistentKeepalive: 25,
      mtu: 1420,
      threads: 'auto',
      peerDns: [],
      vpnDns: false,
      directPaths: true,
      vpnDomain: 'wg.internal',
      publicStatus: true,
      publicMetrics: false,
      trustProxy: [],
      logLevel: 'info',
      installTokenTtl: 86400,
      installTokenUses: 5,
      adminPasswordHash: null,
      warnings: [expect.stringMatching(/^SERVERURL is not set: worker configs will use 203\.0\.113\.7/)],
    });
  });

  it('returns a deeply frozen object', () => {
    const c = loadConfig({ PEERDNS: '1.1.1.1' }, tempDir(), { networkInterfaces: HOST });
    for (const part of [c, c.internalSubnet, c.workerRange, c.allowedIps, c.peerDns, c.warnings]) expect(Object.isFrozen(part)).toBe(true);
    expect(() => {
      (c as { mtu: number }).mtu = 1;
    }).toThrow(TypeError);
  });

  it('resolves DATA_DIR against cwd and keeps an absolute one', () => {
    const c = load({ DATA_DIR: 'state/db' });
    expect(c.dataDir).toBe(join(c.dir, 'state', 'db'));
    expect(load({ DATA_DIR: '/var/lib/wgvm' }).dataDir).toBe('/var/lib/wgvm');
  });

  it('DATABASE_URL: unset or blank is SQLite; postgres:// and postgresql:// are PostgreSQL; anything else is refused without its password', () => {
    expect(load({}).databaseUrl).toBeNull();
    expect(load({ DATABASE_URL: '  ' }).databaseUrl).toBeNull();
    expect(load({ DATABASE_URL: 'postgres://wgvm:s3cret@db:5432/wgvm' }).databaseUrl).toBe('postgres://wgvm:s3cret@db:5432/wgvm');
    expect(load({}, 'DATABASE_URL=postgresql://wgvm@db/wgvm\n').databaseUrl).toBe('postgresql://wgvm@db/wgvm');
    for (const bad of ['mysql://root:s3cret@db/wgvm', 'sqlite:./wgvm.db', 'db.example.com:5432', 'postgres://wgvm:s3cret@db:notaport/wgvm']) {
      const e = errorOf({ DATABASE_URL: bad });
      expect(e.variable).toBe('DATABASE_URL');
      expect(e.message).toMatch(/DATABASE_URL/);
      expect(e.message).not.toContain('s3cret');
    }
    expect(errorOf({ DATABASE_URL: 'mysql://root:s3cret@db/wgvm' }).message).toContain('mysql://root:***@db/wgvm');
  });

  it('takes every variable when all are set', () => {
    const c = load({
      SERVERURL: 'vpn.example.com',
      SERVERPORT: '51820',
      LOCAL_SERVER_IP: '192.168.0.68',
      API_TOKEN: 'a-long-enough-token-0123',
      INTERNAL_SUBNET: '10.8.0.0/16',
      WG_INTERFACE: 'wgvm.hub-1',
      API_PORT: '18090',
      DASHBOARD_PORT: '15000',
      DATA_DIR: '/srv/wgvm',
      WORKER_IP_RANGE: '10.8.0.2 - 10.8.255.254',
      ALLOWEDIPS: '10.8.0.0/16, 192.168.50.0/24, FD00:0:0::/64',
      PERSISTENTKEEPALIVE: '0',
      MTU: '1280',
      PEERDNS: '10.8.0.1,2001:4860:4860::8888',
      PUBLIC_STATUS: 'FALSE',
      INSTALL_TOKEN_TTL: '3600',
      INSTALL_TOKEN_USES: '1',
      ADMIN_PASSWORD_HASH: '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$2mN1XyKuWBbnp3l6dY4eWgYq9dB2WcL0v2ZJ4kq5bHc',
    });
    expect(c).toMatchObject({
      serverUrl: 'vpn.example.com',
      serverUrlGuessed: false,
      serverUrlSource: 'SERVERURL',
      endpoint: 'vpn.example.com:51820',
      localServerIp: '192.168.0.68',
      apiToken: 'a-long-enough-token-0123',
      internalSubnet: { text: '10.8.0.0/16', prefix: 16 },
      hubAddress: '10.8.0.1',
      wgInterface: 'wgvm.hub-1',
      apiPort: 18090,
      dashboardPort: 15000,
      dataDir: '/srv/wgvm',
      workerRange: { text: '10.8.0.2-10.8.255.254', size: 65533 },
      allowedIps: ['10.8.0.0/16', '192.168.50.0/24', 'fd00::/64'],
      persistentKeepalive: 0,
      mtu: 1280,
      peerDns: ['10.8.0.1', '2001:4860:4860::8888'],
      publicStatus: false,
      installTokenTtl: 3600,
      installTokenUses: 1,
      adminPasswordHash: '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$2mN1XyKuWBbnp3l6dY4eWgYq9dB2WcL0v2ZJ4kq5bHc',
      warnings: [],
    });
  });

  it('reads PUBLIC_METRICS, TRUST_PROXY and LOG_LEVEL, and refuses nonsense naming the variable', () => {
    expect(load({ PUBLIC_METRICS: 'yes' }).publicMetrics).toBe(true);
    expect(load({ PUBLIC_METRICS: 'off' }).publicMetrics).toBe(false);
    expect(load({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', '::1']);
    expect(load({ TRUST_PROXY: 'false' }).trustProxy).toEqual([]);
    expect(load({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(() => load({ PUBLIC_METRICS: 'maybe' })).toThrow(/^PUBLIC_METRICS: "maybe" is not true or false/);
    // "true" would believe X-Forwarded-For from anyone: refused, with the reason.
    expect(() => load({ TRUST_PROXY: 'true' })).toThrow(/^TRUST_PROXY: "true" is not an IP address or CIDR .*would believe anyone/);
    expect(() => load({ TRUST_PROXY: '10.0.0.1/8' })).toThrow(/^TRUST_PROXY: /);
    expect(() => load({ TRUST_PROXY: '127.0.0.1,' })).toThrow(/^TRUST_PROXY: has an empty entry/);
    expect(() => load({ LOG_LEVEL: 'verbose' })).toThrow(/^LOG_LEVEL: "verbose" is not one of fatal, error, warn, info, debug, trace, silent/);
  });

  it('takes WGVM_THREADS as a count or auto, auto by default', () => {
    expect(load({}).threads).toBe('auto');
    expect(load({ WGVM_THREADS: 'auto' }).threads).toBe('auto');
    expect(load({ WGVM_THREADS: '1' }).threads).toBe(1);
    expect(load({ WGVM_THREADS: '256' }).threads).toBe(256);
  });

  it('accepts the extremes of every numeric range', () => {
    const low = load({ SERVERPORT: '1', API_PORT: '1', DASHBOARD_PORT: '2', PERSISTENTKEEPALIVE: '0', MTU: '1280', INSTALL_TOKEN_TTL: '60', INSTALL_TOKEN_USES: '1' });
    expect([low.serverPort, low.apiPort, low.mtu, low.installTokenTtl, low.installTokenUses]).toEqual([1, 1, 1280, 60, 1]);
    const high = load({ SERVERPORT: '65535', API_PORT: '65535', PERSISTENTKEEPALIVE: '65535', MTU: '9000', INSTALL_TOKEN_TTL: '2592000', INSTALL_TOKEN_USES: '100' });
    expect([high.serverPort, high.persistentKeepalive, high.mtu, high.installTokenTtl, high.installTokenUses]).toEqual([65535, 65535, 9000, 2592000, 100]);
  });

  it('reads PUBLIC_STATUS words', () => {
    for (const t of ['true', 'TRUE', '1', 'yes', 'on']) expect(load({ PUBLIC_STATUS: t }).publicStatus).toBe(true);
    for (const f of ['false', 'False', '0', 'no', 'off']) expect(load({ PUBLIC_STATUS: f }).publicStatus).toBe(false);
  });
});

describe('SERVERURL', () => {
  it('falls back to LOCAL_SERVER_IP, and says so', () => {
    const c = load({ LOCAL_SERVER_IP: '192.168.0.68' });
    expect(c.serverUrl).toBe('192.168.0.68');
    expect(c.serverUrlGuessed).toBe(true);
    expect(c.serverUrlSource).toBe('LOCAL_SERVER_IP');
    expect(c.warnings[0]).toMatch(/SERVERURL is not set.*192\.168\.0\.68.*LOCAL_SERVER_IP/);
  });

  it("guesses the host's first non-internal IPv4 address, skipping link-local and the VPN's own", () => {
    const host = interfaces({
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
      wg0: [{ address: '10.100.0.1', family: 'IPv4', internal: false }],
      eth1: [{ address: '169.254.3.4', family: 'IPv4', internal: false }],
      eth0: [
        { address: '2001:db8::5', family: 'IPv6', internal: false },
        { address: '198.51.100.20', family: 'IPv4', internal: false },
      ],
    });
    const c = load({}, undefined, { networkInterfaces: host });
    expect(c.serverUrl).toBe('198.51.100.20');
    expect(c.serverUrlGuessed).toBe(true);
  });

  it('is an error naming SERVERURL when nothing can stand in', () => {
    const e = errorOf({}, undefined, { networkInterfaces: NO_ADDRESS });
    expect(e.variable).toBe('SERVERURL');
    expect(e.message).toMatch(/^SERVERURL: not set/);
  });

  it('takes IPv6 literals, bare or bracketed, and brackets them in the endpoint', () => {
    for (const v of ['2001:DB8:0:0::1', '[2001:db8::1]']) {
      const c = load({ SERVERURL: v });
      expect(c.serverUrl).toBe('2001:db8::1');
      expect(c.serverHost).toBe('[2001:db8::1]');
      expect(c.endpoint).toBe('[2001:db8::1]:41820');
    }
    expect(load({ LOCAL_SERVER_IP: '2001:db8::9' }).endpoint).toBe('[2001:db8::9]:41820');
  });

  it('writes IPv6 addresses in canonical form everywhere', () => {
    const c = load({
      SERVERURL: 'vpn.example.com',
      LOCAL_SERVER_IP: '2001:0DB8:0000:0000:0000:0000:0000:0001',
      ALLOWEDIPS: '10.100.0.0/16, FE80:0000::/10, ::ffff:10.0.0.0/104, 1:0:0:2:0:0:0:3/128',
      PEERDNS: '2606:4700:4700:0:0:0:0:1111, ::ffff:1.1.1.1',
    });
    expect(c.localServerIp).toBe('2001:db8::1');
    expect(c.allowedIps).toEqual(['10.100.0.0/16', 'fe80::/10', '::ffff:a00:0/104', '1:0:0:2::3/128']);
    expect(c.peerDns).toEqual(['2606:4700:4700::1111', '::ffff:101:101']);
  });

  it('warns about a loopback SERVERURL', () => {
    expect(load({ SERVERURL: '127.0.0.1' }).warnings).toEqual([expect.stringMatching(/loopback/)]);
  });
});

describe('bad values', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['SERVERURL', 'http://vpn.example.com', /^SERVERURL: "http:\/\/vpn\.example\.com" must be a host name or IP address without a scheme/],
    ['SERVERURL', 'vpn.example.com:41820', /^SERVERURL: .* must not include a port/],
    ['SERVERURL', '[2001:db8::1]:41820', /^SERVERURL: .* must not include a port/],
    ['SERVERURL', 'vpn.example.com/path', /^SERVERURL: .* without a path/],
    ['SERVERURL', '300.1.2.3', /^SERVERURL: "300\.1\.2\.3" is not a valid IPv4 address/],
    ['SERVERURL', '192.168.0', /^SERVERURL: .* is not a valid IPv4 address/],
    ['SERVERURL', 'bad_host!', /^SERVERURL: .* is not a valid host name/],
    ['SERVERURL', '-lead.example.com', /^SERVERURL: .* is not a valid host name/],
    ['SERVERURL', '2001:db8::1::2', /^SERVERURL: .* is not a valid IPv6 address/],
    ['SERVERURL', '0.0.0.0', /^SERVERURL: .* is the unspecified address/],
    ['SERVERPORT', '70000', /^SERVERPORT: "70000" is not a port \(1-65535\)$/],
    ['SERVERPORT', '0', /^SERVERPORT: "0" is not a port/],
    ['SERVERPORT', '-1', /^SERVERPORT: "-1" is not a port/],
    ['SERVERPORT', '0x50', /^SERVERPORT: "0x50" is not a port/],
    ['SERVERPORT', '1e3', /^SERVERPORT: "1e3" is not a port/],
    ['SERVERPORT', '41820.0', /^SERVERPORT: "41820\.0" is not a port/],
    ['SERVERPORT', '041820', /^SERVERPORT: "041820" is not a port/],
    ['SERVERPORT', '+80', /^SERVERPORT: "\+80" is not a port/],
    ['SERVERPORT', 'udp', /^SERVERPORT: "udp" is not a port/],
    ['LOCAL_SERVER_IP', '192.168.0.256', /^LOCAL_SERVER_IP: "192\.168\.0\.256" is not an IP address$/],
    ['LOCAL_SERVER_IP', 'myhost', /^LOCAL_SERVER_IP: "myhost" is not an IP address$/],
    ['API_TOKEN', 'short-token', /^API_TOKEN: must be at least 16 characters \(it has 11\)/],
    ['API_TOKEN', 'test-token-123', /^API_TOKEN: must be at least 16 characters \(it has 14\)/],
    ['API_TOKEN', 'long enough but spaced', /^API_TOKEN: must not contain whitespace$/],
    ['API_TOKEN', 'long-enough-but-ünicode', /^API_TOKEN: must be printable ASCII/],
    ['INTERNAL_SUBNET', '10.100.0.0', /^INTERNAL_SUBNET: "10\.100\.0\.0" is not an IPv4 subnet \(expected an IPv4 CIDR/],
    ['INTERNAL_SUBNET', '10.100.0.1/16', /^INTERNAL_SUBNET: .* did you mean 10\.100\.0\.0\/16\?/],
    ['INTERNAL_SUBNET', '10.0.0.0/7', /^INTERNAL_SUBNET: "10\.0\.0\.0\/7": the prefix must be \/8 to \/30$/],
    ['INTERNAL_SUBNET', '10.0.0.0/31', /^INTERNAL_SUBNET: .* the prefix must be \/8 to \/30/],
    ['INTERNAL_SUBNET', 'fd00::/64', /^INTERNAL_SUBNET: "fd00::\/64" is not an IPv4 subnet/],
    ['INTERNAL_SUBNET', '10.100.0.0/abc', /^INTERNAL_SUBNET: .* is not an IPv4 subnet/],
    ['WG_INTERFACE', 'wireguard-interface0', /^WG_INTERFACE: "wireguard-interface0" is not an interface name/],
    ['WG_INTERFACE', 'wg/0', /^WG_INTERFACE: "wg\/0" is not an interface name/],
    ['WG_INTERFACE', 'wg 0', /^WG_INTERFACE: "wg 0" is not an interface name/],
    ['API_PORT', '65536', /^API_PORT: "65536" is not a port \(1-65535\)$/],
    ['API_PORT', '80a', /^API_PORT: "80a" is not a port/],
    ['DASHBOARD_PORT', '99999999999999999999', /^DASHBOARD_PORT: "99999999999999999999" is not a port/],
    ['WORKER_IP_RANGE', '10.100.1.2', /^WORKER_IP_RANGE: "10\.100\.1\.2" is not an IPv4 range \(expected FIRST-LAST/],
    ['WORKER_IP_RANGE', '10.100.1.2-10.100.1.2-10.100.1.9', /^WORKER_IP_RANGE: .* is not an IPv4 range/],
    ['WORKER_IP_RANGE', '10.100.1.2-10.100.1.300', /^WORKER_IP_RANGE: .* is not an IPv4 range/],
    ['WORKER_IP_RANGE', '10.100.1.254-10.100.1.2', /^WORKER_IP_RANGE: .* the first address is above the last$/],
    ['WORKER_IP_RANGE', '10.101.1.2-10.101.1.254', /^WORKER_IP_RANGE: .* 10\.101\.1\.2 is outside INTERNAL_SUBNET 10\.100\.0\.0\/16$/],
    ['WORKER_IP_RANGE', '10.100.255.2-10.101.0.9', /^WORKER_IP_RANGE: .* 10\.101\.0\.9 is outside INTERNAL_SUBNET/],
    ['WORKER_IP_RANGE', '10.100.0.1-10.100.0.254', /^WORKER_IP_RANGE: .* contains the hub address 10\.100\.0\.1$/],
    ['WORKER_IP_RANGE', '10.100.0.0-10.100.0.0', /^WORKER_IP_RANGE: .* contains the subnet's network address 10\.100\.0\.0$/],
    ['WORKER_IP_RANGE', '10.100.0.2-10.100.255.255', /^WORKER_IP_RANGE: .* contains the subnet's broadcast address 10\.100\.255\.255$/],
    ['ALLOWEDIPS', '10.100.0.0/16,', /^ALLOWEDIPS: has an empty entry/],
    ['ALLOWEDIPS', '10.100.0.0/33', /^ALLOWEDIPS: "10\.100\.0\.0\/33" is not an IPv4 or IPv6 CIDR$/],
    ['ALLOWEDIPS', '10.100.0.0/16, 10.1.2.3/8', /^ALLOWEDIPS: "10\.1\.2\.3\/8" is not an IPv4 or IPv6 CIDR \(host bits set: did you mean 10\.0\.0\.0\/8\?\)$/],
    ['ALLOWEDIPS', 'fd00::1/64', /^ALLOWEDIPS: .* did you mean fd00::\/64\?/],
    ['ALLOWEDIPS', 'everything', /^ALLOWEDIPS: "everything" is not an IPv4 or IPv6 CIDR$/],
    ['PERSISTENTKEEPALIVE', '-1', /^PERSISTENTKEEPALIVE: "-1" is not a number of seconds \(0-65535/],
    ['PERSISTENTKEEPALIVE', '65536', /^PERSISTENTKEEPALIVE: "65536" is not a number of seconds/],
    ['PERSISTENTKEEPALIVE', '25s', /^PERSISTENTKEEPALIVE: "25s" is not a number of seconds/],
    ['MTU', '1279', /^MTU: "1279" is not an MTU \(1280-9000\)$/],
    ['MTU', '9001', /^MTU: "9001" is not an MTU \(1280-9000\)$/],
    ['MTU', '1420.5', /^MTU: "1420\.5" is not an MTU/],
    ['WGVM_THREADS', '0', /^WGVM_THREADS: "0" is not a number of threads \(an integer from 1 to 256, or "auto" for one per core\)$/],
    ['WGVM_THREADS', '257', /^WGVM_THREADS: "257" is not a number of threads/],
    ['WGVM_THREADS', '02', /^WGVM_THREADS: "02" is not a number of threads/],
    ['WGVM_THREADS', 'AUTO', /^WGVM_THREADS: "AUTO" is not a number of threads/],
    ['PEERDNS', '1.1.1.1,dns.google', /^PEERDNS: "dns\.google" is not an IP address$/],
    ['PEERDNS', '1.1.1.1,,8.8.8.8', /^PEERDNS: has an empty entry/],
    ['PEERDNS', 'auto', /^PEERDNS: "auto" is not supported/],
    ['PUBLIC_STATUS', 'maybe', /^PUBLIC_STATUS: "maybe" is not true or false$/],
    ['VPN_DNS', 'auto', /^VPN_DNS: "auto" is not true or false$/],
    ['VPN_DOMAIN', 'wg internal', /^VPN_DOMAIN: "wg internal" is not a domain name/],
    ['VPN_DOMAIN', 'wg..internal', /^VPN_DOMAIN: "wg\.\.internal" is not a domain name/],
    ['VPN_DOMAIN', '-wg.internal', /^VPN_DOMAIN: .* is not a domain name/],
    ['VPN_DOMAIN', 'a'.repeat(64), /^VPN_DOMAIN: .* is not a domain name/],
    ['VPN_DOMAIN', `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.ddddddd`, /^VPN_DOMAIN: is 190 characters; at most 189/],
    ['VPN_DOMAIN', '100.10.in-addr.arpa', /^VPN_DOMAIN: .* is under \.arpa/],
    ['INSTALL_TOKEN_TTL', '59', /^INSTALL_TOKEN_TTL: "59" is not a lifetime in seconds \(60-2592000/],
    ['INSTALL_TOKEN_TTL', '2592001', /^INSTALL_TOKEN_TTL: "2592001" is not a lifetime in seconds/],
    ['INSTALL_TOKEN_TTL', '24h', /^INSTALL_TOKEN_TTL: "24h" is not a lifetime in seconds/],
    ['INSTALL_TOKEN_USES', '0', /^INSTALL_TOKEN_USES: "0" is not a number of uses \(1-100\)$/],
    ['INSTALL_TOKEN_USES', '101', /^INSTALL_TOKEN_USES: "101" is not a number of uses/],
  ];

  it.each(cases)('%s=%j is refused', (name, value, message) => {
    const e = errorOf({ [name]: value });
    expect(e.variable).toBe(name);
    expect(e.message).toMatch(message);
  });

  it('refuses API_PORT equal to DASHBOARD_PORT, set or defaulted', () => {
    expect(errorOf({ API_PORT: '5000' }).message).toBe('API_PORT: 5000 is also DASHBOARD_PORT; the two must differ');
    expect(errorOf({ API_PORT: '9000', DASHBOARD_PORT: '9000' }).message).toMatch(/^DASHBOARD_PORT: 9000 is also API_PORT/);
    expect(errorOf({ DASHBOARD_PORT: '8090' }).variable).toBe('DASHBOARD_PORT');
  });

  it('SERVERPORT may equal a TCP port (it is UDP)', () => {
    expect(load({ SERVERPORT: '8090' }).serverPort).toBe(8090);
  });

  it('keeps a message on one line and short, whatever the value holds', () => {
    const e = errorOf({ SERVERURL: 'bad\nhost\u2028x' });
    expect(e.message).toBe('SERVERURL: "bad\\nhost\\u2028x" is not a valid host name (dot-separated labels of letters, digits and inner hyphens)');
    const long = errorOf({ MTU: '9'.repeat(500) });
    expect(long.message.length).toBeLessThan(160);
  });

  it('says when a bad value came from .env, and from which line', () => {
    expect(errorOf({}, '# hub\nSERVERPORT=70000\n').message).toBe('SERVERPORT: "70000" is not a port (1-65535) (set in .env:2)');
  });
});

describe('VPN_DNS, VPN_DOMAIN and the DNS line of worker configs', () => {
  it('takes VPN_DOMAIN in lower case without its final dot', () => {
    expect(load({ VPN_DOMAIN: 'GPU.Example.' }).vpnDomain).toBe('gpu.example');
    expect(load({ VPN_DNS: 'yes' }).vpnDns).toBe(true);
    const longest = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.dddddd`; // 189: a 63-character node ID still fits in 253
    expect(load({ VPN_DOMAIN: longest }).vpnDomain).toBe(longest);
  });

  it('worker configs: nothing while VPN_DNS is off; the hub and the search domain when on', () => {
    expect(workerDns(load({}))).toEqual([]);
    expect(workerDns(load({ VPN_DNS: 'true' }))).toEqual(['10.100.0.1', 'wg.internal']);
    expect(workerDns(load({ VPN_DNS: 'true', VPN_DOMAIN: 'gpu.lan', INTERNAL_SUBNET: '10.8.0.0/24' }))).toEqual(['10.8.0.1', 'gpu.lan']);
  });

  it('PEERDNS overrides: its servers as written, the search domain only when it names the hub and VPN_DNS is on', () => {
    expect(workerDns(load({ PEERDNS: '1.1.1.1' }))).toEqual(['1.1.1.1']);
    expect(workerDns(load({ PEERDNS: '10.100.0.1' }))).toEqual(['10.100.0.1']);
    expect(workerDns(load({ VPN_DNS: 'true', PEERDNS: '10.100.0.1,1.1.1.1' }))).toEqual(['10.100.0.1', '1.1.1.1', 'wg.internal']);
    const publicOnly = load({ VPN_DNS: 'true', PEERDNS: '1.1.1.1' });
    expect(workerDns(publicOnly)).toEqual(['1.1.1.1']);
    expect(publicOnly.warnings).toContainEqual(expect.stringMatching(/^VPN_DNS is on but PEERDNS \(1\.1\.1\.1\) does not name the hub 10\.100\.0\.1/));
  });
});

describe('WORKER_IP_RANGE and the subnet', () => {
  it('allows the whole /16 except the network, hub and broadcast addresses, and a single address', () => {
    const c = load({ WORKER_IP_RANGE: '10.100.0.2-10.100.255.254' });
    expect(c.workerRange).toMatchObject({ first: 0x0a640002, last: 0x0a64fffe, size: 65533, text: '10.100.0.2-10.100.255.254' });
    expect(load({ WORKER_IP_RANGE: '10.100.7.7-10.100.7.7' }).workerRange.size).toBe(1);
  });

  it('derives the default range from a non-default INTERNAL_SUBNET', () => {
    expect(load({ INTERNAL_SUBNET: '10.8.0.0/16' }).workerRange.text).toBe('10.8.1.2-10.8.1.254');
    expect(load({ INTERNAL_SUBNET: '172.16.0.0/12' }).workerRange.text).toBe('172.16.1.2-172.16.1.254');
    expect(load({ INTERNAL_SUBNET: '10.8.0.0/23' }).workerRange.text).toBe('10.8.1.2-10.8.1.254');
    expect(load({ INTERNAL_SUBNET: '10.13.13.0/24' }).workerRange.text).toBe('10.13.13.2-10.13.13.254');
    const smallest = load({ INTERNAL_SUBNET: '10.13.13.0/30' });
    expect(smallest.hubAddress).toBe('10.13.13.1');
    expect(smallest.workerRange.text).toBe('10.13.13.2-10.13.13.2');
    expect(smallest.allowedIps).toEqual(['10.13.13.0/30']);
  });

  it('checks a given range against a changed subnet', () => {
    expect(errorOf({ INTERNAL_SUBNET: '10.8.0.0/24', WORKER_IP_RANGE: '10.100.1.2-10.100.1.254' }).message).toMatch(
      /^WORKER_IP_RANGE: .* 10\.100\.1\.2 is outside INTERNAL_SUBNET 10\.8\.0\.0\/24$/,
    );
  });

  it('warns when ALLOWEDIPS leaves out the hub, and accepts 0.0.0.0/0 and bare addresses', () => {
    expect(load({ SERVERURL: 'vpn.example.com', ALLOWEDIPS: '192.168.50.0/24' }).warnings).toEqual([expect.stringMatching(/^ALLOWEDIPS does not include the hub address 10\.100\.0\.1/)]);
    const all = load({ SERVERURL: 'vpn.example.com', ALLOWEDIPS: '0.0.0.0/0, ::/0, 10.100.0.0/16, 10.100.0.0/16, 192.168.1.5, 2001:db8::7' });
    expect(all.allowedIps).toEqual(['0.0.0.0/0', '::/0', '10.100.0.0/16', '192.168.1.5/32', '2001:db8::7/128']);
    expect(all.warnings).toEqual([]);
  });
});

describe('.env', () => {
  it("reads the seed's example, Korean trailing comment included", () => {
    const seed = [
      '# 서버 설정',
      'SERVERURL=192.168.0.68  # 실제 서버 IP 또는 도메인',
      'LOCAL_SERVER_IP=192.168.0.68',
      'SERVERPORT=41820',
      '',
      '# API 설정',
      'API_TOKEN=test-token-123-and-longer',
      '',
      '# 네트워크 설정',
      'INTERNAL_SUBNET=10.100.0.0/16',
      '',
    ].join('\n');
    const c = load({}, seed);
    expect(c).toMatchObject({
      serverUrl: '192.168.0.68',
      serverUrlGuessed: false,
      localServerIp: '192.168.0.68',
      serverPort: 41820,
      apiToken: 'test-token-123-and-longer',
      internalSubnet: { text: '10.100.0.0/16' },
    });
  });

  it('refuses the seed example token as too short', () => {
    expect(errorOf({}, 'SERVERURL=192.168.0.68\nAPI_TOKEN=test-token-123\n').message).toMatch(
      /^API_TOKEN: must be at least 16 characters \(it has 14\).* \(set in \.env:2\)$/,
    );
  });

  it('parses comments, quotes, export, escapes, blank lines, CRLF and a BOM', () => {
    const text = [
      '\uFEFF# a comment',
      '   # an indented comment',
      '',
      'export A=plain',
      'export   B = spaced around equals  ',
      'C="double # not a comment"   # but this is',
      "D='single \\n $literal'  # comment",
      'E="esc\\"aped\\\\ \\n\\t\\$x \\q"',
      'F=a#b',
      'G=a #b',
      'H=',
      'I=   # only a comment',
      'J=#hash-start',
      "K=it's fine",
      'L=""',
      'A=last wins',
      'M=crlf\r',
      'N=value with  inner  spaces',
    ].join('\n');
    const m = parseDotEnv(text);
    const v = Object.fromEntries([...m].map(([k, e]) => [k, e.value]));
    expect(v).toEqual({
      A: 'last wins',
      B: 'spaced around equals',
      C: 'double # not a comment',
      D: 'single \\n $literal',
      E: 'esc"aped\\ \n\t$x \\q',
      F: 'a#b',
      G: 'a',
      H: '',
      I: '',
      J: '#hash-start',
      K: "it's fine",
      L: '',
      M: 'crlf',
      N: 'value with  inner  spaces',
    });
    expect(m.get('B')!.line).toBe(5);
    expect(m.get('A')!.line).toBe(16);
  });

  it.each([
    ['a line without "="', 'SERVERPORT=1\nJUSTAWORD\n', '.env:2', /^\.env:2: not a KEY=VALUE line/],
    ['an export without assignment', 'export FOO\n', '.env:1', /^\.env:1: not a KEY=VALUE line/],
    ['a bad name', '\n\n1ABC=x\n', '.env:3', /^\.env:3: the name before "=" is not a variable name/],
    ['a name with a dash', 'API-TOKEN=x\n', '.env:1', /^\.env:1: the name before "=" is not a variable name/],
    ['an unterminated double quote', 'A=1\nSERVERURL="vpn.example.com\n', '.env:2', /^\.env:2: unterminated double quote in the value of SERVERURL/],
    ['an unterminated single quote', "MTU='1420\n", '.env:1', /^\.env:1: unterminated single quote in the value of MTU/],
    ['text after the closing quote', 'MTU="1420"abc\n', '.env:1', /^\.env:1: unexpected text after the closing quote in the value of MTU$/],
  ])('names the line of %s', (_what, dotenv, variable, message) => {
    const e = errorOf({}, dotenv);
    expect(e.variable).toBe(variable);
    expect(e.message).toMatch(message);
  });

  it('a quoted value is taken literally, so quoted spaces are an error where spaces are', () => {
    expect(load({}, 'SERVERPORT="51820"\n').serverPort).toBe(51820);
    expect(errorOf({}, "SERVERPORT=' 51820'\n").message).toMatch(/^SERVERPORT: " 51820" is not a port/);
  });

  it('the environment overrides .env; a blank environment value does not', () => {
    const dotenv = 'SERVERURL=from-file.example.com\nSERVERPORT=51000\nMTU=1380\nAPI_TOKEN=file-token-0123456789\n';
    const c = load({ SERVERURL: 'from-env.example.com', MTU: '1400', API_TOKEN: '' }, dotenv);
    expect(c.serverUrl).toBe('from-env.example.com');
    expect(c.mtu).toBe(1400);
    expect(c.serverPort).toBe(51000);
    expect(c.apiToken).toBe('file-token-0123456789');
    expect(load({ SERVERPORT: '  ' }, dotenv).serverPort).toBe(51000);
  });

  it('an environment value wins even over a malformed value in .env for the same variable', () => {
    expect(load({ SERVERPORT: '51820' }, 'SERVERPORT=nope\n').serverPort).toBe(51820);
  });

  it('an empty value in .env means the default', () => {
    const c = load({}, 'API_TOKEN=\nSERVERPORT=\nSERVERURL=vpn.example.com\n');
    expect(c.apiToken).toBeNull();
    expect(c.serverPort).toBe(41820);
  });

  it('reads another file when told, or none', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'MTU=1300\n');
    writeFileSync(join(dir, 'hub.env'), 'MTU=1350\nbroken\n');
    expect(loadConfig({}, dir, { networkInterfaces: HOST }).mtu).toBe(1300);
    expect(loadConfig({}, dir, { networkInterfaces: HOST, envFile: false }).mtu).toBe(1420);
    expect(() => loadConfig({}, dir, { networkInterfaces: HOST, envFile: 'hub.env' })).toThrow(/^hub\.env:2: not a KEY=VALUE line/);
  });

  it('an unreadable .env is an error, a missing one is not', () => {
    const dir = tempDir();
    expect(loadConfig({}, dir, { networkInterfaces: HOST }).mtu).toBe(1420);
    mkdirSync(join(dir, '.env'));
    expect(() => loadConfig({}, dir, { networkInterfaces: HOST })).toThrow(ConfigError);
    expect(() => loadConfig({}, dir, { networkInterfaces: HOST })).toThrow(/^\.env: cannot read .* \(EISDIR\)$/);
  });
});

describe('API_TOKEN stays secret', () => {
  const TOKEN = 'S3cr3t-Token-Value-0123456789';

  it('never appears in an error about API_TOKEN itself', () => {
    for (const bad of ['Sh0rtT0k', 'S3cr3t Token Value 0123456789', 'S3cr3t\tT0ken-Value-0123456789', 'S3cr3t-Tökén-Valué-0123456789']) {
      const e = errorOf({ API_TOKEN: bad });
      expect(e.variable).toBe('API_TOKEN');
      expect(e.message).not.toContain(bad);
      for (const part of bad.split(/\s+/)) if (part.length >= 6) expect(e.message).not.toContain(part);
    }
  });

  it('never appears when it was pasted into another variable', () => {
    const cases: Record<string, string> = {
      SERVERPORT: TOKEN,
      SERVERURL: `http://${TOKEN}@vpn.example.com`,
      LOCAL_SERVER_IP: TOKEN,
      ALLOWEDIPS: `10.100.0.0/16,${TOKEN}`,
      PEERDNS: TOKEN,
      WG_INTERFACE: TOKEN,
      MTU: `${TOKEN}${TOKEN}`,
      PUBLIC_STATUS: TOKEN,
    };
    for (const [name, value] of Object.entries(cases)) {
      const e = errorOf({ API_TOKEN: TOKEN, [name]: value });
      expect(e.variable).toBe(name);
      expect(e.message).not.toContain(TOKEN);
      expect(e.message).not.toContain(TOKEN.slice(0, 12));
    }
  });

  it('never appears in a .env error, whatever the line holds', () => {
    const lines = [`${TOKEN}`, `API_TOKEN="${TOKEN}`, `API_TOKEN='${TOKEN}' ${TOKEN}`, `API-TOKEN=${TOKEN}`];
    for (const line of lines) {
      const e = errorOf({}, `${line}\n`);
      expect(e.variable).toBe('.env:1');
      expect(e.message).not.toContain(TOKEN);
      expect(e.message).not.toContain(TOKEN.slice(0, 12));
    }
  });

  it('is kept as given when valid', () => {
    expect(load({ API_TOKEN: TOKEN }).apiToken).toBe(TOKEN);
  });
});
