// Two hubs on one PostgreSQL registry (issue #20), end to end, in the two-hub lab
// (src/bench/two-hub-lab.ts): a throwaway PostgreSQL server in its own sandbox, hub A
// (203.0.113.10) and hub B (203.0.113.11) on the public segment, each with its own cable to the
// database, both running the real `wgvm serve` on the shared registry; W1 (wgvm-userspace) behind
// nat1 and W2 (Debian's wireguard-go) behind nat2, both port-preserving home-router NATs, installed
// from hub A's install links, their agents given both hubs' API origins.
//
// What a user notices: which hub says it is active (status, /metrics); registrations through either
// hub during normal operation and while the active hub dies; how long the workers are cut off when
// the active hub is killed; and that when the active hub loses the database while still running, its
// WireGuard packets stop before the other hub's start (tcpdump in the workers' sandboxes).
//
// The workers follow the active hub through their agents (docs/agent-protocol.md, "Two hubs:
// following the active one"), told of both hubs by their installer.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HUB_VPN_IP, type LabHub, type LabWorker } from '../../src/bench/agent-lab.js';
import { addressPort, ContinuousPing, pingOnce, TWO_HUBS, TwoHubLab, UdpCapture, type RegistrationResult } from '../../src/bench/two-hub-lab.js';
import { isRoot } from '../helpers/netns.js';
import { postgresMissing, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';

const TOOLS = ['wg', 'wg-quick', 'wireguard-go', 'ip', 'ping', 'nft', 'nsenter', 'unshare', 'curl', 'tcpdump'];
const skip = skipWithout(...TOOLS) || postgresMissing || (!isRoot && !inCI);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => (ms / 1000).toFixed(1);

/** Counts of the answers, by status (0: no answer, by error). */
function tally(results: RegistrationResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = r.status === 0 ? `no answer (${r.error})` : r.status === 503 ? `503${r.retryAfter ? ` Retry-After ${r.retryAfter}` : ' without Retry-After'}` : String(r.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ') || 'none';
}

/** A few results, for a failure message. */
function sample(results: RegistrationResult[], n = 10): string {
  return results
    .slice(0, n)
    .map((r) => `${r.nodeId} → ${r.origin}: ${r.status || r.error} after ${r.ms} ms ${r.body}`)
    .join('\n');
}

/** What the user gets from a registration: a 201, or a 503 that says when to try again. */
const acceptable = (r: RegistrationResult) => r.status === 201 || (r.status === 503 && r.retryAfter !== null);

describe.skipIf(skip)('two hubs on one PostgreSQL registry (failover, fencing, workers following)', () => {
  let t: TwoHubLab;
  let pg: PostgresServer | undefined;
  let w1: LabWorker;
  let w2: LabWorker;
  let hubKey = '';
  /** Every registration answered 201 (all tests): node_id → vpn_ip. */
  const created = new Map<string, string>();
  let killedAt = 0;
  let following: Promise<Record<'w1' | 'w2', { hub: number | null; peer: number | null }>> | undefined;
  // The lab's state is read once per test, at its first check (a stuck hub makes reading it slow).
  let diagnostics: string | null = null;
  const fail = (what: string) => `${what}\n${(diagnostics ??= t.diagnostics())}`;
  beforeEach(() => {
    diagnostics = null;
  });

  /** Every node that got a 201 is in the registry as `hub` lists it, with the address it was given; no address twice. */
  async function checkRegistry(label: string, hub: LabHub): Promise<Map<string, string>> {
    const registry = await t.registry(hub);
    const missing = [...created].filter(([id, ip]) => registry.get(id) !== ip);
    expect(missing.length, fail(`${label}: nodes answered 201 but not in the registry (as ${hub.label} lists it) with their address: ${missing.slice(0, 10).join(' ')}`)).toBe(0);
    const addresses = [...registry.values()];
    const twice = addresses.filter((ip, i) => addresses.indexOf(ip) !== i);
    expect(twice, fail(`${label}: VPN addresses given twice in the registry`)).toEqual([]);
    return registry;
  }

  beforeAll(async () => {
    requireTools(...TOOLS);
    if (!isRoot) throw new Error('namespace tests need root');
    t = await TwoHubLab.create();
    const { a, b } = TWO_HUBS;
    pg = await startPostgres({ netns: t.db.netns, listen: [a.dbServer, b.dbServer], trust: [a.dbNetwork, b.dbNetwork] });
    const url = pg.createDatabase();
    t.databaseUrls = { a: url, b: pg.reach(url, b.dbServer) };
  }, 120_000);

  afterAll(async () => {
    pg?.stop();
    await t?.close();
  });

  it('1. A started first says active; B started next says standby, naming A (status and /metrics)', async () => {
    const t0 = Date.now();
    await t.start('a');
    await t.until("A's status to say active", async () => (await t.ha(t.a)).role === 'active', 15_000);
    const aS = (Date.now() - t0) / 1000;
    const t1 = Date.now();
    await t.start('b');
    await t.until("B's status to say standby naming A", async () => {
      const ha = await t.ha(t.b);
      return ha.role === 'standby' && ha.active_hub === TWO_HUBS.a.hubId;
    }, 15_000);
    const bS = (Date.now() - t1) / 1000;
    console.log(`two-hubs: A active ${aS.toFixed(1)} s after its start; B a standby naming A ${bS.toFixed(1)} s after its start`);

    const haA = await t.ha(t.a);
    const haB = await t.ha(t.b);
    expect(haA, fail("A's status")).toMatchObject({ hub_id: TWO_HUBS.a.hubId, role: 'active', active_hub: TWO_HUBS.a.hubId });
    expect(haB, fail("B's status")).toMatchObject({ hub_id: TWO_HUBS.b.hubId, role: 'standby', active_hub: TWO_HUBS.a.hubId });
    expect(haB.active_since, "B names when A's lease began").toBe(haA.active_since);
    expect(await t.hubActiveMetric(t.a)).toEqual({ hubId: TWO_HUBS.a.hubId, value: 1 });
    expect(await t.hubActiveMetric(t.b)).toEqual({ hubId: TWO_HUBS.b.hubId, value: 0 });
    // The device runs on the active hub only; both announce their own endpoint with the same key.
    expect(t.deviceUp(t.a), fail("A's WireGuard interface is missing")).toBe(true);
    expect(t.deviceUp(t.b), fail("B, a standby, has a WireGuard interface")).toBe(false);
    const statusA = (await t.a.api('GET', '/api/vpn/status')).json;
    const statusB = (await t.b.api('GET', '/api/vpn/status')).json;
    expect(statusA.endpoint).toBe(`${TWO_HUBS.a.public}:${TWO_HUBS.wgPort}`);
    expect(statusB.endpoint).toBe(`${TWO_HUBS.b.public}:${TWO_HUBS.wgPort}`);
    expect(statusB.public_key).toBe(statusA.public_key);
    hubKey = statusA.public_key;
  }, 90_000);

  it('2. 500 concurrent registrations, 250 through each hub: every 201 is in the registry with an address of its own; no 5xx but 503 with Retry-After', async () => {
    const jobs: { origin: string; nodeId: string }[] = [];
    for (let i = 0; i < 250; i++) {
      jobs.push({ origin: t.a.origin, nodeId: `load-a-${i}` }, { origin: t.b.origin, nodeId: `load-b-${i}` });
    }
    const t0 = Date.now();
    const results = await t.registerBatch(t.a.s, jobs, 50);
    const took = Date.now() - t0;
    const through = (hub: string) => results.filter((r) => r.origin === hub);
    const ms = results.map((r) => r.ms).sort((x, y) => x - y);
    console.log(
      `two-hubs: 500 registrations (50 at a time) in ${secs(took)} s, median ${ms[ms.length >> 1]} ms, slowest ${ms.at(-1)} ms; ` +
        `through A: ${tally(through(t.a.origin))}; through B: ${tally(through(t.b.origin))}`,
    );
    for (const r of results) if (r.status === 201) created.set(r.nodeId, r.vpnIp!);
    const bad = results.filter((r) => !acceptable(r));
    expect(bad.length, fail(`answers other than 201 or 503 with Retry-After:\n${sample(bad)}`)).toBe(0);
    expect(results.length).toBe(500);
    for (const hub of [t.a, t.b]) expect(through(hub.origin).filter((r) => r.status === 201).length, `${hub.label} registered none`).toBeGreaterThan(0);
    const given = results.filter((r) => r.status === 201).map((r) => r.vpnIp);
    expect(given.filter((ip, i) => given.indexOf(ip) !== i), 'the same VPN address answered twice').toEqual([]);
    // Listed through either hub: the same registry.
    await checkRegistry('listed by hub B', t.b);
    const registry = await checkRegistry('listed by hub A', t.a);
    const anyway = results.filter((r) => r.status !== 201 && registry.has(r.nodeId)).length;
    if (anyway > 0) console.log(`two-hubs: ${anyway} of the registrations answered 503 are in the registry all the same`);
  }, 240_000);

  it("3. W1 (wgvm-userspace) and W2 (wireguard-go), installed from hub A's install links with agents for both hubs, reach the hub and each other", async () => {
    const t0 = Date.now();
    w1 = await t.install('w1', 'wgvm');
    w2 = await t.install('w2', 'wireguard-go');
    const installed = Date.now();
    t.startAgent('w1');
    t.startAgent('w2');
    for (const [x, y] of [[w1, w2], [w2, w1]] as const) {
      await t.until(`${x.name} to ping the hub VPN address`, () => pingOnce(x.s, HUB_VPN_IP), 30_000);
      await t.until(`${x.name} to ping ${y.name}`, () => pingOnce(x.s, y.vpnIp), 30_000);
    }
    const direct = (await t.isDirect(w1, w2)) && (await t.isDirect(w2, w1));
    console.log(`two-hubs: W1, W2 installed in ${secs(installed - t0)} s; both reach the hub and each other (${direct ? 'direct' : 'through the hub'}) ${secs(Date.now() - installed)} s after their agents started`);
    // (t.install checked that each installer named both hubs to its agent)
  }, 180_000);

  it('3. hub A killed (SIGKILL): B says active within 15 s; registrations meanwhile are 201 or 503 with Retry-After, and every 201 is in the registry', async () => {
    expect((await t.ha(t.b)).active_hub, 'A is active before the kill').toBe(TWO_HUBS.a.hubId);
    await t.a.kill();
    killedAt = Date.now();
    following = Promise.all(
      ([[w1, w2], [w2, w1]] as const).map(async ([x, y]) => {
        let hub: number | null = null;
        let peer: number | null = null;
        while (Date.now() - killedAt < 45_000 && (hub === null || peer === null)) {
          if (hub === null && (await pingOnce(x.s, HUB_VPN_IP))) hub = (Date.now() - killedAt) / 1000;
          if (peer === null && (await pingOnce(x.s, y.vpnIp))) peer = (Date.now() - killedAt) / 1000;
          await sleep(100);
        }
        return [x.name, { hub, peer }] as const;
      }),
    ).then((pairs) => Object.fromEntries(pairs) as Record<'w1' | 'w2', { hub: number | null; peer: number | null }>);
    following.catch(() => {}); // (awaited by the next test)
    // Through B (and A, dead) every 200 ms while B takes over.
    const loop = t.registerLoop(t.a.s, [t.b.origin, t.a.origin], ['loop-b', 'loop-a'], 200, 25_000);
    const bActive = await t
      .until("B's status to say active", async () => (await t.ha(t.b, 2)).role === 'active', 30_000)
      .then(() => (Date.now() - killedAt) / 1000)
      .catch(() => null);
    const results = await loop;
    const viaB = results.filter((r) => r.origin === t.b.origin);
    const viaA = results.filter((r) => r.origin === t.a.origin);
    // How long registering through B was unavailable (the longest stretch between 201s, from the kill).
    let longest = 0;
    let prev = killedAt;
    for (const at of [...viaB.filter((r) => r.status === 201).map((r) => r.at + r.ms), killedAt + 25_000].sort((x, y) => x - y)) {
      longest = Math.max(longest, at - prev);
      prev = at;
    }
    const ha = await t.ha(t.b).catch((e: Error) => e.message);
    console.log(
      `two-hubs: A killed: B active ${bActive === null ? 'not within 30 s' : `${bActive.toFixed(1)} s`} after the kill; ` +
        `registrations over 25 s through B: ${tally(viaB)} (longest stretch without a 201: ${secs(longest)} s); through A: ${tally(viaA)}`,
    );
    for (const r of results) if (r.status === 201) created.set(r.nodeId, r.vpnIp!);

    expect(bActive, fail('B did not say active within 30 s of the kill')).not.toBeNull();
    expect(bActive!, fail('B took over in more than 15 s')).toBeLessThanOrEqual(15);
    expect(ha, fail("B's status after the takeover")).toMatchObject({ role: 'active', active_hub: TWO_HUBS.b.hubId });
    expect(await t.hubActiveMetric(t.b)).toEqual({ hubId: TWO_HUBS.b.hubId, value: 1 });
    const badB = viaB.filter((r) => !acceptable(r));
    expect(badB.length, fail(`B answered other than 201 or 503 with Retry-After:\n${sample(badB)}`)).toBe(0);
    const badA = viaA.filter((r) => r.status !== 0 && !acceptable(r));
    expect(badA.length, fail(`(dead) A answered other than 201 or 503 with Retry-After:\n${sample(badA)}`)).toBe(0);
    expect(viaB.filter((r) => r.status === 201).length, 'no registration through B succeeded').toBeGreaterThan(0);
    await checkRegistry('after the failover', t.b);
  }, 120_000);

  it('3. after the kill, W1 and W2 reach the hub VPN address and each other again within 45 s', async () => {
    expect(following, 'the kill did not happen').toBeDefined();
    const r = await following!;
    const show = (x: { hub: number | null; peer: number | null }) => `hub ${x.hub === null ? 'not within 45 s' : `${x.hub.toFixed(1)} s`}, the other worker ${x.peer === null ? 'not within 45 s' : `${x.peer.toFixed(1)} s`}`;
    const agents = [w1, w2].map((w) => `${w.name}'s agent ${w.agent?.exitCode === null && w.agent.signalCode === null ? 'running' : `exited (${w.agent?.exitCode ?? w.agent?.signalCode})`}`);
    console.log(`two-hubs: after A's kill: W1 reaches ${show(r.w1)}; W2 reaches ${show(r.w2)} (${agents.join(', ')})`);
    for (const name of ['w1', 'w2'] as const) {
      expect.soft(r[name].hub, fail(`${name} did not reach the hub VPN address within 45 s of the kill (${agents.join(', ')})`)).not.toBeNull();
      expect.soft(r[name].peer, fail(`${name} did not reach the other worker within 45 s of the kill (${agents.join(', ')})`)).not.toBeNull();
    }
  }, 60_000);

  it("4. A restarted is a standby; B's database link cut: B's WireGuard packets stop before A's start (tcpdump in W1 and W2), then the workers reach the hub through A", async () => {
    await t.start('a');
    await t.until('A (restarted) to say standby naming B', async () => {
      const ha = await t.ha(t.a);
      return ha.role === 'standby' && ha.active_hub === TWO_HUBS.b.hubId;
    }, 20_000);
    expect((await t.ha(t.b)).role, 'B is active before the cut').toBe('active');
    const workers = { w1, w2 };
    const captures = { w1: new UdpCapture(w1.s, 'eth0'), w2: new UdpCapture(w2.s, 'eth0') };
    for (const c of Object.values(captures)) await c.start();
    const pings = { w1: new ContinuousPing(w1.s, HUB_VPN_IP), w2: new ContinuousPing(w2.s, HUB_VPN_IP) };
    await sleep(3000); // the workers' traffic with B before the cut
    const cutAt = Date.now() / 1000;
    t.cutDatabase(t.b);
    const fromA = addressPort(TWO_HUBS.a.public);
    const fromB = addressPort(TWO_HUBS.b.public);
    const switched = (name: 'w1' | 'w2') => {
      const first = captures[name].from(fromA)[0];
      return first !== undefined && pings[name].replies.some((r) => r > first.t);
    };
    while (Date.now() / 1000 - cutAt < 60 && !(switched('w1') && switched('w2'))) await sleep(250);
    await sleep(1000);
    const endAt = Date.now() / 1000;
    for (const c of Object.values(captures)) await c.stop();
    for (const p of Object.values(pings)) await p.stop();

    const after = (t0: number | undefined) => (t0 === undefined ? 'never' : `${(t0 - cutAt).toFixed(2)} s`);
    // The fenced device stops answering at once; the process notices when its thread is free again
    // (it waits for the database meanwhile) and exits.
    const fenced = /lease on the shared registry was not renewed in time/.test(t.b.log) ? 'its log says its device stopped for the lease' : 'its log does not say yet that its device stopped';
    const bState = t.b.running ? `still running (${fenced})` : `exited (${t.b.process?.exitCode ?? t.b.process?.signalCode}) ${after(t.b.exitedAt! / 1000)} after the cut (${fenced})`;
    console.log(`two-hubs: B's database link cut: B ${bState}`);
    const figures = {} as Record<'w1' | 'w2', { beforeCut: number; lastB: number | undefined; firstA: number | undefined; late: number; viaA: number | undefined }>;
    for (const name of ['w1', 'w2'] as const) {
      const b = captures[name].from(fromB);
      const a = captures[name].from(fromA);
      const firstA = a[0]?.t;
      const lastB = b.at(-1)?.t;
      const viaA = firstA === undefined ? undefined : pings[name].replies.find((r) => r > firstA);
      figures[name] = { beforeCut: b.filter((p) => p.t < cutAt).length, lastB, firstA, late: firstA === undefined ? 0 : b.filter((p) => p.t >= firstA).length, viaA };
      const gap = lastB !== undefined && firstA !== undefined ? `${(firstA - lastB).toFixed(2)} s` : 'n/a';
      console.log(
        `two-hubs: ${name}: ${b.length} packets from B (last ${after(lastB)} after the cut), ${a.length} from A (first ${after(firstA)}): gap ${gap}; ` +
          `ping of the hub: first reply through A ${after(viaA)} after the cut, longest without a reply ${pings[name].longestGap(cutAt, endAt).toFixed(1)} s`,
      );
    }
    for (const name of ['w1', 'w2'] as const) {
      const f = figures[name];
      const w = workers[name];
      expect.soft(f.beforeCut, fail(`${name}: no packet from hub B before the cut: the worker was not talking to the active hub (it did not follow the failover in test 3)`)).toBeGreaterThan(0);
      expect.soft(f.firstA, fail(`${name}: no packet from hub A within 60 s of the cut`)).toBeDefined();
      expect.soft(f.late, fail(`${name}: packets from B at or after A's first (${after(f.firstA)} after the cut)`)).toBe(0);
      expect.soft(f.viaA, fail(`${name}: no ping reply from the hub VPN address after A's first packet`)).toBeDefined();
      const endpoint = (await t.wgField(w, 'endpoints', hubKey))[0];
      expect.soft(endpoint, fail(`${name}'s hub peer endpoint`)).toBe(`${TWO_HUBS.a.public}:${TWO_HUBS.wgPort}`);
    }
    expect.soft((await t.ha(t.a)).role, "A's status after the switch").toBe('active');
    await checkRegistry('after the switch back to A', t.a);
  }, 150_000);
});
