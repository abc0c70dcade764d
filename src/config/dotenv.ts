// The `.env` file: KEY=VALUE lines as docker-compose and the shell write them. Errors name the file
// and line and never quote the line, which may hold a secret.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './error.js';

export interface DotEnvEntry {
  readonly value: string;
  /** 1-based line number. */
  readonly line: number;
}

// Escapes understood inside double quotes; any other backslash is kept as written.
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' };
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses .env text: KEY=VALUE lines, blank lines, `#` comment lines, an optional `export ` prefix,
 * values bare, 'single-quoted' (literal) or "double-quoted" (\n \t \r \" \\ \$ escapes), and a
 * trailing `# comment` after a value (for a bare value the `#` must follow whitespace, as in the
 * shell: `KEY=a#b` is "a#b"). A later line for the same key wins. Errors name `<label>:<line>` and
 * never quote the line, which may hold a secret.
 */
export function parseDotEnv(text: string, label = '.env'): Map<string, DotEnvEntry> {
  const out = new Map<string, DotEnvEntry>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const fail = (detail: string): never => {
      throw new ConfigError(`${label}:${line}`, detail);
    };
    let s = lines[i]!.trim();
    if (s === '' || s.startsWith('#')) continue;
    const exported = /^export\s+/.exec(s);
    if (exported) s = s.slice(exported[0].length);
    const eq = s.indexOf('=');
    if (eq < 0) fail('not a KEY=VALUE line (no "=")');
    const key = s.slice(0, eq).trimEnd();
    if (!NAME.test(key)) fail('the name before "=" is not a variable name (letters, digits and _, not starting with a digit)');
    out.set(key, { value: valueOf(s.slice(eq + 1), key, fail), line });
  }
  return out;
}

/** The value after "=": quoted, only a comment, or bare up to a `#` that follows whitespace. */
function valueOf(rest: string, key: string, fail: (detail: string) => never): string {
  const body = rest.trimStart();
  if (body.startsWith('"') || body.startsWith("'")) return quotedValue(body, key, fail);
  if (body.startsWith('#') && body.length < rest.length) return ''; // KEY=   # only a comment
  const comment = body.search(/\s#/);
  return (comment >= 0 ? body.slice(0, comment) : body).trim();
}

/** A value in single quotes (literal) or double quotes (with escapes), then at most a comment. */
function quotedValue(body: string, key: string, fail: (detail: string) => never): string {
  const quote = body[0]!;
  let j = 1;
  let v = '';
  for (; j < body.length; j++) {
    const c = body[j]!;
    if (quote === '"' && c === '\\' && j + 1 < body.length) {
      const next = body[j + 1]!;
      v += DOUBLE_QUOTE_ESCAPES[next] ?? `\\${next}`;
      j++;
      continue;
    }
    if (c === quote) break;
    v += c;
  }
  if (j >= body.length) {
    fail(`unterminated ${quote === '"' ? 'double' : 'single'} quote in the value of ${key} (values are one line)`);
  }
  const after = body.slice(j + 1);
  if (!/^(\s+#.*|\s*)$/.test(after)) fail(`unexpected text after the closing quote in the value of ${key}`);
  return v;
}

/** The .env file `file` in `cwd`, parsed; a missing file is an empty one, an unreadable one an error. */
export function readDotEnv(cwd: string, file: string): Map<string, DotEnvEntry> {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return new Map();
    throw new ConfigError(file, `cannot read ${path} (${code ?? (err as Error).message})`);
  }
  return parseDotEnv(text, file);
}
