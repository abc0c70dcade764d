// Resource bounds of the management API, on a real socket (timeouts and connection limits live in
// node:http, which fastify's inject never reaches): idle, slow and keep-alive clients are dropped,
// oversized heads and bodies are refused, open connections are capped. The defaults are the ones
// documented in src/http/hardening.ts; the behaviour is shown with short limits so the test is quick.
// Also: the failed-login table stays bounded however many addresses an attacker has, and an IPv6
// attacker cannot escape the limit by moving around its /64.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { buildApi } from '../../src/http/api.js';
import { FailureLimiter, sourceKey } from '../../src/http/auth.js';
import { SERVER_LIMITS, type ServerLimits } from '../../src/http/hardening.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { NodesService } from '../../src/nodes/service.js';
import { Store } from '../../src/store/index.js';

const API_TOKEN = 'limits-token-1234567890';

const SHORT: ServerLimits = {
  idleTimeoutMs: 400,
  requestTimeoutMs: 1500,
  headersTimeoutMs: 500,
  keepAliveTimeoutMs: 300,
  maxRequestsPerSocket: 3,
  maxConnections: 8,
  checkIntervalMs: 100,
  maxHeaderBytes: 4096,
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(limits?: ServerLimits): Promise<{ app: FastifyInstance; port: number; store: Store }> {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-ab-limits-'));
  const store = Store.open(join(dir, 'data'));
  const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const priv = generatePrivateKey();
  const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  const app = await buildApi(config, new NodesService(store, config, hub, () => {}), { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => null }, API_TOKEN, limits);
  await app.listen({ port: 0, host: '::' }); // IPv4 and IPv6: two sources on one machine
  cleanups.push(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, port: (app.server.address() as { port: number }).port, store };
}

/** A raw client: everything the server sends, and when it closed the connection. */
function client(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  const opened = Date.now();
  let received = '';
  socket.setEncoding('utf8').on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - opened)));
  const connected = new Promise<void>((r) => socket.once('connect', () => r()));
  cleanups.push(() => void socket.destroy());
  return { socket, closed, connected, received: () => received };
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms))]);

