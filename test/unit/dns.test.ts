// The hub's DNS server (src/dns) in-process on loopback: the VPN is 127.77.0.0/16 (every 127/8
// address is this host's, so clients can send from a "node's" address without root), the hub is
// 127.77.0.1, and the registry is a Map the tests change between queries. Queries are built and
// answers read with dns-packet, as a resolver would see them; test/netns/dns.test.ts asks with dig
// through real tunnels.
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type Question } from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../src/domain/ip.js';
import { QueryLimiter } from '../../src/dns/rate-limit.js';
import { DnsServer, type DnsServerOptions } from '../../src/dns/server.js';
import { MAX_QUERY_BYTES, writeReply } from '../../src/dns/wire.js';
import type { ZoneData } from '../../src/dns/zone.js';

const HUB = '127.77.0.1';
const W1 = '127.77.1.2';
const W2 = '127.77.1.3';
const STRANGER = '127.77.1.99'; // inside the VPN, no node's
const OUTSIDE = '127.0.0.1';
const DOMAIN = 'wg.internal';

/** The registry as the zone sees it: node ID → address, enabled or not. */
let nodes: Map<string, { ip: string; enabled: boolean }>;
let server: DnsServer;
let port: number;

const data: ZoneData = {
  addressOf: (id) => {
    const n = nodes.get(id);
    return n?.enabled ? n.ip : null;
  },
  nodeAt: (address) => {
    for (const [id, n] of nodes) if (n.enabled && parseIpv4(n.ip) === address) return id;
    return null;
  },
};

async function start(extra: Partial<DnsServerOptions> = {}): Promise<void> {
  // Port 0 is not allowed for both sockets at once (they must agree): try free-looking ports.
  for (let attempt = 0; ; attempt++) {
    port = 20000 + Math.floor(Math.random() * 40000);
    try {
      server = await DnsServer.start({
        zone: { domain: DOMAIN, subnet: { network: parseIpv4('127.77.0.0')!, prefix: 16 }, hubAddress: parseIpv4(HUB)! },
        data,
        host: HUB,
        port,
        ...extra,
      });
      return;
    } catch (err) {
      if (attempt > 10) throw err;
    }
  }
}

beforeEach(async () => {
  nodes = new Map([
    ['worker-01', { ip: W1, enabled: true }],
    ['worker-02', { ip: W2, enabled: true }],
  ]);
  await start();
});

afterEach(async () => {
  await server.close();
});

let nextId = 1;
const query = (name: string, type: Question['type'] = 'A', extra: Partial<Packet> = {}): Buffer =>
  dnsPacket.encode({ id: nextId++ & 0xffff, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra });

/** Sends raw bytes over UDP from `from`; the decoded answer, or null when none comes within `wait` ms. */
async function udp(bytes: Buffer, from = W1, wait = 300): Promise<DecodedPacket | null> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind({ address: from, port: 0 }, () => r()));
  try {
    return await new Promise<DecodedPacket | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), wait);
      socket.once('message', (msg) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(msg));
      });
      socket.send(bytes, port, HUB);
    });
  } finally {
    socket.close();
  }
}

const ask = (name: string, type: Question['type'] = 'A', from = W1) => udp(query(name, type), from);

const rcodeOf = (p: DecodedPacket | null) => (p as (DecodedPacket & { rcode: string }) | null)?.rcode;
const data0 = (p: DecodedPacket | null) => (p?.answers?.[0] as { data?: unknown } | undefined)?.data;

/** Messages over one TCP connection (each with its two-byte length); the answers that came back before it closed or `wait` passed. */
async function tcp(messages: Buffer[], from = W1, wait = 500, lengths?: number[]): Promise<{ answers: DecodedPacket[]; closed: boolean }> {
  const socket = connect({ host: HUB, port, localAddress: from });
  const answers: DecodedPacket[] = [];
  let pending = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      answers.push(dnsPacket.decode(pending.subarray(2, 2 + pending.readUInt16BE(0))));
      pending = pending.subarray(2 + pending.readUInt16BE(0));
    }
  });
  socket.on('error', () => {});
  const done = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
  await new Promise<void>((r, j) => (socket.once('connect', () => r()), socket.once('error', j))).catch(() => {});
  for (const [i, m] of messages.entries()) {
    const head = Buffer.alloc(2);
    head.writeUInt16BE(lengths?.[i] ?? m.length);
    socket.write(Buffer.concat([head, m]));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, wait))]);
  socket.destroy();
  return { answers, closed };
}

