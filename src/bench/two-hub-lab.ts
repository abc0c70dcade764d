// Two hubs on one PostgreSQL registry (issue #20), in the NAT lab with the real product: the agent
// lab (agent-lab.ts) — hub A in the lab's hub sandbox at 203.0.113.10, workers behind home-router
// NATs installed from hub A's install links — plus hub B in a sandbox of its own on the public
// segment at 203.0.113.11 (no floating address: each hub announces its own endpoint), and a `db`
// sandbox for the registry's PostgreSQL server, with a cable of its own to each hub:
//
//   public segment 203.0.113.0/24:  hub A 203.0.113.10 (eth0)   hub B 203.0.113.11 (eth0)   nat1, nat2, nat3 …
//   hub A db0 172.31.1.2/30 ── 172.31.1.1 (tohuba) db (tohubb) 172.31.2.1 ── 172.31.2.2/30 db0 hub B
//
// so that cutting one hub's link to the database (`cutDatabase`: its db0 down, inside the hub's
// sandbox) leaves its public link up. The database server itself is the caller's (the tests start a
// throwaway one in `db` with test/helpers/postgres.ts, listening on both DB addresses) and hands the
// lab one URL per hub (`databaseUrls`). Both hubs run `wgvm serve` with their own DATA_DIR, the same
// secret.key (B's is copied from A's before B first starts), the same API_TOKEN, INTERNAL_SUBNET and
// WORKER_IP_RANGE, and SERVERURL their own public address; their hub names are fixed (hub-a, hub-b) to read the logs.
//
// Also here: a registration client run inside a sandbox (one Node process making many HTTP requests,
// instead of a curl per request), a UDP capture (tcpdump in a sandbox, parsed as it runs) and a
// continuous ping with timestamps.
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HaView } from '../domain/hub-roles.js';
import { AgentLab, LAB_API_TOKEN, LabHub, type LabWorker } from './agent-lab.js';
import { LAB, NatLab, type Sandbox, type WorkerName } from './nat-lab.js';
import { endChildren, stderrOf, waitFor } from './netns.js';
import type { Implementation } from './tunnel.js';

export const TWO_HUBS = {
  a: { public: LAB.hub, db: '172.31.1.2', dbServer: '172.31.1.1', dbNetwork: '172.31.1.0/30', hubId: 'hub-a' },
  b: { public: '203.0.113.11', db: '172.31.2.2', dbServer: '172.31.2.1', dbNetwork: '172.31.2.0/30', hubId: 'hub-b' },
  dbPrefix: 30,
  /** Each hub's side of its cable to the database. */
  dbIface: 'db0',
  subnet: '10.100.0.0/16',
  /** Room for the load test's 500 nodes and more (the default range holds 253). */
  workerRange: '10.100.1.2-10.100.15.254',
  wgPort: 51820,
} as const;

export type HubName = 'a' | 'b';

/** One registration as the client saw it. */
export interface RegistrationResult {
  origin: string;
  nodeId: string;
  /** when it was sent (Date.now() in the sandbox: the same clock) */
  at: number;
  ms: number;
  /** 0: no HTTP answer (see error) */
  status: number;
  retryAfter: string | null;
  vpnIp: string | null;
  /** the body of an answer other than 201 (its start) */
  body: string;
  /** what failed when there was no answer: ECONNREFUSED, TimeoutError, … */
  error: string | null;
}

