// The registry backup format written by `wgvm export` and read by `wgvm restore`: one JSON object,
// field names as in the API (snake_case). Install tokens are never in it (they are single-use
// credentials, hashed at rest); secrets only when the export asked for them, then in clear text.
//
//   parseBackup(value: unknown): RegistryBackup     throws BackupFormatError (every problem, one line each)
import { ipToInt } from '../domain/ipam.js';
import { isValidKey } from '../domain/keys.js';
import { isNodeId, NODE_ID_RULE } from '../domain/names.js';
import type { Node } from '../domain/node.js';
import type { AuditEntry } from './audit.js';
import type { NodeRecord, NodeSecrets } from './nodes.js';

export const BACKUP_FORMAT = 'wgvm-registry-backup';
export const BACKUP_VERSION = 1;

export interface BackupNode {
  node_id: string;
  description: string;
  central_server_url: string | null;
  vpn_ip: string;
  public_key: string;
  enabled: boolean;
  /** Absent in backups made before direct paths: false. */
  isolated?: boolean;
  /** Absent in backups made before direct paths: true. */
  direct_paths?: boolean;
  created_at: string;
  updated_at: string;
  last_handshake_at: string | null;
  rx_bytes: number;
  tx_bytes: number;
  endpoint: string | null;
  /** Whether the hub held the node's private key when the backup was made. */
  has_private_key: boolean;
  /** Only in a backup with secrets: null when the worker holds its own key. */
  private_key?: string | null;
  /** Only in a backup with secrets. */
  preshared_key?: string;
}

export interface BackupSetting {
  key: string;
  /** In clear text, also for a setting that is sealed at rest (only in a backup with secrets). */
  value: string;
  sealed: boolean;
}

export interface BackupAuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  node_id: string | null;
  detail: string;
}

export interface RegistryBackup {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  /** The schema version of the database it was taken from. */
  schema_version: number;
  exported_at: string;
  includes_secrets: boolean;
  /** The hub's public key, when the registry had a hub key (public: safe in any backup). */
  hub_public_key: string | null;
  nodes: BackupNode[];
  settings: BackupSetting[];
  /** Oldest first. */
  audit_log: BackupAuditEntry[];
}

// Between the registry's records and the file's: field by field, so that the file keeps its names
// (and its order) whatever the schema does.

/** A node as a backup carries it; its secrets only in a backup with secrets. */
export function toBackupNode(node: Node, secrets?: NodeSecrets): BackupNode {
  const entry: BackupNode = {
    node_id: node.nodeId,
    description: node.description,
    central_server_url: node.centralServerUrl,
    vpn_ip: node.vpnIp,
    public_key: node.publicKey,
    enabled: node.enabled,
    isolated: node.isolated,
    direct_paths: node.directPaths,
    created_at: node.createdAt,
    updated_at: node.updatedAt,
    last_handshake_at: node.lastHandshakeAt,
    rx_bytes: node.rxBytes,
    tx_bytes: node.txBytes,
    endpoint: node.endpoint,
    has_private_key: node.hasPrivateKey,
  };
  if (secrets) {
    entry.private_key = secrets.privateKey;
    entry.preshared_key = secrets.presharedKey;
  }
  return entry;
}

/** A backup's node as the registry writes it, with the secrets it is to have. */
export function fromBackupNode(entry: BackupNode, secrets: NodeSecrets): NodeRecord {
  return {
    nodeId: entry.node_id,
    description: entry.description,
    centralServerUrl: entry.central_server_url,
    vpnIp: entry.vpn_ip,
    publicKey: entry.public_key,
    ...secrets,
    enabled: entry.enabled,
    isolated: entry.isolated ?? false,
    directPaths: entry.direct_paths ?? true,
    createdAt: entry.created_at,
    updatedAt: entry.updated_at,
    lastHandshakeAt: entry.last_handshake_at,
    rxBytes: entry.rx_bytes,
    txBytes: entry.tx_bytes,
    endpoint: entry.endpoint,
  };
}

export function toBackupAuditEntry(e: AuditEntry): BackupAuditEntry {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, node_id: e.nodeId, detail: e.detail };
}

/** A backup's audit entry as the registry appends it (with a new ID). */
export function fromBackupAuditEntry(e: BackupAuditEntry): Omit<AuditEntry, 'id'> {
  return { at: e.at, actor: e.actor, action: e.action, nodeId: e.node_id, detail: e.detail };
}

/** A backup file that is not what `wgvm export` writes; `problems` are one line each. */
export class BackupFormatError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'BackupFormatError';
  }
}

const MAX_PROBLEMS = 20;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The problems of one backup file (the first MAX_PROBLEMS), and a check for each kind of field. */
class Problems {
  readonly found: string[] = [];

  fail(where: string, what: string): void {
    if (this.found.length < MAX_PROBLEMS) this.found.push(`${where}: ${what}`);
  }

  str(o: Obj, key: string, where: string, nullable = false): void {
    const v = o[key];
    if (typeof v === 'string' || (nullable && v === null)) return;
    this.fail(`${where}.${key}`, nullable ? 'must be a string or null' : 'must be a string');
  }

  time(o: Obj, key: string, where: string, nullable = false): void {
    const v = o[key];
    if ((nullable && v === null) || (typeof v === 'string' && ISO_TIME.test(v))) return;
    this.fail(`${where}.${key}`, `must be an ISO 8601 UTC time${nullable ? ' or null' : ''}`);
  }

  bool(o: Obj, key: string, where: string): void {
    if (typeof o[key] !== 'boolean') this.fail(`${where}.${key}`, 'must be true or false');
  }

  count(o: Obj, key: string, where: string): void {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(`${where}.${key}`, 'must be a non-negative integer');
  }

