// The management API in-process (fastify inject, no socket) on a real SQLite file in a temporary
// DATA_DIR: auth and its rate limit, registration and its validation, allocation under 1,000
// concurrent registrations, node management, config downloads with install tokens, the install page
// and installers, status, metrics and docs. No root and no device: the hub is a key pair.
//
// Every response of the suite goes through `call`, which afterwards checks that no response was a
// 500 and that no JSON or error response carries a secret (a node's private or preshared key, or the
// hub's private key).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { loadConfig, type Config } from '../../src/config/index.js';
import { buildApi, type HubInfo } from '../../src/http/api.js';
import { encodeKey, generateKeyPair, generatePrivateKey, publicKeyOf, SMALL_ORDER_POINTS } from '../../src/domain/keys.js';
import { NodesService } from '../../src/nodes/service.js';
import Database from 'better-sqlite3';
import { DATABASE_FILE, Store } from '../../src/store/index.js';

const API_TOKEN = 'test-token-1234567890';
const AUTH = { 'x-api-key': API_TOKEN };
const KEY_IN_TEXT = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g;

interface Harness {
  dir: string;
  store: Store;
  config: Config;
  app: FastifyInstance;
  hub: { privateKey: string; publicKey: string };
  /** How many times NodesService reported a change. */
  changes: () => number;
  /** Moves the store's clock (install token expiry). */
  advance: (ms: number) => void;
}

interface Seen {
  method: string;
  url: string;
  status: number;
  contentType: string;
  body: string;
  /** A download whose job is to carry the worker's keys (config, install page, installers). */
  carriesKeys: boolean;
}

const harnesses: Harness[] = [];
let seen: Seen[] = [];
/** Every secret the suite has seen in a store (kept after a node is deleted or its keys rotated). */
const secrets = new Set<string>();

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-api-'));
  let offset = 0;
  const store = Store.open(join(dir, 'data'), { clock: () => new Date(Date.now() + offset) });
  const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN, ...env }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const priv = generatePrivateKey();
  const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  secrets.add(hub.privateKey);
  let changes = 0;
  const nodes = new NodesService(store, config, hub, () => {
    changes++;
  });
  const info: HubInfo = { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => null };
  const app = await buildApi(config, nodes, info, API_TOKEN);
  const h: Harness = { dir, store, config, app, hub, changes: () => changes, advance: (ms) => (offset += ms) };
  harnesses.push(h);
  return h;
}

function rememberSecrets(h: Harness, nodeId: string): void {
  const s = h.store.getSecrets(nodeId);
  if (!s) return;
  if (s.privateKey) secrets.add(s.privateKey);
  secrets.add(s.presharedKey);
}

/** app.inject, recorded for the suite-wide checks. */
async function call(h: Harness, options: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await h.app.inject(options);
  const url = String(options.url ?? options.path ?? '');
  const method = String(options.method ?? 'GET');
  const carriesKeys = res.statusCode === 200 && (/^\/install\//.test(url) || /^\/api\/clients\/[^/]+\/config/.test(url));
  seen.push({ method, url, status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: res.body, carriesKeys });
  // Keys of nodes this response created or changed, for the check in afterEach.
  if (res.statusCode < 300 && /^\/api\/nodes\/(register|[^/]+\/rotate-keys)/.test(url)) {
    try {
      const j = res.json() as { node?: { node_id?: string } };
      if (j.node?.node_id) rememberSecrets(h, j.node.node_id);
    } catch {
      // not JSON: the checks below will say so
    }
  }
  return res;
}

const get = (h: Harness, url: string, headers: Record<string, string> = AUTH, extra: Partial<InjectOptions> = {}) =>
  call(h, { method: 'GET', url, headers, ...extra });

const register = (h: Harness, body: unknown, headers: Record<string, string> = AUTH, extra: Partial<InjectOptions> = {}) =>
  call(h, { method: 'POST', url: '/api/nodes/register', headers, ...extra, payload: body as string | object });

const post = (h: Harness, url: string, headers: Record<string, string> = AUTH) => call(h, { method: 'POST', url, headers });
const del = (h: Harness, url: string, headers: Record<string, string> = AUTH) => call(h, { method: 'DELETE', url, headers });

interface RegistrationBody {
  node: {
    node_id: string;
    vpn_ip: string;
    public_key: string;
    status: string;
    enabled: boolean;
    server_holds_private_key: boolean;
    description: string;
    central_server_url: string | null;
  };
  install_url: string;
  install_expires_at: string;
}

async function registerOk(h: Harness, nodeId: string, extra: Record<string, unknown> = {}): Promise<RegistrationBody> {
  const res = await register(h, { node_id: nodeId, ...extra });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as RegistrationBody;
}

const tokenOf = (installUrl: string) => new URL(installUrl).pathname.split('/').pop()!;

function expectError(res: LightMyRequestResponse, status: number, error?: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const j = res.json() as { error?: unknown; message?: unknown };
  expect(typeof j.error).toBe('string');
  expect(typeof j.message).toBe('string');
  expect((j.message as string).length).toBeGreaterThan(0);
  if (error !== undefined) expect(j.error).toBe(error);
}

/** Rows of the registry that a failed request must leave alone. */
function footprint(h: Harness) {
  return {
    nodes: h.store.listNodes().length,
    audit: h.store.listAudit(1_000_000).length,
  };
}

afterEach(async () => {
  try {
    for (const h of harnesses) for (const n of h.store.listNodes()) rememberSecrets(h, n.nodeId);
    // Never a 500, whatever the suite sent.
    const fiveHundreds = seen.filter((s) => s.status >= 500).map((s) => `${s.method} ${s.url} → ${s.status}: ${s.body.slice(0, 200)}`);
    expect(fiveHundreds).toEqual([]);
    // No secret in any JSON answer, error page or anything else that is not a key-carrying download.
    const leaks: string[] = [];
    for (const s of seen) {
      if (s.carriesKeys) continue;
      for (const m of s.body.matchAll(KEY_IN_TEXT)) if (secrets.has(m[0])) leaks.push(`${s.method} ${s.url} (${s.status}) holds a secret key`);
    }
    expect(leaks).toEqual([]);
  } finally {
    vi.useRealTimers();
    for (const h of harnesses) {
      await h.app.close();
      h.store.close();
      rmSync(h.dir, { recursive: true, force: true });
    }
    harnesses.length = 0;
    seen = [];
    secrets.clear();
  }
});

// ───────────────────────────────────────────── auth ─────────────────────────────────────────────

describe('auth', () => {
  it('answers 401 {error, message} without a token or with a wrong one, and changes nothing', async () => {
    const h = await harness();
    const before = footprint(h);
    // A source of its own for each attempt: this test is about the answer, not the rate limit.
    let n = 0;
    const as = (options: InjectOptions) => call(h, { ...options, remoteAddress: `192.0.2.${++n}` });
    const list = (headers: Record<string, string>) => as({ method: 'GET', url: '/api/nodes/list', headers });
    expectError(await list({}), 401, 'unauthorized');
    expectError(await list({ 'x-api-key': 'wrong-token-1234567890' }), 401, 'unauthorized');
    expectError(await list({ authorization: 'Bearer wrong-token-1234567890' }), 401);
    expectError(await list({ authorization: `Basic ${API_TOKEN}` }), 401);
    expectError(await list({ authorization: API_TOKEN }), 401);
    expectError(await list({ authorization: `Bearer ${API_TOKEN} extra` }), 401);
    expectError(await list({ 'x-api-key': `${API_TOKEN}x` }), 401);
    expectError(await list({ 'x-api-key': API_TOKEN.slice(0, -1) }), 401);
    expectError(await list({ 'x-api-key': API_TOKEN.toUpperCase() }), 401);
    expectError(await as({ method: 'POST', url: '/api/nodes/register', payload: { node_id: 'worker-01' } }), 401);
    for (const [method, url] of [
      ['DELETE', '/api/nodes/worker-01'],
      ['POST', '/api/nodes/worker-01/disable'],
      ['POST', '/api/nodes/worker-01/enable'],
      ['POST', '/api/nodes/worker-01/rotate-keys'],
      ['POST', '/api/nodes/worker-01/install-link'],
      ['GET', '/api/nodes/status/worker-01'],
      ['GET', '/api/clients/worker-01/config'],
    ] as const) {
      expectError(await as({ method, url }), 401, 'unauthorized');
    }
    expect(footprint(h)).toEqual(before);
    expect(h.changes()).toBe(0);
  });

  it('accepts X-API-Key and Authorization: Bearer', async () => {
    const h = await harness();
    expect((await get(h, '/api/nodes/list', { 'x-api-key': API_TOKEN })).statusCode).toBe(200);
    expect((await get(h, '/api/nodes/list', { authorization: `Bearer ${API_TOKEN}` })).statusCode).toBe(200);
    expect((await get(h, '/api/nodes/list', { authorization: `bearer ${API_TOKEN}` })).statusCode).toBe(200);
    expect((await register(h, { node_id: 'worker-01' }, { authorization: `Bearer ${API_TOKEN}` })).statusCode).toBe(201);
  });

  it('blocks a source for a minute after 10 failures, even with the right token; other sources are unaffected', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const attacker = { remoteAddress: '198.51.100.9' };
    for (let i = 0; i < 10; i++) {
      expectError(await get(h, '/api/nodes/list', { 'x-api-key': `wrong-${i}-token-123456` }, attacker), 401);
    }
    expectError(await get(h, '/api/nodes/list', AUTH, attacker), 429, 'rate_limited');
    expectError(await register(h, { node_id: 'worker-01' }, AUTH, attacker), 429, 'rate_limited');
    expectError(await get(h, '/api/clients/worker-01/config', AUTH, attacker), 429, 'rate_limited');
    expect(h.store.listNodes()).toEqual([]);
    // Someone else is not locked out.
    expect((await get(h, '/api/nodes/list', AUTH, { remoteAddress: '198.51.100.10' })).statusCode).toBe(200);
    // A minute later the source may try again.
    vi.setSystemTime(Date.now() + 61_000);
    expect((await get(h, '/api/nodes/list', AUTH, attacker)).statusCode).toBe(200);
  });

  it('checks the token before looking at the request: no token and a bad body or parameter is a 401', async () => {
    // Should be: authentication first (an unauthenticated caller learns nothing of the validation,
    // and its attempts count towards the rate limit).
    const h = await harness();
    expectError(await register(h, {}, {}), 401);
    expectError(await register(h, { node_id: 'a'.repeat(64) }, {}), 401);
    expectError(await get(h, `/api/nodes/status/${'a'.repeat(64)}`, {}), 401);
  });
});

