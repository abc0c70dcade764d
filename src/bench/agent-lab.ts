// The NAT lab (nat-lab.ts) with the real product in it: `wgvm serve` in the hub's sandbox on the
// public address, and workers installed the way an admin installs them — registered over the API,
// `linux.sh` fetched from the node's install link with curl inside the worker's sandbox and run with
// sh there (wg-quick with a userspace implementation, the agent and its configuration), then the
// agent started in the foreground. Shared by the direct-paths test (test/netns/direct-paths.test.ts),
// the bench row `direct-paths` (row-direct-paths.ts) and the two-hub lab (two-hub-lab.ts), which adds
// a second hub (a LabHub: one `wgvm serve` process in a sandbox).
//
// Which userspace implementation a worker gets is decided by the installer, from what is installed:
// a `wgvm` worker has a `wgvm-userspace` wrapper in its private /usr/local/bin (which the installer
// prefers), a `wireguard-go` worker has none and gets Debian's wireguard-go from PATH.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB, NatLab, WORKERS, type Sandbox, type WorkerName } from './nat-lab.js';
import { stderrOf, waitFor } from './netns.js';
import { wgvmEnv, type Implementation } from './tunnel.js';

const wgvmEntry = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));
const userspaceEntry = fileURLToPath(new URL('../../bin/wgvm-userspace.js', import.meta.url));

export const API_PORT = 8090;
export const HUB_VPN_IP = '10.100.0.1';
/** API_TOKEN of the lab's hubs. */
export const LAB_API_TOKEN = 'direct-paths-lab-token-0123456789';

export interface LabWorker {
  name: WorkerName;
  s: Sandbox;
  implementation: Implementation;
  vpnIp: string;
  publicKey: string;
  /** what linux.sh printed */
  installOutput: string;
  agent: ChildProcess | null;
  /** everything the agent wrote to stderr (its log), kept whole */
  agentLog: string;
}

export interface ApiAnswer {
  status: number;
  text: string;
  json: any;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One `wgvm serve` in a sandbox, on its public address: started (again) with the same DATA_DIR,
 * killed, asked over its API. Its stdout and stderr are kept across runs (the last 200 KB).
 */
export class LabHub {
  process: ChildProcess | null = null;
  log = '';
  /** When the current process exited (Date.now()), or null while it runs. */
  exitedAt: number | null = null;

  constructor(
    readonly label: string,
    readonly s: Sandbox,
    /** its public address (SERVERURL) */
    readonly address: string,
    readonly dataDir: string,
    /** WG_INTERFACE */
    readonly iface: string,
  ) {
    mkdirSync(dataDir, { recursive: true });
  }

  /** The API's origin as workers and admins reach it. */
  get origin(): string {
    return `http://${this.address}:${API_PORT}`;
  }

  get running(): boolean {
    return this.process !== null && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Starts `wgvm serve` in the sandbox and waits for its API (/health). */
  async start(extraEnv: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
    const env = {
      ...wgvmEnv(process.env, null),
      SERVERURL: this.address,
      API_TOKEN: LAB_API_TOKEN,
      DATA_DIR: this.dataDir,
      API_PORT: String(API_PORT),
      DASHBOARD_PORT: '5000',
      WG_INTERFACE: this.iface,
      ...extraEnv,
    };
    const hub = this.s.spawn(process.execPath, [wgvmEntry, 'serve'], env);
    for (const stream of [hub.stdout!, hub.stderr!]) {
      stream.setEncoding('utf8').on('data', (d: string) => (this.log = (this.log + d).slice(-200_000)));
    }
    this.process = hub;
    this.exitedAt = null;
    hub.once('exit', () => (this.exitedAt = Date.now()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (hub.exitCode !== null || hub.signalCode !== null) throw new Error(`${this.label} exited (${hub.exitCode ?? hub.signalCode}):\n${this.logTail()}`);
      const r = await this.s.runAsync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${API_PORT}/health`], { timeout: 5000 });
      if (r.stdout === '200') return hub;
      if (Date.now() > deadline) throw new Error(`${this.label}'s API did not answer in 20 s:\n${this.logTail()}`);
      await sleep(200);
    }
  }

  /** SIGKILL; resolves when the process is gone. */
  async kill(): Promise<void> {
    const hub = this.process;
    if (!hub || hub.exitCode !== null || hub.signalCode !== null) return;
    const exited = new Promise((r) => hub.once('exit', r));
    hub.kill('SIGKILL');
    await exited;
  }

  /** The management API, called with curl from the hub's sandbox at its public address; status 0 when nothing answered. */
  async api(method: string, path: string, body?: unknown, maxTimeS = 20): Promise<ApiAnswer> {
    const args = ['-sS', '-X', method, '-H', `x-api-key: ${LAB_API_TOKEN}`, '-w', '\n%{http_code}', '--max-time', String(maxTimeS)];
    if (body !== undefined) args.push('-H', 'content-type: application/json', '--data-binary', JSON.stringify(body));
    const r = await this.s.runAsync('curl', [...args, `${this.origin}${path}`], { timeout: (maxTimeS + 10) * 1000 });
    const cut = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, cut);
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON (metrics, errors)
    }
    return { status: Number(r.stdout.slice(cut + 1)) || 0, text: text || r.stderr, json };
  }

