// A NAT test lab in network namespaces: a hub on a public segment, and workers behind home-router
// NATs, each worker in a sandbox of its own (network namespace + private mount namespace), so that
// every worker can run the same installer, the same interface name (wg0) and the same file paths.
//
//   public segment 203.0.113.0/24 (a bridge in the "inet" namespace; no traffic leaves the lab)
//     hub  203.0.113.10
//     nat1 203.0.113.101 ── LAN1 192.168.1.0/24 (a bridge in "lan1"): w1 192.168.1.10, w4 192.168.1.40
//     nat2 203.0.113.102 ── LAN2 192.168.2.0/24: w2 192.168.2.20
//     nat3 203.0.113.103 ── LAN3 192.168.3.0/24: w3 192.168.3.30   (masquerade fully-random)
//
// The NATs behave like home routers: masquerade on the WAN side (port-preserving, or a new random
// port for every flow on nat3), no hairpinning, and unsolicited inbound dropped in filter chains
// (input and forward, priority filter). Those run before conntrack confirms the packet's entry
// (confirmation is the last thing on input and postrouting), so a dropped inbound packet leaves no
// conntrack entry behind that could take the port a later outbound flow wants. Without that drop
// (`filterUnsolicited: false`), a peer's first packet arriving before the local side has sent
// anything is accepted by the router itself, its entry is confirmed, and the local side's later
// flow to that peer is masqueraded to a different port: the punch fails (test/netns/nat-lab.test.ts).
//
// A sandbox is a long-lived anchor process (`sleep infinity` under `ip netns exec <ns> unshare
// --mount --propagation private`); everything for that worker runs in its namespaces through
// `nsenter --target <anchor> --mount --net`. In its mount namespace /etc, /usr/local and /var/lib
// are overlays whose upper layer is the sandbox's own directory (whatever an installer writes there
// — /etc/wireguard, /etc/wgvm, /usr/local/sbin/wgvm-agent, /var/lib/wgvm-agent — stays private to
// the worker and never reaches the host), /run/wireguard is a tmpfs (the UAPI sockets of the
// workers' wg0 do not collide), and /run/systemd is hidden by an empty tmpfs (installers take the
// no-systemd path). The hub is a sandbox too; a lab can grow more sandboxes once built (addSandbox:
// a second hub on the public segment, a database host) and cables between them (two-hub-lab.ts).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endChildren, run, waitFor } from './netns.js';

export type WorkerName = 'w1' | 'w2' | 'w3' | 'w4';
export type NatName = 'nat1' | 'nat2' | 'nat3';
export const WORKERS: readonly WorkerName[] = ['w1', 'w2', 'w3', 'w4'];
export const NATS: readonly NatName[] = ['nat1', 'nat2', 'nat3'];

/** The lab's fixed addresses (IPv4 only). */
export const LAB = {
  publicPrefix: 24,
  hub: '203.0.113.10',
  nat: { nat1: '203.0.113.101', nat2: '203.0.113.102', nat3: '203.0.113.103' } as Record<NatName, string>,
  /** Each NAT's address on its LAN (the workers' default gateway). */
  gateway: { nat1: '192.168.1.1', nat2: '192.168.2.1', nat3: '192.168.3.1' } as Record<NatName, string>,
  lan: { w1: '192.168.1.10', w2: '192.168.2.20', w3: '192.168.3.30', w4: '192.168.1.40' } as Record<WorkerName, string>,
  lanPrefix: 24,
  natOf: { w1: 'nat1', w2: 'nat2', w3: 'nat3', w4: 'nat1' } as Record<WorkerName, NatName>,
  /** nat3 gives every flow a new random port. */
  fullyRandom: { nat1: false, nat2: false, nat3: true } as Record<NatName, boolean>,
} as const;

export interface NatLabOptions {
  /** Namespace name prefix (default "wgvmnat"); names get the PID and a counter appended. */
  prefix?: string;
  /**
   * Drop unsolicited inbound on the NATs' WAN side in filter chains, before conntrack confirms it
   * (default true, what works). false: accept it (the router's own stack answers it); only for the
   * experiment that shows why the drop matters.
   */
  filterUnsolicited?: boolean;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** milliseconds (default 60 s) */
  timeout?: number;
}

export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

let counter = 0;

