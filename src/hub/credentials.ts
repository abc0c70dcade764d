// The hub's two long-lived secrets: its WireGuard key pair and the management API token.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { decodeKey, encodeKey, generatePrivateKey, publicKeyOf } from '../domain/keys.js';
import type { HubIdentity } from '../nodes/service.js';
import { HUB_PRIVATE_KEY_SETTING, type Store } from '../store/index.js';

/** The hub's key pair, made once and kept sealed in the registry: the workers know the hub by it. */
export function hubIdentity(store: Store): HubIdentity {
  let privateKey = store.getSetting(HUB_PRIVATE_KEY_SETTING);
  if (!privateKey) {
    privateKey = encodeKey(generatePrivateKey());
    store.setSetting(HUB_PRIVATE_KEY_SETTING, privateKey, { sealed: true });
  }
  return { privateKey, publicKey: encodeKey(publicKeyOf(decodeKey(privateKey))) };
}

/** Where hubs sharing a registry keep the VPN subnet and the hub's address in it. */
export const SHARED_SUBNET_SETTING = 'hub_subnet';

/**
 * Hubs sharing a registry (PostgreSQL) are one hub to the workers: the first to start records its
 * INTERNAL_SUBNET and hub address in the registry, and one configured otherwise refuses to start
 * (it would bring up the device with addresses the workers' configs do not have).
 */
export function checkSharedSubnet(store: Store, config: Pick<Config, 'internalSubnet' | 'hubAddress'>): void {
  const mine = `${config.internalSubnet.text} ${config.hubAddress}`;
  const recorded = store.getSetting(SHARED_SUBNET_SETTING);
  if (recorded === null) store.setSetting(SHARED_SUBNET_SETTING, mine);
  else if (recorded !== mine) {
    const [subnet, address] = recorded.split(' ');
    throw new Error(
      `this hub's INTERNAL_SUBNET ${config.internalSubnet.text} (hub address ${config.hubAddress}) is not the registry's ${subnet} (hub address ${address}): hubs sharing a registry need the same; set it as on the other hubs`,
    );
  }
}

/** API_TOKEN, or the one kept in DATA_DIR, or a new one (printed once, then kept with mode 0600). */
export function apiToken(config: Config): string {
  if (config.apiToken) return config.apiToken;
  const file = join(config.dataDir, 'api_token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  process.stdout.write(`API token (shown once; kept in ${file}): ${token}\n`);
  return token;
}
