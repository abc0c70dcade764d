// The password prompt of `wgvm hash-password`: keys that terminals send as escape sequences never
// end up in the password, and Ctrl-C ends the command with 130. The terminal runs are real ones: a
// pseudo-terminal from util-linux's `script`, typed into as a user would.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePasswordHash, verifyPassword } from '../../src/domain/password.js';
import { LineEditor } from '../../src/runtime/prompt.js';
import { requireTools, skipWithout } from '../helpers/tools.js';

const wgvm = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));

describe('LineEditor', () => {
  const typed = (...chunks: string[]) => {
    const e = new LineEditor();
    let end = null;
    for (const c of chunks) end = e.feed(c) ?? end;
    return { line: e.line, end };
  };

  it('drops arrow, function and Alt keys, and bracketed-paste markers, keeping what was typed', () => {
    // ← ↑ (CSI), F1 (SS3), Delete (CSI with a parameter), Alt+x, paste markers around "pq".
    expect(typed('ab\u001b[Dc\u001b[A\u001bOPd\u001b[3~e\u001bxf\u001b[200~pq\u001b[201~\r')).toEqual({ line: 'abcdefpq', end: 'enter' });
    // A sequence split across reads is still one key.
    expect(typed('a\u001b', '[', 'C', 'b\r')).toEqual({ line: 'ab', end: 'enter' });
  });

  it('edits with backspace (also of a character outside the BMP) and ends on Ctrl-C, Ctrl-D and Enter', () => {
    expect(typed('ab😀\u007f\u007fc\n')).toEqual({ line: 'ac', end: 'enter' });
    expect(typed('secret\u0003')).toMatchObject({ end: 'interrupt' });
    expect(typed('\u0004')).toMatchObject({ end: 'eof' });
    expect(typed('no end yet').end).toBeNull();
  });
});

/** Runs `wgvm hash-password` on a pseudo-terminal, typing `keys` (one string per prompt). */
function atTerminal(keys: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', `${process.execPath} ${wgvm} hash-password`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let prompts = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      // Type each answer once its prompt is on the screen.
      const seen = (output.match(/password: |Again: /g) ?? []).length;
      while (prompts < seen && prompts < keys.length) child.stdin.write(keys[prompts++]!);
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe.skipIf(skipWithout('script'))('wgvm hash-password at a terminal', () => {
  it('ignores escape sequences typed into the password', async () => {
    requireTools('script');
    const r = await atTerminal(['pa\u001b[Dss\u001bOQ\r', 'pass\r']);
    expect(r.code, r.output).toBe(0);
    const hash = /\$scrypt\$\S+/.exec(r.output)![0];
    expect(await verifyPassword('pass', parsePasswordHash(hash))).toBe(true);
  }, 30_000);

  it('exits 130 on Ctrl-C, with no hash printed', async () => {
    requireTools('script');
    const r = await atTerminal(['sec\u0003']);
    expect(r.code).toBe(130);
    expect(r.output).not.toContain('$scrypt$');
  }, 30_000);
});
