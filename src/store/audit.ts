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

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  node_id: string | null;
  detail: string;
}

export class AuditLog {
  readonly #insert: Statement;
  readonly #list: Statement;

  constructor(db: Db, private readonly clock: () => Date) {
    this.#insert = db.prepare('INSERT INTO audit_log (at, actor, action, node_id, detail) VALUES (?, ?, ?, ?, ?)');
    this.#list = db.prepare('SELECT id, at, actor, action, node_id, detail FROM audit_log ORDER BY id DESC LIMIT ?');
  }

  record(action: string, nodeId: string | null, detail: string, actor: string): void {
    this.#insert.run(this.clock().toISOString(), actor, action, nodeId, detail);
  }

  /** The newest entries first. */
  list(limit: number): AuditEntry[] {
    const rows = this.#list.all(Math.max(0, Math.floor(limit))) as AuditRow[];
    return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, nodeId: r.node_id, detail: r.detail }));
  }
}
