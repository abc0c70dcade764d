// The hub's DNS server: UDP and TCP on port 53 of the hub's VPN address, answering only the hub
// itself and enabled nodes (see `mayAsk`). Every message is bounded work: the source is checked and
// counted against its rate limit before anything is decoded, a query longer than MAX_QUERY_BYTES
// is not read, and nothing a client sends can throw out of a handler.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { parseIpv4 } from '../domain/ip.js';
import { subnetContains } from '../domain/ipam.js';
import type { Logger } from '../runtime/log.js';
import { QueryLimiter } from './rate-limit.js';
import { MAX_QUERY_BYTES, readQuery, writeError, writeReply } from './wire.js';
import { answerQuery, type ZoneData, type ZoneSettings } from './zone.js';

export interface DnsServerOptions {
  zone: ZoneSettings;
  data: ZoneData;
  /** The address to listen on: the hub's VPN address. */
  host: string;
  port: number;
  limiter?: QueryLimiter;
  tcpLimits?: TcpLimits;
  logger?: Pick<Logger, 'warn'>;
}

export interface TcpLimits {
  connections: number;
  perSource: number;
  /** A connection that sends nothing for this long is closed (RFC 7766 suggests seconds). */
  idleMs: number;
  /** Replies waiting for a client that does not read; beyond it the connection is closed. */
  maxUnread: number;
}

export const DNS_TCP_LIMITS: TcpLimits = Object.freeze({ connections: 64, perSource: 4, idleMs: 10_000, maxUnread: 64 * 1024 });

/** What became of the messages that arrived, for tests and the log. */
export interface DnsStats {
  answered: number;
  /** From an address that may not ask (outside the VPN, or no enabled node's). */
  refused: number;
  /** Over a rate limit. */
  limited: number;
  /** Unreadable, too long, or a response: no reply. */
  dropped: number;
  /** A handler threw (a bug): dropped, the server goes on. */
  failed: number;
}

export class DnsServer {
  readonly stats: DnsStats = { answered: 0, refused: 0, limited: 0, dropped: 0, failed: 0 };
  private readonly limiter: QueryLimiter;
  private readonly tcpLimits: TcpLimits;
  private readonly connections = new Map<Socket, number>();

  private constructor(
    private readonly o: DnsServerOptions,
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
  ) {
    this.limiter = o.limiter ?? new QueryLimiter();
    this.tcpLimits = o.tcpLimits ?? DNS_TCP_LIMITS;
  }

  /** Listens on UDP and TCP; rejects (and leaves nothing open) when either cannot bind. */
  static async start(o: DnsServerOptions): Promise<DnsServer> {
    const udp = createSocket({ type: 'udp4' });
    const tcp = createServer({ noDelay: true });
    const server = new DnsServer(o, udp, tcp);
    udp.on('message', (msg, rinfo) => server.onDatagram(msg, rinfo));
    tcp.on('connection', (socket) => server.onConnection(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: o.host, port: o.port, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: o.host, port: o.port }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await server.close();
      throw err;
    }
    // A socket error after start-up (e.g. ICMP unreachable reported on send) is no reason to stop.
    udp.on('error', (err) => o.logger?.warn({ err }, 'DNS: UDP socket error'));
    tcp.on('error', (err) => o.logger?.warn({ err }, 'DNS: TCP server error'));
    return server;
  }

  async close(): Promise<void> {
    for (const socket of this.connections.keys()) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => {
        try {
          this.udp.close(() => resolve());
        } catch {
          resolve(); // never bound, or closed already
        }
      }),
      new Promise<void>((resolve) => (this.tcp.listening ? this.tcp.close(() => resolve()) : resolve())),
    ]);
  }

  /**
   * Who may ask: the hub itself (a query to its own VPN address comes from it) and the enabled
   * nodes, by source address. Bound to the VPN address, the server sees only packets addressed to
   * it; a node's address as source means the packet came out of that node's tunnel, unless someone
   * on a network the hub is attached to forges it, and then the answer goes into that node's tunnel,
   * not back to them.
   */
  private mayAsk(source: number): boolean {
    const { zone, data } = this.o;
    return source === zone.hubAddress || data.nodeAt(source) !== null;
  }

  /** The reply to one message from `sourceText`, or null for none. Never throws. */
  private handle(bytes: Buffer, sourceText: string, transport: 'udp' | 'tcp'): Buffer | null {
    try {
      const source = parseIpv4(sourceText);
      // Outside the subnet costs nothing to refuse; inside, the rate limit comes before the lookup.
      if (source === null || !subnetContains(this.o.zone.subnet, source)) return this.count('refused');
      if (!this.limiter.take(source)) return this.count('limited');
      if (!this.mayAsk(source)) return this.count('refused');
      const incoming = readQuery(bytes);
      if (incoming.kind === 'drop') return this.count('dropped');
      this.stats.answered++;
      if (incoming.kind === 'reply') return writeError(incoming.reply);
      return writeReply(answerQuery(incoming.query, this.o.zone, this.o.data), incoming.edns, transport);
    } catch {
      return this.count('failed');
    }
  }

  private count(what: Exclude<keyof DnsStats, 'answered'>): null {
    this.stats[what]++;
    return null;
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (rinfo.port === 0) return void this.count('dropped'); // cannot be answered
    const reply = this.handle(msg, rinfo.address, 'udp');
    if (reply) this.udp.send(reply, rinfo.port, rinfo.address, () => {}); // a lost reply is the client's to retry
  }

  /** DNS over TCP (RFC 7766): messages with a two-byte length, answered in order. */
  private onConnection(socket: Socket): void {
    const limits = this.tcpLimits;
    const address = socket.remoteAddress ?? '';
    const source = parseIpv4(address);
    const fromSource = [...this.connections.values()].filter((s) => s === source).length;
    if (source === null || !subnetContains(this.o.zone.subnet, source) || !this.mayAsk(source)) {
      this.count('refused');
      return void socket.destroy();
    }
    if (this.connections.size >= limits.connections || fromSource >= limits.perSource) {
      this.count('limited');
      return void socket.destroy();
    }
    this.connections.set(socket, source);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(limits.idleMs, () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (length > MAX_QUERY_BYTES) return void socket.destroy();
        if (pending.length < 2 + length) break;
        const reply = this.handle(pending.subarray(2, 2 + length), address, 'tcp');
        pending = pending.subarray(2 + length);
        if (reply) {
          const framed = Buffer.alloc(2 + reply.length);
          framed.writeUInt16BE(reply.length, 0);
          reply.copy(framed, 2);
          socket.write(framed);
          if (socket.writableLength > limits.maxUnread) return void socket.destroy();
        }
      }
    });
  }
}
