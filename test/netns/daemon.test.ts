// The life of `wgvm up` / `wgvm-userspace`: ready when it returns, and gone — interface and socket —
// on a signal, on removal of the interface, and on deletion of its socket.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRoot, stderrOf, waitFor, World, type Namespace } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { daemonPids, stopDaemons, wgvmEntry } from '../helpers/tunnel.js';

const skip = skipWithout('ip', 'wg') || (!isRoot && !inCI);


const sock = (iface: string) => `/var/run/wireguard/${iface}.sock`;
const linkExists = (ns: Namespace, iface: string) => spawnSync('ip', ['-n', ns.name, 'link', 'show', iface]).status === 0;

describe.skipIf(skip)('wgvm up: daemon lifecycle', () => {
  let world: World;
  let ns: Namespace;
  const ifaces: string[] = [];
  let n = 0;
  const name = () => {
    const iface = `wgd${world.id}${n++}`.slice(0, 15);
    ifaces.push(iface);
    return iface;
  };
  beforeEach(() => {
    if (!isRoot) throw new Error('these tests need root');
    world = new World();
    ns = world.namespace('d');
  });
  afterEach(async () => {
    for (const iface of ifaces.splice(0)) await stopDaemons(iface);
    await world.cleanup();
  });

  const upInBackground = (iface: string) =>
    spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, wgvmEntry, 'up', iface], { encoding: 'utf8' });

  it('returns once the interface and socket exist (socket 0600 in a 0755 directory), and stops on SIGTERM', async () => {
    const iface = name();
    const r = upInBackground(iface);
    expect(r.status, r.stderr).toBe(0);
    expect(linkExists(ns, iface)).toBe(true);
    expect(statSync(sock(iface)).mode & 0o777).toBe(0o600);
    expect(statSync('/var/run/wireguard').mode & 0o777).toBe(0o755);
    expect(ns.exec('wg', ['show', iface, 'listen-port']).trim()).toMatch(/^\d+$/);
    const [pid] = daemonPids(iface);
    process.kill(pid!, 'SIGTERM');
    await waitFor('the daemon to exit', () => daemonPids(iface).length === 0);
    expect(existsSync(sock(iface))).toBe(false);
    expect(linkExists(ns, iface)).toBe(false);
  });

  it('runs as many crypto threads as --threads or WGVM_THREADS ask for, the flag first', async () => {
    // The pool's workers are named threads of the daemon; the loop's own thread is the first of them all.
    const workers = (pid: number) =>
      spawnSync('sh', ['-c', `cat /proc/${pid}/task/*/comm`], { encoding: 'utf8' }).stdout.split('\n').filter((c) => c === 'wgvm-crypto').length;
    const up = (iface: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
      spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, wgvmEntry, 'up', ...args, iface], { encoding: 'utf8', env: { ...process.env, ...env } });
    for (const [args, env, expected] of [
      [['--threads', '3'], {}, 2],
      [[], { WGVM_THREADS: '1' }, 0],
      [['--threads=2'], { WGVM_THREADS: '4' }, 1],
    ] as const) {
      const iface = name();
      const r = up(iface, [...args], env);
      expect(r.status, r.stderr).toBe(0);
      const [pid] = daemonPids(iface);
      expect(workers(pid!), `${args.join(' ')} ${JSON.stringify(env)}`).toBe(expected);
      await stopDaemons(iface);
    }
  });

  it('stops when its interface is deleted', async () => {
    const iface = name();
    expect(upInBackground(iface).status).toBe(0);
    ns.ip('link', 'del', iface);
    await waitFor('the daemon to exit', () => daemonPids(iface).length === 0);
    expect(existsSync(sock(iface))).toBe(false);
  });

  it('stops when its socket file is deleted', async () => {
    const iface = name();
    expect(upInBackground(iface).status).toBe(0);
    spawnSync('rm', ['-f', sock(iface)]);
    await waitFor('the daemon to exit', () => daemonPids(iface).length === 0);
    expect(linkExists(ns, iface)).toBe(false);
  });

  it('stops on SIGINT in the foreground with exit status 0', async () => {
    const iface = name();
    const child = world.spawn(ns, process.execPath, [wgvmEntry, 'up', '-f', iface]);
    await waitFor('the socket', () => existsSync(sock(iface)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderrOf(child)).toContain('shutting down: SIGINT');
    expect(existsSync(sock(iface))).toBe(false);
  });

  it('replaces a stale socket, and refuses a second daemon for the same interface', async () => {
    const iface = name();
    // A socket file whose daemon is gone (killed without cleaning up).
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen('${sock(iface)}', () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(existsSync(sock(iface))).toBe(true);
    const first = upInBackground(iface);
    expect(first.status, first.stderr).toBe(0);
    const second = upInBackground(iface);
    expect(second.status).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toMatch(/wgvm up: .*(busy|in use)/i);
    expect(daemonPids(iface)).toHaveLength(1);
  });

  it('fails with a clear one-line error without CAP_NET_ADMIN', () => {
    const iface = name();
    // Still root, so that a checkout only root can read (one cloned into /root) loads; with an empty
    // bounding set that root has no capability at all after exec.
    const r = spawnSync('ip', ['netns', 'exec', ns.name, 'setpriv', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all',
      process.execPath, wgvmEntry, 'up', '-f', iface], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/CAP_NET_ADMIN/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(linkExists(ns, iface)).toBe(false);
  });

  it('rejects a bad interface name before touching anything', () => {
    const r = spawnSync(process.execPath, [wgvmEntry, 'up', 'bad/name'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('not a valid interface name');
  });
});
