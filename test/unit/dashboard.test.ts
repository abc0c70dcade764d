// The dashboard app (DASHBOARD_PORT) in-process on a real SQLite registry: sign-in with the token or
// the admin password and its rate limit, the session cookie, the Origin check, security headers,
// registration with its install panel, downloads, node detail, and the live event stream with its
// limits. The browser side is test/e2e/dashboard.test.ts.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { buildDashboard, DASHBOARD_CSP, type Dashboard } from '../../src/http/dashboard.js';
import { LiveFeed } from '../../src/http/live.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { NodeHistory } from '../../src/nodes/history.js';
import { NodesService } from '../../src/nodes/service.js';
import { hashPassword } from '../../src/domain/password.js';
import { Store } from '../../src/store/index.js';

const API_TOKEN = 'dashboard-test-token-0123456789';
const PASSWORD = 'a long admin password';
const ORIGIN = 'http://localhost:5000';
const HOST = 'localhost:5000';

interface Harness {
  dashboard: Dashboard;
  store: Store;
  nodes: NodesService;
  history: NodeHistory;
  dir: string;
}

const open: Harness[] = [];
let passwordHash: string | undefined;

async function harness(options: { password?: boolean; env?: Record<string, string>; liveLimits?: { maxClients: number; maxBufferedBytes: number; heartbeatMs: number } } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-dash-'));
  // A stand-in for the built front end (the real one is checked by the e2e test).
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>t</title><script type="module" src="/assets/app-1234.js"></script>');
  writeFileSync(join(web, 'assets', 'app-1234.js'), 'console.log(1)');
  if (options.password) passwordHash ??= await hashPassword(PASSWORD);
  const env = { SERVERURL: 'vpn.example.com', API_TOKEN, ...(options.password ? { ADMIN_PASSWORD_HASH: passwordHash! } : {}), ...options.env };
  const config = loadConfig(env, dir, { envFile: false, networkInterfaces: () => ({}) });
  const store = Store.open(join(dir, 'data'));
  const priv = generatePrivateKey();
  const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  const nodes = new NodesService(store, config, hub, () => {});
  const history = new NodeHistory();
  const dashboard = await buildDashboard({
    config,
    nodes,
    history,
    apiToken: API_TOKEN,
    webDir: web,
    hub: { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => ({ drops: { replay: 3 }, relayed: 7, relayedBytes: 700, tunWriteErrors: 0, tunMalformed: 0, udpSendErrors: 0, handshakesAdmitted: 9, underLoad: false }), handshakes: () => 5 },
    ...(options.liveLimits ? { liveLimits: options.liveLimits } : {}),
  });
  const h = { dashboard, store, nodes, history, dir };
  open.push(h);
  return h;
}

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.dashboard.app.close();
    h.store.close();
    rmSync(h.dir, { recursive: true, force: true });
  }
});

const cookieOf = (res: LightMyRequestResponse) => {
  const set = res.headers['set-cookie'];
  return String(Array.isArray(set) ? set[0] : set);
};

async function signIn(h: Harness, secret = API_TOKEN): Promise<string> {
  const res = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST }, payload: { secret } });
  expect(res.statusCode).toBe(204);
  return cookieOf(res).split(';')[0]!;
}

const as = (cookie: string, extra: Record<string, string> = {}) => ({ cookie, host: HOST, ...extra });
const post = (cookie: string) => as(cookie, { origin: ORIGIN });

