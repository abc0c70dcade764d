// Runs the native test executable (test/cpp, built into build/wgvm_tests by `npm run build`),
// one vitest case per native test, then the whole executable again built with ASan and UBSan.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const plain = `${root}build/wgvm_tests`;
const sanitizedDir = `${root}build/sanitize`;

function runNative(binary: string, names: string[] = []) {
  // Leak detection on, and reports on stderr, also when `npm run test:sanitize` set other options.
  const env = { ...process.env, UBSAN_OPTIONS: 'print_stacktrace=1', ASAN_OPTIONS: 'detect_leaks=1' };
  const r = spawnSync(binary, names, { encoding: 'utf8', env });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

if (!existsSync(plain)) throw new Error(`${plain} is missing: run "npm run build"`);
const names = execFileSync(plain, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);

describe('native tests (test/cpp)', () => {
  it.each(names)('%s', (name) => {
    const r = runNative(plain, [name]);
    expect(r.output).toMatch(/1 passed, 0 failed/);
    expect(r.code, r.output).toBe(0);
  });
});

describe('native tests under AddressSanitizer and UndefinedBehaviorSanitizer', () => {
  it('build/sanitize/wgvm_tests passes with no sanitizer report', () => {
    execFileSync('cmake', ['-S', root, '-B', sanitizedDir, '-DWGVM_SANITIZE=ON', '-DCMAKE_BUILD_TYPE=Debug'], { stdio: 'pipe' });
    execFileSync('cmake', ['--build', sanitizedDir, '--target', 'wgvm_tests', '-j', '2'], { stdio: 'pipe' });
    const r = runNative(`${sanitizedDir}/wgvm_tests`);
    expect(r.output).not.toMatch(/ERROR: AddressSanitizer|runtime error:|LeakSanitizer/);
    expect(r.output).toMatch(/\d+ passed, 0 failed/);
    expect(r.code, r.output).toBe(0);
  }, 600_000);
});
