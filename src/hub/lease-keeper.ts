// Which of the hubs sharing a registry runs the WireGuard device: this one while it holds the lease
// (store/lease.ts). A standby claims it every STANDBY_POLL_MS and becomes active when it lapses; the
// active hub renews it every RENEW_MS and, after each renewal, tells its data plane to stop by itself
// FENCE_MARGIN_MS before the lease could pass on (fenceAfter), so that two hubs never answer as the
// same WireGuard peer at once — even when this thread is stuck waiting for the database.
import type { HubRecord, LeaseClaim } from '../store/index.js';

/** How long a claim holds, by the database's clock. */
export const LEASE_MS = 10_000;
export const RENEW_MS = 2_000;
export const STANDBY_POLL_MS = 1_000;
/** The data plane stops this long before the lease's end, measured from before the renewal was sent. */
export const FENCE_MARGIN_MS = 3_000;

export type Role = 'active' | 'standby';

export interface LeaseClock {
  every(ms: number, tick: () => void): () => void;
  /** A monotonic clock, in ms. */
  monotonic(): number;
}

export interface LeaseEvents {
  /** The lease is ours: bring the device up. */
  activate(): Promise<void>;
  /** After every claim that holds: the device must stop by itself `ms` from now unless told again. */
  fence(ms: number): void;
  /** Another hub holds the lease now (we lost it, or never had it). */
  standby(holder: string): void;
  /** We held it and lost it: the device must go (it has fenced itself, or is about to). */
  lost(reason: string): void;
  failed(err: unknown): void;
}

export class LeaseKeeper {
  #role: Role | null = null;
  /** Who held the lease at the last claim that got an answer (null: none yet). */
  #holder: string | null = null;
  #stopTimer: () => void = () => {};
  #activating = false;
  /** When claims began to fail (monotonic ms), or null while they succeed. */
  #failingSince: number | null = null;

  constructor(
    private readonly claim: (hub: HubRecord, ms: number) => LeaseClaim,
    private readonly me: HubRecord,
    private readonly clock: LeaseClock,
    private readonly events: LeaseEvents,
  ) {}

  get role(): Role | null {
    return this.#role;
  }

  /** The hub that held the lease at the last answered claim (this one's name while active). */
  get holder(): string | null {
    return this.#holder;
  }

  /** Claims once; active or standby from then on, until stop(). */
  async start(): Promise<Role> {
    await this.#tryClaim();
    return this.#role!;
  }

  stop(): void {
    this.#stopTimer();
  }

  async #tryClaim(): Promise<void> {
    const sentAt = this.clock.monotonic();
    let claim: LeaseClaim;
    try {
      claim = this.claim(this.me, LEASE_MS);
    } catch (err) {
      this.events.failed(err); // the fence set after the last renewal still runs out on time
      this.#failingSince ??= sentAt;
      if (this.clock.monotonic() - this.#failingSince >= LEASE_MS) {
        // A connection given up stays broken: a restarted hub opens a new one.
        this.#stopTimer();
        this.events.lost(`the registry has not answered for ${LEASE_MS / 1000} s`);
        return;
      }
      if (this.#role === null) this.#become('standby');
      return;
    }
    this.#failingSince = null;
    this.#holder = claim.lease.holder;
    if (claim.held) {
      if (this.#role !== 'active' && !this.#activating) {
        this.#activating = true;
        try {
          await this.events.activate();
          this.#become('active');
        } finally {
          this.#activating = false;
        }
      }
      // Counted from before the claim was sent (the database's expiry is at least this late), and
      // after the device came up: it is the device that must stop in time.
      this.events.fence(Math.max(0, LEASE_MS - FENCE_MARGIN_MS - (this.clock.monotonic() - sentAt)));
      return;
    }
    if (this.#role === 'active') {
      this.#stopTimer();
      this.events.lost(`hub ${claim.lease.holder} holds the registry's lease now`);
      return;
    }
    if (this.#role === null) this.events.standby(claim.lease.holder);
    this.#become('standby');
  }

  #become(role: Role): void {
    if (this.#role === role) return;
    this.#role = role;
    this.#stopTimer();
    this.#stopTimer = this.clock.every(role === 'active' ? RENEW_MS : STANDBY_POLL_MS, () => {
      this.#tryClaim().catch((err: unknown) => this.events.failed(err));
    });
  }
}
