// `wgvm bench` options: what each selects, and every mistake refused with one clear line before
// anything runs.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchOptions, ROW_NAMES } from '../../src/bench/options.js';

const dir = mkdtempSync(join(tmpdir(), 'wgvm-bench-options-'));
const fakeGo = join(dir, 'wireguard-go');
writeFileSync(fakeGo, '#!/bin/sh\necho "wireguard-go v0.0.20250522"\n');
chmodSync(fakeGo, 0o755);
const notExecutable = join(dir, 'plain');
writeFileSync(notExecutable, '');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refused = (args: string[]) => {
  try {
    parseBenchOptions(args);
  } catch (err) {
    expect(err).toBeInstanceOf(BenchUsageError);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    return (err as Error).message;
  }
  throw new Error(`${args.join(' ')} was accepted`);
};

describe('bench options', () => {
  it('by default: every pair but the Debian row, every row, wireguard-go from PATH, threads unset, 3 worker pairs', () => {
    const o = parseBenchOptions([]);
    expect(o.only).toEqual(['wgvm', 'wireguard-go', 'wgvm-to-wireguard-go', 'wireguard-go-to-wgvm', 'veth']);
    expect(o.rows).toEqual([...ROW_NAMES]);
    expect(o).toMatchObject({ wireguardGo: 'wireguard-go', wireguardGoAsked: false, threads: null, workers: 3, runs: 3, seconds: 10, idleSeconds: 10 });
  });

  it('--quick shortens every row', () => {
    expect(parseBenchOptions(['--quick'])).toMatchObject({ runs: 1, seconds: 2, pings: 20, idleSeconds: 3 });
  });

  it('--only selects pairs and rows by name, and nothing else', () => {
    const o = parseBenchOptions(['--only', 'wgvm, idle-cpu,hub-relay']);
    expect(o.only).toEqual(['wgvm']);
    expect(o.rows).toEqual(['idle-cpu', 'hub-relay']);
    expect(o.onlyAsked).toBe(true);
    expect(parseBenchOptions(['--only', 'uapi-latency'])).toMatchObject({ only: [], rows: ['uapi-latency'] });
    expect(refused(['--only', 'nonsense'])).toMatch(/^unknown pair or row "nonsense" \(pairs: .*veth.*; rows: idle-peers, idle-cpu, uapi-latency, hub-relay, direct-paths\)$/);
    expect(refused(['--only', ' , '])).toMatch(/--only needs at least one name/);
  });

  it('--wireguard-go takes an executable file (resolved) or a name for PATH', () => {
    expect(parseBenchOptions(['--wireguard-go', fakeGo])).toMatchObject({ wireguardGo: fakeGo, wireguardGoAsked: true });
    expect(parseBenchOptions(['--wireguard-go', 'my-wireguard-go'])).toMatchObject({ wireguardGo: 'my-wireguard-go', wireguardGoAsked: true });
    expect(refused(['--wireguard-go', join(dir, 'missing')])).toBe(`--wireguard-go: ${join(dir, 'missing')} is not an executable file`);
    expect(refused(['--wireguard-go', notExecutable])).toMatch(/is not an executable file/);
    expect(refused(['--wireguard-go', dir])).toMatch(/is not an executable file/);
    expect(refused(['--wireguard-go', ''])).toMatch(/--wireguard-go needs a path/);
    expect(refused(['--wireguard-go'])).toMatch(/^unknown option or missing value: --wireguard-go /);
  });

  it('--debian-wireguard-go adds the PATH build as an extra pair, only beside another reference', () => {
    expect(parseBenchOptions(['--wireguard-go', fakeGo, '--debian-wireguard-go']).only).toContain('wireguard-go-debian');
    expect(parseBenchOptions(['--wireguard-go', fakeGo, '--debian-wireguard-go', '--only', 'wgvm']).only).toEqual(['wgvm', 'wireguard-go-debian']);
    expect(parseBenchOptions(['--wireguard-go', fakeGo, '--only', 'wireguard-go-debian']).only).toEqual(['wireguard-go-debian']);
    expect(refused(['--debian-wireguard-go'])).toMatch(/wireguard-go-debian is the wireguard-go in PATH.*give --wireguard-go PATH/);
    expect(refused(['--only', 'wireguard-go-debian'])).toMatch(/give --wireguard-go PATH/);
  });

  it('--threads and --workers take whole numbers in range', () => {
    expect(parseBenchOptions(['--threads', '2', '--workers', '4'])).toMatchObject({ threads: 2, workers: 4 });
    for (const [args, message] of [
      [['--threads', '0'], '--threads must be a whole number from 1 to 256, got "0"'],
      [['--threads', '1.5'], '--threads must be a whole number from 1 to 256, got "1.5"'],
      [['--threads', 'two'], '--threads must be a whole number from 1 to 256, got "two"'],
      [['--threads', ' '], '--threads must be a whole number from 1 to 256, got " "'],
      // What WGVM_THREADS and the data plane take: a run could not start its devices with more.
      [['--threads', '257'], '--threads must be a whole number from 1 to 256, got "257"'],
      [['--workers', '5'], '--workers must be a whole number from 1 to 4, got "5"'],
      [['--workers', '0'], '--workers must be a whole number from 1 to 4, got "0"'],
    ] as const) {
      expect(refused([...args])).toBe(message);
    }
  });

  it('keeps the existing checks: runs, seconds, positionals, unknown options', () => {
    expect(refused(['--runs', '0'])).toMatch(/--runs must be a number from 1 to 50/);
    expect(refused(['--seconds', '0.5'])).toMatch(/--seconds must be a number from 1 to 600/);
    expect(refused(['extra'])).toBe('unexpected argument "extra"');
    expect(refused(['--bogus'])).toMatch(/^unknown option or missing value: --bogus \(usage: wgvm bench .*--threads N.*\)$/);
  });
});