// ─────────────────────────────────────────── register ───────────────────────────────────────────

const ZERO_KEY = `${'A'.repeat(43)}=`;

describe('POST /api/nodes/register', () => {
  it('creates a pending node with an install link and tells the device', async () => {
    const h = await harness();
    const before = Date.now();
    const res = await register(h, { node_id: 'worker-01', description: 'GPU Server #1', central_server_url: 'http://192.168.0.88:8000' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const j = res.json() as RegistrationBody;
    expect(j.node).toMatchObject({
      node_id: 'worker-01',
      description: 'GPU Server #1',
      central_server_url: 'http://192.168.0.88:8000',
      vpn_ip: '10.100.1.2',
      status: 'pending',
      enabled: true,
      server_holds_private_key: true,
    });
    expect(j.node.public_key).toBe(h.store.getNode('worker-01')!.publicKey);
    expect(j.install_url).toMatch(/^http:\/\/localhost(:80)?\/install\/[A-Za-z0-9_-]{43,}$/);
    expect(tokenOf(j.install_url).length).toBeGreaterThanOrEqual(22); // ≥ 128 bits
    const expires = Date.parse(j.install_expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 86_400_000 - 5_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 86_400_000 + 5_000);
    expect(h.changes()).toBe(1);
    // No private or preshared key anywhere in the answer, under any name.
    const s = h.store.getSecrets('worker-01')!;
    expect(s.privateKey).toBeTruthy();
    expect(res.body).not.toContain(s.privateKey!);
    expect(res.body).not.toContain(s.presharedKey);
    expect(res.body).not.toMatch(/"(private_key|preshared_key|privatekey|presharedkey)"/i);

    // The next node gets the next address.
    expect((await registerOk(h, 'worker-02')).node.vpn_ip).toBe('10.100.1.3');
  });

  it('puts install links on the origin the API was reached by: the forwarded one only from a proxy named in TRUST_PROXY', async () => {
    const h = await harness({ TRUST_PROXY: '127.0.0.1' });
    const forwarded = { ...AUTH, host: '10.0.0.5:8090', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'hub.example.com' };
    const viaProxy = await register(h, { node_id: 'worker-01' }, forwarded, { remoteAddress: '127.0.0.1' });
    expect((viaProxy.json() as RegistrationBody).install_url).toMatch(/^https:\/\/hub\.example\.com\/install\/[A-Za-z0-9_-]{43,}$/);
    const direct = await register(h, { node_id: 'worker-02' }, forwarded, { remoteAddress: '198.51.100.7' });
    expect((direct.json() as RegistrationBody).install_url).toMatch(/^http:\/\/10\.0\.0\.5:8090\/install\//);
    const link = await call(h, { method: 'POST', url: '/api/nodes/worker-01/install-link', headers: forwarded, remoteAddress: '127.0.0.1' });
    expect((link.json() as { install_url: string }).install_url).toMatch(/^https:\/\/hub\.example\.com\/install\//);
  });

  it('answers 409 for a duplicate node ID and changes nothing', async () => {
    const h = await harness();
    const first = await registerOk(h, 'worker-01');
    const before = footprint(h);
    expectError(await register(h, { node_id: 'worker-01', description: 'another' }), 409, 'duplicate');
    expect(footprint(h)).toEqual(before);
    expect(h.changes()).toBe(1);
    expect(h.store.getNode('worker-01')!.publicKey).toBe(first.node.public_key);
    expect(h.store.getNode('worker-01')!.description).toBe('');
  });

  it('answers 400 for a bad node ID, an extra property, a bad URL or description, and writes nothing', async () => {
    const h = await harness();
    await registerOk(h, 'worker-00');
    const before = footprint(h);
    const bad: unknown[] = [
      { node_id: 'Worker_01' },
      { node_id: '' },
      { node_id: 'a'.repeat(64) },
      { node_id: '-x' },
      { node_id: 'worker 01' },
      { node_id: 'worker-01\n' },
      {},
      { description: 'no id' },
      { node_id: null },
      { node_id: 'worker-01', central_server_url: 'ftp://x' },
      { node_id: 'worker-01', central_server_url: 'not a url' },
      { node_id: 'worker-01', central_server_url: 'javascript:alert(1)' },
      { node_id: 'worker-01', central_server_url: 'x'.repeat(2001) },
      { node_id: 'worker-01', description: 'x'.repeat(201) },
      { node_id: 'worker-01', description: 'line\nbreak' },
      { node_id: 'worker-01', description: 'nul\u0000' },
      { node_id: 'worker-01', description: { a: 1 } },
      [],
      'worker-01',
      null,
    ];
    for (const body of bad) {
      const res = await register(h, JSON.stringify(body), { ...AUTH, 'content-type': 'application/json' });
      expect(res.statusCode, `${JSON.stringify(body)?.slice(0, 80)} → ${res.body}`).toBe(400);
      expectError(res, 400);
    }
    expect(footprint(h)).toEqual(before);
    expect(h.changes()).toBe(1);
  });

  it('answers 400 for a property the schema does not know (additionalProperties: false)', async () => {
    const h = await harness();
    const before = footprint(h);
    expectError(await register(h, { node_id: 'worker-01', vpn_ip: '10.100.0.1' }), 400);
    expectError(await register(h, { node_id: 'worker-02', private_key: generateKeyPair().privateKey }), 400);
    expect(footprint(h)).toEqual(before);
  });

  it('will not rotate the keys of a worker that holds its own private key', async () => {
    const h = await harness();
    const own = generateKeyPair();
    await registerOk(h, 'worker-01', { public_key: own.publicKey });
    expectError(await post(h, '/api/nodes/worker-01/rotate-keys'), 400, 'invalid');
    expect(h.store.getNode('worker-01')!.publicKey).toBe(own.publicKey);
    expect(h.store.getSecrets('worker-01')!.privateKey).toBeNull();
  });

  it('a HEAD request on an install link does not use it up', async () => {
    const h = await harness({ INSTALL_TOKEN_USES: '1' });
    const token = tokenOf((await registerOk(h, 'worker-01')).install_url);
    expect((await call(h, { method: 'HEAD', url: `/install/${token}/wg0.conf` })).statusCode).toBe(404);
    expect((await get(h, `/install/${token}/wg0.conf`, {})).statusCode).toBe(200);
  });

  it("takes the worker's own public key and stores no private key", async () => {
    const h = await harness();
    const own = generateKeyPair();
    const j = await registerOk(h, 'worker-01', { public_key: own.publicKey });
    expect(j.node.public_key).toBe(own.publicKey);
    expect(j.node.server_holds_private_key).toBe(false);
    expect(h.store.getSecrets('worker-01')!.privateKey).toBeNull();
    // Its config and installers still render, without a PrivateKey line.
    const conf = await get(h, '/api/clients/worker-01/config');
    expect(conf.statusCode).toBe(200);
    expect(conf.body).not.toMatch(/^PrivateKey = /m);
    expect(conf.body).toContain('Address = 10.100.1.2/32');
    const token = tokenOf(j.install_url);
    expect((await get(h, `/install/${token}`, {})).statusCode).toBe(200);
    expect((await get(h, `/install/${token}/windows.bat`, {})).statusCode).toBe(200);
    expect((await get(h, `/install/${token}/linux.sh`, {})).statusCode).toBe(200);
  });

  it('answers 400 for a malformed, weak, taken or hub public key and writes nothing', async () => {
    const h = await harness();
    const taken = (await registerOk(h, 'worker-00', { public_key: generateKeyPair().publicKey })).node.public_key;
    const hubGenerated = (await registerOk(h, 'worker-99')).node.public_key;
    const valid = generateKeyPair().publicKey;
    const before = footprint(h);
    const smallOrder = SMALL_ORDER_POINTS.flatMap((p) => {
      const high = Uint8Array.from(p);
      high[31]! |= 0x80; // X25519 ignores the top bit: the same point
      return [encodeKey(p), encodeKey(high)];
    });
    const keys: [string, string][] = [
      ['malformed base64', `${'!'.repeat(43)}=`],
      ['43 characters', valid.slice(0, 43)],
      ['no padding', `${valid.slice(0, 43)}A`],
      ['45 characters', `${valid}=`],
      ['spare bits set', `${valid.slice(0, 42)}B=`],
      ['url-safe alphabet', `${'-_'.repeat(21)}AA=`],
      ['trailing newline', `${valid}\n`],
      ['leading space', ` ${valid}`],
      ['empty', ''],
      ['all zeros', ZERO_KEY],
      ...smallOrder.map((k, i): [string, string] => [`small-order point ${i}`, k]),
      ["another node's key", taken],
      ["another node's hub-generated key", hubGenerated],
      ["the hub's key", h.hub.publicKey],
    ];
    for (const [what, key] of keys) {
      const res = await register(h, { node_id: 'worker-01', public_key: key });
      expect(res.statusCode, `${what}: ${res.body}`).toBe(400);
      expectError(res, 400);
    }
    expect(footprint(h)).toEqual(before);
    expect(h.changes()).toBe(2);
    // Not a string at all.
    expectError(await register(h, { node_id: 'worker-01', public_key: { k: valid } }), 400);
    expectError(await register(h, { node_id: 'worker-01', public_key: [valid, valid] }), 400);
    expect(footprint(h)).toEqual(before);
  });

  it('answers 413 for a body over 64 KiB and 400 for malformed JSON; never a 500', async () => {
    const h = await harness();
    const before = footprint(h);
    const big = await register(h, { node_id: 'worker-01', description: 'x'.repeat(70 * 1024) });
    expectError(big, 413);
    const malformed = ['{"node_id": ', '{node_id: "worker-01"}', "{'node_id':'w'}", '{"node_id":"worker-01",}', '\u0000', '{"__proto__":{"x":1},"node_id":"worker-01"}'];
    for (const payload of malformed) {
      const res = await register(h, payload, { ...AUTH, 'content-type': 'application/json' });
      expect(res.statusCode, `${JSON.stringify(payload)} → ${res.body}`).toBe(400);
      expectError(res, 400);
    }
    // An empty JSON body, a wrong content type, no body at all: 4xx with {error, message}.
    for (const [payload, type] of [['', 'application/json'], ['node_id=worker-01', 'application/x-www-form-urlencoded'], ['worker-01', 'text/plain']] as const) {
      const res = await register(h, payload, { ...AUTH, 'content-type': type });
      expect(res.statusCode, `${type} ${payload} → ${res.body}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expectError(res, res.statusCode);
    }
    const none = await call(h, { method: 'POST', url: '/api/nodes/register', headers: AUTH });
    expectError(none, 400);
    expect(footprint(h)).toEqual(before);
    expect(h.changes()).toBe(0);
  });

  it('every node it registers can download its config: what registration accepts, the renderers must carry', async () => {
    // Registration checks less than the renderers (src/domain/install.ts): C1 controls and lone
    // surrogates in the description, a URL with characters outside RFC 3986. Such a node is
    // registered (201) and then can never get its config or installers (400). It should be
    // refused at registration, or rendered. And what is stored must be what was sent (a lone
    // surrogate is turned into U+FFFD on its way into SQLite).
    const h = await harness();
    const cases: Record<string, unknown>[] = [
      { description: 'next line \u0085 here' },
      { description: 'lone \ud800 surrogate' },
      { central_server_url: 'http://central.example.com/a b' },
      { central_server_url: 'http://central.example.com/"quoted"' },
      { central_server_url: 'http://central.example.com/<x>' },
      { central_server_url: 'http://central.example.com/a\\b' },
    ];
    const problems: string[] = [];
    for (const [i, extra] of cases.entries()) {
      const id = `case-${i}`;
      const res = await register(h, { node_id: id, ...extra });
      if (res.statusCode === 400) continue;
      expect(res.statusCode, res.body).toBe(201);
      const node = h.store.getNode(id)!;
      const stored = { description: node.description, central_server_url: node.centralServerUrl };
      for (const [k, v] of Object.entries(extra)) {
        if (stored[k as keyof typeof stored] !== v) problems.push(`${JSON.stringify(extra)}: stored ${k} as ${JSON.stringify(stored[k as keyof typeof stored])}`);
      }
      const conf = await get(h, `/api/clients/${id}/config`);
      const token = tokenOf((res.json() as RegistrationBody).install_url);
      const bat = await get(h, `/install/${token}/windows.bat`, {});
      if (conf.statusCode !== 200 || bat.statusCode !== 200) {
        problems.push(`${JSON.stringify(extra)}: registered, then config ${conf.statusCode}, windows.bat ${bat.statusCode}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

// ─────────────────────────────────────────── allocation ──────────────────────────────────────────

describe('address allocation', () => {
  it('hands out 1,000 distinct addresses to 1,000 concurrent registrations', async () => {
    const h = await harness({ WORKER_IP_RANGE: '10.100.1.2-10.100.4.254' });
    const ids = Array.from({ length: 1000 }, (_, i) => `worker-${String(i).padStart(4, '0')}`);
    const responses = await Promise.all(ids.map((node_id) => h.app.inject({ method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id } })));
    const statuses = new Map<number, number>();
    for (const r of responses) statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 201: 1000 });
    const ips = responses.map((r) => (r.json() as RegistrationBody).node.vpn_ip);
    expect(new Set(ips).size).toBe(1000);
    const toInt = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    for (const ip of ips) {
      expect(toInt(ip)).toBeGreaterThanOrEqual(toInt('10.100.1.2'));
      expect(toInt(ip)).toBeLessThanOrEqual(toInt('10.100.4.254'));
    }
    expect(ips).not.toContain('10.100.0.1');
    const stored = h.store.listNodes();
    expect(stored).toHaveLength(1000);
    expect(new Set(stored.map((n) => n.vpnIp)).size).toBe(1000);
    expect(new Set(stored.map((n) => n.publicKey)).size).toBe(1000);
    expect(h.changes()).toBe(1000);
    // The answers hold no secret (checked here directly: these went around `call`).
    const all = new Set(stored.flatMap((n) => Object.values(h.store.getSecrets(n.nodeId)!).filter((s): s is string => s !== null)));
    for (const r of responses) for (const m of r.body.matchAll(KEY_IN_TEXT)) expect(all.has(m[0])).toBe(false);
  });

  it('answers 409 range_full when the range is used up, writes nothing, and reuses a freed address', async () => {
    const h = await harness({ WORKER_IP_RANGE: '10.100.1.2-10.100.1.4' });
    expect((await registerOk(h, 'n1')).node.vpn_ip).toBe('10.100.1.2');
    expect((await registerOk(h, 'n2')).node.vpn_ip).toBe('10.100.1.3');
    expect((await registerOk(h, 'n3')).node.vpn_ip).toBe('10.100.1.4');
    const before = footprint(h);
    const full = await register(h, { node_id: 'n4' });
    expectError(full, 409, 'range_full');
    expect(footprint(h)).toEqual(before);
    expect(h.changes()).toBe(3);

    expect((await del(h, '/api/nodes/n2')).statusCode).toBe(200);
    expect((await registerOk(h, 'n4')).node.vpn_ip).toBe('10.100.1.3');
    expectError(await register(h, { node_id: 'n5' }), 409, 'range_full');
  });
});

// ─────────────────────────────────────────── management ──────────────────────────────────────────

describe('GET /api/nodes/list: pages and filters', () => {
  type Page = { nodes: RegistrationBody['node'][]; total: number; limit: number; offset: number };
  const ids = (res: LightMyRequestResponse) => (res.json() as Page).nodes.map((n) => n.node_id);

  it('pages in address order with a total; filters by status and by text; the unpaged list keeps its shape', async () => {
    const h = await harness();
    for (let i = 0; i < 12; i++) await registerOk(h, `gpu-${String(i).padStart(2, '0')}`, { description: i % 3 === 0 ? 'Rack A' : 'rack b' });
    expect((await post(h, '/api/nodes/gpu-04/disable')).statusCode).toBe(200);
    h.store.updateStatus([
      { nodeId: 'gpu-05', lastHandshakeAt: new Date().toISOString(), rxBytes: 1, txBytes: 1, endpoint: '198.51.100.7:51820' },
      { nodeId: 'gpu-06', lastHandshakeAt: new Date(Date.now() - 600_000).toISOString(), rxBytes: 1, txBytes: 1, endpoint: '198.51.100.8:51820' },
    ]);

    const first = await get(h, '/api/nodes/list?limit=5');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ total: 12, limit: 5, offset: 0 });
    expect(ids(first)).toEqual(['gpu-00', 'gpu-01', 'gpu-02', 'gpu-03', 'gpu-04']);
    expect(ids(await get(h, '/api/nodes/list?limit=5&offset=10'))).toEqual(['gpu-10', 'gpu-11']);
    expect((await get(h, '/api/nodes/list?limit=5&offset=40')).json()).toEqual({ nodes: [], total: 12, limit: 5, offset: 40 });
    // Pages put together are the whole list, once each, in the unpaged list's order.
    const paged: string[] = [];
    for (let offset = 0; offset < 12; offset += 5) paged.push(...ids(await get(h, `/api/nodes/list?limit=5&offset=${offset}`)));
    const whole = await get(h, '/api/nodes/list');
    expect(Object.keys(whole.json() as object)).toEqual(['nodes']);
    expect(ids(whole)).toEqual(paged);

    // Status as the API shows it, each node in exactly one.
    const byStatus = async (status: string) => ids(await get(h, `/api/nodes/list?status=${status}`));
    expect(await byStatus('disabled')).toEqual(['gpu-04']);
    expect(await byStatus('online')).toEqual(['gpu-05']);
    expect(await byStatus('offline')).toEqual(['gpu-06']);
    expect(await byStatus('pending')).toHaveLength(9);
    const pendingPage = await get(h, '/api/nodes/list?status=pending&limit=2');
    expect(pendingPage.json()).toMatchObject({ total: 9, limit: 2, offset: 0 });
    // Text: ID, description (A-Z in any case), address, endpoint, with the status filter too.
    expect(ids(await get(h, '/api/nodes/list?q=RACK%20a'))).toEqual(['gpu-00', 'gpu-03', 'gpu-06', 'gpu-09']);
    expect(ids(await get(h, '/api/nodes/list?q=rack%20a&status=pending'))).toEqual(['gpu-00', 'gpu-03', 'gpu-09']);
    expect(ids(await get(h, '/api/nodes/list?q=10.100.1.13'))).toEqual(['gpu-11']);
    expect(ids(await get(h, '/api/nodes/list?q=198.51.100.8'))).toEqual(['gpu-06']);
    expect(ids(await get(h, '/api/nodes/list?q=gpu-1'))).toEqual(['gpu-10', 'gpu-11']);
    expect((await get(h, '/api/nodes/list?q=nothing%20like%20it')).json()).toMatchObject({ nodes: [], total: 0 });
    expect((await get(h, '/api/nodes/list?q=%25')).json()).toMatchObject({ total: 0 }); // no wildcards
  });

  it('answers 400 saying what a paging or filter value must be, and changes nothing', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    const before = h.store.listNodes();
    const cases: Array<[string, string]> = [
      ['limit=0', 'limit must be a whole number from 1 to 1000'],
      ['limit=1001', 'limit must be a whole number from 1 to 1000'],
      ['limit=ten', 'limit must be a whole number from 1 to 1000'],
      ['limit=-1', 'limit must be a whole number from 1 to 1000'],
      ['limit=5.5', 'limit must be a whole number from 1 to 1000'],
      ['offset=-3', 'offset must be a whole number from 0 to 999999999'],
      ['offset=01', 'offset must be a whole number from 0 to 999999999'],
      ['status=up', 'status must be one of online, offline, pending, disabled'],
      [`q=${'x'.repeat(101)}`, 'q must be text of at most 100 characters'],
    ];
    for (const [query, message] of cases) {
      const res = await get(h, `/api/nodes/list?${query}`);
      expectError(res, 400, 'bad_request');
      expect((res.json() as { message: string }).message, query).toMatch(new RegExp(`^${message}`));
    }
    expect(h.store.listNodes()).toEqual(before);
  });

  it('answers the unpaged list up to 10,000 nodes and asks for pages above that; pages stay available', async () => {
    const h = await harness();
    await registerOk(h, 'bulk-0');
    // 10,000 more rows written straight into the file (with bulk-0's sealed preshared key): the
    // route reads them as the registry.
    const db = new Database(join(h.dir, 'data', DATABASE_FILE));
    try {
      const sealed = db.prepare("SELECT preshared_key_sealed FROM nodes WHERE node_id = 'bulk-0'").pluck().get();
      const insert = db.prepare(`INSERT INTO nodes (node_id, vpn_ip, public_key, preshared_key_sealed, created_at, updated_at)
        VALUES (?, ?, ?, ?, '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z')`);
      db.transaction(() => {
        for (let i = 1; i <= 10_000; i++) insert.run(`bulk-${i}`, 0x0a640200 + i, `key-${i}`, sealed);
      })();
    } finally {
      db.close();
    }
    const whole = await get(h, '/api/nodes/list');
    expectError(whole, 409, 'limit');
    expect((whole.json() as { message: string }).message).toBe(
      'the registry holds 10001 nodes, more than the 10000 a list without paging answers: ask for pages with ?limit=1000&offset=0, …',
    );
    const last = await get(h, '/api/nodes/list?limit=1000&offset=10000');
    expect(last.json()).toMatchObject({ total: 10_001, limit: 1000, offset: 10_000 });
    expect(ids(last)).toEqual(['bulk-10000']);
  });
});

describe('node management', () => {
  it('lists nodes in address order and shows one node; 404 unknown, 400 for an ID over 63 characters', async () => {
    const h = await harness();
    await registerOk(h, 'worker-b');
    await registerOk(h, 'worker-a', { description: 'second' });
    const list = await get(h, '/api/nodes/list');
    expect(list.statusCode).toBe(200);
    const nodes = (list.json() as { nodes: RegistrationBody['node'][] }).nodes;
    expect(nodes.map((n) => [n.node_id, n.vpn_ip, n.status])).toEqual([
      ['worker-b', '10.100.1.2', 'pending'],
      ['worker-a', '10.100.1.3', 'pending'],
    ]);
    const one = await get(h, '/api/nodes/status/worker-a');
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ node_id: 'worker-a', description: 'second', vpn_ip: '10.100.1.3', status: 'pending', last_handshake: null });
    expectError(await get(h, '/api/nodes/status/nope'), 404, 'not_found');
    expectError(await get(h, '/api/nodes/status/Worker-A'), 404);
    expectError(await get(h, `/api/nodes/status/${'a'.repeat(64)}`), 400);
    expect((await get(h, `/api/nodes/status/${'a'.repeat(63)}`)).statusCode).toBe(404);
  });

  it('names each node in DNS (dns_name) in the list, its status and its registration with VPN_DNS on; null while it is off', async () => {
    const on = await harness({ VPN_DNS: 'true', VPN_DOMAIN: 'GPU.Lan' });
    expect((await registerOk(on, 'worker-01')).node).toMatchObject({ dns_name: 'worker-01.gpu.lan' });
    expect(((await get(on, '/api/nodes/list')).json() as { nodes: { dns_name: string }[] }).nodes.map((n) => n.dns_name)).toEqual(['worker-01.gpu.lan']);
    expect((await get(on, '/api/nodes/status/worker-01')).json()).toMatchObject({ dns_name: 'worker-01.gpu.lan' });
    const config = await get(on, '/api/clients/worker-01/config');
    expect(config.body).toMatch(/^DNS = 10\.100\.0\.1, gpu\.lan$/m);
    const off = await harness();
    await registerOk(off, 'worker-01');
    expect(((await get(off, '/api/nodes/list')).json() as { nodes: { dns_name: null }[] }).nodes[0]!.dns_name).toBeNull();
    expect((await get(off, '/api/clients/worker-01/config')).body).not.toMatch(/^DNS/m);
  });

  it('deletes a node (200, then 404) and its install links stop working', async () => {
    const h = await harness();
    const j = await registerOk(h, 'worker-01');
    const res = await del(h, '/api/nodes/worker-01');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ deleted: 'worker-01' });
    expect(h.changes()).toBe(2);
    expectError(await del(h, '/api/nodes/worker-01'), 404, 'not_found');
    expectError(await get(h, '/api/nodes/status/worker-01'), 404);
    expect(h.changes()).toBe(2);
    const token = tokenOf(j.install_url);
    expect((await get(h, `/install/${token}`, {})).statusCode).toBe(404);
    expectError(await get(h, `/api/clients/worker-01/config?token=${token}`, {}), 404);
    expectError(await get(h, '/api/clients/worker-01/config'), 404);
  });

  it('disables and enables a node', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    const off = await post(h, '/api/nodes/worker-01/disable');
    expect(off.statusCode).toBe(200);
    expect(off.json()).toMatchObject({ node_id: 'worker-01', enabled: false, status: 'disabled' });
    expect((await get(h, '/api/nodes/status/worker-01')).json()).toMatchObject({ status: 'disabled' });
    expect(h.changes()).toBe(2);
    const on = await post(h, '/api/nodes/worker-01/enable');
    expect(on.statusCode).toBe(200);
    expect(on.json()).toMatchObject({ enabled: true, status: 'pending' });
    expect(h.changes()).toBe(3);
    expectError(await post(h, '/api/nodes/nope/disable'), 404);
    expectError(await post(h, '/api/nodes/nope/enable'), 404);
    expectError(await post(h, `/api/nodes/${'a'.repeat(64)}/enable`), 400);
  });

  it('rotates keys: a new public key and install link; the old link and key stop working', async () => {
    const h = await harness();
    const first = await registerOk(h, 'worker-01');
    const oldToken = tokenOf(first.install_url);
    const oldPrivate = h.store.getSecrets('worker-01')!.privateKey!;
    const res = await post(h, '/api/nodes/worker-01/rotate-keys');
    expect(res.statusCode).toBe(200);
    const j = res.json() as RegistrationBody;
    expect(j.node.node_id).toBe('worker-01');
    expect(j.node.vpn_ip).toBe('10.100.1.2');
    expect(j.node.public_key).not.toBe(first.node.public_key);
    expect(j.node.public_key).toBe(h.store.getNode('worker-01')!.publicKey);
    expect(j.install_url).not.toBe(first.install_url);
    expect(typeof j.install_expires_at).toBe('string');
    expect(h.changes()).toBe(2);
    const newPrivate = h.store.getSecrets('worker-01')!.privateKey!;
    expect(newPrivate).not.toBe(oldPrivate);

    expect((await get(h, `/install/${oldToken}`, {})).statusCode).toBe(404);
    expectError(await get(h, `/api/clients/worker-01/config?token=${oldToken}`, {}), 404);
    const conf = await get(h, `/api/clients/worker-01/config?token=${tokenOf(j.install_url)}`, {});
    expect(conf.statusCode).toBe(200);
    expect(conf.body).toContain(`PrivateKey = ${newPrivate}`);
    expect(conf.body).not.toContain(oldPrivate);
    expectError(await post(h, '/api/nodes/nope/rotate-keys'), 404);
  });

  it('makes a new install link; the old one keeps working', async () => {
    const h = await harness();
    const first = await registerOk(h, 'worker-01');
    const res = await post(h, '/api/nodes/worker-01/install-link');
    expect(res.statusCode).toBe(200);
    const j = res.json() as { install_url: string; install_expires_at: string };
    expect(j.install_url).toMatch(/\/install\/[A-Za-z0-9_-]{43,}$/);
    expect(j.install_url).not.toBe(first.install_url);
    expect(Date.parse(j.install_expires_at)).toBeGreaterThan(Date.now());
    expect((await get(h, `/api/clients/worker-01/config?token=${tokenOf(j.install_url)}`, {})).statusCode).toBe(200);
    expect((await get(h, `/api/clients/worker-01/config?token=${tokenOf(first.install_url)}`, {})).statusCode).toBe(200);
    expectError(await post(h, '/api/nodes/nope/install-link'), 404);
  });

  it('never answers 500 to odd node IDs on any route', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    const ids = ['%00', '%2F', '..', '%20', 'W', '%C3%A9', '%F0%9F%98%80', '%ZZ', 'a'.repeat(64), 'a'.repeat(5000), "'%3B--", '-', 'worker-01%0A'];
    for (const id of ids) {
      for (const [method, url] of [
        ['GET', `/api/nodes/status/${id}`],
        ['DELETE', `/api/nodes/${id}`],
        ['POST', `/api/nodes/${id}/enable`],
        ['POST', `/api/nodes/${id}/disable`],
        ['POST', `/api/nodes/${id}/rotate-keys`],
        ['POST', `/api/nodes/${id}/install-link`],
        ['GET', `/api/clients/${id}/config`],
        ['GET', `/api/clients/${id}/config?token=${id}`],
        ['GET', `/install/${id}`],
        ['GET', `/install/${id}/linux.sh`],
      ] as const) {
        const res = await call(h, { method, url, headers: AUTH });
        expect(res.statusCode, `${method} ${url.slice(0, 80)} → ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }
    }
    expect(h.store.listNodes().map((n) => n.nodeId)).toEqual(['worker-01']);
  });
});

// ───────────────────────────────────────── config download ───────────────────────────────────────

describe('GET /api/clients/:node_id/config', () => {
  it('gives the wg-quick config to the API token holder, not cached', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    const res = await get(h, '/api/clients/worker-01/config');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-store');
    const s = h.store.getSecrets('worker-01')!;
    const c = res.body;
    expect(c).toMatch(/^\[Interface\]\n/);
    expect(c).toContain(`PrivateKey = ${s.privateKey}`);
    expect(c).toContain('Address = 10.100.1.2/32');
    expect(c).toContain('MTU = 1420');
    expect(c).toContain('[Peer]');
    expect(c).toContain(`PublicKey = ${h.hub.publicKey}`);
    expect(c).toContain(`PresharedKey = ${s.presharedKey}`);
    expect(c).toContain('Endpoint = 203.0.113.1:41820');
    expect(c).toContain('AllowedIPs = 10.100.0.0/16');
    expect(c).toContain('PersistentKeepalive = 25');
    expect(c).not.toContain(h.hub.privateKey);
    expectError(await get(h, '/api/clients/worker-01/config', {}), 401);
    expectError(await get(h, '/api/clients/worker-01/config', { 'x-api-key': 'wrong-token-1234567890' }), 401);
    expectError(await get(h, '/api/clients/nope/config'), 404);
  });

  it('gives it with an install token a limited number of times, then 410', async () => {
    const h = await harness({ INSTALL_TOKEN_USES: '3' });
    const j = await registerOk(h, 'worker-01');
    const token = tokenOf(j.install_url);
    const left = () => {
      const c = h.store.checkInstallToken(token);
      return 'usesLeft' in c ? c.usesLeft : c.error;
    };
    expect(left()).toBe(3);
    for (const expected of [2, 1, 0]) {
      const res = await get(h, `/api/clients/worker-01/config?token=${token}`, {});
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('PrivateKey = ');
      expect(left()).toBe(expected === 0 ? 'used_up' : expected);
    }
    const gone = await get(h, `/api/clients/worker-01/config?token=${token}`, {});
    expectError(gone, 410, 'gone');
    // The API token still works.
    expect((await get(h, '/api/clients/worker-01/config')).statusCode).toBe(200);
  });

  it('refuses an expired install token with 410', async () => {
    const h = await harness({ INSTALL_TOKEN_TTL: '60' });
    const j = await registerOk(h, 'worker-01');
    const token = tokenOf(j.install_url);
    expect(Date.parse(j.install_expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
    h.advance(59_000);
    expect((await get(h, `/api/clients/worker-01/config?token=${token}`, {})).statusCode).toBe(200);
    h.advance(2_000);
    expectError(await get(h, `/api/clients/worker-01/config?token=${token}`, {}), 410, 'gone');
    const page = await get(h, `/install/${token}`, {});
    expect(page.statusCode).toBe(410);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('expired');
  });

  it("refuses another node's token (404) or a bad one, and no auth at all (401)", async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    const other = await registerOk(h, 'worker-02');
    expectError(await get(h, `/api/clients/worker-01/config?token=${tokenOf(other.install_url)}`, {}), 404, 'not_found');
    expectError(await get(h, '/api/clients/worker-01/config?token=not-a-token', {}), 404);
    expectError(await get(h, `/api/clients/worker-01/config?token=${'x'.repeat(101)}`, {}), 400);
    expectError(await get(h, '/api/clients/worker-01/config?token=a&token=b', {}), 400);
    expectError(await get(h, '/api/clients/worker-01/config', {}), 401);
  });

  it("does not use up another node's token when it is presented for the wrong node", async () => {
    // A 404 is a client mistake and should change nothing; today the token loses a use first.
    const h = await harness();
    await registerOk(h, 'worker-01');
    const other = tokenOf((await registerOk(h, 'worker-02')).install_url);
    const before = { ...footprint(h), check: h.store.checkInstallToken(other) };
    expectError(await get(h, `/api/clients/worker-01/config?token=${other}`, {}), 404);
    expect({ ...footprint(h), check: h.store.checkInstallToken(other) }).toEqual(before);
  });

  it('rate-limits failed install token attempts per source, for a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = await harness();
    const good = tokenOf((await registerOk(h, 'worker-01')).install_url);
    const guesser = { remoteAddress: '198.51.100.77' };
    for (let i = 0; i < 5; i++) {
      expect((await get(h, `/install/guess-${i}`, {}, guesser)).statusCode).toBe(404);
      expectError(await get(h, `/api/clients/worker-01/config?token=guess-${i}`, {}, guesser), 404);
    }
    // Blocked now, even with a valid link, on every route that takes one.
    expectError(await get(h, `/api/clients/worker-01/config?token=${good}`, {}, guesser), 429, 'rate_limited');
    const page = await get(h, `/install/${good}`, {}, guesser);
    expect(page.statusCode).toBe(429);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expectError(await get(h, `/install/${good}/linux.sh`, {}, guesser), 429);
    // Being blocked uses nothing up.
    expect(h.store.checkInstallToken(good)).toMatchObject({ usesLeft: 5 });
    // Another source is not affected.
    expect((await get(h, `/install/${good}`, {}, { remoteAddress: '198.51.100.78' })).statusCode).toBe(200);
    // A minute later the guesser may try again.
    vi.setSystemTime(Date.now() + 61_000);
    expect((await get(h, `/api/clients/worker-01/config?token=${good}`, {}, guesser)).statusCode).toBe(200);
  });
});

// ───────────────────────────────────────── install page ─────────────────────────────────────────

describe('the install page and installers', () => {
  it('shows two QR codes and links to windows.bat, linux.sh and wg0.conf', async () => {
    const h = await harness();
    const j = await registerOk(h, 'worker-01', { description: 'GPU <b>& "box"' });
    const token = tokenOf(j.install_url);
    const page = await get(h, `/install/${token}`, {});
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body.match(/<svg/g)).toHaveLength(2);
    for (const file of ['windows.bat', 'linux.sh', 'wg0.conf']) expect(page.body).toContain(`/install/${token}/${file}"`);
    expect(page.body).toContain('GPU &lt;b&gt;&amp; &quot;box&quot;');
    expect(page.body).not.toContain('<b>&');

    const bat = await get(h, `/install/${token}/windows.bat`, {});
    expect(bat.statusCode).toBe(200);
    expect(bat.headers['content-disposition']).toContain('windows.bat');
    expect(bat.body).toContain('\r\n');
    expect(bat.body).not.toMatch(/[^\r]\n/);
    expect(bat.body.endsWith('\r\n')).toBe(true);

    const sh = await get(h, `/install/${token}/linux.sh`, {});
    expect(sh.statusCode).toBe(200);
    expect(sh.body.startsWith('#!/bin/sh')).toBe(true);
    expect(sh.body).not.toContain('\r');

    const conf = await get(h, `/install/${token}/wg0.conf`, {});
    expect(conf.statusCode).toBe(200);
    expect(conf.body).toContain('Address = 10.100.1.2/32');
    expect(conf.body).toContain(`PrivateKey = ${h.store.getSecrets('worker-01')!.privateKey}`);

    // Four requests, four uses of the default five; the fifth is the last.
    expect(h.store.checkInstallToken(token)).toMatchObject({ usesLeft: 1 });
    expect((await get(h, `/install/${token}`, {})).statusCode).toBe(200);
    const used = await get(h, `/install/${token}`, {});
    expect(used.statusCode).toBe(410);
    expect(used.headers['content-type']).toMatch(/^text\/html/);
    expectError(await get(h, `/install/${token}/linux.sh`, {}), 410);
  });

  it('answers a bad token with a 404 HTML page', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    const res = await get(h, '/install/not-a-real-token', {});
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html/i);
    expect(res.body).toContain('not valid');
    const long = await get(h, `/install/${'x'.repeat(101)}`, {});
    expect([400, 404, 414]).toContain(long.statusCode);
    expectError(await get(h, '/install/not-a-real-token/windows.bat', {}), 404);
  });
});

