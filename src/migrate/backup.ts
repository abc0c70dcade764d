// `wgvm export [--include-secrets] [-o FILE]` and `wgvm restore <FILE>`: a JSON backup of the
// registry (format in src/store/backup.ts) and its restoration into an empty registry.
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { ipToInt } from '../domain/ipam.js';
import { RegistryError } from '../domain/errors.js';
import { keyFingerprint } from '../domain/node-checks.js';
import { BackupFormatError, DATABASE_FILE, parseBackup, registryLocation, Store, type RegistryBackup, type RestoreResult } from '../store/index.js';
import { CommandError, CommandUsageError, loadToolConfig, type CommandIo } from './io.js';

export const EXPORT_USAGE = 'usage: wgvm export [--include-secrets] [-o FILE]';
export const RESTORE_USAGE = 'usage: wgvm restore <FILE | ->';

interface ExportArgs {
  includeSecrets: boolean;
  output: string | null;
}

function parseExportArgs(args: string[]): ExportArgs {
  let includeSecrets = false;
  let output: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--include-secrets') includeSecrets = true;
    else if (a === '-o' || a === '--output') {
      const next = args[++i];
      if (next === undefined || next === '') throw new CommandUsageError(`export: ${a} needs a file name (${EXPORT_USAGE})`);
      output = next;
    } else if (a.startsWith('--output=')) output = a.slice('--output='.length);
    else throw new CommandUsageError(`export: unexpected argument ${JSON.stringify(a)} (${EXPORT_USAGE})`);
  }
  if (output === '-') output = null;
  return { includeSecrets, output };
}

/** Writes the file whole or not at all, readable by its owner only (also when it existed before). */
function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(tmp, 0o600); // whatever the umask made of it
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function runExport(args: string[], io: CommandIo): number {
  const opts = parseExportArgs(args);
  const config = loadToolConfig(io);
  const dbFile = join(config.dataDir, DATABASE_FILE);
  if (config.databaseUrl === null && !existsSync(dbFile)) throw new CommandError(`export: there is no registry at ${dbFile} (check DATA_DIR)`);
  const store = Store.open(config.dataDir, { databaseUrl: config.databaseUrl });
  let backup: RegistryBackup;
  try {
    backup = store.exportAll({ includeSecrets: opts.includeSecrets });
  } finally {
    store.close();
  }
  const text = `${JSON.stringify(backup, null, 2)}\n`;
  const destination = opts.output === null ? 'standard output' : resolve(io.cwd, opts.output);
  if (opts.output === null) io.stdout(text);
  else {
    try {
      writePrivateFile(destination, text);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new CommandError(`export: cannot write ${destination} (${code ?? (err as Error).message})`);
    }
    io.stderr(
      `wgvm export: wrote ${backup.nodes.length} node(s), ${backup.settings.length} setting(s) and ${backup.audit_log.length} audit entries to ${destination} (mode 0600)\n`,
    );
  }
  if (opts.includeSecrets) {
    io.stderr(
      `wgvm export: warning: ${destination === 'standard output' ? 'the output' : destination} holds every private key, preshared key and the hub private key in clear text: keep it as safe as DATA_DIR\n`,
    );
  } else {
    io.stderr(
      'wgvm export: no secrets included: a restore from this backup gives nodes without private keys and without the hub key, ' +
        'so their workers must be registered again (use --include-secrets for a complete backup)\n',
    );
  }
  return 0;
}

/** The backup in `file` ("-": standard input), checked; its problems are printed, one line each. */
function readBackup(file: string, io: CommandIo): RegistryBackup | null {
  const shown = file === '-' ? 'standard input' : resolve(io.cwd, file);
  let text: string;
  try {
    text = file === '-' ? io.stdin() : readFileSync(shown, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CommandError(`restore: cannot read ${shown} (${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CommandError(`restore: ${shown} is not JSON (${(err as Error).message})`);
  }
  try {
    return parseBackup(json);
  } catch (err) {
    if (!(err instanceof BackupFormatError)) throw err;
    for (const p of err.problems) io.stderr(`wgvm restore: ${shown}: ${p}\n`);
    return null;
  }
}

/** What the restored registry lacks, or what the configuration must say to serve it. */
function restoreWarnings(backup: RegistryBackup, result: RestoreResult, workerRange: Config['workerRange']): string[] {
  const warnings: string[] = [];
  if (!backup.includes_secrets) {
    warnings.push(
      `the backup holds no secrets: the ${result.nodes} node(s) were restored without private keys (${result.withoutPrivateKey} had one) ` +
        'and with new preshared keys, and the hub key was not restored; their workers cannot connect until each node is ' +
        'registered again (delete it, register it, install the new config)',
    );
  } else if (!result.hubKeyRestored && result.nodes > 0) {
    warnings.push('the backup has no hub key: wgvm serve will make a new one and every worker will need a new config');
  }
  if (result.replacedHubPublicKey !== null) {
    warnings.push(`the hub key that was in DATA_DIR (${keyFingerprint(result.replacedHubPublicKey)}) was replaced by the backup's`);
  }
  const outside = backup.nodes.filter((n) => {
    const a = ipToInt(n.vpn_ip);
    return a < workerRange.first || a > workerRange.last;
  }).length;
  if (outside > 0) {
    warnings.push(`${outside} node address(es) lie outside WORKER_IP_RANGE ${workerRange.text}: set WORKER_IP_RANGE and INTERNAL_SUBNET as on the old hub`);
  }
  return warnings;
}

export function runRestore(args: string[], io: CommandIo): number {
  if (args.length !== 1 || (args[0]!.startsWith('-') && args[0] !== '-')) throw new CommandUsageError(`restore: ${RESTORE_USAGE}`);
  const backup = readBackup(args[0]!, io);
  if (backup === null) {
    io.stderr('wgvm restore: nothing was restored\n');
    return 1;
  }

  const config = loadToolConfig(io);
  const dbFile = registryLocation(config.dataDir, config.databaseUrl);
  const store = Store.open(config.dataDir, { databaseUrl: config.databaseUrl });
  try {
    let result: RestoreResult;
    try {
      result = store.restoreAll(backup, 'wgvm restore');
    } catch (err) {
      if (err instanceof RegistryError) throw new CommandError(`restore: ${err.message}; nothing was restored`);
      throw err;
    }
    io.stdout(
      `Restored ${result.nodes} node(s), ${result.settings} setting(s) and ${result.auditEntries} audit entries ` +
        `from the backup of ${backup.exported_at} into ${dbFile}.\n`,
    );
    for (const line of restoreWarnings(backup, result, config.workerRange)) io.stderr(`wgvm restore: warning: ${line}\n`);
    return 0;
  } finally {
    store.close();
  }
}
