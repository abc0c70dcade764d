// Opening the SQLite file and bringing its schema up to date.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;
export type Statement = Database.Statement;

export const DATABASE_FILE = 'wgvm.db';

/** Creates `dataDir` (0700) if needed and opens `dataDir/wgvm.db` with the pragmas the store relies on. */
export function openDatabase(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, DATABASE_FILE);
  const db = new Database(file);
  try {
    // SQLite gives the -wal and -shm files the main file's mode, so this covers all three.
    chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL'); // durable across application crashes; WAL keeps it consistent
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000'); // another process (wgvm CLI) may hold the write lock briefly
    migrate(db, MIGRATIONS);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function appliedVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null };
  return row.version ?? 0;
}

/**
 * Applies the migrations newer than the database, each in its own IMMEDIATE transaction (the write
 * lock is taken before the version is read, so two processes starting together migrate once).
 * Refuses a database written by a newer wgvm rather than guess at a schema it does not know.
 */
export function migrate(db: Db, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`);
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  const current = appliedVersion(db);
  if (current > latest) {
    throw new Error(
      `the database ${db.name} has schema version ${current}, newer than this wgvm supports (${latest}): ` +
        'upgrade wgvm, or point DATA_DIR elsewhere',
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of migrations) {
    db.transaction(() => {
      if (appliedVersion(db) >= migration.version) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, new Date().toISOString());
    }).immediate();
  }
}

export { LATEST_VERSION };
