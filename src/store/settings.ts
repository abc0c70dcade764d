// Key/value settings of the hub; a value may be sealed (the hub's own private key is).
import type { AuditLog } from './audit.js';
import type { Db, Statement } from './db.js';
import type { Sealer } from './sealing.js';

/** The setting `wgvm serve` keeps its own private key in (sealed). */
export const HUB_PRIVATE_KEY_SETTING = 'hub_private_key';

export interface SetSettingOptions {
  /** Seal the value at rest (default false). */
  sealed?: boolean;
}

/** A setting with its value in clear text, and whether it is sealed at rest. */
export interface SettingEntry {
  key: string;
  value: string;
  sealed: boolean;
}

interface StoredSetting {
  key: string;
  /** Sealed when `sealed` is 1. */
  value: string;
  sealed: number;
}

/** The settings table as stored (sealed values stay sealed): all of its SQL. */
export class SettingsTable {
  readonly #get: Statement;
  readonly #all: Statement;
  readonly #put: Statement;

  constructor(db: Db) {
    this.#get = db.prepare('SELECT key, value, sealed FROM settings WHERE key = ?');
    this.#all = db.prepare('SELECT key, value, sealed FROM settings ORDER BY key');
    this.#put = db.prepare(
      'INSERT INTO settings (key, value, sealed) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, sealed = excluded.sealed',
    );
  }

  get(key: string): StoredSetting | null {
    return (this.#get.get(key) as StoredSetting | undefined) ?? null;
  }

  /** In key order. */
  all(): StoredSetting[] {
    return this.#all.all() as StoredSetting[];
  }

  put(key: string, storedValue: string, sealed: boolean): void {
    this.#put.run(key, storedValue, sealed ? 1 : 0);
  }
}

export class Settings {
  constructor(
    private readonly db: Db,
    private readonly table: SettingsTable,
    private readonly sealer: Sealer,
    private readonly auditLog: AuditLog,
    /** Settings that belong to the store itself: never set from outside, never exported or restored. */
    private readonly reserved: ReadonlySet<string>,
  ) {}

  /** The value, unsealed if it was sealed; null when unset. */
  get(key: string): string | null {
    const row = this.table.get(key);
    return row === null ? null : this.#clearText(row);
  }

  set(key: string, value: string, options: SetSettingOptions, actor: string): void {
    if (this.reserved.has(key)) throw new Error(`the setting ${key} belongs to the store itself`);
    const sealed = options.sealed ?? false;
    this.db.write(() => {
      this.#put({ key, value, sealed });
      // The key only: a setting's value may be a secret.
      this.auditLog.record('setting.set', null, `key=${key}${sealed ? ' (sealed)' : ''}`, actor);
    });
  }

  /** Every setting but the reserved ones, in key order; sealed ones (in clear text) only when asked for. */
  entries(options: { includeSealed: boolean }): SettingEntry[] {
    return this.table
      .all()
      .filter((row) => !this.reserved.has(row.key) && (options.includeSealed || row.sealed === 0))
      .map((row) => ({ key: row.key, value: this.#clearText(row), sealed: row.sealed === 1 }));
  }

  /**
   * Writes settings back as a backup holds them (sealed ones sealed again with this store's key),
   * skipping reserved ones, with no audit row: the backup's own audit log is their history.
   * Returns how many were written.
   */
  restore(entries: readonly SettingEntry[]): number {
    const restorable = entries.filter((entry) => !this.reserved.has(entry.key));
    for (const entry of restorable) this.#put(entry);
    return restorable.length;
  }

  #put(entry: SettingEntry): void {
    this.table.put(entry.key, entry.sealed ? this.sealer.seal(entry.value) : entry.value, entry.sealed);
  }

  #clearText(row: StoredSetting): string {
    return row.sealed ? this.sealer.unseal(row.value) : row.value;
  }
}
