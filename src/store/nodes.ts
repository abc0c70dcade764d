// The nodes table: registration with address allocation, keys (sealed), enable/disable, status.
import { formatRange, intToIp, lowestFree, type AddressRange } from '../domain/ipam.js';
import { decodeKey, isValidKey, isWeakPublicKey } from '../domain/keys.js';
import { RegistryError } from '../domain/errors.js';
import { isNodeId, NODE_ID_RULE } from '../domain/names.js';
import type { Node } from '../domain/node.js';
import type { AuditLog } from './audit.js';
import type { Db, Statement } from './db.js';
import type { Sealer } from './sealing.js';

export interface NodeKeys {
  publicKey: string;
  /** Null when the worker registered its own public key and keeps the private key to itself. */
  privateKey: string | null;
  presharedKey: string;
}

export interface RegisterNodeInput extends NodeKeys {
  nodeId: string;
  description: string;
  centralServerUrl: string | null;
  /** Where the address comes from (WORKER_IP_RANGE). */
  range: AddressRange;
  /** Addresses never handed out, e.g. the hub's own. */
  exclude: ReadonlySet<number>;
}

export interface NodeSecrets {
  privateKey: string | null;
  presharedKey: string;
}

/** One node's state as the device reports it. */
export interface StatusUpdate {
  nodeId: string;
  lastHandshakeAt: string | null;
  rxBytes: number;
  txBytes: number;
  endpoint: string | null;
  /** Which of the hub's addresses the endpoint writes to; null or absent: not known, or the kernel's choice. */
  answeredFrom?: string | null;
}

/** A row of the nodes table as SQLite returns it. */
export interface NodeRow {
  node_id: string;
  description: string;
  central_server_url: string | null;
  vpn_ip: number;
  public_key: string;
  private_key_sealed: string | null;
  preshared_key_sealed: string;
  enabled: number;
  created_at: string;
  updated_at: string;
  last_handshake_at: string | null;
  rx_bytes: number;
  tx_bytes: number;
  endpoint: string | null;
  answered_from: string | null;
}

function toNode(row: NodeRow): Node {
  return {
    nodeId: row.node_id,
    description: row.description,
    centralServerUrl: row.central_server_url,
    vpnIp: intToIp(row.vpn_ip),
    publicKey: row.public_key,
    hasPrivateKey: row.private_key_sealed !== null,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastHandshakeAt: row.last_handshake_at,
    rxBytes: row.rx_bytes,
    txBytes: row.tx_bytes,
    endpoint: row.endpoint,
    answeredFrom: row.answered_from,
  };
}

function checkNodeId(nodeId: string): void {
  if (!isNodeId(nodeId)) {
    throw new RegistryError('invalid', `node ID "${nodeId}" must be ${NODE_ID_RULE}`);
  }
}

/** Format and strength checks that need no database; run before any transaction starts. */
function checkKeys(keys: NodeKeys): void {
  if (!isValidKey(keys.publicKey)) {
    throw new RegistryError('invalid', 'the public key must be 32 bytes of standard base64 (44 characters, as `wg pubkey` prints)');
  }
  if (isWeakPublicKey(decodeKey(keys.publicKey))) {
    throw new RegistryError('invalid', 'the public key is a weak key (a point of small order such as all zeros)');
  }
  if (keys.privateKey !== null && !isValidKey(keys.privateKey)) {
    throw new RegistryError('invalid', 'the private key must be 32 bytes of standard base64');
  }
  if (!isValidKey(keys.presharedKey)) {
    throw new RegistryError('invalid', 'the preshared key must be 32 bytes of standard base64');
  }
}

