// A UDP relay that puts faults on the wire, for tests on kernels without netem: it sits between two
// WireGuard endpoints and drops, duplicates and delays datagrams (with jitter, which reorders them),
// each decision drawn from a seeded generator so that a failing run can be replayed. It also counts
// the WireGuard data messages it forwards that a correct receiver must refuse as replays, so that a
// test can hold a device's replay counter to an exact figure.
//
// By hand (in the namespace or host between the two endpoints; point each endpoint at the side of
// the relay facing it):
//   node dist/bench/fault-relay.js --a-listen 198.18.1.1:40001 --a-peer 198.18.1.2:51820 \
//     --b-listen 198.18.2.1:40002 --b-peer 198.18.2.2:51821 --loss 0.05 --dup 0.05 --delay 20 --jitter 10
// What arrives on the A side goes to the B peer from the B side, and back. It prints "ready seed=N"
// on stdout once listening, a JSON line of statistics on SIGUSR1, and a last one on SIGTERM/SIGINT.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export interface Faults {
  /** probability that a datagram is dropped, 0..1 */
  loss: number;
  /** probability that a datagram that is not dropped is sent twice, 0..1 */
  dup: number;
  /** mean one-way delay added, ms */
  delayMs: number;
  /** each copy's delay is drawn uniformly from delay ± jitter, ms (≤ delay) */
  jitterMs: number;
}

export interface DirectionStats {
  received: number;
  dropped: number;
  duplicated: number;
  sent: number;
  /** copies waiting out their delay */
  inFlight: number;
  /** copies sent after a copy of a datagram that arrived later (what the receiver sees out of order) */
  reordered: number;
  /**
   * WireGuard data messages sent that the receiver's anti-replay window must refuse: a counter it
   * was already sent in that session (our duplicates, or the sender's own), or one too far behind
   */
  replays: number;
}

export type RelayStats = Record<'aToB' | 'bToA', DirectionStats> & { seed: number };

/** sfc32: a small, fast generator with good statistics; uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next(); // mix the seed in
  return next;
}

// WireGuard's anti-replay window: a counter up to this far behind the highest seen is still accepted
// (8,192 bits less one word; the same in the kernel, wireguard-go and ours).
export const REPLAY_WINDOW = 8128;
const SESSIONS_KEPT = 8; // a peer has at most three keypairs; older sessions are forgotten

/** What a receiver of the datagrams forwarded in one direction has been sent, per session. */
export class ReplayLedger {
  private readonly sessions = new Map<number, { highest: number; seen: Set<number> }>();

  /** Records a copy on its way to the receiver: true if its replay window must refuse it. */
  refuses(datagram: Buffer): boolean {
    // A data message: type 4 and three zero bytes, the receiver's index, a 64-bit counter, a tag.
    if (datagram.length < 32 || datagram.readUInt32LE(0) !== 4) return false;
    const index = datagram.readUInt32LE(4);
    const counter = datagram.readUInt32LE(8) + datagram.readUInt32LE(12) * 2 ** 32;
    let session = this.sessions.get(index);
    if (!session) {
      session = { highest: counter, seen: new Set() };
      this.sessions.set(index, session);
      if (this.sessions.size > SESSIONS_KEPT) this.sessions.delete(this.sessions.keys().next().value!);
    }
    if (counter + REPLAY_WINDOW < session.highest || session.seen.has(counter)) return true;
    session.seen.add(counter);
    session.highest = Math.max(session.highest, counter);
    // Counters that have left the window are refused by the rule above; forget them.
    if (session.seen.size > 2 * REPLAY_WINDOW) {
      for (const c of session.seen) if (c + REPLAY_WINDOW < session.highest) session.seen.delete(c);
    }
    return false;
  }
}

export interface Address {
  host: string;
  port: number;
}

/** "a.b.c.d:port" or "[v6]:port". */
export function parseAddress(text: string): Address {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new Error(`"${text}" is not a numeric address:port`);
  return { host: m[1] ?? m[2]!, port };
}

export function checkFaults(f: Faults): void {
  for (const [name, p] of [['loss', f.loss], ['dup', f.dup]] as const) {
    if (!(p >= 0 && p <= 1)) throw new Error(`${name} must be a probability in 0..1`);
  }
  if (!(f.delayMs >= 0)) throw new Error('delay must be ≥ 0 ms');
  if (!(f.jitterMs >= 0 && f.jitterMs <= f.delayMs)) throw new Error('jitter must be in 0..delay ms');
}

export class FaultRelay {
  private readonly random: () => number;
  private readonly sockets: Partial<Record<'a' | 'b', Socket>> = {};
  readonly stats: RelayStats;