describe('the zone', () => {
  it('answers A for <node_id>.<domain> with the node’s address, authoritatively, in any letter case', async () => {
    const a = await ask('worker-02.wg.internal');
    expect(rcodeOf(a)).toBe('NOERROR');
    expect(a!.flag_aa).toBe(true);
    expect(a!.answers).toEqual([expect.objectContaining({ name: 'worker-02.wg.internal', type: 'A', data: W2, ttl: 1 })]);
    expect(a!.questions).toEqual([{ name: 'worker-02.wg.internal', type: 'A', class: 'IN' }]);
    expect(data0(await ask('Worker-01.WG.Internal'))).toBe(W1);
  });

  it('answers NXDOMAIN with the zone’s SOA for an unknown node, and for a name two labels down', async () => {
    for (const name of ['worker-99.wg.internal', 'a.worker-01.wg.internal']) {
      const a = await ask(name);
      expect(rcodeOf(a), name).toBe('NXDOMAIN');
      expect(a!.answers).toEqual([]);
      expect(a!.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: DOMAIN })]);
    }
  });

  it('answers a node’s other types with no data (NOERROR, SOA): it has an IPv4 address only', async () => {
    const a = await ask('worker-01.wg.internal', 'AAAA');
    expect(rcodeOf(a)).toBe('NOERROR');
    expect(a!.answers).toEqual([]);
    expect(a!.authorities?.[0]?.type).toBe('SOA');
  });

  it('stops answering a node the moment it is disabled or deleted, and answers it again once it is back', async () => {
    expect(data0(await ask('worker-01.wg.internal'))).toBe(W1);
    nodes.get('worker-01')!.enabled = false;
    expect(rcodeOf(await ask('worker-01.wg.internal', 'A', W2))).toBe('NXDOMAIN');
    nodes.delete('worker-02');
    expect(rcodeOf(await ask('worker-02.wg.internal', 'A', HUB))).toBe('NXDOMAIN');
    nodes.set('worker-02', { ip: W2, enabled: true });
    expect(data0(await ask('worker-02.wg.internal', 'A', HUB))).toBe(W2);
  });

  it('names the hub: the zone’s apex has its address, the NS and the SOA', async () => {
    expect(data0(await ask(DOMAIN))).toBe(HUB);
    expect(data0(await ask(DOMAIN, 'NS'))).toBe(DOMAIN);
    expect((data0(await ask(DOMAIN, 'SOA')) as { mname: string }).mname).toBe(DOMAIN);
  });

  it('answers PTR for VPN addresses: a node’s name, the hub’s, NXDOMAIN for a free address', async () => {
    expect(data0(await ask('3.1.77.127.in-addr.arpa', 'PTR'))).toBe('worker-02.wg.internal');
    expect(data0(await ask('1.0.77.127.in-addr.arpa', 'PTR'))).toBe(DOMAIN);
    const free = await ask('200.1.77.127.in-addr.arpa', 'PTR');
    expect(rcodeOf(free)).toBe('NXDOMAIN');
    expect(free!.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: '77.127.in-addr.arpa' })]);
    nodes.delete('worker-02');
    expect(rcodeOf(await ask('3.1.77.127.in-addr.arpa', 'PTR'))).toBe('NXDOMAIN');
  });

  it('refuses what it is not the authority for: other names, other reverse zones, other classes', async () => {
    for (const [name, type] of [
      ['example.com', 'A'],
      ['internal', 'A'],
      ['1.1.1.1.in-addr.arpa', 'PTR'],
      ['2.1.78.127.in-addr.arpa', 'PTR'],
      ['01.1.77.127.in-addr.arpa', 'PTR'],
      ['.', 'NS'],
    ] as const) {
      const a = await ask(name, type);
      expect(rcodeOf(a), name).toBe('REFUSED');
      expect(a!.flag_aa).toBe(false);
      expect(a!.flag_ra).toBe(false); // no recursion here
    }
    const chaos = await udp(query('worker-01.wg.internal', 'A', { questions: [{ name: 'worker-01.wg.internal', type: 'A', class: 'CH' }] }));
    expect(rcodeOf(chaos)).toBe('REFUSED');
  });

  it('keeps the query’s ID and RD bit, and answers EDNS with its own OPT record', async () => {
    const bytes = query('worker-01.wg.internal', 'A', {
      id: 4242,
      additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    const a = await udp(bytes);
    expect(a!.id).toBe(4242);
    expect(a!.flag_rd).toBe(true);
    expect(a!.additionals).toEqual([expect.objectContaining({ type: 'OPT', udpPayloadSize: 1232 })]);
    const v1 = await udp(
      query('worker-01.wg.internal', 'A', {
        additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }],
      }),
    );
    expect(v1!.answers).toEqual([]);
    expect(v1!.additionals).toEqual([expect.objectContaining({ type: 'OPT', extendedRcode: 1 })]); // BADVERS
  });
});