function checkCounter(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

export class NodeRepository {
  readonly #byId: Statement;
  readonly #all: Statement;
  readonly #keyOwner: Statement;
  readonly #usedInRange: Statement;
  readonly #insert: Statement;
  readonly #delete: Statement;
  readonly #setEnabled: Statement;
  readonly #replaceKeys: Statement;
  readonly #updateStatus: Statement;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly auditLog: AuditLog,
    private readonly clock: () => Date,
  ) {
    this.#byId = db.prepare('SELECT * FROM nodes WHERE node_id = ?');
    this.#all = db.prepare('SELECT * FROM nodes ORDER BY vpn_ip');
    this.#keyOwner = db.prepare('SELECT node_id FROM nodes WHERE public_key = ? AND node_id <> ?').pluck();
    // The UNIQUE index on vpn_ip makes this an index range scan, already in address order.
    this.#usedInRange = db.prepare('SELECT vpn_ip FROM nodes WHERE vpn_ip BETWEEN ? AND ?').pluck();
    this.#insert = db.prepare(`INSERT INTO nodes
      (node_id, description, central_server_url, vpn_ip, public_key, private_key_sealed, preshared_key_sealed,
       enabled, created_at, updated_at)
      VALUES (@nodeId, @description, @centralServerUrl, @vpnIp, @publicKey, @privateKeySealed, @presharedKeySealed,
       1, @now, @now)`);
    this.#delete = db.prepare('DELETE FROM nodes WHERE node_id = ? RETURNING vpn_ip').pluck();
    this.#setEnabled = db.prepare('UPDATE nodes SET enabled = ?, updated_at = ? WHERE node_id = ? AND enabled <> ?');
    // The old key's handshake and counters say nothing about the new key: back to "pending".
    this.#replaceKeys = db.prepare(`UPDATE nodes SET public_key = @publicKey, private_key_sealed = @privateKeySealed,
      preshared_key_sealed = @presharedKeySealed, updated_at = @now,
      last_handshake_at = NULL, rx_bytes = 0, tx_bytes = 0
      WHERE node_id = @nodeId`);
    // A device that has just restarted knows neither handshake nor endpoint yet: keep the last known
    // ones (the endpoint is what lets the hub reach a worker again at once after a restart).
    this.#updateStatus = db.prepare(`UPDATE nodes SET
      last_handshake_at = COALESCE(@lastHandshakeAt, last_handshake_at),
      rx_bytes = @rxBytes, tx_bytes = @txBytes,
      endpoint = COALESCE(@endpoint, endpoint),
      answered_from = CASE WHEN @endpoint IS NULL THEN answered_from ELSE @answeredFrom END
      WHERE node_id = @nodeId`);
  }

  get(nodeId: string): Node | null {
    const row = this.#byId.get(nodeId) as NodeRow | undefined;
    return row ? toNode(row) : null;
  }

  list(): Node[] {
    return (this.#all.all() as NodeRow[]).map(toNode);
  }

  secrets(nodeId: string): NodeSecrets | null {
    const row = this.#byId.get(nodeId) as NodeRow | undefined;
    if (!row) return null;
    return {
      privateKey: row.private_key_sealed === null ? null : this.sealer.unseal(row.private_key_sealed),
      presharedKey: this.sealer.unseal(row.preshared_key_sealed),
    };
  }

  register(input: RegisterNodeInput, actor: string): Node {
    checkNodeId(input.nodeId);
    checkKeys(input);
    // IMMEDIATE: the write lock is held from the first read, so no other connection can take the
    // address between our choosing it and inserting it. UNIQUE (vpn_ip) stays as the backstop.
    return this.db.transaction((): Node => {
      if (this.#byId.get(input.nodeId)) {
        throw new RegistryError('duplicate', `node ${input.nodeId} is already registered`, 'node_id');
      }
      this.#checkKeyNotTaken(input.publicKey, input.nodeId);
      const used = new Set(this.#usedInRange.all(input.range.first, input.range.last) as number[]);
      const address = lowestFree(input.range, used, input.exclude);
      if (address === null) {
        throw new RegistryError('range_full', `no free address in ${formatRange(input.range)}`);
      }
      this.#insert.run({
        nodeId: input.nodeId,
        description: input.description,
        centralServerUrl: input.centralServerUrl,
        vpnIp: address,
        publicKey: input.publicKey,
        privateKeySealed: input.privateKey === null ? null : this.sealer.seal(input.privateKey),
        presharedKeySealed: this.sealer.seal(input.presharedKey),
        now: this.clock().toISOString(),
      });
      this.auditLog.record(
        'node.register',
        input.nodeId,
        `vpn_ip=${intToIp(address)} key=${input.privateKey === null ? 'worker-held' : 'hub-generated'}`,
        actor,
      );
      return this.get(input.nodeId)!;
    }).immediate();
  }

  /** Frees the address; the node's install tokens go with it (ON DELETE CASCADE). */
  delete(nodeId: string, actor: string): boolean {
    return this.db.transaction((): boolean => {
      const address = this.#delete.get(nodeId) as number | undefined;
      if (address === undefined) return false;
      this.auditLog.record('node.delete', nodeId, `vpn_ip=${intToIp(address)}`, actor);
      return true;
    }).immediate();
  }

  setEnabled(nodeId: string, enabled: boolean, actor: string): Node | null {
    return this.db.transaction((): Node | null => {
      const flag = enabled ? 1 : 0;
      const changed = this.#setEnabled.run(flag, this.clock().toISOString(), nodeId, flag).changes > 0;
      if (changed) this.auditLog.record(enabled ? 'node.enable' : 'node.disable', nodeId, '', actor);
      return this.get(nodeId);
    }).immediate();
  }

  replaceKeys(nodeId: string, keys: NodeKeys, actor: string): Node | null {
    checkKeys(keys);
    return this.db.transaction((): Node | null => {
      if (!this.#byId.get(nodeId)) return null;
      this.#checkKeyNotTaken(keys.publicKey, nodeId);
      this.#replaceKeys.run({
        nodeId,
        publicKey: keys.publicKey,
        privateKeySealed: keys.privateKey === null ? null : this.sealer.seal(keys.privateKey),
        presharedKeySealed: this.sealer.seal(keys.presharedKey),
        now: this.clock().toISOString(),
      });
      this.auditLog.record('node.replace_keys', nodeId, `key=${keys.privateKey === null ? 'worker-held' : 'hub-generated'}`, actor);
      return this.get(nodeId);
    }).immediate();
  }

  /**
   * Stores what the device reports, in one transaction; unknown node IDs are skipped. Touches only
   * the status columns (not updated_at) and writes no audit row: it runs every second and changes
   * nothing an admin decided. Returns how many nodes were updated.
   */
  updateStatus(rows: readonly StatusUpdate[]): number {
    for (const row of rows) {
      checkCounter('rxBytes', row.rxBytes);
      checkCounter('txBytes', row.txBytes);
    }
    return this.db.transaction((): number => {
      let updated = 0;
      for (const row of rows) {
        updated += this.#updateStatus.run({
          nodeId: row.nodeId,
          lastHandshakeAt: row.lastHandshakeAt,
          rxBytes: row.rxBytes,
          txBytes: row.txBytes,
          endpoint: row.endpoint,
          answeredFrom: row.answeredFrom ?? null,
        }).changes;
      }
      return updated;
    }).immediate();
  }

  #checkKeyNotTaken(publicKey: string, nodeId: string): void {
    const owner = this.#keyOwner.get(publicKey, nodeId) as string | undefined;
    if (owner !== undefined) throw new RegistryError('invalid', `the public key is already used by node ${owner}`, 'public_key');
  }
}
