// The registry on PostgreSQL where it differs from one SQLite file: hubs on two connections (two
// `Store`s, two DATA_DIRs with one secret.key) registering at once through their APIs, writes
// serialized by the write lock against another client, dataVersion, the shared secret.key, and a
// registry moved between the engines by export and restore. (The whole store suite runs on both
// engines in store.test.ts.)
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ipToInt, parseRange } from '../../src/domain/ipam.js';
import { encodeKey, generateKeyPair, generatePresharedKey, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { buildApi, type HubInfo } from '../../src/http/api.js';
import { NodesService } from '../../src/nodes/service.js';
import { openPostgres, WRITE_LOCK_KEY } from '../../src/store/pg-db.js';
import { RegistryError } from '../../src/domain/errors.js';
import { spawn } from 'node:child_process';
import { Store, type RegisterNodeInput, type RegistryBackup, type StoreOptions } from '../../src/store/index.js';
import { postgresMissing, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const API_TOKEN = 'test-token-1234567890';
const RANGE = parseRange('10.100.1.2-10.100.4.254');
const HUB = ipToInt('10.100.0.1');

let pg: PostgresServer;
let root: string;
let url: string;
let stores: Store[] = [];

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wgvm-pg-store-'));
  url = pg.emptyDatabase();
});

afterEach(() => {
  for (const s of stores) s.close();
  stores = [];
  rmSync(root, { recursive: true, force: true });
});

/** A hub's store: its own DATA_DIR (`name`), the registry at `databaseUrl` (PostgreSQL unless null). */
function open(name: string, options: StoreOptions = { databaseUrl: url }): Store {
  const store = Store.open(join(root, name), options);
  stores.push(store);
  return store;
}

/** A second hub on the same registry: its own DATA_DIR with the first hub's secret.key. */
function secondHub(first: string, name: string): Store {
  open(name === first ? `${first}-probe` : name, { databaseUrl: null }).close(); // makes the directory
  copyFileSync(join(root, first, 'secret.key'), join(root, name, 'secret.key'));
  return open(name);
}

const randomKey = () => encodeKey(new Uint8Array(randomBytes(32)));
const input = (nodeId: string, range = RANGE): RegisterNodeInput => ({
  nodeId,
  description: `box ${nodeId}`,
  centralServerUrl: null,
  publicKey: randomKey(),
  privateKey: null,
  presharedKey: encodeKey(generatePresharedKey()),
  range,
  exclude: new Set([HUB]),
});

