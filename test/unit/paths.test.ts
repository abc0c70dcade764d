// The path manager (src/paths/manager.ts) with simulated time: which pairs are tried, in which
// order their endpoints are tried, and when a pair goes direct, falls back to the relay, or is tried
// again; and an agent's report read into the hub's time (src/paths/report.ts).
import { describe, expect, it } from 'vitest';
import { pairKey, type PairState } from '../../src/domain/paths.js';
import { peersAnswer } from '../../src/paths/answer.js';
import {
  AGENT_FRESH_MS,
  agentPeer,
  candidates,
  HANDSHAKE_DEAD_MS,
  MAX_AGENT_NODES,
  plan,
  RETRY_FIRST_MS,
  RETRY_MAX_MS,
  RX_SILENT_MS,
  TRY_MS,
  type AgentReport,
  type PathNode,
  type PeerSighting,
} from '../../src/paths/manager.js';
import { checkReport, readReport, ReportError, type AgentReportBody } from '../../src/paths/report.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const T0 = 1_800_000_000_000;

function report(at: number, localAddresses: readonly string[], peers: Record<string, Partial<PeerSighting>> = {}, listenPort = 51820): AgentReport {
  const map = new Map<string, PeerSighting>();
  for (const [k, s] of Object.entries(peers)) map.set(k, { handshakeAt: null, rxBytes: 0, rxChangedAt: at, ...s });
  return { receivedAt: at, listenPort, localAddresses, peers: map };
}

function node(i: number, observed: string | null, extra: Partial<PathNode> = {}): PathNode {
  return {
    nodeId: `w${i}`,
    publicKey: key(i),
    vpnIp: `10.100.1.${i + 1}`,
    eligible: true,
    observedEndpoint: observed,
    report: report(T0, [`192.168.${i}.10/24`]),
    lastSeen: T0,
    ...extra,
  };
}

/** Runs plan() and applies its changes, as the hub does. */
class Sim {
  pairs = new Map<string, PairState>();
  constructor(public nodes: PathNode[]) {}
  step(now: number): void {
    const c = plan(this.nodes, this.pairs, now);
    for (const p of c.removed) this.pairs.delete(pairKey(p.a, p.b));
    for (const p of [...c.added, ...c.changed]) this.pairs.set(pairKey(p.a, p.b), p);
  }
  pair(x: number, y: number): PairState | undefined {
    return this.pairs.get(pairKey(`w${x}`, `w${y}`));
  }
  /** Node i's report at `at`, saying what it saw of node j. */
  sees(i: number, j: number, at: number, s: Partial<PeerSighting>): void {
    const n = this.nodes.find((x) => x.nodeId === `w${i}`)!;
    n.report = report(at, n.report!.localAddresses, { [key(j)]: s });
    n.lastSeen = at;
  }
}

