// The migration commands of `wgvm`: import (take over an existing WireGuard server), export and
// restore (registry backups). src/cli.ts declares them; this is how they meet the CLI.
import { CommandError, CommandUsageError, processIo, type CommandIo } from './io.js';

export { runImport, IMPORT_USAGE } from './import.js';
export { runExport, runRestore, EXPORT_USAGE, RESTORE_USAGE } from './backup.js';
export { CommandError, CommandUsageError, processIo, type CommandIo } from './io.js';

/**
 * Runs a migration command with the process's environment and streams. A user mistake or a refused
 * operation (a bad variable, an unreadable file, a registry that is not empty) leaves as one line,
 * through `failure` (its second argument says whether it was the arguments: usage); a programming
 * error keeps its stack trace.
 */
export function migrationCommand(
  name: string,
  run: (args: string[], io: CommandIo) => number,
  args: string[],
  failure: (message: string, usage: boolean) => Error,
): number {
  try {
    return run(args, processIo());
  } catch (err) {
    const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');
    if (err instanceof CommandError) throw failure(oneLine(err.message), err instanceof CommandUsageError);
    if (err instanceof Error && !(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError)) {
      throw failure(`${name}: ${oneLine(err.message)}`, false);
    }
    throw err;
  }
}
