// `wgvm up <iface>` / `wgvm-userspace <iface>`: a userspace WireGuard interface configured through
// its UAPI socket, the same shape as `wireguard-go <iface>` (what wg-quick expects).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, writeSync } from 'node:fs';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openDevice } from './dataplane/device.js';
import { socketPath, startUapiServer, stopUapiServer } from './uapi/server.js';
import { dataPlaneEnv } from './dataplane/openssl-env.js';

const READY_FD = 3;

function log(iface: string, message: string): void {
  process.stderr.write(`wgvm (${iface}): ${message}\n`);
}

/** Runs the interface in this process until a signal, the interface's removal or the socket's deletion. */
export async function runForeground(iface: string): Promise<number> {
  const path = socketPath(iface);
  let server: Server | undefined;
  let watch: NodeJS.Timeout | undefined;
  let stopReason: string | undefined; // set once; a stop asked for before start-up finished waits for it
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));

  const device = openDevice(iface, { onEvent: (e) => e.type === 'stopped' && stop(e.reason) });
  function stop(reason: string): void {
    if (stopReason !== undefined) return;
    stopReason = reason;
    if (server) finish();
  }
  function finish(): void {
    clearInterval(watch);
    log(iface, `shutting down: ${stopReason}`);
    void stopUapiServer(server!, iface).finally(() => {
      device.close();
      resolveDone(0);
    });
  }

  try {
    server = await startUapiServer(iface, device, { writable: true, onError: (m) => log(iface, m) });
  } catch (err) {
    device.close();
    throw err;
  }
  // The interface or the socket file disappearing means someone (wg-quick down, an admin) wants us gone.
  watch = setInterval(() => {
    if (!existsSync(path)) stop('control socket removed');
    else if (!existsSync(`/sys/class/net/${iface}`)) stop('interface removed');
  }, 500);
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (stopReason !== undefined) finish();
  else signalReady();
  return done;
}

// A daemon started by runDaemon reports "ready" or "error <message>" to its parent on this pipe.
function tellParent(message: string): void {
  if (process.env.WGVM_READY_FD !== String(READY_FD)) return;
  try {
    writeSync(READY_FD, `${message}\n`);
    closeSync(READY_FD);
  } catch {
    // the parent is gone: nothing to tell
  }
}

function signalReady(): void {
  tellParent('ready');
}

export function reportStartupFailure(message: string): void {
  tellParent(`error ${message}`);
}

/** Starts the interface in a detached child and returns once it is ready, as wireguard-go does. */
export async function runDaemon(iface: string): Promise<number> {
  const entry = fileURLToPath(new URL('../bin/wgvm.js', import.meta.url));
  const child = spawn(process.execPath, [entry, 'up', '--foreground', iface], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...dataPlaneEnv(process.env), WGVM_READY_FD: String(READY_FD) },
  });
  const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void };
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    pipe.setEncoding('utf8');
    pipe.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) resolve(text.trim());
    });
    child.once('exit', (code) => resolve(text.trim() || `exited with code ${code} before it was ready`));
    child.once('error', (err) => resolve(`error cannot start the daemon: ${err.message}`));
    setTimeout(() => resolve('error the daemon did not become ready within 30 s'), 30_000).unref();
  });
  pipe.destroy();
  if (answer !== 'ready') {
    if (child.exitCode === null) child.kill('SIGTERM');
    process.stderr.write(`wgvm up: ${answer.replace(/^error /, '')}\n`);
    return 1;
  }
  child.unref(); // from here the daemon lives on its own
  return 0;
}
