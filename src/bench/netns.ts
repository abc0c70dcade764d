// Network namespaces for the benchmark and the tunnel tests: each world gets uniquely named
// namespaces joined by veth, and everything it starts is ended by PID and removed afterwards, also
// on failure.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

let counter = 0;

export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export class Namespace {
  constructor(readonly name: string) {}
  /** Runs a command inside the namespace and returns its stdout; throws with stderr on failure. */
  exec(cmd: string, args: string[], input?: string): string {
    try {
      return run('ip', ['netns', 'exec', this.name, cmd, ...args], input);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`[${this.name}] ${cmd} ${args.join(' ')}: ${e.stderr || e.message}`);
    }
  }
  ip(...args: string[]): string {
    return run('ip', ['-n', this.name, ...args]);
  }
}

/** The last few kilobytes a process started by World.spawn wrote to stderr. */
export function stderrOf(child: ChildProcess): string {
  return (child as ChildProcess & { errors?: string }).errors ?? '';
}

/**
 * Ends child processes: `signal` (SIGTERM; SIGINT makes tcpdump and ping flush), and SIGKILL for any
 * still running 3 s later. `until: 'close'` also waits for what they wrote to be read.
 */
export async function endChildren(
  children: readonly ChildProcess[],
  { signal = 'SIGTERM', until = 'exit' }: { signal?: NodeJS.Signals; until?: 'exit' | 'close' } = {},
): Promise<void> {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((r) => child.once(until, r));
    child.kill(signal);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export class World {
  /** Worlds not yet cleaned up, so that a signal handler can remove them all. */
  static readonly live = new Set<World>();
  readonly id: string;
  constructor(prefix = 'wgvmt') {
    this.id = `${process.pid % 100000}${counter++}`;
    this.prefix = prefix;
    World.live.add(this);
  }
  private readonly prefix: string;
  private readonly namespaces: Namespace[] = [];
  private readonly children: ChildProcess[] = [];

  /** A fresh namespace with loopback up. */
  namespace(label: string): Namespace {
    const ns = new Namespace(`${this.prefix}-${label}-${this.id}`);
    run('ip', ['netns', 'add', ns.name]);
    this.namespaces.push(ns);
    ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** Joins two namespaces with a veth pair and gives each end an address (CIDR notation). */
  link(a: Namespace, addrA: string, b: Namespace, addrB: string): void {
    const ifA = `va${this.id}${this.namespaces.indexOf(a)}${this.namespaces.indexOf(b)}`.slice(0, 15);
    const ifB = `vb${this.id}${this.namespaces.indexOf(a)}${this.namespaces.indexOf(b)}`.slice(0, 15);
    run('ip', ['link', 'add', ifA, 'netns', a.name, 'type', 'veth', 'peer', 'name', ifB, 'netns', b.name]);
    for (const [ns, ifc, addr] of [[a, ifA, addrA], [b, ifB, addrB]] as const) {
      ns.ip('addr', 'add', addr, 'dev', ifc, ...(addr.includes(':') ? ['nodad'] : []));
      ns.ip('link', 'set', ifc, 'up');
    }
  }

  /** Starts a long-running process inside a namespace; it is killed by PID at cleanup. */
  spawn(ns: Namespace, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    child.stdout!.resume();
    // Kept so that a failure can show what the process said.
    let errors = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors = (errors + d).slice(-4000)));
    Object.defineProperty(child, 'errors', { get: () => errors });
    this.children.push(child);
    return child;
  }

  async cleanup(): Promise<void> {
    await endChildren(this.children);
    for (const ns of this.namespaces.reverse()) {
      try {
        run('ip', ['netns', 'delete', ns.name]);
      } catch {
        // already gone
      }
    }
    World.live.delete(this);
  }
}

/** Waits until `check` returns true, polling; throws `what` on timeout. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs `fn` in a fresh world and removes everything it made afterwards, also on failure. */
export async function withWorld<T>(prefix: string, fn: (world: World) => Promise<T>): Promise<T> {
  const world = new World(prefix);
  try {
    return await fn(world);
  } finally {
    await world.cleanup();
  }
}
