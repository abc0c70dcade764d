// Dashboard sign-in sessions: random IDs held in memory (a restart signs everyone out), each valid
// for a fixed time after sign-in and dropped after an idle period. Bounded in number.
import { randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'wgvm_session';

export interface SessionLimits {
  /** Longest a session lives, however active. */
  maxAgeMs: number;
  /** A session unused this long ends. */
  idleMs: number;
  maxSessions: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { maxAgeMs: 12 * 3_600_000, idleMs: 3_600_000, maxSessions: 1000 };

interface Session {
  createdAt: number;
  lastUsed: number;
}

export class Sessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS) {}

  /** A new session's ID (256 random bits). The oldest session makes room when the table is full. */
  create(now = Date.now()): string {
    this.purge(now);
    if (this.sessions.size >= this.limits.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { createdAt: now, lastUsed: now });
    return id;
  }

  /** True for a live session, which then counts as used now. */
  touch(id: string | undefined, now = Date.now()): boolean {
    if (!id) return false;
    const s = this.sessions.get(id);
    if (!s) return false;
    if (this.expired(s, now)) {
      this.sessions.delete(id);
      return false;
    }
    s.lastUsed = now;
    return true;
  }

  /** True for a live session, without counting as a use (an open event stream is not activity). */
  isLive(id: string, now = Date.now()): boolean {
    const s = this.sessions.get(id);
    return s !== undefined && !this.expired(s, now);
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.limits.maxAgeMs / 1000);
  }

  private expired(s: Session, now: number): boolean {
    return now - s.createdAt > this.limits.maxAgeMs || now - s.lastUsed > this.limits.idleMs;
  }

  private purge(now: number): void {
    for (const [id, s] of this.sessions) if (this.expired(s, now)) this.sessions.delete(id);
  }
}