  logTail(lines = 40): string {
    return this.log.split('\n').slice(-lines).join('\n');
  }

  /** What a failure prints: the last lines of the log other than the access log's (one line per request). */
  diagnostics(lines = 40): string {
    const state = this.process ? (this.running ? `running, pid ${this.process.pid}` : `exited (${this.process.exitCode ?? this.process.signalCode})`) : 'never started';
    const all = this.log.split('\n');
    const events = all.filter((l) => !l.includes('"msg":"request"'));
    return `--- ${this.label} (${state}) log, the last ${lines} lines but requests (${all.length - events.length} request lines left out)\n${events.slice(-lines).join('\n')}`;
  }
}

export class AgentLab {
  /** The hub the workers are registered at and installed from. */
  readonly primary: LabHub;
  readonly workers = {} as Record<WorkerName, LabWorker>;

  protected constructor(
    readonly lab: NatLab,
    hubLabel = 'hub',
  ) {
    this.primary = new LabHub(hubLabel, lab.hub, LAB.hub, join(lab.dir, 'hub-data'), `wgh${lab.id}`.slice(0, 15));
  }

  static async create(prefix = 'wgvmdp'): Promise<AgentLab> {
    return new AgentLab(await NatLab.create({ prefix }));
  }

  /** The hub's process (the current run). */
  get hub(): ChildProcess | null {
    return this.primary.process;
  }

  /** Starts `wgvm serve` in the hub's sandbox (same DATA_DIR every time) and waits for its API. */
  startHub(extraEnv: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
    return this.primary.start(extraEnv);
  }

  /** SIGKILL to the hub; resolves when it is gone. */
  killHub(): Promise<void> {
    return this.primary.kill();
  }

  /** The management API, called with curl from the hub's sandbox at the hub's public address. */
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
    return this.primary.api(method, path, body);
  }

