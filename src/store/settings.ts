// Key/value settings of the hub; a value may be sealed (the hub's own private key is).
import type { AuditLog } from './audit.js';
import type { Db, Statement } from './db.js';
import type { Sealer } from './sealing.js';

export interface SetSettingOptions {
  /** Seal the value at rest (default false). */
  sealed?: boolean;
}

export class Settings {
  readonly #get: Statement;
  readonly #put: Statement;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly auditLog: AuditLog,
  ) {
    this.#get = db.prepare('SELECT value, sealed FROM settings WHERE key = ?');
    this.#put = db.prepare(
      'INSERT INTO settings (key, value, sealed) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, sealed = excluded.sealed',
    );
  }

  /** The value, unsealed if it was sealed; null when unset. */
  get(key: string): string | null {
    const row = this.#get.get(key) as { value: string; sealed: number } | undefined;
    if (!row) return null;
    return row.sealed ? this.sealer.unseal(row.value) : row.value;
  }

  set(key: string, value: string, options: SetSettingOptions, actor: string): void {
    const sealed = options.sealed ?? false;
    this.db.transaction(() => {
      this.#put.run(key, sealed ? this.sealer.seal(value) : value, sealed ? 1 : 0);
      // The key only: a setting's value may be a secret.
      this.auditLog.record('setting.set', null, `key=${key}${sealed ? ' (sealed)' : ''}`, actor);
    }).immediate();
  }
}