describe('who is answered', () => {
  it('answers the hub itself and enabled nodes; not an address outside the VPN, nor one that is no enabled node’s', async () => {
    expect(data0(await ask('worker-01.wg.internal', 'A', HUB))).toBe(W1);
    expect(data0(await ask('worker-01.wg.internal', 'A', W2))).toBe(W1);
    expect(await ask('worker-01.wg.internal', 'A', OUTSIDE)).toBeNull();
    expect(await ask('worker-01.wg.internal', 'A', STRANGER)).toBeNull();
    nodes.get('worker-02')!.enabled = false;
    expect(await ask('worker-01.wg.internal', 'A', W2)).toBeNull();
    expect(server.stats.refused).toBe(3);
    expect(server.stats.answered).toBe(2);
  });

  it('over TCP as well: a connection from outside is closed unanswered', async () => {
    const r = await tcp([query('worker-01.wg.internal')], OUTSIDE);
    expect(r.answers).toEqual([]);
    expect(r.closed).toBe(true);
  });
});

describe('TCP', () => {
  it('answers several queries on one connection, in order', async () => {
    const r = await tcp([query('worker-01.wg.internal'), query('worker-02.wg.internal'), query('nobody.wg.internal')]);
    expect(r.answers.map((a) => data0(a) ?? rcodeOf(a))).toEqual([W1, W2, 'NXDOMAIN']);
  });

  it('closes a connection announcing a message longer than any query', async () => {
    const r = await tcp([Buffer.alloc(10)], W1, 500, [MAX_QUERY_BYTES + 1]);
    expect(r.closed).toBe(true);
    expect(r.answers).toEqual([]);
  });

  it('takes at most 4 connections from one source', async () => {
    const sockets = Array.from({ length: 4 }, () => connect({ host: HUB, port, localAddress: W1 }));
    await Promise.all(sockets.map((s) => new Promise((r) => s.once('connect', r))));
    await new Promise((r) => setTimeout(r, 50));
    const fifth = await tcp([query('worker-01.wg.internal')], W1, 300);
    expect(fifth.answers).toEqual([]);
    expect(fifth.closed).toBe(true);
    const other = await tcp([query('worker-01.wg.internal')], W2, 300);
    expect(other.answers.map(data0)).toEqual([W1]);
    for (const s of sockets) s.destroy();
  });
});

