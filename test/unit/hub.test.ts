// The Hub (src/hub/hub.ts) in-process with a fake device, no link and its UAPI socket in a temporary
// directory; the registry, the API and the dashboard are real. What `wgvm serve` relies on: the
// start-up line, a stop at any moment of start-up releasing everything, a failing step released and
// thrown, the data plane stopping the hub with status 1. test/netns/signals.test.ts and hub.test.ts
// run the same with a real device and real signals.
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/index.js';
import { DeviceOpenError } from '../../src/dataplane/device.js';
import { decodeKey, encodeKey, keyToHex, publicKeyOf } from '../../src/domain/keys.js';
import { Hub, type HubSystem } from '../../src/hub/hub.js';
import { createLogger } from '../../src/runtime/log.js';
import { HUB_PRIVATE_KEY_SETTING, Store } from '../../src/store/index.js';
import { socketPath } from '../../src/uapi/server.js';
import { FakeDevice } from '../helpers/fake-device.js';
import { freePort } from '../helpers/ports.js';

const TOKEN = 'hub-test-token-0123456789';
const IFACE = 'wgvmtest0';

interface Harness {
  dir: string;
  config: Config;
  log: string[];
  devices: FakeDevice[];
  links: number;
  system: HubSystem;
  hub: Hub;
  socket: string;
}

let h: Harness;

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  const free = await new Promise<boolean>((r) => {
    server.once('error', () => r(false));
    server.listen(port, '::', () => r(true));
  });
  if (free) await new Promise((r) => server.close(r));
  return free;
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-hub-'));
  const env = { SERVERURL: 'vpn.example.com', API_TOKEN: TOKEN, WG_INTERFACE: IFACE, DATA_DIR: join(dir, 'data'), API_PORT: String(await freePort()), DASHBOARD_PORT: String(await freePort()) };
  const config = loadConfig(env, dir, { envFile: false, networkInterfaces: () => ({}) });
  const socketDir = join(dir, 'run');
  const socket = socketPath(IFACE, socketDir);
  const partial = { dir, config, log: [] as string[], devices: [] as FakeDevice[], links: 0, socket };
  const system: HubSystem = {
    openDevice: (name, options) => {
      const device = new FakeDevice(name, options!.onEvent!, socket, options!.threads);
      h.devices.push(device);
      return device;
    },
    configureLink: () => void h.links++,
    socketDir,
  };
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (h.log.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  h = { ...partial, system, hub: new Hub(config, createLogger('info', sink), system) };
});

afterEach(async () => {
  await h.hub.stop('end of test', 0);
  rmSync(h.dir, { recursive: true, force: true });
});

