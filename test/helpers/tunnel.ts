// Tunnel endpoints for namespace tests: our daemon or wireguard-go on a TUN interface, keys on disk,
// and ping helpers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, beforeEach } from 'vitest';
import { requireTools } from './tools.js';
import { join } from 'node:path';
import { startImplementation as startOn, type Implementation } from '../../src/bench/tunnel.js';
import { isRoot, run, waitFor, World as WorldClass, type Namespace, type World } from './netns.js';

export { wgvmEntry, type Implementation } from '../../src/bench/tunnel.js';

export interface Side {
  ns: Namespace;
  iface: string;
  privateKeyFile: string;
  publicKey: string;
  underlay: string;
  inner: string;
}

/** A side named `label` in `ns`, with a fresh key pair (private key in a 0600 file under `dir`). */
export function makeSide(world: World, dir: string, label: string, ns: Namespace, underlay: string, inner: string): Side {
  const priv = run('wg', ['genkey']);
  const privateKeyFile = join(dir, `${label}.key`);
  writeFileSync(privateKeyFile, priv, { mode: 0o600 });
  const iface = `wg${label}${world.id}`.slice(0, 15);
  return { ns, iface, privateKeyFile, publicKey: run('wg', ['pubkey'], priv).trim(), underlay, inner };
}

/** Starts the implementation on the side's interface and waits for its UAPI socket. */
export async function startImplementation(world: World, s: Side, implementation: Implementation): Promise<void> {
  await startOn(world, s.ns, s.iface, implementation);
}

/** Gives the side's interface its tunnel address (/24), MTU 1420, and brings it up. */
export function addressUp(s: Side): void {
  s.ns.ip('addr', 'add', `${s.inner}/24`, 'dev', s.iface);
  s.ns.ip('link', 'set', s.iface, 'mtu', '1420', 'up');
}

/** How many of `count` echo requests were answered (ping's exit status aside). */
export function received(ns: Namespace, target: string, count: number, extra: string[] = []): number {
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'ping', '-c', String(count), '-i', '0.2', '-W', '2', ...extra, target], {
    encoding: 'utf8',
  });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
}

/** Pings and returns ping's output; throws when ping fails. */
export function ping(ns: Namespace, target: string, count = 3): string {
  return ns.exec('ping', ['-c', String(count), '-i', '0.2', '-W', '3', target]);
}

/** PIDs of our daemons serving `iface` (started detached by `wgvm up`, so not our children). */
export function daemonPids(iface: string): number[] {
  const r = spawnSync('pgrep', ['-f', `up --foreground ${iface}$`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** Ends the daemons of `iface` that a test left running: SIGTERM, then SIGKILL and the socket file. */
export async function stopDaemons(iface: string): Promise<void> {
  if (!iface) return;
  for (const pid of daemonPids(iface)) process.kill(pid, 'SIGTERM');
  await waitFor('daemons to stop', () => daemonPids(iface).length === 0, 3000).catch(() => {
    for (const pid of daemonPids(iface)) process.kill(pid, 'SIGKILL');
  });
  rmSync(`/var/run/wireguard/${iface}.sock`, { force: true });
}

/** An HTTP request made from inside a namespace (a hub's API is only reachable there). */
export function httpIn(ns: Namespace, method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const script = `
    fetch(${JSON.stringify(url)}, { method: ${JSON.stringify(method)}, headers: ${JSON.stringify({ ...(body ? { 'content-type': 'application/json' } : {}), ...headers })},
      body: ${body === undefined ? 'undefined' : JSON.stringify(JSON.stringify(body))} })
      .then(async (r) => console.log(JSON.stringify({ status: r.status, text: await r.text() })))
      .catch((e) => console.log(JSON.stringify({ status: 0, text: e.message })));`;
  const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { encoding: 'utf8' });
  const { status, text } = JSON.parse(r.stdout.trim() || '{"status":0,"text":""}');
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: status as number, text: text as string, json };
}

/**
 * Call inside a describe: each test gets a fresh World and temporary directory (removed afterwards,
 * also on failure), and fails at once without root or one of `tools`.
 */
export function useWorld(tmpPrefix: string, tools: string[]): { world: World; dir: string } {
  const t = {} as { world: World; dir: string };
  beforeEach(() => {
    requireTools(...tools);
    if (!isRoot) throw new Error('namespace tests need root');
    t.world = new WorldClass();
    t.dir = mkdtempSync(join(tmpdir(), tmpPrefix));
  });
  afterEach(async () => {
    await t.world.cleanup();
    rmSync(t.dir, { recursive: true, force: true });
  });
  return t;
}

/**
 * Brings a worker up in `ns` from a wg-quick config file's text, as wg-quick would, but with the
 * given implementation: `wg setconf` of the stripped file, its Address, MTU 1420, up, and a route
 * to the VPN subnet 10.100.0.0/16. Returns the interface name and the file written.
 */
export async function bringUpWorker(
  world: World,
  dir: string,
  ns: Namespace,
  label: string,
  config: string,
  implementation: Implementation,
): Promise<{ iface: string; file: string }> {
  const iface = `wg${label}${world.id}`.slice(0, 15);
  const file = join(dir, `${label}.conf`);
  writeFileSync(file, config, { mode: 0o600 });
  await startOn(world, ns, iface, implementation);
  const stripped = join(dir, `${label}.stripped`);
  writeFileSync(stripped, run('wg-quick', ['strip', file]), { mode: 0o600 });
  ns.exec('wg', ['setconf', iface, stripped]);
  ns.ip('addr', 'add', /^Address = (\S+)$/m.exec(config)![1]!, 'dev', iface);
  ns.ip('link', 'set', iface, 'mtu', '1420', 'up');
  ns.ip('route', 'add', '10.100.0.0/16', 'dev', iface);
  return { iface, file };
}
