// The hub's JSON log: one access line per request with the install token cut out of the URL, no
// header (API token, cookie) ever, internal errors at level error, and LOG_LEVEL obeyed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { buildApi } from '../../src/http/api.js';
import { SERVER_LIMITS } from '../../src/http/hardening.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { createLogger, redactUrl } from '../../src/runtime/log.js';
import type { LogLevel } from '../../src/config/index.js';
import { NodesService } from '../../src/nodes/service.js';
import { Store } from '../../src/store/index.js';

const API_TOKEN = 'log-test-token-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function loggedApi(level: LogLevel) {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-log-'));
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      raw += chunk.toString();
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const store = Store.open(join(dir, 'data'));
  const priv = generatePrivateKey();
  const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  const nodes = new NodesService(store, config, hub, () => {});
  const app = await buildApi(config, nodes, { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => null }, API_TOKEN, SERVER_LIMITS, createLogger(level, sink));
  cleanups.push(async () => {
    await app.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, lines, raw: () => raw };
}

describe('redactUrl', () => {
  it('cuts install tokens out of paths and queries, and leaves the rest', () => {
    expect(redactUrl('/install/AbC-123_x')).toBe('/install/[redacted]');
    expect(redactUrl('/install/AbC-123_x/linux.sh?x=1')).toBe('/install/[redacted]/linux.sh?x=1');
    expect(redactUrl('/api/clients/w1/config?token=secret&a=b')).toBe('/api/clients/w1/config?token=[redacted]&a=b');
    expect(redactUrl('/api/x?a=1&TOKEN=s')).toBe('/api/x?a=1&TOKEN=[redacted]');
    expect(redactUrl('/api/nodes/list')).toBe('/api/nodes/list');
  });
});

describe('the access log', () => {
  it('has one JSON line per request, with status, time and address, and never a token or a header', async () => {
    const { app, lines, raw } = await loggedApi('info');
    const reg = await app.inject({ method: 'POST', url: '/api/nodes/register', headers: { 'x-api-key': API_TOKEN }, payload: { node_id: 'worker-01' } });
    const install = new URL(reg.json().install_url).pathname.split('/').pop()!;
    await app.inject({ url: `/install/${install}/wg0.conf` });
    await app.inject({ url: `/api/clients/worker-01/config?token=${install}` });
    await app.inject({ url: '/api/nodes/list', headers: { authorization: `Bearer ${API_TOKEN}`, cookie: 'wgvm_session=abc' } });
    await app.inject({ url: '/api/nodes/list', headers: { authorization: 'Bearer wrong-token-but-secret-ish' } });
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.map((l) => [l.method, l.url, l.status])).toEqual([
      ['POST', '/api/nodes/register', 201],
      ['GET', '/install/[redacted]/wg0.conf', 200],
      ['GET', '/api/clients/worker-01/config?token=[redacted]', 200],
      ['GET', '/api/nodes/list', 200],
      ['GET', '/api/nodes/list', 401],
    ]);
    for (const l of requests) {
      expect(l).toMatchObject({ level: 30, app: 'api', ip: '127.0.0.1' });
      expect(typeof l.ms).toBe('number');
      expect(typeof l.time).toBe('string');
    }
    for (const secret of [API_TOKEN, install, 'wgvm_session=abc', 'wrong-token-but-secret-ish']) expect(raw()).not.toContain(secret);
  });

  it('obeys LOG_LEVEL: at warn there are no access lines, at silent nothing at all', async () => {
    for (const level of ['warn', 'silent'] as const) {
      const { app, lines } = await loggedApi(level);
      await app.inject({ url: '/health' });
      expect(lines).toEqual([]);
    }
  });
});

describe('the log destination', () => {
  it('never blocks the hub when nobody reads stderr (a full pipe): lines wait, then are dropped', () => {
    // A FIFO opened read-write and never read: what a stuck log collector looks like. Its kernel
    // buffer (64 KiB) fills after a few hundred lines; a blocking write would hang the process, so
    // it runs in a child with a deadline.
    const dir = mkdtempSync(join(tmpdir(), 'wgvm-log-fifo-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const fifo = join(dir, 'stderr');
    execFileSync('mkfifo', [fifo]);
    const script = `
      import { openSync } from 'node:fs';
      const { createLogger } = await import(${JSON.stringify(new URL('../../dist/runtime/log.js', import.meta.url).href)});
      const logger = createLogger('info', openSync(${JSON.stringify(fifo)}, 'r+'));
      for (let i = 0; i < 5000; i++) logger.info({ i, padding: 'x'.repeat(200) }, 'request');
      setTimeout(() => console.log('the event loop still turns'), 10);`;
    // (The child then waits for its pending write to the FIFO, as the hub would after its cleanup;
    // the deadline ends it.)
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 5_000 });
    expect(r.stdout, 'blocked on the full pipe').toContain('the event loop still turns');
  });
});
