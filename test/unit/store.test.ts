// The registry on real SQLite files in a temporary directory: allocation, sealing, tokens,
// migrations and the audit log, checked down to the bytes on disk.
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { x25519 } from '@noble/curves/ed25519.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { intToIp, ipToInt, parseRange, type AddressRange } from '../../src/domain/ipam.js';
import { encodeKey, generateKeyPair, generatePresharedKey, SMALL_ORDER_POINTS } from '../../src/domain/keys.js';
import { RegistryError } from '../../src/domain/errors.js';
import type { Db, Engine } from '../../src/store/db.js';
import { openPostgres } from '../../src/store/pg-db.js';
import { openSqlite } from '../../src/store/sqlite-db.js';
import { postgresMissing, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { LATEST_VERSION, Store, TOKEN_LIMITS, TOKEN_PURGE_AFTER_MS, type RegisterNodeInput, type StoreOptions } from '../../src/store/index.js';

const HUB = ipToInt('10.100.0.1');
const DEFAULT_RANGE = parseRange('10.100.1.2-10.100.1.254');
// The whole /16 but its network and broadcast addresses; the hub's address is excluded per call.
const WHOLE_SUBNET = parseRange('10.100.0.1-10.100.255.254');

// Every test runs on both engines: SQLite in the test's DATA_DIR, PostgreSQL in a new database of
// a server started for this file.
const ENGINES: readonly Engine[] = postgresMissing ? ['sqlite'] : ['sqlite', 'postgres'];
let pg: PostgresServer | null = null;
let engine: Engine;
/** The test's PostgreSQL database; null on SQLite. */
let databaseUrl: string | null = null;

beforeAll(async () => {
  if (ENGINES.includes('postgres')) pg = await startPostgres();
});

afterAll(() => pg?.stop());

let dirs: string[] = [];
let stores: Store[] = [];
let dataDir: string;

beforeEach(() => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'wgvm-store-')), 'data');
  dirs.push(join(dataDir, '..'));
});

afterEach(() => {
  for (const s of stores) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  stores = [];
  dirs = [];
});

function open(options: StoreOptions = {}, dir = dataDir): Store {
  const store = Store.open(dir, { databaseUrl, ...options });
  stores.push(store);
  return store;
}

/** Random 32 bytes pass as a worker's public key and cost nothing, unlike an X25519 multiplication. */
const randomKey = () => encodeKey(new Uint8Array(randomBytes(32)));

function input(nodeId: string, overrides: Partial<RegisterNodeInput> = {}): RegisterNodeInput {
  return {
    nodeId,
    description: `GPU box ${nodeId}`,
    centralServerUrl: 'https://central.example.com',
    publicKey: randomKey(),
    privateKey: null,
    presharedKey: encodeKey(generatePresharedKey()),
    range: DEFAULT_RANGE,
    exclude: new Set([HUB]),
    ...overrides,
  };
}

function registryError(fn: () => unknown): RegistryError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryError) return err;
    throw err;
  }
  throw new Error('expected a RegistryError');
}

/** Everything the database holds: SQLite's main file and WAL, or a dump of the PostgreSQL database. */
function diskBytes(dir = dataDir): Buffer {
  if (engine === 'postgres') return Buffer.from(pg!.dump(databaseUrl!));
  const files = ['wgvm.db', 'wgvm.db-wal'].map((f) => join(dir, f)).filter((f) => existsSync(f));
  return Buffer.concat(files.map((f) => readFileSync(f)));
}

