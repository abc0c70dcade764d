// The options of `wgvm bench`: parsed and checked before anything runs, each mistake one line.
import { accessSync, constants, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { MAX_THREADS } from '../domain/threads.js';
import { DEBIAN_PAIR, PAIR_NAMES, type PairName } from './pairs.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Something in the way of a run (no root, a missing tool): one line, exit 1. */
export class BenchError extends Error {
  override name = 'BenchError';
}

/** Options the benchmark does not take: one line, exit 2. */
export class BenchUsageError extends BenchError {
  override name = 'BenchUsageError';
}

/** Measurements beside the pairs' table; `--only` selects them by these names too. */
export const ROW_NAMES = ['idle-peers', 'idle-cpu', 'uapi-latency', 'hub-relay', 'direct-paths'] as const;
export type RowName = (typeof ROW_NAMES)[number];

export const BENCH_USAGE =
  'wgvm bench [--quick] [--runs N] [--seconds S] [--only NAME,…] [--out DIR] [--wireguard-go PATH] [--debian-wireguard-go] [--threads N] [--workers K]';

export interface BenchOptions {
  runs: number;
  seconds: number;
  pings: number;
  quick: boolean;
  only: PairName[];
  rows: RowName[];
  /** --only was given: a pair it names that cannot run is an error, not a skip */
  onlyAsked: boolean;
  out: string;
  /** the wireguard-go the reference pairs run: a path, or a name looked up in PATH */
  wireguardGo: string;
  wireguardGoAsked: boolean;
  /** WGVM_THREADS for every wgvm process the run starts; null leaves the data plane's default */
  threads: number | null;
  /** worker pairs the hub relays between at once */
  workers: number;
  /** seconds over which an idle device's CPU is counted */
  idleSeconds: number;
}

const OPTIONS = {
  runs: { type: 'string' },
  seconds: { type: 'string' },
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
  out: { type: 'string' },
  'wireguard-go': { type: 'string' },
  'debian-wireguard-go': { type: 'boolean', default: false },
  threads: { type: 'string' },
  workers: { type: 'string' },
} as const;

/**
 * Node's parseArgs for a bench command, with no positionals; a mistake is one line naming the
 * option and the usage (Node's own message suggests `--` tricks).
 */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const option = /'(-[^']*)'/.exec(err instanceof Error ? err.message : '')?.[1] ?? argv.join(' ');
    throw new BenchUsageError(`unknown option or missing value: ${option} (usage: ${usage})`);
  }
  if (parsed.positionals.length) throw new BenchUsageError(`unexpected argument "${parsed.positionals[0]}"`);
  return parsed.values;
}

/** `--name`'s number within [min, max] (whole when `integer`), or `fallback` when it was not given. */
export function numberOption(name: string, text: string | undefined, fallback: number, min: number, max: number, integer = false): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new BenchUsageError(`--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

/** An executable file, or the usage error naming what is wrong with it. */
function executable(path: string): string {
  const full = resolve(path);
  try {
    if (!statSync(full).isFile()) throw new Error('not a file');
    accessSync(full, constants.X_OK);
  } catch {
    throw new BenchUsageError(`--wireguard-go: ${full} is not an executable file`);
  }
  return full;
}

export function parseBenchOptions(argv: string[]): BenchOptions {
  const values = parseCommandLine(argv, OPTIONS, BENCH_USAGE);
  const quick = values.quick ?? false;
  const number = numberOption;

  const wireguardGoAsked = values['wireguard-go'] !== undefined;
  const wireguardGoText = values['wireguard-go'] ?? 'wireguard-go';
  if (wireguardGoText.trim() === '') throw new BenchUsageError('--wireguard-go needs a path');
  // A bare name is looked up in PATH when the run starts; a path must be there now.
  const wireguardGo = wireguardGoText.includes('/') ? executable(wireguardGoText) : wireguardGoText;
  const debian = values['debian-wireguard-go'] ?? false;

  const names = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  if (names && names.length === 0) throw new BenchUsageError('--only needs at least one name');
  for (const name of names ?? []) {
    if (!(PAIR_NAMES as readonly string[]).includes(name) && !(ROW_NAMES as readonly string[]).includes(name)) {
      throw new BenchUsageError(`unknown pair or row "${name}" (pairs: ${PAIR_NAMES.join(', ')}; rows: ${ROW_NAMES.join(', ')})`);
    }
  }
  let only = (names?.filter((n) => (PAIR_NAMES as readonly string[]).includes(n)) ?? PAIR_NAMES.filter((p) => p !== DEBIAN_PAIR)) as PairName[];
  const rows = (names?.filter((n) => (ROW_NAMES as readonly string[]).includes(n)) ?? [...ROW_NAMES]) as RowName[];
  if (debian && !only.includes(DEBIAN_PAIR)) only = [...only, DEBIAN_PAIR];
  if (only.includes(DEBIAN_PAIR) && !wireguardGoAsked) {
    throw new BenchUsageError(`${DEBIAN_PAIR} is the wireguard-go in PATH, which the reference pairs already run: give --wireguard-go PATH for the reference`);
  }

  return {
    runs: Math.round(number('runs', values.runs, quick ? 1 : 3, 1, 50)),
    seconds: number('seconds', values.seconds, quick ? 2 : 10, 1, 600),
    pings: quick ? 20 : 100,
    quick,
    only,
    rows,
    onlyAsked: values.only !== undefined,
    out: values.out ?? join(root, 'bench', 'results'),
    wireguardGo,
    wireguardGoAsked,
    threads: values.threads === undefined ? null : number('threads', values.threads, 0, 1, MAX_THREADS, true),
    workers: number('workers', values.workers, 3, 1, 4, true),
    idleSeconds: quick ? 3 : 10,
  };
}