describe('signing in', () => {
  it('the API token opens a session: an HttpOnly, SameSite=Strict cookie', async () => {
    const h = await harness();
    const res = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST }, payload: { secret: API_TOKEN } });
    expect(res.statusCode).toBe(204);
    const cookie = cookieOf(res);
    expect(cookie).toMatch(/^wgvm_session=[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    const me = await h.dashboard.app.inject({ url: '/api/session', headers: as(cookie.split(';')[0]!) });
    expect(me.json()).toEqual({ signed_in: true, password_enabled: false });
    expect((await h.dashboard.app.inject({ url: '/api/nodes', headers: as(cookie.split(';')[0]!) })).statusCode).toBe(200);
  });

  it('the admin password opens a session when ADMIN_PASSWORD_HASH is set; a wrong one is refused', async () => {
    const h = await harness({ password: true });
    expect((await h.dashboard.app.inject({ url: '/api/session' })).json()).toEqual({ signed_in: false, password_enabled: true });
    const wrong = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST }, payload: { secret: 'not the password' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'unauthorized', message: 'wrong password or API token' });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const cookie = await signIn(h, PASSWORD);
    expect((await h.dashboard.app.inject({ url: '/api/nodes', headers: as(cookie) })).statusCode).toBe(200);
  });

  it('without a session nothing but the page and the sign-in answers', async () => {
    const h = await harness();
    for (const url of ['/api/nodes', '/api/hub', '/api/events', '/api/nodes/x', '/api/nodes/x/files/wg0.conf']) {
      const res = await h.dashboard.app.inject({ url, headers: { cookie: 'wgvm_session=forged' } });
      expect(res.statusCode, url).toBe(401);
    }
    expect((await h.dashboard.app.inject({ url: '/' })).statusCode).toBe(200);
  });

  it('behind a proxy named in TRUST_PROXY: Secure cookie over https, and the sign-in limit counts clients, not the proxy', async () => {
    const h = await harness({ env: { TRUST_PROXY: '127.0.0.1' } });
    const via = (client: string, proto: string, secret: string) =>
      h.dashboard.app.inject({
        method: 'POST', url: '/api/session', remoteAddress: '127.0.0.1',
        headers: { origin: `${proto}://${HOST}`, host: HOST, 'x-forwarded-for': client, 'x-forwarded-proto': proto }, payload: { secret },
      });
    const https = await via('198.51.100.7', 'https', API_TOKEN);
    expect(https.statusCode).toBe(204);
    expect(cookieOf(https)).toMatch(/; Secure$/);
    expect(cookieOf(await via('198.51.100.7', 'http', API_TOKEN))).not.toContain('Secure');
    // Ten failures from one client behind the proxy block that client only.
    for (let i = 0; i < 10; i++) expect((await via('198.51.100.66', 'https', 'wrong')).statusCode).toBe(401);
    expect((await via('198.51.100.66', 'https', API_TOKEN)).statusCode).toBe(429);
    expect((await via('198.51.100.7', 'https', API_TOKEN)).statusCode).toBe(204);
    // Without TRUST_PROXY the forwarded headers are not believed: no Secure on a plain connection.
    const plain = await harness();
    const direct = await plain.dashboard.app.inject({
      method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST, 'x-forwarded-proto': 'https' }, payload: { secret: API_TOKEN },
    });
    expect(cookieOf(direct)).not.toContain('Secure');
  });

  it('sign-in attempts are rate-limited per address: the 11th in a minute is 429, even with the right token', async () => {
    const h = await harness();
    for (let i = 0; i < 10; i++) {
      const res = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST }, payload: { secret: `guess-${i}` } });
      expect(res.statusCode).toBe(401);
    }
    const blocked = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST }, payload: { secret: API_TOKEN } });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().message).toMatch(/too many failed sign-ins/);
  });

  it('parallel password guesses meet the same limit: at most 10 are checked, the rest are refused at once', async () => {
    const h = await harness({ password: true });
    const guesses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST }, payload: { secret: `guess-${i}` } }),
      ),
    );
    const codes = guesses.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(10);
    expect(codes.filter((c) => c === 429).length).toBeGreaterThanOrEqual(20);
    expect(codes.every((c) => c === 401 || c === 429)).toBe(true);
  });

  it('signing out ends the session on the server, not just in the browser', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    const out = await h.dashboard.app.inject({ method: 'DELETE', url: '/api/session', headers: post(cookie) });
    expect(out.statusCode).toBe(204);
    expect(cookieOf(out)).toMatch(/^wgvm_session=; .*Max-Age=0/);
    expect((await h.dashboard.app.inject({ url: '/api/nodes', headers: as(cookie) })).statusCode).toBe(401);
  });

  it('refuses bad bodies with a 4xx and a message', async () => {
    const h = await harness();
    const cases = [
      { payload: '{"secret":', type: 'application/json', status: 400 },
      { payload: JSON.stringify({ secret: 42 }), type: 'application/json', status: 400 },
      { payload: JSON.stringify({ secret: 'x', extra: 1 }), type: 'application/json', status: 400 },
      { payload: JSON.stringify({ secret: 'x'.repeat(20_000) }), type: 'application/json', status: 413 },
    ];
    for (const c of cases) {
      const res = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: ORIGIN, host: HOST, 'content-type': c.type }, payload: c.payload });
      expect(res.statusCode).toBe(c.status);
      expect(res.json().message).toBeTruthy();
    }
  });
});

