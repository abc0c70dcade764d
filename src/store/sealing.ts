// Secrets at rest: XSalsa20-Poly1305 (tweetnacl secretbox) under a 32-byte key kept in DATA_DIR
// as `secret.key`. A copy of the database alone (a backup, a stray scp, a dump) reveals no key.
// Hubs that share a registry on PostgreSQL each have their own DATA_DIR with the same secret.key.
import { closeSync, existsSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import type { Db } from './db.js';
import type { SettingsTable } from './settings.js';

export const SECRET_KEY_FILE = 'secret.key';

const KEY_BYTES = nacl.secretbox.keyLength; // 32
const NONCE_BYTES = nacl.secretbox.nonceLength; // 24

/** Seals and opens values as base64(nonce ‖ box); a fresh random nonce for every value. */
export class Sealer {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_BYTES) throw new Error(`a sealing key is ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = Uint8Array.from(key);
  }

  seal(plaintext: string): string {
    const nonce = nacl.randomBytes(NONCE_BYTES);
    const box = nacl.secretbox(new TextEncoder().encode(plaintext), nonce, this.#key);
    return Buffer.concat([nonce, box]).toString('base64');
  }

  /** Throws when the value was not sealed under this key (a replaced secret.key, a damaged row). */
  unseal(sealed: string): string {
    const bytes = new Uint8Array(Buffer.from(sealed, 'base64'));
    const opened =
      bytes.length > NONCE_BYTES
        ? nacl.secretbox.open(bytes.subarray(NONCE_BYTES), bytes.subarray(0, NONCE_BYTES), this.#key)
        : null;
    if (!opened) throw new Error(`cannot unseal a stored secret: it was not sealed with this ${SECRET_KEY_FILE}`);
    return new TextDecoder().decode(opened);
  }
}

/**
 * Reads `dataDir/secret.key`, creating it (mode 0600) when missing and `mayCreate` allows.
 * Refuses a key file that group or others can access: the key is worth as much as every secret
 * in the database.
 */
export function loadSecretKey(dataDir: string, mayCreate: boolean, whereFrom = 'restore the file that belongs to it'): Uint8Array {
  const path = join(dataDir, SECRET_KEY_FILE);
  if (!existsSync(path)) {
    if (!mayCreate) {
      throw new Error(`${path} is missing but the database holds sealed secrets: ${whereFrom}`);
    }
    const key = nacl.randomBytes(KEY_BYTES);
    // 'wx': never overwrite a key another process created a moment ago.
    try {
      writeFileSync(path, key, { mode: 0o600, flag: 'wx' });
      return key;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  // Check the mode of the file we read, not of a path that could be swapped in between.
  const fd = openSync(path, 'r');
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new Error(`${path} is accessible by group or others (mode ${mode}): run \`chmod 600 ${path}\``);
    }
    if (stat.size !== KEY_BYTES) throw new Error(`${path} must hold exactly ${KEY_BYTES} bytes, it holds ${stat.size}`);
    const key = new Uint8Array(KEY_BYTES);
    if (readSync(fd, key, 0, KEY_BYTES, 0) !== KEY_BYTES) throw new Error(`${path}: short read`);
    return key;
  } finally {
    closeSync(fd);
  }
}

// A known value sealed at first start: opening it proves secret.key belongs to this database,
// so a swapped or regenerated key fails at start-up, not at the first config download.
export const SEALING_CHECK_KEY = 'store.sealing_check';
const SEALING_CHECK_VALUE = 'wgvm sealing key check';

/**
 * The sealer of the database `db` whose settings are `settings`: its key from `dataDir/secret.key`,
 * checked against the value sealed at first start (or created, with that value, for a database
 * that has never sealed anything). In one write transaction: of two hubs starting on a new shared
 * registry, one writes the check and the other is then held to its key.
 */
export function openSealer(db: Db, settings: SettingsTable, dataDir: string): Sealer {
  // On PostgreSQL the key lives in each hub's DATA_DIR, the database elsewhere: the fix is a copy.
  const fix =
    db.engine === 'sqlite'
      ? 'restore the key file it was created with'
      : `hubs that share a registry share one ${SECRET_KEY_FILE}: copy it from the DATA_DIR of the hub that first used this database`;
  return db.write(() => {
    const check = settings.get(SEALING_CHECK_KEY);
    const sealer = new Sealer(loadSecretKey(dataDir, check === null, db.engine === 'sqlite' ? undefined : fix));
    if (check === null) {
      settings.put(SEALING_CHECK_KEY, sealer.seal(SEALING_CHECK_VALUE), true);
      return sealer;
    }
    let opened: string | null = null;
    try {
      opened = sealer.unseal(check.value);
    } catch {
      // reported below, with the names
    }
    if (opened !== SEALING_CHECK_VALUE) throw new Error(`${join(dataDir, SECRET_KEY_FILE)} does not belong to ${db.name}: ${fix}`);
    return sealer;
  });
}
