// Which build of each implementation a run measured: every figure names its peers' versions, since
// wireguard-go with and without offloads differ by a factor of seven.
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Implementation } from './tunnel.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const wgvmEntry = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));

export interface ImplementationInfo {
  implementation: Implementation;
  /** what `<binary> --version` says, without the name and the leading "v" (e.g. 0.0.20250522) */
  version: string;
  /** the file run (resolved through PATH and symlinks) */
  binary: string;
  /** wgvm only: the git commit of the checkout ("-dirty" with uncommitted changes), null outside git */
  commit: string | null;
  /** wgvm only: WGVM_THREADS given to its processes, null for the data plane's default */
  threads: number | null;
}

/** The version in the first line of `--version` output: "wireguard-go v0.0.20250522" → "0.0.20250522". */
export function parseVersion(output: string): string | null {
  const first = output.split('\n', 1)[0] ?? '';
  return /\bv?(\d+(?:\.\d+)+(?:[-+.][0-9A-Za-z.-]+)?)\b/.exec(first)?.[1] ?? null;
}

/** A short name for tables: "wgvm 0.1.0 (3cc3bdc)", "wireguard-go 0.0.20250522". */
export function describeImplementation(info: ImplementationInfo): string {
  return `${info.implementation} ${info.version}${info.commit ? ` (${info.commit})` : ''}`;
}

/** The path `command` resolves to (through PATH and symlinks), or null when there is none. */
export function resolveCommand(command: string): string | null {
  const found = command.includes('/')
    ? command
    : spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' }).stdout?.trim();
  if (!found) return null;
  try {
    return realpathSync(found);
  } catch {
    return null;
  }
}

function versionOf(binary: string, args: string[]): string {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 10_000 });
  const version = parseVersion(r.stdout ?? '');
  if (r.status !== 0 || !version) throw new Error(`${binary} ${args.join(' ')} did not print a version: ${(r.stderr || r.stdout || '').trim().slice(0, 200)}`);
  return version;
}

export function wireguardGoInfo(binary: string): ImplementationInfo {
  return { implementation: 'wireguard-go', version: versionOf(binary, ['--version']), binary, commit: null, threads: null };
}

function gitCommit(): string | null {
  const head = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0 || !head.stdout.trim()) return null;
  // Tracked files only: the worktree's node_modules link and bench results do not make a build dirty.
  const dirty = spawnSync('git', ['-C', root, 'diff', '--quiet', 'HEAD', '--', 'src', 'native', 'bin', 'package.json'], { stdio: 'ignore' }).status === 1;
  return `${head.stdout.trim()}${dirty ? '-dirty' : ''}`;
}

export function wgvmInfo(threads: number | null): ImplementationInfo {
  return { implementation: 'wgvm', version: versionOf(process.execPath, [wgvmEntry, '--version']), binary: wgvmEntry, commit: gitCommit(), threads };
}
