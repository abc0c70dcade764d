// The hub's lease keeper (src/hub/lease-keeper.ts) with simulated time and a registry in memory:
// standby until the lease lapses, active and fenced after every renewal, and the fence left to run
// out when the registry cannot be reached.
import { describe, expect, it } from 'vitest';
import { FENCE_MARGIN_MS, LEASE_MS, LeaseKeeper, RENEW_MS, STANDBY_POLL_MS, type LeaseEvents } from '../../src/hub/lease-keeper.js';
import type { HubRecord, Lease, LeaseClaim } from '../../src/store/index.js';

/** One lease row, by a database clock the test moves. */
class Registry {
  now = 1_000_000;
  lease: Lease | null = null;
  down = false;
  claim = (hub: HubRecord, ms: number): LeaseClaim => {
    if (this.down) throw new Error('the database gave no answer');
    const live = this.lease !== null && this.lease.expiresAt > this.now;
    if (live && this.lease!.holder !== hub.hubId) return { held: false, lease: this.lease!, now: this.now };
    this.lease = { holder: hub.hubId, since: live ? this.lease!.since : this.now, expiresAt: this.now + ms };
    return { held: true, lease: this.lease, now: this.now };
  };
}

/** Timers and a monotonic clock moved by hand (the database's clock moves with it). */
class Clock {
  mono = 0;
  timers: { every: number; next: number; tick: () => void }[] = [];
  constructor(private readonly db: Registry) {}
  every = (ms: number, tick: () => void) => {
    const t = { every: ms, next: this.mono + ms, tick };
    this.timers.push(t);
    return () => (this.timers = this.timers.filter((x) => x !== t));
  };
  monotonic = () => this.mono;
  async advance(ms: number): Promise<void> {
    const until = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.next <= until).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.db.now += due.next - this.mono;
      this.mono = due.next;
      due.next += due.every;
      due.tick();
      await new Promise((r) => setImmediate(r));
    }
    this.db.now += until - this.mono;
    this.mono = until;
  }
}

function hub(id: string, db: Registry, clock: Clock) {
  const log: string[] = [];
  let fenceAt: number | null = null;
  let activeAt: number | null = null;
  const events: LeaseEvents = {
    activate: async () => {
      activeAt = clock.mono;
      log.push('activate');
    },
    fence: (ms) => (fenceAt = clock.mono + ms),
    standby: (holder) => void log.push(`standby (${holder})`),
    lost: (reason) => void log.push(`lost: ${reason}`),
    failed: (err) => void log.push(`failed: ${(err as Error).message}`),
  };
  const keeper = new LeaseKeeper(db.claim, { hubId: id, apiUrl: `http://${id}:8090`, endpoint: `${id}:41820` }, clock, events);
  return { keeper, log, fenceAt: () => fenceAt, activeAt: () => activeAt };
}

describe('the lease keeper', () => {
  it('the first hub is active and renews; the second waits and takes over once the first stops renewing', async () => {
    const db = new Registry();
    const clock = new Clock(db);
    const a = hub('hub-a', db, clock);
    const b = hub('hub-b', db, clock);
    expect(await a.keeper.start()).toBe('active');
    expect(await b.keeper.start()).toBe('standby');
    expect(b.log).toEqual(['standby (hub-a)']);
    await clock.advance(60_000);
    expect(db.lease!.holder).toBe('hub-a'); // renewed all along
    expect(a.fenceAt()! - clock.mono).toBeGreaterThan(0);
    // hub-a dies (its timers stop): hub-b takes over one poll after the lease lapses.
    const diedAt = clock.mono;
    a.keeper.stop();
    const fenceOfA = a.fenceAt()!;
    await clock.advance(LEASE_MS + STANDBY_POLL_MS);
    expect(b.keeper.role).toBe('active');
    expect(b.log).toEqual(['standby (hub-a)', 'activate']);
    expect(db.lease!.holder).toBe('hub-b');
    expect(b.activeAt()! - diedAt).toBeLessThanOrEqual(LEASE_MS + STANDBY_POLL_MS);
    // hub-a's data plane had stopped by itself well before hub-b brought its own up.
    expect(b.activeAt()! - fenceOfA).toBeGreaterThanOrEqual(FENCE_MARGIN_MS);
  });

  it('an active hub cut off from the registry keeps its last fence, which runs out before another hub can take over', async () => {
    const db = new Registry();
    const clock = new Clock(db);
    const a = hub('hub-a', db, clock);
    await a.keeper.start();
    await clock.advance(5 * RENEW_MS);
    const lastRenewal = db.lease!.expiresAt - LEASE_MS; // by the database's clock, = the monotonic one here
    db.down = true;
    await clock.advance(3 * RENEW_MS);
    expect(a.log.filter((l) => l.startsWith('failed'))).toHaveLength(3);
    // The fence: no later than the lease's end minus the margin; the lease is the database's to give.
    expect(a.fenceAt()!).toBeLessThanOrEqual(lastRenewal + LEASE_MS - FENCE_MARGIN_MS);
    expect(a.keeper.role).toBe('active'); // it has not heard otherwise: the fence does the stopping
  });

  it('an active hub that finds another holder says so and stops renewing', async () => {
    const db = new Registry();
    const clock = new Clock(db);
    const a = hub('hub-a', db, clock);
    await a.keeper.start();
    db.lease = { holder: 'hub-z', since: db.now, expiresAt: db.now + 60_000 }; // an operator's mistake, say
    await clock.advance(RENEW_MS);
    expect(a.log).toEqual(['activate', 'lost: hub hub-z holds the registry\'s lease now']);
    expect(clock.timers).toHaveLength(0);
  });

  it("a hub whose registry stays away gives up after a lease's length (a restart opens a new connection)", async () => {
    const db = new Registry();
    const clock = new Clock(db);
    const b = hub('hub-b', db, clock);
    db.lease = { holder: 'hub-a', since: db.now, expiresAt: db.now + 60_000 };
    await b.keeper.start();
    db.down = true;
    await clock.advance(LEASE_MS + 2 * STANDBY_POLL_MS);
    expect(b.log.at(-1)).toBe(`lost: the registry has not answered for ${LEASE_MS / 1000} s`);
    expect(clock.timers).toHaveLength(0);
  });

  it('a standby that cannot reach the registry for a moment keeps waiting', async () => {
    const db = new Registry();
    db.down = true;
    const clock = new Clock(db);
    const b = hub('hub-b', db, clock);
    expect(await b.keeper.start()).toBe('standby');
    db.down = false;
    await clock.advance(STANDBY_POLL_MS);
    expect(b.keeper.role).toBe('active');
  });
});