describe('the API server bounds its clients', () => {
  it('applies the documented defaults to the server', async () => {
    const { app } = await start();
    expect(SERVER_LIMITS).toMatchObject({ idleTimeoutMs: 30_000, requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxConnections: 1024 });
    expect(app.server.timeout).toBe(SERVER_LIMITS.idleTimeoutMs);
    expect(app.server.requestTimeout).toBe(SERVER_LIMITS.requestTimeoutMs);
    expect(app.server.headersTimeout).toBe(SERVER_LIMITS.headersTimeoutMs);
    expect(app.server.keepAliveTimeout).toBe(SERVER_LIMITS.keepAliveTimeoutMs);
    expect(app.server.maxRequestsPerSocket).toBe(SERVER_LIMITS.maxRequestsPerSocket);
    expect(app.server.maxConnections).toBe(SERVER_LIMITS.maxConnections);
  });

  it('drops a client that connects and says nothing', async () => {
    const { port } = await start(SHORT);
    const c = client(port);
    const ms = await within(c.closed, 3000, 'a silent client');
    expect(ms).toBeGreaterThanOrEqual(SHORT.idleTimeoutMs - 50);
  });

  it('answers 408 to a client that trickles its headers (slowloris), however steadily', async () => {
    const { port } = await start(SHORT);
    const c = client(port);
    await c.connected;
    c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    // A byte every 100 ms keeps the socket from being idle; only the header deadline ends it.
    const drip = setInterval(() => c.socket.writable && c.socket.write('X-Slow: a\r\n'), 100);
    cleanups.push(() => clearInterval(drip));
    const ms = await within(c.closed, 3000, 'a slowloris client');
    clearInterval(drip);
    expect(ms).toBeGreaterThanOrEqual(SHORT.headersTimeoutMs - 50);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes an idle keep-alive connection, and one that has served its quota of requests', async () => {
    const { port } = await start(SHORT);
    const c = client(port);
    await c.connected;
    c.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const ms = await within(c.closed, 5000, 'an idle keep-alive connection');
    expect(c.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(c.received()).toMatch(/keep-alive: timeout=0?\.?3?/i);
    // Node keeps a second of grace past keepAliveTimeout (for replies in flight); then it closes.
    expect(ms).toBeGreaterThanOrEqual(SHORT.keepAliveTimeoutMs - 50);
    expect(ms).toBeLessThan(SHORT.keepAliveTimeoutMs + 1000 + 1500);

    // One request after another on one connection: the last one allowed says it closes.
    const d = client(port);
    await d.connected;
    const answers = () => d.received().match(/HTTP\/1\.1 \d+/g) ?? [];
    for (let i = 1; i <= SHORT.maxRequestsPerSocket; i++) {
      d.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      await within(new Promise<void>((r) => { const t = setInterval(() => answers().length >= i && (clearInterval(t), r()), 10); }), 2000, `answer ${i}`);
    }
    expect(d.received().split('HTTP/1.1').pop()).toMatch(/connection: close/i);
    // Past the quota nothing more is served on it.
    if (d.socket.writable) d.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await within(d.closed, 5000, 'a connection past its request quota');
    expect(answers().filter((a) => a === 'HTTP/1.1 200')).toHaveLength(SHORT.maxRequestsPerSocket);
  });

  it('refuses a request head over the limit with 431, and a body over 64 KiB with 413 as JSON', async () => {
    const { port } = await start(SHORT);
    const c = client(port);
    await c.connected;
    c.socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(SHORT.maxHeaderBytes)}\r\n\r\n`);
    await within(c.closed, 3000, 'an oversized head');
    expect(c.received()).toMatch(/^HTTP\/1\.1 431/);

    const res = await fetch(`http://127.0.0.1:${port}/api/nodes/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': API_TOKEN },
      body: JSON.stringify({ node_id: 'worker-01', description: 'x'.repeat(200 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'too_large' });
  });

  it(`holds at most maxConnections open connections; the rest are closed at once`, async () => {
    const { port } = await start(SHORT);
    const held = Array.from({ length: SHORT.maxConnections }, () => client(port));
    await Promise.all(held.map((c) => c.connected));
    await new Promise((r) => setTimeout(r, 50)); // the server has accepted them all
    const extra = client(port);
    const ms = await within(extra.closed, 1000, 'a connection over the limit');
    expect(ms).toBeLessThan(SHORT.idleTimeoutMs);
    expect(extra.received()).toBe('');
    // Once one closes, a new client is served again.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it('rate-limits token guessing with 429 and Retry-After over a real connection; the right token works from elsewhere', async () => {
    const { port } = await start(SHORT);
    const list = (host: string, key: string) => fetch(`http://${host}:${port}/api/nodes/list`, { headers: { 'x-api-key': key } });
    for (let i = 0; i < 10; i++) expect((await list('127.0.0.1', `guess-${i}-aaaaaaaaaaaa`)).status).toBe(401);
    const blocked = await list('127.0.0.1', API_TOKEN);
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('60');
    expect(await blocked.json()).toMatchObject({ error: 'rate_limited' });
    expect((await list('[::1]', API_TOKEN)).status).toBe(200);
  });
});

describe('the failure tables', () => {
  it('count an IPv6 /64 as one source (an attacker cannot hop addresses), IPv4 per address', () => {
    expect(sourceKey('2001:db8:1:2::5')).toBe(sourceKey('2001:db8:1:2:ffff:1:2:3'));
    expect(sourceKey('2001:db8:1:2::5')).not.toBe(sourceKey('2001:db8:1:3::5'));
    expect(sourceKey('2001:0db8:0001:0002::')).toBe(sourceKey('2001:db8:1:2::1'));
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('192.0.2.7')).not.toBe(sourceKey('192.0.2.8'));
    const limiter = new FailureLimiter(10, 60_000);
    for (let i = 1; i <= 10; i++) limiter.recordFailure(`2001:db8:1:2::${i.toString(16)}`, 1000);
    expect(limiter.blocked('2001:db8:1:2:abcd::1', 1001)).toBe(true);
    expect(limiter.blocked('2001:db8:1:3::1', 1001)).toBe(false);
    expect(limiter.blocked('2001:db8:1:2::1', 61_001)).toBe(false); // after the window
  });

  it('stay bounded however many sources fail, forgetting the oldest first', () => {
    const limiter = new FailureLimiter(10, 60_000, 1000);
    // A blocked source, then a flood of others within the same window.
    for (let i = 0; i < 10; i++) limiter.recordFailure('198.51.100.1', 0);
    for (let i = 0; i < 50_000; i++) limiter.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1 + i / 1000);
    expect(limiter.tracked).toBeLessThanOrEqual(1000);
    // The newest are kept.
    expect(limiter.blocked('10.0.195.79', 60)).toBe(false);
    for (let i = 0; i < 9; i++) limiter.recordFailure('10.0.195.79', 60);
    expect(limiter.blocked('10.0.195.79', 60)).toBe(true);
  });
});
