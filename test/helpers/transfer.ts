// A file sent over TCP from one namespace to another, in `connections` parallel slices (each opens
// with its 4-byte slice number), reassembled and hashed by the receiver: what a user's copy through
// the tunnel would show.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Namespace, World } from './netns.js';

export interface Received {
  sha256: string;
  bytes: number;
  /** from the first connection accepted to the last slice complete */
  seconds: number;
}

// Runs in the receiving namespace: accepts `n` connections, prints "listening", then the result as JSON.
const receiver = `
  const net = require('node:net'), crypto = require('node:crypto');
  const [host, port, n] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
  const slices = [];
  let done = 0, start;
  const server = net.createServer((socket) => {
    start ??= process.hrtime.bigint();
    const chunks = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      slices[all.readUInt32BE(0)] = all.subarray(4);
      if (++done < n) return;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      for (const s of slices) { if (s) { hash.update(s); bytes += s.length; } }
      console.log(JSON.stringify({ sha256: hash.digest('hex'), bytes, seconds }));
      server.close();
    });
  });
  server.listen(port, host, () => console.log('listening'));`;

// Runs in the sending namespace: slice i of the file goes over connection i.
const sender = `
  const net = require('node:net'), fs = require('node:fs');
  const [host, port, file, n] = [process.argv[1], Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
  const size = fs.statSync(file).size, slice = Math.ceil(size / n);
  for (let i = 0; i < n; i++) {
    const socket = net.connect(port, host, () => {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(i);
      socket.write(header);
      const end = Math.min(size, (i + 1) * slice);
      if (end <= i * slice) return socket.end();
      fs.createReadStream(file, { start: i * slice, end: end - 1 }).pipe(socket);
    });
    socket.on('error', (e) => { console.error(e.message); process.exit(1); });
  }`;

/** Writes `bytes` random bytes to `file` and returns their SHA-256 (hex). */
export async function randomFile(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(file, { mode: 0o600 });
  for (let left = bytes; left > 0; left -= 1 << 20) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

/** Sends `file` from `from` to `to` (listening on address:port) and returns what the receiver got. */
export async function sendFile(
  world: World,
  from: Namespace,
  to: Namespace,
  address: string,
  file: string,
  options: { connections: number; timeoutMs: number; port?: number },
): Promise<Received> {
  const port = String(options.port ?? 5601);
  const child = world.spawn(to, process.execPath, ['-e', receiver, address, port, String(options.connections)]);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const timeout = (what: () => string) =>
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what()}`)), options.timeoutMs).unref());
  const listening = new Promise<void>((resolve, reject) => {
    const check = () => (out.includes('listening') ? resolve() : child.exitCode !== null ? reject(new Error('receiver exited')) : setTimeout(check, 20));
    check();
  });
  await Promise.race([listening, timeout(() => 'the receiver to listen')]);

  const send = spawn('ip', ['netns', 'exec', from.name, process.execPath, '-e', sender, address, port, file, String(options.connections)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let sendErrors = '';
  send.stderr.setEncoding('utf8').on('data', (d: string) => (sendErrors += d));
  try {
    await Promise.race([exited, timeout(() => `${file} to arrive (sender said: ${sendErrors.trim() || 'nothing'})`)]);
  } finally {
    if (send.exitCode === null) send.kill('SIGKILL');
  }
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the receiver gave no result: ${sendErrors}`);
  return JSON.parse(line) as Received;
}
