// The fault relay on loopback: what a receiver behind it observes matches the faults asked for and
// the relay's own statistics, and one seed gives one sequence of decisions.
import { createSocket, type Socket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultRelay, parseAddress, REPLAY_WINDOW, ReplayLedger, seededRandom, type Faults } from '../../src/bench/fault-relay.js';

const open: (Socket | FaultRelay)[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  open.push(s);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  s.setRecvBufferSize(1 << 20); // no losses of the test's own on a busy machine
  return s;
}

// Sends `count` numbered datagrams from A through the relay to B and returns the numbers B got, in order.
async function through(faults: Faults, seed: number, count: number) {
  const a = await bound();
  const b = await bound();
  const relay = new FaultRelay(faults, seed);
  open.push(relay);
  const aSide = { host: '127.0.0.1', port: 0 };
  const bSide = { host: '127.0.0.1', port: 0 };
  await relay.start(aSide, { host: '127.0.0.1', port: a.address().port }, bSide, { host: '127.0.0.1', port: b.address().port });
  const seen: number[] = [];
  const from = new Set<number>();
  b.on('message', (m, rinfo) => {
    seen.push(m.readUInt32BE(0));
    from.add(rinfo.port);
  });
  const entry = relay.address('a').port;
  for (let i = 0; i < count; i++) {
    const m = Buffer.alloc(4);
    m.writeUInt32BE(i);
    a.send(m, entry, '127.0.0.1');
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1)); // stay well inside the socket buffers
  }
  const expected = () => relay.stats.aToB.sent;
  for (let waited = 0; relay.stats.aToB.inFlight > 0 || seen.length < expected(); waited += 10) {
    if (waited > 5000) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return { seen, stats: relay.stats.aToB, from: [...from], bSidePort: relay.address('b').port };
}

