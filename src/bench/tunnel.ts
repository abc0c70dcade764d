// Tunnel endpoints in namespaces: our daemon or wireguard-go on a TUN interface, configured through
// the UAPI socket. Shared by the benchmark and the tunnel tests.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dataPlaneEnv } from '../dataplane/openssl-env.js';
import { stderrOf, waitFor, type Namespace, type World } from './netns.js';

export const wgvmEntry = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));

export type Implementation = 'wgvm' | 'wireguard-go';

/** Starts the implementation for `iface` in `ns` (foreground, owned by `world`) and waits for its socket. */
export async function startImplementation(world: World, ns: Namespace, iface: string, implementation: Implementation): Promise<ChildProcess> {
  const child =
    implementation === 'wgvm'
      ? world.spawn(ns, process.execPath, [wgvmEntry, 'up', '--foreground', iface], dataPlaneEnv(process.env))
      : world.spawn(ns, 'wireguard-go', ['-f', iface], { LOG_LEVEL: 'error' });
  await waitFor(
    `${implementation} socket for ${iface}`,
    () => child.exitCode !== null || existsSync(`/var/run/wireguard/${iface}.sock`),
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${stderrOf(child)}`);
  });
  if (child.exitCode !== null) throw new Error(`${implementation} exited early: ${stderrOf(child)}`);
  return child;
}
