// The management API and the dashboard: the token and password that guard them, their ports, what
// they answer without a key, and which proxies in front of them they believe.
import { parseIp, parseIpCidr } from '../domain/ip.js';
import { parsePasswordHash } from '../domain/password.js';
import type { Config } from './schema.js';
import { truthOf, type Source } from './source.js';

export type ApiConfig = Pick<Config, 'apiPort' | 'dashboardPort' | 'publicStatus' | 'publicMetrics' | 'trustProxy' | 'adminPasswordHash'>;

/**
 * API_TOKEN, or null (the caller generates and keeps one). Read before any other variable: once it
 * is known, no later message can show it.
 */
export function readApiToken(src: Source): string | null {
  const raw = src.get('API_TOKEN');
  if (!raw) return null;
  const t = raw.value;
  if (t.length >= 4) src.hide(t);
  // It travels in an HTTP header (X-API-Key / Authorization), hence printable ASCII only.
  if (/\s/.test(t)) src.fail('API_TOKEN', raw, 'must not contain whitespace');
  if (!/^[\x21-\x7e]+$/.test(t)) src.fail('API_TOKEN', raw, 'must be printable ASCII (it is sent in an HTTP header)');
  if (t.length < 16) {
    src.fail(
      'API_TOKEN',
      raw,
      `must be at least 16 characters (it has ${t.length}); e.g. \`openssl rand -base64 24\`, or leave it unset to have one generated`,
    );
  }
  return t;
}

/** Everything of the API and dashboard but the token. */
export function readApi(src: Source): ApiConfig {
  const apiPort = src.port('API_PORT');
  const dashboardPort = src.port('DASHBOARD_PORT');
  if (apiPort === dashboardPort) {
    // Blame the one that was set (DASHBOARD_PORT when both were).
    const dash = src.get('DASHBOARD_PORT');
    if (dash) src.fail('DASHBOARD_PORT', dash, `${dashboardPort} is also API_PORT; the two must differ`);
    src.fail('API_PORT', src.get('API_PORT'), `${apiPort} is also DASHBOARD_PORT; the two must differ`);
  }
  return {
    apiPort,
    dashboardPort,
    publicStatus: src.flag('PUBLIC_STATUS'),
    publicMetrics: src.flag('PUBLIC_METRICS'),
    trustProxy: Object.freeze(readTrustProxy(src)),
    adminPasswordHash: readAdminPasswordHash(src),
  };
}

/** TRUST_PROXY: the TLS proxy in front of the hub (docs/deployment.md), by address or CIDR; a false word: none. */
function readTrustProxy(src: Source): string[] {
  const raw = src.get('TRUST_PROXY');
  const proxies: string[] = [];
  if (!raw || truthOf(raw.value) === false) return proxies;
  src.eachItem('TRUST_PROXY', raw, (item) => {
    const cidr = item.includes('/') ? parseIpCidr(item) : null;
    const text = cidr ? (cidr.ok ? cidr.text : null) : (parseIp(item)?.text ?? null);
    if (text === null) {
      src.fail('TRUST_PROXY', raw, `${src.show(item)} is not an IP address or CIDR (the proxies the hub may believe; "true" would believe anyone)`);
    }
    proxies.push(text);
  });
  return proxies;
}

/** ADMIN_PASSWORD_HASH, checked to be a well-formed scrypt hash, or null. */
function readAdminPasswordHash(src: Source): string | null {
  const raw = src.get('ADMIN_PASSWORD_HASH');
  if (!raw?.value) return null;
  try {
    parsePasswordHash(raw.value);
  } catch (err) {
    // The message never quotes the value: it is a secret's hash.
    src.fail('ADMIN_PASSWORD_HASH', raw, (err as Error).message);
  }
  return raw.value;
}