const messages = () => h.log.map((l) => (JSON.parse(l) as { msg: string }).msg);
const api = (path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${h.config.apiPort}${path}`, { ...init, headers: { 'x-api-key': TOKEN, 'content-type': 'application/json', ...init.headers } });

/** Everything the hub opened is gone: the device, the socket, both ports. */
async function expectReleased(): Promise<void> {
  for (const device of h.devices) expect(device.closed).toBe(true);
  expect(existsSync(h.socket)).toBe(false);
  expect(await portIsFree(h.config.apiPort)).toBe(true);
  expect(await portIsFree(h.config.dashboardPort)).toBe(true);
}

describe('Hub', () => {
  it('starts in order, logs its start-up line, serves, and stops releasing everything in reverse order', async () => {
    await h.hub.start();
    const [device] = h.devices;
    expect(device!.requestedThreads).toBeUndefined(); // WGVM_THREADS=auto: one per core, the data plane's choice
    expect(h.links).toBe(1);
    expect(existsSync(h.socket)).toBe(true);
    expect(messages().at(-1)).toMatch(
      new RegExp(`^hub \\S{43}= on UDP ${h.config.serverPort}, ${IFACE} 10\\.100\\.0\\.1/16; API on :${h.config.apiPort}, dashboard on :${h.config.dashboardPort}$`),
    );
    expect((await api('/health')).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${h.config.dashboardPort}/health`)).status).toBe(200);

    // A registration through the API is on the device by the time its answer is read: the reconcile
    // runs in the same turn of the event loop as the request.
    const reg = await api('/api/nodes/register', { method: 'POST', body: JSON.stringify({ node_id: 'worker-01' }) });
    expect(reg.status).toBe(201);
    const node = ((await reg.json()) as { node: { public_key: string } }).node;
    expect(device!.bodies.at(-1)).toContain(`public_key=${keyToHex(node.public_key)}\npreshared_key=`);

    expect(await h.hub.stop('SIGTERM', 0)).toBe(0);
    expect(await h.hub.stopped).toBe(0);
    expect(device!.socketAtClose).toBe(false); // the socket went before the device did
    await expectReleased();
    expect(messages().filter((m) => m.startsWith('shutting down'))).toEqual(['shutting down: SIGTERM']);
    // Idempotent: the first reason and status stand, nothing is released twice.
    expect(await h.hub.stop('SIGINT', 1)).toBe(0);
    expect(messages().filter((m) => m.startsWith('shutting down'))).toHaveLength(1);

    // The device was given the hub's own key, kept sealed in the registry, and listens on SERVERPORT.
    const store = Store.open(h.config.dataDir);
    const privateKey = store.getSetting(HUB_PRIVATE_KEY_SETTING)!;
    store.close();
    expect(device!.bodies[0]).toBe(`private_key=${keyToHex(privateKey)}\nlisten_port=${h.config.serverPort}\n`);
    expect(messages().find((m) => m.startsWith('hub '))).toContain(`hub ${encodeKey(publicKeyOf(decodeKey(privateKey)))} on UDP`);
  });

  it('stops cleanly when asked before start()', async () => {
    const stopped = h.hub.stop('SIGINT', 0);
    await h.hub.start();
    expect(await stopped).toBe(0);
    expect(h.devices).toEqual([]);
    expect(messages()).toEqual(['shutting down: SIGINT']);
  });

  it('stops cleanly when asked during the synchronous opening (before any server)', async () => {
    h.system.configureLink = () => void h.hub.stop('SIGTERM', 0);
    await h.hub.start();
    expect(await h.hub.stopped).toBe(0);
    await expectReleased();
    expect(messages()).toEqual(['shutting down: SIGTERM']);
  });

  it.each([0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89])('stops cleanly when asked %i event-loop turns into start-up', async (n) => {
    const starting = h.hub.start();
    await turns(n);
    const stopped = h.hub.stop('SIGINT', 0);
    await starting;
    expect(await stopped).toBe(0);
    await expectReleased();
    expect(messages().filter((m) => m.startsWith('shutting down'))).toEqual(['shutting down: SIGINT']);
  });

  it('releases what was started and throws when a step fails, naming the port variable', async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(h.config.dashboardPort, '::', () => r()));
    try {
      await expect(h.hub.start()).rejects.toThrow(new RegExp(`^cannot listen on DASHBOARD_PORT ${h.config.dashboardPort}: `));
      expect(await h.hub.stopped).toBe(1);
      expect(h.devices[0]!.closed).toBe(true);
      expect(existsSync(h.socket)).toBe(false);
      expect(await portIsFree(h.config.apiPort)).toBe(true);
      expect(messages().at(-1)).toMatch(/^shutting down: cannot listen on DASHBOARD_PORT /);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('throws a failure to open the device as it is, with nothing logged and the registry closed', async () => {
    h.system.openDevice = () => {
      throw new DeviceOpenError('cannot open /dev/net/tun: no such device');
    };
    await expect(h.hub.start()).rejects.toThrow(DeviceOpenError);
    expect(await h.hub.stopped).toBe(1);
    expect(messages()).toEqual([]);
  });

  it('closes the device again when its link cannot be configured', async () => {
    h.system.configureLink = () => {
      throw new Error('ip link set: Operation not permitted');
    };
    await expect(h.hub.start()).rejects.toThrow('ip link set: Operation not permitted');
    expect(h.devices[0]!.closed).toBe(true);
    expect(messages()).toEqual([]);
  });

  it("reads an idle device rarely, and at once after the device tells of a worker's handshake", async () => {
    // The hub's timers (the status loop, the planning of direct paths) are ticked by hand; everything else runs as usual.
    const timers: (() => void)[] = [];
    const tick = () => timers.forEach((fn) => fn());
    h.system.clock = {
      every: (_ms, fn) => (timers.push(fn), () => {}),
      soon: (task) => {
        const immediate = setImmediate(task);
        return () => clearImmediate(immediate);
      },
      now: () => Date.now(),
    };
    h.hub = new Hub(h.config, createLogger('silent'), h.system);
    await h.hub.start();
    const [device] = h.devices;
    const registered = (await (await api('/api/nodes/register', { method: 'POST', body: JSON.stringify({ node_id: 'worker-01' }) })).json()) as { node: { public_key: string } };
    tick(); // the first reading
    const reads = device!.reads;
    const handshakeMs = Date.now();
    device!.snapshots = [
      { publicKey: Buffer.from(registered.node.public_key, 'base64'), endpoint: '198.51.100.7:51820', localAddress: null, lastHandshakeNs: BigInt(handshakeMs) * 1_000_000n, rxBytes: 92n, txBytes: 148n },
    ];
    for (let i = 0; i < 5; i++) tick();
    expect(device!.reads).toBe(reads); // idle: not read again so soon
    const status = async () => ((await (await api('/api/nodes/status/worker-01')).json()) as { status: string }).status;
    expect(await status()).toBe('pending');

    device!.onEvent({ type: 'handshake', publicKey: Buffer.from(registered.node.public_key, 'base64'), endpoint: '198.51.100.7:51820' });
    tick();
    expect(device!.reads).toBe(reads + 1);
    expect(await status()).toBe('online');
  });

  it('stops with status 1 when the data plane stops', async () => {
    await h.hub.start();
    h.devices[0]!.onEvent({ type: 'stopped', reason: 'the TUN device went away' });
    expect(await h.hub.stopped).toBe(1);
    await expectReleased();
    expect(messages().at(-1)).toBe('shutting down: the data plane stopped: the TUN device went away');
  });
});