/** The nftables ruleset of a NAT router with WAN interface "wan" and LAN interface "lan". */
export function natRuleset(fullyRandom: boolean, filterUnsolicited = true): string {
  const filter = filterUnsolicited
    ? `
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "wan" ct state established,related accept
\t\tiifname "wan" counter drop comment "unsolicited, dropped before conntrack confirms it"
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname "wan" ct state established,related accept
\t\tiifname "wan" counter drop comment "unsolicited, dropped before conntrack confirms it"
\t}`
    : `
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "wan" ct state new counter accept comment "unsolicited, accepted: conntrack confirms it"
\t}`;
  return `table ip natlab {
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname "wan" masquerade${fullyRandom ? ' fully-random' : ''}
\t}${filter}
}
`;
}

/** A network namespace plus a private mount namespace, held open by an anchor process. */
export class Sandbox {
  private readonly children: ChildProcess[] = [];
  /** PID of the anchor; its /proc/<pid>/root is the sandbox's view of the file system. */
  anchorPid = 0;
  constructor(
    readonly label: string,
    /** the network namespace's name (for `ip -n`, `ip netns exec`) */
    readonly netns: string,
    /** the host directory holding the sandbox's overlay layers */
    readonly dir: string,
  ) {}

  /** The host path of `path` as the sandbox sees it (read the worker's /etc/wireguard/wg0.conf etc.). */
  file(path: string): string {
    return `/proc/${this.anchorPid}/root${path}`;
  }

  private argv(cmd: string, args: string[]): string[] {
    return ['--target', String(this.anchorPid), '--mount', '--net', '--', cmd, ...args];
  }

