// Two hubs on one PostgreSQL registry (src/hub/hub.ts, lease-keeper.ts), in-process with fake devices:
// one active (its device up and fenced), one standby (API and dashboard, no device); a registration
// made on the standby reaches the active hub's device; the active one stopping hands the device on.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { keyToHex } from '../../src/domain/keys.js';
import { Hub, type HubSystem } from '../../src/hub/hub.js';
import { FENCE_MARGIN_MS, LEASE_MS } from '../../src/hub/lease-keeper.js';
import { createLogger } from '../../src/runtime/log.js';
import { postgresMissing, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { FakeDevice } from '../helpers/fake-device.js';
import { freePort } from '../helpers/ports.js';

const TOKEN = 'standby-test-token-0123456789';

interface Side {
  hub: Hub;
  devices: FakeDevice[];
  log: string[];
  apiPort: number;
}

let pg: PostgresServer;
let root: string;
const hubs: Side[] = [];

beforeAll(async () => {
  if (postgresMissing) return;
  pg = await startPostgres();
  root = mkdtempSync(join(tmpdir(), 'wgvm-standby-'));
});
afterAll(() => {
  pg?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});
afterEach(async () => {
  for (const s of hubs.splice(0)) await s.hub.stop('end of test', 0);
});

async function side(name: string, databaseUrl: string, extra: Record<string, string> = {}): Promise<Side> {
  const dir = join(root, name);
  mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
  if (name !== 'a') copyFileSync(join(root, 'a', 'data', 'secret.key'), join(dir, 'data', 'secret.key')); // hubs share one
  const apiPort = await freePort();
  const env = { SERVERURL: `${name}.example.com`, API_TOKEN: TOKEN, WG_INTERFACE: `wgsb${name}`, DATA_DIR: join(dir, 'data'), DATABASE_URL: databaseUrl, API_PORT: String(apiPort), DASHBOARD_PORT: String(await freePort()), ...extra };
  const config = loadConfig(env, dir, { envFile: false, networkInterfaces: () => ({}) });
  const s: Side = { hub: undefined as unknown as Hub, devices: [], log: [], apiPort };
  const system: HubSystem = {
    openDevice: (iface, options) => {
      const d = new FakeDevice(iface, options!.onEvent!);
      s.devices.push(d);
      return d;
    },
    configureLink: () => {},
    socketDir: join(dir, 'run'),
  };
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => (s.log.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  s.hub = new Hub(config, createLogger('info', sink), system);
  hubs.push(s);
  return s;
}

async function until(what: string, check: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(postgresMissing)('two hubs on one PostgreSQL registry', () => {
  it('one runs the device (fenced), the other stands by and serves the API; a clean stop hands the device on', async () => {
    const url = pg.emptyDatabase();
    const a = await side('a', url);
    await a.hub.start();
    expect(a.devices).toHaveLength(1);
    const fence = a.devices[0]!.fences[0]!;
    expect(fence).toBeGreaterThan(0);
    expect(fence).toBeLessThanOrEqual(LEASE_MS - FENCE_MARGIN_MS);

    const b = await side('b', url);
    await b.hub.start();
    expect(b.devices).toHaveLength(0);
    expect(b.log.some((l) => /is a standby: .* is active/.test(JSON.parse(l).msg))).toBe(true);
    // What admins see, on either hub: which hub runs the device, since when, and this hub's part.
    const status = async (s: Side) => (await (await fetch(`http://127.0.0.1:${s.apiPort}/api/vpn/status`)).json()) as { ha: Record<string, unknown> };
    const sa = await status(a);
    const sb = await status(b);
    expect(sa.ha).toMatchObject({ role: 'active', active_hub: sa.ha.hub_id });
    expect(sb.ha).toMatchObject({ role: 'standby', active_hub: sa.ha.hub_id, active_since: sa.ha.active_since });
    expect(Date.parse(sb.ha.lease_expires_at as string)).toBeGreaterThan(Date.now());
    // Each hub, and whether the standby is ready: it asks for the lease every second.
    const listed = ((await status(a)).ha.hubs as Array<Record<string, string>>).map((h) => [h.hub_id, h.state, h.endpoint, h.api_url]);
    expect(listed.sort()).toEqual(
      [
        [sa.ha.hub_id, 'active', 'a.example.com:41820', `http://a.example.com:${a.apiPort}`],
        [sb.ha.hub_id, 'standby', 'b.example.com:41820', `http://b.example.com:${b.apiPort}`],
      ].sort(),
    );
    const metrics = await (await fetch(`http://127.0.0.1:${b.apiPort}/metrics`, { headers: { 'x-api-key': TOKEN } })).text();
    expect(metrics).toContain(`wgvm_hub_active{hub_id="${sb.ha.hub_id}"} 0`);
    expect(await (await fetch(`http://127.0.0.1:${a.apiPort}/metrics`, { headers: { 'x-api-key': TOKEN } })).text()).toContain('wgvm_hub_standbys 1');

    // A registration on the standby is in the shared registry, and reaches the active hub's device.
    const res = await fetch(`http://127.0.0.1:${b.apiPort}/api/nodes/register`, {
      method: 'POST',
      headers: { 'x-api-key': TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ node_id: 'worker-01' }),
    });
    expect(res.status).toBe(201);
    const registered = (await res.json()) as { node: { public_key: string }; install_url: string };
    const key = keyToHex(registered.node.public_key);
    await until("the registration on the active hub's device", () => a.devices[0]!.bodies.some((body) => body.includes(`public_key=${key}`)));

    // The worker's installer, fetched from the standby, names both hubs for its agent…
    const installer = await (await fetch(`http://127.0.0.1:${b.apiPort}${new URL(registered.install_url).pathname}/linux.sh`)).text();
    const hubUrl = /^WGVM_HUB_URL=(.*)$/m.exec(installer)?.[1];
    // (first the origin this worker reached, then every hub the registry knows)
    const [reached, ...known] = hubUrl!.split(',');
    expect(reached).toBe(`http://127.0.0.1:${b.apiPort}`);
    expect(known.sort()).toEqual([`http://a.example.com:${a.apiPort}`, `http://b.example.com:${b.apiPort}`].sort());
    const credential = /^WGVM_AGENT_TOKEN=(.*)$/m.exec(installer)![1]!;
    const peers = (s: Side) =>
      fetch(`http://127.0.0.1:${s.apiPort}/api/agent/v1/peers?hubs=1`, { headers: { authorization: `Bearer ${credential}`, accept: 'text/plain' } });
    // …and only the active hub answers the agent: the standby sends it on.
    const refused = await peers(b);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as { message: string }).message).toBe(`this hub is a standby: hub ${sa.ha.hub_id} is active`);
    const answered = await peers(a);
    expect(answered.status).toBe(200);
    expect(await answered.text()).toMatch(/^hub a\.example\.com:41820 none$/m); // the fake device saw no handshake

    // The active hub stops cleanly: it lets the lease go, and the standby brings its device up with the node on it.
    await a.hub.stop('SIGTERM', 0);
    expect(a.devices[0]!.closed).toBe(true);
    await until('the standby to take over', () => b.devices.length === 1, 5000);
    expect(b.devices[0]!.bodies.some((body) => body.includes(`public_key=${key}`))).toBe(true);
    expect(b.devices[0]!.fences.length).toBeGreaterThan(0);
    expect((await status(b)).ha).toMatchObject({ role: 'active', active_hub: sb.ha.hub_id });
    // The agent, finding the old hub gone, gets its answer from the new one, which names itself.
    const followed = await peers(b);
    expect(followed.status).toBe(200);
    expect(await followed.text()).toMatch(/^hub b\.example\.com:41820 none$/m);
  }, 30_000);

  it('a hub configured with another INTERNAL_SUBNET than the registry records refuses to start, saying which', async () => {
    const url = pg.emptyDatabase();
    const a = await side('a', url);
    await a.hub.start();
    const c = await side('c', url, { INTERNAL_SUBNET: '10.200.0.0/16' });
    await expect(c.hub.start()).rejects.toThrow(
      "this hub's INTERNAL_SUBNET 10.200.0.0/16 (hub address 10.200.0.1) is not the registry's 10.100.0.0/16 (hub address 10.100.0.1): hubs sharing a registry need the same",
    );
    expect(c.devices).toHaveLength(0);
    expect(await c.hub.stopped).toBe(1);
  }, 30_000);
});
