// A SIGINT or SIGTERM at any moment of start-up — `wgvm up -f`, `wgvm up` (the daemon and the command
// that waits for it) and `wgvm serve` — leaves nothing behind: no interface, no control socket, no
// daemon, a registry that opens and passes SQLite's integrity check. Each try sends the signal after
// a random delay between 0 and a little more than the time the command takes to become ready, so the
// signal lands before, during and after each step of start-up.
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isRoot, stderrOf, waitFor, type Namespace, type World } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { daemonPids, httpIn, stopDaemons, useWorld, wgvmEntry } from '../helpers/tunnel.js';
import { DATABASE_FILE, HUB_PRIVATE_KEY_SETTING } from '../../src/store/index.js';

const skip = skipWithout('ip') || (!isRoot && !inCI);
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const TOKEN = 'signals-token-123456789';

const sock = (iface: string) => `/var/run/wireguard/${iface}.sock`;
const linkExists = (ns: Namespace, iface: string) => spawnSync('ip', ['-n', ns.name, 'link', 'show', iface]).status === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
}
const ended = (child: ChildProcess) =>
  new Promise<Ended>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });

/** Milliseconds from spawn until `ready` holds, measured once, to spread the signals over start-up. */
async function timeToReady(start: () => ChildProcess, ready: () => boolean, exitsWhenReady = false): Promise<number> {
  const began = Date.now();
  const child = start();
  await waitFor('start-up', () => ready() || (!exitsWhenReady && child.exitCode !== null), 30_000);
  const ms = Date.now() - began;
  if (!exitsWhenReady && child.exitCode !== null) throw new Error(`exited during start-up: ${stderrOf(child)}`);
  child.kill('SIGTERM');
  await ended(child);
  return ms;
}

/**
 * Runs `tries` start-ups, each stopped by SIGINT or SIGTERM after a random delay up to 1.3 × the time
 * to ready, and the last `afterReady` of them as soon as `ready` holds; checks each with `verify`.
 * The command must end with one of the `statuses` its documentation gives for that signal, or die of
 * the signal itself: its default action, possible only before Node has run the command's first line,
 * when nothing exists yet — so once `made` (something to clean up exists) holds at the moment of the
 * signal, a status is required.
 */
async function signalDuringStartUp(o: {
  tries: number;
  afterReady: number;
  readyMs: number;
  statuses: (signal: NodeJS.Signals) => number[];
  start: (i: number) => ChildProcess;
  ready: (i: number) => boolean;
  made: (i: number) => boolean;
  /** Whether the command had already done its work (it may die of the signal on its way out). */
  done?: (i: number) => boolean;
  verify: (i: number, how: Ended, signal: NodeJS.Signals, child: ChildProcess) => void | Promise<void>;
}): Promise<void> {
  for (let i = 0; i < o.tries; i++) {
    const signal = SIGNALS[i % 2]!;
    const child = o.start(i);
    const exit = ended(child);
    if (i >= o.tries - o.afterReady) await waitFor('start-up', () => o.ready(i) || child.exitCode !== null, 30_000);
    else await sleep(Math.random() * o.readyMs * 1.3);
    const made = o.made(i);
    child.kill(signal);
    const how = await exit;
    const what = `try ${i}: ${signal} ${made ? 'after' : 'before'} start-up made something → ${JSON.stringify(how)}: ${stderrOf(child)}`;
    if (how.signal === null) expect(o.statuses(signal), what).toContain(how.code);
    else if (made && !o.done?.(i)) expect.fail(`${what}: killed by the signal with something to clean up`);
    else expect(how.signal, what).toBe(signal);
    await o.verify(i, how, signal, child);
  }
}