// ─────────────────────────────────────── status, metrics, misc ───────────────────────────────────

describe('status, metrics, health, docs', () => {
  it('GET /api/vpn/status is public by default and holds no secret', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    await registerOk(h, 'worker-02');
    h.store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: new Date().toISOString(), rxBytes: 100, txBytes: 200, endpoint: '198.51.100.7:51820' }]);
    const res = await get(h, '/api/vpn/status', {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      public_key: h.hub.publicKey,
      endpoint: '203.0.113.1:41820',
      listen_port: 41820,
      subnet: '10.100.0.0/16',
      hub_address: '10.100.0.1',
      peers_total: 2,
      peers_online: 1,
      rx_bytes: 100,
      tx_bytes: 200,
    });
    expect(res.body).not.toContain(h.hub.privateKey);
    for (const id of ['worker-01', 'worker-02']) {
      const s = h.store.getSecrets(id)!;
      expect(res.body).not.toContain(s.privateKey!);
      expect(res.body).not.toContain(s.presharedKey);
    }
  });

  it('GET /api/vpn/status needs the token with PUBLIC_STATUS=false', async () => {
    const h = await harness({ PUBLIC_STATUS: 'false' });
    expectError(await get(h, '/api/vpn/status', {}), 401);
    expect((await get(h, '/api/vpn/status')).statusCode).toBe(200);
  });

  it('GET /metrics: behind the token unless PUBLIC_METRICS=true; Prometheus text per node that promtool accepts', async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    await registerOk(h, 'worker-02');
    h.store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: new Date().toISOString(), rxBytes: 1234, txBytes: 5678, endpoint: null }]);
    const denied = await get(h, '/metrics', {});
    expectError(denied, 401, 'unauthorized');
    expect(denied.body).not.toContain('worker-01');
    const res = await get(h, '/metrics', { authorization: `Bearer ${API_TOKEN}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toContain('# TYPE wgvm_node_rx_bytes_total counter');
    expect(res.body).toMatch(/^wgvm_node_rx_bytes_total\{node_id="worker-01"\} 1234$/m);
    expect(res.body).toMatch(/^wgvm_node_tx_bytes_total\{node_id="worker-01"\} 5678$/m);
    expect(res.body).toMatch(/^wgvm_node_rx_bytes_total\{node_id="worker-02"\} 0$/m);
    expect(res.body).toMatch(/^wgvm_node_online\{node_id="worker-01"\} 1$/m);
    expect(res.body).toMatch(/^wgvm_node_online\{node_id="worker-02"\} 0$/m);
    expect(res.body).toMatch(/^wgvm_nodes 2$/m);
    expect(res.body).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect((await get(h, '/api/nodes/status/worker-01')).json()).toMatchObject({ status: 'online', rx_bytes: 1234 });
    const open = await harness({ PUBLIC_METRICS: 'true' });
    expect((await get(open, '/metrics', {})).statusCode).toBe(200);
  });

  it("a node's status names the hub address it writes to and is answered from (a hub with several)", async () => {
    const h = await harness();
    await registerOk(h, 'worker-01');
    expect((await get(h, '/api/nodes/status/worker-01')).json()).toMatchObject({ endpoint: null, answered_from: null });
    h.store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: new Date().toISOString(), rxBytes: 1, txBytes: 1, endpoint: '198.51.100.7:40001', answeredFrom: '203.0.113.1' }]);
    expect((await get(h, '/api/nodes/status/worker-01')).json()).toMatchObject({ endpoint: '198.51.100.7:40001', answered_from: '203.0.113.1' });
    const list = (await get(h, '/api/nodes/list')).json();
    expect(JSON.stringify(list)).toContain('"answered_from":"203.0.113.1"');
  });

  it('401 names the scheme (WWW-Authenticate: Bearer); 201 says where the node is (Location)', async () => {
    const h = await harness();
    const denied = await get(h, '/api/nodes/list', {});
    expect(denied.statusCode).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Bearer realm="wgvm"');
    const created = await call(h, { method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id: 'worker-07' } });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe('/api/nodes/status/worker-07');
    expect((await get(h, created.headers.location as string)).json()).toMatchObject({ node_id: 'worker-07' });
  });

  it('documents every route in a valid OpenAPI document: summary, tag, security and a schema for each answer', async () => {
    const h = await harness({ PUBLIC_STATUS: 'true' });
    const spec = (await get(h, '/docs/json', {})).json() as {
      openapi: string;
      components: { securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }> };
      paths: Record<string, Record<string, { summary?: string; tags?: string[]; security?: unknown[]; responses: Record<string, { content?: unknown }> }>>;
    };
    const result = await new Validator().validate(spec);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(spec.components.securitySchemes).toMatchObject({
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      bearer: { type: 'http', scheme: 'bearer' },
    });
    const operations = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThanOrEqual(12);
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.summary, where).toBeTruthy();
      expect(op.tags?.length, where).toBeGreaterThan(0);
      const success = Object.keys(op.responses).filter((code) => /^2/.test(code));
      expect(success, `${where}: a documented 2xx answer`).toHaveLength(1);
      // 204 No Content has nothing to describe.
      if (success[0] !== '204') expect(op.responses[success[0]!]!.content, `${where}: the 2xx answer's schema`).toBeDefined();
    }
    // The list's paging and filters are documented as query parameters.
    const listParams = (spec.paths['/api/nodes/list']!.get as unknown as { parameters: Array<{ in: string; name: string; description: string }> }).parameters;
    expect(listParams.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['limit', 'offset', 'q', 'status']);
    // What needs no token says so; everything else inherits the document's schemes.
    expect(spec.paths['/health']!.get!.security).toEqual([]);
    expect(spec.paths['/api/vpn/status']!.get!.security).toEqual([]);
    expect(spec.paths['/metrics']!.get!.security).toBeUndefined();
  });

  it('GET /health, GET /docs, and 404 JSON for an unknown route', async () => {
    const h = await harness();
    const health = await get(h, '/health', {});
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const docs = await get(h, '/docs', {});
    expect([200, 301, 302]).toContain(docs.statusCode);
    if (docs.statusCode === 200) expect(docs.body).toMatch(/swagger/i);
    const spec = await get(h, '/docs/json', {});
    expect(spec.statusCode).toBe(200);
    const paths = Object.keys((spec.json() as { paths: Record<string, unknown> }).paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/nodes/register', '/api/nodes/list', '/api/nodes/status/{node_id}', '/api/clients/{node_id}/config']));
    expectError(await get(h, '/nope', {}), 404, 'not_found');
    expectError(await get(h, '/api/nodes', {}), 404);
    expectError(await call(h, { method: 'PUT', url: '/api/nodes/register', headers: AUTH }), 404);
  });

  it('serves the setup page without the token in the URL', async () => {
    const h = await harness();
    const res = await get(h, '/worker/setup', {});
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).not.toContain(API_TOKEN);
  });
});

