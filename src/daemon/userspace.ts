// `wgvm up <iface>` / `wgvm-userspace <iface>`: a userspace WireGuard interface configured through
// its UAPI socket, the same shape as `wireguard-go <iface>` (what wg-quick expects).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, writeSync } from 'node:fs';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openDevice, type NativeDevice } from '../dataplane/device.js';
import { signalExitCode, StopSignals } from '../runtime/stop-signals.js';
import { socketPath, startUapiServer, stopUapiServer } from '../uapi/server.js';
import { dataPlaneEnv } from '../dataplane/openssl-env.js';
import { threadsOption } from '../domain/threads.js';

const READY_FD = 3;

function log(iface: string, message: string): void {
  process.stderr.write(`wgvm (${iface}): ${message}\n`);
}

/**
 * Runs the interface in this process until a signal, the interface's removal or the socket's deletion.
 * SIGINT and SIGTERM are caught before the interface exists; one that comes during start-up stops
 * the daemon as soon as what start-up made can be removed again. Ends with 0 once everything is gone.
 */
export async function runForeground(iface: string, threads: number | 'auto' = 'auto'): Promise<number> {
  const signals = new StopSignals();
  const path = socketPath(iface);
  let device: NativeDevice | undefined;
  let server: Server | undefined;
  let watch: NodeJS.Timeout | undefined;
  let stopReason: string | undefined; // set once; a stop asked for before start-up finished waits for it
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (resolveDone = r));

  function stop(reason: string): void {
    if (stopReason !== undefined) return;
    stopReason = reason;
    if (server) finish();
  }
  function finish(): void {
    clearInterval(watch);
    log(iface, `shutting down: ${stopReason}`);
    void stopUapiServer(server!, iface).finally(() => {
      device!.close();
      signals.dispose();
      resolveDone(0);
    });
  }
  signals.onStop(stop);

  try {
    device = openDevice(iface, { threads: threadsOption(threads), onEvent: (e) => e.type === 'stopped' && stop(e.reason) });
    server = await startUapiServer(iface, device, { writable: true, onError: (m) => log(iface, m) });
  } catch (err) {
    device?.close();
    signals.dispose();
    throw err;
  }
  // The interface or the socket file disappearing means someone (wg-quick down, an admin) wants us gone.
  watch = setInterval(() => {
    if (!existsSync(path)) stop('control socket removed');
    else if (!existsSync(`/sys/class/net/${iface}`)) stop('interface removed');
  }, 500);
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

/**
 * Starts the interface in a detached child and returns once it is ready, as wireguard-go does. A
 * SIGINT or SIGTERM before then is passed on to the child; once it has cleaned up and exited, so do
 * we, with 130 or 143.
 */
export async function runDaemon(iface: string, threads: number | 'auto' = 'auto'): Promise<number> {
  const signals = new StopSignals();
  const entry = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));
  // The thread count goes by the environment: the child's command line stays `up --foreground <iface>`,
  // which is what scripts (and our tests) look for with pgrep.
  const child = spawn(process.execPath, [entry, 'up', '--foreground', iface], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...dataPlaneEnv(process.env), WGVM_THREADS: String(threads), WGVM_READY_FD: String(READY_FD) },
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
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
    signals.onStop((signal) => resolve(`signal ${signal}`));
    setTimeout(() => resolve('error the daemon did not become ready within 30 s'), 30_000).unref();
  });
  pipe.destroy();
  // The handlers stay until this process exits: a signal after "ready" changes nothing (the daemon is
  // up, as asked), instead of killing this command on its way out.
  if (answer !== 'ready' || signals.signal !== undefined) {
    // The child removes what it made on SIGTERM; wait for that, so nothing outlives this command.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const stuck = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(stuck);
    if (signals.signal !== undefined) return signalExitCode(signals.signal);
    process.stderr.write(`wgvm up: ${answer.replace(/^error /, '')}\n`);
    return 1;
  }
  child.unref(); // from here the daemon lives on its own
  return 0;
}
