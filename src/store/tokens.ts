// Install tokens: the one way a worker's config leaves the hub without the API key.
// 256 random bits, shown once; only their SHA-256 is stored, so a copy of the database opens nothing.
// Lookups go by hash, so comparing tokens in constant time is moot.
import { createHash, randomBytes } from 'node:crypto';
import { RegistryError } from '../domain/errors.js';
import type { AuditLog } from './audit.js';
import type { Db, Statement } from './db.js';
import type { NodeRepository } from './nodes.js';

export interface CreateTokenOptions {
  ttlSeconds: number;
  /** How many times the token may be redeemed. */
  uses: number;
  now?: Date;
}

export interface CreatedToken {
  token: string;
  expiresAt: string; // ISO 8601
}

export type TokenRejection = 'unknown' | 'expired' | 'used_up';

export type TokenCheck = { nodeId: string; usesLeft: number; expiresAt: string } | { error: TokenRejection };

/** Bounds on the token table: it cannot be grown without limit, whoever holds the API token. */
export interface TokenLimits {
  /** Unexpired, not used-up tokens one node may have at once. */
  perNode: number;
  /** Unexpired, not used-up tokens of all nodes together. */
  total: number;
}

export const TOKEN_LIMITS: TokenLimits = { perNode: 10, total: 100_000 };

/**
 * Expired tokens are kept this long past their expiry (so that a refusal can say "expired", not
 * "unknown"), then purged. A node's expired and used-up tokens also go whenever it gets a new one.
 */
export const TOKEN_PURGE_AFTER_MS = 24 * 3600 * 1000;

// Ten years: beyond that an "expiring" token is a mistake (and ISO timestamps keep four-digit years).
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

interface TokenRow {
  node_id: string;
  expires_at: string;
  uses_left: number;
}

function classify(row: TokenRow | undefined, at: string): TokenCheck {
  if (!row) return { error: 'unknown' };
  if (row.uses_left <= 0) return { error: 'used_up' };
  if (row.expires_at <= at) return { error: 'expired' };
  return { nodeId: row.node_id, usesLeft: row.uses_left, expiresAt: row.expires_at };
}

export class TokenRepository {
  readonly #insert: Statement;
  readonly #consume: Statement;
  readonly #find: Statement;
  readonly #revoke: Statement;
  readonly #purge: Statement;
  readonly #purgeNode: Statement;
  readonly #liveOfNode: Statement;
  readonly #liveTotal: Statement;
  readonly #usableTotal: Statement;

