// The agent protocol on the management API (docs/agent-protocol.md, src/http/api-agent.ts): what an
// agent's credential reads and writes, the long poll, and how admin actions reach both ends of a pair.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { buildApi } from '../../src/http/api.js';
import { AgentHubView, isAgentEndpoint } from '../../src/hub/agent-hubs.js';
import { DirectPaths, STANDBY_VIEW_MS } from '../../src/paths/direct-paths.js';
import { NodesService } from '../../src/nodes/service.js';
import { Store } from '../../src/store/index.js';

const API_TOKEN = 'agent-api-token-1234567890';
const ADMIN = { 'x-api-key': API_TOKEN };

interface World {
  dir: string;
  store: Store;
  nodes: NodesService;
  app: FastifyInstance;
  cred: Record<string, string>;
}
let w: World;

/** Registers a node whose hub session is seen at `endpoint`, with an agent credential. */
function worker(nodeId: string, endpoint: string): void {
  w.nodes.register({ nodeId }, 'test');
  w.store.updateStatus([{ nodeId, lastHandshakeAt: new Date().toISOString(), rxBytes: 1, txBytes: 1, endpoint }]);
  w.cred[nodeId] = w.nodes.issueAgentCredential(nodeId, 'test');
}

const bearer = (nodeId: string) => ({ authorization: `Bearer ${w.cred[nodeId]}` });

function reportOf(nodeId: string, peers: object[] = [], extra: object = {}) {
  return {
    agent: 'wgvm-agent/1',
    time: Math.floor(Date.now() / 1000),
    public_key: w.store.getNode(nodeId)!.publicKey,
    listen_port: 51820,
    local_addresses: ['192.168.7.10/24'],
    peers,
    ...extra,
  };
}

async function report(nodeId: string, peers: object[] = [], extra: object = {}) {
  return w.app.inject({ method: 'POST', url: '/api/agent/v1/report', headers: bearer(nodeId), payload: reportOf(nodeId, peers, extra) });
}

async function peersText(nodeId: string, headers: Record<string, string> = {}, query = '') {
  return w.app.inject({ method: 'GET', url: `/api/agent/v1/peers${query}`, headers: { ...bearer(nodeId), accept: 'text/plain', ...headers } });
}

/** The peer lines of an answer, by public key. */
function peerLines(text: string): Map<string, string[]> {
  const lines = text.trim().split('\n');
  expect(lines[0]).toBe('wgvm-agent-peers 1');
  const peers = lines.filter((l) => l.startsWith('peer ')).map((l) => l.split(' '));
  expect(lines[lines.length - 1]).toBe(`end ${peers.length}`);
  return new Map(peers.map((p) => [p[1]!, p]));
}

beforeEach(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-agent-api-'));
  const store = Store.open(join(dir, 'data'));
  const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const priv = generatePrivateKey();
  const nodes = new NodesService(store, config, { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) }, () => {});
  const app = await buildApi(config, nodes, { publicKey: encodeKey(publicKeyOf(priv)), startedAt: Date.now(), counters: () => null }, API_TOKEN);
  await app.ready();
  w = { dir, store, nodes, app, cred: {} };
  worker('w1', '198.51.100.1:51820');
  worker('w2', '203.0.113.2:40000');
  worker('w3', '203.0.113.3:41000');
});

afterEach(async () => {
  await w.app.close();
  w.store.close();
  rmSync(w.dir, { recursive: true, force: true });
});