  /** Runs a command in the sandbox; never throws on a non-zero exit. */
  run(cmd: string, args: string[], opts: ExecOptions = {}): ExecResult {
    const r = spawnSync('nsenter', this.argv(cmd, args), {
      encoding: 'utf8',
      input: opts.input,
      env: { ...process.env, ...opts.env },
      timeout: opts.timeout ?? 60_000,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  }

  /** Runs a command in the sandbox and returns its stdout; throws with stderr when it fails. */
  exec(cmd: string, args: string[], opts: ExecOptions = {}): string {
    const r = this.run(cmd, args, opts);
    if (r.status !== 0) throw new Error(`[${this.label}] ${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** The same as `run`, without blocking the event loop. */
  runAsync(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = spawn('nsenter', this.argv(cmd, args), { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout ?? 60_000);
      child.on('error', (e) => (stderr += String(e)));
      child.stdin.on('error', () => {}); // the command may exit before reading its input
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** The same as `exec`, without blocking the event loop. */
  async execAsync(cmd: string, args: string[], opts: ExecOptions = {}): Promise<string> {
    const r = await this.runAsync(cmd, args, opts);
    if (r.status !== 0) throw new Error(`[${this.label}] ${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /**
   * Starts a long-running process in the sandbox (nsenter execs it: the child's PID is the
   * process's). Killed by close(); the last 4 KB of its stderr are kept (stderrOf in netns.ts).
   */
  spawn(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn('nsenter', this.argv(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout!.resume();
    let errors = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (errors = (errors + d).slice(-4000)));
    Object.defineProperty(child, 'errors', { get: () => errors });
    this.children.push(child);
    return child;
  }

  /** `ip -n <netns> …` */
  ip(...args: string[]): string {
    return run('ip', ['-n', this.netns, ...args]);
  }

  /** Starts the anchor and builds the private mount namespace. */
  async start(): Promise<void> {
    const anchor = spawn('ip', ['netns', 'exec', this.netns, 'unshare', '--mount', '--propagation', 'private', 'sleep', 'infinity'], {
      stdio: 'ignore',
    });
    this.children.push(anchor);
    this.anchorPid = anchor.pid!;
    const ownMnt = readlinkSync('/proc/self/ns/mnt');
    // ip netns exec and unshare exec (no fork): the PID becomes sleep's once both have run.
    await waitFor(
      `the anchor of ${this.label}`,
      () => readFileSync(`/proc/${this.anchorPid}/comm`, 'utf8').trim() === 'sleep' && readlinkSync(`/proc/${this.anchorPid}/ns/mnt`) !== ownMnt,
      5000,
    ).catch((e: Error) => {
      throw new Error(`${e.message} (anchor exit code ${anchor.exitCode})`);
    });
    if (!existsSync('/run/wireguard')) run('mkdir', ['-p', '/run/wireguard']);
    const script = `set -e
for d in /etc /usr/local /var/lib; do
  mkdir -p "$1/upper$d" "$1/work$d"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$1/upper$d,workdir=$1/work$d" "$d"
done
mount -t tmpfs -o mode=0755 wgvm-lab /run/wireguard
if [ -d /run/systemd ]; then mount -t tmpfs -o mode=0755 wgvm-lab /run/systemd; fi
`;
    this.exec('sh', ['-c', script, 'sh', this.dir]);
  }

  /** Ends what this sandbox started (and everything else in its network namespace): SIGTERM, then SIGKILL. */
  async stop(): Promise<void> {
    await endChildren(this.children);
  }
}

/** PIDs of the processes in a network namespace (all of them started inside the lab). */
function pidsIn(netns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean).map(Number);
}

export class NatLab {
  /** Labs not yet closed, so that a signal handler can remove them all. */
  static readonly live = new Set<NatLab>();
  readonly id: string;
  readonly prefix: string;
  readonly filterUnsolicited: boolean;
  /** The host directory holding every sandbox's layers; removed by close(). */
  readonly dir: string;
  hub!: Sandbox;
  readonly workers = {} as Record<WorkerName, Sandbox>;
  /** NAT router namespaces by name; `nat(name)` runs commands there. */
  readonly natNetns = {} as Record<NatName, string>;
  private readonly namespaces: string[] = [];
  private readonly sandboxes: Sandbox[] = [];
  /** The public segment's switch namespace. */
  private inet = '';

  private constructor(options: NatLabOptions) {
    this.prefix = options.prefix ?? 'wgvmnat';
    this.filterUnsolicited = options.filterUnsolicited ?? true;
    this.id = `${process.pid % 100000}${counter++}`;
    this.dir = mkdtempSync(join(tmpdir(), 'wgvm-natlab-'));
    NatLab.live.add(this);
  }

  /** Builds the lab; on any failure removes what was made and throws. */
  static async create(options: NatLabOptions = {}): Promise<NatLab> {
    const lab = new NatLab(options);
    try {
      await lab.build();
      return lab;
    } catch (err) {
      await lab.close();
      throw err;
    }
  }

  readonly addresses = LAB;

  /** Runs a command in a NAT router's namespace (no private mount namespace there). */
  nat(name: NatName, cmd: string, args: string[], input?: string): string {
    try {
      return run('ip', ['netns', 'exec', this.natNetns[name], cmd, ...args], input);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`[${name}] ${cmd} ${args.join(' ')}: ${e.stderr || e.message}`);
    }
  }

  /**
   * What a failing test should print: every NAT's ruleset (with counters), and `wg show` in every
   * sandbox, or in those of `wgShowIn` (a hub with hundreds of peers says too much).
   */
  state(wgShowIn: readonly Sandbox[] = this.sandboxes): string {
    const parts: string[] = [];
    for (const name of NATS) {
      if (!this.natNetns[name]) continue;
      const r = spawnSync('ip', ['netns', 'exec', this.natNetns[name], 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
      parts.push(`--- ${name} nft list ruleset\n${r.stdout}${r.stderr}`);
    }
    for (const s of wgShowIn) {
      if (!s.anchorPid) continue;
      const r = s.run('wg', ['show', 'all'], { timeout: 5000 });
      parts.push(`--- ${s.label} wg show all\n${r.stdout}${r.stderr}`);
    }
    return parts.join('\n');
  }

  private namespace(label: string): string {
    const name = `${this.prefix}-${label}-${this.id}`;
    run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A veth pair with the given names in the two namespaces, up, each end with an address or none. */
  private veth(a: string, ifA: string, addrA: string | null, b: string, ifB: string, addrB: string | null): void {
    run('ip', ['link', 'add', ifA, 'netns', a, 'type', 'veth', 'peer', 'name', ifB, 'netns', b]);
    for (const [ns, ifc, addr] of [[a, ifA, addrA], [b, ifB, addrB]] as const) {
      if (addr) run('ip', ['-n', ns, 'addr', 'add', addr, 'dev', ifc]);
      run('ip', ['-n', ns, 'link', 'set', ifc, 'up']);
    }
  }

  /** A namespace with a bridge br0 (a switch). Bridged frames skip iptables/nftables there. */
  private switchNamespace(label: string): string {
    const ns = this.namespace(label);
    for (const key of ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables', 'bridge-nf-call-arptables']) {
      spawnSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.bridge.${key}=0`], { stdio: 'ignore' });
    }
    run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    return ns;
  }

  /** Plugs `ifc` (with `addr`) of `ns` into the switch's bridge. */
  private plug(sw: string, port: string, ns: string, ifc: string, addr: string): void {
    this.veth(sw, port, null, ns, ifc, addr);
    run('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0']);
  }

  private async sandbox(label: string): Promise<Sandbox> {
    const ns = this.namespace(label);
    const dir = join(this.dir, label);
    run('mkdir', ['-p', dir]);
    const s = new Sandbox(label, ns, dir);
    this.sandboxes.push(s);
    return s;
  }

  /**
   * One more sandbox once the lab is built (a second hub, a database host), started: on the public
   * segment as eth0 with `publicAddress` when given, else connected to nothing yet (see `cable`).
   * Removed by close() with the rest.
   */
  async addSandbox(label: string, publicAddress?: string): Promise<Sandbox> {
    const s = await this.sandbox(label);
    if (publicAddress) this.plug(this.inet, `p${label}`.slice(0, 15), s.netns, 'eth0', `${publicAddress}/${LAB.publicPrefix}`);
    await s.start();
    return s;
  }

  /** A cable (veth pair) between two sandboxes: `ifA` with `addrA` (CIDR) in `a`, `ifB` with `addrB` in `b`, both up. */
  cable(a: Sandbox, ifA: string, addrA: string, b: Sandbox, ifB: string, addrB: string): void {
    this.veth(a.netns, ifA, addrA, b.netns, ifB, addrB);
  }

  private async build(): Promise<void> {
    const inet = this.switchNamespace('inet');
    this.inet = inet;
    this.hub = await this.sandbox('hub');
    this.plug(inet, 'phub', this.hub.netns, 'eth0', `${LAB.hub}/${LAB.publicPrefix}`);
    for (const name of NATS) {
      const ns = this.namespace(name);
      this.natNetns[name] = ns;
      this.plug(inet, `p${name}`, ns, 'wan', `${LAB.nat[name]}/${LAB.publicPrefix}`);
      run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], natRuleset(LAB.fullyRandom[name], this.filterUnsolicited));
    }
    for (const w of WORKERS) this.workers[w] = await this.sandbox(w);
    // LAN1 is a switch (w1 and w4 share it); LAN2 and LAN3 are one cable each.
    const lan1 = this.switchNamespace('lan1');
    this.plug(lan1, 'pnat1', this.natNetns.nat1, 'lan', `${LAB.gateway.nat1}/${LAB.lanPrefix}`);
    this.plug(lan1, 'pw1', this.workers.w1.netns, 'eth0', `${LAB.lan.w1}/${LAB.lanPrefix}`);
    this.plug(lan1, 'pw4', this.workers.w4.netns, 'eth0', `${LAB.lan.w4}/${LAB.lanPrefix}`);
    this.veth(this.natNetns.nat2, 'lan', `${LAB.gateway.nat2}/${LAB.lanPrefix}`, this.workers.w2.netns, 'eth0', `${LAB.lan.w2}/${LAB.lanPrefix}`);
    this.veth(this.natNetns.nat3, 'lan', `${LAB.gateway.nat3}/${LAB.lanPrefix}`, this.workers.w3.netns, 'eth0', `${LAB.lan.w3}/${LAB.lanPrefix}`);
    for (const w of WORKERS) run('ip', ['-n', this.workers[w].netns, 'route', 'add', 'default', 'via', LAB.gateway[LAB.natOf[w]]]);
    for (const s of this.sandboxes) await s.start();
  }

  /**
   * Removes everything: processes started through the sandboxes, then any process left in the
   * lab's network namespaces (daemons that detached, e.g. wireguard-go under wg-quick; all started
   * inside the lab), the namespaces, and the sandboxes' directories. Safe after a failed create().
   */
  async close(): Promise<void> {
    for (const s of this.sandboxes) await s.stop();
    const left = () => this.namespaces.flatMap(pidsIn);
    for (const pid of left()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    await waitFor('the lab processes to exit', () => left().length === 0, 3000).catch(() => {
      for (const pid of left()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
    for (const ns of this.namespaces.reverse()) {
      spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
    }
    this.namespaces.length = 0;
    // The overlays die with the anchors' mount namespaces; their layers are plain directories then.
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      execFileSync('rm', ['-rf', this.dir]);
    }
    NatLab.live.delete(this);
  }
}
