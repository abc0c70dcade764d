// `wgvm bench-control` (`npm run bench:control`): the hub's control plane at fleet size,
// measured as an admin would load it. One `wgvm serve` in a namespace of its own, WORKER_IP_RANGE
// widened to hold the fleet, N registrations through the API with C in flight and no worker online;
// then the node list's latency (paged, filtered and whole) and the idle hub's CPU. Figures by
// thousand, so that a registration whose cost grows with the fleet shows as a falling rate.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataPlaneEnv } from '../dataplane/openssl-env.js';
import { formatIpv4, parseIpv4 } from '../domain/ip.js';
import { controlPlaneMarkdown, latencyFigures, ratesByBlock, type ControlPlaneResult, type LatencyFigures } from './control-figures.js';
import { GET_TIMING_SCRIPT, REGISTER_SCRIPT } from './control-scripts.js';
import { cpuSeconds, cpuSecondsOfThreads } from './measure.js';
import { stderrOf, waitFor, World, type Namespace } from './netns.js';
import { numberOption, parseCommandLine } from './options.js';
import { BenchError } from './run.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const wgvmEntry = join(root, 'bin', 'wgvm.js');

export const CONTROL_PLANE_USAGE =
  'wgvm bench-control [--nodes N] [--clients C] [--idle S] [--gets R] [--prof DIR] [--out DIR]';

export interface ControlPlaneOptions {
  nodes: number;
  concurrency: number;
  idleSeconds: number;
  listRequests: number;
  /** Where the hub writes a V8 CPU profile (node --cpu-prof) when it stops; none when unset. */
  cpuProfDir: string | null;
  out: string;
}

const OPTIONS = {
  nodes: { type: 'string' },
  clients: { type: 'string' },
  idle: { type: 'string' },
  gets: { type: 'string' },
  prof: { type: 'string' },
  out: { type: 'string' },
} as const;

// The range, 10.100.1.2-10.100.40.254 (10,237 addresses), widened further for larger runs.
const RANGE_FIRST = parseIpv4('10.100.1.2')!;
const RANGE_LAST_AT_LEAST = parseIpv4('10.100.40.254')!;
const MAX_NODES = parseIpv4('10.100.255.254')! - RANGE_FIRST + 1;
const TOKEN = 'bench-control-token-0123456789';
/** Node IDs are `<prefix><index>`; the text filter's benchmark looks for "rack 7" (one node in 40). */
const PREFIX = 'bench-';

export function parseControlPlaneOptions(argv: string[]): ControlPlaneOptions {
  const values = parseCommandLine(argv, OPTIONS, CONTROL_PLANE_USAGE);
  const integer = (name: string, text: string | undefined, fallback: number, min: number, max: number) => numberOption(name, text, fallback, min, max, true);
  return {
    nodes: integer('nodes', values.nodes, 10_000, 1, MAX_NODES),
    concurrency: integer('clients', values.clients, 32, 1, 256),
    idleSeconds: integer('idle', values.idle, 60, 0, 600),
    listRequests: integer('gets', values.gets, 500, 1, 100_000),
    cpuProfDir: values.prof ?? null,
    out: values.out ?? join(root, 'bench', 'results'),
  };
}

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** A Node.js program run inside the namespace; its stdout parsed as JSON. */
function runScript<T>(ns: Namespace, script: string, args: string[]): T {
  const out = execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, '--input-type=module', '-e', script, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out) as T;
}

