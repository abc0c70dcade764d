// Reading a password: from a terminal without echo (asked twice), or the first line of piped stdin.
import { readFileSync } from 'node:fs';

/** One line typed at the terminal, not echoed. Ctrl-C or Ctrl-D abandon it (null). */
function readHiddenLine(prompt: string): Promise<string | null> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  let line = '';
  return new Promise((resolve) => {
    const finish = (value: string | null) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(line);
        if (ch === '\u0003' || ch === '\u0004') return finish(null);
        if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
        else if (ch >= ' ') line += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export class PromptError extends Error {
  override name = 'PromptError';
}

/** The new password: typed twice at a terminal, or the first line of stdin when it is piped. */
export async function readNewPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const first = readFileSync(0, 'utf8').split(/\r?\n/, 1)[0] ?? '';
    if (!first) throw new PromptError('no password on stdin (give it as the first line)');
    return first;
  }
  const a = await readHiddenLine('New admin password: ');
  if (a === null) throw new PromptError('cancelled');
  if (!a) throw new PromptError('the password is empty');
  const b = await readHiddenLine('Again: ');
  if (b !== a) throw new PromptError('the two passwords differ');
  return a;
}