  key(o: Obj, name: string, where: string, nullable = false): void {
    const v = o[name];
    if ((nullable && v === null) || (typeof v === 'string' && isValidKey(v))) return;
    this.fail(`${where}.${name}`, `must be a key (32 bytes of standard base64)${nullable ? ' or null' : ''}`);
  }

  /** Records `value` in `seen`, or fails when it is there already. */
  once<T>(seen: Set<T>, value: T, where: string, what: string): void {
    if (seen.has(value)) this.fail(where, what);
    seen.add(value);
  }

  /** Checks that o[name] is an array of objects, and each object with `check` ("nodes[3]" its place). */
  eachObject(o: Obj, name: string, check: (item: Obj, where: string) => void): void {
    const items = o[name];
    if (!Array.isArray(items)) return this.fail(name, 'must be an array');
    items.forEach((item: unknown, i: number) => {
      const where = `${name}[${i}]`;
      if (isObject(item)) check(item, where);
      else this.fail(where, 'must be an object');
    });
  }
}

/** What makes the nodes of one backup distinct. */
interface SeenNodes {
  ids: Set<string>;
  addresses: Set<number>;
  keys: Set<string>;
}

function checkNode(p: Problems, n: Obj, where: string, secrets: boolean, seen: SeenNodes): void {
  if (!isNodeId(n.node_id)) p.fail(`${where}.node_id`, `must be ${NODE_ID_RULE}`);
  else p.once(seen.ids, n.node_id, `${where}.node_id`, `${n.node_id} appears twice`);
  p.str(n, 'description', where);
  p.str(n, 'central_server_url', where, true);
  if (typeof n.vpn_ip !== 'string') p.fail(`${where}.vpn_ip`, 'must be an IPv4 address');
  else {
    try {
      p.once(seen.addresses, ipToInt(n.vpn_ip), `${where}.vpn_ip`, `${n.vpn_ip} appears twice`);
    } catch (err) {
      p.fail(`${where}.vpn_ip`, (err as Error).message);
    }
  }
  p.key(n, 'public_key', where);
  if (typeof n.public_key === 'string') p.once(seen.keys, n.public_key, `${where}.public_key`, 'appears twice');
  p.bool(n, 'enabled', where);
  if ('isolated' in n) p.bool(n, 'isolated', where);
  if ('direct_paths' in n) p.bool(n, 'direct_paths', where);
  p.time(n, 'created_at', where);
  p.time(n, 'updated_at', where);
  p.time(n, 'last_handshake_at', where, true);
  p.count(n, 'rx_bytes', where);
  p.count(n, 'tx_bytes', where);
  p.str(n, 'endpoint', where, true);
  p.bool(n, 'has_private_key', where);
  if (secrets) {
    p.key(n, 'private_key', where, true);
    p.key(n, 'preshared_key', where);
    if (n.has_private_key === true && n.private_key === null) p.fail(`${where}.private_key`, 'is null but has_private_key is true');
  } else if ('private_key' in n || 'preshared_key' in n) {
    p.fail(where, 'holds keys although includes_secrets is false');
  }
}

function checkSetting(p: Problems, s: Obj, where: string, secrets: boolean, seenKeys: Set<string>): void {
  p.str(s, 'key', where);
  p.str(s, 'value', where);
  p.bool(s, 'sealed', where);
  if (typeof s.key === 'string') p.once(seenKeys, s.key, `${where}.key`, `${s.key} appears twice`);
  if (s.sealed === true && !secrets) p.fail(where, 'a sealed setting in a backup without secrets');
}

function checkAuditEntry(p: Problems, a: Obj, where: string): void {
  p.count(a, 'id', where);
  p.time(a, 'at', where);
  p.str(a, 'actor', where);
  p.str(a, 'action', where);
  p.str(a, 'node_id', where, true);
  p.str(a, 'detail', where);
}

/** Not a wgvm export at all, or one of a version this wgvm cannot read: one problem, at once. */
function checkKind(value: unknown): asserts value is Obj {
  if (!isObject(value)) throw new BackupFormatError(['the file is not a JSON object (not a wgvm export)']);
  if (value.format !== BACKUP_FORMAT) {
    throw new BackupFormatError([`format is ${JSON.stringify(value.format ?? null)}, expected "${BACKUP_FORMAT}" (not a wgvm export)`]);
  }
  if (value.version !== BACKUP_VERSION) {
    throw new BackupFormatError([`version ${JSON.stringify(value.version ?? null)} is not supported (this wgvm reads version ${BACKUP_VERSION}): use a matching wgvm`]);
  }
}

/** Checks the shape and values of a parsed backup file; returns it typed, or throws every problem found. */
export function parseBackup(value: unknown): RegistryBackup {
  checkKind(value);
  const p = new Problems();
  if (typeof value.schema_version !== 'number' || !Number.isSafeInteger(value.schema_version)) p.fail('schema_version', 'must be an integer');
  p.time(value, 'exported_at', 'backup');
  p.bool(value, 'includes_secrets', 'backup');
  p.key(value, 'hub_public_key', 'backup', true);
  const secrets = value.includes_secrets === true;
  const seen: SeenNodes = { ids: new Set(), addresses: new Set(), keys: new Set() };
  p.eachObject(value, 'nodes', (n, where) => checkNode(p, n, where, secrets, seen));
  const settingKeys = new Set<string>();
  p.eachObject(value, 'settings', (s, where) => checkSetting(p, s, where, secrets, settingKeys));
  p.eachObject(value, 'audit_log', (a, where) => checkAuditEntry(p, a, where));
  if (p.found.length > 0) throw new BackupFormatError(p.found);
  return value as unknown as RegistryBackup;
}
