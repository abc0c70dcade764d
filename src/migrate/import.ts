// `wgvm import <path> [--dry-run] [--replace-hub-key]`: takes over an existing WireGuard server —
// its private key and every peer with its address, public key and preshared key — so that the
// workers reconnect to `wgvm serve` without any change on their side.
//
// All or nothing: every conflict is reported (one line each, naming the peer) and then nothing is
// written; the nodes, the hub key and the audit entries go in one transaction.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { formatCidr, intToIp, parseCidr } from '../domain/ipam.js';
import { keyFingerprint } from '../domain/node-checks.js';
import {
  DATABASE_FILE,
  HUB_PRIVATE_KEY_SETTING,
  NO_PRESHARED_KEY,
  registryLocation,
  Store,
  type ImportConflict,
  type ImportNodeInput,
  type ImportNodesResult,
} from '../store/index.js';
import { CommandError, CommandUsageError, loadToolConfig, type CommandIo } from './io.js';
import { readImportSource, type ImportSource, type PeerCandidate } from './source.js';

export const IMPORT_USAGE = 'usage: wgvm import <wg0.conf | linuxserver config folder> [--dry-run] [--replace-hub-key]';
const ACTOR = 'wgvm import';

type ImportedNodes = Extract<ImportNodesResult, { ok: true }>;

interface ImportArgs {
  path: string;
  dryRun: boolean;
  replaceHubKey: boolean;
}

function parseArgs(args: string[]): ImportArgs {
  let path: string | null = null;
  let dryRun = false;
  let replaceHubKey = false;
  for (const a of args) {
    if (a === '--dry-run' || a === '-n') dryRun = true;
    else if (a === '--replace-hub-key') replaceHubKey = true;
    else if (a.startsWith('-') && a !== '-') throw new CommandUsageError(`import: unknown option ${a} (${IMPORT_USAGE})`);
    else if (path !== null) throw new CommandUsageError(`import: one path only (${IMPORT_USAGE})`);
    else path = a;
  }
  if (path === null) throw new CommandUsageError(`import: which config? (${IMPORT_USAGE})`);
  return { path, dryRun, replaceHubKey };
}

