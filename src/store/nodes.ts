// The nodes table: registration with address allocation, keys (sealed), enable/disable, status,
// and the whole-table reads and writes of a backup, a restore and an import. All of its SQL.
import { formatRange, intToIp, ipToInt, lowestFreeFrom, type AddressRange } from '../domain/ipam.js';
import { RegistryError } from '../domain/errors.js';
import { keyProblems, nodeProblems, type NodeKeys, type NodeProblem } from '../domain/node-checks.js';
import type { Node } from '../domain/node.js';
import type { AuditLog } from './audit.js';
import { constraintViolation, type Db, type Statement } from './db.js';
import { NODE_COLUMNS, toNode, type NodeRow } from './node-rows.js';
import type { Sealer } from './sealing.js';

export type { NodeKeys } from '../domain/node-checks.js';

/** What a node is given when it comes into the registry; the registry keeps the rest. */
type GivenFields = Pick<Node, 'nodeId' | 'description' | 'centralServerUrl'> & NodeKeys;

export interface RegisterNodeInput extends GivenFields {
  /** Where the address comes from (WORKER_IP_RANGE). */
  range: AddressRange;
  /** Addresses never handed out, e.g. the hub's own. */
  exclude: ReadonlySet<number>;
}

/** What an admin sets about a node's paths; an absent field stays as it is. */
export interface PathFlags {
  isolated?: boolean | undefined;
  directPaths?: boolean | undefined;
}

export type NodeSecrets = Pick<NodeKeys, 'privateKey' | 'presharedKey'>;

/** One node's state as the device reports it. */
export interface StatusUpdate extends Pick<Node, 'nodeId' | 'lastHandshakeAt' | 'rxBytes' | 'txBytes' | 'endpoint'> {
  /** Which of the hub's addresses the endpoint writes to; null or absent: not known, or the kernel's choice. */
  answeredFrom?: string | null;
}

/**
 * A node that is new to the registry but has its address already (registered, or imported with
 * a last known endpoint, so that the hub can reach out at start).
 */
export interface NewNode extends GivenFields, Pick<Node, 'vpnIp' | 'endpoint'> {}

/**
 * Everything the table keeps of a node, secrets in clear text, but which hub address answers it
 * (live state, learnt again): what is written whole.
 */
export type NodeRecord = Omit<Node, 'hasPrivateKey' | 'answeredFrom'> & NodeSecrets;

/** The record of a node as it starts: enabled, created `now`, no handshake or traffic yet. */
export function newNodeRecord(node: NewNode, now: string): NodeRecord {
  const { nodeId, description, centralServerUrl, vpnIp, publicKey, privateKey, presharedKey, endpoint } = node;
  const fresh = { enabled: true, isolated: false, directPaths: true, createdAt: now, updatedAt: now, lastHandshakeAt: null, rxBytes: 0, txBytes: 0 };
  return { nodeId, description, centralServerUrl, vpnIp, publicKey, privateKey, presharedKey, endpoint, ...fresh };
}

/** Registration and key replacement refuse the first problem, before any transaction starts. */
function refuseFirst(problems: readonly NodeProblem[]): void {
  const first = problems[0];
  if (first) throw new RegistryError('invalid', first.message, first.field);
}

