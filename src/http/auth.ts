// API authentication: the API token in `X-API-Key` or `Authorization: Bearer`, compared in constant
// time, with failed attempts limited per source address.
import { createHash, timingSafeEqual } from 'node:crypto';
import { formatIpv6, ipv6Mask, parseIp, unmapIpv4 } from '../domain/ip.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Who a request comes from, for counting: an IPv4 address, or an IPv6 /64 (whoever holds a /64 can
 * use any of its 2^64 addresses, so counting per address would limit no one). An IPv4-mapped IPv6
 * address counts as its IPv4 address, a link-local one without its zone ("%eth0"); anything that is
 * no address counts as itself.
 */
export function sourceKey(source: string): string {
  const parsed = parseIp(source.replace(/%[^%]*$/, ''));
  if (parsed === null) return source;
  const ip = unmapIpv4(parsed);
  if (ip.family === 4) return ip.text;
  return `${formatIpv6(ip.value & ipv6Mask(64))}/64`;
}

/** Counts failures (bad tokens, unknown install links) per source within a window. */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    /** Sources tracked at once: the table stays bounded however many addresses an attacker has. */
    readonly maxSources = 10_000,
  ) {}

  /** True when `source` has failed too often lately and must wait. */
  blocked(source: string, now = Date.now()): boolean {
    const f = this.failures.get(sourceKey(source));
    if (!f || now - f.windowStart > this.windowMs) return false;
    return f.count >= this.maxFailures;
  }

  recordFailure(source: string, now = Date.now()): void {
    const key = sourceKey(source);
    const f = this.failures.get(key);
    if (!f || now - f.windowStart > this.windowMs) {
      this.failures.delete(key); // re-inserted last: the map stays in order of window start
      this.failures.set(key, { count: 1, windowStart: now });
    } else {
      f.count++;
    }
    if (this.failures.size > this.maxSources) {
      // The map is in order of window start: expired windows come first, and while it is still too
      // full the oldest live ones go too. Stops at the first entry it keeps, so each call is cheap.
      for (const [k, v] of this.failures) {
        if (this.failures.size <= this.maxSources && now - v.windowStart <= this.windowMs) break;
        this.failures.delete(k);
      }
    }
  }

  /** Takes back one failure: for an attempt counted before its (slow) check, which then passed. */
  forgive(source: string): void {
    const f = this.failures.get(sourceKey(source));
    if (f && f.count > 0) f.count--;
  }

  /** Sources currently tracked. */
  get tracked(): number {
    return this.failures.size;
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