  constructor(
    private readonly faults: Faults,
    readonly seed: number,
  ) {
    checkFaults(faults);
    this.random = seededRandom(seed);
    const fresh = (): DirectionStats => ({ received: 0, dropped: 0, duplicated: 0, sent: 0, inFlight: 0, reordered: 0, replays: 0 });
    this.stats = { seed, aToB: fresh(), bToA: fresh() };
  }

  /** Binds both sides; datagrams to one side are forwarded, faulted, from the other side to its peer. */
  async start(aListen: Address, aPeer: Address, bListen: Address, bPeer: Address): Promise<void> {
    for (const [side, listen] of [['a', aListen], ['b', bListen]] as const) {
      const s = createSocket(listen.host.includes(':') ? 'udp6' : 'udp4');
      this.sockets[side] = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(listen.port, listen.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      // Large buffers: the relay's own losses would blur the faults it is asked for.
      s.setRecvBufferSize(8 << 20);
      s.setSendBufferSize(8 << 20);
    }
    this.forward(this.sockets.a!, this.sockets.b!, bPeer, this.stats.aToB);
    this.forward(this.sockets.b!, this.sockets.a!, aPeer, this.stats.bToA);
  }

  /** Where a side listens (after start). */
  address(side: 'a' | 'b'): Address {
    const { address, port } = this.sockets[side]!.address();
    return { host: address, port };
  }

  private forward(from: Socket, to: Socket, peer: Address, stats: DirectionStats): void {
    let highestSent = -1; // arrival number of the latest-arriving datagram sent so far
    const ledger = new ReplayLedger();
    const send = (datagram: Buffer, arrival: number) => {
      if (arrival < highestSent) stats.reordered++;
      else highestSent = arrival;
      if (ledger.refuses(datagram)) stats.replays++;
      stats.sent++;
      to.send(datagram, peer.port, peer.host);
    };
    // One timer per copy: Node keeps timers of equal duration in one list, so this stays cheap.
    const delayed = (ms: number, datagram: Buffer, arrival: number) => {
      stats.inFlight++;
      setTimeout(() => {
        stats.inFlight--;
        send(datagram, arrival);
      }, ms);
    };
    const { loss, dup, delayMs, jitterMs } = this.faults;
    from.on('message', (datagram) => {
      const arrival = stats.received++;
      if (this.random() < loss) {
        stats.dropped++;
        return;
      }
      const copies = this.random() < dup ? 2 : 1;
      if (copies === 2) stats.duplicated++;
      for (let i = 0; i < copies; i++) {
        if (delayMs === 0) send(datagram, arrival);
        else delayed(delayMs - jitterMs + this.random() * 2 * jitterMs, datagram, arrival);
      }
    });
  }

  close(): void {
    for (const s of Object.values(this.sockets)) s.close();
    delete this.sockets.a;
    delete this.sockets.b;
  }
}

const USAGE = `usage: fault-relay --a-listen ADDR:PORT --a-peer ADDR:PORT --b-listen ADDR:PORT --b-peer ADDR:PORT
                   [--loss P] [--dup P] [--delay MS] [--jitter MS] [--seed N]`;

function parseArgs(argv: string[]): Record<string, string> {
  const known = ['a-listen', 'a-peer', 'b-listen', 'b-peer', 'loss', 'dup', 'delay', 'jitter', 'seed'];
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!.replace(/^--/, '');
    if (!argv[i]!.startsWith('--') || !known.includes(name) || argv[i + 1] === undefined) throw new Error(USAGE);
    out[name] = argv[i + 1]!;
  }
  for (const required of known.slice(0, 4)) if (!out[required]) throw new Error(USAGE);
  return out;
}

async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const number = (name: string, fallback: number) => {
    const v = args[name] === undefined ? fallback : Number(args[name]);
    if (!Number.isFinite(v)) throw new Error(`--${name}: not a number`);
    return v;
  };
  const seed = args.seed === undefined ? randomInt(2 ** 32) : number('seed', 0);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error('--seed: an integer in 0..4294967295');
  const relay = new FaultRelay({ loss: number('loss', 0), dup: number('dup', 0), delayMs: number('delay', 0), jitterMs: number('jitter', 0) }, seed);
  await relay.start(parseAddress(args['a-listen']!), parseAddress(args['a-peer']!), parseAddress(args['b-listen']!), parseAddress(args['b-peer']!));
  const report = () => process.stdout.write(`${JSON.stringify(relay.stats)}\n`);
  process.on('SIGUSR1', report);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      report();
      relay.close();
      process.exit(0);
    });
  }
  process.stdout.write(`ready seed=${seed}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`fault-relay: ${err.message}\n`);
    process.exit(2);
  });
}
