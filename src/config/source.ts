// Where each variable's value comes from (the environment, else the .env file) and the checks every
// group of variables shares: integers, ports, flags, comma-separated lists, and quoting a value in a
// message without ever showing the API token.
import type { DotEnvEntry } from './dotenv.js';
import { ConfigError } from './error.js';
import { CONFIG_DEFAULTS } from './schema.js';

/** A variable's value as set. */
export interface Raw {
  readonly value: string;
  /** ".env:4" when the value came from the file, null when from the environment. */
  readonly from: string | null;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/** true, 1, yes, on / false, 0, no, off in any case: true or false; anything else: null. */
export function truthOf(value: string): boolean | null {
  const word = value.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return null;
}

/** A variable with a default in CONFIG_DEFAULTS, the one place the defaults are written. */
type Defaulted = keyof typeof CONFIG_DEFAULTS;

export class Source {
  private secret: string | null = null;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly file: Map<string, DotEnvEntry>,
    private readonly label: string,
  ) {}

  /** The value of a variable: the environment's if set and not blank, else the file's, else undefined. */
  get(name: string): Raw | undefined {
    const e = this.env[name];
    if (e !== undefined && e.trim() !== '') return { value: e.trim(), from: null };
    const f = this.file.get(name);
    if (f !== undefined && f.value.trim() !== '') return { value: f.value, from: `${this.label}:${f.line}` };
    return undefined;
  }

  /** From now on, show() hides any value containing this. */
  hide(secret: string): void {
    this.secret = secret;
  }

  /** A value quoted for a message: one line, at most 80 characters, never the API token. */
  show(value: string): string {
    if (this.secret !== null && value.includes(this.secret)) return '(a value containing API_TOKEN, not shown)';
    const short = value.length > 80 ? `${value.slice(0, 77)}…` : value;
    return JSON.stringify(short).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }

  fail(name: string, raw: Raw | undefined, detail: string): never {
    throw new ConfigError(name, raw?.from ? `${detail} (set in ${raw.from})` : detail);
  }

  /** An integer written in plain decimal (no sign, no leading zeros, no exponent) within [min, max]. */
  integer(name: Defaulted, min: number, max: number, what: (shown: string) => string): number {
    const raw = this.get(name);
    if (!raw) return Number(CONFIG_DEFAULTS[name]);
    const ok = /^(0|[1-9][0-9]{0,15})$/.test(raw.value);
    const n = ok ? Number(raw.value) : NaN;
    if (!ok || n < min || n > max) this.fail(name, raw, what(this.show(raw.value)));
    return n;
  }

  port(name: Defaulted): number {
    return this.integer(name, 1, 65535, (v) => `${v} is not a port (1-65535)`);
  }

  /** A yes/no variable (see truthOf). */
  flag(name: Defaulted): boolean {
    const raw = this.get(name);
    if (!raw) return truthOf(CONFIG_DEFAULTS[name]) === true;
    return truthOf(raw.value) ?? this.fail(name, raw, `${this.show(raw.value)} is not true or false`);
  }

  /** Calls `visit` with each comma-separated item of a value, trimmed; an empty item is an error. */
  eachItem(name: string, raw: Raw, visit: (item: string) => void): void {
    for (const item of raw.value.split(',').map((x) => x.trim())) {
      if (item === '') this.fail(name, raw, 'has an empty entry (a doubled or trailing comma?)');
      visit(item);
    }
  }
}
