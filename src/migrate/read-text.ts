// Reading the files an import names: a failure becomes one line saying which file and why.
import { readFileSync } from 'node:fs';

export class MigrateError extends Error {
  override name = 'MigrateError';
}

/** A file's text, or a MigrateError naming the file and the reason it cannot be read. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MigrateError(`cannot read ${path} (${code ?? (err as Error).message})`);
  }
}