  constructor(
    private readonly db: Db,
    private readonly nodes: Pick<NodeRepository, 'exists'>,
    private readonly auditLog: AuditLog,
    private readonly clock: () => Date,
    private readonly limits: TokenLimits = TOKEN_LIMITS,
  ) {
    this.#insert = db.prepare(
      'INSERT INTO install_tokens (token_hash, node_id, created_at, expires_at, uses_left) VALUES (?, ?, ?, ?, ?)',
    );
    // One statement decides and decrements, so two redemptions of a last use cannot both succeed.
    // ISO 8601 UTC strings of one format compare correctly as text.
    this.#consume = db.prepare(`UPDATE install_tokens SET uses_left = uses_left - 1
      WHERE token_hash = ? AND uses_left > 0 AND expires_at > ?
      RETURNING node_id, expires_at, uses_left`);
    this.#find = db.prepare('SELECT node_id, expires_at, uses_left FROM install_tokens WHERE token_hash = ?');
    this.#revoke = db.prepare('DELETE FROM install_tokens WHERE node_id = ?');
    // Expired (used up or not) a while ago: such rows no longer even explain a refusal.
    this.#purge = db.prepare('DELETE FROM install_tokens WHERE expires_at <= ?');
    this.#purgeNode = db.prepare('DELETE FROM install_tokens WHERE node_id = @nodeId AND (uses_left = 0 OR expires_at <= @at)');
    this.#liveOfNode = db.prepare('SELECT COUNT(*) FROM install_tokens WHERE node_id = ? AND uses_left > 0 AND expires_at > ?').pluck();
    this.#liveTotal = db.prepare('SELECT COUNT(*) FROM install_tokens WHERE uses_left > 0 AND expires_at > ?').pluck();
    // Kept by triggers (migration 4): tokens with uses left, expired or not; never below the live ones.
    this.#usableTotal = db.prepare('SELECT usable FROM install_token_count WHERE id = 1').pluck();
  }

  /** Deletes tokens that expired over TOKEN_PURGE_AFTER_MS ago; returns how many. */
  purge(now: Date = this.clock()): number {
    return this.#purge.run(new Date(now.getTime() - TOKEN_PURGE_AFTER_MS).toISOString()).changes;
  }

  create(nodeId: string, options: CreateTokenOptions, actor: string): CreatedToken {
    const { ttlSeconds, uses } = options;
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
      throw new RegistryError('invalid', `a token lifetime must be 1-${MAX_TTL_SECONDS} seconds, got ${ttlSeconds}`);
    }
    if (!Number.isSafeInteger(uses) || uses <= 0) {
      throw new RegistryError('invalid', `a token must allow at least one use, got ${uses}`);
    }
    const now = options.now ?? this.clock();
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
    const token = randomBytes(32).toString('base64url');
    const at = now.toISOString();
    this.db.write(() => {
      if (!this.nodes.exists(nodeId)) throw new RegistryError('not_found', `no node ${nodeId}`);
      this.purge(now);
      // The node's dead tokens go now: a node never holds more than `perNode` rows.
      this.#purgeNode.run({ nodeId, at });
      if ((this.#liveOfNode.get(nodeId, at) as number) >= this.limits.perNode) {
        throw new RegistryError(
          'limit',
          `node ${nodeId} already has ${this.limits.perNode} unexpired install links: rotate its keys (which revokes them) or wait for one to expire`,
        );
      }
      // Counting the live tokens walks one row per node: only when the bound says it could matter.
      if ((this.#usableTotal.get() as number) >= this.limits.total && (this.#liveTotal.get(at) as number) >= this.limits.total) {
        throw new RegistryError('limit', `there are already ${this.limits.total} unexpired install links; wait for some to expire`);
      }
      this.#insert.run(hashToken(token), nodeId, now.toISOString(), expiresAt, uses);
      this.auditLog.record('token.create', nodeId, `expires_at=${expiresAt} uses=${uses}`, actor);
    });
    return { token, expiresAt };
  }

  /** Takes one use of the token, or says why it cannot. */
  redeem(token: string, now: Date | undefined, actor: string): TokenCheck {
    const at = (now ?? this.clock()).toISOString();
    const hash = hashToken(token);
    return this.db.write((): TokenCheck => {
      const row = this.#consume.get(hash, at) as TokenRow | undefined;
      // Not consumable: the row, if any, says why (the transaction keeps it from changing meanwhile).
      if (!row) return classify(this.#find.get(hash) as TokenRow | undefined, at);
      this.auditLog.record('token.redeem', row.node_id, `uses_left=${row.uses_left}`, actor);
      return { nodeId: row.node_id, usesLeft: row.uses_left, expiresAt: row.expires_at };
    });
  }

  /** What redeem would answer, without taking a use (for an install page that only shows links). */
  check(token: string, now?: Date): TokenCheck {
    const at = (now ?? this.clock()).toISOString();
    return classify(this.#find.get(hashToken(token)) as TokenRow | undefined, at);
  }

  /** Deletes every install token of the node; returns how many there were. */
  revoke(nodeId: string, actor: string): number {
    return this.db.write((): number => {
      const count = this.#revoke.run(nodeId).changes;
      if (count > 0) this.auditLog.record('token.revoke', nodeId, `count=${count}`, actor);
      return count;
    });
  }
}
