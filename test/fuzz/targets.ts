// The fuzz targets and how each is built and run: three libFuzzer binaries (native/fuzz, clang with
// ASan + UBSan) and the wg-quick import mutation fuzzer (wgquick-fuzzer.ts, run by node).
// Used by `npm run fuzz` (cli.ts) and by test/fuzz/fuzz.test.ts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TARGETS = ['core', 'uapi', 'allowed_ips', 'wgquick'] as const;
export type Target = (typeof TARGETS)[number];
export const FUZZ_TOOLS = ['clang', 'clang++', 'cmake'];

// The repository: two levels up from test/fuzz, or five from its compiled copy in build/fuzz/js/test/fuzz.
const root = [2, 5]
  .map((up) => fileURLToPath(new URL('../'.repeat(up), import.meta.url)).replace(/\/$/, ''))
  .find((dir) => existsSync(join(dir, 'native', 'fuzz', 'CMakeLists.txt')))!;
export const fuzzDir = join(root, 'build', 'fuzz');
const seedsDir = join(fuzzDir, 'seeds');

export interface FuzzResult {
  target: Target;
  ok: boolean;
  /** What was found, one line; null when nothing. */
  failure: string | null;
  /** The input that reproduces the failure. */
  reproducer: string | null;
  executions: number;
  execPerSecond: number;
  /** libFuzzer: edges covered and features; wgquick: distinct outcomes. */
  coverage: string;
  output: string;
}

function run(command: string, args: string[], what: string): void {
  const r = spawnSync(command, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed (${command} ${args.join(' ')}):\n${r.stdout}${r.stderr}${r.error ?? ''}`);
}

/** Builds every target and writes the seed corpora; throws with the build output on failure. */
export function buildFuzzers(): void {
  run('cmake', ['-S', join(root, 'native', 'fuzz'), '-B', fuzzDir, '-DCMAKE_C_COMPILER=clang', '-DCMAKE_CXX_COMPILER=clang++'], 'configuring native/fuzz');
  run('cmake', ['--build', fuzzDir, '-j', '2'], 'building native/fuzz');
  run(join(fuzzDir, 'wgvm_fuzz_seeds'), [seedsDir], 'writing the seed corpora');
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'test', 'fuzz', 'tsconfig.json')], 'compiling the wg-quick fuzzer');
}

export function runTarget(target: Target, seconds: number): FuzzResult {
  return target === 'wgquick' ? runWgQuick(seconds) : runLibFuzzer(target, seconds);
}

function runLibFuzzer(target: Exclude<Target, 'wgquick'>, seconds: number): FuzzResult {
  const corpus = join(fuzzDir, 'corpus', target);
  const artifacts = join(fuzzDir, 'artifacts');
  mkdirSync(corpus, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const args = [
    `-max_total_time=${seconds}`,
    '-print_final_stats=1',
    '-timeout=10', // one input running longer is a hang
    '-rss_limit_mb=2048',
    `-artifact_prefix=${artifacts}/${target}-`,
    ...(target === 'uapi' ? [`-dict=${join(seedsDir, 'uapi.dict')}`] : []),
    corpus, // new inputs go here and are kept for the next run
    join(seedsDir, target),
  ];
  const r = spawnSync(join(fuzzDir, `fuzz_${target}`), args, {
    cwd: fuzzDir,
    encoding: 'utf8',
    timeout: (seconds + 120) * 1000,
    maxBuffer: 64 << 20,
    env: { ...process.env, UBSAN_OPTIONS: 'print_stacktrace=1', ASAN_OPTIONS: 'detect_leaks=1' },
  });
  const output = `${r.stdout}${r.stderr}`;
  const done = [...output.matchAll(/^#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+)/gm)].pop();
  const execs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(output)?.[1] ?? done?.[1] ?? 0);
  const perSecond = Number(/stat::average_exec_per_sec:\s*(\d+)/.exec(output)?.[1] ?? 0);
  const reproducer = /Test unit written to (\S+)/.exec(output)?.[1] ?? null;
  const ok = r.status === 0 && reproducer === null && !/ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:/.test(output);
  const failure = ok
    ? null
    : (/^(==\d+==ERROR: .*|.*runtime error: .*|fuzz check failed: .*|SUMMARY: .*)$/m.exec(output)?.[0] ??
      (r.error ? `libFuzzer did not finish: ${r.error.message}` : `libFuzzer exited with ${r.status ?? r.signal}`));
  return {
    target,
    ok,
    failure,
    reproducer,
    executions: execs,
    execPerSecond: perSecond,
    coverage: done ? `cov ${done[2]} ft ${done[3]}` : 'unknown',
    output,
  };
}

function runWgQuick(seconds: number): FuzzResult {
  const work = join(fuzzDir, 'wgquick');
  const script = join(fuzzDir, 'js', 'test', 'fuzz', 'wgquick-fuzzer.js');
  const hangBound = 30;
  const r = spawnSync(process.execPath, [script, String(seconds), work], {
    cwd: root,
    encoding: 'utf8',
    timeout: (seconds + hangBound) * 1000,
    maxBuffer: 64 << 20,
  });
  const output = `${r.stdout}${r.stderr}`;
  const done = /DONE (\d+) inputs in \d+ s \(([\d.]+) exec\/s; (\d+) imported dry and for real\), (\d+) distinct outcomes/.exec(output);
  let reproducer = /REPRODUCER: (\S+)/.exec(output)?.[1] ?? null;
  let failure = /FAILURE (.*)/.exec(output)?.[1] ?? null;
  if (r.error || r.signal) {
    // Killed: the input it was working on hangs (or is slower than the whole run's slack).
    const current = join(work, 'current.conf');
    if (existsSync(current)) {
      reproducer = join(work, `hang-${createHash('sha1').update(readFileSync(current)).digest('hex').slice(0, 16)}.conf`);
      copyFileSync(current, reproducer);
    }
    failure = `no progress for ${hangBound} s past the run time: an input hangs`;
  } else if (r.status !== 0 && failure === null) {
    failure = `the fuzzer exited with ${r.status}`;
  }
  return {
    target: 'wgquick',
    ok: r.status === 0 && failure === null,
    failure,
    reproducer,
    executions: Number(done?.[1] ?? 0),
    execPerSecond: Number(done?.[2] ?? 0),
    coverage: done ? `${done[4]} distinct outcomes, ${done[3]} inputs imported dry and for real` : 'unknown',
    output,
  };
}

export function summary(r: FuzzResult): string {
  const head = `${r.target}: ${r.executions} executions (${r.execPerSecond} exec/s), ${r.coverage}`;
  return r.ok ? `${head}: ok` : `${head}: FAILED: ${r.failure}\n  reproducer: ${r.reproducer ?? '(none written)'}`;
}