describe('cross-site requests', () => {
  it('a state-changing request without the page’s own Origin is refused and changes nothing', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    for (const origin of [undefined, 'http://evil.example', 'http://localhost:5000.evil.example', 'null']) {
      const headers: Record<string, string> = { cookie, host: HOST, ...(origin ? { origin } : {}) };
      const res = await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes', headers, payload: { node_id: 'worker-01' } });
      expect(res.statusCode, String(origin)).toBe(403);
      expect(res.json().message).toMatch(/Origin/);
    }
    expect(h.store.listNodes()).toEqual([]);
    // Sign-in too: a login CSRF would put the admin in someone else's session.
    const login = await h.dashboard.app.inject({ method: 'POST', url: '/api/session', headers: { origin: 'http://evil.example', host: HOST }, payload: { secret: API_TOKEN } });
    expect(login.statusCode).toBe(403);
  });

  it('every answer carries the security headers; the page’s CSP allows no inline script and no framing', async () => {
    const h = await harness();
    const page = await h.dashboard.app.inject({ url: '/' });
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    for (const res of [page, await h.dashboard.app.inject({ url: '/api/nodes' }), await h.dashboard.app.inject({ url: '/nope' })]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
    }
    const asset = await h.dashboard.app.inject({ url: '/assets/app-1234.js' });
    expect(asset.headers['content-type']).toMatch(/^text\/javascript/);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await h.dashboard.app.inject({ url: '/assets/../../data/wgvm.db' })).statusCode).toBe(404);
  });

  it('without a built front end the page says how to build it', async () => {
    const h = await harness();
    rmSync(join(h.dir, 'web'), { recursive: true });
    const config = loadConfig({ SERVERURL: 'vpn.example.com' }, h.dir, { envFile: false });
    const hub = { publicKey: 'k', startedAt: 0, counters: () => null };
    const bare = await buildDashboard({ config, nodes: h.nodes, history: h.history, apiToken: API_TOKEN, webDir: join(h.dir, 'web'), hub });
    const res = await bare.app.inject({ url: '/' });
    await bare.app.close();
    expect(res.statusCode).toBe(503);
    expect(res.body).toMatch(/npm run build/);
  });
});