/** The test's database itself, on a connection of its own (closed after `fn`). */
function raw<T>(fn: (db: Db) => T): T {
  const db = engine === 'postgres' ? openPostgres(databaseUrl!) : openSqlite(dataDir);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function counts(store: Store) {
  return { nodes: store.listNodes().length, audit: store.listAudit(1_000_000).length };
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe.each(ENGINES)('the registry on %s', (e) => {
  beforeEach(() => {
    engine = e;
    databaseUrl = e === 'postgres' ? pg!.emptyDatabase() : null;
  });

  describe('opening', () => {
    it('creates the data directory (0700), the database (WAL) and secret.key (0600)', () => {
      open();
      expect(mode(dataDir)).toBe(0o700);
      expect(mode(join(dataDir, 'secret.key'))).toBe(0o600);
      expect(statSync(join(dataDir, 'secret.key')).size).toBe(32);
      if (engine === 'sqlite') {
        expect(mode(join(dataDir, 'wgvm.db'))).toBe(0o600);
        const file = new Database(join(dataDir, 'wgvm.db'), { readonly: true });
        try {
          expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
        } finally {
          file.close();
        }
      } else {
        expect(existsSync(join(dataDir, 'wgvm.db'))).toBe(false);
      }
      expect(raw((db) => db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get())).toBe(LATEST_VERSION);
    });

    it('reopens idempotently: migrations run once and the data stays', () => {
      const first = open();
      const node = first.registerNode(input('worker-01'));
      first.close();
      for (let i = 0; i < 3; i++) open().close();
      const again = open();
      expect(again.getNode('worker-01')).toEqual(node);
      expect(raw((db) => db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get())).toBe(LATEST_VERSION);
    });

    it('refuses a database from a newer wgvm', () => {
      open().close();
      raw((db) => db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2099-01-01')").run());
      expect(() => open()).toThrow(`has schema version 999, newer than this wgvm supports (${LATEST_VERSION})`);
    });

    it('refuses a secret.key that group or others can read, naming the file and the fix', () => {
      open().close();
      const keyFile = join(dataDir, 'secret.key');
      for (const bad of [0o644, 0o640, 0o604, 0o660]) {
        chmodSync(keyFile, bad);
        expect(() => open()).toThrow(`${keyFile} is accessible by group or others (mode 0${bad.toString(8)}): run \`chmod 600 ${keyFile}\``);
      }
      chmodSync(keyFile, 0o600);
      expect(() => open().close()).not.toThrow();
    });

    it('refuses a secret.key that is not the one the database was sealed with, or is missing', () => {
      open().close();
      const keyFile = join(dataDir, 'secret.key');
      const original = readFileSync(keyFile);
      writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
      expect(() => open()).toThrow(
        engine === 'sqlite'
          ? /secret\.key does not belong to .*wgvm\.db: restore the key file it was created with$/
          : /secret\.key does not belong to postgres:\/\/.*: hubs that share a registry share one secret\.key: copy it from the DATA_DIR of the hub that first used this database$/,
      );
      writeFileSync(keyFile, randomBytes(16), { mode: 0o600 });
      expect(() => open()).toThrow(/must hold exactly 32 bytes/);
      rmSync(keyFile);
      expect(() => open()).toThrow(/secret\.key is missing but the database holds sealed secrets/);
      expect(existsSync(keyFile)).toBe(false); // no new key silently created beside old secrets
      writeFileSync(keyFile, original, { mode: 0o600 });
      expect(() => open().close()).not.toThrow();
    });
  });

  describe('nodes', () => {
    it('registers, gets, lists and deletes', () => {
      let now = Date.parse('2025-03-01T12:00:00.000Z');
      const store = open({ clock: () => new Date(now) });
      const keys = generateKeyPair();
      const node = store.registerNode(input('worker-01', { ...keys, description: 'first' }), 'admin');
      expect(node).toEqual({
        nodeId: 'worker-01',
        description: 'first',
        centralServerUrl: 'https://central.example.com',
        vpnIp: '10.100.1.2',
        publicKey: keys.publicKey,
        hasPrivateKey: true,
        enabled: true,
        isolated: false,
        directPaths: true,
        createdAt: '2025-03-01T12:00:00.000Z',
        updatedAt: '2025-03-01T12:00:00.000Z',
        lastHandshakeAt: null,
        rxBytes: 0,
        txBytes: 0,
        endpoint: null,
        answeredFrom: null,
      });
      expect(node).not.toHaveProperty('privateKey');
      now += 1000;
      const own = store.registerNode(input('worker-02', { centralServerUrl: null }));
      expect(own.vpnIp).toBe('10.100.1.3');
      expect(own.hasPrivateKey).toBe(false);
      expect(own.centralServerUrl).toBeNull();
      expect(store.getNode('worker-01')).toEqual(node);
      expect(store.getNode('nobody')).toBeNull();
      expect(store.listNodes().map((n) => n.nodeId)).toEqual(['worker-01', 'worker-02']);

      expect(store.deleteNode('worker-01', 'admin')).toBe(true);
      expect(store.deleteNode('worker-01', 'admin')).toBe(false);
      expect(store.getNode('worker-01')).toBeNull();
      expect(store.listNodes().map((n) => n.nodeId)).toEqual(['worker-02']);
    });

    it('lists in address order, not text order', () => {
      const store = open();
      for (let i = 0; i < 12; i++) store.registerNode(input(`n${String.fromCharCode(122 - i)}`)); // nz, ny, …
      const ips = store.listNodes().map((n) => n.vpnIp);
      expect(ips).toEqual(Array.from({ length: 12 }, (_, i) => `10.100.1.${i + 2}`));
    });

    it('unseals the secrets it stored; a worker that keeps its own key has none stored', () => {
      const store = open();
      const keys = generateKeyPair();
      const psk = encodeKey(generatePresharedKey());
      store.registerNode(input('worker-01', { ...keys, presharedKey: psk }));
      store.registerNode(input('worker-02'));
      expect(store.getSecrets('worker-01')).toEqual({ privateKey: keys.privateKey, presharedKey: psk });
      expect(store.getSecrets('worker-02')!.privateKey).toBeNull();
      expect(store.getSecrets('nobody')).toBeNull();
    });

    it('rejects a duplicate node ID with no partial write', () => {
      const store = open();
      const first = store.registerNode(input('worker-01'));
      const before = counts(store);
      const err = registryError(() => store.registerNode(input('worker-01')));
      expect(err.code).toBe('duplicate');
      expect(err.message).toBe('node worker-01 is already registered');
      expect(counts(store)).toEqual(before);
      expect(store.getNode('worker-01')).toEqual(first);
    });

    it('rejects node IDs outside the pattern', () => {
      const store = open();
      for (const bad of ['', 'Worker-01', '-worker', 'worker_01', 'a'.repeat(64), 'wörker', 'worker 01']) {
        expect(registryError(() => store.registerNode(input(bad))).code, bad).toBe('invalid');
      }
      expect(store.registerNode(input('a'.repeat(63))).nodeId).toHaveLength(63);
      expect(counts(store).nodes).toBe(1);
    });

    it('rejects weak public keys (every small-order point, top bit either way) with no partial write', () => {
      const store = open();
      store.registerNode(input('worker-00'));
      const before = counts(store);
      const probe = x25519.utils.randomSecretKey();
      for (const point of SMALL_ORDER_POINTS) {
        // The list is right: X25519 with any clamped scalar maps each point to zero.
        expect(() => x25519.getSharedSecret(probe, point)).toThrow();
        const highBit = Uint8Array.from(point);
        highBit[31]! |= 0x80;
        for (const key of [point, highBit]) {
          const err = registryError(() => store.registerNode(input('worker-01', { publicKey: encodeKey(key) })));
          expect(err.code).toBe('invalid');
          expect(err.message).toMatch(/weak key/);
        }
      }
      expect(counts(store)).toEqual(before);
    });

    it('rejects malformed keys', () => {
      const store = open();
      const bad = [
        { publicKey: 'not-a-key' },
        { publicKey: `${randomKey().slice(0, 43)}` },
        { publicKey: randomKey(), privateKey: 'AAAA' },
        { publicKey: randomKey(), presharedKey: '' },
      ];
      for (const overrides of bad) expect(registryError(() => store.registerNode(input('worker-01', overrides))).code).toBe('invalid');
      expect(counts(store)).toEqual({ nodes: 0, audit: 0 });
    });

    it("rejects another node's public key with no partial write", () => {
      const store = open();
      const taken = store.registerNode(input('worker-01'));
      const before = counts(store);
      const err = registryError(() => store.registerNode(input('worker-02', { publicKey: taken.publicKey })));
      expect(err).toMatchObject({ code: 'invalid', message: 'the public key is already used by node worker-01' });
      expect(counts(store)).toEqual(before);
      expect(store.getNode('worker-02')).toBeNull();
    });

    it('enables and disables, auditing only real changes', () => {
      let now = Date.parse('2025-03-01T12:00:00.000Z');
      const store = open({ clock: () => new Date(now) });
      store.registerNode(input('worker-01'));
      now += 60_000;
      const disabled = store.setEnabled('worker-01', false, 'admin')!;
      expect(disabled.enabled).toBe(false);
      expect(disabled.updatedAt).toBe('2025-03-01T12:01:00.000Z');
      const auditRows = counts(store).audit;
      expect(store.setEnabled('worker-01', false, 'admin')!.enabled).toBe(false);
      expect(counts(store).audit).toBe(auditRows);
      expect(store.setEnabled('worker-01', true, 'admin')!.enabled).toBe(true);
      expect(store.setEnabled('nobody', true)).toBeNull();
      expect(store.listAudit(2).map((a) => a.action)).toEqual(['node.enable', 'node.disable']);
    });

    it('replaces keys: new secrets, back to pending, public key still unique', () => {
      let now = Date.parse('2025-03-01T12:00:00.000Z');
      const store = open({ clock: () => new Date(now) });
      const other = store.registerNode(input('worker-00'));
      store.registerNode(input('worker-01', generateKeyPair()));
      store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: '2025-03-01T12:00:30.000Z', rxBytes: 5, txBytes: 6, endpoint: '203.0.113.7:51820' }]);
      now += 60_000;
      const keys = generateKeyPair();
      const psk = encodeKey(generatePresharedKey());
      const node = store.replaceKeys('worker-01', { ...keys, presharedKey: psk }, 'admin')!;
      expect(node).toMatchObject({
        publicKey: keys.publicKey,
        hasPrivateKey: true,
        vpnIp: '10.100.1.3',
        updatedAt: '2025-03-01T12:01:00.000Z',
        lastHandshakeAt: null,
        rxBytes: 0,
        endpoint: '203.0.113.7:51820', // still where the worker was: the hub can reach out
      });
      expect(store.getSecrets('worker-01')).toEqual({ privateKey: keys.privateKey, presharedKey: psk });

      const worker = store.replaceKeys('worker-01', { publicKey: randomKey(), privateKey: null, presharedKey: psk })!;
      expect(worker.hasPrivateKey).toBe(false);
      expect(store.getSecrets('worker-01')!.privateKey).toBeNull();

      const before = counts(store);
      const err = registryError(() => store.replaceKeys('worker-01', { publicKey: other.publicKey, privateKey: null, presharedKey: psk }));
      expect(err.code).toBe('invalid');
      expect(counts(store)).toEqual(before);
      expect(store.getNode('worker-01')!.publicKey).toBe(worker.publicKey);
      // Keeping its own current key is no conflict.
      expect(store.replaceKeys('worker-01', { publicKey: worker.publicKey, privateKey: null, presharedKey: psk })).not.toBeNull();
      expect(store.replaceKeys('nobody', { ...generateKeyPair(), presharedKey: psk })).toBeNull();
    });

    it('stores device status without touching updated_at; unknown IDs and missing values are skipped', () => {
      let now = Date.parse('2025-03-01T12:00:00.000Z');
      const store = open({ clock: () => new Date(now) });
      store.registerNode(input('worker-01'));
      store.registerNode(input('worker-02'));
      now += 3_600_000;
      const auditRows = counts(store).audit;
      const updated = store.updateStatus([
        { nodeId: 'worker-01', lastHandshakeAt: '2025-03-01T12:59:00.000Z', rxBytes: 1234, txBytes: 5678, endpoint: '203.0.113.7:51820', answeredFrom: '198.51.100.1' },
        { nodeId: 'ghost', lastHandshakeAt: '2025-03-01T12:59:00.000Z', rxBytes: 1, txBytes: 1, endpoint: null },
        { nodeId: 'worker-02', lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: '[2001:db8::1]:51820' },
      ]);
      expect(updated).toBe(2);
      expect(store.getNode('worker-01')).toMatchObject({
        lastHandshakeAt: '2025-03-01T12:59:00.000Z',
        rxBytes: 1234,
        txBytes: 5678,
        endpoint: '203.0.113.7:51820',
        answeredFrom: '198.51.100.1',
        updatedAt: '2025-03-01T12:00:00.000Z',
      });
      expect(store.getNode('worker-02')).toMatchObject({ lastHandshakeAt: null, endpoint: '[2001:db8::1]:51820' });
      // A restarted device knows no handshake or endpoint yet: the last known ones stay.
      store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: null }]);
      expect(store.getNode('worker-01')).toMatchObject({ lastHandshakeAt: '2025-03-01T12:59:00.000Z', endpoint: '203.0.113.7:51820', answeredFrom: '198.51.100.1', rxBytes: 0 });
      // Answered from the kernel's choice now (the address it wrote to went away): no hub address.
      store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: '203.0.113.7:51820', answeredFrom: null }]);
      expect(store.getNode('worker-01')!.answeredFrom).toBeNull();
      expect(counts(store).audit).toBe(auditRows);
      // A bad row rejects the batch before anything is written.
      expect(() =>
        store.updateStatus([
          { nodeId: 'worker-02', lastHandshakeAt: '2025-03-01T13:00:00.000Z', rxBytes: 1, txBytes: 1, endpoint: null },
          { nodeId: 'worker-01', lastHandshakeAt: null, rxBytes: -1, txBytes: 0, endpoint: null },
        ]),
      ).toThrow(RangeError);
      expect(store.getNode('worker-02')!.lastHandshakeAt).toBeNull();
    });
  });

  describe('address allocation', () => {
    const wholeInput = (nodeId: string) => input(nodeId, { range: WHOLE_SUBNET });

    it('gives 1,000 nodes 1,000 different addresses, lowest first, never the hub', () => {
      const store = open();
      // (how fast is the control-plane benchmark's business: npm run bench:control)
      for (let i = 0; i < 1000; i++) store.registerNode(wholeInput(`worker-${i}`));
      const ips = store.listNodes().map((n) => ipToInt(n.vpnIp));
      expect(new Set(ips).size).toBe(1000);
      expect(ips).not.toContain(HUB);
      expect(ips[0]).toBe(ipToInt('10.100.0.2'));
      expect(ips[999]).toBe(ipToInt('10.100.0.2') + 999);
    });

    it('gives an address back when the registration that took it rolls back', () => {
      const store = open({ tokenLimits: { perNode: 3, total: 2 } });
      const range: AddressRange = parseRange('10.100.1.2-10.100.1.20');
      store.registerNode(input('a', { range }));
      store.registerNode(input('b', { range }));
      const t0 = new Date();
      for (const id of ['a', 'b']) store.createInstallToken(id, { ttlSeconds: 60, uses: 1, now: t0 });
      // The node and its install link commit together: the link is refused, so the node goes too.
      expect(() => store.atomically(() => {
        store.registerNode(input('c', { range }));
        store.createInstallToken('c', { ttlSeconds: 60, uses: 1, now: t0 });
      })).toThrow(/already 2 unexpired install links/);
      expect(store.getNode('c')).toBeNull();
      expect(store.registerNode(input('d', { range })).vpnIp).toBe('10.100.1.4');
      store.deleteNode('a');
      expect(store.registerNode(input('e', { range })).vpnIp).toBe('10.100.1.2');
      expect(store.registerNode(input('f', { range })).vpnIp).toBe('10.100.1.5');
    });

    it('reuses freed addresses and never duplicates one while registrations and deletions interleave', () => {
      const store = open();
      const range: AddressRange = parseRange('10.100.1.2-10.100.5.254'); // 1,021 addresses
      let seq = 0;
      const live: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const id = `w${seq++}`;
        store.registerNode(input(id, { range }));
        live.push(id);
      }
      // Free a scattered set, then register again: the new nodes take exactly the freed addresses.
      const victims = live.filter((_, i) => i % 10 === 3);
      const freed = victims.map((id) => store.getNode(id)!.vpnIp);
      for (const id of victims) expect(store.deleteNode(id)).toBe(true);
      const reused = victims.map(() => store.registerNode(input(`w${seq++}`, { range })).vpnIp);
      expect(reused).toEqual(freed);

      // Random interleaving (seeded, so a failure can be replayed).
      let state = 42;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        return state % n;
      };
      let current = store.listNodes().map((n) => n.nodeId);
      for (let round = 0; round < 1000; round++) {
        if (rand(2) === 0 && current.length > 0) {
          const [id] = current.splice(rand(current.length), 1);
          expect(store.deleteNode(id!)).toBe(true);
        } else if (current.length < 1021) {
          const node = store.registerNode(input(`w${seq++}`, { range }));
          current.push(node.nodeId);
        }
      }
      const ips = store.listNodes().map((n) => n.vpnIp);
      expect(ips).toHaveLength(current.length);
      expect(new Set(ips).size).toBe(ips.length);
    });

    it('two connections to one database never hand out the same address', () => {
      const a = open();
      const b = open();
      for (let i = 0; i < 200; i++) (i % 2 ? a : b).registerNode(input(`worker-${i}`, { range: WHOLE_SUBNET }));
      const ips = a.listNodes().map((n) => n.vpnIp);
      expect(ips).toHaveLength(200);
      expect(new Set(ips).size).toBe(200);
    });

    it('finds an address another connection freed below where this one searches from', () => {
      const hub = open();
      const cli = open();
      const range = parseRange('10.100.0.1-10.100.0.4'); // the hub sits inside and is excluded
      for (const id of ['worker-01', 'worker-02', 'worker-03']) hub.registerNode(input(id, { range }));
      cli.deleteNode('worker-01'); // e.g. `wgvm` on the command line while the hub runs
      expect(hub.registerNode(input('worker-04', { range })).vpnIp).toBe('10.100.0.2');
    });

    it('fails with range_full when the range is exhausted, and succeeds again after a deletion', () => {
      const store = open();
      const range = parseRange('10.100.0.1-10.100.0.4'); // the hub sits inside and is excluded
      store.registerNode(input('worker-01', { range }));
      store.registerNode(input('worker-02', { range }));
      const third = store.registerNode(input('worker-03', { range }));
      expect(third.vpnIp).toBe('10.100.0.4');
      const before = counts(store);
      const err = registryError(() => store.registerNode(input('worker-04', { range })));
      expect(err).toMatchObject({ code: 'range_full', message: 'no free address in 10.100.0.1–10.100.0.4' });
      expect(counts(store)).toEqual(before);
      store.deleteNode('worker-02');
      expect(store.registerNode(input('worker-04', { range })).vpnIp).toBe('10.100.0.3');
    });
  });

  describe('secrets at rest', () => {
    it('keeps private and preshared keys out of the database file, WAL included', () => {
      const store = open();
      const keys = generateKeyPair();
      const psk = encodeKey(generatePresharedKey());
      store.registerNode(input('worker-01', { ...keys, presharedKey: psk }));
      const rotated = generateKeyPair();
      store.replaceKeys('worker-01', { ...rotated, presharedKey: psk });
      const hubKey = generateKeyPair().privateKey;
      store.setSetting('hub_private_key', hubKey, { sealed: true });

      const secrets = [keys.privateKey, rotated.privateKey, psk, hubKey];
      const check = () => {
        const bytes = diskBytes();
        expect(bytes.length).toBeGreaterThan(0);
        for (const secret of secrets) {
          expect(bytes.includes(Buffer.from(secret)), secret).toBe(false);
          expect(bytes.includes(Buffer.from(secret, 'base64')), `raw ${secret}`).toBe(false);
        }
        // The public key is no secret, and its presence shows the search can find things.
        expect(bytes.includes(Buffer.from(rotated.publicKey))).toBe(true);
      };
      check(); // in the WAL
      store.checkpoint();
      check(); // in the main file
      expect(store.getSecrets('worker-01')!.privateKey).toBe(rotated.privateKey);
      expect(store.getSetting('hub_private_key')).toBe(hubKey);
    });
  });

  describe('install tokens', () => {
    const t0 = new Date('2025-03-01T12:00:00.000Z');
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

    it('hands out long random tokens and stores only their hash', () => {
      const store = open();
      store.registerNode(input('worker-01'));
      store.registerNode(input('worker-02'));
      const tokens = Array.from({ length: 20 }, (_, i) => store.createInstallToken(`worker-0${1 + (i % 2)}`, { ttlSeconds: 3600, uses: 1, now: t0 }));
      expect(tokens[0]!.expiresAt).toBe('2025-03-01T13:00:00.000Z');
      for (const { token } of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits, base64url
      expect(new Set(tokens.map((t) => t.token)).size).toBe(20);
      store.checkpoint();
      const bytes = diskBytes();
      for (const { token } of tokens) {
        expect(bytes.includes(Buffer.from(token))).toBe(false);
        expect(bytes.includes(Buffer.from(token, 'base64url'))).toBe(false);
      }
    });

    it('expires', () => {
      const store = open();
      store.registerNode(input('worker-01'));
      const { token } = store.createInstallToken('worker-01', { ttlSeconds: 60, uses: 5, now: t0 });
      expect(store.checkInstallToken(token, at(59))).toMatchObject({ nodeId: 'worker-01' });
      expect(store.redeemInstallToken(token, at(59))).toEqual({ nodeId: 'worker-01', usesLeft: 4, expiresAt: '2025-03-01T12:01:00.000Z' });
      expect(store.redeemInstallToken(token, at(60))).toEqual({ error: 'expired' });
      expect(store.redeemInstallToken(token, at(3600))).toEqual({ error: 'expired' });
    });

    it('runs out of uses; checking takes none', () => {
      const store = open();
      store.registerNode(input('worker-01'));
      const { token } = store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 2, now: t0 });
      for (let i = 0; i < 5; i++) expect(store.checkInstallToken(token, at(1))).toMatchObject({ usesLeft: 2 });
      expect(store.redeemInstallToken(token, at(1), '198.51.100.9')).toMatchObject({ nodeId: 'worker-01', usesLeft: 1 });
      expect(store.redeemInstallToken(token, at(2))).toMatchObject({ nodeId: 'worker-01', usesLeft: 0 });
      expect(store.redeemInstallToken(token, at(3))).toEqual({ error: 'used_up' });
      expect(store.checkInstallToken(token, at(3))).toEqual({ error: 'used_up' });
      expect(store.listAudit(3).map((a) => [a.action, a.actor])).toEqual([
        ['token.redeem', 'system'],
        ['token.redeem', '198.51.100.9'],
        ['token.create', 'system'],
      ]);
    });

    it('does not know made-up tokens', () => {
      const store = open();
      store.registerNode(input('worker-01'));
      store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1 });
      for (const fake of ['', 'x', randomBytes(32).toString('base64url'), 'a'.repeat(10_000)]) {
        expect(store.redeemInstallToken(fake)).toEqual({ error: 'unknown' });
      }
    });

    it('are revoked, and go with their node when it is deleted', () => {
      const store = open();
      store.registerNode(input('worker-01'));
      const a = store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1 });
      const b = store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1 });
      expect(store.revokeTokens('worker-01', 'admin')).toBe(2);
      expect(store.revokeTokens('worker-01', 'admin')).toBe(0);
      expect(store.redeemInstallToken(a.token)).toEqual({ error: 'unknown' });
      expect(store.redeemInstallToken(b.token)).toEqual({ error: 'unknown' });

      const c = store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1 });
      store.deleteNode('worker-01');
      // A new node under the same name must not inherit the old link.
      store.registerNode(input('worker-01'));
      expect(store.redeemInstallToken(c.token)).toEqual({ error: 'unknown' });
    });

    it('refuses unknown nodes and nonsense lifetimes or use counts', () => {
      const store = open();
      store.registerNode(input('worker-01'));
      expect(registryError(() => store.createInstallToken('nobody', { ttlSeconds: 60, uses: 1 })).code).toBe('not_found');
      for (const options of [{ ttlSeconds: 0, uses: 1 }, { ttlSeconds: 1.5, uses: 1 }, { ttlSeconds: 60, uses: 0 }, { ttlSeconds: 60, uses: -1 }]) {
        expect(registryError(() => store.createInstallToken('worker-01', options)).code).toBe('invalid');
      }
      expect(counts(store).audit).toBe(1); // the registration only
    });

    /** The token table as on disk. */
    const rows = () =>
      raw((db) => db.prepare('SELECT node_id, uses_left, expires_at FROM install_tokens ORDER BY node_id, expires_at').all()) as {
        node_id: string;
        uses_left: number;
        expires_at: string;
      }[];

    it(`a node holds at most ${TOKEN_LIMITS.perNode} live tokens; the next is refused with a clear error and nothing written`, () => {
      const store = open();
      store.registerNode(input('worker-01'));
      store.registerNode(input('worker-02'));
      const live = Array.from({ length: TOKEN_LIMITS.perNode }, () => store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1, now: t0 }));
      const before = { ...counts(store), rows: rows() };
      const err = registryError(() => store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1, now: t0 }));
      expect(err.code).toBe('limit');
      expect(err.message).toMatch(new RegExp(`worker-01 already has ${TOKEN_LIMITS.perNode} unexpired install links: rotate its keys`));
      expect({ ...counts(store), rows: rows() }).toEqual(before);
      // Another node is not affected.
      store.createInstallToken('worker-02', { ttlSeconds: 3600, uses: 1, now: t0 });
      // A used-up token no longer counts: its row goes, and a new token takes its place.
      expect(store.redeemInstallToken(live[0]!.token, at(1))).toMatchObject({ nodeId: 'worker-01' });
      store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1, now: at(2) });
      expect(rows().filter((r) => r.node_id === 'worker-01')).toHaveLength(TOKEN_LIMITS.perNode);
      expect(rows().filter((r) => r.uses_left === 0)).toEqual([]);
      // Once they expire, the node may have new ones, and the expired rows are gone.
      for (let i = 0; i < TOKEN_LIMITS.perNode; i++) store.createInstallToken('worker-01', { ttlSeconds: 3600, uses: 1, now: at(3700) });
      expect(rows().filter((r) => r.node_id === 'worker-01').map((r) => r.expires_at)).toEqual(Array(TOKEN_LIMITS.perNode).fill(at(7300).toISOString()));
    });

    it('all nodes together hold at most the total limit of live tokens', () => {
      const store = open({ tokenLimits: { perNode: 3, total: 5 } });
      for (const id of ['worker-01', 'worker-02']) store.registerNode(input(id));
      for (let i = 0; i < 3; i++) store.createInstallToken('worker-01', { ttlSeconds: 60, uses: 1, now: t0 });
      for (let i = 0; i < 2; i++) store.createInstallToken('worker-02', { ttlSeconds: 60, uses: 1, now: t0 });
      const before = counts(store);
      const err = registryError(() => store.createInstallToken('worker-02', { ttlSeconds: 60, uses: 1, now: t0 }));
      expect(err.code).toBe('limit');
      expect(err.message).toMatch(/already 5 unexpired install links/);
      expect(counts(store)).toEqual(before);
      // Expired tokens stop counting at once.
      expect(() => store.createInstallToken('worker-02', { ttlSeconds: 60, uses: 1, now: at(61) })).not.toThrow();
    });

    it('counts a token out of the total as soon as it is used up, revoked or deleted with its node', () => {
      const store = open({ tokenLimits: { perNode: 3, total: 3 } });
      for (const id of ['worker-01', 'worker-02', 'worker-03']) store.registerNode(input(id));
      const make = (id: string) => store.createInstallToken(id, { ttlSeconds: 60, uses: 1, now: t0 });
      const first = make('worker-01');
      make('worker-02');
      make('worker-03');
      expect(registryError(() => make('worker-01')).code).toBe('limit');
      store.redeemInstallToken(first.token, t0); // its last use: used up
      make('worker-01');
      expect(registryError(() => make('worker-01')).code).toBe('limit');
      expect(store.revokeTokens('worker-02')).toBe(1);
      make('worker-01');
      expect(registryError(() => make('worker-03')).code).toBe('limit');
      expect(store.deleteNode('worker-03')).toBe(true); // its token goes with it (ON DELETE CASCADE)
      make('worker-01');
      expect(registryError(() => make('worker-01')).code).toBe('limit');
    });

    it(`purges tokens that expired over ${TOKEN_PURGE_AFTER_MS / 3_600_000} hours ago; until then they still answer "expired"`, () => {
      const store = open();
      store.registerNode(input('worker-01'));
      store.registerNode(input('worker-02'));
      const old = store.createInstallToken('worker-01', { ttlSeconds: 60, uses: 1, now: t0 });
      const used = store.createInstallToken('worker-01', { ttlSeconds: 120, uses: 1, now: t0 });
      store.redeemInstallToken(used.token, at(1));
      // Another node's new token, an hour after: both old ones are kept, to explain a refusal.
      store.createInstallToken('worker-02', { ttlSeconds: 60, uses: 1, now: at(3600) });
      expect(store.redeemInstallToken(old.token, at(3600))).toEqual({ error: 'expired' });
      expect(store.redeemInstallToken(used.token, at(3600))).toEqual({ error: 'used_up' });
      // A day after their expiry any new token purges them.
      store.createInstallToken('worker-02', { ttlSeconds: 60, uses: 1, now: at(120 + TOKEN_PURGE_AFTER_MS / 1000) });
      expect(rows().filter((r) => r.node_id === 'worker-01')).toEqual([]);
      expect(store.redeemInstallToken(old.token)).toEqual({ error: 'unknown' });
      // And so does the hub's own purge (at start-up); worker-02's first token went when its second
      // was made (a node's dead tokens go whenever it gets a new one).
      expect(store.purgeInstallTokens(at(10 * 86_400))).toBe(1);
      expect(rows()).toEqual([]);
    });
  });

  describe('audit log', () => {
    it('records every change with its actor, newest first, in the same transaction', () => {
      const store = open();
      store.registerNode(input('worker-01'), 'admin@api');
      store.registerNode(input('worker-02', { privateKey: generateKeyPair().privateKey }), 'admin@api');
      store.setEnabled('worker-01', false, 'admin@dashboard');
      store.replaceKeys('worker-01', { publicKey: randomKey(), privateKey: null, presharedKey: encodeKey(generatePresharedKey()) }, 'admin@api');
      const { token } = store.createInstallToken('worker-01', { ttlSeconds: 60, uses: 1 }, 'admin@api');
      store.redeemInstallToken(token, undefined, '192.0.2.4');
      store.revokeTokens('worker-02', 'admin@api'); // nothing to revoke: no row
      store.createInstallToken('worker-02', { ttlSeconds: 60, uses: 1 });
      store.revokeTokens('worker-02', 'admin@api');
      store.deleteNode('worker-02', 'admin@api');
      store.setSetting('hub_private_key', generateKeyPair().privateKey, { sealed: true });
      store.audit('config.download', 'worker-01', 'via install token', '192.0.2.4');
      registryError(() => store.registerNode(input('worker-01'), 'admin@api')); // rolled back: no row

      const entries = store.listAudit(100);
      expect(entries.map((e) => [e.action, e.nodeId, e.actor])).toEqual([
        ['config.download', 'worker-01', '192.0.2.4'],
        ['setting.set', null, 'system'],
        ['node.delete', 'worker-02', 'admin@api'],
        ['token.revoke', 'worker-02', 'admin@api'],
        ['token.create', 'worker-02', 'system'],
        ['token.redeem', 'worker-01', '192.0.2.4'],
        ['token.create', 'worker-01', 'admin@api'],
        ['node.replace_keys', 'worker-01', 'admin@api'],
        ['node.disable', 'worker-01', 'admin@dashboard'],
        ['node.register', 'worker-02', 'admin@api'],
        ['node.register', 'worker-01', 'admin@api'],
      ]);
      expect(entries.find((e) => e.action === 'node.delete')!.detail).toBe('vpn_ip=10.100.1.3');
      expect(entries.find((e) => e.action === 'setting.set')!.detail).toBe('key=hub_private_key (sealed)');
      expect(store.listAudit(2)).toEqual(entries.slice(0, 2));
      for (const e of entries) expect(Date.parse(e.at)).not.toBeNaN();
    });
  });

  describe('settings', () => {
    it('stores plain and sealed values, overwrites, and survives a reopen', () => {
      const store = open();
      expect(store.getSetting('api_token_hint')).toBeNull();
      store.setSetting('listen_note', 'hello');
      store.setSetting('hub_private_key', 'first', { sealed: true });
      store.setSetting('hub_private_key', 'second', { sealed: true });
      store.setSetting('listen_note', 'plain again', { sealed: false });
      expect(store.getSetting('hub_private_key')).toBe('second');
      store.close();
      const again = open();
      expect(again.getSetting('hub_private_key')).toBe('second');
      expect(again.getSetting('listen_note')).toBe('plain again');
    });

    it("does not let a caller overwrite the store's own key check", () => {
      const store = open();
      expect(() => store.setSetting('store.sealing_check', 'x')).toThrow(/belongs to the store/);
    });
  });

  describe('agent credentials', () => {
    it('only a hash is kept; the credential finds its node until revoked or replaced; a list reads every issue time at once', () => {
      let now = Date.parse('2025-03-01T12:00:00.000Z');
      const store = open({ clock: () => new Date(now) });
      for (const id of ['worker-01', 'worker-02', 'worker-03']) store.registerNode(input(id), 'admin');
      const one = store.issueAgentCredential('worker-01', 'admin');
      now += 1000;
      const two = store.issueAgentCredential('worker-02', 'admin');
      expect(store.agentNodeOf(one)).toBe('worker-01');
      expect(store.agentNodeOf(two)).toBe('worker-02');
      expect(store.agentNodeOf('x'.repeat(43))).toBeNull();
      expect(diskBytes().includes(Buffer.from(one))).toBe(false);
      expect(Object.fromEntries(store.agentCredentialsIssuedAt())).toEqual({
        'worker-01': '2025-03-01T12:00:00.000Z',
        'worker-02': '2025-03-01T12:00:01.000Z',
      });
      expect(store.agentCredentialIssuedAt('worker-03')).toBeNull();
      const again = store.issueAgentCredential('worker-01', 'admin'); // a new installer replaces it
      expect(store.agentNodeOf(one)).toBeNull();
      expect(store.agentNodeOf(again)).toBe('worker-01');
      expect(store.revokeAgentCredential('worker-02', 'admin')).toBe(true);
      expect(store.agentNodeOf(two)).toBeNull();
      expect([...store.agentCredentialsIssuedAt().keys()]).toEqual(['worker-01']);
    });
  });

  describe('direct-path pairs', () => {
    it('keep their key sealed and their state; a state read gives no key; they go with either node', () => {
      const store = open();
      for (const id of ['worker-01', 'worker-02', 'worker-03']) store.registerNode(input(id), 'admin');
      const since = Date.parse('2025-03-01T12:00:00.000Z');
      const state = { state: 'trying' as const, via: 'lan' as const, since, attempt: 1, candidate: 0, deadline: since + 15_000 };
      const psk = encodeKey(generatePresharedKey());
      const other = encodeKey(generatePresharedKey());
      store.applyPairs([
        { a: 'worker-01', b: 'worker-02', ...state, presharedKey: psk },
        { a: 'worker-02', b: 'worker-03', ...state, presharedKey: other },
        { a: 'worker-01', b: 'worker-09', ...state, presharedKey: other }, // no such node: skipped
      ], [], []);
      const byA = (x: { a: string; b: string }, y: { a: string; b: string }) => (x.a + x.b < y.a + y.b ? -1 : 1);
      expect(store.listPairs().sort(byA)).toEqual([
        { a: 'worker-01', b: 'worker-02', ...state, presharedKey: psk },
        { a: 'worker-02', b: 'worker-03', ...state, presharedKey: other },
      ]);
      expect(diskBytes().includes(Buffer.from(psk))).toBe(false);
      const direct = { a: 'worker-01', b: 'worker-02', state: 'direct' as const, via: 'lan' as const, since: since + 9000, attempt: 1, candidate: 0, deadline: 0 };
      store.applyPairs([], [direct], [{ a: 'worker-02', b: 'worker-03' }]);
      expect(store.listPairStates()).toEqual([direct]); // the same state, and no key at all
      expect(store.listPairs()).toEqual([{ ...direct, presharedKey: psk }]);
      store.deleteNode('worker-02', 'admin');
      expect(store.listPairStates()).toEqual([]);
    });
  });

  describe('the hub lease', () => {
    const hub = (hubId: string) => ({ hubId, apiUrl: `http://${hubId}.example:8090`, endpoint: `${hubId}.example:41820` });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    it('one hub holds it until it expires; renewing keeps its start; another takes it only once it has lapsed', async () => {
      const a = open();
      // A second hub: its own DATA_DIR (with the first one's secret.key) and connection; on SQLite, one file.
      const other = join(dataDir, '..', 'b');
      if (engine === 'postgres') {
        mkdirSync(other, { mode: 0o700 });
        copyFileSync(join(dataDir, 'secret.key'), join(other, 'secret.key'));
      }
      const b = open({}, engine === 'postgres' ? other : dataDir);
      const first = a.claimLease(hub('hub-a'), 400);
      expect(first).toMatchObject({ held: true, lease: { holder: 'hub-a' } });
      expect(first.lease.expiresAt - first.now).toBe(400);
      expect(b.claimLease(hub('hub-b'), 400)).toMatchObject({ held: false, lease: { holder: 'hub-a' } });
      await sleep(150);
      const renewed = a.claimLease(hub('hub-a'), 400);
      expect(renewed.held).toBe(true);
      expect(renewed.lease.since).toBe(first.lease.since);
      expect(renewed.lease.expiresAt).toBeGreaterThan(first.lease.expiresAt);
      await sleep(450); // hub-a stops renewing: it lapses
      const taken = b.claimLease(hub('hub-b'), 400);
      expect(taken).toMatchObject({ held: true, lease: { holder: 'hub-b' } });
      expect(taken.lease.since).toBe(taken.now);
      expect(a.claimLease(hub('hub-a'), 400).held).toBe(false); // the old holder cannot renew past it
      expect(a.listHubs().map((h) => h.hubId)).toEqual(['hub-a', 'hub-b']);
      expect(a.listAudit(10).filter((e) => e.action === 'hub.lease').map((e) => e.detail)).toEqual(['taken by hub-b (was hub-a)', 'taken by hub-a']);
    });

    it('a hub stopping cleanly lets it go at once', () => {
      const store = open();
      store.claimLease(hub('hub-a'), 60_000);
      expect(store.claimLease(hub('hub-b'), 60_000).held).toBe(false);
      store.releaseLease('hub-b'); // not the holder: nothing happens
      expect(store.claimLease(hub('hub-b'), 60_000).held).toBe(false);
      store.releaseLease('hub-a');
      expect(store.claimLease(hub('hub-b'), 60_000)).toMatchObject({ held: true, lease: { holder: 'hub-b' } });
      expect(store.leaseState().lease).toMatchObject({ holder: 'hub-b' });
      expect(() => store.claimLease(hub('hub-b'), 0)).toThrow(RangeError);
    });
  });
});