// The registration client (CommonJS, for `node -e`): a batch of registrations with a concurrency,
// or a loop that sends one registration to each origin every `everyMs` for `durationMs` (without
// waiting for the answers, so a hub that hangs does not slow the loop). Reads its job as JSON on
// stdin, prints the results as JSON.
const CLIENT = String.raw`
const job = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
async function register(origin, nodeId) {
  const at = Date.now();
  const done = (fields) => ({ origin, nodeId, at, ms: Date.now() - at, status: 0, retryAfter: null, vpnIp: null, body: '', error: null, ...fields });
  try {
    const r = await fetch(origin + '/api/nodes/register', {
      method: 'POST',
      headers: { 'x-api-key': job.token, 'content-type': 'application/json' },
      body: JSON.stringify({ node_id: nodeId, description: 'two-hub lab' }),
      signal: AbortSignal.timeout(job.timeoutMs),
    });
    const text = await r.text();
    let vpnIp = null;
    try { vpnIp = JSON.parse(text).node.vpn_ip; } catch {}
    return done({ status: r.status, retryAfter: r.headers.get('retry-after'), vpnIp, body: r.status === 201 ? '' : text.slice(0, 300) });
  } catch (e) {
    return done({ error: String((e && e.cause && e.cause.code) || (e && e.name) || e) });
  }
}
async function main() {
  const results = [];
  if (job.mode === 'batch') {
    let next = 0;
    const worker = async () => {
      while (next < job.jobs.length) {
        const j = job.jobs[next++];
        results.push(await register(j.origin, j.nodeId));
      }
    };
    await Promise.all(Array.from({ length: job.concurrency }, worker));
  } else {
    const pending = [];
    const end = Date.now() + job.durationMs;
    for (let i = 0; Date.now() < end; i++) {
      job.origins.forEach((origin, k) => pending.push(register(origin, job.prefixes[k] + '-' + i).then((r) => results.push(r))));
      await new Promise((r) => setTimeout(r, job.everyMs));
    }
    await Promise.all(pending);
  }
  process.stdout.write(JSON.stringify(results));
}
main();
`;

