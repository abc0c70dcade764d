// What the migration commands need from their surroundings, passed in so that tests can run them
// in-process: the environment, the working directory (for .env and relative paths) and two streams.
import { readFileSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { loadConfig, type Config } from '../config/index.js';

export interface CommandIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
  /** All of standard input (for `restore -`). */
  stdin(): string;
}

export function processIo(): CommandIo {
  return {
    env: process.env,
    cwd: process.cwd(),
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    stdin: () => readFileSync(0, 'utf8'),
  };
}

/** A refused operation or unusable input: the CLI prints `wgvm <message>` and exits 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/** Arguments the command does not take: the CLI prints `wgvm <message>` and exits 2. */
export class CommandUsageError extends CommandError {
  override name = 'CommandUsageError';
}

// TEST-NET-1: only ever a stand-in, see below.
const PLACEHOLDER: NetworkInterfaceInfo = {
  address: '192.0.2.1',
  netmask: '255.255.255.0',
  family: 'IPv4',
  mac: '00:00:00:00:00:00',
  internal: false,
  cidr: '192.0.2.1/24',
};

/**
 * The configuration as `wgvm serve` reads it (environment, then .env in cwd). These commands use
 * DATA_DIR, INTERNAL_SUBNET, WORKER_IP_RANGE and SERVERPORT and never write SERVERURL anywhere, so a
 * host with no address to guess SERVERURL from (a build container) gets a stand-in instead of an error.
 */
export function loadToolConfig(io: CommandIo): Config {
  return loadConfig(io.env, io.cwd, {
    networkInterfaces: () => ({ ...networkInterfaces(), 'wgvm-placeholder': [PLACEHOLDER] }),
  });
}
