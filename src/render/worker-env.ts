// The worker's environment file (the variables workers read today: NODE_ID, DESCRIPTION, CENTRAL_SERVER_URL,
// VPN_IP), written to /etc/wgvm/worker.env by the .sh installer.
//
// One file, two readers with different rules:
//   - POSIX sh `. /etc/wgvm/worker.env` parses quotes, `$`, backticks, spaces…
//   - `docker run --env-file` takes everything after the first '=' literally (no quote removal).
// The rule:
//   - a value made only of [A-Za-z0-9_@%+=:,./-] is written bare: both readers see the same bytes
//     (node ids, IP addresses and ordinary URLs are always in this set, so the three variables the
//     worker container needs are identical for sh and docker);
//   - any other value is single-quoted for sh, a ' inside written as '\'' — sourcing gives back the
//     exact text and nothing in it is ever expanded or run. docker --env-file then keeps the
//     quotes as part of the value; to pass such a value to a container, source the file in sh and
//     use `--env DESCRIPTION`.
//   - newlines and other control characters are rejected (a newline would start a new variable
//     for docker), see checkFreeText.
// An empty value (no central server URL) is written as `NAME=`, empty for both readers.
import { checkWorkerInstall, type WorkerInstall } from '../domain/install.js';

const BARE = /^[A-Za-z0-9_@%+=:,./-]*$/;

/** Single-quotes a string for POSIX sh: 'it'\''s'. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A value as written in the env file: bare when sh and docker read it alike, else sh-quoted. */
export function envValue(value: string): string {
  return BARE.test(value) ? value : shQuote(value);
}

export function workerEnvVars(i: WorkerInstall): Array<[string, string]> {
  checkWorkerInstall(i);
  return [
    ['NODE_ID', i.nodeId],
    ['DESCRIPTION', i.description],
    ['CENTRAL_SERVER_URL', i.centralServerUrl ?? ''],
    ['VPN_IP', i.vpnIp],
  ];
}

export function renderWorkerEnv(i: WorkerInstall): string {
  const lines = ['# wireguard-vpn-manager worker environment (sh: `. worker.env`; docker: --env-file)'];
  for (const [name, value] of workerEnvVars(i)) lines.push(`${name}=${envValue(value)}`);
  return lines.join('\n') + '\n';
}
