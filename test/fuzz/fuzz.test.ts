// Fuzzes every target (test/fuzz/targets.ts) for FUZZ_SECONDS each: 60 s under CI=true (so that
// `npm test` in CI fuzzes each target for a minute), 10 s otherwise. Any crash, leak, sanitizer
// report, model mismatch, hang or foreign exception fails the test, naming the reproducer.
// Without clang the test is skipped, except under CI=true, where it fails.
import { describe, expect, it } from 'vitest';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';
import { FUZZ_TOOLS, TARGETS, buildFuzzers, runTarget, summary } from './targets.js';

const seconds = Number(process.env.FUZZ_SECONDS ?? (inCI ? 60 : 10));
if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`FUZZ_SECONDS=${process.env.FUZZ_SECONDS} is not a whole number of seconds`);

describe.skipIf(skipWithout(...FUZZ_TOOLS))(`fuzzing, ${seconds} s per target`, () => {
  it('builds the targets and writes their seed corpora', () => {
    requireTools(...FUZZ_TOOLS);
    buildFuzzers();
  }, 900_000);

  it.each(TARGETS)('%s finds nothing', (target) => {
    const result = runTarget(target, seconds);
    console.log(summary(result));
    expect(result.executions, result.output.slice(-4000)).toBeGreaterThan(0);
    expect(result.ok, `${summary(result)}\n${result.output.slice(-8000)}`).toBe(true);
  }, (seconds + 180) * 1000);
});