/** Node IDs for the peers nothing names: peer-1, peer-2, … skipping IDs that are taken. */
function assignGeneratedIds(peers: PeerCandidate[], registered: readonly string[]): void {
  const taken = new Set(registered);
  for (const p of peers) if (p.nodeId !== null) taken.add(p.nodeId);
  let n = 1;
  for (const p of peers) {
    if (p.nodeId !== null) continue;
    while (taken.has(`peer-${n}`)) n++;
    p.nodeId = `peer-${n}`;
    taken.add(p.nodeId);
    n++;
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n') + '\n';
}

function planTable(peers: readonly PeerCandidate[]): string {
  const rows = [['NODE ID', 'ADDRESS', 'KEY', 'PRIVATE KEY', 'PSK', 'ID FROM']];
  for (const p of peers) {
    rows.push([
      p.nodeId ?? '-',
      p.vpnIp ?? '-',
      p.publicKey.slice(0, 8) || '-',
      p.privateKey !== null ? 'known' : 'worker only',
      p.presharedKey !== null ? 'yes' : 'none',
      p.nodeIdFrom,
    ]);
  }
  return table(rows);
}

/** Things the admin must know that do not stop the import. */
function configWarnings(source: ImportSource, config: Config, confName: string): string[] {
  const warnings: string[] = [];
  if (source.listenPort !== null && source.listenPort !== config.serverPort) {
    warnings.push(
      `${confName} ListenPort is ${source.listenPort} but SERVERPORT is ${config.serverPort}: the workers' configs point at port ` +
        `${source.listenPort}; set SERVERPORT=${source.listenPort} (environment or .env) before starting wgvm serve`,
    );
  } else if (source.listenPort === null && source.hubPrivateKey !== null) {
    warnings.push(`${confName} has no ListenPort: make sure the workers' Endpoint port is SERVERPORT (${config.serverPort})`);
  }
  const old = source.hubAddress;
  if (old && old.address !== config.hubAddressInt) {
    let advice = '';
    if (old.prefix >= 8 && old.prefix <= 30) {
      const subnet = parseCidr(`${intToIp(old.address)}/${old.prefix}`);
      if (subnet.network + 1 === old.address) advice = `; set INTERNAL_SUBNET=${formatCidr(subnet)} to keep it`;
    }
    warnings.push(
      `the old hub address ${intToIp(old.address)} (${confName} Address) is not the hub address ${config.hubAddress} of ` +
        `INTERNAL_SUBNET ${config.internalSubnet.text}: the workers will reach the hub at ${config.hubAddress}${advice}`,
    );
  }
  return warnings;
}

/** A reason the import is refused, at its place in the file (0: the file as a whole). */
interface Conflict {
  position: number;
  text: string;
}

/** The peers that are fit to go to the store, and the problems of the others. */
function splitPeers(source: ImportSource): { ready: PeerCandidate[]; conflicts: Conflict[] } {
  const conflicts: Conflict[] = source.problems.map((text) => ({ position: 0, text }));
  const ready: PeerCandidate[] = [];
  for (const p of source.peers) {
    if (p.problems.length > 0) for (const problem of p.problems) conflicts.push({ position: p.position, text: `${p.label}: ${problem}` });
    else ready.push(p);
  }
  return { ready, conflicts };
}

function toImportInput(p: PeerCandidate): ImportNodeInput {
  return {
    nodeId: p.nodeId!,
    description: p.description,
    centralServerUrl: null,
    vpnIp: p.vpnIp!,
    publicKey: p.publicKey,
    privateKey: p.privateKey,
    presharedKey: p.presharedKey ?? NO_PRESHARED_KEY,
    endpoint: p.endpoint,
  };
}

/** The store's conflicts in the file's terms: the peer's label and place (`ready` is what the store got). */
function fileConflicts(storeConflicts: readonly ImportConflict[], ready: readonly PeerCandidate[]): Conflict[] {
  return storeConflicts.map((c) =>
    c.index === null
      ? { position: 0, text: `hub key: ${c.message}` }
      : { position: ready[c.index]!.position, text: `${ready[c.index]!.label}: ${c.message}` },
  );
}

/** The first line of the plan: the source, its peers and what becomes of its hub key. */
function planHeader(source: ImportSource, confName: string, dryRun: boolean, hubBefore: string | null): string {
  const hubKey = source.hubPrivateKey
    ? `hub key from ${confName}` +
      (hubBefore === null ? ' (new to the registry)' : hubBefore === source.hubPrivateKey ? ' (already the registry\'s)' : ' (differs from the registry\'s)')
    : 'no hub key';
  return (
    `${dryRun ? 'Dry run: ' : ''}${source.serverConf} (${source.kind === 'linuxserver' ? 'linuxserver/wireguard folder' : 'wg-quick config'}): ` +
    `${source.peers.length} peer(s), ${hubKey}\n`
  );
}

/** Every conflict, one line each, then what would get past them, then how many. */
function reportConflicts(
  conflicts: readonly Conflict[],
  storeConflicts: readonly ImportConflict[],
  ready: readonly PeerCandidate[],
  config: Config,
  dryRun: boolean,
  report: (line: string) => void,
): void {
  for (const c of conflicts) report(c.text);
  const outside = storeConflicts.filter((c) => c.kind === 'address' && c.message.includes('outside'));
  if (outside.length > 0) {
    const addresses = outside.map((c) => ready[c.index!]!.vpnIp!).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    report(
      `hint: ${outside.length} address(es) lie outside WORKER_IP_RANGE ${config.workerRange.text} (from ${addresses[0]} to ${addresses[addresses.length - 1]}): ` +
        'set WORKER_IP_RANGE (and INTERNAL_SUBNET) to cover them',
    );
  }
  if (storeConflicts.some((c) => c.kind === 'hub_key' && c.message.includes('different hub key'))) {
    report('hint: pass --replace-hub-key to use the imported hub key (workers set up with the current one then need new configs)');
  }
  report(`${conflicts.length} conflict(s): ${dryRun ? 'the import would be refused' : 'nothing was imported'}`);
}

/** What was (or, in a dry run, would be) imported, and what it means for the nodes registered before. */
function reportImported(result: ImportedNodes, registered: number, dryRun: boolean, dbFile: string, io: CommandIo, warn: (line: string) => void): void {
  if (result.replacedHubPublicKey !== null) {
    warn(
      `the hub key ${keyFingerprint(result.replacedHubPublicKey)} ${dryRun ? 'would be' : 'was'} replaced` +
        (registered > 0 ? `: the ${registered} node(s) registered before need new configs (rotate their keys or install them again)` : ''),
    );
  }
  const withKeys = result.nodes.filter((n) => n.hasPrivateKey).length;
  if (dryRun) {
    io.stdout(`Dry run: ${result.nodes.length} node(s) would be imported into ${dbFile}; nothing was written.\n`);
  } else {
    io.stdout(
      `Imported ${result.nodes.length} node(s) into ${dbFile} (${withKeys} with their private key, ` +
        `${result.nodes.length - withKeys} whose private key only the worker has).\n` +
        'Start wgvm serve (restart it if it is running) to bring them up; the workers need no change.\n',
    );
  }
}

export function runImport(args: string[], io: CommandIo): number {
  const opts = parseArgs(args);
  const config = loadToolConfig(io);
  const path = resolve(io.cwd, opts.path);
  const source = readImportSource(path);
  const confName = source.kind === 'linuxserver' ? relative(path, source.serverConf) : basename(source.serverConf);
  const warn = (line: string) => io.stderr(`wgvm import: warning: ${line}\n`);

  // A dry run against a DATA_DIR that has no registry yet must not create one: an empty registry
  // in a temporary directory answers the same. (On PostgreSQL the dry run rolls back.)
  const dbFile = registryLocation(config.dataDir, config.databaseUrl);
  const sqliteMissing = config.databaseUrl === null && !existsSync(join(config.dataDir, DATABASE_FILE));
  const scratch = opts.dryRun && sqliteMissing ? mkdtempSync(join(tmpdir(), 'wgvm-import-dry-run-')) : null;
  const store = scratch ? Store.open(scratch) : Store.open(config.dataDir, { databaseUrl: config.databaseUrl });
  try {
    const registered = store.nodeIds();
    assignGeneratedIds(source.peers, registered);
    const hubBefore = store.getSetting(HUB_PRIVATE_KEY_SETTING);

    // Conflicts in file order: those of the file as a whole first, then peer by peer.
    const { ready, conflicts } = splitPeers(source);
    const result = store.importNodes(
      ready.map(toImportInput),
      {
        range: config.workerRange,
        exclude: new Set([config.hubAddressInt]),
        hubPrivateKey: source.hubPrivateKey ?? undefined,
        replaceHubKey: opts.replaceHubKey,
        dryRun: opts.dryRun || conflicts.length > 0,
        source: source.serverConf,
      },
      ACTOR,
    );
    const storeConflicts = result.ok ? [] : result.conflicts;
    conflicts.push(...fileConflicts(storeConflicts, ready));
    conflicts.sort((a, b) => a.position - b.position);

    io.stdout(planHeader(source, confName, opts.dryRun, hubBefore));
    if (source.peers.length > 0) io.stdout(planTable(source.peers));
    for (const w of [...source.warnings, ...configWarnings(source, config, confName)]) warn(w);

    if (conflicts.length > 0) {
      reportConflicts(conflicts, storeConflicts, ready, config, opts.dryRun, (line) => io.stderr(`wgvm import: ${line}\n`));
      return 1;
    }
    if (!result.ok) throw new Error('import refused without a conflict'); // unreachable
    reportImported(result, registered.length, opts.dryRun, dbFile, io, warn);
    return 0;
  } finally {
    store.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}