describe('the agent protocol', () => {
  it('pairs agents that reported: each gets the other with a preshared key only the two share', async () => {
    expect(peerLines((await peersText('w1')).body).size).toBe(0); // no report yet: no pairs
    for (const id of ['w1', 'w2']) expect((await report(id)).statusCode).toBe(204);
    w.nodes.paths.step();
    const one = peerLines((await peersText('w1')).body);
    const two = peerLines((await peersText('w2')).body);
    const k1 = w.store.getNode('w1')!.publicKey;
    const k2 = w.store.getNode('w2')!.publicKey;
    expect([...one.keys()]).toEqual([k2]);
    expect([...two.keys()]).toEqual([k1]);
    const [, , address, psk, keepalive, mode, endpoints] = one.get(k2)!;
    expect([address, keepalive, mode, endpoints]).toEqual([`${w.store.getNode('w2')!.vpnIp}/32`, '25', 'try', '203.0.113.2:40000']);
    expect(two.get(k1)![3]).toBe(psk); // the same key at both ends
    for (const id of ['w1', 'w2', 'w3']) expect(w.store.getSecrets(id)!.presharedKey).not.toBe(psk); // not any node's hub key
    // JSON for other agents: the same content.
    const json = (await w.app.inject({ method: 'GET', url: '/api/agent/v1/peers', headers: bearer('w1') })).json();
    expect(json).toMatchObject({ version: 1, poll: 2, peers: [{ public_key: k2, preshared_key: psk, mode: 'try', endpoints: ['203.0.113.2:40000'] }] });
    // What admins see: the node's agent and its path, and /metrics.
    const view = (await w.app.inject({ method: 'GET', url: '/api/nodes/status/w1', headers: ADMIN })).json();
    expect(view.agent).toMatchObject({ version: 'wgvm-agent/1' });
    expect(view.agent.reported_at).not.toBeNull();
    expect(view.paths).toEqual([{ peer: 'w2', state: 'trying', via: 'nat', since: expect.any(String) }]);
    const metrics = (await w.app.inject({ method: 'GET', url: '/metrics', headers: ADMIN })).body;
    expect(metrics).toContain('wgvm_paths{state="trying"} 1');
    expect(metrics).toContain('wgvm_agents 2');
  });

  it('a handshake in a report makes the pair direct at both ends', async () => {
    for (const id of ['w1', 'w2']) await report(id);
    w.nodes.paths.step();
    const k2 = w.store.getNode('w2')!.publicKey;
    const now = Math.floor(Date.now() / 1000);
    await report('w1', [{ public_key: k2, latest_handshake: now, rx_bytes: 92, tx_bytes: 148, endpoint: '203.0.113.2:40000' }]);
    w.nodes.paths.step();
    expect(peerLines((await peersText('w1')).body).get(k2)![5]).toBe('direct');
    expect(peerLines((await peersText('w2')).body).get(w.store.getNode('w1')!.publicKey)![5]).toBe('direct');
    expect((await w.app.inject({ method: 'GET', url: '/api/nodes/status/w2', headers: ADMIN })).json().paths[0]).toMatchObject({ peer: 'w1', state: 'direct', via: 'nat' });
  });

  it('the long poll answers at once on a change (a node deleted), and with 304 when nothing changed', async () => {
    for (const id of ['w1', 'w2']) await report(id);
    w.nodes.paths.step();
    const first = await peersText('w1');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

    const started = Date.now();
    const unchanged = await peersText('w1', { 'if-none-match': etag }, '?wait=1');
    expect(unchanged.statusCode).toBe(304);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    const held = peersText('w1', { 'if-none-match': etag }, '?wait=20');
    await new Promise((r) => setTimeout(r, 100));
    const deletedAt = Date.now();
    expect((await w.app.inject({ method: 'DELETE', url: '/api/nodes/w2', headers: ADMIN })).statusCode).toBe(200);
    const answer = await held;
    expect(Date.now() - deletedAt).toBeLessThan(1000);
    expect(answer.statusCode).toBe(200);
    expect(peerLines(answer.body).size).toBe(0);
    expect(answer.headers.etag).not.toBe(etag);
    // w2's credential went with it.
    expect((await peersText('w2')).statusCode).toBe(401);
  });

  it("a credential grants its own node's view only, and nothing with the API token", async () => {
    for (const id of ['w1', 'w2']) await report(id);
    w.nodes.paths.step();
    // w1's credential reporting w2's key: refused, nothing taken.
    const before = w.nodes.paths.viewOf('w1').agent.reportedAt;
    const forged = await w.app.inject({ method: 'POST', url: '/api/agent/v1/report', headers: bearer('w1'), payload: { ...reportOf('w2') } });
    expect(forged.statusCode).toBe(400);
    expect(forged.json().message).toMatch(/not this node's registered key/);
    expect(w.nodes.paths.viewOf('w1').agent.reportedAt).toBe(before);
    // The API token, a wrong credential, another scheme: 401.
    for (const headers of [ADMIN, { authorization: `Bearer ${API_TOKEN}` }, { authorization: `Bearer ${'A'.repeat(43)}` }, { authorization: `Basic ${w.cred.w1}` }]) {
      expect((await w.app.inject({ method: 'GET', url: '/api/agent/v1/peers', headers })).statusCode).toBe(401);
    }
    // Admin routes do not take an agent credential.
    expect((await w.app.inject({ method: 'GET', url: '/api/nodes/list', headers: bearer('w1') })).statusCode).toBe(401);
    expect((await w.app.inject({ method: 'GET', url: '/api/nodes/status/w2', headers: bearer('w1') })).statusCode).toBe(401);
  });

  it('bad reports are 400s that name the problem and change nothing', async () => {
    const cases: [object, RegExp][] = [
      [{ listen_port: 0 }, /listen_port/],
      [{ local_addresses: ['not-an-address/24'] }, /local_addresses\[0\]/],
      [{ peers: [{ public_key: 'x', latest_handshake: 0, rx_bytes: 0, tx_bytes: 0, endpoint: null }] }, /public_key/],
      [{ peers: [{ public_key: w.store.getNode('w2')!.publicKey, latest_handshake: 0, rx_bytes: -1, tx_bytes: 0, endpoint: null }] }, /rx_bytes/],
      [{ extra: true }, /additional properties/],
    ];
    for (const [extra, message] of cases) {
      const res = await report('w1', [], extra);
      expect(res.statusCode, JSON.stringify(extra)).toBe(400);
      expect(res.json().message).toMatch(message);
      expect(w.nodes.paths.viewOf('w1').agent.reportedAt).toBeNull();
    }
  });

  it('revoking, rotating keys, disabling, isolating or turning direct paths off end the pair at both ends', async () => {
    const actions: [string, () => Promise<number>][] = [
      ['disable', async () => (await w.app.inject({ method: 'POST', url: '/api/nodes/w2/disable', headers: ADMIN })).statusCode],
      ['isolate', async () => (await w.app.inject({ method: 'PATCH', url: '/api/nodes/w2', headers: ADMIN, payload: { isolated: true } })).statusCode],
      ['direct paths off', async () => (await w.app.inject({ method: 'PATCH', url: '/api/nodes/w2', headers: ADMIN, payload: { direct_paths: false } })).statusCode],
      ['rotate keys', async () => (await w.app.inject({ method: 'POST', url: '/api/nodes/w2/rotate-keys', headers: ADMIN })).statusCode],
      ['revoke', async () => (await w.app.inject({ method: 'DELETE', url: '/api/nodes/w2/agent', headers: ADMIN })).statusCode],
    ];
    for (const [what, act] of actions) {
      // Back to a clean pair each time.
      await w.app.inject({ method: 'POST', url: '/api/nodes/w2/enable', headers: ADMIN });
      await w.app.inject({ method: 'PATCH', url: '/api/nodes/w2', headers: ADMIN, payload: { isolated: false, direct_paths: true } });
      w.cred.w2 = w.nodes.issueAgentCredential('w2', 'test');
      for (const id of ['w1', 'w2']) expect((await report(id)).statusCode, what).toBe(204);
      w.nodes.paths.step();
      const k2 = w.store.getNode('w2')!.publicKey;
      expect(peerLines((await peersText('w1')).body).has(k2), what).toBe(true);
      expect(await act(), what).toBe(200);
      w.nodes.paths.step();
      const w1Now = peerLines((await peersText('w1')).body);
      expect(w1Now.size, what).toBe(0);
      const w2Answer = await peersText('w2');
      if (what === 'revoke' || what === 'rotate keys') expect(w2Answer.statusCode, what).toBe(401);
      else expect(peerLines(w2Answer.body).size, what).toBe(0);
    }
    // A rotated node pairs again with a new preshared key.
    w.cred.w2 = w.nodes.issueAgentCredential('w2', 'test');
    const oldPsk = peerLines((await peersText('w1')).body);
    expect(oldPsk.size).toBe(0);
    for (const id of ['w1', 'w2']) await report(id);
    w.nodes.paths.step();
    expect(peerLines((await peersText('w1')).body).size).toBe(1);
  });

  it('an agent that stops ends its pairs at the other ends at once, until it reports again', async () => {
    for (const id of ['w1', 'w2']) await report(id);
    w.nodes.paths.step();
    expect(peerLines((await peersText('w1')).body).size).toBe(1);
    const stopped = await w.app.inject({ method: 'POST', url: '/api/agent/v1/stopping', headers: bearer('w2'), payload: { stopping: true } });
    expect(stopped.statusCode).toBe(204);
    expect(peerLines((await peersText('w1')).body).size).toBe(0);
    expect(w.nodes.paths.viewOf('w1').paths).toEqual([]);
    await report('w2');
    w.nodes.paths.step();
    expect(peerLines((await peersText('w1')).body).size).toBe(1);
  });

  it('a step that looks at many nodes reads them in one query, not a round trip each', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `m${i}`);
    for (const [i, id] of ids.entries()) worker(id, `203.0.113.${10 + i}:51820`);
    for (const id of ['w1', 'w2', 'w3', ...ids]) expect((await report(id)).statusCode).toBe(204);
    const getNode = vi.spyOn(w.store, 'getNode');
    const listNodes = vi.spyOn(w.store, 'listNodes');
    w.nodes.paths.step();
    expect(getNode).not.toHaveBeenCalled();
    expect(listNodes).toHaveBeenCalledTimes(1);
    expect(w.nodes.paths.totals()).toMatchObject({ trying: (33 * 32) / 2, agents: 33 });
    // A step with nothing new reads nothing.
    listNodes.mockClear();
    w.nodes.paths.step();
    expect(listNodes).not.toHaveBeenCalled();
    expect(getNode).not.toHaveBeenCalled();
  });

  it('DIRECT_PATHS=false pairs no one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgvm-agent-off-'));
    const store = Store.open(join(dir, 'data'));
    const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN, DIRECT_PATHS: 'false' }, dir, { envFile: false, networkInterfaces: () => ({}) });
    const priv = generatePrivateKey();
    const nodes = new NodesService(store, config, { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) }, () => {});
    try {
      for (const id of ['a', 'b']) {
        nodes.register({ nodeId: id }, 'test');
        store.updateStatus([{ nodeId: id, lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: `203.0.113.9:${id === 'a' ? 1 : 2}` }]);
        nodes.paths.report(id, { ...reportOf('w1'), public_key: store.getNode(id)!.publicKey, peers: [] });
      }
      nodes.paths.step();
      expect(nodes.paths.totals()).toEqual({ trying: 0, direct: 0, relayed: 0, agents: 2 });
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('two hubs (docs/agent-protocol.md, "Two hubs: following the active one")', () => {
  /** The API of a hub sharing its registry, as the hub builds it: active or not, with a device that saw `handshakes`. */
  async function hubApi(lease: { active: boolean; holder: string | null }, handshakes: Map<string, number>) {
    const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN }, w.dir, { envFile: false, networkInterfaces: () => ({}) });
    const agentHubs = new AgentHubView({
      endpoint: '203.0.113.1:51820',
      apiUrl: 'http://203.0.113.1:8000',
      lease: () => lease,
      hubApis: () => ['http://203.0.113.2:8000', 'http://203.0.113.1:8000'],
      publicKeyOf: (id) => w.nodes.find(id)?.publicKey ?? null,
      lastHandshakeAt: (key) => handshakes.get(key) ?? null,
    });
    const app = await buildApi(config, w.nodes, { publicKey: 'x', startedAt: Date.now(), counters: () => null, agentHubs }, API_TOKEN);
    await app.ready();
    return app;
  }

  it('a standby sends every agent route on with 503 and Retry-After, naming the active hub, and changes nothing', async () => {
    const app = await hubApi({ active: false, holder: 'hub-b' }, new Map());
    try {
      for (const [method, url, payload] of [
        ['GET', '/api/agent/v1/peers?wait=0&hubs=1', undefined],
        ['POST', '/api/agent/v1/report', reportOf('w1')],
        ['POST', '/api/agent/v1/stopping', { stopping: true }],
      ] as const) {
        const res = await app.inject({ method, url, headers: bearer('w1'), ...(payload ? { payload } : {}) });
        expect(res.statusCode, url).toBe(503);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.json().message).toBe('this hub is a standby: hub hub-b is active');
      }
      expect(w.nodes.paths.hasAgent('w1')).toBe(false); // the report went nowhere
    } finally {
      await app.close();
    }
  });

  it('the active hub names its endpoint, its session with the node and every hub, only to agents that ask (hubs=1)', async () => {
    const handshakes = new Map([[w.store.getNode('w2')!.publicKey, Date.now() - 5_000]]);
    const app = await hubApi({ active: true, holder: 'hub-a' }, handshakes);
    try {
      const ask = (nodeId: string, query: string) =>
        app.inject({ method: 'GET', url: `/api/agent/v1/peers${query}`, headers: { ...bearer(nodeId), accept: 'text/plain' } });
      const w1 = (await ask('w1', '?hubs=1')).body.split('\n');
      expect(w1.slice(0, 5)).toEqual(['wgvm-agent-peers 1', 'poll 25', 'hub 203.0.113.1:51820 none', 'api http://203.0.113.1:8000', 'api http://203.0.113.2:8000']);
      expect((await ask('w2', '?hubs=1')).body).toContain('\nhub 203.0.113.1:51820 up\n');
      // An agent from before two hubs refuses lines it does not know: it gets none.
      expect((await ask('w1', '')).body).not.toMatch(/^(hub|api) /m);
      const json = await app.inject({ method: 'GET', url: '/api/agent/v1/peers?hubs=1', headers: bearer('w2') });
      expect(json.json()).toMatchObject({ hub: { endpoint: '203.0.113.1:51820', session: 'up' }, apis: ['http://203.0.113.1:8000', 'http://203.0.113.2:8000'] });
      expect((await app.inject({ method: 'GET', url: '/api/agent/v1/peers?hubs=2', headers: bearer('w2') })).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });

  it('never names an endpoint or an origin the agent would refuse (it would refuse the whole answer)', () => {
    for (const ok of ['203.0.113.1:41820', '[2001:db8::1]:41820', 'hub.example.com:41820', 'hub-2.example:1']) expect(isAgentEndpoint(ok), ok).toBe(true);
    for (const bad of ['2001:db8::1:41820', 'hub.example.com', 'hub.example.com:0', 'hub.example.com:65536', '-hub.example:1', 'hub_1.example:1', '999.1.1:5', 'a b:1'])
      expect(isAgentEndpoint(bad), bad).toBe(false);
    const view = new AgentHubView({
      endpoint: '2001:db8::1:41820',
      apiUrl: 'http://203.0.113.1:8000',
      lease: () => ({ active: true, holder: 'a' }),
      hubApis: () => ['http://203.0.113.2:8000/path', 'http://203.0.113.3:8000'],
      publicKeyOf: () => null,
      lastHandshakeAt: () => null,
    });
    expect(view.lines('w1')).toEqual({ endpoint: null, session: 'none', apis: ['http://203.0.113.1:8000', 'http://203.0.113.3:8000'] });
    const text = w.nodes.paths.peersOf('w1', view.lines('w1')).text;
    expect(text).not.toMatch(/^hub /m);
    expect(text).toMatch(/^api http:\/\/203\.0\.113\.3:8000$/m);
  });

  it('a session counts as up for 180 s after the last handshake, and the ETag follows it', async () => {
    const key = w.store.getNode('w1')!.publicKey;
    const handshakes = new Map([[key, Date.now() - 179_000]]);
    const app = await hubApi({ active: true, holder: 'hub-a' }, handshakes);
    try {
      const ask = () => app.inject({ method: 'GET', url: '/api/agent/v1/peers?hubs=1', headers: { ...bearer('w1'), accept: 'text/plain' } });
      const up = await ask();
      expect(up.body).toContain('hub 203.0.113.1:51820 up');
      handshakes.set(key, Date.now() - 181_000);
      const none = await ask();
      expect(none.body).toContain('hub 203.0.113.1:51820 none');
      expect(none.headers.etag).not.toBe(up.headers.etag);
    } finally {
      await app.close();
    }
  });

  it('a standby plans nothing and writes no pair; once active it takes the pairs the registry holds', async () => {
    await report('w1');
    await report('w2');
    w.nodes.paths.step();
    expect(w.store.listPairs()).toHaveLength(1);
    // Another hub's service on the same registry, a standby: an admin's change there writes no pair.
    const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN }, w.dir, { envFile: false, networkInterfaces: () => ({}) });
    const priv = generatePrivateKey();
    const standby = new NodesService(w.store, config, { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) }, () => {});
    standby.paths.standby();
    standby.setPathFlags('w1', { isolated: true }, 'test'); // on the active hub this would end the pair
    standby.paths.step();
    expect(w.store.listPairs()).toHaveLength(1);
    expect(standby.paths.totals()).toMatchObject({ trying: 1 });
    // What a standby shows follows the registry, read again at most every STANDBY_VIEW_MS.
    let t = Date.now();
    const view = new DirectPaths(w.store, true, () => t);
    view.standby();
    expect(view.totals()).toMatchObject({ trying: 1, direct: 0 });
    // The active hub of the registry made the pair direct meanwhile.
    w.store.applyPairs([], [{ ...w.store.listPairs()[0]!, state: 'direct', since: Date.now() }], []);
    expect(view.totals()).toMatchObject({ trying: 1, direct: 0 });
    t += STANDBY_VIEW_MS;
    const getNode = vi.spyOn(w.store, 'getNode');
    const listPairs = vi.spyOn(w.store, 'listPairs');
    expect(view.totals()).toMatchObject({ trying: 0, direct: 1 });
    expect(getNode).not.toHaveBeenCalled(); // the nodes in one query, not one per pair's end
    expect(listPairs).not.toHaveBeenCalled(); // what a standby shows needs no key unsealed
    getNode.mockRestore();
    listPairs.mockRestore();
    expect(view.viewOf('w1').paths).toMatchObject([{ peer: 'w2', state: 'direct' }]);
    // The standby takes over with the pairs as the registry holds them.
    standby.paths.activate();
    expect(standby.paths.totals()).toEqual({ trying: 0, direct: 1, relayed: 0, agents: 0 });
    // Now active, it has the pair's key to hand to its agents.
    for (const id of ['w1', 'w2']) standby.paths.report(id, { ...reportOf(id), peers: [] });
    const { peers } = standby.paths.peersOf('w1').json;
    expect(peers).toMatchObject([{ public_key: w.store.getNode('w2')!.publicKey, preshared_key: w.store.listPairs()[0]!.presharedKey }]);
  });

  it("another hub's deletion reaches the active hub's pairs and agents when the registry is seen to change", async () => {
    await report('w1');
    await report('w2');
    w.nodes.paths.step();
    expect(peerLines((await peersText('w1')).body).size).toBe(1);
    w.store.deleteNode('w2'); // as a standby's API would: nothing told this hub's service
    expect(peerLines((await peersText('w1')).body).size).toBe(1);
    w.nodes.paths.registryChanged(); // what the device sync calls when the registry's data version moves
    expect(peerLines((await peersText('w1')).body).size).toBe(0);
    expect(w.store.listPairs()).toHaveLength(0);
  });
});

describe('node lists', () => {
  it("read every node's agent credential time in one query, not one per node", async () => {
    const one = vi.spyOn(w.store, 'agentCredentialIssuedAt');
    const all = vi.spyOn(w.store, 'agentCredentialsIssuedAt');
    w.nodes.register({ nodeId: 'w4' }, 'test'); // no credential
    const res = await w.app.inject({ method: 'GET', url: '/api/nodes/list', headers: ADMIN });
    const agents = Object.fromEntries(res.json().nodes.map((n: { node_id: string; agent: { credential_issued_at: string | null } }) => [n.node_id, n.agent.credential_issued_at]));
    expect(agents.w4).toBeNull();
    expect(agents.w1).toBe(w.store.agentCredentialIssuedAt('w1'));
    expect(all).toHaveBeenCalledTimes(1);
    expect(one).toHaveBeenCalledTimes(1); // only the line above
  });
});