export async function runControlPlaneBench(o: ControlPlaneOptions): Promise<number> {
  if (process.getuid?.() !== 0) throw new BenchError('the benchmark needs root (the hub opens a TUN device in a network namespace)');
  const world = new World('wgvmc');
  const dataDir = mkdtempSync(join(os.tmpdir(), 'wgvm-bench-cp-'));
  const onSignal = () => {
    progress('interrupted: cleaning up');
    void world.cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const ns = world.namespace('hub');
    const rangeLast = Math.max(RANGE_LAST_AT_LEAST, RANGE_FIRST + o.nodes - 1);
    const workerRange = `${formatIpv4(RANGE_FIRST)}-${formatIpv4(rangeLast)}`;
    const nodeArgs = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
    const hub = world.spawn(ns, process.execPath, [...nodeArgs, wgvmEntry, 'serve'], {
      ...dataPlaneEnv(process.env),
      SERVERURL: '198.18.0.1',
      API_TOKEN: TOKEN,
      WG_INTERFACE: `wgcp${world.id}`.slice(0, 15),
      DATA_DIR: dataDir,
      WORKER_IP_RANGE: workerRange,
      LOG_LEVEL: 'warn',
    });
    await waitFor('the hub API', () => {
      if (hub.exitCode !== null) throw new BenchError(`the hub exited: ${stderrOf(hub)}`);
      return runScript<{ status: number }[]>(ns, GET_TIMING_SCRIPT, ['http://127.0.0.1:8090', TOKEN, '0', '1', '/health'])[0]!.status === 200;
    }, 20_000);
    if (hub.exitCode !== null) throw new BenchError(`the hub exited: ${stderrOf(hub)}`);

    progress(`registering ${o.nodes} nodes, ${o.concurrency} at a time (range ${workerRange})`);
    const reg = runScript<{ completedAt: number[]; latencies: number[]; failures: unknown[] }>(ns, REGISTER_SCRIPT, [
      'http://127.0.0.1:8090/api/nodes/register',
      TOKEN,
      String(o.nodes),
      String(o.concurrency),
      PREFIX,
    ]);
    if (reg.failures.length > 0) throw new BenchError(`registrations failed: ${JSON.stringify(reg.failures)}`);
    const byThousand = ratesByBlock(reg.completedAt, reg.latencies);
    for (const t of byThousand) progress(`  nodes ${t.from}-${t.to}: ${t.perSecond.toFixed(1)}/s, p99 ${t.latencyP99Ms.toFixed(1)} ms`);

    const listPaths = [
      '/api/nodes/list?limit=100',
      `/api/nodes/list?limit=100&offset=${Math.max(0, o.nodes - 100)}`,
      '/api/nodes/list?limit=100&status=pending&q=rack%207',
    ];
    progress(`timing ${listPaths.join(', ')} (${o.listRequests} each) and the whole list`);
    const timed = [
      ...runScript<{ path: string; status: number; bytes: number; latencies: number[] }[]>(ns, GET_TIMING_SCRIPT, [
        'http://127.0.0.1:8090',
        TOKEN,
        '20',
        String(o.listRequests),
        ...listPaths,
      ]),
      ...runScript<{ path: string; status: number; bytes: number; latencies: number[] }[]>(ns, GET_TIMING_SCRIPT, ['http://127.0.0.1:8090', TOKEN, '2', '20', '/api/nodes/list']),
    ];
    const lists: LatencyFigures[] = timed.map((t) => latencyFigures(t.path, t.status, t.bytes, t.latencies));
    for (const l of lists) progress(`  GET ${l.path}: ${l.status}, ${l.bytes} bytes, p50 ${l.p50Ms.toFixed(2)} ms, p99 ${l.p99Ms.toFixed(2)} ms`);

    // What the registrations left behind (garbage, the WAL, timers) settles first.
    await new Promise((r) => setTimeout(r, 5000));
    progress(`idle for ${o.idleSeconds} s`);
    const cpu0 = cpuSeconds(hub.pid!);
    const threads0 = cpuSecondsOfThreads(hub.pid!);
    await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
    const idleCpu = cpuSeconds(hub.pid!) - cpu0;
    // Where it went: the JS thread, or the others (V8's garbage collection helpers, the device's threads).
    const threads1 = cpuSecondsOfThreads(hub.pid!);
    const byThread = { main: threads1.main - threads0.main, others: threads1.others - threads0.others };

    const result: ControlPlaneResult = {
      version: 1,
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.trim() ?? 'unknown', kernel: os.release(), node: process.version },
      options: { nodes: o.nodes, concurrency: o.concurrency, idleSeconds: o.idleSeconds, workerRange },
      registration: {
        seconds: reg.completedAt.at(-1)! / 1000,
        byThousand,
        lastToFirst: byThousand.at(-1)!.perSecond / byThousand[0]!.perSecond,
      },
      lists,
      idle: { seconds: o.idleSeconds, cpuSeconds: idleCpu, percentOfCore: o.idleSeconds > 0 ? (idleCpu / o.idleSeconds) * 100 : 0, byThread },
    };
    mkdirSync(o.out, { recursive: true });
    const file = join(o.out, `control-plane-${result.date.replace(/[:.]/g, '-').slice(0, 19)}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${controlPlaneMarkdown(result)}\n\nResults: ${file}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await world.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

