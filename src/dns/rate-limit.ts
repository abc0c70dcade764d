// How many queries the DNS server takes: a token bucket per source address and one for all sources
// together, so that one worker (or a flood in its name) cannot take the hub's JavaScript thread from
// the API and from the other workers. Bounded: at most `maxSources` buckets, the oldest given up first.

export interface RateLimits {
  /** Queries a second one source may send, on average. */
  perSource: number;
  /** Queries one source may send at once after a quiet spell. */
  burst: number;
  /** Queries a second all sources together may send. */
  total: number;
  /** Sources remembered at once. */
  maxSources: number;
}

/** 200/s per worker is far beyond a resolver's needs for names that live a second; 20,000/s in all. */
export const DNS_RATE_LIMITS: RateLimits = Object.freeze({ perSource: 200, burst: 200, total: 20_000, maxSources: 65_536 });

interface Bucket {
  tokens: number;
  at: number;
}

export class QueryLimiter {
  private readonly buckets = new Map<number, Bucket>();
  private readonly all: Bucket;

  constructor(
    private readonly limits: RateLimits = DNS_RATE_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.all = { tokens: limits.total, at: now() };
  }

  /** Takes one query from `source` (an IPv4 address as uint32); false when it is over its limit or all are. */
  take(source: number): boolean {
    const t = this.now();
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.limits.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = { tokens: this.limits.burst, at: t };
      this.buckets.set(source, bucket);
    }
    refill(bucket, t, this.limits.perSource, this.limits.burst);
    if (bucket.tokens < 1) return false;
    refill(this.all, t, this.limits.total, this.limits.total);
    if (this.all.tokens < 1) return false;
    bucket.tokens -= 1;
    this.all.tokens -= 1;
    return true;
  }

  /** Sources remembered now (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }
}

function refill(b: Bucket, t: number, rate: number, cap: number): void {
  b.tokens = Math.min(cap, b.tokens + ((t - b.at) / 1000) * rate);
  b.at = t;
}
