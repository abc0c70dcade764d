// Talks to a WireGuard UAPI socket (ours or wireguard-go's), as `wg` does.
import { createConnection } from 'node:net';
import { socketPath } from './server.js';

export class UapiError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = 'UapiError';
  }
}

const TIMEOUT_MS = 10_000;

/** Sends one request ("get=1", "set=1" plus body lines, "wgvm_counters=1") and returns the reply lines before errno. */
export function uapiRequest(iface: string, request: string, dir?: string): Promise<string> {
  const path = socketPath(iface, dir);
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let reply = '';
    socket.setEncoding('utf8');
    socket.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'ENOENT' ? `no interface ${iface}: ${path} does not exist` : `${path}: ${err.message}`)),
    );
    // A reply must come, complete, within the timeout; a closed connection without one is an error.
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`${path}: no answer within ${TIMEOUT_MS / 1000} s`)));
    socket.once('close', () => reject(new Error(`${path}: the connection closed without a complete answer`)));
    socket.on('data', (d: string) => {
      reply += d;
      // Only the last line is looked at: a get with 10,000 peers comes in hundreds of chunks.
      if (!reply.endsWith('\n\n')) return;
      const lastLine = reply.lastIndexOf('\n', reply.length - 3) + 1;
      const m = /^errno=(-?\d+)$/.exec(reply.slice(lastLine, -2));
      if (!m) return;
      socket.end();
      const errno = -Number(m[1]);
      if (errno !== 0) reject(new UapiError(errno, `${iface}: the device refused the request (errno ${errno})`));
      else resolve(reply.slice(0, lastLine));
    });
    socket.write(`${request.replace(/\n*$/, '')}\n\n`);
  });
}

export const uapiGet = (iface: string, dir?: string) => uapiRequest(iface, 'get=1', dir);
/** Our extension (see server.ts): the device's drop reasons and error counters, as `name=value` lines. */
export const uapiCounters = (iface: string, dir?: string) => uapiRequest(iface, 'wgvm_counters=1', dir);
export const uapiSet = (iface: string, body: string, dir?: string) => uapiRequest(iface, `set=1\n${body}`, dir);
