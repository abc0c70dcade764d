// Moving whole registries in and out: importing nodes that already exist elsewhere (given addresses
// and keys, from an existing WireGuard setup), and backing up / restoring the registry.
//
// Each is one IMMEDIATE transaction: everything is checked first, every problem is reported, and
// either all of it is written or nothing is.
import { formatRange, intToIp, ipToInt, type AddressRange } from '../domain/ipam.js';
import { decodeKey, encodeKey, generatePresharedKey, isValidKey, isWeakPublicKey, publicKeyOf } from '../domain/keys.js';
import { RegistryError } from '../domain/errors.js';
import { isNodeId, NODE_ID_RULE } from '../domain/names.js';
import type { Node } from '../domain/node.js';
import type { AuditLog } from './audit.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  type BackupAuditEntry,
  type BackupNode,
  type BackupSetting,
  type RegistryBackup,
} from './backup.js';
import type { Db, Statement } from './db.js';
import { LATEST_VERSION } from './migrations.js';
import type { Sealer } from './sealing.js';
import type { NodeRow } from './nodes.js';

/** The setting `wgvm serve` keeps its own private key in (sealed). */
export const HUB_PRIVATE_KEY_SETTING = 'hub_private_key';

/**
 * The preshared key that stands for "none". WireGuard's Noise_IKpsk2 mixes the preshared key into
 * the handshake unconditionally and uses 32 zero bytes when none is configured (the whitepaper's
 * Q = 0^32; wireguard-go, the Linux module and our core all start from zeros), so a peer set with
 * this key and a peer with no key at all derive the same session keys.
 */
export const NO_PRESHARED_KEY = encodeKey(new Uint8Array(32));

/** One node that exists already (an address and keys in use), to be taken over as it is. */
export interface ImportNodeInput {
  nodeId: string;
  description: string;
  centralServerUrl: string | null;
  /** Its VPN address, e.g. "10.100.1.2". */
  vpnIp: string;
  publicKey: string;
  /** Null when only the worker has it. */
  privateKey: string | null;
  /** NO_PRESHARED_KEY when the peer has none. */
  presharedKey: string;
  /** A last known endpoint ("203.0.113.7:51820"), so that the hub can reach out at start; or null. */
  endpoint: string | null;
}

export interface ImportNodesOptions {
  /** Every address must lie in it (WORKER_IP_RANGE). */
  range: AddressRange;
  /** Addresses no node may have (the hub's own). */
  exclude: ReadonlySet<number>;
  /** The hub private key the nodes were set up with; stored (sealed) as HUB_PRIVATE_KEY_SETTING. */
  hubPrivateKey?: string | undefined;
  /** Allow hubPrivateKey to replace a different hub key already stored (default false). */
  replaceHubKey?: boolean | undefined;
  /** Check everything and say what would be imported, but write nothing. */
  dryRun?: boolean | undefined;
  /** Where the nodes come from, for the audit log (a file name). */
  source?: string | undefined;
}

export type ImportConflictKind =
  | 'node_id' // invalid, duplicated in the import, or already registered
  | 'address' // invalid, outside the range, excluded, duplicated, or already used
  | 'public_key' // invalid, weak, duplicated, already used, or the hub's own
  | 'private_key' // invalid, or not the private key of the public key
  | 'preshared_key' // invalid
  | 'hub_key'; // invalid, or a different hub key is already stored

export interface ImportConflict {
  kind: ImportConflictKind;
  /** Position in the input, or null for a problem of the import as a whole (the hub key). */
  index: number | null;
  nodeId: string | null;
  message: string;
}

export type ImportNodesResult =
  | {
      ok: true;
      /** The nodes as imported (or, in a dry run, as they would be). */
      nodes: Node[];
      /** Whether the hub key setting was (or would be) written: it was unset or different. */
      hubKeyWritten: boolean;
      /** The hub key it replaced, when it replaced one. */
      replacedHubPublicKey: string | null;
    }
  | { ok: false; conflicts: ImportConflict[] };

export interface RestoreResult {
  nodes: number;
  /** Nodes whose private key the hub held but the backup did not carry. */
  withoutPrivateKey: number;
  /** Nodes that got a new random preshared key because the backup had none. */
  newPresharedKeys: number;
  settings: number;
  auditEntries: number;
  /** Whether the backup carried the hub key. */
  hubKeyRestored: boolean;
  /** The public key of a different hub key that was in the registry before and was replaced. */
  replacedHubPublicKey: string | null;
}


