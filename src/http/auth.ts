// API authentication: the API token in `X-API-Key` or `Authorization: Bearer`, compared in constant
// time, with failed attempts limited per source address.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Counts failures (bad tokens, unknown install links) per source address within a window. */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
  ) {}

  /** True when `source` has failed too often lately and must wait. */
  blocked(source: string, now = Date.now()): boolean {
    const f = this.failures.get(source);
    if (!f || now - f.windowStart > this.windowMs) return false;
    return f.count >= this.maxFailures;
  }

  recordFailure(source: string, now = Date.now()): void {
    const f = this.failures.get(source);
    if (!f || now - f.windowStart > this.windowMs) this.failures.set(source, { count: 1, windowStart: now });
    else f.count++;
    if (this.failures.size > 10_000) {
      for (const [k, v] of this.failures) if (now - v.windowStart > this.windowMs) this.failures.delete(k);
    }
  }
}

export class ApiAuth extends FailureLimiter {
  private readonly expected: Buffer;

  constructor(token: string, maxFailures = 10, windowMs = 60_000) {
    super(maxFailures, windowMs);
    this.expected = digest(token);
  }

  /** The token a request presents, from either header. */
  static presented(headers: Record<string, string | string[] | undefined>): string | null {
    const key = headers['x-api-key'];
    if (typeof key === 'string' && key) return key;
    const auth = headers.authorization;
    if (typeof auth === 'string') {
      const m = /^Bearer\s+(\S+)$/i.exec(auth);
      if (m) return m[1]!;
    }
    return null;
  }

  matches(token: string | null): boolean {
    // Comparing digests keeps the time independent of where the strings differ and of their lengths.
    return token !== null && timingSafeEqual(digest(token), this.expected);
  }
}
