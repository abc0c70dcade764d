// The registry in one SQLite file (WAL) in DATA_DIR, through better-sqlite3: the default engine.
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, type Db, type Statement } from './db.js';

export const DATABASE_FILE = 'wgvm.db';

class SqliteDb implements Db {
  readonly engine = 'sqlite';
  readonly #raw: Database.Database;
  readonly #dataVersion: Database.Statement;

  constructor(raw: Database.Database) {
    this.#raw = raw;
    this.#dataVersion = raw.prepare('PRAGMA data_version').pluck();
  }

  get name(): string {
    return this.#raw.name;
  }

  get open(): boolean {
    return this.#raw.open;
  }

  // better-sqlite3's statements are this interface already.
  prepare(sql: string): Statement {
    return this.#raw.prepare(sql) as unknown as Statement;
  }

  exec(sql: string): void {
    this.#raw.exec(sql);
  }

  write<T>(fn: () => T): T {
    return this.#raw.transaction(fn).immediate();
  }

  read<T>(fn: () => T): T {
    return this.#raw.transaction(fn).deferred();
  }

  /** SQLite's own: changes with other connections' commits, not with this one's. */
  dataVersion(): number {
    return this.#dataVersion.get() as number;
  }

  checkpoint(): void {
    this.#raw.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    this.#raw.close();
  }
}

/** Creates `dataDir` (0700) if needed and opens `dataDir/wgvm.db` with the pragmas the store relies on, migrated. */
export function openSqlite(dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, DATABASE_FILE);
  const raw = new Database(file);
  try {
    // SQLite gives the -wal and -shm files the main file's mode, so this covers all three.
    chmodSync(file, 0o600);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL'); // durable across application crashes; WAL keeps it consistent
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000'); // another process (wgvm CLI) may hold the write lock briefly
    const db = new SqliteDb(raw);
    migrate(db);
    return db;
  } catch (err) {
    raw.close();
    throw err;
  }
}