  /** The hub's wgvm_device_relayed_bytes_total. */
  async relayedBytes(): Promise<number> {
    const r = await this.api('GET', '/metrics');
    const m = /^wgvm_device_relayed_bytes_total(?:\{[^}]*\})? (\d+)/m.exec(r.text);
    if (r.status !== 200 || !m) throw new Error(`no wgvm_device_relayed_bytes_total in /metrics (HTTP ${r.status}): ${r.text.slice(0, 300)}`);
    return Number(m[1]);
  }

  /** GET /api/nodes/status/<node>: the hub's view of one node. */
  async node(node: WorkerName): Promise<any> {
    const r = await this.api('GET', `/api/nodes/status/${node}`);
    if (r.status !== 200) throw new Error(`GET /api/nodes/status/${node}: HTTP ${r.status} ${r.text}`);
    return r.json;
  }

  /** The hub's view of one node's paths: peer → {state, via}. */
  async paths(node: WorkerName): Promise<Record<string, { state: string; via: string | null }>> {
    const paths = (await this.node(node)).paths as { peer: string; state: string; via: string | null }[];
    return Object.fromEntries(paths.map((p) => [p.peer, { state: p.state, via: p.via }]));
  }

  /**
   * Registers the worker at the hub and installs it from its install link: `linux.sh` fetched with
   * curl in the worker's sandbox and run with sh there.
   */
  async install(name: WorkerName, implementation: Implementation): Promise<LabWorker> {
    const s = this.lab.workers[name];
    if (implementation === 'wgvm') {
      // What `npm install -g` would put on PATH: a wgvm-userspace command.
      const bin = s.file('/usr/local/bin/wgvm-userspace');
      writeFileSync(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(userspaceEntry)} "$@"\n`);
      chmodSync(bin, 0o755);
    }
    const reg = await this.api('POST', '/api/nodes/register', { node_id: name, description: `NAT lab ${name}` });
    if (reg.status !== 201) throw new Error(`registering ${name}: HTTP ${reg.status} ${reg.text}`);
    const url = `${reg.json.install_url as string}/linux.sh`;
    const script = 'set -e; curl -fsS "$1" -o /var/lib/wgvm-linux.sh; sh /var/lib/wgvm-linux.sh';
    const r = await s.runAsync('sh', ['-c', script, 'sh', url], { timeout: 120_000, env: wgvmEnv(process.env, null) });
    const installOutput = r.stdout + r.stderr;
    if (r.status !== 0) throw new Error(`[${name}] linux.sh exited ${r.status}:\n${installOutput}\n--- hub log\n${this.hubLogTail()}`);
    const picked = /No WireGuard kernel module: using (\S+)/.exec(installOutput)?.[1] ?? '';
    const expected = implementation === 'wgvm' ? 'wgvm-userspace' : 'wireguard-go';
    if (!picked.endsWith(`/${expected}`)) throw new Error(`[${name}] the installer picked "${picked}", not ${expected}:\n${installOutput}`);
    const publicKey = (await s.execAsync('wg', ['show', 'wg0', 'public-key'])).trim();
    const w: LabWorker = { name, s, implementation, vpnIp: reg.json.node.vpn_ip, publicKey, installOutput, agent: null, agentLog: '' };
    this.workers[name] = w;
    return w;
  }

  /** Starts the installed agent (/usr/local/sbin/wgvm-agent) in the foreground in the worker's sandbox. */
  startAgent(name: WorkerName): ChildProcess {
    const w = this.workers[name];
    const agent = w.s.spawn('/usr/local/sbin/wgvm-agent', []);
    agent.stderr!.on('data', (d: string) => (w.agentLog = (w.agentLog + d).slice(-100_000)));
    w.agent = agent;
    return agent;
  }

  /** One column of `wg show wg0 <what>` on `w` for the peer `key` ([] when it is not a peer). */
  async wgField(w: LabWorker, what: string, key: string): Promise<string[]> {
    const out = await w.s.execAsync('wg', ['show', 'wg0', what]);
    const line = out.split('\n').find((l) => l.startsWith(`${key}\t`));
    return line ? line.split('\t').slice(1) : [];
  }

  /** Whether `from` holds `to` as a direct peer: its /32 on `to`'s key, and a handshake in the last `withinS` seconds. */
  async isDirect(from: LabWorker, to: LabWorker, withinS = 180): Promise<boolean> {
    const allowed = (await this.wgField(from, 'allowed-ips', to.publicKey)).join(' ');
    if (!allowed.split(/\s+/).includes(`${to.vpnIp}/32`)) return false;
    const hs = Number((await this.wgField(from, 'latest-handshakes', to.publicKey))[0] ?? 0);
    return hs > 0 && Date.now() / 1000 - hs <= withinS;
  }

  /** Polls `check` every 250 ms; returns the seconds it took, or throws naming `what` with the lab's state. */
  async until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      try {
        if (await check()) return (Date.now() - t0) / 1000;
      } catch {
        // not yet
      }
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${this.diagnostics()}`);
      await sleep(250);
    }
  }

  hubLogTail(lines = 40): string {
    return this.primary.logTail(lines);
  }

  /** The hubs' parts of a failure's diagnostics. */
  protected hubDiagnostics(): string[] {
    const parts = [`--- hub log (last 40 lines)\n${this.hubLogTail()}`];
    if (this.hub) parts.push(`--- hub stderr\n${stderrOf(this.hub)}`);
    return parts;
  }

  /** The lab's part of a failure's diagnostics: NAT rulesets, `wg show` everywhere. */
  protected labState(): string {
    return this.lab.state();
  }

  /** What a failure prints: the lab's state (NAT rulesets, `wg show` everywhere), the hub's log tail, every agent's log. */
  diagnostics(): string {
    const parts = [this.labState(), ...this.hubDiagnostics()];
    for (const name of WORKERS) {
      const w = this.workers[name];
      if (!w) continue;
      const agent = w.agent ? (w.agent.exitCode === null && w.agent.signalCode === null ? 'running' : `exited ${w.agent.exitCode ?? w.agent.signalCode}`) : 'not started';
      parts.push(`--- ${name} (${w.implementation}) agent (${agent}) log\n${w.agentLog.split('\n').slice(-30).join('\n')}`);
    }
    return parts.join('\n');
  }

  async close(): Promise<void> {
    await this.lab.close();
  }
}