describe('nodes', () => {
  it('registering gives the install panel: link on the API port, both QR codes, downloads', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    const res = await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes', headers: post(cookie), payload: { node_id: 'worker-01', description: 'GPU Server #1', central_server_url: 'http://192.168.0.88:8000' } });
    expect(res.statusCode).toBe(201);
    const { node, install } = res.json();
    expect(node).toMatchObject({ node_id: 'worker-01', vpn_ip: '10.100.1.2', status: 'pending', description: 'GPU Server #1' });
    expect(install.url).toMatch(/^http:\/\/vpn\.example\.com:8090\/install\/[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(install.expires_at)).toBeGreaterThan(Date.now());
    expect(install.qr_install_svg).toMatch(/^<svg/);
    expect(install.qr_config_svg).toMatch(/^<svg/);
    expect(install.qr_config_svg).not.toBe(install.qr_install_svg);
    expect(install.downloads).toEqual({ conf: '/api/nodes/worker-01/files/wg0.conf', bat: '/api/nodes/worker-01/files/windows.bat', sh: '/api/nodes/worker-01/files/linux.sh' });
    // The list never carries a secret.
    const list = await h.dashboard.app.inject({ url: '/api/nodes', headers: as(cookie) });
    const secrets = h.store.getSecrets('worker-01')!;
    expect(list.body).not.toContain(secrets.privateKey!);
    expect(list.body).not.toContain(secrets.presharedKey);
    // The downloads do, for the signed-in admin only.
    const conf = await h.dashboard.app.inject({ url: install.downloads.conf, headers: as(cookie) });
    expect(conf.statusCode).toBe(200);
    expect(conf.headers['content-disposition']).toBe('attachment; filename="worker-01-wg0.conf"');
    expect(conf.headers['cache-control']).toBe('no-store');
    expect(conf.body).toContain(`PrivateKey = ${secrets.privateKey}`);
    for (const file of ['windows.bat', 'linux.sh']) expect((await h.dashboard.app.inject({ url: `/api/nodes/worker-01/files/${file}`, headers: as(cookie) })).statusCode).toBe(200);
    expect((await h.dashboard.app.inject({ url: '/api/nodes/worker-01/files/secret.key', headers: as(cookie) })).statusCode).toBe(400);
  });

  it('mistakes name their field, so the form can show them beside it', async () => {
    const h = await harness({ env: { WORKER_IP_RANGE: '10.100.1.2-10.100.1.2' } });
    const cookie = await signIn(h);
    const register = (payload: object) => h.dashboard.app.inject({ method: 'POST', url: '/api/nodes', headers: post(cookie), payload });
    expect((await register({ node_id: 'worker-01' })).statusCode).toBe(201);
    const dup = await register({ node_id: 'worker-01' });
    expect([dup.statusCode, dup.json().field, dup.json().error]).toEqual([409, 'node_id', 'duplicate']);
    const bad = await register({ node_id: 'Worker_01' });
    expect([bad.statusCode, bad.json().field]).toEqual([400, 'node_id']);
    const url = await register({ node_id: 'worker-02', central_server_url: 'ftp://x' });
    expect([url.statusCode, url.json().field]).toEqual([400, 'central_server_url']);
    const key = await register({ node_id: 'worker-02', public_key: 'not-a-key' });
    expect([key.statusCode, key.json().field]).toEqual([400, 'public_key']);
    const full = await register({ node_id: 'worker-02' });
    expect([full.statusCode, full.json().error]).toEqual([409, 'range_full']);
    expect(h.store.listNodes().map((n) => n.nodeId)).toEqual(['worker-01']);
  });

  it('node detail, enable/disable, rotate keys, new install link, delete', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes', headers: post(cookie), payload: { node_id: 'worker-01' } });
    h.history.record(h.store.listNodes());
    const detail = (await h.dashboard.app.inject({ url: '/api/nodes/worker-01', headers: as(cookie) })).json();
    expect(detail.node.node_id).toBe('worker-01');
    expect(detail.history.traffic).toHaveLength(360);
    expect(detail.history.intervalMs).toBe(10_000);

    const off = await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes/worker-01/disable', headers: post(cookie) });
    expect(off.json().node).toMatchObject({ enabled: false, status: 'disabled' });
    const on = await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes/worker-01/enable', headers: post(cookie) });
    expect(on.json().node.enabled).toBe(true);

    const before = h.store.getNode('worker-01')!.publicKey;
    const rotated = await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes/worker-01/rotate-keys', headers: post(cookie) });
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json().node.public_key).not.toBe(before);
    expect(rotated.json().install.url).toMatch(/\/install\//);

    const link = await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes/worker-01/install-link', headers: post(cookie) });
    expect(link.json().install.url).not.toBe(rotated.json().install.url);

    const del = await h.dashboard.app.inject({ method: 'DELETE', url: '/api/nodes/worker-01', headers: post(cookie) });
    expect(del.json()).toEqual({ deleted: 'worker-01' });
    expect(h.store.listNodes()).toEqual([]);
    expect((await h.dashboard.app.inject({ url: '/api/nodes/worker-01', headers: as(cookie) })).statusCode).toBe(404);
  });

  it('the hub panel: identity, totals and the data plane’s counters', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    const hub = (await h.dashboard.app.inject({ url: '/api/hub', headers: as(cookie) })).json();
    expect(hub).toMatchObject({ endpoint: 'vpn.example.com:41820', listen_port: 41820, subnet: '10.100.0.0/16', peers_total: 0, handshakes: 5 });
    expect(hub.counters).toEqual({ drop_replay: 3, relayed: 7, relayed_bytes: 700, tun_write_errors: 0, tun_malformed: 0, udp_send_errors: 0, handshakes_admitted: 9, under_load: 0 });
  });
});