describe.skipIf(postgresMissing)('two hubs on one PostgreSQL registry', () => {
  it('500 registrations at once spread over two hubs: every 201 is in the registry with its own address and its install link', async () => {
    const priv = generatePrivateKey();
    const identity = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
    const hubs: { store: Store; app: Awaited<ReturnType<typeof buildApi>> }[] = [];
    for (const name of ['hub-a', 'hub-b']) {
      const store = name === 'hub-a' ? open(name) : secondHub('hub-a', name);
      const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN, WORKER_IP_RANGE: '10.100.1.2-10.100.4.254' }, root, { envFile: false, networkInterfaces: () => ({}) });
      const nodes = new NodesService(store, config, identity, () => {});
      const info: HubInfo = { publicKey: identity.publicKey, startedAt: Date.now(), counters: () => null };
      hubs.push({ store, app: await buildApi(config, nodes, info, API_TOKEN) });
    }
    try {
      // Each hub's hint of the lowest free address goes stale with every registration of the other.
      const ids = Array.from({ length: 500 }, (_, i) => `worker-${String(i).padStart(3, '0')}`);
      const responses = await Promise.all(
        ids.map((node_id, i) => hubs[i % 2]!.app.inject({ method: 'POST', url: '/api/nodes/register', headers: { 'x-api-key': API_TOKEN }, payload: { node_id } })),
      );
      expect(responses.map((r) => r.statusCode).filter((s) => s !== 201)).toEqual([]);
      const answered = responses.map((r) => r.json() as { node: { node_id: string; vpn_ip: string }; install_url: string });
      expect(new Set(answered.map((a) => a.node.vpn_ip)).size).toBe(500);
      const registry = hubs[1]!.store;
      const stored = new Map(registry.listNodes().map((n) => [n.nodeId, n]));
      expect(stored.size).toBe(500);
      expect(new Set([...stored.values()].map((n) => n.vpnIp)).size).toBe(500);
      for (const a of answered) {
        expect(stored.get(a.node.node_id)?.vpnIp).toBe(a.node.vpn_ip);
        // The install link committed with the registration: either hub can redeem it.
        const token = /\/install\/([A-Za-z0-9_-]{43})/.exec(a.install_url)?.[1];
        expect(token, a.install_url).toBeDefined();
        expect(hubs[0]!.store.checkInstallToken(token!)).toMatchObject({ nodeId: a.node.node_id });
      }
      // Lowest first, with no gap: neither hub skipped an address the other did not take.
      const sorted = [...stored.values()].map((n) => ipToInt(n.vpnIp)).sort((x, y) => x - y);
      expect(sorted[0]).toBe(RANGE.first);
      expect(sorted[499]! - sorted[0]!).toBe(499);
    } finally {
      for (const h of hubs) await h.app.close();
    }
  });

  it('a write waits for another client holding the write lock, then sees what it wrote: no address twice', async () => {
    const hub = open('hub-a');
    const range = parseRange('10.100.1.2-10.100.1.20');
    hub.registerNode(input('worker-1', range)); // 10.100.1.2: the hub's hint is now 10.100.1.3
    // Another client (psql, like another hub) takes the lock, waits, then takes 10.100.1.3.
    const other = pg.psqlInBackground(
      url,
      `BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK_KEY}); SELECT pg_sleep(1);
       INSERT INTO nodes (node_id, vpn_ip, public_key, preshared_key_sealed, created_at, updated_at)
         VALUES ('from-psql', ${ipToInt('10.100.1.3')}, '${randomKey()}', 'x', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z');
       COMMIT;`,
    );
    await waitUntil(() => pg.psql(url, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted`).trim() === '1');
    const started = Date.now();
    const node = hub.registerNode(input('worker-2', range)); // blocks until psql commits
    expect(Date.now() - started).toBeGreaterThan(300);
    expect(await other).toBe(0);
    expect(node.vpnIp).toBe('10.100.1.4');
    expect(hub.nodeAtAddress(ipToInt('10.100.1.3'))?.nodeId).toBe('from-psql');
  });

  it('dataVersion moves with what another hub commits, not with its own writes nor with the other hub\'s status updates', () => {
    const a = open('hub-a');
    const b = secondHub('hub-a', 'hub-b');
    const before = a.dataVersion();
    const seenByB = b.dataVersion();
    a.registerNode(input('worker-1'));
    a.setSetting('some', 'value');
    expect(a.dataVersion()).toBe(before);
    b.registerNode(input('worker-2'));
    const afterRegister = a.dataVersion();
    expect(afterRegister).not.toBe(before);
    b.updateStatus([{ nodeId: 'worker-2', lastHandshakeAt: new Date().toISOString(), rxBytes: 2 ** 40, txBytes: 5, endpoint: '198.51.100.7:51820' }]);
    expect(a.dataVersion()).toBe(afterRegister);
    expect(a.getNode('worker-2')?.rxBytes).toBe(2 ** 40);
    b.setEnabled('worker-1', false);
    expect(a.dataVersion()).not.toBe(afterRegister);
    expect(b.dataVersion()).toBeGreaterThan(seenByB); // a's registration and setting
  });

  it('a hub without the first hub\'s secret.key is refused at start, told to copy it', () => {
    open('hub-a').registerNode({ ...input('worker-1'), ...generateKeyPair() });
    expect(() => open('hub-b')).toThrow(
      /secret\.key is missing but the database holds sealed secrets: hubs that share a registry share one secret\.key: copy it from the DATA_DIR of the hub that first used this database/,
    );
    open('hub-c', { databaseUrl: null }).close(); // a DATA_DIR with a key of its own
    expect(() => open('hub-c')).toThrow(/hub-c\/secret\.key does not belong to postgres:\/\/postgres@127\.0\.0\.1:\d+\/wgvm_test_\d+: hubs that share a registry share one secret\.key: copy it/);
  });

  it('a wrong DATABASE_URL fails at open with the URL, its password hidden', () => {
    const bad = pg.urlWithPassword('s3cret').replace(/\/postgres$/, '/no_such_database');
    let message = '';
    try {
      open('hub-a', { databaseUrl: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^cannot connect to the registry database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/no_such_database: .*no_such_database.*does not exist/);
    expect(message).not.toContain('s3cret');
  });
});

describe.skipIf(postgresMissing)('export and restore between the engines', () => {
  /** A registry with a bit of everything: keys held and not, flags, status, a sealed setting. */
  function fill(store: Store): void {
    const held = generateKeyPair();
    store.registerNode({ ...input('worker-a'), ...held });
    store.registerNode(input('worker-b'));
    store.registerNode(input('worker-c'));
    store.setEnabled('worker-b', false);
    store.setPathFlags('worker-c', { isolated: true, directPaths: false });
    store.updateStatus([{ nodeId: 'worker-a', lastHandshakeAt: '2025-03-01T12:00:00.000Z', rxBytes: 2 ** 41 + 3, txBytes: 7, endpoint: '198.51.100.7:51820' }]);
    store.setSetting('hub_private_key', encodeKey(generatePrivateKey()), { sealed: true });
    store.setSetting('note', 'kept');
    store.deleteNode('worker-c');
    store.registerNode(input('worker-d'));
  }

  /** What must survive a move: all but the moment of the export and the restore's own audit entry. */
  const moved = (backup: RegistryBackup) => ({ ...backup, exported_at: null, audit_log: backup.audit_log.filter((e) => e.action !== 'registry.restore') });

  it('SQLite → PostgreSQL → SQLite gives the same registry, secrets included', () => {
    const sqlite = open('sqlite', { databaseUrl: null });
    fill(sqlite);
    const first = sqlite.exportAll({ includeSecrets: true });
    const postgres = open('postgres');
    expect(postgres.restoreAll(first).nodes).toBe(3);
    const second = postgres.exportAll({ includeSecrets: true });
    expect(moved(second)).toEqual(moved(first));
    const back = open('sqlite-again', { databaseUrl: null });
    back.restoreAll(second);
    const third = back.exportAll({ includeSecrets: true });
    expect(moved(third)).toEqual(moved(first));
    // And the nodes read the same through the store on either engine.
    expect(postgres.listNodes()).toEqual(sqlite.listNodes());
    expect(back.listNodes()).toEqual(sqlite.listNodes());
    expect(postgres.getSecrets('worker-a')).toEqual(sqlite.getSecrets('worker-a'));
  });
});

describe.skipIf(postgresMissing)('a registry that goes away', () => {
  it('a write fails as unavailable (the API: 503 with Retry-After), never as a 500', async () => {
    const own = await startPostgres(); // its own server: this test stops it
    const dir = mkdtempSync(join(tmpdir(), 'wgvm-pg-away-'));
    let store: Store | undefined;
    try {
      store = Store.open(join(dir, 'data'), { databaseUrl: own.createDatabase() });
      const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN, DATABASE_URL: 'postgres://x@127.0.0.1/x' }, dir, { envFile: false, networkInterfaces: () => ({}) });
      const priv = generatePrivateKey();
      const nodes = new NodesService(store, config, { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) }, () => {});
      const app = await buildApi(config, nodes, { publicKey: 'k', startedAt: Date.now(), counters: () => null }, API_TOKEN);
      own.stop();
      const res = await app.inject({ method: 'POST', url: '/api/nodes/register', headers: { 'x-api-key': API_TOKEN }, payload: { node_id: 'worker-01' } });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ error: 'unavailable', message: expect.stringMatching(/^the registry database .* does not answer/) });
      await app.close();
    } finally {
      store?.close();
      own.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(postgresMissing)('a registry out of reach', () => {
  /**
   * A TCP relay to the server in a child process (the test's own thread blocks while a query waits):
   * `hole` makes it swallow everything both ways, as a cut link does, `open` forwards again.
   */
  async function relayTo(target: URL) {
    const source = `
      const net = require('node:net');
      let hole = false;
      const server = net.createServer((inbound) => {
        const outbound = net.connect(${Number(target.port)}, '${target.hostname}');
        for (const [from, to] of [[inbound, outbound], [outbound, inbound]]) {
          from.on('data', (d) => { if (!hole) to.write(d); });
          from.on('error', () => to.destroy());
          from.on('close', () => to.destroy());
        }
      });
      server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
      process.stdin.on('data', (d) => { hole = String(d).trim() === 'hole'; process.stdout.write('ok\\n'); });`;
    const child = spawn(process.execPath, ['-e', source], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      lines.push(...d.trim().split('\n'));
      waiters.splice(0).forEach((w) => w());
    });
    const next = async () => {
      while (lines.length === 0) await new Promise<void>((r) => waiters.push(r));
      return lines.shift()!;
    };
    const port = Number(await next());
    return {
      url: Object.assign(new URL(target.href), { port: String(port) }).href,
      set: async (mode: 'hole' | 'open') => {
        child.stdin!.write(`${mode}\n`);
        expect(await next()).toBe('ok');
      },
      stop: () => child.kill(),
    };
  }

  it('a query into a cut link is "unavailable" after the statement timeout and a second, not hung, and the next one after the link is back works', async () => {
    const relay = await relayTo(new URL(url));
    const db = openPostgres(relay.url, { statementTimeoutMs: 500 });
    try {
      const one = db.prepare('SELECT 1').pluck();
      expect(Number(one.get())).toBe(1);
      await relay.set('hole');
      const started = performance.now();
      let error: unknown;
      try {
        one.get();
      } catch (err) {
        error = err;
      }
      const waited = performance.now() - started;
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as RegistryError).code).toBe('unavailable');
      expect(waited).toBeGreaterThanOrEqual(1400);
      expect(waited).toBeLessThan(4000); // not the worker's last-resort deadline (10.5 s here)
      await relay.set('open');
      expect(Number(one.get())).toBe(1); // a new connection: the one that timed out was closed
    } finally {
      db.close();
      relay.stop();
    }
  });
});
