// Agent credentials: one per node, 256 random bits shown once (in the node's installer); only their
// SHA-256 is stored, so a copy of the database lets no one act as an agent. Lookups go by hash.
import { createHash, randomBytes } from 'node:crypto';
import { AGENT_CREDENTIAL_PATTERN } from '../domain/install.js';
import type { AuditLog } from './audit.js';
import type { Db, Statement } from './db.js';


function hashCredential(credential: string): Buffer {
  return createHash('sha256').update(credential, 'utf8').digest();
}

export class AgentCredentials {
  readonly #upsert: Statement;
  readonly #nodeOf: Statement;
  readonly #revoke: Statement;
  readonly #has: Statement;
  readonly #all: Statement;

  constructor(
    private readonly db: Db,
    private readonly auditLog: AuditLog,
    private readonly clock: () => Date,
  ) {
    this.#upsert = db.prepare(`INSERT INTO agent_credentials (node_id, token_hash, created_at) VALUES (?, ?, ?)
      ON CONFLICT (node_id) DO UPDATE SET token_hash = excluded.token_hash, created_at = excluded.created_at`);
    this.#nodeOf = db.prepare('SELECT node_id FROM agent_credentials WHERE token_hash = ?').pluck();
    this.#revoke = db.prepare('DELETE FROM agent_credentials WHERE node_id = ?');
    this.#has = db.prepare('SELECT created_at FROM agent_credentials WHERE node_id = ?').pluck();
    this.#all = db.prepare('SELECT node_id AS "nodeId", created_at AS "createdAt" FROM agent_credentials');
  }

  /** A new credential for the node, replacing the one it had. The node must exist (foreign key). */
  issue(nodeId: string, actor: string): string {
    const credential = randomBytes(32).toString('base64url');
    this.db.write(() => {
      this.#upsert.run(nodeId, hashCredential(credential), this.clock().toISOString());
      this.auditLog.record('agent.credential', nodeId, 'issued', actor);
    });
    return credential;
  }

  /** The node a credential belongs to, or null for one that is malformed, unknown or revoked. */
  nodeOf(credential: string): string | null {
    if (!AGENT_CREDENTIAL_PATTERN.test(credential)) return null;
    return (this.#nodeOf.get(hashCredential(credential)) as string | undefined) ?? null;
  }

  /** When the node's credential was issued, or null when it has none. */
  issuedAt(nodeId: string): string | null {
    return (this.#has.get(nodeId) as string | undefined) ?? null;
  }

  /** When each node that has a credential got it: one query for a whole list of nodes. */
  allIssuedAt(): Map<string, string> {
    return new Map((this.#all.all() as Array<{ nodeId: string; createdAt: string }>).map((r) => [r.nodeId, r.createdAt]));
  }

  /** Returns whether the node had a credential. */
  revoke(nodeId: string, actor: string): boolean {
    return this.db.write((): boolean => {
      const had = this.#revoke.run(nodeId).changes > 0;
      if (had) this.auditLog.record('agent.credential', nodeId, 'revoked', actor);
      return had;
    });
  }
}