describe('fault relay', () => {
  it('forwards everything unchanged and in order without faults, from its other side', async () => {
    const { seen, stats, from, bSidePort } = await through({ loss: 0, dup: 0, delayMs: 0, jitterMs: 0 }, 1, 500);
    expect(seen).toEqual([...Array(500).keys()]);
    expect(stats).toMatchObject({ received: 500, dropped: 0, duplicated: 0, sent: 500, reordered: 0 });
    expect(from).toEqual([bSidePort]);
  });

  it('drops, duplicates and reorders about as asked, and its statistics say what the receiver saw', async () => {
    const { seen, stats } = await through({ loss: 0.05, dup: 0.05, delayMs: 20, jitterMs: 10 }, 7, 4000);
    const counts = new Map<number, number>();
    for (const n of seen) counts.set(n, (counts.get(n) ?? 0) + 1);
    const missing = 4000 - counts.size;
    const twice = [...counts.values()].filter((c) => c === 2).length;
    let late = 0;
    for (let i = 1, max = seen[0]!; i < seen.length; i++) {
      if (seen[i]! < max) late++;
      else max = seen[i]!;
    }
    expect(stats.received).toBe(4000);
    expect(missing).toBe(stats.dropped);
    expect(twice).toBe(stats.duplicated);
    expect(seen.length).toBe(stats.sent);
    expect(late).toBe(stats.reordered);
    expect(late / seen.length).toBeGreaterThan(0.05);
    expect(missing / 4000).toBeGreaterThan(0.03);
    expect(missing / 4000).toBeLessThan(0.07);
    expect(twice / 4000).toBeGreaterThan(0.03);
    expect(twice / 4000).toBeLessThan(0.07);
  });

  it('replays the same decisions from the same seed', async () => {
    const faults = { loss: 0.1, dup: 0.1, delayMs: 0, jitterMs: 0 };
    const first = await through(faults, 42, 1000);
    const again = await through(faults, 42, 1000);
    const other = await through(faults, 43, 1000);
    expect(again.seen).toEqual(first.seen);
    expect(other.seen).not.toEqual(first.seen);
    const r = seededRandom(5);
    const values = Array.from({ length: 1000 }, r);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    expect(Array.from({ length: 1000 }, seededRandom(5))).toEqual(values);
  });

  // The window's rule is the WireGuard paper's §5.4.6 and the kernel's counter_validate: a counter
  // is refused if it was seen, or if it is more than 8,128 behind the highest seen.
  it('counts the data messages a receiver must refuse as replays, per session', () => {
    const data = (index: number, counter: number) => {
      const d = Buffer.alloc(48);
      d.writeUInt32LE(4, 0);
      d.writeUInt32LE(index, 4);
      d.writeBigUInt64LE(BigInt(counter), 8);
      return d;
    };
    const ledger = new ReplayLedger();
    const refused = (index: number, counters: number[]) => counters.filter((c) => ledger.refuses(data(index, c)));
    expect(refused(1, [0, 2, 1, 2, 0, 3])).toEqual([2, 0]); // late is fine, twice is not
    expect(refused(7, [0, 2])).toEqual([]); // another session has its own window
    expect(refused(1, [REPLAY_WINDOW + 10, 10, 9, 1])).toEqual([9, 1]); // 10 is just inside the window
    expect(refused(1, [2 ** 40, 2 ** 40])).toEqual([2 ** 40]); // counters past 32 bits
    const initiation = Buffer.alloc(148);
    initiation.writeUInt32LE(1, 0);
    expect(ledger.refuses(initiation) || ledger.refuses(initiation)).toBe(false); // not a data message
    // A long session: memory stays bounded and the rule holds across the forgetting.
    const long = new ReplayLedger();
    for (let c = 0; c < 5 * REPLAY_WINDOW; c++) expect(long.refuses(data(3, c))).toBe(false);
    expect(long.refuses(data(3, 5 * REPLAY_WINDOW - 1))).toBe(true);
    expect(long.refuses(data(3, 4 * REPLAY_WINDOW - 1))).toBe(true); // the window's oldest, seen
    expect(long.refuses(data(3, 4 * REPLAY_WINDOW - 2))).toBe(true); // just out of it
  });

  it('counts its own duplicates of data messages as replays, and nothing else', async () => {
    const a = await bound();
    const b = await bound();
    const relay = new FaultRelay({ loss: 0, dup: 0.3, delayMs: 0, jitterMs: 0 }, 3);
    open.push(relay);
    await relay.start({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: a.address().port },
      { host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: b.address().port });
    const copies = new Map<string, number>(); // what B got: type and counter → copies
    b.on('message', (m) => {
      const key = `${m.readUInt32LE(0)}/${m.readUInt32LE(8)}`;
      copies.set(key, (copies.get(key) ?? 0) + 1);
    });
    for (let c = 0; c < 300; c++) {
      const d = Buffer.alloc(32);
      d.writeUInt32LE(c % 3 === 0 ? 1 : 4, 0); // every third an initiation, not subject to the window
      d.writeUInt32LE(9, 4);
      d.writeUInt32LE(c, 8);
      a.send(d, relay.address('a').port, '127.0.0.1');
    }
    const arrived = () => [...copies.values()].reduce((x, y) => x + y, 0);
    for (let waited = 0; (relay.stats.aToB.received < 300 || arrived() < relay.stats.aToB.sent) && waited < 5000; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const twice = (type: number) => [...copies].filter(([k, n]) => k.startsWith(`${type}/`) && n === 2).length;
    const { duplicated, replays, received } = relay.stats.aToB;
    expect(received).toBe(300);
    expect(twice(1) + twice(4)).toBe(duplicated);
    expect(twice(4)).toBeGreaterThan(0);
    expect(twice(1)).toBeGreaterThan(0);
    expect(replays).toBe(twice(4)); // an initiation's duplicate is refused elsewhere, not by the window
  });

  it('refuses bad settings and addresses with a clear message', () => {
    expect(() => new FaultRelay({ loss: 1.5, dup: 0, delayMs: 0, jitterMs: 0 }, 1)).toThrow(/loss must be a probability/);
    expect(() => new FaultRelay({ loss: 0, dup: 0, delayMs: 5, jitterMs: 6 }, 1)).toThrow(/jitter must be in 0..delay/);
    expect(() => parseAddress('localhost:80')).toThrow(/not a numeric address:port/);
    expect(() => parseAddress('10.0.0.1:0')).toThrow(/not a numeric address:port/);
    expect(parseAddress('[fd00::1]:51820')).toEqual({ host: 'fd00::1', port: 51820 });
    const entry = fileURLToPath(new URL('../../dist/bench/fault-relay.js', import.meta.url));
    const r = spawnSync(process.execPath, [entry, '--a-listen', '127.0.0.1:1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^fault-relay: usage: fault-relay --a-listen/);
    const sides = ['--a-listen', '127.0.0.1:1', '--a-peer', '127.0.0.1:2', '--b-listen', '127.0.0.1:3', '--b-peer', '127.0.0.1:4'];
    const bad = spawnSync(process.execPath, [entry, ...sides, '--seed', '-1'], { encoding: 'utf8' });
    expect(bad.stderr).toBe('fault-relay: --seed: an integer in 0..4294967295\n');
  });
});
