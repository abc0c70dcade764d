// The UAPI socket's framing and modes, against a fake device (no root needed).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uapiCounters, uapiGet, uapiSet, UapiError } from '../../src/uapi/client.js';
import { handleRequest, IDLE_TIMEOUT_MS, MAX_CONNECTIONS, MAX_REQUEST, startUapiServer, stopUapiServer, type UapiTarget } from '../../src/uapi/server.js';

class FakeDevice implements UapiTarget {
  sets: string[] = [];
  set(body: string) {
    this.sets.push(body);
    return body.includes('bad') ? { errno: 22, message: 'line 1 (bad): unknown key' } : { errno: 0, message: '' };
  }
  get() {
    return 'listen_port=51820\n';
  }
}

function raw(path: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(request, () => setTimeout(() => s.end(), 100));
  });
}

describe('UAPI socket', () => {
  let dir: string;
  let device: FakeDevice;
  const errors: string[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgvm-uapi-'));
    device = new FakeDevice();
    errors.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers get and set as wireguard-go does, several requests on one connection', async () => {
    const server = await startUapiServer('t0', device, { dir, onError: (m) => errors.push(m) });
    expect(statSync(join(dir, 't0.sock')).mode & 0o777).toBe(0o600);
    const out = await raw(join(dir, 't0.sock'), 'get=1\n\nset=1\nlisten_port=1\n\nset=1\nbad=1\n\n');
    expect(out).toBe('listen_port=51820\nerrno=0\n\nerrno=0\n\nerrno=-22\n\n');
    expect(device.sets).toEqual(['listen_port=1', 'bad=1']);
    expect(errors).toEqual(['UAPI: line 1 (bad): unknown key']);
    await stopUapiServer(server, 't0', dir);
  });

  it('is read-only when the manager owns the configuration', () => {
    expect(handleRequest(device, 'set=1\nlisten_port=1', false).reply).toBe('errno=-1\n\n');
    expect(device.sets).toEqual([]);
    expect(handleRequest(device, 'get=1', false).reply).toBe('listen_port=51820\nerrno=0\n\n');
  });

  it('answers wgvm_counters=1 with one line per counter, read-only mode included; a device without counters refuses it', async () => {
    const counting: UapiTarget = Object.assign(new FakeDevice(), {
      counters: () => ({ drops: { too_short: 0, replay: 12 }, tunWriteErrors: 1, tunMalformed: 5, udpSendErrors: 2, relayed: 3, relayedBytes: 300, handshakesAdmitted: 4, underLoad: true }),
    });
    const lines = 'drop_too_short=0\ndrop_replay=12\ntun_write_errors=1\ntun_malformed=5\nudp_send_errors=2\nrelayed=3\nrelayed_bytes=300\nhandshakes_admitted=4\nunder_load=1\n';
    expect(handleRequest(counting, 'wgvm_counters=1', false).reply).toBe(`${lines}errno=0\n\n`);
    expect(handleRequest(counting, 'wgvm_counters=1\nx=1', true).reply).toBe('errno=-22\n\n');
    expect(handleRequest(device, 'wgvm_counters=1', true).reply).toBe('errno=-22\n\n');
    const server = await startUapiServer('t5', counting, { dir });
    expect(await uapiCounters('t5', dir)).toBe(lines);
    await stopUapiServer(server, 't5', dir);
    // get=1 is untouched: `wg` never sees our lines.
    expect(handleRequest(counting, 'get=1', true).reply).toBe('listen_port=51820\nerrno=0\n\n');
  });

  it('refuses unknown operations and a get with a body', () => {
    expect(handleRequest(device, 'frob=1', true).reply).toBe('errno=-22\n\n');
    expect(handleRequest(device, 'get=1\nx=1', true).reply).toBe('errno=-22\n\n');
  });

  it('the client reads replies and turns a refusal into an error with its errno', async () => {
    const server = await startUapiServer('t1', device, { dir });
    expect(await uapiGet('t1', dir)).toBe('listen_port=51820\n');
    await expect(uapiSet('t1', 'bad=1', dir)).rejects.toBeInstanceOf(UapiError);
    await expect(uapiSet('t1', 'bad=1', dir)).rejects.toMatchObject({ errno: 22 });
    await stopUapiServer(server, 't1', dir);
    await expect(uapiGet('t1', dir)).rejects.toThrow(/no interface t1/);
  });

  it('shuts down even while a client holds a connection open without finishing its request', async () => {
    const server = await startUapiServer('t3', device, { dir });
    const idle = createConnection(join(dir, 't3.sock'));
    await new Promise((r) => idle.once('connect', r));
    idle.write('get=1\n'); // never finished
    const started = Date.now();
    await stopUapiServer(server, 't3', dir);
    expect(Date.now() - started).toBeLessThan(2000);
    idle.destroy();
  });

  it('answers EIO, and keeps serving, when the device fails a request', async () => {
    const failing: UapiTarget = {
      set: () => ({ errno: 0, message: '' }),
      get: () => {
        throw new Error('device is closed');
      },
    };
    const server = await startUapiServer('t4', failing, { dir, onError: (m) => errors.push(m) });
    expect(await raw(join(dir, 't4.sock'), 'get=1\n\nset=1\nlisten_port=1\n\n')).toBe('errno=-5\n\nerrno=0\n\n');
    expect(errors).toEqual(['UAPI: device is closed']);
    await stopUapiServer(server, 't4', dir);
  });

  it('the client fails clearly when the connection closes without an answer', async () => {
    const { createServer } = await import('node:net');
    const mute = createServer((s) => s.destroy());
    await new Promise<void>((r) => mute.listen(join(dir, 't5.sock'), r));
    await expect(uapiGet('t5', dir)).rejects.toThrow(/t5.sock: (the connection closed without a complete answer|write EPIPE|read ECONNRESET)/);
    await new Promise((r) => mute.close(r));
  });

  it('will not take over a socket another daemon is serving', async () => {
    const server = await startUapiServer('t2', device, { dir });
    await expect(startUapiServer('t2', device, { dir })).rejects.toThrow(/in use/);
    await stopUapiServer(server, 't2', dir);
  });

  describe('bounds', () => {
    const open = async (path: string) => {
      const s = createConnection(path);
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      const closed = new Promise<number>((r) => {
        const t = Date.now();
        s.once('close', () => r(Date.now() - t));
      });
      return { s, closed };
    };

    it(`drops a client that stops mid-request after the idle timeout (${IDLE_TIMEOUT_MS / 1000} s by default)`, async () => {
      expect(IDLE_TIMEOUT_MS).toBe(30_000);
      const server = await startUapiServer('t6', device, { dir, idleTimeoutMs: 300 });
      const c = await open(join(dir, 't6.sock'));
      c.s.write('set=1\nlisten_port=1\n'); // never finished
      const ms = await c.closed;
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(2000);
      expect(device.sets).toEqual([]);
      await stopUapiServer(server, 't6', dir);
    });

    it(`closes a connection whose request grows past ${MAX_REQUEST >> 20} MiB without applying any of it`, async () => {
      const server = await startUapiServer('t7', device, { dir, onError: (m) => errors.push(m) });
      const c = await open(join(dir, 't7.sock'));
      const line = `allowed_ip=10.0.0.1/32\n`;
      const chunk = line.repeat(Math.ceil((1 << 20) / line.length));
      c.s.write('set=1\n');
      for (let i = 0; i < 5 && !c.s.destroyed; i++) c.s.write(chunk);
      await c.closed;
      expect(device.sets).toEqual([]);
      expect(errors).toEqual(['UAPI request too large; connection closed']);
      await stopUapiServer(server, 't7', dir);
    });

    it(`serves at most ${MAX_CONNECTIONS} clients at once by default; more are closed at once`, async () => {
      const server = await startUapiServer('t8', device, { dir });
      expect(server.maxConnections).toBe(MAX_CONNECTIONS);
      const held = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => open(join(dir, 't8.sock'))));
      await new Promise((r) => setTimeout(r, 50));
      const extra = await open(join(dir, 't8.sock'));
      expect(await extra.closed).toBeLessThan(1000);
      // The held ones still work, and once one leaves a new client is served.
      held[0]!.s.destroy();
      await held[0]!.closed;
      await new Promise((r) => setTimeout(r, 50));
      expect(await uapiGet('t8', dir)).toBe('listen_port=51820\n');
      for (const h of held) h.s.destroy();
      await stopUapiServer(server, 't8', dir);
    });
  });
});
