// Install links (the one-line installer's tokens): how long one lives and how often it may be used.
import type { Config } from './schema.js';
import type { Source } from './source.js';

export type InstallLinkConfig = Pick<Config, 'installTokenTtl' | 'installTokenUses'>;

const THIRTY_DAYS = 30 * 24 * 3600;

export function readInstallLinks(src: Source): InstallLinkConfig {
  const installTokenTtl = src.integer('INSTALL_TOKEN_TTL', 60, THIRTY_DAYS, (v) => `${v} is not a lifetime in seconds (60-${THIRTY_DAYS}, i.e. 1 minute to 30 days)`);
  const installTokenUses = src.integer('INSTALL_TOKEN_USES', 1, 100, (v) => `${v} is not a number of uses (1-100)`);
  return { installTokenTtl, installTokenUses };
}
