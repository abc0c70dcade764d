// `npm run fuzz [-- <seconds per target> [target]]`: builds the fuzz targets and runs each (or the
// named one) for the given time (default 60 s). Exits 1 if any target found something, printing
// the reproducer; a reproducer is replayed with `build/fuzz/fuzz_<target> <file>`.
import { TARGETS, buildFuzzers, runTarget, summary, type Target } from './targets.js';

function main(): number {
  const [secondsArg = '60', name] = process.argv.slice(2);
  const seconds = Number(secondsArg);
  if (!Number.isInteger(seconds) || seconds < 1) {
    process.stderr.write(`npm run fuzz: "${secondsArg}" is not a whole number of seconds\n`);
    return 2;
  }
  if (name !== undefined && !(TARGETS as readonly string[]).includes(name)) {
    process.stderr.write(`npm run fuzz: unknown target "${name}" (targets: ${TARGETS.join(', ')})\n`);
    return 2;
  }
  buildFuzzers();
  const targets = name === undefined ? TARGETS : [name as Target];
  let failed = 0;
  for (const target of targets) {
    process.stdout.write(`fuzzing ${target} for ${seconds} s …\n`);
    const result = runTarget(target, seconds);
    if (!result.ok) {
      failed++;
      process.stdout.write(result.output.split('\n').slice(-60).join('\n'));
    }
    process.stdout.write(`${summary(result)}\n`);
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