interface SettingRow {
  key: string;
  value: string;
  sealed: number;
}

/** A dry run or a refused import leaves through here, so that the transaction is rolled back. */
class Rollback {
  constructor(readonly result: ImportNodesResult) {}
}

const fingerprint = (key: string) => `${key.slice(0, 8)}…`;

function hubPublicKeyOf(privateKey: string): string {
  return encodeKey(publicKeyOf(decodeKey(privateKey)));
}

export class RegistryTransfer {
  readonly #insertNode: Statement;
  readonly #nodeCount: Statement;
  readonly #allNodes: Statement;
  readonly #nodeIds: Statement;
  readonly #byId: Statement;
  readonly #keyOwner: Statement;
  readonly #addressOwner: Statement;
  readonly #getSetting: Statement;
  readonly #allSettings: Statement;
  readonly #putSetting: Statement;
  readonly #allAudit: Statement;
  readonly #insertAudit: Statement;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly auditLog: AuditLog,
    private readonly clock: () => Date,
    /** Settings that belong to the store itself: never exported, never restored. */
    private readonly reservedSettings: ReadonlySet<string>,
    private readonly getNode: (nodeId: string) => Node | null,
  ) {
    this.#insertNode = db.prepare(`INSERT INTO nodes
      (node_id, description, central_server_url, vpn_ip, public_key, private_key_sealed, preshared_key_sealed,
       enabled, created_at, updated_at, last_handshake_at, rx_bytes, tx_bytes, endpoint)
      VALUES (@nodeId, @description, @centralServerUrl, @vpnIp, @publicKey, @privateKeySealed, @presharedKeySealed,
       @enabled, @createdAt, @updatedAt, @lastHandshakeAt, @rxBytes, @txBytes, @endpoint)`);
    this.#nodeCount = db.prepare('SELECT COUNT(*) FROM nodes').pluck();
    this.#allNodes = db.prepare('SELECT * FROM nodes ORDER BY vpn_ip');
    this.#nodeIds = db.prepare('SELECT node_id FROM nodes').pluck();
    this.#byId = db.prepare('SELECT vpn_ip FROM nodes WHERE node_id = ?').pluck();
    this.#keyOwner = db.prepare('SELECT node_id FROM nodes WHERE public_key = ?').pluck();
    this.#addressOwner = db.prepare('SELECT node_id FROM nodes WHERE vpn_ip = ?').pluck();
    this.#getSetting = db.prepare('SELECT key, value, sealed FROM settings WHERE key = ?');
    this.#allSettings = db.prepare('SELECT key, value, sealed FROM settings ORDER BY key');
    this.#putSetting = db.prepare(
      'INSERT INTO settings (key, value, sealed) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, sealed = excluded.sealed',
    );
    this.#allAudit = db.prepare('SELECT id, at, actor, action, node_id, detail FROM audit_log ORDER BY id');
    this.#insertAudit = db.prepare('INSERT INTO audit_log (at, actor, action, node_id, detail) VALUES (?, ?, ?, ?, ?)');
  }

  /** Every node ID in the registry (for choosing IDs that are free). */
  nodeIds(): string[] {
    return this.#nodeIds.all() as string[];
  }

  #setting(key: string): string | null {
    const row = this.#getSetting.get(key) as SettingRow | undefined;
    if (!row) return null;
    return row.sealed ? this.sealer.unseal(row.value) : row.value;
  }

  // ─────────────────────────────────────────── import ───────────────────────────────────────────

  importNodes(nodes: readonly ImportNodeInput[], options: ImportNodesOptions, actor: string): ImportNodesResult {
    const conflicts: ImportConflict[] = [];
    const add = (kind: ImportConflictKind, index: number | null, message: string) =>
      conflicts.push({ kind, index, nodeId: index === null ? null : nodes[index]!.nodeId, message });

    // Checks that need no database, before the transaction.
    let hubPublicKey: string | null = null;
    if (options.hubPrivateKey !== undefined) {
      if (!isValidKey(options.hubPrivateKey)) add('hub_key', null, 'the hub private key is not 32 bytes of standard base64');
      else hubPublicKey = hubPublicKeyOf(options.hubPrivateKey);
    }
    const ids = new Map<string, number>();
    const keys = new Map<string, number>();
    const addresses = new Map<number, number>();
    const addressOf: (number | null)[] = [];
    nodes.forEach((n, i) => {
      if (!isNodeId(n.nodeId)) {
        add('node_id', i, `node ID "${n.nodeId}" must be ${NODE_ID_RULE}`);
      } else if (ids.has(n.nodeId)) {
        add('node_id', i, `node ID ${n.nodeId} is given to two peers of the import`);
      } else {
        ids.set(n.nodeId, i);
      }

      if (!isValidKey(n.publicKey)) {
        add('public_key', i, 'the public key is not 32 bytes of standard base64');
      } else if (isWeakPublicKey(decodeKey(n.publicKey))) {
        add('public_key', i, `the public key ${fingerprint(n.publicKey)} is a weak key (a point of small order)`);
      } else if (keys.has(n.publicKey)) {
        add('public_key', i, `the public key ${fingerprint(n.publicKey)} also belongs to ${nodes[keys.get(n.publicKey)!]!.nodeId} in the import`);
      } else if (n.publicKey === hubPublicKey) {
        add('public_key', i, `the public key ${fingerprint(n.publicKey)} is the hub's own key`);
      } else {
        keys.set(n.publicKey, i);
      }
      if (n.privateKey !== null) {
        if (!isValidKey(n.privateKey)) add('private_key', i, 'the private key is not 32 bytes of standard base64');
        else if (isValidKey(n.publicKey) && hubPublicKeyOf(n.privateKey) !== n.publicKey) {
          add('private_key', i, `the private key does not belong to the public key ${fingerprint(n.publicKey)}`);
        }
      }
      if (!isValidKey(n.presharedKey)) add('preshared_key', i, 'the preshared key is not 32 bytes of standard base64');

      let address: number | null = null;
      try {
        address = ipToInt(n.vpnIp);
      } catch (err) {
        add('address', i, (err as Error).message);
      }
      addressOf.push(address);
      if (address === null) return;
      if (address < options.range.first || address > options.range.last) {
        add('address', i, `address ${n.vpnIp} is outside the worker address range ${formatRange(options.range)}`);
      } else if (options.exclude.has(address)) {
        add('address', i, `address ${n.vpnIp} is reserved (the hub's own)`);
      } else if (addresses.has(address)) {
        add('address', i, `address ${n.vpnIp} is also given to ${nodes[addresses.get(address)!]!.nodeId} in the import`);
      } else {
        addresses.set(address, i);
      }
    });

    const run = (): ImportNodesResult => {
      // Against the registry.
      nodes.forEach((n, i) => {
        const at = this.#byId.get(n.nodeId) as number | undefined;
        if (at !== undefined) add('node_id', i, `node ID ${n.nodeId} is already registered (${intToIp(at)})`);
        const keyOwner = this.#keyOwner.get(n.publicKey) as string | undefined;
        if (keyOwner !== undefined) add('public_key', i, `the public key ${fingerprint(n.publicKey)} is already registered as node ${keyOwner}`);
        const address = addressOf[i];
        if (address !== null && address !== undefined) {
          const owner = this.#addressOwner.get(address) as string | undefined;
          if (owner !== undefined) add('address', i, `address ${n.vpnIp} is already used by node ${owner}`);
        }
      });
      const storedHubKey = this.#setting(HUB_PRIVATE_KEY_SETTING);
      const hubKeyWritten = options.hubPrivateKey !== undefined && storedHubKey !== options.hubPrivateKey;
      const replacedHubPublicKey = hubKeyWritten && storedHubKey !== null ? hubPublicKeyOf(storedHubKey) : null;
      if (replacedHubPublicKey !== null && !options.replaceHubKey) {
        const users = this.#nodeCount.get() as number;
        add(
          'hub_key',
          null,
          `the registry already has a different hub key (public key ${fingerprint(replacedHubPublicKey)}` +
            `${users > 0 ? `, which its ${users} registered node(s) use` : ''}), not the imported one (${fingerprint(hubPublicKey!)})`,
        );
      }
      if (hubPublicKey !== null) {
        const owner = this.#keyOwner.get(hubPublicKey) as string | undefined;
        if (owner !== undefined) add('hub_key', null, `the imported hub key's public key is registered as node ${owner}`);
      }
      if (conflicts.length > 0) {
        conflicts.sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
        throw new Rollback({ ok: false, conflicts });
      }

      const now = this.clock().toISOString();
      nodes.forEach((n, i) => {
        this.#insertNode.run({
          nodeId: n.nodeId,
          description: n.description,
          centralServerUrl: n.centralServerUrl,
          vpnIp: addressOf[i]!,
          publicKey: n.publicKey,
          privateKeySealed: n.privateKey === null ? null : this.sealer.seal(n.privateKey),
          presharedKeySealed: this.sealer.seal(n.presharedKey),
          enabled: 1,
          createdAt: now,
          updatedAt: now,
          lastHandshakeAt: null,
          rxBytes: 0,
          txBytes: 0,
          endpoint: n.endpoint,
        });
        this.auditLog.record(
          'node.import',
          n.nodeId,
          `vpn_ip=${n.vpnIp} key=${n.privateKey === null ? 'worker-held' : 'hub-held'} psk=${n.presharedKey === NO_PRESHARED_KEY ? 'none' : 'yes'}`,
          actor,
        );
      });
      if (hubKeyWritten) {
        this.#putSetting.run(HUB_PRIVATE_KEY_SETTING, this.sealer.seal(options.hubPrivateKey!), 1);
        this.auditLog.record('setting.set', null, `key=${HUB_PRIVATE_KEY_SETTING} (sealed)`, actor);
      }
      this.auditLog.record(
        'registry.import',
        null,
        `nodes=${nodes.length}${options.source ? ` source=${options.source}` : ''}${replacedHubPublicKey ? ' hub_key=replaced' : ''}`,
        actor,
      );
      const result: ImportNodesResult = {
        ok: true,
        nodes: nodes.map((n) => this.getNode(n.nodeId)!),
        hubKeyWritten,
        replacedHubPublicKey,
      };
      if (options.dryRun) throw new Rollback(result);
      return result;
    };

    try {
      return this.db.transaction(run).immediate();
    } catch (err) {
      if (err instanceof Rollback) return err.result;
      throw err;
    }
  }

  // ─────────────────────────────────────────── export ───────────────────────────────────────────

  /** The whole registry but install tokens; secrets (in clear text) only with `includeSecrets`. */
  exportAll(options: { includeSecrets: boolean }): RegistryBackup {
    // One read transaction: a consistent snapshot even while `wgvm serve` writes status updates.
    return this.db.transaction((): RegistryBackup => {
      const secrets = options.includeSecrets;
      const nodes = (this.#allNodes.all() as NodeRow[]).map((r): BackupNode => {
        const node: BackupNode = {
          node_id: r.node_id,
          description: r.description,
          central_server_url: r.central_server_url,
          vpn_ip: intToIp(r.vpn_ip),
          public_key: r.public_key,
          enabled: r.enabled === 1,
          created_at: r.created_at,
          updated_at: r.updated_at,
          last_handshake_at: r.last_handshake_at,
          rx_bytes: r.rx_bytes,
          tx_bytes: r.tx_bytes,
          endpoint: r.endpoint,
          has_private_key: r.private_key_sealed !== null,
        };
        if (secrets) {
          node.private_key = r.private_key_sealed === null ? null : this.sealer.unseal(r.private_key_sealed);
          node.preshared_key = this.sealer.unseal(r.preshared_key_sealed);
        }
        return node;
      });
      const settings: BackupSetting[] = [];
      for (const row of this.#allSettings.all() as SettingRow[]) {
        if (this.reservedSettings.has(row.key)) continue;
        if (row.sealed && !secrets) continue;
        settings.push({ key: row.key, value: row.sealed ? this.sealer.unseal(row.value) : row.value, sealed: row.sealed === 1 });
      }
      const hubKey = this.#setting(HUB_PRIVATE_KEY_SETTING);
      const audit = (this.#allAudit.all() as { id: number; at: string; actor: string; action: string; node_id: string | null; detail: string }[]).map(
        (a): BackupAuditEntry => ({ id: a.id, at: a.at, actor: a.actor, action: a.action, node_id: a.node_id, detail: a.detail }),
      );
      return {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        schema_version: LATEST_VERSION,
        exported_at: this.clock().toISOString(),
        includes_secrets: secrets,
        hub_public_key: hubKey === null ? null : hubPublicKeyOf(hubKey),
        nodes,
        settings,
        audit_log: audit,
      };
    }).deferred();
  }

  // ─────────────────────────────────────────── restore ──────────────────────────────────────────

  /**
   * Writes a backup (checked by parseBackup) into a registry that has no nodes. Nodes keep their
   * addresses, keys, status and times; audit entries are appended in their order; settings are set
   * (sealed ones sealed again with this registry's key). Without secrets in the backup, nodes get
   * no private key and a new random preshared key: their workers must be registered again.
   */
  restoreAll(backup: RegistryBackup, actor: string): RestoreResult {
    if (backup.schema_version > LATEST_VERSION) {
      throw new RegistryError(
        'invalid',
        `the backup comes from a registry with schema version ${backup.schema_version}, newer than this wgvm supports (${LATEST_VERSION}): upgrade wgvm`,
      );
    }
    const secrets = backup.includes_secrets;
    return this.db.transaction((): RestoreResult => {
      const existing = this.#nodeCount.get() as number;
      if (existing > 0) {
        throw new RegistryError(
          'duplicate',
          `the registry already has ${existing} node(s): restore only into an empty registry (point DATA_DIR at a new directory)`,
        );
      }
      let withoutPrivateKey = 0;
      let newPresharedKeys = 0;
      for (const n of backup.nodes) {
        if (isWeakPublicKey(decodeKey(n.public_key))) {
          throw new RegistryError('invalid', `node ${n.node_id}: the public key is a weak key (a point of small order)`);
        }
        let privateKey: string | null = null;
        let presharedKey: string;
        if (secrets) {
          privateKey = n.private_key ?? null;
          presharedKey = n.preshared_key!;
          if (privateKey !== null && hubPublicKeyOf(privateKey) !== n.public_key) {
            throw new RegistryError('invalid', `node ${n.node_id}: the private key does not belong to its public key`);
          }
        } else {
          if (n.has_private_key) withoutPrivateKey++;
          presharedKey = encodeKey(generatePresharedKey());
          newPresharedKeys++;
        }
        this.#insertNode.run({
          nodeId: n.node_id,
          description: n.description,
          centralServerUrl: n.central_server_url,
          vpnIp: ipToInt(n.vpn_ip),
          publicKey: n.public_key,
          privateKeySealed: privateKey === null ? null : this.sealer.seal(privateKey),
          presharedKeySealed: this.sealer.seal(presharedKey),
          enabled: n.enabled ? 1 : 0,
          createdAt: n.created_at,
          updatedAt: n.updated_at,
          lastHandshakeAt: n.last_handshake_at,
          rxBytes: n.rx_bytes,
          txBytes: n.tx_bytes,
          endpoint: n.endpoint,
        });
      }

      let settings = 0;
      let hubKeyRestored = false;
      let replacedHubPublicKey: string | null = null;
      for (const s of backup.settings) {
        if (this.reservedSettings.has(s.key)) continue;
        if (s.key === HUB_PRIVATE_KEY_SETTING) {
          if (!isValidKey(s.value)) throw new RegistryError('invalid', `the setting ${HUB_PRIVATE_KEY_SETTING} is not a key`);
          const before = this.#setting(HUB_PRIVATE_KEY_SETTING);
          if (before !== null && before !== s.value) replacedHubPublicKey = hubPublicKeyOf(before);
          hubKeyRestored = true;
        }
        this.#putSetting.run(s.key, s.sealed ? this.sealer.seal(s.value) : s.value, s.sealed ? 1 : 0);
        settings++;
      }
      if (hubKeyRestored && backup.hub_public_key !== null) {
        const restored = hubPublicKeyOf(this.#setting(HUB_PRIVATE_KEY_SETTING)!);
        if (restored !== backup.hub_public_key) {
          throw new RegistryError('invalid', `the backup's hub key does not match its hub_public_key ${fingerprint(backup.hub_public_key)}`);
        }
      }

      for (const a of backup.audit_log) this.#insertAudit.run(a.at, a.actor, a.action, a.node_id, a.detail);
      this.auditLog.record(
        'registry.restore',
        null,
        `nodes=${backup.nodes.length} exported_at=${backup.exported_at} secrets=${secrets ? 'yes' : 'no'}`,
        actor,
      );
      return {
        nodes: backup.nodes.length,
        withoutPrivateKey,
        newPresharedKeys,
        settings,
        auditEntries: backup.audit_log.length,
        hubKeyRestored,
        replacedHubPublicKey,
      };
    }).immediate();
  }
}
