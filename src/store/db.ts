// The database under the registry, engine-neutral: exactly what the repositories use. SQLite (one
// file in DATA_DIR, the default) or PostgreSQL (DATABASE_URL, for hubs that share a registry).
// One SQL text serves both (see sql-params.ts); the schema is per engine (migrations.ts, pg-migrations.ts).
import { MIGRATIONS, type Migration } from './migrations.js';
import { PG_MIGRATIONS } from './pg-migrations.js';

export type Engine = 'sqlite' | 'postgres';

/** A prepared statement, called as better-sqlite3's are: `?` values in order, or one object for `@name`. */
export interface Statement {
  /** The first row, or undefined. */
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
  iterate(...params: unknown[]): IterableIterator<unknown>;
  /** The statement answering the first column's value instead of rows (prepare(…).pluck()). */
  pluck(): Statement;
}

export interface Db {
  readonly engine: Engine;
  /** For messages: the file, or the URL without its password. */
  readonly name: string;
  readonly open: boolean;
  prepare(sql: string): Statement;
  /** Runs statements without parameters (a migration). */
  exec(sql: string): void;
  /**
   * Runs `fn` as one write transaction that holds the registry's write lock from its first
   * statement (SQLite's IMMEDIATE), so a read in it cannot be invalidated by another connection
   * before the write. Nested: a savepoint.
   */
  write<T>(fn: () => T): T;
  /** Runs `fn` as one read transaction: a consistent snapshot. */
  read<T>(fn: () => T): T;
  /** Moves whenever another connection (another process, another hub) commits a change to the registry. */
  dataVersion(): number;
  /** SQLite: moves the WAL into the main file. PostgreSQL: nothing to do. */
  checkpoint(): void;
  close(): void;
}

/** What a violated constraint was, whichever engine raised it; null for any other error. */
export function constraintViolation(err: unknown): 'unique' | 'foreign_key' | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return 'unique';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') return 'foreign_key';
  return null;
}

const SCHEMA_MIGRATIONS: Record<Engine, string> = {
  sqlite: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  ) STRICT`,
  postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`,
};

/** The schema of each engine: the same versions and names. */
export function migrationsFor(engine: Engine): readonly Migration[] {
  return engine === 'sqlite' ? MIGRATIONS : PG_MIGRATIONS;
}

function appliedVersion(db: Db): number {
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null };
  return row.version ?? 0;
}

/**
 * Applies the migrations newer than the database, each in its own write transaction (the write
 * lock is taken before the version is read, so two processes starting together migrate once).
 * Refuses a database written by a newer wgvm rather than guess at a schema it does not know.
 */
export function migrate(db: Db, migrations: readonly Migration[] = migrationsFor(db.engine)): void {
  db.write(() => db.exec(SCHEMA_MIGRATIONS[db.engine]));
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  const current = db.write(() => appliedVersion(db));
  if (current > latest) {
    throw new Error(
      `the database ${db.name} has schema version ${current}, newer than this wgvm supports (${latest}): ` +
        `upgrade wgvm, or point ${db.engine === 'sqlite' ? 'DATA_DIR' : 'DATABASE_URL'} elsewhere`,
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const migration of migrations) {
    db.write(() => {
      if (appliedVersion(db) >= migration.version) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, new Date().toISOString());
    });
  }
}
