// The hub's name among the hubs sharing a registry: made once and kept in DATA_DIR/hub_id, so that a
// restarted hub is the same hub (and renews its own lease instead of waiting for it to lapse).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/index.js';

const HUB_ID_FILE = 'hub_id';

export function hubId(config: Pick<Config, 'dataDir'>): string {
  const file = join(config.dataDir, HUB_ID_FILE);
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9._-]{1,64}$/.test(id)) return id;
    throw new Error(`${file} does not hold a hub name (1 to 64 of A-Z a-z 0-9 . _ -): remove it, and a new one is made`);
  }
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 40) || 'hub';
  const id = `${host}-${randomBytes(3).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}