describe('malformed and hostile input', () => {
  /** A header with the given flags and counts, then `rest`. */
  const header = (flags: number, counts: [number, number, number, number], rest: number[] = []) => {
    const b = Buffer.alloc(12 + rest.length);
    b.writeUInt16BE(0x1234, 0);
    b.writeUInt16BE(flags, 2);
    counts.forEach((c, i) => b.writeUInt16BE(c, 4 + 2 * i));
    Buffer.from(rest).copy(b, 12);
    return b;
  };

  it.each([
    ['a header claiming a question that is not there', header(0x0100, [1, 0, 0, 0])],
    ['a name running past the end', header(0x0100, [1, 0, 0, 0], [5, 0x61, 0x62])],
    ['a compression pointer to itself', header(0x0100, [1, 0, 0, 0], [0xc0, 12, 0, 1, 0, 1])],
    ['a forward compression pointer', header(0x0100, [1, 0, 0, 0], [0xc0, 20, 0, 1, 0, 1, 0, 0, 0])],
    ['a reserved label type', header(0x0100, [1, 0, 0, 0], [0x80, 0, 0, 1, 0, 1])],
    ['65535 questions claimed, one sent', Buffer.concat([header(0x0100, [65535, 65535, 65535, 65535]), query('worker-01.wg.internal').subarray(12)])],
    ['no question at all', header(0x0100, [0, 0, 0, 0])],
    ['two questions', dnsPacket.encode({ id: 0x1234, type: 'query', questions: [{ name: 'a.wg.internal', type: 'A' }, { name: 'b.wg.internal', type: 'A' }] })],
  ])('%s: FORMERR with the query’s ID, no question echoed', async (_what, bytes) => {
    const a = await udp(bytes);
    expect(rcodeOf(a)).toBe('FORMERR');
    expect(a!.id).toBe(0x1234);
    expect(a!.questions).toEqual([]);
  });

  it('answers another opcode with NOTIMP, keeping the opcode', async () => {
    const notify = query('wg.internal', 'SOA');
    notify.writeUInt16BE((4 << 11) | 0x0100, 2);
    const a = await udp(notify);
    expect(rcodeOf(a)).toBe('NOTIMP');
    expect((a as DecodedPacket & { opcode: string }).opcode).toBe('NOTIFY');
  });

  it.each([
    ['shorter than a header', Buffer.from([1, 2, 3])],
    ['a response (never answered, so two servers cannot ping-pong)', dnsPacket.encode({ type: 'response', id: 7, questions: [{ name: 'worker-01.wg.internal', type: 'A' }] })],
    ['longer than any query', Buffer.concat([query('worker-01.wg.internal'), Buffer.alloc(MAX_QUERY_BYTES)])],
  ])('%s: dropped', async (_what, bytes) => {
    expect(await udp(bytes)).toBeNull();
    expect(server.stats.dropped).toBe(1);
  });

  it('a name with bytes dns-packet cannot write back as they came: REFUSED, not echoed', async () => {
    const bytes = header(0x0100, [1, 0, 0, 0], [3, 0x61, 0x2e, 0xff, 2, 0x77, 0x67, 0, 0, 1, 0, 1]);
    const a = await udp(bytes);
    expect(rcodeOf(a)).toBe('REFUSED');
    expect(a!.questions).toEqual([]);
  });

  it('10,000 random datagrams (and truncations of a real query) from one node: no failure, and the next query from another node is answered at once', async () => {
    const valid = query('worker-02.wg.internal');
    const floodBegan = performance.now();
    const flooder = createSocket('udp4');
    await new Promise<void>((r) => flooder.bind({ address: W1, port: 0 }, () => r()));
    for (let i = 0; i < 10_000; i++) {
      const bytes = i % 4 === 0 ? valid.subarray(0, 1 + (i % valid.length)) : randomBytes(1 + (i % 600));
      flooder.send(bytes, port, HUB);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // the server reads on this thread too
    }
    // Sent: what the socket's buffer could not hold is gone; the rest is read before the next query.
    await new Promise<void>((r) => flooder.send(Buffer.alloc(0), port, HUB, () => r()));
    const seen = () => server.stats.limited + server.stats.dropped + server.stats.answered + server.stats.refused;
    for (let before = -1; before !== seen(); ) {
      before = seen();
      await new Promise((r) => setTimeout(r, 10));
    }
    const began = performance.now();
    const a = await ask('worker-02.wg.internal', 'A', W2);
    const ms = performance.now() - began;
    flooder.close();
    expect(data0(a)).toBe(W2);
    expect(ms).toBeLessThan(100);
    expect(server.stats.failed).toBe(0);
    // The flooder got no more than its rate limit's worth of replies (200 at once, 200 a second);
    // the rest was refused before anything was decoded.
    const seconds = (began - floodBegan) / 1000;
    expect(server.stats.answered - 1).toBeLessThanOrEqual(200 + Math.ceil(200 * seconds));
    expect(server.stats.limited).toBeGreaterThan(1000);
    console.log(`dns flood (in-process): ${seen()} of 10,000 datagrams read in ${seconds.toFixed(2)} s, ${server.stats.limited} over the limit; next query answered in ${ms.toFixed(1)} ms`);
  });
});

