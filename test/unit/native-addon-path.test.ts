// Which addon src/dataplane/native.ts loads: the normal build, or the one WGVM_ADDON names — checked before
// loading, with an error that says what is wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveAddonPath } from '../../src/dataplane/native.js';

const dir = mkdtempSync(join(tmpdir(), 'wgvm-addon-path-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveAddonPath', () => {
  it('is the build of npm run build:native without WGVM_ADDON', () => {
    const built = fileURLToPath(new URL('../../build/Release/wgvm_native.node', import.meta.url));
    expect(resolveAddonPath({})).toBe(built);
    expect(resolveAddonPath({ WGVM_ADDON: '' })).toBe(built);
  });

  it('takes an existing absolute .node file', () => {
    const file = join(dir, 'plain.node');
    writeFileSync(file, 'not asan');
    expect(resolveAddonPath({ WGVM_ADDON: file })).toBe(file);
  });

  it('refuses a relative path, another kind of file, or a missing one', () => {
    expect(() => resolveAddonPath({ WGVM_ADDON: 'build/asan/Release/wgvm_native.node' })).toThrow(/absolute path of a wgvm_native\.node/);
    expect(() => resolveAddonPath({ WGVM_ADDON: join(dir, 'addon.so') })).toThrow(/absolute path of a wgvm_native\.node/);
    expect(() => resolveAddonPath({ WGVM_ADDON: join(dir, 'missing.node') })).toThrow(/missing\.node: no such file/);
    expect(() => resolveAddonPath({ WGVM_ADDON: dir + '.node' })).toThrow(/no such file/);
  });

  it('refuses an AddressSanitizer build unless the runtime is preloaded, saying how', () => {
    const file = join(dir, 'asan.node');
    writeFileSync(file, Buffer.from('\x7fELF … NEEDED libasan.so.8 …'));
    expect(() => resolveAddonPath({ WGVM_ADDON: file })).toThrow(/built with AddressSanitizer: start node with LD_PRELOAD=\$\(g\+\+ -print-file-name=libasan\.so\)/);
    expect(() => resolveAddonPath({ WGVM_ADDON: file, LD_PRELOAD: '/usr/lib/libfoo.so' })).toThrow(/AddressSanitizer/);
    expect(resolveAddonPath({ WGVM_ADDON: file, LD_PRELOAD: '/usr/lib/gcc/x86_64-linux-gnu/12/libasan.so' })).toBe(file);
  });
});
