// The audit log: one row per change, written in the same transaction as the change itself,
// so the log can neither miss a change nor record one that was rolled back. Never holds secrets.
import type { Db, Statement } from './db.js';

export interface AuditEntry {
  id: number;
  at: string; // ISO 8601
  actor: string;
  action: string;
  nodeId: string | null;
  detail: string;
}

// Rows come back as AuditEntry objects as they are.
const ENTRY_COLUMNS = 'id, at, actor, action, node_id AS "nodeId", detail';

export class AuditLog {
  readonly #insert: Statement;
  readonly #newest: Statement;
  readonly #all: Statement;

  constructor(db: Db, private readonly clock: () => Date) {
    this.#insert = db.prepare('INSERT INTO audit_log (at, actor, action, node_id, detail) VALUES (@at, @actor, @action, @nodeId, @detail)');
    this.#newest = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM audit_log ORDER BY id DESC LIMIT ?`);
    this.#all = db.prepare(`SELECT ${ENTRY_COLUMNS} FROM audit_log ORDER BY id`);
  }

  record(action: string, nodeId: string | null, detail: string, actor: string): void {
    this.#insert.run({ at: this.clock().toISOString(), actor, action, nodeId, detail });
  }

  /** The newest entries first. */
  list(limit: number): AuditEntry[] {
    return this.#newest.all(Math.max(0, Math.floor(limit))) as AuditEntry[];
  }

  /** Every entry, oldest first (for a backup). */
  all(): AuditEntry[] {
    return this.#all.all() as AuditEntry[];
  }

  /** Appends entries with their own times and actors, in their order (a restored history); new IDs. */
  append(entries: readonly Omit<AuditEntry, 'id'>[]): void {
    for (const entry of entries) this.#insert.run(entry);
  }
}
