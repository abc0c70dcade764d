// The registry on PostgreSQL (DATABASE_URL), for hubs that share one registry. The store's API
// stays synchronous: statements go to a worker thread that runs the `pg` driver, and the caller
// blocks until the answer (sync-worker.ts), one loopback round trip per statement.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { maskDatabaseUrl } from '../domain/database-url.js';
import { RegistryError } from '../domain/errors.js';
import { migrate, type Db, type Statement } from './db.js';
import { PG_WORKER_SOURCE } from './pg-worker.js';
import { bindValues, toPositional, type PositionalSql } from './sql-params.js';
import { SyncWorker } from './sync-worker.js';

/**
 * Every write transaction takes this transaction-scoped advisory lock first: writes are serialized
 * across all connections (every hub, the CLI) as SQLite's IMMEDIATE transactions serialize them,
 * so what a write transaction reads (the lowest free address, a token's count) holds until it
 * commits. Simpler than SERIALIZABLE with retries, and registrations are few per second.
 */
export const WRITE_LOCK_KEY = 0x7767766d; // "wgvm"

export interface PgOptions {
  /** A statement running longer fails (the write lock waited for included). */
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
}

interface QueryAnswer {
  rows: unknown[];
  count: number;
}

class PgStatement implements Statement {
  constructor(
    private readonly db: PgDb,
    private readonly sql: PositionalSql,
    private readonly plucked: boolean,
  ) {}

  pluck(): Statement {
    return new PgStatement(this.db, this.sql, true);
  }

  get(...params: unknown[]): unknown {
    return this.#rows(params)[0];
  }

  all(...params: unknown[]): unknown[] {
    return this.#rows(params);
  }

  run(...params: unknown[]): { changes: number } {
    return { changes: this.db.query(this.sql.text, bindValues(this.sql, params), false).count };
  }

  /** All rows are fetched at once: the statements iterated (address allocation) read few. */
  iterate(...params: unknown[]): IterableIterator<unknown> {
    return this.#rows(params)[Symbol.iterator]();
  }

  #rows(params: unknown[]): unknown[] {
    const { rows } = this.db.query(this.sql.text, bindValues(this.sql, params), this.plucked);
    return this.plucked ? (rows as unknown[][]).map((row) => row[0]) : rows;
  }
}

class PgDb implements Db {
  readonly engine = 'postgres';
  /** How deep in transactions we are: 0 outside, 1 in one, more in savepoints. */
  #depth = 0;
  readonly #dataVersion: Statement;

  constructor(
    private readonly worker: SyncWorker,
    readonly name: string,
    private readonly writer: string,
  ) {
    this.#dataVersion = this.prepare('SELECT COALESCE(SUM(writes), 0) FROM registry_writes WHERE writer <> ?').pluck();
  }

  get open(): boolean {
    return !this.worker.closed;
  }

  prepare(sql: string): Statement {
    return new PgStatement(this, toPositional(sql), false);
  }

  exec(sql: string): void {
    this.#call({ op: 'exec', sql });
  }

  query(text: string, params: unknown[], array: boolean): QueryAnswer {
    return this.#call({ op: 'query', sql: text, params, array }) as QueryAnswer;
  }

  write<T>(fn: () => T): T {
    return this.#transaction(fn, `BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY})`);
  }

  read<T>(fn: () => T): T {
    return this.#transaction(fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  /** The other connections' changes to what a hub serves (counted by triggers, pg-migrations.ts). */
  dataVersion(): number {
    return this.#dataVersion.get(this.writer) as number;
  }

  checkpoint(): void {}

  close(): void {
    try {
      this.worker.call({ op: 'close' });
    } catch {
      // closing anyway
    }
    this.worker.terminate();
  }

  /** Connects now, so that a wrong URL or a server that is down fails at open with a clear message. */
  connect(): void {
    try {
      this.#call({ op: 'connect' });
    } catch (err) {
      throw new Error(`cannot connect to the registry database ${this.name}: ${(err as Error).message}`);
    }
  }

  /** A lost connection or a timeout is the registry being away (503, try again), not a client's mistake. */
  #call(request: object): unknown {
    try {
      return this.worker.call({ ...request, tx: this.#depth > 0 });
    } catch (err) {
      if (unreachable(err)) throw new RegistryError('unavailable', `the registry database ${this.name} does not answer: ${(err as Error).message}`);
      throw err;
    }
  }

  #transaction<T>(fn: () => T, begin: string): T {
    if (this.#depth > 0) return this.#savepoint(fn);
    this.exec(begin);
    this.#depth = 1;
    try {
      const result = fn();
      this.exec('COMMIT');
      return result;
    } catch (err) {
      try {
        this.exec('ROLLBACK');
      } catch {
        // the connection is gone: the server rolled back
      }
      throw err;
    } finally {
      this.#depth = 0;
    }
  }

  #savepoint<T>(fn: () => T): T {
    const name = `wgvm_${this.#depth}`;
    this.exec(`SAVEPOINT ${name}`);
    this.#depth++;
    try {
      const result = fn();
      this.exec(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      try {
        this.exec(`ROLLBACK TO SAVEPOINT ${name}`);
      } catch {
        // the transaction as a whole fails below us
      }
      throw err;
    } finally {
      this.#depth--;
    }
  }
}

// Connection exceptions (SQLSTATE class 08), a server shutting down or a statement cancelled by its
// timeout, the socket's own errors, and a worker that gave up.
const UNREACHABLE_CODES = /^(08...|57P0[1-3]|57014|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH)$/;

function unreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return UNREACHABLE_CODES.test(code);
  return /database worker|Connection terminated|connection is closed/i.test(err.message);
}

/** Connects to the PostgreSQL database at `url` and brings its schema up to date. */
export function openPostgres(url: string, options: PgOptions = {}): Db {
  const writer = randomUUID(); // this connection, in registry_writes
  // Short: the hub's thread waits for every statement, and a registry that does not answer in 10 s is
  // away (503s, a lease not renewed) rather than slow.
  const statementTimeoutMs = options.statementTimeoutMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const data = {
    pgPath: createRequire(import.meta.url).resolve('pg'),
    url,
    setup: `SELECT set_config('wgvm.writer', '${writer}', false)`,
    statementTimeoutMs,
    connectTimeoutMs,
  };
  // The worker's own deadline is a last resort behind the server's statement timeout.
  const worker = new SyncWorker(PG_WORKER_SOURCE, data, statementTimeoutMs + connectTimeoutMs + 5_000);
  const db = new PgDb(worker, maskDatabaseUrl(url), writer);
  try {
    db.connect();
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
