// One SQL text for both engines: the repositories write SQLite's placeholders (`?` in order, or
// `@name` bound from one object, never both in a statement) and PostgreSQL is given `$1, $2, …`.
// Quoted strings, quoted identifiers and comments are copied as they are.

export interface PositionalSql {
  /** The text with `$n` placeholders. */
  text: string;
  /** For `@name` placeholders, the name each `$n` stands for (one `$n` per distinct name); null for `?`. */
  names: string[] | null;
  /** How many `?` the text had (0 with names). */
  count: number;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Rewrites `?` and `@name` placeholders as `$n`. Throws on a statement that mixes the two kinds. */
export function toPositional(sql: string): PositionalSql {
  let text = '';
  let count = 0;
  const names: string[] = [];
  let i = 0;
  const copyUntil = (end: number) => {
    text += sql.slice(i, end);
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      // A doubled quote inside is an escaped quote: the scan just continues past it.
      let end = i + 1;
      while (end < sql.length && sql[end] !== c) end++;
      copyUntil(Math.min(end + 1, sql.length));
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      copyUntil(end === -1 ? sql.length : end);
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      copyUntil(end === -1 ? sql.length : end + 2);
    } else if (c === '?') {
      text += `$${++count}`;
      i++;
    } else if (c === '@') {
      NAME.lastIndex = i + 1;
      const name = NAME.exec(sql)?.[0];
      if (!name) throw new SyntaxError(`a named parameter needs a name after @ at offset ${i}: ${sql}`);
      let n = names.indexOf(name);
      if (n === -1) n = names.push(name) - 1;
      text += `$${n + 1}`;
      i += 1 + name.length;
    } else {
      text += c;
      i++;
    }
  }
  if (count > 0 && names.length > 0) throw new SyntaxError(`a statement uses either ? or @name placeholders, not both: ${sql}`);
  return { text, names: names.length > 0 ? names : null, count };
}

/**
 * The values for `$1, $2, …` from the arguments a statement was called with, as better-sqlite3
 * takes them: the values in order for `?`, one object for `@name` (a missing name is an error,
 * as in better-sqlite3; other properties are ignored).
 */
export function bindValues(sql: PositionalSql, args: readonly unknown[]): unknown[] {
  if (sql.names === null) {
    if (args.length !== sql.count) throw new RangeError(`the statement takes ${sql.count} parameter(s), got ${args.length}`);
    return [...args];
  }
  const given = args[0];
  if (args.length !== 1 || typeof given !== 'object' || given === null) {
    throw new TypeError('a statement with named parameters takes one object of values');
  }
  return sql.names.map((name) => {
    if (!(name in given)) throw new RangeError(`Missing named parameter "${name}"`);
    return (given as Record<string, unknown>)[name];
  });
}