describe.skipIf(skip)('signals during start-up leave nothing behind', () => {
  const t = useWorld('wgvm-signals-', ['ip']);
  const iface = (world: World, label: string, i: number) => `wg${label}${world.id}x${i}`.slice(0, 15);

  it('wgvm up --foreground: 50 signals at random moments of start-up', async () => {
    const ns = t.world.namespace('up');
    const name = (i: number) => iface(t.world, 'f', i);
    const start = (i: number) => t.world.spawn(ns, process.execPath, [wgvmEntry, 'up', '-f', name(i)]);
    const readyMs = await timeToReady(() => start(999), () => existsSync(sock(name(999))));
    await signalDuringStartUp({
      tries: 50,
      afterReady: 10,
      readyMs,
      statuses: () => [0],
      start,
      ready: (i) => existsSync(sock(name(i))),
      made: (i) => linkExists(ns, name(i)) || existsSync(sock(name(i))),
      verify: (i, how, signal, child) => {
        expect(linkExists(ns, name(i)), `try ${i}: interface left behind`).toBe(false);
        expect(existsSync(sock(name(i))), `try ${i}: socket left behind`).toBe(false);
        if (how.code === 0 && stderrOf(child).includes('shutting down')) expect(stderrOf(child)).toContain(`shutting down: ${signal}`);
      },
    });
  }, 240_000);

  it('wgvm up (daemon): a signal to the waiting command takes the daemon down with it', async () => {
    const ns = t.world.namespace('daemon');
    const name = (i: number) => iface(t.world, 'd', i);
    const names: string[] = [];
    const start = (i: number) => {
      names.push(name(i));
      return t.world.spawn(ns, process.execPath, [wgvmEntry, 'up', name(i)]);
    };
    try {
      // `wgvm up` returns 0 once its daemon is ready.
      const readyMs = await timeToReady(() => start(999), () => daemonPids(name(999)).length === 1 && existsSync(sock(name(999))), true);
      await stopDaemons(name(999));
      await signalDuringStartUp({
        tries: 20,
        afterReady: 4,
        readyMs,
        statuses: (signal) => [0, signal === 'SIGINT' ? 130 : 143],
        start,
        // The daemon's interface: the waiting command then holds a child to stop.
        ready: (i) => linkExists(ns, name(i)),
        made: (i) => daemonPids(name(i)).length > 0,
        // Ready (its socket exists): `wgvm up` was returning 0 and may meet the signal while Node
        // tears the process down, when no handler runs any more. The daemon then lives on, as asked.
        done: (i) => existsSync(sock(name(i))) && daemonPids(name(i)).length === 1,
        verify: async (i, how, signal, child) => {
          // Ready before the signal came (or, see `done`, while this command was exiting): the daemon
          // is meant to live on. Stopped here so that the checks below see it go.
          if (how.code === 0) expect(daemonPids(name(i))).toHaveLength(1);
          if (how.code === 0 || how.signal !== null) await stopDaemons(name(i));
          expect(daemonPids(name(i)), `try ${i}: daemon left running (${JSON.stringify(how)} after ${signal}: ${stderrOf(child)})`).toHaveLength(0);
          expect(linkExists(ns, name(i)), `try ${i}: interface left behind`).toBe(false);
          expect(existsSync(sock(name(i))), `try ${i}: socket left behind`).toBe(false);
        },
      });
    } finally {
      for (const n of names) await stopDaemons(n);
    }
  }, 240_000);

  it('wgvm serve: 20 signals at random moments of start-up, then a registry that opens and is whole', async () => {
    const ns = t.world.namespace('hub');
    t.world.link(ns, '198.18.7.1/24', t.world.namespace('peer'), '198.18.7.2/24');
    const dataDir = join(t.dir, 'data');
    const start = (name: string) =>
      t.world.spawn(ns, process.execPath, [wgvmEntry, 'serve'], {
        SERVERURL: '198.18.7.1', API_TOKEN: TOKEN, WG_INTERFACE: name, DATA_DIR: dataDir, API_PORT: '8090', DASHBOARD_PORT: '5000',
      });
    const healthy = () => httpIn(ns, 'GET', 'http://127.0.0.1:5000/health').status === 200;
    const readyMs = await timeToReady(() => start(iface(t.world, 's', 999)), healthy);
    const db = () => new Database(join(dataDir, DATABASE_FILE), { readonly: true });
    const hubKey = () => {
      const d = db();
      try {
        return d.prepare('SELECT value FROM settings WHERE key = ?').get(HUB_PRIVATE_KEY_SETTING);
      } finally {
        d.close();
      }
    };
    const key = hubKey();
    expect(key).toBeDefined();

    await signalDuringStartUp({
      tries: 20,
      afterReady: 4,
      readyMs,
      statuses: () => [0],
      start: (i) => start(iface(t.world, 's', i)),
      ready: () => httpIn(ns, 'GET', 'http://127.0.0.1:8090/health').status === 200,
      made: (i) => linkExists(ns, iface(t.world, 's', i)),
      verify: (i, how, signal, child) => {
        const name = iface(t.world, 's', i);
        if (how.code === 0) expect(stderrOf(child)).toContain(`shutting down: ${signal}`);
        expect(linkExists(ns, name), `try ${i}: interface left behind`).toBe(false);
        expect(existsSync(sock(name)), `try ${i}: socket left behind`).toBe(false);
      },
    });

    const d = db();
    try {
      expect(d.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      d.close();
    }
    expect(hubKey()).toEqual(key); // the hub is still the same peer to its workers

    // And it starts whole again: API answers, then SIGTERM ends it with 0.
    const hub = start(iface(t.world, 's', 1000));
    await waitFor('the API', () => httpIn(ns, 'GET', 'http://127.0.0.1:8090/health').status === 200, 30_000);
    hub.kill('SIGTERM');
    expect((await ended(hub)).code).toBe(0);
  }, 240_000);

  it('npm start: SIGTERM to npm reaches the hub (no orphan left running)', async () => {
    const ns = t.world.namespace('npm');
    const name = iface(t.world, 'n', 0);
    // From the project's directory (the tests' working directory), as the README says.
    const npm = t.world.spawn(ns, 'npm', ['start', '--silent'], {
      SERVERURL: '198.51.100.1', API_TOKEN: TOKEN, WG_INTERFACE: name, DATA_DIR: join(t.dir, 'npm-data'),
    });
    // The hub's process, whatever runs it: found by the interface name in its environment.
    const hubPids = () =>
      spawnSync('pgrep', ['-f', 'wgvm.js serve'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)
        .filter((pid) => { try { return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`WG_INTERFACE=${name}`); } catch { return false; } });
    try {
      await waitFor('the API', () => httpIn(ns, 'GET', 'http://127.0.0.1:8090/health').status === 200, 60_000);
      expect(hubPids()).toHaveLength(1);
      npm.kill('SIGTERM');
      await ended(npm);
      await waitFor('the hub to exit', () => hubPids().length === 0, 10_000);
      expect(linkExists(ns, name)).toBe(false);
      expect(existsSync(sock(name))).toBe(false);
    } finally {
      for (const pid of hubPids()) process.kill(pid, 'SIGKILL');
    }
  }, 120_000);
});
