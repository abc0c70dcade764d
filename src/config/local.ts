// The hub process's own settings: where it keeps its state (DATA_DIR, and DATABASE_URL for a registry
// on PostgreSQL) and how much it logs (LOG_LEVEL).
import { resolve } from 'node:path';
import { isPostgresUrl, maskDatabaseUrl } from '../domain/database-url.js';
import { CONFIG_DEFAULTS, LOG_LEVELS, type Config, type LogLevel } from './schema.js';
import type { Source } from './source.js';

export type LocalConfig = Pick<Config, 'dataDir' | 'databaseUrl' | 'logLevel'>;

export function readLocal(src: Source, cwd: string): LocalConfig {
  const levelRaw = src.get('LOG_LEVEL');
  const logLevel = (levelRaw?.value.toLowerCase() ?? CONFIG_DEFAULTS.LOG_LEVEL) as LogLevel;
  if (levelRaw && !LOG_LEVELS.includes(logLevel)) src.fail('LOG_LEVEL', levelRaw, `${src.show(levelRaw.value)} is not one of ${LOG_LEVELS.join(', ')}`);

  // DATA_DIR: relative to the working directory, as written in .env.
  const dataRaw = src.get('DATA_DIR');
  if (dataRaw?.value.includes('\0')) src.fail('DATA_DIR', dataRaw, 'must not contain a NUL character');
  return { dataDir: resolve(cwd, dataRaw?.value ?? CONFIG_DEFAULTS.DATA_DIR), databaseUrl: databaseUrl(src), logLevel };
}

/** DATABASE_URL: unset or empty, SQLite in DATA_DIR; else a PostgreSQL URL. Never shown with its password. */
function databaseUrl(src: Source): string | null {
  const raw = src.get('DATABASE_URL');
  if (!raw) return null;
  if (!isPostgresUrl(raw.value)) {
    src.fail('DATABASE_URL', raw, `${src.show(maskDatabaseUrl(raw.value))} is not a postgres:// or postgresql:// URL (leave it unset for SQLite in DATA_DIR)`);
  }
  try {
    new URL(raw.value);
  } catch {
    src.fail('DATABASE_URL', raw, 'is not a valid URL (a special character in the password must be percent-encoded)');
  }
  return raw.value;
}