describe('rate limits', () => {
  it('a source over its limit goes unanswered while others are answered, and gets answers again after a pause', async () => {
    await server.close();
    let now = 0;
    await start({ limiter: new QueryLimiter({ perSource: 10, burst: 5, total: 1000, maxSources: 16 }, () => now) });
    const answered = [];
    for (let i = 0; i < 8; i++) answered.push(await ask('worker-01.wg.internal', 'A', W1));
    expect(answered.filter((a) => a !== null)).toHaveLength(5);
    expect(data0(await ask('worker-01.wg.internal', 'A', W2))).toBe(W1);
    now += 1000; // the clock the limiter reads: 10 more tokens, capped at the burst
    expect(data0(await ask('worker-01.wg.internal', 'A', W1))).toBe(W1);
    expect(server.stats.limited).toBe(3);
  });

  it('all sources together are bounded too, and the table of sources stays within its size', () => {
    let now = 0;
    const limiter = new QueryLimiter({ perSource: 100, burst: 100, total: 50, maxSources: 8 }, () => now);
    let taken = 0;
    for (let source = 0; source < 100; source++) if (limiter.take(source)) taken++;
    expect(taken).toBe(50);
    expect(limiter.size).toBe(8);
    now += 1000;
    expect(limiter.take(1)).toBe(true);
  });
});

describe('replies over UDP fit the client', () => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(60)}`; // a domain near VPN_DOMAIN's limit
  const soa = (name: string): Answer => ({
    name,
    type: 'SOA',
    ttl: 1,
    data: { mname: name, rname: `hostmaster.${name}`, serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 },
  });
  const reply: Packet = {
    id: 1,
    type: 'response',
    questions: [{ name: `worker-01.${long}`, type: 'A' }],
    answers: [{ name: `worker-01.${long}`, type: 'A', ttl: 1, data: W1 }],
    authorities: [soa(long)],
  };

  it('without EDNS at most 512 bytes: the authority section goes first, the answer stays', () => {
    expect(dnsPacket.encode(reply).length).toBeGreaterThan(512);
    const bytes = writeReply(reply, null, 'udp');
    expect(bytes.length).toBeLessThanOrEqual(512);
    const back = dnsPacket.decode(bytes);
    expect(back.answers).toHaveLength(1);
    expect(back.flag_tc).toBe(false);
    expect(writeReply(reply, null, 'tcp').length).toBe(dnsPacket.encode(reply).length);
  });

  it('when even the answer does not fit: no records and the TC bit, which sends the client to TCP', () => {
    const big: Packet = { ...reply, answers: Array.from({ length: 3 }, () => reply.answers![0]!) };
    const back = dnsPacket.decode(writeReply(big, null, 'udp'));
    expect(back.flag_tc).toBe(true);
    expect(back.answers).toEqual([]);
    // With EDNS the client's size counts (up to the hub's 1232).
    const edns: OptAnswer = { name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
    expect(dnsPacket.decode(writeReply(big, edns, 'udp')).answers).toHaveLength(3);
  });
});
