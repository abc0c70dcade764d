// The management API under abuse, route by route. The routes are not listed by hand: they are read
// from the fastify app itself (src/http/hardening.ts records every route as it is added), and every
// one must be named in ROUTES below with how it is reached, so a new route fails this file until it
// is classified (and is then attacked like the others).
//
// Each route gets malformed JSON, wrong types, a huge body, path traversal and odd characters in its
// parameters, no token and wrong tokens. Every such answer must be a 4xx carrying {error, message}
// as JSON (HTML for the install page, which a browser opens), never a 500 or a stack trace, and the
// database must be byte for byte what it was (nodes, tokens, audit log, settings).
// Then: the security headers on every route, no inline code on our HTML pages, no-store wherever a
// secret travels, and no private or preshared key (base64 or hex) in any GET answer but the
// downloads whose job is to carry one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { buildApi } from '../../src/http/api.js';
import { routesOf } from '../../src/http/hardening.js';
import { encodeKey, generateKeyPair, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { NodesService } from '../../src/nodes/service.js';
import { DATABASE_FILE, Store, TOKEN_LIMITS } from '../../src/store/index.js';

const API_TOKEN = 'abuse-token-1234567890';
const AUTH = { 'x-api-key': API_TOKEN };

/**
 * How each route is reached. `auth`: needs the API token; `install`: takes an install token in the
 * path; `agent`: a node's agent credential (never the API token); `public`: needs nothing. `body`: the route reads a JSON body. `keys`: its successful answer
 * carries a worker's keys by design (a download), so the secret check below skips it.
 */
type Access = 'auth' | 'install' | 'public' | 'agent';
interface RouteSpec {
  access: Access;
  keys?: boolean;
}
const ROUTES: Record<string, RouteSpec> = {
  'GET /health': { access: 'public' },
  'POST /api/nodes/register': { access: 'auth' },
  'GET /api/nodes/list': { access: 'auth' },
  'GET /api/nodes/status/:node_id': { access: 'auth' },
  'DELETE /api/nodes/:node_id': { access: 'auth' },
  'POST /api/nodes/:node_id/enable': { access: 'auth' },
  'POST /api/nodes/:node_id/disable': { access: 'auth' },
  'POST /api/nodes/:node_id/rotate-keys': { access: 'auth' },
  'POST /api/nodes/:node_id/install-link': { access: 'auth' },
  'PATCH /api/nodes/:node_id': { access: 'auth' },
  'DELETE /api/nodes/:node_id/agent': { access: 'auth' },
  // An agent's own view: the pairs' preshared keys are what it is for.
  'GET /api/agent/v1/peers': { access: 'agent', keys: true },
  'POST /api/agent/v1/report': { access: 'agent' },
  'POST /api/agent/v1/stopping': { access: 'agent' },
  // With the API token, or with ?token= (an install token).
  'GET /api/clients/:node_id/config': { access: 'auth', keys: true },
  'GET /api/vpn/status': { access: 'public' },
  'GET /metrics': { access: 'auth' }, // public only with PUBLIC_METRICS=true
  'GET /worker/setup': { access: 'public' },
  'GET /assets/:file': { access: 'public' },
  'GET /install/:token': { access: 'install', keys: true },
  'GET /install/:token/wg0.conf': { access: 'install', keys: true },
  'GET /install/:token/windows.bat': { access: 'install', keys: true },
  'GET /install/:token/linux.sh': { access: 'install', keys: true },
  // OpenAPI and the Swagger UI (@fastify/swagger-ui).
  'GET /docs': { access: 'public' },
  'GET /docs/static/index.html': { access: 'public' },
  'GET /docs/static/swagger-initializer.js': { access: 'public' },
  'GET /docs/json': { access: 'public' },
  'GET /docs/yaml': { access: 'public' },
  'GET /docs/static/*': { access: 'public' },
};

interface World {
  dir: string;
  store: Store;
  app: FastifyInstance;
  /** A valid install token of worker-01. */
  installToken: string;
  /** worker-01's agent credential. */
  agentCredential: string;
  /** A readonly second connection: what is on disk, not what the store caches. */
  snapshot: () => string;
  secrets: () => string[];
  close: () => void;
}

let w: World;

beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-ab-abuse-'));
  const store = Store.open(join(dir, 'data'));
  const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN, INSTALL_TOKEN_USES: '100' }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const priv = generatePrivateKey();
  const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  const nodes = new NodesService(store, config, hub, () => {});
  const app = await buildApi(config, nodes, { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => null }, API_TOKEN);
  await app.ready();
  const reg = nodes.register({ nodeId: 'worker-01', description: 'GPU Server #1' }, 'test');
  nodes.register({ nodeId: 'worker-02', publicKey: generateKeyPair().publicKey }, 'test');
  const agentCredential = nodes.issueAgentCredential('worker-01', 'test');
  const ro = new Database(join(dir, 'data', DATABASE_FILE), { readonly: true });
  const snapshot = () =>
    JSON.stringify([
      ro.prepare('SELECT * FROM nodes ORDER BY node_id').all(),
      ro.prepare('SELECT hex(token_hash) AS h, node_id, created_at, expires_at, uses_left FROM install_tokens ORDER BY h').all(),
      ro.prepare('SELECT * FROM audit_log ORDER BY id').all(),
      ro.prepare('SELECT * FROM settings ORDER BY key').all(),
      ro.prepare('SELECT node_id, hex(token_hash), created_at FROM agent_credentials ORDER BY node_id').all(),
      ro.prepare('SELECT node_a, node_b, state FROM node_pairs ORDER BY node_a, node_b').all(),
    ]);
  const secrets = () => {
    const out = [hub.privateKey];
    for (const n of store.listNodes()) {
      const s = store.getSecrets(n.nodeId)!;
      if (s.privateKey) out.push(s.privateKey);
      out.push(s.presharedKey);
    }
    return out.flatMap((k) => [k, Buffer.from(k, 'base64').toString('hex')]);
  };
  w = { dir, store, app, installToken: reg.installToken, agentCredential, snapshot, secrets, close: () => ro.close() };
});

