// External tools the tests need. Outside CI a missing tool skips the test that needs it;
// with CI=true it fails, so CI never passes by silently testing less.
import { spawnSync } from 'node:child_process';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** True when a test needing `tools` should be skipped (missing tools outside CI). */
export function skipWithout(...tools: string[]): boolean {
  return !inCI && !tools.every(hasTool);
}

/** Call first in a test that needs `tools`: fails with a clear message when one is missing. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length > 0) throw new Error(`required tool(s) not installed: ${missing.join(', ')} (see .ci/run)`);
}
