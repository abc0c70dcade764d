// `wgvm up <iface>` / `wgvm-userspace <iface>`: a userspace WireGuard interface configured through
// its UAPI socket, the same shape as `wireguard-go <iface>` (what wg-quick expects).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openDevice } from './dataplane/device.js';
import { socketPath, startUapiServer, stopUapiServer } from './uapi/server.js';

const READY_FD = 3;

function log(iface: string, message: string): void {
  process.stderr.write(`wgvm (${iface}): ${message}\n`);
}

/** Runs the interface in this process until a signal, the interface's removal or the socket's deletion. */
export async function runForeground(iface: string): Promise<number> {
  let stopping = false;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));

  const device = openDevice(iface, {
    onEvent: (e) => {
      if (e.type === 'stopped') stop(e.reason, 0);
    },
  });
  let server;
  try {
    server = await startUapiServer(iface, device, { writable: true, onError: (m) => log(iface, m) });
  } catch (err) {
    device.close();
    throw err;
  }
  const path = socketPath(iface);

  function stop(reason: string, code: number): void {
    if (stopping) return;
    stopping = true;
    clearInterval(watch);
    log(iface, `shutting down: ${reason}`);
    void stopUapiServer(server!, iface).finally(() => {
      device.close();
      resolveDone(code);
    });
  }

  // The interface or the socket file disappearing means someone (wg-quick down, an admin) wants us gone.
  const watch = setInterval(() => {
    if (!existsSync(path)) stop('control socket removed', 0);
    else if (!existsSync(`/sys/class/net/${iface}`)) stop('interface removed', 0);
  }, 500);
  process.once('SIGINT', () => stop('SIGINT', 0));
  process.once('SIGTERM', () => stop('SIGTERM', 0));

  signalReady();
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
    env: { ...process.env, WGVM_READY_FD: String(READY_FD) },
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
  });
  pipe.destroy();
  if (answer !== 'ready') {
    process.stderr.write(`wgvm up: ${answer.replace(/^error /, '')}\n`);
    return 1;
  }
  child.unref(); // from here the daemon lives on its own
  return 0;
}
