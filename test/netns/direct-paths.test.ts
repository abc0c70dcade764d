// Direct worker-to-worker paths through NATs, end to end (the acceptance tests), in the NAT
// lab (src/bench/nat-lab.ts) with the real product: `wgvm serve` on the public address 203.0.113.10;
// W1 and W4 behind nat1 (one LAN), W2 behind nat2 (port-preserving), W3 behind nat3 (fully-random).
// Each worker is registered over the API and installed from its install link (`linux.sh` fetched with
// curl inside its sandbox and run there): W1 and W4 with wgvm-userspace, W2 and W3 with Debian's
// wireguard-go, each with the agent the installer wrote, run in the foreground.
//
// The agent's handling of malformed answers and the credential's isolation are in
// test/unit/agent.test.ts and test/unit/agent-api.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentLab, HUB_VPN_IP, type LabWorker } from '../../src/bench/agent-lab.js';
import { LAB, WORKERS } from '../../src/bench/nat-lab.js';
import { isRoot } from '../helpers/netns.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';

const TOOLS = ['wg', 'wg-quick', 'wireguard-go', 'ip', 'ping', 'nft', 'nsenter', 'unshare', 'curl', 'iperf3', 'ss'];
const skip = skipWithout(...TOOLS) || (!isRoot && !inCI);
const PING_INTERVAL = 0.2;

/** What `ping -i` printed: packets sent, replies, and the longest stretch without a reply (s), from the first packet sent to the last. */
function pingGaps(output: string, interval: number): { sent: number; received: number; longestGap: number } {
  const sent = Number(/(\d+) packets transmitted/.exec(output)?.[1] ?? 0);
  const seqs = [...output.matchAll(/icmp_seq=(\d+) ttl=\d+ time=/g)].map((m) => Number(m[1]));
  const uniq = [...new Set(seqs)].sort((a, b) => a - b);
  let longest = 0;
  let prev = 0; // "seq 0": the start, one interval before the first packet
  for (const seq of [...uniq, sent + 1]) {
    longest = Math.max(longest, (seq - prev - 1) * interval);
    prev = seq;
  }
  return { sent, received: uniq.length, longestGap: longest };
}

