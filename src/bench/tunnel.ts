// Tunnel endpoints in namespaces: our daemon or wireguard-go on a TUN interface, configured through
// the UAPI socket. Shared by the benchmark and the tunnel tests.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dataPlaneEnv } from '../dataplane/openssl-env.js';
import { stderrOf, waitFor, type Namespace, type World } from './netns.js';

export const wgvmEntry = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));

export type Implementation = 'wgvm' | 'wireguard-go';

export interface StartOptions {
  /** the wireguard-go binary (default: `wireguard-go` from PATH) */
  wireguardGo?: string;
  /** WGVM_THREADS for a wgvm process: its crypto threads (unset: the data plane's default) */
  threads?: number | null;
}

/** The environment a wgvm data-plane process starts with: OpenSSL's CPU mask, and its crypto threads when asked. */
export function wgvmEnv(base: NodeJS.ProcessEnv, threads: number | null | undefined): NodeJS.ProcessEnv {
  const env = dataPlaneEnv(base);
  return threads == null ? env : { ...env, WGVM_THREADS: String(threads) };
}

/** Starts the implementation for `iface` in `ns` (foreground, owned by `world`) and waits for its socket. */
export async function startImplementation(
  world: World,
  ns: Namespace,
  iface: string,
  implementation: Implementation,
  options: StartOptions = {},
): Promise<ChildProcess> {
  const child =
    implementation === 'wgvm'
      ? world.spawn(ns, process.execPath, [wgvmEntry, 'up', '--foreground', iface], wgvmEnv(process.env, options.threads))
      : world.spawn(ns, options.wireguardGo ?? 'wireguard-go', ['-f', iface], { LOG_LEVEL: 'error' });
  await waitFor(
    `${implementation} socket for ${iface}`,
    () => child.exitCode !== null || existsSync(`/var/run/wireguard/${iface}.sock`),
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${stderrOf(child)}`);
  });
  if (child.exitCode !== null) throw new Error(`${implementation} exited early: ${stderrOf(child)}`);
  return child;
}