/** Runs the registration client in `s`; resolves with every registration's result. */
async function runClient(s: Sandbox, job: object, timeoutMs: number): Promise<RegistrationResult[]> {
  const r = await s.runAsync(process.execPath, ['-e', CLIENT], { input: JSON.stringify({ token: LAB_API_TOKEN, timeoutMs: 20_000, ...job }), timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`[${s.label}] the registration client exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout) as RegistrationResult[];
}

export interface UdpPacket {
  /** seconds since the epoch (the kernel's timestamp) */
  t: number;
  /** address.port */
  src: string;
  dst: string;
}

/** tcpdump in a sandbox, capturing UDP on one interface, its packets parsed as they come. */
export class UdpCapture {
  readonly packets: UdpPacket[] = [];
  private child: ChildProcess | null = null;
  private rest = '';

  constructor(
    readonly s: Sandbox,
    readonly iface: string,
  ) {}

  /** Starts tcpdump and waits until it listens. */
  async start(): Promise<void> {
    const child = this.s.spawn('tcpdump', ['-n', '-tt', '-l', '-i', this.iface, 'udp']);
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.parse(d));
    await waitFor(`tcpdump on ${this.s.label} ${this.iface}`, () => child.exitCode !== null || stderrOf(child).includes('listening on'), 10_000);
    if (child.exitCode !== null) throw new Error(`[${this.s.label}] tcpdump exited ${child.exitCode}: ${stderrOf(child)}`);
  }

  private parse(data: string): void {
    const lines = (this.rest + data).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^(\d+\.\d+) IP (\S+) > (\S+?):/.exec(line);
      if (m) this.packets.push({ t: Number(m[1]), src: m[2]!, dst: m[3]! });
    }
  }

  /** The packets whose source is `addressPort` ("203.0.113.11.51820", tcpdump's notation). */
  from(addressPort: string): UdpPacket[] {
    return this.packets.filter((p) => p.src === addressPort);
  }

  /** Stops tcpdump (SIGINT: it flushes) and waits until its last packets are read. */
  async stop(): Promise<void> {
    if (this.child) await endChildren([this.child], { signal: 'SIGINT', until: 'close' });
  }
}

/** `ping -D` in a sandbox until stopped: the time of every reply. */
export class ContinuousPing {
  /** seconds since the epoch of each reply (ping's -D timestamp) */
  readonly replies: number[] = [];
  private readonly child: ChildProcess;
  private rest = '';
  output = '';

  constructor(
    readonly s: Sandbox,
    readonly target: string,
    readonly interval = 0.2,
  ) {
    this.child = s.spawn('ping', ['-n', '-D', '-i', String(interval), '-W', '1', target]);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.output = (this.output + d).slice(-20_000);
      const lines = (this.rest + d).split('\n');
      this.rest = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=\d+/.exec(line);
        if (m) this.replies.push(Number(m[1]));
      }
    });
  }

  /** The longest stretch without a reply between `from` and `to` (seconds since the epoch). */
  longestGap(from: number, to: number): number {
    let longest = 0;
    let prev = from;
    for (const t of [...this.replies.filter((r) => r > from && r < to), to]) {
      longest = Math.max(longest, t - prev);
      prev = t;
    }
    return longest;
  }

  async stop(): Promise<void> {
    await endChildren([this.child], { signal: 'SIGINT', until: 'close' });
  }
}

export class TwoHubLab extends AgentLab {
  readonly b: LabHub;
  /** The database host: the caller starts PostgreSQL in it (on TWO_HUBS.a.dbServer and .b.dbServer). */
  readonly db: Sandbox;
  /** Each hub's DATABASE_URL: the same database, each over its own cable. Set before starting a hub. */
  databaseUrls: Record<HubName, string> | null = null;

  private constructor(lab: NatLab, b: Sandbox, db: Sandbox) {
    super(lab, 'hub A');
    this.b = new LabHub('hub B', b, TWO_HUBS.b.public, join(lab.dir, 'hub-b-data'), `wgb${lab.id}`.slice(0, 15));
    this.db = db;
    for (const [hub, name] of [[this.primary, 'a'], [this.b, 'b']] as const) writeFileSync(join(hub.dataDir, 'hub_id'), `${TWO_HUBS[name].hubId}\n`);
  }

  static override async create(prefix = 'wgvm2h'): Promise<TwoHubLab> {
    const lab = await NatLab.create({ prefix });
    try {
      const b = await lab.addSandbox('hubb', TWO_HUBS.b.public);
      const db = await lab.addSandbox('db');
      const p = TWO_HUBS.dbPrefix;
      lab.cable(lab.hub, TWO_HUBS.dbIface, `${TWO_HUBS.a.db}/${p}`, db, 'tohuba', `${TWO_HUBS.a.dbServer}/${p}`);
      lab.cable(b, TWO_HUBS.dbIface, `${TWO_HUBS.b.db}/${p}`, db, 'tohubb', `${TWO_HUBS.b.dbServer}/${p}`);
      return new TwoHubLab(lab, b, db);
    } catch (err) {
      await lab.close();
      throw err;
    }
  }

  /** Hub A: the lab's hub sandbox, the one the workers are installed from. */
  get a(): LabHub {
    return this.primary;
  }

  hubNamed(name: HubName): LabHub {
    return name === 'a' ? this.primary : this.b;
  }

  /**
   * Starts `wgvm serve` on hub `name` with its DATABASE_URL (B's first start copies A's secret.key:
   * start A first) and waits for its API.
   */
  async start(name: HubName): Promise<ChildProcess> {
    if (!this.databaseUrls) throw new Error('set databaseUrls before starting a hub');
    const hub = this.hubNamed(name);
    const key = join(hub.dataDir, 'secret.key');
    if (name === 'b' && !existsSync(key)) copyFileSync(join(this.primary.dataDir, 'secret.key'), key);
    return hub.start({
      DATABASE_URL: this.databaseUrls[name],
      INTERNAL_SUBNET: TWO_HUBS.subnet,
      WORKER_IP_RANGE: TWO_HUBS.workerRange,
      SERVERPORT: String(TWO_HUBS.wgPort),
    });
  }

  /** `ha` of the hub's /api/vpn/status; throws when it does not answer 200 in `maxTimeS`. */
  async ha(hub: LabHub, maxTimeS = 5): Promise<HaView> {
    const r = await hub.api('GET', '/api/vpn/status', undefined, maxTimeS);
    if (r.status !== 200 || !r.json?.ha) throw new Error(`${hub.label} GET /api/vpn/status: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return r.json.ha as HaView;
  }

  /** The hub's wgvm_hub_active from /metrics, with its hub_id label. */
  async hubActiveMetric(hub: LabHub): Promise<{ hubId: string; value: number }> {
    const r = await hub.api('GET', '/metrics');
    const m = /^wgvm_hub_active\{hub_id="([^"]*)"\} (\d+)/m.exec(r.text);
    if (r.status !== 200 || !m) throw new Error(`no wgvm_hub_active in ${hub.label}'s /metrics (HTTP ${r.status}): ${r.text.slice(0, 300)}`);
    return { hubId: m[1]!, value: Number(m[2]) };
  }

  /** Every node in the registry, as the hub's API lists it: node_id → vpn_ip. */
  async registry(hub: LabHub): Promise<Map<string, string>> {
    const r = await hub.api('GET', '/api/nodes/list', undefined, 60);
    if (r.status !== 200) throw new Error(`${hub.label} GET /api/nodes/list: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return new Map((r.json.nodes as { node_id: string; vpn_ip: string }[]).map((n) => [n.node_id, n.vpn_ip]));
  }

  /** Registers `jobs` over HTTP from the sandbox `from`, `concurrency` at a time. */
  registerBatch(from: Sandbox, jobs: { origin: string; nodeId: string }[], concurrency: number): Promise<RegistrationResult[]> {
    return runClient(from, { mode: 'batch', jobs, concurrency }, 300_000);
  }

  /** One registration to each of `origins` every `everyMs` for `durationMs`, node IDs `<prefix>-<n>`, from `from`. */
  registerLoop(from: Sandbox, origins: string[], prefixes: string[], everyMs: number, durationMs: number): Promise<RegistrationResult[]> {
    return runClient(from, { mode: 'loop', origins, prefixes, everyMs, durationMs }, durationMs + 60_000);
  }

  /**
   * Registers the worker at hub A and installs it from its install link (AgentLab.install); the
   * installer must have named both hubs to its agent (every hub the registry has seen).
   */
  override async install(name: WorkerName, implementation: Implementation): Promise<LabWorker> {
    const w = await super.install(name, implementation);
    const url = /^WGVM_HUB_URL=(\S*)/m.exec(readFileSync(w.s.file('/etc/wgvm/agent.conf'), 'utf8'))?.[1] ?? '';
    const named = url.split(',');
    if (!named.includes(this.a.origin) || !named.includes(this.b.origin)) {
      throw new Error(`${name}'s agent.conf names ${url || 'no hub'}, not both hubs (${this.a.origin}, ${this.b.origin})`);
    }
    return w;
  }

  /** Cuts the hub's cable to the database (its end down, inside its sandbox); its public link stays up. */
  cutDatabase(hub: LabHub): void {
    hub.s.exec('ip', ['link', 'set', TWO_HUBS.dbIface, 'down']);
  }

  restoreDatabase(hub: LabHub): void {
    hub.s.exec('ip', ['link', 'set', TWO_HUBS.dbIface, 'up']);
  }

  /** Whether the hub's WireGuard interface exists in its sandbox (its device is up). */
  deviceUp(hub: LabHub): boolean {
    return hub.s.run('ip', ['link', 'show', hub.iface], { timeout: 5000 }).status === 0;
  }

  /** `wg show` of the installed workers only: the hubs' devices hold every registered node. */
  protected override labState(): string {
    return this.lab.state(Object.values(this.workers).map((w) => w.s));
  }

  /** Both hubs' log tails, their devices' view of the installed workers, and their cables to the database. */
  protected override hubDiagnostics(): string[] {
    const parts: string[] = [];
    const keys = Object.values(this.workers).map((w) => w.publicKey);
    for (const hub of [this.primary, this.b]) {
      parts.push(hub.diagnostics());
      const links = hub.s.run('ip', ['-br', 'addr'], { timeout: 5000 });
      parts.push(`--- ${hub.label} ip -br addr\n${links.stdout}${links.stderr}`);
      for (const what of ['endpoints', 'latest-handshakes']) {
        const r = hub.s.run('wg', ['show', hub.iface, what], { timeout: 2000 }); // (a stuck hub does not answer)
        const lines = r.stdout.split('\n').filter((l) => keys.some((k) => l.startsWith(k)));
        parts.push(`--- ${hub.label} wg show ${hub.iface} ${what} (the workers)\n${r.status === 0 ? lines.join('\n') : `(no answer: ${r.stderr.trim()})`}`);
      }
    }
    return parts;
  }
}

/** tcpdump's notation of an address and port. */
export function addressPort(address: string, port: number = TWO_HUBS.wgPort): string {
  return `${address}.${port}`;
}

/** Whether one ping of `target` from `s` is answered within a second. */
export async function pingOnce(s: Sandbox, target: string): Promise<boolean> {
  const r = await s.runAsync('ping', ['-n', '-c', '1', '-W', '1', target], { timeout: 5000 });
  return r.status === 0;
}
