// `npm run bench:agents [-- N [IDLE_S]]`: what N worker agents cost the hub's control plane, and how
// fast a change reaches them. The hub's API and registry run in this process (no data plane: nothing
// here needs root); N agents pair up (all pairs direct), report every 25 s as wgvm-agent does, and
// each holds a long poll for its peers. Measured: the planning step, the CPU of the idle fleet (the
// hub and these N clients together, so an upper bound for the hub), and the time from deleting one
// node to every other agent holding its new answer.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = new URL('../dist/', import.meta.url);
const load = (path) => import(new URL(path, dist).href);
const { loadConfig } = await load('config/index.js');
const { buildApi } = await load('http/api.js');
const { API_SERVER_LIMITS } = await load('http/hardening.js');
const { NodesService } = await load('nodes/service.js');
const { Store } = await load('store/index.js');
const { encodeKey, generatePrivateKey, publicKeyOf } = await load('domain/keys.js');
const { MAX_AGENT_NODES } = await load('paths/manager.js');

const N = Number(process.argv[2] ?? 200);
const IDLE_S = Number(process.argv[3] ?? 20);
if (!Number.isInteger(N) || N < 2 || N > MAX_AGENT_NODES) throw new Error(`N must be 2 to ${MAX_AGENT_NODES}`);
if (!Number.isInteger(IDLE_S) || IDLE_S < 1) throw new Error('IDLE_S must be a whole number of seconds');
const TOKEN = 'bench-agent-polls-token-0123456789';
const REPORT_EVERY_S = 25;

const dir = mkdtempSync(join(tmpdir(), 'wgvm-bench-agents-'));
const store = Store.open(join(dir, 'data'));
const config = loadConfig({ SERVERURL: '127.0.0.1', API_TOKEN: TOKEN, WORKER_IP_RANGE: '10.100.1.2-10.100.200.254' }, dir, { envFile: false, networkInterfaces: () => ({}) });
const priv = generatePrivateKey();
const nodes = new NodesService(store, config, { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) }, () => {});
const app = await buildApi(config, nodes, { publicKey: encodeKey(publicKeyOf(priv)), startedAt: Date.now(), counters: () => null }, TOKEN, API_SERVER_LIMITS);
await app.listen({ port: 0, host: '127.0.0.1' });
const port = app.server.address().port;
const ms = (t0) => (performance.now() - t0).toFixed(1);

// N agents, each seen by the hub behind its own NAT.
const ids = Array.from({ length: N }, (_, i) => `agent-${i}`);
const credential = {};
for (const [i, id] of ids.entries()) {
  nodes.register({ nodeId: id }, 'bench');
  store.updateStatus([{ nodeId: id, lastHandshakeAt: null, rxBytes: 0, txBytes: 0, endpoint: `198.51.${i >> 8}.${i & 255}:51820` }]);
  credential[id] = nodes.issueAgentCredential(id, 'bench');
}
const keys = ids.map((id) => store.getNode(id).publicKey);
/** Agent i's report: a fresh handshake with every other agent, rx moving. */
function report(i) {
  const now = Math.floor(Date.now() / 1000);
  const peers = keys.filter((_, j) => j !== i).map((k) => ({ public_key: k, latest_handshake: now, rx_bytes: now, tx_bytes: now, endpoint: null }));
  nodes.paths.report(ids[i], { agent: 'bench/1', time: now, public_key: keys[i], listen_port: 51820, local_addresses: [], peers });
}
for (let i = 0; i < N; i++) report(i);
let t0 = performance.now();
nodes.paths.step();
console.log(`${N} agents: the step that pairs them all (${nodes.paths.totals().trying} pairs): ${ms(t0)} ms`);
for (let i = 0; i < N; i++) report(i);
t0 = performance.now();
nodes.paths.step();
console.log(`the step that makes them direct: ${ms(t0)} ms (${JSON.stringify(nodes.paths.totals())})`);
const idle = [];
for (let k = 0; k < 20; k++) {
  t0 = performance.now();
  nodes.paths.step();
  idle.push(performance.now() - t0);
}
console.log(`a step with nothing new: ${(idle.reduce((a, b) => a + b) / idle.length).toFixed(2)} ms`);

// As the hub runs it: a step every second; reports spread over 25 s.
let next = 0;
const timers = [
  setInterval(() => nodes.paths.step(), 1000),
  setInterval(() => {
    for (let k = 0; k < Math.ceil(N / REPORT_EVERY_S); k++, next = (next + 1) % N) report(next);
  }, 1000),
];
const agent = new http.Agent({ keepAlive: true, maxSockets: N * 2 });
function peers(id, etag, wait) {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${credential[id]}`, accept: 'text/plain', ...(etag ? { 'if-none-match': etag } : {}) };
    const req = http.request({ host: '127.0.0.1', port, path: `/api/agent/v1/peers?wait=${wait}`, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, etag: res.headers.etag, at: performance.now() }));
    });
    req.on('error', reject);
    req.end();
  });
}
const etag = {};
for (const id of ids) etag[id] = (await peers(id, undefined, 0)).etag;
const answeredAt = new Map();
let running = true;
function poll(id) {
  peers(id, etag[id], 25).then((r) => {
    if (r.status === 200) {
      etag[id] = r.etag;
      answeredAt.set(id, r.at);
    }
    if (running && r.status !== 401) poll(id);
  }, (err) => {
    if (running) throw err;
  });
}
for (const id of ids) poll(id);
await new Promise((r) => setTimeout(r, 2000));
const cpu0 = process.cpuUsage();
t0 = performance.now();
await new Promise((r) => setTimeout(r, IDLE_S * 1000));
const cpu = process.cpuUsage(cpu0);
console.log(`${N} long polls held, reports every ${REPORT_EVERY_S} s, a step a second, over ${IDLE_S} s: ${(((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100).toFixed(2)} % of a core (hub and clients)`);

answeredAt.clear();
const deletedAt = performance.now();
await app.inject({ method: 'DELETE', url: `/api/nodes/${ids[0]}`, headers: { 'x-api-key': TOKEN } });
while (answeredAt.size < N - 1 && performance.now() - deletedAt < 10_000) await new Promise((r) => setTimeout(r, 10));
const latencies = [...answeredAt.values()].map((at) => at - deletedAt).sort((a, b) => a - b);
console.log(
  `deleting ${ids[0]} reached ${latencies.length} of ${N - 1} agents: p50 ${latencies[latencies.length >> 1]?.toFixed(0)} ms, ` +
    `max ${latencies[latencies.length - 1]?.toFixed(0)} ms`,
);
running = false;
for (const t of timers) clearInterval(t);
nodes.paths.close();
agent.destroy();
await app.close();
store.close();
rmSync(dir, { recursive: true, force: true });
