// The hub's DNS server: whether it runs (VPN_DNS) and the zone it answers for (VPN_DOMAIN), and the
// DNS lines worker configs carry because of it.
import { isHostName } from '../domain/names.js';
import type { Config } from './schema.js';
import { CONFIG_DEFAULTS } from './schema.js';
import type { Source } from './source.js';

export type DnsConfig = Pick<Config, 'vpnDns' | 'vpnDomain'>;

// A name is <node_id>.<VPN_DOMAIN>: 253 characters at most, a node ID 63 and its dot one.
const MAX_DOMAIN_LENGTH = 253 - 64;

export function readDns(src: Source, peerDns: readonly string[], hubAddress: string, warnings: string[]): DnsConfig {
  const vpnDns = src.flag('VPN_DNS');
  const vpnDomain = readDomain(src);
  if (vpnDns && peerDns.length > 0 && !peerDns.includes(hubAddress)) {
    warnings.push(
      `VPN_DNS is on but PEERDNS (${peerDns.join(', ')}) does not name the hub ${hubAddress}: worker configs will not resolve *.${vpnDomain} through the hub`,
    );
  }
  return { vpnDns, vpnDomain };
}

/** VPN_DOMAIN: a host name, kept in lower case without a final dot; not a reverse-lookup zone. */
function readDomain(src: Source): string {
  const raw = src.get('VPN_DOMAIN');
  if (!raw) return CONFIG_DEFAULTS.VPN_DOMAIN;
  const domain = raw.value.toLowerCase().replace(/\.$/, '');
  if (!isHostName(domain)) {
    src.fail('VPN_DOMAIN', raw, `${src.show(raw.value)} is not a domain name (dot-separated labels of letters, digits and inner hyphens)`);
  }
  if (domain.length > MAX_DOMAIN_LENGTH) {
    src.fail('VPN_DOMAIN', raw, `is ${domain.length} characters; at most ${MAX_DOMAIN_LENGTH}, so that <node_id>.<domain> fits in a DNS name (253)`);
  }
  if (domain === 'arpa' || domain.endsWith('.arpa')) {
    src.fail('VPN_DOMAIN', raw, `${src.show(raw.value)} is under .arpa, the reverse-lookup tree; use a name such as wg.internal`);
  }
  return domain;
}

/**
 * The DNS line of worker configs: PEERDNS when set (plus VPN_DOMAIN as search domain when it names
 * the hub and VPN_DNS is on), else the hub and VPN_DOMAIN when VPN_DNS is on, else nothing.
 */
export function workerDns(c: Pick<Config, 'vpnDns' | 'vpnDomain' | 'peerDns' | 'hubAddress'>): readonly string[] {
  if (c.peerDns.length > 0) return c.vpnDns && c.peerDns.includes(c.hubAddress) ? [...c.peerDns, c.vpnDomain] : c.peerDns;
  return c.vpnDns ? [c.hubAddress, c.vpnDomain] : [];
}
