// Reading a password: from a terminal without echo (asked twice), or the first line of piped stdin.
import { readFileSync } from 'node:fs';

/** Ctrl-C at the prompt: the command ends as a shell reports an interrupt (130). */
export class PromptInterrupted extends Error {
  override name = 'PromptInterrupted';
}

export class PromptError extends Error {
  override name = 'PromptError';
}

export type LineEnd = 'enter' | 'interrupt' | 'eof';

/**
 * A line being typed in raw mode. Keys arrive as text; the terminal's escape sequences (arrow and
 * function keys, Alt+key, bracketed-paste markers) are dropped, never taken into the password.
 */
export class LineEditor {
  line = '';
  private escape: '' | 'esc' | 'csi' | 'ss3' = '';

  /** Takes typed text; returns how the line ended, or null while it goes on. */
  feed(text: string): LineEnd | null {
    for (const ch of text) {
      if (this.escape === 'esc') {
        // ESC [ … (CSI) and ESC O x (SS3) run on; any other ESC x is one key (Alt+x).
        this.escape = ch === '[' ? 'csi' : ch === 'O' ? 'ss3' : '';
        continue;
      }
      if (this.escape === 'csi') {
        if (ch >= '@' && ch <= '~') this.escape = ''; // the final byte
        continue;
      }
      if (this.escape === 'ss3') {
        this.escape = '';
        continue;
      }
      if (ch === '\u001b') this.escape = 'esc';
      else if (ch === '\r' || ch === '\n') return 'enter';
      else if (ch === '\u0003') return 'interrupt';
      else if (ch === '\u0004') return 'eof';
      else if (ch === '\u007f' || ch === '\b') this.line = [...this.line].slice(0, -1).join('');
      else if (ch >= ' ') this.line += ch;
    }
    return null;
  }
}

/** One line typed at the terminal, not echoed. Ctrl-D abandons it (null); Ctrl-C interrupts. */
function readHiddenLine(prompt: string): Promise<string | null> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  const editor = new LineEditor();
  return new Promise((resolve, reject) => {
    const onData = (chunk: string) => {
      const end = editor.feed(chunk);
      if (end === null) return;
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (end === 'interrupt') reject(new PromptInterrupted('interrupted'));
      else resolve(end === 'enter' ? editor.line : null);
    };
    stdin.on('data', onData);
  });
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