describe.skipIf(skip)('direct paths between workers through NATs (hub, installers, agents)', () => {
  let t: AgentLab;
  let w: Record<'w1' | 'w2' | 'w3' | 'w4', LabWorker>;
  let agentsAt = 0;
  let pingW3: Promise<{ stdout: string; stderr: string }>;
  const fail = (what: string) => `${what}\n${t.diagnostics()}`;

  beforeAll(async () => {
    requireTools(...TOOLS);
    if (!isRoot) throw new Error('namespace tests need root');
    t = await AgentLab.create();
    const t0 = Date.now();
    await t.startHub();
    const impl = { w1: 'wgvm', w2: 'wireguard-go', w3: 'wireguard-go', w4: 'wgvm' } as const;
    for (const name of WORKERS) await t.install(name, impl[name]);
    w = t.workers;
    console.log(`direct-paths: hub up and W1..W4 installed from their install links in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const name of WORKERS) t.startAgent(name);
    agentsAt = Date.now();
    // W1 → W3 pings from the agents' start until past the deadline of their pair going relayed.
    pingW3 = w.w1.s.runAsync('ping', ['-n', '-i', String(PING_INTERVAL), '-W', '1', '-w', '50', w.w3.vpnIp], { timeout: 60_000 });
  }, 240_000);

  afterAll(async () => {
    await t?.close();
  });

  it('W1 ↔ W2 (two port-preserving NATs) go direct within 30 s', async () => {
    await t.until('W1 and W2 to hold each other as direct peers', async () => (await t.isDirect(w.w1, w.w2)) && (await t.isDirect(w.w2, w.w1)), 30_000 - (Date.now() - agentsAt));
    const s = (Date.now() - agentsAt) / 1000;
    console.log(`direct-paths: W1↔W2 direct after ${s.toFixed(1)} s`);
    // The endpoint each holds is the other's NAT-mapped address.
    expect((await t.wgField(w.w1, 'endpoints', w.w2.publicKey))[0], fail('W1 → W2 endpoint')).toMatch(new RegExp(`^${LAB.nat.nat2.replace(/\./g, '\\.')}:\\d+$`));
    expect((await t.wgField(w.w2, 'endpoints', w.w1.publicKey))[0], fail('W2 → W1 endpoint')).toMatch(new RegExp(`^${LAB.nat.nat1.replace(/\./g, '\\.')}:\\d+$`));
    await t.until("the hub's view of W1↔W2 as direct", async () => (await t.paths('w1')).w2?.state === 'direct', 5000);
  });

  it('W1 ↔ W3 (fully-random NAT) end relayed within 45 s, and pings between them never stop for more than 5 s', async () => {
    const s = await t.until("the hub's view of W1↔W3 as relayed", async () => (await t.paths('w1')).w3?.state === 'relayed', 45_000 - (Date.now() - agentsAt));
    console.log(`direct-paths: W1↔W3 relayed after ${((Date.now() - agentsAt) / 1000).toFixed(1)} s (polled ${s.toFixed(1)} s here)`);
    // Relayed: W1 holds no peer for W3 (the agent dropped the try).
    await t.until('W1 to drop its try peer for W3', async () => (await t.wgField(w.w1, 'allowed-ips', w.w3.publicKey)).length === 0, 10_000);
    const out = await pingW3;
    const p = pingGaps(out.stdout, PING_INTERVAL);
    console.log(`direct-paths: W1 → W3 ping over 50 s: ${p.received}/${p.sent} replies, longest gap ${p.longestGap.toFixed(1)} s`);
    expect(p.sent, fail(out.stdout + out.stderr)).toBeGreaterThan(200);
    expect(p.longestGap, fail(out.stdout)).toBeLessThanOrEqual(5);
  }, 60_000);

  it('W1 → W2: a 10 s iperf3 adds no more than a few KB to the hub relayed counter', async () => {
    await pingW3; // (its relayed pings would count)
    expect(await t.isDirect(w.w1, w.w2), fail('W1↔W2 not direct before the iperf3')).toBe(true);
    const server = w.w2.s.spawn('iperf3', ['-s', '-1', '-B', w.w2.vpnIp]);
    await t.until('the iperf3 server in W2', async () => (await w.w2.s.execAsync('ss', ['-ltn'])).includes(`${w.w2.vpnIp}:5201`), 5000);
    const before = await t.relayedBytes();
    const r = await w.w1.s.runAsync('iperf3', ['-c', w.w2.vpnIp, '-t', '10', '-J'], { timeout: 30_000 });
    const after = await t.relayedBytes();
    expect(r.status, fail(`iperf3: ${r.stdout.slice(-500)}${r.stderr}\nserver: ${server.exitCode}`)).toBe(0);
    const bytes = JSON.parse(r.stdout).end.sum_received.bytes as number;
    console.log(`direct-paths: iperf3 W1 → W2 moved ${(bytes / 1e6).toFixed(1)} MB; the hub relayed ${after - before} bytes meanwhile`);
    expect(bytes).toBeGreaterThan(10e6);
    expect(after - before, fail('the hub relayed part of the transfer')).toBeLessThanOrEqual(4096);
  }, 60_000);

  it('W1 ↔ W4 (one LAN behind nat1, no hairpin) go direct over their LAN addresses', async () => {
    await t.until('W1↔W4 direct via the LAN in the hub', async () => {
      const p = (await t.paths('w1')).w4;
      return p?.state === 'direct' && p.via === 'lan';
    }, 30_000);
    expect(await t.isDirect(w.w1, w.w4), fail('W1 does not hold W4 as a direct peer')).toBe(true);
    expect(await t.isDirect(w.w4, w.w1), fail('W4 does not hold W1 as a direct peer')).toBe(true);
    expect((await t.wgField(w.w1, 'endpoints', w.w4.publicKey))[0], fail('W1 → W4 endpoint')).toMatch(new RegExp(`^${LAB.lan.w4.replace(/\./g, '\\.')}:\\d+$`));
    expect((await t.wgField(w.w4, 'endpoints', w.w1.publicKey))[0], fail('W4 → W1 endpoint')).toMatch(new RegExp(`^${LAB.lan.w1.replace(/\./g, '\\.')}:\\d+$`));
    const r = await w.w1.s.runAsync('ping', ['-n', '-c', '3', '-i', '0.2', '-W', '2', w.w4.vpnIp]);
    expect(r.stdout, fail(r.stdout + r.stderr)).toMatch(/3 received/);
  });

  it('the hub killed with SIGKILL: W1 ↔ W2 keep pinging for 185 s (past a rekey); all recovers when it restarts', async () => {
    const handshakeBefore = Number((await t.wgField(w.w1, 'latest-handshakes', w.w2.publicKey))[0]);
    await t.killHub();
    const killedAt = Date.now() / 1000;
    const out = await w.w1.s.runAsync('ping', ['-n', '-i', String(PING_INTERVAL), '-W', '1', '-w', '185', w.w2.vpnIp], { timeout: 200_000 });
    const p = pingGaps(out.stdout, PING_INTERVAL);
    const handshakeAfter = Number((await t.wgField(w.w1, 'latest-handshakes', w.w2.publicKey))[0]);
    console.log(
      `direct-paths: hub down: W1 → W2 ${p.received}/${p.sent} replies over 185 s, longest gap ${p.longestGap.toFixed(1)} s; ` +
        `W1's handshake with W2 ${handshakeBefore - killedAt | 0} s → +${handshakeAfter - killedAt | 0} s from the kill`,
    );
    expect(p.sent - p.received, fail(out.stdout.slice(-2000))).toBeLessThanOrEqual(5);
    expect(handshakeAfter, fail('no new handshake between W1 and W2 while the hub was down (no rekey)')).toBeGreaterThan(killedAt);
    expect(w.w1.agentLog, 'the agent says why it keeps its peers').toMatch(/cannot be reached.*kept the \d+ current direct peer/);
    for (const name of WORKERS) expect(t.workers[name].agent!.exitCode, fail(`${name}'s agent exited`)).toBeNull();

    const restart = Date.now();
    await t.startHub();
    for (const x of Object.values(w)) {
      await t.until(`${x.name} to reach the hub again`, async () => /1 received/.test((await x.s.runAsync('ping', ['-n', '-c', '1', '-W', '2', HUB_VPN_IP])).stdout), 60_000);
    }
    // Agents back off up to 30 s while the hub is away: each reports to the new hub within that.
    for (const x of Object.values(w)) {
      await t.until(`${x.name}'s agent to report to the restarted hub`, async () => (await t.node(x.name)).agent.reported_at !== null, 60_000);
    }
    await t.until("the hub's view of W1↔W2 as direct again", async () => (await t.paths('w1')).w2?.state === 'direct', 60_000);
    await t.until('W1 → W3 through the hub again', async () => /1 received/.test((await w.w1.s.runAsync('ping', ['-n', '-c', '1', '-W', '2', w.w3.vpnIp])).stdout), 30_000);
    expect(await t.isDirect(w.w1, w.w2), fail('W1↔W2 not direct after the restart')).toBe(true);
    console.log(`direct-paths: hub restarted: every worker answers, every agent reported, W1↔W2 is direct in its view after ${((Date.now() - restart) / 1000).toFixed(1)} s`);
  }, 330_000);

  it('deleting W2 at the hub: within 10 s W1 no longer holds W2 as a peer and W2 cannot reach W1', async () => {
    expect((await t.wgField(w.w1, 'allowed-ips', w.w2.publicKey)).length, fail('W1 holds no peer for W2 before the deletion')).toBe(1);
    const del = await t.api('DELETE', '/api/nodes/w2');
    expect(del.status, del.text).toBe(200);
    const s = await t.until("W2's key to leave W1's peers", async () => !(await w.w1.s.execAsync('wg', ['show', 'wg0', 'peers'])).includes(w.w2.publicKey), 10_000);
    console.log(`direct-paths: W2 deleted: gone from W1's peers after ${s.toFixed(1)} s`);
    const r = await w.w2.s.runAsync('ping', ['-n', '-c', '3', '-i', '0.3', '-W', '1', w.w1.vpnIp]);
    expect(r.stdout, fail(r.stdout)).toMatch(/ 0 received/);
  });
});