// ───────────────────────────────────────── no partial writes ─────────────────────────────────────

describe('no partial writes', () => {
  it('leaves nodes, tokens and the audit log as they were after every failed registration', async () => {
    const h = await harness({ WORKER_IP_RANGE: '10.100.1.2-10.100.1.3' });
    const a = await registerOk(h, 'worker-01');
    const audit = h.store.listAudit(1_000_000);
    const before = footprint(h);
    const failing: unknown[] = [
      { node_id: 'worker-01' }, // duplicate
      { node_id: 'worker-02', public_key: a.node.public_key }, // taken key
      { node_id: 'worker-02', public_key: ZERO_KEY },
      { node_id: 'worker-02', public_key: h.hub.publicKey },
      { node_id: 'worker-02', central_server_url: 'ftp://x' },
      { node_id: 'Worker_02' },
    ];
    for (const body of failing) {
      const res = await register(h, body);
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    }
    await registerOk(h, 'worker-02');
    const full = footprint(h);
    expectError(await register(h, { node_id: 'worker-03' }), 409, 'range_full');
    expect(footprint(h)).toEqual(full);
    expect(full.nodes).toBe(before.nodes + 1);
    // Only worker-02's registration and token were added to the log.
    const added = h.store.listAudit(1_000_000).slice(0, full.audit - audit.length);
    expect(added.map((e) => [e.action, e.nodeId])).toEqual([
      ['token.create', 'worker-02'],
      ['node.register', 'worker-02'],
    ]);
    expect(h.changes()).toBe(2);
  });
});