describe('Hub with VPN_DNS', () => {
  // The VPN on loopback (127.77.0.0/16, every 127/8 address is this host's): the hub's DNS binds to
  // its VPN address 127.77.0.1 as it would to 10.100.0.1, and a query from that address is the hub's own.
  const HUB_IP = '127.77.0.1';
  let hub: Hub | undefined;

  async function startWithDns(dnsPort: number): Promise<Hub> {
    const env = {
      SERVERURL: 'vpn.example.com',
      API_TOKEN: TOKEN,
      WG_INTERFACE: IFACE,
      DATA_DIR: join(h.dir, 'data'),
      API_PORT: String(await freePort()),
      DASHBOARD_PORT: String(await freePort()),
      INTERNAL_SUBNET: '127.77.0.0/16',
      VPN_DNS: 'true',
    };
    h.config = loadConfig(env, h.dir, { envFile: false, networkInterfaces: () => ({}) });
    const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (h.log.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
    hub = new Hub(h.config, createLogger('info', sink), { ...h.system, dnsPort });
    return hub;
  }
  /** A change through the API, with no body. */
  const change = (method: 'POST' | 'DELETE', path: string) => fetch(`http://127.0.0.1:${h.config.apiPort}${path}`, { method, headers: { 'x-api-key': TOKEN } });

  async function ask(port: number, name: string): Promise<{ rcode: string; data: unknown }> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind({ address: HUB_IP, port: 0 }, () => r()));
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 1000);
      socket.once('message', (m) => (clearTimeout(timer), resolve(m)));
      socket.send(dnsPacket.encode({ id: 1, type: 'query', questions: [{ name, type: 'A' }] }), port, HUB_IP);
    }).finally(() => socket.close());
    const p = dnsPacket.decode(reply) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
    return { rcode: p.rcode, data: (p.answers?.[0] as { data?: unknown } | undefined)?.data };
  }

  afterEach(async () => {
    await hub?.stop('end of test', 0);
    hub = undefined;
  });

  it('answers for the nodes the API registers, stops the moment one is deleted, and releases its port', async () => {
    const port = 20000 + Math.floor(Math.random() * 40000);
    await (await startWithDns(port)).start();
    expect(messages().at(-1)).toMatch(new RegExp(`; DNS for wg\\.internal on 127\\.77\\.0\\.1:${port}$`));
    expect((await api('/api/nodes/register', { method: 'POST', body: JSON.stringify({ node_id: 'worker-01' }) })).status).toBe(201);
    expect(await ask(port, 'worker-01.wg.internal')).toEqual({ rcode: 'NOERROR', data: '127.77.1.2' });
    expect(await ask(port, 'wg.internal')).toEqual({ rcode: 'NOERROR', data: HUB_IP });
    expect((await change('POST', '/api/nodes/worker-01/disable')).status).toBe(200);
    expect((await ask(port, 'worker-01.wg.internal')).rcode).toBe('NXDOMAIN');
    expect((await change('POST', '/api/nodes/worker-01/enable')).status).toBe(200);
    expect((await ask(port, 'worker-01.wg.internal')).data).toBe('127.77.1.2');
    expect((await change('DELETE', '/api/nodes/worker-01')).status).toBe(200);
    expect((await ask(port, 'worker-01.wg.internal')).rcode).toBe('NXDOMAIN');
    expect(await hub!.stop('SIGTERM', 0)).toBe(0);
    expect(await portIsFree(port)).toBe(true); // TCP
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => (udp.once('error', reject), udp.bind({ address: HUB_IP, port }, () => resolve())));
    udp.close();
  });

  it('does not start when port 53 (here: its port) is taken, naming VPN_DNS, and releases what it started', async () => {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind({ address: HUB_IP, port }, () => r()));
    try {
      await expect((await startWithDns(port)).start()).rejects.toThrow(new RegExp(`^VPN_DNS: cannot listen on 127\\.77\\.0\\.1 port ${port}: `));
      expect(await hub!.stopped).toBe(1);
      await expectReleased();
    } finally {
      taken.close();
    }
  });
});
