// The wg-compatible control socket, /var/run/wireguard/<iface>.sock: `wg show`, `wg set`,
// `wg setconf` and `wg syncconf` talk to our device through it exactly as to wireguard-go.
// One operation is ours: `wgvm_counters=1` answers the device's counters, one `name=value` line
// each (`drop_<reason>=N` for every reason the data plane drops a datagram, e.g. drop_replay,
// then the others of dataplane/counters.ts: tun_write_errors, …, under_load), so
// they can be read from outside the process (`wgvm counters <iface>`). It is a separate operation so
// that `get=1` stays exactly what `wg` parses; wireguard-go answers it with EINVAL like any unknown
// operation.
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { namedCounters, type DeviceCounters } from '../dataplane/counters.js';

export const SOCKET_DIR = '/var/run/wireguard';

/** What the socket needs from a device. */
export interface UapiTarget {
  set(body: string): { errno: number; message: string };
  get(): string;
  /** Answers `wgvm_counters=1`; without it that operation is unknown (EINVAL). */
  counters?(): DeviceCounters;
}

export interface UapiServerOptions {
  /** `false` answers every set with EPERM: the hub's database is the source of truth in serve mode. */
  writable?: boolean;
  onError?: (message: string) => void;
  dir?: string;
  /** A client that sends nothing for this long is dropped (IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
  /** Clients connected at once (MAX_CONNECTIONS); more are closed at once. */
  maxConnections?: number;
}

const EPERM = 1;
const EIO = 5;
const EINVAL = 22;
export const MAX_REQUEST = 4 << 20; // a full setconf for 10,000 peers fits comfortably

export function socketPath(iface: string, dir = SOCKET_DIR): string {
  return join(dir, `${iface}.sock`);
}

/** The `wgvm_counters=1` answer lines. */
export function countersText(c: DeviceCounters): string {
  return namedCounters(c).map(([name, n]) => `${name}=${n}\n`).join('');
}

/** Answers one request: "get=1", "set=1" followed by its body lines, or "wgvm_counters=1". */
export function handleRequest(target: UapiTarget, request: string, writable: boolean): { reply: string; error?: string } {
  const newline = request.indexOf('\n');
  const op = newline < 0 ? request : request.slice(0, newline);
  const body = newline < 0 ? '' : request.slice(newline + 1);
  if (op === 'get=1') {
    if (body.length > 0) return { reply: `errno=-${EINVAL}\n\n`, error: 'get=1 takes no body' };
    return { reply: `${target.get()}errno=0\n\n` };
  }
  if (op === 'wgvm_counters=1' && target.counters) {
    if (body.length > 0) return { reply: `errno=-${EINVAL}\n\n`, error: 'wgvm_counters=1 takes no body' };
    return { reply: `${countersText(target.counters())}errno=0\n\n` };
  }
  if (op === 'set=1') {
    if (!writable) return { reply: `errno=-${EPERM}\n\n`, error: 'this interface is configured by its manager; the socket is read-only' };
    const result = target.set(body);
    return result.errno === 0 ? { reply: 'errno=0\n\n' } : { reply: `errno=-${result.errno}\n\n`, error: result.message };
  }
  return { reply: `errno=-${EINVAL}\n\n`, error: `unknown operation "${op.slice(0, 40)}"` };
}

export const IDLE_TIMEOUT_MS = 30_000; // a client that never finishes its request is dropped
export const MAX_CONNECTIONS = 64; // `wg` opens one at a time; more at once is a runaway client

// A device that fails (closed under us, an internal error) answers EIO instead of crashing the daemon.
function safeHandle(target: UapiTarget, request: string, writable: boolean): { reply: string; error?: string } {
  try {
    return handleRequest(target, request, writable);
  } catch (err) {
    return { reply: `errno=-${EIO}\n\n`, error: err instanceof Error ? err.message : String(err) };
  }
}

function serve(socket: Socket, target: UapiTarget, writable: boolean, onError: (m: string) => void, idleTimeoutMs: number): void {
  let buffered = '';
  socket.setEncoding('utf8');
  socket.setTimeout(idleTimeoutMs, () => socket.destroy());
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_REQUEST) {
      onError('UAPI request too large; connection closed');
      socket.destroy();
      return;
    }
    // A request ends with an empty line.
    for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
      const request = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const { reply, error } = safeHandle(target, request, writable);
      if (error) onError(`UAPI: ${error}`);
      socket.write(reply);
    }
  });
  socket.on('error', () => socket.destroy());
}

/** Listens on the interface's socket (directory 0755, socket 0600), replacing a stale one. */
export async function startUapiServer(iface: string, target: UapiTarget, options: UapiServerOptions = {}): Promise<Server> {
  const dir = options.dir ?? SOCKET_DIR;
  const path = socketPath(iface, dir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
    if (await isListening(path)) throw new Error(`${path} is in use: is another daemon running for ${iface}?`);
    unlinkSync(path); // stale: its daemon is gone
  }
  const onError = options.onError ?? (() => {});
  const connections = new Set<Socket>();
  const server = createServer((s) => {
    connections.add(s);
    s.once('close', () => connections.delete(s));
    serve(s, target, options.writable ?? true, onError, options.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
  });
  server.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  openConnections.set(server, connections);
  // Created under umask 077, as wireguard-go does, so the socket is never reachable by others.
  const previousUmask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(path, 0o600);
  return server;
}

function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

const openConnections = new WeakMap<Server, Set<Socket>>();

/** Closes the server, and every connection still open, and removes its socket file. */
export async function stopUapiServer(server: Server, iface: string, dir = SOCKET_DIR): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of openConnections.get(server) ?? []) s.destroy();
  await closed;
  try {
    unlinkSync(socketPath(iface, dir));
  } catch {
    // already gone
  }
}