afterEach(async () => {
  w.close();
  await w.app.close();
  w.store.close();
  rmSync(w.dir, { recursive: true, force: true });
});

const key = (method: string, url: string) => `${method} ${url}`;

/** The app's routes, without the HEAD twins fastify adds to GET routes (same handler as the GET). */
function appRoutes(app: FastifyInstance) {
  return routesOf(app).filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
}

/** A URL for the route with its parameters filled in (valid ones unless given). */
function fill(url: string, params: Partial<Record<'node_id' | 'token' | 'file' | '*', string>> = {}): string {
  return url
    .replace(':node_id', params.node_id ?? 'worker-01')
    .replace(':token', params.token ?? w.installToken)
    .replace(':file', params.file ?? 'pages.css')
    .replace('*', params['*'] ?? 'index.css');
}

const STACK_TRACE = /\bat [\w.<>]+ \(|\.(ts|js):\d+:\d+|node_modules|\/src\/|Error: .*\n\s+at /;

/** A rejected request: 4xx, {error, message} (or the install page's HTML), nothing written. */
function expectRejected(res: LightMyRequestResponse, what: string, before: string, statuses?: number[]): void {
  expect(res.statusCode, `${what} → ${res.statusCode} ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, `${what} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
  if (statuses) expect(statuses, `${what} → ${res.statusCode} ${res.body.slice(0, 200)}`).toContain(res.statusCode);
  expect(res.body, what).not.toMatch(STACK_TRACE);
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/html')) {
    // Only the install page answers a browser in HTML.
    expect(what, `${what}: an HTML error`).toMatch(/^GET \/install\/[^/]*$/);
    expect(res.body).toMatch(/<p class="error">[^<]+<\/p>/);
  } else {
    expect(type, `${what} → ${res.body.slice(0, 200)}`).toMatch(/^application\/json/);
    const j = res.json() as { error?: unknown; message?: unknown };
    expect(typeof j.error, what).toBe('string');
    expect(typeof j.message, what).toBe('string');
    expect((j.message as string).length, what).toBeGreaterThan(0);
  }
  expect(w.snapshot(), `${what} changed the database`).toBe(before);
}

let sources = 0;
/** Each request from a source of its own unless given: the failure limits would otherwise answer 429 early. */
/** The credential a route takes: the API token, or worker-01's agent credential on the agent routes. */
function authOf(url: string): Record<string, string> {
  return url.startsWith('/api/agent/') ? { authorization: `Bearer ${w.agentCredential}` } : AUTH;
}

/** A body each route accepts, for the routes that take one. */
function validBody(r: { method: string; url: string }): { payload?: object } {
  if (r.url === '/api/nodes/register') return { payload: { node_id: 'worker-09' } };
  if (r.method === 'PATCH') return { payload: { isolated: false } };
  if (r.url === '/api/agent/v1/stopping') return { payload: { stopping: true } };
  if (r.url === '/api/agent/v1/report') {
    const key = w.store.getNode('worker-01')!.publicKey;
    return { payload: { agent: 'test/1', time: 1_800_000_000, public_key: key, listen_port: 51820, local_addresses: ['192.168.1.10/24'], peers: [] } };
  }
  return {};
}

async function send(options: InjectOptions): Promise<LightMyRequestResponse> {
  sources++;
  return w.app.inject({ remoteAddress: `10.${(sources >> 16) & 255}.${(sources >> 8) & 255}.${sources & 255}`, ...options });
}

describe('every route is known to this file', () => {
  it('lists exactly the routes the app has', () => {
    const actual = appRoutes(w.app).map((r) => key(r.method, r.url));
    expect(actual.length).toBeGreaterThan(15);
    expect([...new Set(actual)].sort()).toEqual(Object.keys(ROUTES).sort());
  });
});

describe('abuse, route by route', () => {
  it('no token, or a wrong one, on every route that needs one: 401, nothing written', async () => {
    let n = 0;
    for (const r of appRoutes(w.app)) {
      const spec = ROUTES[key(r.method, r.url)]!;
      if (spec.access !== 'auth' && spec.access !== 'agent') continue;
      const url = fill(r.url);
      const payload = r.url === '/api/nodes/register' ? { payload: { node_id: 'worker-09' } } : {};
      for (const headers of [
        {},
        { 'x-api-key': '' },
        { 'x-api-key': 'wrong-token-1234567890' },
        { 'x-api-key': `${API_TOKEN}\u0000` },
        { 'x-api-key': API_TOKEN.slice(0, -1) },
        { authorization: `Bearer ${API_TOKEN.toUpperCase()}` },
        { authorization: `Basic ${Buffer.from(`admin:${API_TOKEN}`).toString('base64')}` },
        { authorization: 'Bearer' },
      ]) {
        const before = w.snapshot();
        // A source per attempt: this is about the answer; the limit has its own test.
        const res = await send({ method: r.method as 'GET', url, headers, ...payload, remoteAddress: `192.0.2.${++n % 250}` });
        expectRejected(res, `${r.method} ${url} ${JSON.stringify(headers)}`, before, [401]);
      }
    }
  });

  it('malformed JSON, wrong types, a body where none is taken, and a huge body, on every route: 4xx, nothing written', async () => {
    const malformed = ['{"node_id": ', '{node_id: "x"}', "{'node_id':'x'}", '{"node_id":"x",}', '\u0000', 'null', '[]', '"x"', '{"node_id":"x"}{"node_id":"y"}', '\ufeff{}', '{"node_id":"worker-09","__proto__":{"polluted":true}}'];
    const wrongTypes: unknown[] = [
      { node_id: 1 },
      { node_id: true },
      { node_id: ['worker-09'] },
      { node_id: { $ne: null } },
      { node_id: 'worker-09', description: 42 },
      { node_id: 'worker-09', central_server_url: ['http://x'] },
      { node_id: 'worker-09', public_key: 7 },
      { node_id: 'worker-09', enabled: false },
      { node_id: 'worker-09', constructor: { prototype: { polluted: true } } },
    ];
    const huge = JSON.stringify({ node_id: 'worker-09', description: 'x'.repeat(1 << 20) });
    for (const r of appRoutes(w.app)) {
      const url = fill(r.url);
      const attempts: [string, string][] = [
        ...malformed.map((p): [string, string] => [`malformed ${JSON.stringify(p)}`, p]),
        ...wrongTypes.map((p): [string, string] => [`wrong type ${JSON.stringify(p)}`, JSON.stringify(p)]),
        ['1 MiB body', huge],
      ];
      for (const [what, payload] of attempts) {
        const before = w.snapshot();
        const res = await send({ method: r.method as 'POST', url, headers: { ...authOf(r.url), 'content-type': 'application/json' }, payload });
        // A route that reads a body stops reading at the limit (413); one that takes none refuses it (400).
        expectRejected(res, `${r.method} ${url} ${what}`, before, what === '1 MiB body' && r.hasBody ? [413] : [400, 413]);
      }
      // Other content types are refused, not guessed at.
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        const before = w.snapshot();
        const res = await send({ method: r.method as 'POST', url, headers: { ...authOf(r.url), 'content-type': type }, payload: 'node_id=worker-09' });
        expectRejected(res, `${r.method} ${url} as ${type}`, before, [400, 415]);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('path traversal, NUL, unicode and control characters in every parameter: 4xx, nothing written', async () => {
    const evil = [
      '..',
      '../',
      '..%2F..%2Fetc%2Fpasswd',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '%2E%2E',
      '..%5C..%5Cwindows',
      '%252e%252e%252f',
      '%00',
      'worker-01%00',
      'worker-01%00.conf',
      '%0d%0aSet-Cookie:%20x=1',
      'worker-01%0A',
      '%1b%5b31m',
      '%7f',
      '%c2%85', // U+0085 NEXT LINE
      '%e2%80%ae10-rekrow', // U+202E right-to-left override
      '%e2%80%8bworker-01', // U+200B zero width space
      '%ef%bc%b7orker-01', // fullwidth W
      '%f0%9f%98%80',
      '%c0%ae%c0%ae%c0%af', // overlong UTF-8 for "../"
      '%ed%a0%80', // a lone surrogate in UTF-8
      '%ff%fe',
      '%ZZ',
      '%',
      'WORKER-01',
      '%20worker-01',
      'worker-01%20',
      'worker-01%09',
      "worker-01'%20OR%20'1'='1",
      'a'.repeat(64),
      'a'.repeat(10_000),
    ];
    for (const r of appRoutes(w.app)) {
      const names = [...r.url.matchAll(/:(\w+)|\*/g)].map((m) => m[1] ?? '*');
      if (names.length === 0) continue;
      const spec = ROUTES[key(r.method, r.url)]!;
      for (const name of names) {
        for (const value of evil) {
          const url = fill(r.url, { [name]: value });
          const before = w.snapshot();
          const res = await send({ method: r.method as 'GET', url, headers: spec.access === 'auth' ? AUTH : {} });
          // The Swagger UI's file route may resolve a dot segment to one of its own files; nothing more.
          if (r.url.endsWith('*') && res.statusCode < 400) expect(res.body).toMatch(/swagger/i);
          else expectRejected(res, `${r.method} ${url.slice(0, 120)}`, before);
          // Nothing outside the app's own files comes back.
          expect(res.body).not.toMatch(/root:x:0:0|"name": ?"wireguard-vpn-manager"|BEGIN .*PRIVATE KEY/);
        }
      }
    }
    // The static file routes, with traversal spelled every way a path can spell it.
    for (const url of [
      '/docs/static/../../../package.json',
      '/docs/static/..%2f..%2f..%2fpackage.json',
      '/docs/static/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/docs/static/....//....//package.json',
      '/docs/static/%5c..%5c..%5cpackage.json',
      '/docs/static/index.css%00.html',
      '/assets/..%2f..%2fpackage.json',
      '/assets/%2e%2e%2fapi.js',
      '/assets/../../package.json',
      '/assets/__proto__',
      '/assets/constructor',
      '/assets/toString',
    ]) {
      const before = w.snapshot();
      const res = await send({ method: 'GET', url });
      expectRejected(res, `GET ${url}`, before);
      expect(res.body).not.toMatch(/"name": ?"wireguard-vpn-manager"/);
    }
  });

  it('odd characters in the node ID and description of a registration: refused, or stored exactly as sent', async () => {
    const ids = ['worker-\u00e9', 'w\u202eorker', 'worker\u200b', 'worker\u0000', 'worker\u001b[31m', 'worker\r\nx', 'worker\t', 'Ｗorker', '\ud83d\ude00', 'wörker', 'worker-01\u0085'];
    for (const node_id of ids) {
      const before = w.snapshot();
      const res = await send({ method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id } });
      expectRejected(res, `register ${JSON.stringify(node_id)}`, before, [400]);
    }
    const refused = ['nul \u0000', 'escape \u001b[2J', 'bell \u0007', 'cr \r', 'lf \n', 'tab \t', 'del \u007f', 'next line \u0085', 'csi \u009b', 'lone \ud800', 'lone \udc00 low'];
    for (const description of refused) {
      const before = w.snapshot();
      const res = await send({ method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id: 'worker-09', description } });
      expectRejected(res, `description ${JSON.stringify(description)}`, before, [400]);
    }
    // Printable Unicode is a description like any other (the seed's users write Korean).
    const accepted = ['GPU 서버 #1', 'Größe 😀', 'RTL \u202e text', 'zero\u200bwidth', '<script>alert(1)</script>', "'; DROP TABLE nodes; --"];
    for (const [i, description] of accepted.entries()) {
      const res = await send({ method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id: `text-${i}`, description } });
      expect(res.statusCode, res.body).toBe(201);
      expect(w.store.getNode(`text-${i}`)!.description).toBe(description);
      expect((await send({ method: 'GET', url: `/api/nodes/status/text-${i}`, headers: AUTH })).json()).toMatchObject({ description });
    }
  });

  it('query strings: repeated, overlong, wrong-typed or unknown parameters are refused or ignored, never a 500', async () => {
    for (const r of appRoutes(w.app)) {
      const spec = ROUTES[key(r.method, r.url)]!;
      if (spec.access === 'install') continue;
      const url = fill(r.url);
      for (const query of ['token=a&token=b', `token=${'x'.repeat(5000)}`, 'token[]=a', 'token[a]=b', '__proto__[x]=1', 'constructor[prototype][x]=1', `${'q'.repeat(3000)}=1`, '%ZZ=1']) {
        const before = w.snapshot();
        const res = await send({ method: r.method as 'GET', url: `${url}?${query}`, headers: r.method === 'GET' ? {} : AUTH });
        expect(res.statusCode, `${r.method} ${url}?${query.slice(0, 40)} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
        expect(res.body).not.toMatch(STACK_TRACE);
        if (res.statusCode >= 400) expectRejected(res, `${r.method} ${url}?${query.slice(0, 40)}`, before);
        // A POST without its token never writes, whatever the query says.
        if (r.method !== 'GET' && res.statusCode >= 400) expect(w.snapshot()).toBe(before);
      }
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined(); // no prototype pollution
  });
});

describe('bounded install links', () => {
  it(`asking for install links without end stops at ${TOKEN_LIMITS.perNode} per node with 409 and a message; nothing written`, async () => {
    // worker-01 holds the one made at registration.
    for (let i = 1; i < TOKEN_LIMITS.perNode; i++) {
      expect((await send({ method: 'POST', url: '/api/nodes/worker-01/install-link', headers: AUTH })).statusCode).toBe(200);
    }
    const before = w.snapshot();
    const res = await send({ method: 'POST', url: '/api/nodes/worker-01/install-link', headers: AUTH });
    expectRejected(res, 'the next install link', before, [409]);
    expect(res.json()).toMatchObject({ error: 'limit', message: expect.stringMatching(/rotate its keys/) });
    // Rotating the keys revokes them all, and a new link is possible again.
    expect((await send({ method: 'POST', url: '/api/nodes/worker-01/rotate-keys', headers: AUTH })).statusCode).toBe(200);
    expect((await send({ method: 'POST', url: '/api/nodes/worker-01/install-link', headers: AUTH })).statusCode).toBe(200);
  });
});

describe('no partial registration', () => {
  it('a registration refused for want of install links leaves no node behind (node and link commit together)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgvm-ab-atomic-'));
    const store = Store.open(join(dir, 'data'), { tokenLimits: { perNode: 10, total: 2 } });
    try {
      const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN }, dir, { envFile: false, networkInterfaces: () => ({}) });
      const priv = generatePrivateKey();
      let changes = 0;
      const nodes = new NodesService(store, config, { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) }, () => changes++);
      const app = await buildApi(config, nodes, { publicKey: '', startedAt: 0, counters: () => null }, API_TOKEN);
      for (const node_id of ['a-1', 'a-2']) expect((await app.inject({ method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id } })).statusCode).toBe(201);
      const audit = store.listAudit(1000).length;
      const res = await app.inject({ method: 'POST', url: '/api/nodes/register', headers: AUTH, payload: { node_id: 'a-3' } });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json()).toMatchObject({ error: 'limit' });
      expect(store.getNode('a-3')).toBeNull();
      expect(store.listNodes().map((n) => n.nodeId)).toEqual(['a-1', 'a-2']);
      expect(store.listAudit(1000)).toHaveLength(audit);
      expect(changes).toBe(2); // the device was not told of a node that is not there
      await app.close();
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('security headers', () => {
  it('every route answers with nosniff, DENY, a referrer policy and a CSP that forbids framing', async () => {
    for (const r of appRoutes(w.app)) {
      // A successful answer, and a refusal, of each route.
      // (A fresh install link each time: rotating worker-01's keys revokes its links.)
      const params = {
        node_id: r.url === '/api/nodes/:node_id' && r.method === 'DELETE' ? 'worker-02' : 'worker-01',
        ...(r.url.startsWith('/install/') ? { token: w.store.createInstallToken('worker-01', { ttlSeconds: 60, uses: 1 }).token } : {}),
      };
      const ok = await send({ method: r.method as 'GET', url: fill(r.url, params), headers: authOf(r.url), ...validBody(r) });
      const bad = await send({ method: r.method as 'GET', url: fill(r.url, { node_id: 'nope', token: 'nope', file: 'nope', '*': 'nope' }), headers: {}, remoteAddress: '192.0.2.200' });
      // Revoking it, rotating the keys and every linux.sh (which carries a new one) end the credential
      // before: the later routes need a live one.
      w.agentCredential = w.store.issueAgentCredential('worker-01');
      expect(ok.statusCode, `${r.method} ${r.url}: ${ok.body.slice(0, 200)}`).toBeLessThan(400);
      for (const res of [ok, bad]) {
        const what = `${r.method} ${r.url} → ${res.statusCode}`;
        expect(res.headers['x-content-type-options'], what).toBe('nosniff');
        expect(res.headers['x-frame-options'], what).toBe('DENY');
        expect(res.headers['referrer-policy'], what).toBe('no-referrer');
        const csp = String(res.headers['content-security-policy'] ?? '');
        expect(csp, what).toMatch(/frame-ancestors 'none'/);
        expect(csp, what).not.toMatch(/frame-ancestors[^;]*'self'/);
      }
      if (r.url.startsWith('/api/') || r.url.startsWith('/install/')) {
        // Everything under /api and /install may carry a secret (keys, install links).
        expect(ok.headers['cache-control'], `${r.method} ${r.url}`).toBe('no-store');
      }
    }
  });

  it('our HTML pages run no inline script or style, and the files they load are served', async () => {
    const pages = [await send({ method: 'GET', url: '/worker/setup' }), await send({ method: 'GET', url: `/install/${w.installToken}` }), await send({ method: 'GET', url: '/install/nope' })];
    for (const page of pages) {
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      expect(csp).toMatch(/style-src 'self'(;|$)/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      // No inline code for the CSP to block: every <script> has a src, no <style>, no style= or on…= attributes.
      expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
      expect(page.body).not.toMatch(/<style/i);
      expect(page.body).not.toMatch(/\sstyle=|\son[a-z]+=/i);
      for (const m of page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
        const asset = await send({ method: 'GET', url: m[1]! });
        expect(asset.statusCode, m[1]).toBe(200);
        expect(asset.headers['content-type']).toMatch(/^text\/(css|javascript)/);
        expect(asset.headers['x-content-type-options']).toBe('nosniff');
      }
    }
    expect(pages[0]!.body).toContain('<script src="/assets/setup.js"');
    expect((await send({ method: 'GET', url: '/assets/setup.js' })).body).toContain("fetch('/api/nodes/register'");
  });
});

describe('secrets', () => {
  it('no GET answer carries a private or preshared key, in base64 or hex, except the downloads made for it', async () => {
    const secrets = w.secrets();
    expect(secrets.length).toBe(2 * (1 + 2 + 1)); // hub key; worker-01's two keys; worker-02's preshared key
    let checked = 0;
    for (const r of appRoutes(w.app)) {
      if (r.method !== 'GET') continue;
      const spec = ROUTES[key(r.method, r.url)]!;
      const res = await send({ method: 'GET', url: fill(r.url), headers: authOf(r.url) });
      if (spec.keys) continue; // the downloads made to carry a worker's keys (see ROUTES)
      expect(res.statusCode, `${r.url}: ${res.body.slice(0, 200)}`).toBeLessThan(400);
      for (const s of secrets) expect(res.body.includes(s), `GET ${r.url} holds a secret`).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(13);
  });
});