describe('the path manager', () => {
  it('pairs two agents behind different NATs: each tries the other at the endpoint the hub sees, then goes direct on a handshake', () => {
    const sim = new Sim([node(1, '198.51.100.1:51820'), node(2, '203.0.113.2:40000')]);
    sim.step(T0);
    const p = sim.pair(1, 2)!;
    expect(p).toMatchObject({ state: 'trying', via: 'nat', attempt: 1, deadline: T0 + TRY_MS });
    const [w1, w2] = sim.nodes as [PathNode, PathNode];
    expect(agentPeer(w1, w2, p)).toEqual({ nodeId: 'w2', publicKey: key(2), allowedIp: '10.100.1.3/32', mode: 'try', endpoints: ['203.0.113.2:40000'], keepalive: 25 });
    expect(agentPeer(w2, w1, p)!.endpoints).toEqual(['198.51.100.1:51820']);

    // A handshake older than the try proves nothing; one after it does, from either side.
    sim.sees(1, 2, T0 + 3000, { handshakeAt: T0 - 5000 });
    sim.step(T0 + 3000);
    expect(sim.pair(1, 2)!.state).toBe('trying');
    sim.sees(2, 1, T0 + 4000, { handshakeAt: T0 + 3500 });
    sim.step(T0 + 4000);
    expect(sim.pair(1, 2)).toMatchObject({ state: 'direct', via: 'nat', since: T0 + 4000 });
    expect(agentPeer(w1, w2, sim.pair(1, 2)!)!.mode).toBe('direct');
  });

  it('a pair that never handshakes is relayed after the try, and tried again with doubling back-off', () => {
    const sim = new Sim([node(1, '198.51.100.1:51820'), node(3, '203.0.113.3:61000')]);
    sim.step(T0);
    sim.step(T0 + TRY_MS - 1);
    expect(sim.pair(1, 3)!.state).toBe('trying');
    let now = T0 + TRY_MS;
    sim.step(now);
    expect(sim.pair(1, 3)).toMatchObject({ state: 'relayed', via: null, deadline: now + RETRY_FIRST_MS });
    expect(agentPeer(sim.nodes[0]!, sim.nodes[1]!, sim.pair(1, 3)!)).toBeNull(); // no peer while relayed
    const waits: number[] = [];
    for (let attempt = 2; attempt <= 8; attempt++) {
      const relayedAt = now;
      now = sim.pair(1, 3)!.deadline;
      for (const n of sim.nodes) n.lastSeen = now; // the agents keep reporting
      sim.step(now);
      expect(sim.pair(1, 3)).toMatchObject({ state: 'trying', attempt });
      now += TRY_MS;
      sim.step(now);
      expect(sim.pair(1, 3)!.state).toBe('relayed');
      waits.push(sim.pair(1, 3)!.deadline - now);
      expect(relayedAt).toBeLessThan(now);
    }
    expect(waits).toEqual([2, 4, 8, 16, 30, 30, 30].map((m) => Math.min(m * RETRY_FIRST_MS, RETRY_MAX_MS)));
  });

  it('workers behind one public address try each other on the LAN first, then through the NAT', () => {
    // W1 and W4 share NAT 198.51.100.1; each also has the same docker bridge address, which is no LAN.
    const w1 = node(1, '198.51.100.1:51820', { report: report(T0, ['192.168.1.10/24', '172.17.0.1/16'], {}, 51820) });
    const w4 = node(4, '198.51.100.1:1024', { report: report(T0, ['192.168.1.14/24', '172.17.0.1/16', '10.9.9.9/8'], {}, 51821) });
    expect(candidates(w1, w4)).toEqual([
      { endpoint: '192.168.1.14:51821', via: 'lan' },
      { endpoint: '198.51.100.1:1024', via: 'nat' },
    ]);
    const sim = new Sim([w1, w4]);
    sim.step(T0);
    expect(sim.pair(1, 4)).toMatchObject({ state: 'trying', via: 'lan', candidate: 0 });
    expect(agentPeer(w1, w4, sim.pair(1, 4)!)!.endpoints).toEqual(['192.168.1.14:51821', '198.51.100.1:1024']);
    sim.step(T0 + TRY_MS);
    expect(sim.pair(1, 4)).toMatchObject({ state: 'trying', via: 'nat', candidate: 1 });
    expect(agentPeer(w4, w1, sim.pair(1, 4)!)!.endpoints).toEqual(['198.51.100.1:51820', '192.168.1.10:51820']);
    sim.step(T0 + 2 * TRY_MS);
    expect(sim.pair(1, 4)!.state).toBe('relayed');
    // Different public addresses: no LAN candidates, however alike the LANs look.
    expect(candidates(node(1, '198.51.100.1:1'), node(2, '203.0.113.2:2', { report: report(T0, ['192.168.1.20/24']) }))).toEqual([{ endpoint: '203.0.113.2:2', via: 'nat' }]);
  });

  it('a direct pair falls back to the relay when a side hears nothing, or its handshakes stop', () => {
    for (const lose of ['rx', 'handshake'] as const) {
      const sim = new Sim([node(1, '198.51.100.1:51820'), node(2, '203.0.113.2:40000')]);
      sim.step(T0);
      sim.sees(1, 2, T0 + 1000, { handshakeAt: T0 + 1000, rxBytes: 100 });
      sim.step(T0 + 1000);
      expect(sim.pair(1, 2)!.state).toBe('direct');
      let now = T0 + 1000;
      let rx = 100;
      // Both sides report every 20 s; while the path works rx grows and handshakes renew every 2 min.
      while (now < T0 + 10 * 60_000) {
        now += 20_000;
        const alive = now < T0 + 5 * 60_000;
        if (alive || lose === 'handshake') rx += 32;
        const handshakeAt = alive || lose === 'rx' ? now - ((now - T0) % 120_000) : T0 + 4 * 60_000;
        for (const [i, j] of [[1, 2], [2, 1]] as const) {
          const before = sim.nodes[i - 1]!.report!.peers.get(key(j));
          sim.sees(i, j, now, { handshakeAt, rxBytes: rx, rxChangedAt: before && before.rxBytes === rx ? before.rxChangedAt : now });
        }
        sim.step(now);
        if (sim.pair(1, 2)!.state !== 'direct') break;
      }
      expect(sim.pair(1, 2), lose).toMatchObject({ state: 'relayed', attempt: 1, deadline: now + RETRY_FIRST_MS });
      // Found within a report interval of the limit: counted from the last rx growth, or the last handshake.
      const lastSign = lose === 'rx' ? sim.nodes[0]!.report!.peers.get(key(2))!.rxChangedAt : T0 + 4 * 60_000;
      const limit = lose === 'rx' ? RX_SILENT_MS : HANDSHAKE_DEAD_MS;
      expect(now - lastSign, lose).toBeGreaterThan(limit);
      expect(now - lastSign, lose).toBeLessThanOrEqual(limit + 20_000);
    }
  });

  it('drops the pairs of a node that is disabled, isolated, turned off or whose agent went quiet', () => {
    for (const change of ['eligible', 'quiet'] as const) {
      const sim = new Sim([node(1, '198.51.100.1:1'), node(2, '203.0.113.2:2'), node(3, '203.0.113.3:3')]);
      sim.step(T0);
      expect(sim.pairs.size).toBe(3);
      for (const n of [sim.nodes[0]!, sim.nodes[2]!]) n.lastSeen = T0 + AGENT_FRESH_MS; // these keep reporting
      if (change === 'eligible') sim.nodes[1]!.eligible = false;
      sim.step(T0 + AGENT_FRESH_MS + 1);
      expect([...sim.pairs.keys()], change).toEqual([pairKey('w1', 'w3')]);
    }
  });

  it('pairs at most MAX_AGENT_NODES agents (a full mesh grows with their square)', () => {
    const many = Array.from({ length: MAX_AGENT_NODES + 3 }, (_, i) => node(i + 10, `203.0.113.9:${i + 1000}`, { nodeId: `w${String(i).padStart(4, '0')}` }));
    const c = plan(many, new Map(), T0);
    expect(c.added.length).toBe((MAX_AGENT_NODES * (MAX_AGENT_NODES - 1)) / 2);
  });

  it('a node with no endpoint to try at either end is relayed at once, and tried again later', () => {
    const sim = new Sim([node(1, null), node(2, null)]);
    sim.step(T0);
    expect(sim.pair(1, 2)).toMatchObject({ state: 'relayed', deadline: T0 + RETRY_FIRST_MS });
  });
});

