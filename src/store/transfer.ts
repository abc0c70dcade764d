// Moving whole registries in and out, on top of the repositories: importing nodes that already
// exist elsewhere (given addresses and keys, from an existing WireGuard setup), and backing up /
// restoring the registry (the file format is backup.ts's).
//
// Each is one IMMEDIATE transaction: everything is checked first, every problem is reported, and
// either all of it is written or nothing is.
import { RegistryError } from '../domain/errors.js';
import { encodeKey, generatePresharedKey, isValidKey } from '../domain/keys.js';
import { keyFingerprint, nodeProblems, publicKeyFor } from '../domain/node-checks.js';
import type { Node } from '../domain/node.js';
import type { AuditLog } from './audit.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  fromBackupAuditEntry,
  fromBackupNode,
  toBackupAuditEntry,
  toBackupNode,
  type BackupSetting,
  type RegistryBackup,
} from './backup.js';
import type { Db } from './db.js';
import { ImportChecks, type AddressRules, type HubKeyPlan, type ImportConflict } from './import-checks.js';
import { LATEST_VERSION } from './migrations.js';
import { newNodeRecord, type NewNode, type NodeRecord, type NodeRepository } from './nodes.js';
import { HUB_PRIVATE_KEY_SETTING, type Settings } from './settings.js';

export type { ImportConflict, ImportConflictKind } from './import-checks.js';

/**
 * The preshared key that stands for "none". WireGuard's Noise_IKpsk2 mixes the preshared key into
 * the handshake unconditionally and uses 32 zero bytes when none is configured (the whitepaper's
 * Q = 0^32; wireguard-go, the Linux module and our core all start from zeros), so a peer set with
 * this key and a peer with no key at all derive the same session keys.
 */
export const NO_PRESHARED_KEY = encodeKey(new Uint8Array(32));

/** One node that exists already (an address and keys in use), to be taken over as it is. */
export type ImportNodeInput = NewNode;

export interface ImportNodesOptions extends AddressRules {
  /** The hub private key the nodes were set up with; stored (sealed) as HUB_PRIVATE_KEY_SETTING. */
  hubPrivateKey?: string | undefined;
  /** Allow hubPrivateKey to replace a different hub key already stored (default false). */
  replaceHubKey?: boolean | undefined;
  /** Check everything and say what would be imported, but write nothing. */
  dryRun?: boolean | undefined;
  /** Where the nodes come from, for the audit log (a file name). */
  source?: string | undefined;
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

/** A dry run or a refused import leaves through here, so that the transaction is rolled back. */
class Rollback {
  constructor(readonly result: ImportNodesResult) {}
}

/** A backup's nodes as records, and what a backup without secrets could not give them. */
function restoredNodes(backup: RegistryBackup): { records: NodeRecord[]; withoutPrivateKey: number; newPresharedKeys: number } {
  let withoutPrivateKey = 0;
  let newPresharedKeys = 0;
  const records = backup.nodes.map((n): NodeRecord => {
    if (!backup.includes_secrets) {
      if (n.has_private_key) withoutPrivateKey++;
      newPresharedKeys++;
    }
    const secrets = backup.includes_secrets
      ? { privateKey: n.private_key ?? null, presharedKey: n.preshared_key! }
      : { privateKey: null, presharedKey: encodeKey(generatePresharedKey()) };
    const record = fromBackupNode(n, secrets);
    const problem = nodeProblems(record, { matchPair: true })[0];
    if (problem) throw new RegistryError('invalid', `node ${n.node_id}: ${problem.message}`);
    return record;
  });
  return { records, withoutPrivateKey, newPresharedKeys };
}

export class RegistryTransfer {
  constructor(
    private readonly db: Db,
    private readonly nodes: NodeRepository,
    private readonly settings: Settings,
    private readonly auditLog: AuditLog,
    private readonly clock: () => Date,
  ) {}

  // ─────────────────────────────────────────── import ───────────────────────────────────────────

  importNodes(nodes: readonly ImportNodeInput[], options: ImportNodesOptions, actor: string): ImportNodesResult {
    const checks = new ImportChecks(nodes, options, options.hubPrivateKey);
    const run = (): ImportNodesResult => {
      checks.checkRegistry(this.nodes);
      const stored = this.settings.get(HUB_PRIVATE_KEY_SETTING);
      const hubKey = checks.planHubKey(stored, options.replaceHubKey ?? false, this.nodes);
      const conflicts = checks.conflicts();
      if (conflicts.length > 0) throw new Rollback({ ok: false, conflicts });
      this.#writeImport(nodes, options, hubKey, actor);
      const result: ImportNodesResult = {
        ok: true,
        nodes: nodes.map((n) => this.nodes.get(n.nodeId)!),
        hubKeyWritten: hubKey.written,
        replacedHubPublicKey: hubKey.replacedPublicKey,
      };
      if (options.dryRun) throw new Rollback(result);
      return result;
    };
    try {
      return this.db.write(run);
    } catch (err) {
      if (err instanceof Rollback) return err.result;
      throw err;
    }
  }