/** Reads server-sent events from a real socket. */
function events(port: number, cookie: string) {
  const received: Array<{ event: string; data: unknown }> = [];
  let response: IncomingMessage | undefined;
  const ready = new Promise<IncomingMessage>((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/api/events', headers: { cookie, host: HOST } }, (res) => {
      response = res;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) received.push({ event, data: JSON.parse(data) });
        }
      });
      resolve(res);
    });
    req.on('error', reject);
  });
  const next = async (event: string, from = 0) => {
    for (let i = 0; i < 200; i++) {
      const found = received.slice(from).find((e) => e.event === event);
      if (found) return found.data as Record<string, unknown>;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no "${event}" event; got ${received.map((e) => e.event).join(', ')}`);
  };
  return { ready, received, next, close: () => response?.destroy() };
}

describe('live events', () => {
  it('a snapshot first, then only what changed: a new node, a status change, a removal', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes', headers: post(cookie), payload: { node_id: 'worker-01' } });
    await h.dashboard.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.dashboard.app.server.address() as { port: number }).port;
    const stream = events(port, cookie);
    const res = await stream.ready;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const snapshot = await stream.next('snapshot');
    expect((snapshot.nodes as Array<{ node_id: string }>).map((n) => n.node_id)).toEqual(['worker-01']);
    expect((snapshot.hub as { peers_total: number }).peers_total).toBe(1);

    let mark = stream.received.length;
    await h.dashboard.app.inject({ method: 'POST', url: '/api/nodes', headers: post(cookie), payload: { node_id: 'worker-02', description: '<img src=x onerror=alert(1)>' } });
    const added = await stream.next('nodes', mark);
    expect((added.changed as Array<{ node_id: string; description: string }>).map((n) => [n.node_id, n.description])).toEqual([['worker-02', '<img src=x onerror=alert(1)>']]);
    expect(added.removed).toEqual([]);

    // A handshake seen by the status poll: only that node is sent.
    mark = stream.received.length;
    h.store.updateStatus([{ nodeId: 'worker-01', lastHandshakeAt: new Date().toISOString(), rxBytes: 1000, txBytes: 2000, endpoint: '198.51.100.7:51820' }]);
    h.dashboard.live.publish(['worker-01']);
    const online = await stream.next('nodes', mark);
    expect(online.changed).toEqual([expect.objectContaining({ node_id: 'worker-01', status: 'online', rx_bytes: 1000, endpoint: '198.51.100.7:51820' })]);
    const hub = await stream.next('hub', mark);
    expect(hub).toMatchObject({ peers_online: 1, rx_bytes: 1000, tx_bytes: 2000 });

    // Nothing changed: nothing is sent.
    mark = stream.received.length;
    h.dashboard.live.publish(['worker-01', 'worker-02']);
    await new Promise((r) => setTimeout(r, 100));
    expect(stream.received.slice(mark).filter((e) => e.event === 'nodes')).toEqual([]);

    await h.dashboard.app.inject({ method: 'DELETE', url: '/api/nodes/worker-02', headers: post(cookie) });
    const removed = await stream.next('nodes', mark);
    expect(removed).toEqual({ changed: [], removed: ['worker-02'] });
    stream.close();
  });

  it('caps the number of live connections: one more is told to wait (503), not queued', async () => {
    const h = await harness({ liveLimits: { maxClients: 2, maxBufferedBytes: 1 << 20, heartbeatMs: 60_000 } });
    const cookie = await signIn(h);
    await h.dashboard.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.dashboard.app.server.address() as { port: number }).port;
    const a = events(port, cookie);
    const b = events(port, cookie);
    expect((await a.ready).statusCode).toBe(200);
    expect((await b.ready).statusCode).toBe(200);
    await a.next('snapshot');
    await b.next('snapshot');
    const c = events(port, cookie);
    const refused = await c.ready;
    expect(refused.statusCode).toBe(503);
    expect(h.dashboard.live.clientCount).toBe(2);
    a.close();
    for (let i = 0; i < 100 && h.dashboard.live.clientCount !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.dashboard.live.clientCount).toBe(1);
    b.close();
    c.close();
  });
});

describe('signing out with a live stream open', () => {
  it('ends that session’s event stream at once; another session’s stays', async () => {
    const h = await harness();
    const mine = await signIn(h);
    const other = await signIn(h);
    await h.dashboard.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.dashboard.app.server.address() as { port: number }).port;
    const a = events(port, mine);
    const b = events(port, other);
    const resA = await a.ready;
    await a.next('snapshot');
    await b.next('snapshot');
    const ended = new Promise((r) => resA.once('end', r));
    await h.dashboard.app.inject({ method: 'DELETE', url: '/api/session', headers: post(mine) });
    await ended;
    expect(h.dashboard.live.clientCount).toBe(1);
    b.close();
  });
});

describe('shutting down', () => {
  it('closing the dashboard ends open event streams at once (a hub stop does not wait for browsers)', async () => {
    const h = await harness();
    const cookie = await signIn(h);
    await h.dashboard.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (h.dashboard.app.server.address() as { port: number }).port;
    const stream = events(port, cookie);
    const res = await stream.ready;
    await stream.next('snapshot');
    const ended = new Promise((r) => res.once('close', r));
    const t0 = Date.now();
    await h.dashboard.app.close();
    await ended;
    expect(Date.now() - t0).toBeLessThan(1000);
    open.splice(open.indexOf(h), 1);
    h.store.close();
    rmSync(h.dir, { recursive: true, force: true });
  });
});

describe('LiveFeed', () => {
  /** A response whose client never reads: everything written stays buffered. */
  function stuckResponse() {
    let buffered = 0;
    let destroyed = false;
    const res = {
      writeHead: () => res,
      write: (s: string) => ((buffered += Buffer.byteLength(s)), false),
      on: () => res,
      end: () => {},
      destroy: () => void (destroyed = true),
      get writableLength() {
        return buffered;
      },
    };
    return { res: res as unknown as ServerResponse, destroyed: () => destroyed, buffered: () => buffered };
  }

  it('drops a client that stops reading once its unsent data passes the limit, so memory stays bounded', () => {
    let counter = 0;
    const node = () => ({ node_id: 'n', rx: counter++, pad: 'x'.repeat(500) });
    const feed = new LiveFeed({ snapshot: () => ({ nodes: [node()], hub: {} }), node, hub: () => ({}) }, { maxClients: 4, maxBufferedBytes: 10_000, heartbeatMs: 60_000 });
    const slow = stuckResponse();
    expect(feed.attach(slow.res)).toBe(true);
    for (let i = 0; i < 100 && !slow.destroyed(); i++) feed.publish(['n']);
    expect(slow.destroyed()).toBe(true);
    expect(feed.clientCount).toBe(0);
    expect(feed.dropped).toBe(1);
    expect(slow.buffered()).toBeLessThan(10_000 + 1_000); // the limit plus at most one message
    feed.close();
  });
});
