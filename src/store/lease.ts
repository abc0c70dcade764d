// The hub lease: which of the hubs sharing a registry runs the WireGuard device, as one row the holder
// renews. Times are the database's own clock, so the hubs' clocks need not agree. The holder fences
// itself by its own monotonic clock (the data plane's fenceAfter), well before the row's expiry: a
// hub that cannot renew stops answering before another can take over. With SQLite there is one hub,
// and it always gets the lease.
import type { AuditLog } from './audit.js';
import type { Db, Engine, Statement } from './db.js';

export interface Lease {
  /** The hub that holds it. */
  holder: string;
  /** Since when this holder has held it without a break (ms, the database's clock). */
  since: number;
  /** Until when it holds (ms, the database's clock). */
  expiresAt: number;
}

/** A hub that shares the registry, as agents and admins see it. */
export interface HubRecord {
  hubId: string;
  /** Where its API is: http(s)://host:port. */
  apiUrl: string;
  /** Its WireGuard endpoint, host:port. */
  endpoint: string;
  /** When it last claimed or renewed (ms, the database's clock). */
  seenAt?: number;
}

export interface LeaseClaim {
  held: boolean;
  lease: Lease;
  /** The database's time of the claim (ms). */
  now: number;
}

const NOW_MS: Record<Engine, string> = {
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
  postgres: '(extract(epoch from clock_timestamp()) * 1000)::bigint',
};

export class LeaseRepository {
  readonly #now: Statement;
  readonly #read: Statement;
  readonly #write: Statement;
  readonly #expire: Statement;
  readonly #seen: Statement;
  readonly #hubs: Statement;

  constructor(
    private readonly db: Db,
    private readonly auditLog: AuditLog,
  ) {
    this.#now = db.prepare(`SELECT ${NOW_MS[db.engine]}`).pluck();
    this.#read = db.prepare('SELECT holder, since, expires_at AS "expiresAt" FROM hub_lease WHERE id = 1');
    this.#write = db.prepare(`INSERT INTO hub_lease (id, holder, since, expires_at) VALUES (1, @holder, @since, @expiresAt)
      ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, since = excluded.since, expires_at = excluded.expires_at`);
    this.#expire = db.prepare(`UPDATE hub_lease SET expires_at = ${NOW_MS[db.engine]} WHERE id = 1 AND holder = ?`);
    this.#seen = db.prepare(`INSERT INTO hubs (hub_id, api_url, endpoint, seen_at) VALUES (@hubId, @apiUrl, @endpoint, @seenAt)
      ON CONFLICT (hub_id) DO UPDATE SET api_url = excluded.api_url, endpoint = excluded.endpoint, seen_at = excluded.seen_at`);
    this.#hubs = db.prepare('SELECT hub_id AS "hubId", api_url AS "apiUrl", endpoint, seen_at AS "seenAt" FROM hubs ORDER BY hub_id');
  }

  /**
   * Takes the lease for `ms` from now, or renews it, unless another hub holds it unexpired; records
   * the hub as seen either way. In one write transaction: two hubs claiming at once, one wins.
   */
  claim(hub: HubRecord, ms: number, actor: string): LeaseClaim {
    if (!Number.isInteger(ms) || ms <= 0) throw new RangeError(`a lease lasts a positive whole number of ms, got ${ms}`);
    return this.db.write((): LeaseClaim => {
      const now = Number(this.#now.get());
      this.#seen.run({ hubId: hub.hubId, apiUrl: hub.apiUrl, endpoint: hub.endpoint, seenAt: now });
      const current = this.#read.get() as Lease | undefined;
      const live = current !== undefined && current.expiresAt > now;
      if (live && current.holder !== hub.hubId) return { held: false, lease: current, now };
      const renewing = live && current.holder === hub.hubId;
      const lease: Lease = { holder: hub.hubId, since: renewing ? current.since : now, expiresAt: now + ms };
      this.#write.run(lease);
      if (!renewing) this.auditLog.record('hub.lease', null, `taken by ${hub.hubId}${current ? ` (was ${current.holder})` : ''}`, actor);
      return { held: true, lease, now };
    });
  }

  /** Lets the lease go at once (a hub stopping cleanly): another hub can take it now. */
  release(hubId: string, actor: string): void {
    this.db.write(() => {
      if (this.#expire.run(hubId).changes > 0) this.auditLog.record('hub.lease', null, `released by ${hubId}`, actor);
    });
  }

  /** The lease as it stands, and the database's time. */
  current(): { lease: Lease | null; now: number } {
    return this.db.read(() => ({ lease: (this.#read.get() as Lease | undefined) ?? null, now: Number(this.#now.get()) }));
  }

  hubs(): HubRecord[] {
    return this.#hubs.all() as HubRecord[];
  }
}
