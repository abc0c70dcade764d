// End to end, as an admin and two workers would: `wgvm serve` in a hub namespace; workers register
// over the API, fetch their config with the install token, and bring it up with Debian's
// wireguard-go + wg (worker 1) and with wgvm (worker 2) using exactly that file. Everything the
// hub writes to stdout and stderr is kept: no private or preshared key may appear in it.
import { join } from 'node:path';
import { HUB_PRIVATE_KEY_SETTING, Store } from '../../src/store/index.js';
import { describe, expect, it } from 'vitest';
import { isRoot, waitFor, type Namespace } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { bringUpWorker, httpIn, received, wgvmEntry, type Implementation, useWorld } from '../helpers/tunnel.js';

const skip = skipWithout('wg', 'wg-quick', 'wireguard-go', 'ip', 'ping') || (!isRoot && !inCI);
const TOKEN = 'test-token-123456789';

const http = httpIn;

describe.skipIf(skip)('the hub end to end', () => {
  const t = useWorld('wgvm-hub-', ['wg', 'wg-quick', 'wireguard-go', 'ip', 'ping']);

  it('registers, installs and connects workers; deletes one; survives a restart', async () => {
    const nsHub = t.world.namespace('hub');
    const ns1 = t.world.namespace('w1');
    const ns2 = t.world.namespace('w2');
    t.world.link(nsHub, '198.18.5.1/24', ns1, '198.18.5.2/24');
    t.world.link(nsHub, '198.18.6.1/24', ns2, '198.18.6.2/24');
    ns2.ip('route', 'add', '198.18.5.0/24', 'via', '198.18.6.1');
    const hubIface = `wgh${t.world.id}`.slice(0, 15);
    const env = {
      SERVERURL: '198.18.5.1',
      SERVERPORT: '41820',
      API_TOKEN: TOKEN,
      WG_INTERFACE: hubIface,
      DATA_DIR: join(t.dir, 'data'),
      API_PORT: '8090',
      DASHBOARD_PORT: '5000',
    };
    let output = '';
    const startHub = async () => {
      const hub = t.world.spawn(nsHub, process.execPath, [wgvmEntry, 'serve'], env);
      for (const stream of [hub.stdout!, hub.stderr!]) stream.setEncoding('utf8').on('data', (d: string) => (output += d));
      await waitFor('the API', () => http(nsHub, 'GET', 'http://127.0.0.1:8090/health').status === 200, 15_000);
      return hub;
    };
    let hub = await startHub();
    const api = (ns: Namespace, method: string, path: string, body?: unknown, auth = true) =>
      http(ns, method, `http://198.18.5.1:8090${path}`, body, auth ? { 'x-api-key': TOKEN } : {});

    // Register worker-01 without a token: 401; with it: 201 and an install link.
    expect(api(ns1, 'POST', '/api/nodes/register', { node_id: 'worker-01' }, false).status).toBe(401);
    const reg = api(ns1, 'POST', '/api/nodes/register', { node_id: 'worker-01', description: 'GPU Server #1', central_server_url: 'http://192.168.0.88:8000' });
    expect(reg.status, reg.text).toBe(201);
    expect(reg.json.node.vpn_ip).toBe('10.100.1.2');
    expect(reg.json.node.status).toBe('pending');
    const token1 = new URL(reg.json.install_url).pathname.split('/').pop()!;

    // Worker 1: the config from the install token, brought up with wireguard-go and wg.
    const conf1 = http(ns1, 'GET', `http://198.18.5.1:8090/api/clients/worker-01/config?token=${token1}`);
    expect(conf1.status).toBe(200);
    expect(conf1.text).toMatch(/^\[Interface\]\nPrivateKey = /);
    const bringUp = (ns: Namespace, label: string, config: string, implementation: Implementation) =>
      bringUpWorker(t.world, t.dir, ns, label, config, implementation);
    await bringUp(ns1, 'W1', conf1.text, 'wireguard-go');
    expect(received(ns1, '10.100.0.1', 3)).toBe(3);
    await waitFor('worker-01 online', () => api(ns1, 'GET', '/api/nodes/status/worker-01').json?.status === 'online', 5000);

    // Worker 2, ours, reaches worker 1 through the hub.
    const reg2 = api(ns2, 'POST', '/api/nodes/register', { node_id: 'worker-02' });
    expect(reg2.status).toBe(201);
    expect(reg2.json.node.vpn_ip).toBe('10.100.1.3');
    const conf2 = http(ns2, 'GET', `${reg2.json.install_url}/wg0.conf`);
    expect(conf2.status).toBe(200);
    await bringUp(ns2, 'W2', conf2.text, 'wgvm');
    expect(received(ns2, '10.100.1.2', 3)).toBe(3);
    expect(received(ns1, '10.100.1.3', 3)).toBe(3);

    // Deleting worker-02 stops its traffic within a second.
    expect(api(ns1, 'DELETE', '/api/nodes/worker-02').status).toBe(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(received(ns2, '10.100.0.1', 2)).toBe(0);
    expect(api(ns1, 'GET', '/api/nodes/status/worker-02').status).toBe(404);

    // The hub restarts; worker-01 keeps working without registering again.
    hub.kill('SIGTERM');
    await new Promise((r) => hub.once('exit', r));
    hub = await startHub();
    await waitFor('worker-01 back', () => received(ns1, '10.100.0.1', 1) === 1, 15_000);
    expect(api(ns1, 'GET', '/api/nodes/list').json.nodes.map((n: { node_id: string }) => n.node_id)).toEqual(['worker-01']);

    // The hub's whole output, both runs and the shutdown, against every key it has held.
    hub.kill('SIGTERM');
    await new Promise((r) => hub.once('exit', r));
    expect(output).toMatch(/shutting down: SIGTERM/); // the capture works
    const store = Store.open(env.DATA_DIR);
    const keys = [store.getSetting(HUB_PRIVATE_KEY_SETTING)!, store.getSecrets('worker-01')!.privateKey!, store.getSecrets('worker-01')!.presharedKey];
    store.close();
    // worker-02 is deleted: its keys are in the config it downloaded.
    for (const m of conf2.text.matchAll(/^(?:PrivateKey|PresharedKey) = (\S+)$/gm)) keys.push(m[1]!);
    expect(keys).toHaveLength(5);
    for (const k of keys) {
      expect(output.includes(k), 'a key in base64 in the hub output').toBe(false);
      expect(output.toLowerCase().includes(Buffer.from(k, 'base64').toString('hex')), 'a key in hex in the hub output').toBe(false);
    }
    // The access log saw the install links and the token-authenticated calls, but not their secrets.
    const requests = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests.some((l) => l.method === 'GET' && l.url === '/install/[redacted]/wg0.conf' && l.status === 200)).toBe(true);
    expect(requests.some((l) => l.url === '/api/clients/worker-01/config?token=[redacted]')).toBe(true);
    expect(requests.some((l) => l.method === 'POST' && l.url === '/api/nodes/register' && l.status === 201 && l.level === 30)).toBe(true);
    for (const secret of [TOKEN, token1, new URL(reg2.json.install_url).pathname.split('/').pop()!]) {
      expect(output.includes(secret), 'an API or install token in the hub output').toBe(false);
    }
  }, 120_000);
});