function checkCounter(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

export class NodeRepository {
  /**
   * No address of the range below this one is free (as far as this process saw): where the search
   * for the lowest free address starts, so that a registration does not walk every taken address.
   * Lowered when a node is deleted; a rolled-back allocation leaves it at the address, which is then
   * found free again. Another process deleting a node only makes us hand out a higher address.
   */
  #freeFrom: { range: AddressRange; address: number } | null = null;
  readonly #byId: Statement;
  readonly #byAddress: Statement;
  readonly #all: Statement;
  readonly #exists: Statement;
  readonly #ids: Statement;
  readonly #count: Statement;
  readonly #keyOwner: Statement;
  readonly #addressOwner: Statement;
  readonly #usedFrom: Statement;
  readonly #insert: Statement;
  readonly #delete: Statement;
  readonly #setEnabled: Statement;
  readonly #setIsolated: Statement;
  readonly #setDirectPaths: Statement;
  readonly #replaceKeys: Statement;
  readonly #updateStatus: Statement;
  /** PostgreSQL: every row of an updateStatus in one statement (a round trip per row would not keep up). */
  readonly #updateStatusAll: Statement | null;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly auditLog: AuditLog,
    private readonly clock: () => Date,
  ) {
    this.#byId = db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes WHERE node_id = ?`);
    this.#byAddress = db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes WHERE vpn_ip = ?`); // UNIQUE index
    this.#all = db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes ORDER BY vpn_ip`);
    this.#exists = db.prepare('SELECT 1 FROM nodes WHERE node_id = ?').pluck();
    this.#ids = db.prepare('SELECT node_id FROM nodes').pluck();
    this.#count = db.prepare('SELECT COUNT(*) FROM nodes').pluck();
    // IS DISTINCT FROM: a NULL node ID excludes no node.
    this.#keyOwner = db.prepare('SELECT node_id FROM nodes WHERE public_key = ? AND node_id IS DISTINCT FROM ?').pluck();
    this.#addressOwner = db.prepare('SELECT node_id FROM nodes WHERE vpn_ip = ?').pluck();
    // The UNIQUE index on vpn_ip makes this an index range scan, already in address order; it is
    // read only up to the first gap.
    this.#usedFrom = db.prepare('SELECT vpn_ip FROM nodes WHERE vpn_ip BETWEEN ? AND ? ORDER BY vpn_ip').pluck();
    this.#insert = db.prepare(`INSERT INTO nodes
      (node_id, description, central_server_url, vpn_ip, public_key, private_key_sealed, preshared_key_sealed,
       enabled, isolated, direct_paths, created_at, updated_at, last_handshake_at, rx_bytes, tx_bytes, endpoint)
      VALUES (@nodeId, @description, @centralServerUrl, @vpnIp, @publicKey, @privateKeySealed, @presharedKeySealed,
       @enabled, @isolated, @directPaths, @createdAt, @updatedAt, @lastHandshakeAt, @rxBytes, @txBytes, @endpoint)`);
    this.#delete = db.prepare('DELETE FROM nodes WHERE node_id = ? RETURNING vpn_ip').pluck();
    this.#setEnabled = db.prepare('UPDATE nodes SET enabled = ?, updated_at = ? WHERE node_id = ? AND enabled <> ?');
    this.#setIsolated = db.prepare('UPDATE nodes SET isolated = ?, updated_at = ? WHERE node_id = ? AND isolated <> ?');
    this.#setDirectPaths = db.prepare('UPDATE nodes SET direct_paths = ?, updated_at = ? WHERE node_id = ? AND direct_paths <> ?');
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
    // The same, for all rows at once: they travel as one JSON array.
    this.#updateStatusAll =
      db.engine === 'postgres'
        ? db.prepare(`UPDATE nodes AS n SET
      last_handshake_at = COALESCE(v."lastHandshakeAt", n.last_handshake_at),
      rx_bytes = v."rxBytes", tx_bytes = v."txBytes",
      endpoint = COALESCE(v.endpoint, n.endpoint),
      answered_from = CASE WHEN v.endpoint IS NULL THEN n.answered_from ELSE v."answeredFrom" END
      FROM jsonb_to_recordset(CAST(? AS jsonb))
        AS v("nodeId" text, "lastHandshakeAt" text, "rxBytes" bigint, "txBytes" bigint, endpoint text, "answeredFrom" text)
      WHERE n.node_id = v."nodeId" COLLATE "C"`)
        : null;
  }

  get(nodeId: string): Node | null {
    const row = this.#byId.get(nodeId) as NodeRow | undefined;
    return row ? toNode(row) : null;
  }

  /** The node with this VPN address (uint32), or null. */
  atAddress(address: number): Node | null {
    const row = this.#byAddress.get(address) as NodeRow | undefined;
    return row ? toNode(row) : null;
  }

  /** In address order. */
  list(): Node[] {
    return (this.#all.all() as NodeRow[]).map(toNode);
  }

  secrets(nodeId: string): NodeSecrets | null {
    const row = this.#byId.get(nodeId) as NodeRow | undefined;
    return row ? this.#unsealed(row) : null;
  }

  /** Every node with its secrets (unsealed), in address order. */
  listWithSecrets(): { node: Node; secrets: NodeSecrets }[] {
    return (this.#all.all() as NodeRow[]).map((row) => ({ node: toNode(row), secrets: this.#unsealed(row) }));
  }

  exists(nodeId: string): boolean {
    return this.#exists.get(nodeId) !== undefined;
  }

  ids(): string[] {
    return this.#ids.all() as string[];
  }

  count(): number {
    return this.#count.get() as number;
  }

  /** The node that has this public key, other than `exceptNodeId`; null when none. */
  keyOwner(publicKey: string, exceptNodeId: string | null = null): string | null {
    return (this.#keyOwner.get(publicKey, exceptNodeId) as string | undefined) ?? null;
  }

  /** The node that has this address (uint32); null when none. */
  addressOwner(address: number): string | null {
    return (this.#addressOwner.get(address) as string | undefined) ?? null;
  }

  register(input: RegisterNodeInput, actor: string): Node {
    refuseFirst(nodeProblems(input));
    // A write transaction holds the write lock from the first read (SQLite's IMMEDIATE, PostgreSQL's
    // advisory lock), so no other connection or hub can take the address between our choosing it and
    // inserting it. UNIQUE (vpn_ip) stays as the backstop (#insertRecord).
    return this.db.write((): Node => {
      if (this.exists(input.nodeId)) {
        throw new RegistryError('duplicate', `node ${input.nodeId} is already registered`, 'node_id');
      }
      this.#checkKeyNotTaken(input.publicKey, input.nodeId);
      const address = this.#allocate(input.range, input.exclude);
      if (address === null) {
        throw new RegistryError('range_full', `no free address in ${formatRange(input.range)}`);
      }
      const vpnIp = intToIp(address);
      this.#insertRecord(newNodeRecord({ ...input, vpnIp, endpoint: null }, this.clock().toISOString()));
      this.auditLog.record('node.register', input.nodeId, `vpn_ip=${vpnIp} key=${input.privateKey === null ? 'worker-held' : 'hub-generated'}`, actor);
      return this.get(input.nodeId)!;
    });
  }

  /**
   * Writes whole nodes as they are (an import, a restore), in one transaction, with no audit row
   * (the caller writes its own). The caller has checked them: nodeProblems, and that their IDs,
   * addresses and keys are free (the UNIQUE constraints stay as the backstop).
   */
  insertAll(records: readonly NodeRecord[]): void {
    this.db.write(() => {
      for (const record of records) this.#insertRecord(record);
    });
  }

  /** Frees the address; the node's install tokens go with it (ON DELETE CASCADE). */
  delete(nodeId: string, actor: string): boolean {
    return this.db.write((): boolean => {
      const address = this.#delete.get(nodeId) as number | undefined;
      if (address === undefined) return false;
      this.#freed(address);
      this.auditLog.record('node.delete', nodeId, `vpn_ip=${intToIp(address)}`, actor);
      return true;
    });
  }

  setEnabled(nodeId: string, enabled: boolean, actor: string): Node | null {
    return this.db.write((): Node | null => {
      const flag = enabled ? 1 : 0;
      const changed = this.#setEnabled.run(flag, this.clock().toISOString(), nodeId, flag).changes > 0;
      if (changed) this.auditLog.record(enabled ? 'node.enable' : 'node.disable', nodeId, '', actor);
      return this.get(nodeId);
    });
  }

  /** Sets what the admin decides about a node's paths; each change is audited. Null: no such node. */
  setPathFlags(nodeId: string, flags: PathFlags, actor: string): Node | null {
    return this.db.write((): Node | null => {
      if (!this.exists(nodeId)) return null;
      const now = this.clock().toISOString();
      if (flags.isolated !== undefined) {
        const flag = flags.isolated ? 1 : 0;
        if (this.#setIsolated.run(flag, now, nodeId, flag).changes > 0) this.auditLog.record(flags.isolated ? 'node.isolate' : 'node.unisolate', nodeId, '', actor);
      }
      if (flags.directPaths !== undefined) {
        const flag = flags.directPaths ? 1 : 0;
        if (this.#setDirectPaths.run(flag, now, nodeId, flag).changes > 0) this.auditLog.record('node.direct_paths', nodeId, flags.directPaths ? 'on' : 'off', actor);
      }
      return this.get(nodeId);
    });
  }

  replaceKeys(nodeId: string, keys: NodeKeys, actor: string): Node | null {
    refuseFirst(keyProblems(keys));
    return this.db.write((): Node | null => {
      if (!this.exists(nodeId)) return null;
      this.#checkKeyNotTaken(keys.publicKey, nodeId);
      this.#replaceKeys.run({ nodeId, publicKey: keys.publicKey, ...this.#sealed(keys), now: this.clock().toISOString() });
      this.auditLog.record('node.replace_keys', nodeId, `key=${keys.privateKey === null ? 'worker-held' : 'hub-generated'}`, actor);
      return this.get(nodeId);
    });
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
    if (this.#updateStatusAll !== null) {
      if (rows.length === 0) return 0;
      // One statement is atomic by itself, and nothing read decides it: no write lock needed.
      const values = rows.map((r) => ({ ...r, answeredFrom: r.answeredFrom ?? null }));
      return this.#updateStatusAll.run(JSON.stringify(values)).changes;
    }
    return this.db.write((): number => {
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
    });
  }

  /** The lowest free address of the range, searched from #freeFrom up. */
  #allocate(range: AddressRange, exclude: ReadonlySet<number>): number | null {
    const known = this.#freeFrom;
    const start = known && known.range.first === range.first && known.range.last === range.last ? known.address : range.first;
    // for…of closes the statement's iterator at the first gap, before the INSERT runs.
    const lowestFrom = (from: number) => lowestFreeFrom(range, from, this.#usedFrom.iterate(from, range.last) as IterableIterator<number>, exclude);
    // Nothing above the hint: another process (`wgvm` on the command line) may have freed addresses
    // below it, which this one's hint does not know of.
    const address = lowestFrom(start) ?? (start > range.first ? lowestFrom(range.first) : null);
    this.#freeFrom = { range, address: address ?? start };
    return address;
  }

  #freed(address: number): void {
    if (this.#freeFrom && address < this.#freeFrom.address) this.#freeFrom = { ...this.#freeFrom, address: Math.max(address, this.#freeFrom.range.first) };
  }

  /** A UNIQUE constraint that still fails (it cannot under the write lock) is a client's conflict, not a crash. */
  #insertRecord(record: NodeRecord): void {
    const { vpnIp, enabled, isolated, directPaths, privateKey, presharedKey, ...columns } = record;
    const flags = { enabled: enabled ? 1 : 0, isolated: isolated ? 1 : 0, directPaths: directPaths ? 1 : 0 };
    try {
      this.#insert.run({ ...columns, vpnIp: ipToInt(vpnIp), ...flags, ...this.#sealed({ privateKey, presharedKey }) });
    } catch (err) {
      if (constraintViolation(err) !== 'unique') throw err;
      throw new RegistryError('duplicate', `node ${record.nodeId}, its address ${vpnIp} or its public key was registered meanwhile: try again`);
    }
  }

  #sealed(secrets: NodeSecrets): { privateKeySealed: string | null; presharedKeySealed: string } {
    return {
      privateKeySealed: secrets.privateKey === null ? null : this.sealer.seal(secrets.privateKey),
      presharedKeySealed: this.sealer.seal(secrets.presharedKey),
    };
  }

  #unsealed(row: NodeRow): NodeSecrets {
    return {
      privateKey: row.privateKeySealed === null ? null : this.sealer.unseal(row.privateKeySealed),
      presharedKey: this.sealer.unseal(row.presharedKeySealed),
    };
  }

  #checkKeyNotTaken(publicKey: string, nodeId: string): void {
    const owner = this.keyOwner(publicKey, nodeId);
    if (owner !== null) throw new RegistryError('invalid', `the public key is already used by node ${owner}`, 'public_key');
  }
}