  #writeImport(nodes: readonly ImportNodeInput[], options: ImportNodesOptions, hubKey: HubKeyPlan, actor: string): void {
    const now = this.clock().toISOString();
    this.nodes.insertAll(nodes.map((n) => newNodeRecord(n, now)));
    for (const n of nodes) {
      const keys = `key=${n.privateKey === null ? 'worker-held' : 'hub-held'} psk=${n.presharedKey === NO_PRESHARED_KEY ? 'none' : 'yes'}`;
      this.auditLog.record('node.import', n.nodeId, `vpn_ip=${n.vpnIp} ${keys}`, actor);
    }
    if (hubKey.written) this.settings.set(HUB_PRIVATE_KEY_SETTING, options.hubPrivateKey!, { sealed: true }, actor);
    const from = options.source ? ` source=${options.source}` : '';
    this.auditLog.record('registry.import', null, `nodes=${nodes.length}${from}${hubKey.replacedPublicKey ? ' hub_key=replaced' : ''}`, actor);
  }

  // ─────────────────────────────────────────── export ───────────────────────────────────────────

  /** The whole registry but install tokens; secrets (in clear text) only with `includeSecrets`. */
  exportAll(options: { includeSecrets: boolean }): RegistryBackup {
    const secrets = options.includeSecrets;
    // One read transaction: a consistent snapshot even while `wgvm serve` writes status updates.
    return this.db.read((): RegistryBackup => {
      const nodes = secrets
        ? this.nodes.listWithSecrets().map((n) => toBackupNode(n.node, n.secrets))
        : this.nodes.list().map((node) => toBackupNode(node));
      const hubKey = this.settings.get(HUB_PRIVATE_KEY_SETTING);
      return {
        format: BACKUP_FORMAT,
        version: BACKUP_VERSION,
        schema_version: LATEST_VERSION,
        exported_at: this.clock().toISOString(),
        includes_secrets: secrets,
        hub_public_key: hubKey === null ? null : publicKeyFor(hubKey),
        nodes,
        settings: this.settings.entries({ includeSealed: secrets }),
        audit_log: this.auditLog.all().map(toBackupAuditEntry),
      };
    });
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
    return this.db.write((): RestoreResult => {
      const existing = this.nodes.count();
      if (existing > 0) {
        throw new RegistryError(
          'duplicate',
          `the registry already has ${existing} node(s): restore only into an empty registry (point DATA_DIR at a new directory)`,
        );
      }
      const { records, withoutPrivateKey, newPresharedKeys } = restoredNodes(backup);
      this.nodes.insertAll(records);
      const settings = this.#restoreSettings(backup.settings, backup.hub_public_key);
      this.auditLog.append(backup.audit_log.map(fromBackupAuditEntry));
      const secrets = backup.includes_secrets ? 'yes' : 'no';
      this.auditLog.record('registry.restore', null, `nodes=${backup.nodes.length} exported_at=${backup.exported_at} secrets=${secrets}`, actor);
      const { settings: written, hubKeyRestored, replacedHubPublicKey } = settings;
      return { nodes: records.length, withoutPrivateKey, newPresharedKeys, settings: written, auditEntries: backup.audit_log.length, hubKeyRestored, replacedHubPublicKey };
    });
  }

  /** The hub key, if the backup has one, must be a key and match the backup's hub_public_key. */
  #restoreSettings(
    entries: readonly BackupSetting[],
    hubPublicKey: string | null,
  ): Pick<RestoreResult, 'settings' | 'hubKeyRestored' | 'replacedHubPublicKey'> {
    const hubKey = entries.find((s) => s.key === HUB_PRIVATE_KEY_SETTING);
    let replacedHubPublicKey: string | null = null;
    if (hubKey) {
      if (!isValidKey(hubKey.value)) throw new RegistryError('invalid', `the setting ${HUB_PRIVATE_KEY_SETTING} is not a key`);
      if (hubPublicKey !== null && publicKeyFor(hubKey.value) !== hubPublicKey) {
        throw new RegistryError('invalid', `the backup's hub key does not match its hub_public_key ${keyFingerprint(hubPublicKey)}`);
      }
      const before = this.settings.get(HUB_PRIVATE_KEY_SETTING);
      if (before !== null && before !== hubKey.value) replacedHubPublicKey = publicKeyFor(before);
    }
    return { settings: this.settings.restore(entries), hubKeyRestored: hubKey !== undefined, replacedHubPublicKey };
  }
}