describe("an agent's report", () => {
  const body = (extra: Partial<AgentReportBody> = {}): AgentReportBody => ({
    agent: 'wgvm-agent/1',
    time: 1_000_000,
    public_key: key(1),
    listen_port: 51820,
    local_addresses: ['192.168.1.10/24', 'fd00::5/64'],
    peers: [{ public_key: key(2), latest_handshake: 999_990, rx_bytes: 5, tx_bytes: 6, endpoint: '203.0.113.2:40000' }],
    ...extra,
  });

  it("reads handshake times against the report's own clock, not the hub's", () => {
    // The worker's clock is 11 days behind: the handshake was 10 s before its report, whatever the clocks say.
    const r = readReport(body(), T0, null);
    expect(r.peers.get(key(2))).toEqual({ handshakeAt: T0 - 10_000, rxBytes: 5, rxChangedAt: T0 });
    const later = readReport(body({ time: 1_000_020 }), T0 + 20_000, r);
    expect(later.peers.get(key(2))!.rxChangedAt).toBe(T0); // rx stood still
    const moved = readReport(body({ peers: [{ ...body().peers[0]!, rx_bytes: 9 }] }), T0 + 40_000, later);
    expect(moved.peers.get(key(2))!.rxChangedAt).toBe(T0 + 40_000);
    expect(readReport(body({ peers: [{ ...body().peers[0]!, latest_handshake: 0 }] }), T0, null).peers.get(key(2))!.handshakeAt).toBeNull();
  });

  it('refuses what the protocol does not allow, naming it', () => {
    const bad: [Partial<AgentReportBody>, RegExp][] = [
      [{ public_key: key(9) }, /not this node's registered key/],
      [{ public_key: 'x'.repeat(44) }, /public_key must be a WireGuard key/],
      [{ local_addresses: ['192.168.1.10'] }, /local_addresses\[0\]/],
      [{ local_addresses: ['192.168.1.10/33'] }, /local_addresses\[0\]/],
      [{ local_addresses: ['192.168.001.10/24'] }, /local_addresses\[0\]/],
      [{ local_addresses: ['$(reboot)/24'] }, /local_addresses\[0\]/],
      [{ peers: [{ ...body().peers[0]!, endpoint: 'evil.example.com:1' }] }, /peers\[0\]\.endpoint/],
      [{ peers: [{ ...body().peers[0]!, endpoint: '1.2.3.4:0' }] }, /peers\[0\]\.endpoint/],
      [{ peers: [{ ...body().peers[0]!, latest_handshake: 2_000_000 }] }, /later than the report/],
      [{ peers: [body().peers[0]!, body().peers[0]!] }, /appears twice/],
    ];
    for (const [extra, message] of bad) {
      expect(() => checkReport(body(extra), key(1)), JSON.stringify(extra)).toThrow(ReportError);
      expect(() => checkReport(body(extra), key(1))).toThrow(message);
    }
    expect(() => checkReport(body(), key(1))).not.toThrow();
  });
});

describe('the peers answer', () => {
  it('is the line format of docs/agent-protocol.md, the same content as the JSON, with a stable ETag', () => {
    const peer = { nodeId: 'w2', publicKey: key(2), allowedIp: '10.100.1.3/32', mode: 'try' as const, endpoints: ['203.0.113.2:40000', '192.168.1.3:51820'], keepalive: 25, presharedKey: key(77) };
    const a = peersAnswer([peer, { ...peer, publicKey: key(1), endpoints: [], mode: 'direct' }], 2);
    expect(a.text).toBe(
      'wgvm-agent-peers 1\npoll 2\n' +
        `peer ${key(1)} 10.100.1.3/32 ${key(77)} 25 direct -\n` +
        `peer ${key(2)} 10.100.1.3/32 ${key(77)} 25 try 203.0.113.2:40000,192.168.1.3:51820\n` +
        'end 2\n',
    );
    expect(a.json.peers).toHaveLength(2);
    expect(a.json.peers[1]).toEqual({ public_key: key(2), allowed_ip: '10.100.1.3/32', preshared_key: key(77), persistent_keepalive: 25, mode: 'try', endpoints: ['203.0.113.2:40000', '192.168.1.3:51820'] });
    expect(peersAnswer([{ ...peer, publicKey: key(1), endpoints: [], mode: 'direct' }, peer], 2).etag).toBe(a.etag); // order does not matter
    expect(peersAnswer([peer], 2).etag).not.toBe(a.etag);
    expect(peersAnswer([], 25).text).toBe('wgvm-agent-peers 1\npoll 25\nend 0\n');
  });
});
