// The registry's storage: one SQLite file (WAL) in DATA_DIR, or a PostgreSQL database shared by
// several hubs (DATABASE_URL); the sealing key is in DATA_DIR either way.
//
// Synchronous API on either engine. Every mutating method runs in one write transaction (holding
// the write lock from its start) that also writes its audit row; `actor` (last argument, default
// 'system') names who asked.
//
//   Store.open(dataDir, { databaseUrl?, clock? }): Store   close(): void   checkpoint(): void
//   registerNode(input: RegisterNodeInput, actor?): Node  throws RegistryError duplicate | invalid | range_full
//   getNode(nodeId): Node | null                         listNodes(): Node[]   (in VPN address order)
//   nodeAtAddress(address: uint32): Node | null
//   listNodesPage({ limit, offset, status?, text?, now }): { nodes, total }   (in VPN address order)
//   countNodes(): number   nodeTotals(now): { total, online, rxBytes, txBytes }  dataVersion(): number (moves with other processes' commits)
//   getSecrets(nodeId): NodeSecrets | null               (unsealed; never log them)
//   deleteNode(nodeId, actor?): boolean                  (frees the address, drops the node's tokens)
//   setEnabled(nodeId, enabled, actor?): Node | null
//   replaceKeys(nodeId, keys: NodeKeys, actor?): Node | null   throws RegistryError invalid
//   updateStatus(rows: StatusUpdate[]): number           (no audit, no updated_at; unknown IDs skipped)
//   createInstallToken(nodeId, { ttlSeconds, uses, now? }, actor?): { token, expiresAt }
//   redeemInstallToken(token, now?, actor?): { nodeId, usesLeft, expiresAt } | { error: unknown | expired | used_up }
//   checkInstallToken(token, now?): same answer, without taking a use
//   revokeTokens(nodeId, actor?): number             purgeInstallTokens(now?): number
//                                                        (tokens are bounded per node and in total: RegistryError limit)
//   atomically(fn): T                                    (several calls, one transaction)
//   audit(action, nodeId, detail, actor): void           listAudit(limit): AuditEntry[]  (newest first)
//   getSetting(key): string | null                       setSetting(key, value, { sealed? }, actor?): void
//   importNodes(nodes: ImportNodeInput[], options, actor?): ImportNodesResult
//                                                        (existing nodes, given addresses and keys: all or none;
//                                                         every conflict reported; optionally the hub key; dry run)
//   exportAll({ includeSecrets }): RegistryBackup        restoreAll(backup, actor?): RestoreResult  (empty registry only)
//   nodeIds(): string[]
//   setPathFlags(nodeId, { isolated?, directPaths? }, actor?): Node | null
//   issueAgentCredential(nodeId, actor?): string      agentNodeOf(credential): string | null
//   agentCredentialIssuedAt(nodeId): string | null    revokeAgentCredential(nodeId, actor?): boolean
//   agentCredentialsIssuedAt(): Map<nodeId, string>   (every node that has one)
//   listPairs(): StoredPair[]                          applyPairs(added, changed, removed): void
//   listPairStates(): PairState[]                      (the same without the keys)
//   deletePairsOf(nodeId): number
//   claimLease(hub, ms, actor?): LeaseClaim              releaseLease(hubId, actor?): void
//   leaseState(): { lease, now }                         listHubs(): HubRecord[]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { maskDatabaseUrl } from '../domain/database-url.js';
import type { Node } from '../domain/node.js';
import { AuditLog, type AuditEntry } from './audit.js';
import type { Db } from './db.js';
import { openPostgres } from './pg-db.js';
import { DATABASE_FILE, openSqlite } from './sqlite-db.js';
import { NodeQueries, type NodePage, type NodePageQuery, type NodeTotals } from './node-queries.js';
import { AgentCredentials } from './agents.js';
import { LeaseRepository, type HubRecord, type Lease, type LeaseClaim } from './lease.js';
import { PairRepository, type StoredPair } from './pairs.js';
import type { PairState } from '../domain/paths.js';
import { NodeRepository, type PathFlags, type NodeKeys, type NodeSecrets, type RegisterNodeInput, type StatusUpdate } from './nodes.js';
import { openSealer, SEALING_CHECK_KEY, type Sealer } from './sealing.js';
import { Settings, SettingsTable, type SetSettingOptions } from './settings.js';
import { TokenRepository, TOKEN_LIMITS, type CreatedToken, type CreateTokenOptions, type TokenCheck, type TokenLimits } from './tokens.js';
import type { RegistryBackup } from './backup.js';
import { RegistryTransfer, type ImportNodeInput, type ImportNodesOptions, type ImportNodesResult, type RestoreResult } from './transfer.js';

export type { AuditEntry } from './audit.js';
export type { StoredPair } from './pairs.js';
export type { HubRecord, Lease, LeaseClaim } from './lease.js';
export type { PathFlags } from './nodes.js';
export type { NodeKeys, NodeSecrets, RegisterNodeInput, StatusUpdate } from './nodes.js';
export type { NodePage, NodePageQuery, NodeTotals } from './node-queries.js';
export type { SetSettingOptions } from './settings.js';
export type { CreatedToken, CreateTokenOptions, TokenCheck, TokenLimits, TokenRejection } from './tokens.js';
export { TOKEN_LIMITS, TOKEN_PURGE_AFTER_MS } from './tokens.js';
export { DATABASE_FILE } from './sqlite-db.js';

/** Where the registry is, for messages: the SQLite file, or the PostgreSQL URL without its password. */
export function registryLocation(dataDir: string, databaseUrl: string | null | undefined): string {
  return databaseUrl ? maskDatabaseUrl(databaseUrl) : join(dataDir, DATABASE_FILE);
}
export { LATEST_VERSION } from './migrations.js';
export { SECRET_KEY_FILE } from './sealing.js';
export { HUB_PRIVATE_KEY_SETTING } from './settings.js';
export { BACKUP_FORMAT, BACKUP_VERSION, BackupFormatError, parseBackup } from './backup.js';
export type { BackupAuditEntry, BackupNode, BackupSetting, RegistryBackup } from './backup.js';
export { NO_PRESHARED_KEY } from './transfer.js';
export type { ImportConflict, ImportConflictKind, ImportNodeInput, ImportNodesOptions, ImportNodesResult, RestoreResult } from './transfer.js';

export interface StoreOptions {
  /** A postgres:// or postgresql:// URL: the registry on that PostgreSQL database. Absent or empty: SQLite in dataDir. */
  databaseUrl?: string | null | undefined;
  /** The time written into rows; tests pass a fixed clock. */
  clock?: () => Date;
  /** Bounds on outstanding install tokens (TOKEN_LIMITS unless given). */
  tokenLimits?: TokenLimits;
}

const DEFAULT_ACTOR = 'system';

export class Store {
  readonly #db: Db;
  readonly #auditLog: AuditLog;
  readonly #nodes: NodeRepository;
  readonly #queries: NodeQueries;
  readonly #tokens: TokenRepository;
  readonly #settings: Settings;
  readonly #transfer: RegistryTransfer;
  readonly #agents: AgentCredentials;
  readonly #pairs: PairRepository;
  readonly #lease: LeaseRepository;

  private constructor(db: Db, table: SettingsTable, sealer: Sealer, clock: () => Date, tokenLimits: TokenLimits) {
    this.#db = db;
    this.#auditLog = new AuditLog(db, clock);
    this.#nodes = new NodeRepository(db, sealer, this.#auditLog, clock);
    this.#queries = new NodeQueries(db);
    this.#tokens = new TokenRepository(db, this.#nodes, this.#auditLog, clock, tokenLimits);
    this.#settings = new Settings(db, table, sealer, this.#auditLog, new Set([SEALING_CHECK_KEY]));
    this.#transfer = new RegistryTransfer(db, this.#nodes, this.#settings, this.#auditLog, clock);
    this.#agents = new AgentCredentials(db, this.#auditLog, clock);
    this.#pairs = new PairRepository(db, sealer);
    this.#lease = new LeaseRepository(db, this.#auditLog);
  }

  /**
   * Creates `dataDir` (0700), `wgvm.db` (SQLite) and `secret.key` (0600) as needed and migrates
   * the schema (PostgreSQL: the database at `databaseUrl`).
   */
  static open(dataDir: string, options: StoreOptions = {}): Store {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = options.databaseUrl ? openPostgres(options.databaseUrl) : openSqlite(dataDir);
    try {
      const table = new SettingsTable(db);
      const sealer = openSealer(db, table, dataDir);
      return new Store(db, table, sealer, options.clock ?? (() => new Date()), options.tokenLimits ?? TOKEN_LIMITS);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Which database the registry is in: one SQLite file, or PostgreSQL shared by hubs. */
  get engine(): 'sqlite' | 'postgres' {
    return this.#db.engine;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /**
   * Runs `fn` as one transaction: the store calls it makes commit together or not at all (a crash
   * in between leaves none of them).
   */
  atomically<T>(fn: () => T): T {
    return this.#db.write(fn);
  }

  /** SQLite: moves the WAL into the main file and truncates it (tests read the file bytes after this). */
  checkpoint(): void {
    this.#db.checkpoint();
  }

  // Nodes

  registerNode(input: RegisterNodeInput, actor = DEFAULT_ACTOR): Node {
    return this.#nodes.register(input, actor);
  }

  getNode(nodeId: string): Node | null {
    return this.#nodes.get(nodeId);
  }

  nodeAtAddress(address: number): Node | null {
    return this.#nodes.atAddress(address);
  }

  listNodes(): Node[] {
    return this.#nodes.list();
  }

  /** One page of the nodes that match, and how many match. */
  listNodesPage(query: NodePageQuery): NodePage {
    return this.#queries.page(query);
  }

  countNodes(): number {
    return this.#nodes.count();
  }

  /** How many nodes, how many online at `now`, and their traffic. */
  nodeTotals(now: number): NodeTotals {
    return this.#queries.totals(now);
  }

  /** Moves whenever another process commits to the registry (a CLI import while the hub runs). */
  dataVersion(): number {
    return this.#queries.dataVersion();
  }

  getSecrets(nodeId: string): NodeSecrets | null {
    return this.#nodes.secrets(nodeId);
  }

  deleteNode(nodeId: string, actor = DEFAULT_ACTOR): boolean {
    return this.#nodes.delete(nodeId, actor);
  }

  setEnabled(nodeId: string, enabled: boolean, actor = DEFAULT_ACTOR): Node | null {
    return this.#nodes.setEnabled(nodeId, enabled, actor);
  }

  replaceKeys(nodeId: string, keys: NodeKeys, actor = DEFAULT_ACTOR): Node | null {
    return this.#nodes.replaceKeys(nodeId, keys, actor);
  }

  setPathFlags(nodeId: string, flags: PathFlags, actor = DEFAULT_ACTOR): Node | null {
    return this.#nodes.setPathFlags(nodeId, flags, actor);
  }

  updateStatus(rows: readonly StatusUpdate[]): number {
    return this.#nodes.updateStatus(rows);
  }

  // Install tokens

  createInstallToken(nodeId: string, options: CreateTokenOptions, actor = DEFAULT_ACTOR): CreatedToken {
    return this.#tokens.create(nodeId, options, actor);
  }

  redeemInstallToken(token: string, now?: Date, actor = DEFAULT_ACTOR): TokenCheck {
    return this.#tokens.redeem(token, now, actor);
  }

  checkInstallToken(token: string, now?: Date): TokenCheck {
    return this.#tokens.check(token, now);
  }

  revokeTokens(nodeId: string, actor = DEFAULT_ACTOR): number {
    return this.#tokens.revoke(nodeId, actor);
  }

  /** Deletes install tokens that expired over TOKEN_PURGE_AFTER_MS ago; returns how many. */
  purgeInstallTokens(now?: Date): number {
    return this.#tokens.purge(now);
  }

  // Audit log

  /** Records an event that is not a store change (a config download, a failed login). */
  audit(action: string, nodeId: string | null, detail: string, actor: string): void {
    this.#auditLog.record(action, nodeId, detail, actor);
  }

  listAudit(limit = 100): AuditEntry[] {
    return this.#auditLog.list(limit);
  }

  // Settings

  getSetting(key: string): string | null {
    return this.#settings.get(key);
  }

  setSetting(key: string, value: string, options: SetSettingOptions = {}, actor = DEFAULT_ACTOR): void {
    this.#settings.set(key, value, options, actor);
  }

  // Moving registries in and out

  /**
   * Takes over nodes that exist already (an address and keys in use elsewhere) in one transaction:
   * all of them, or, when anything conflicts, none and every conflict. See RegistryTransfer.
   */
  importNodes(nodes: readonly ImportNodeInput[], options: ImportNodesOptions, actor = DEFAULT_ACTOR): ImportNodesResult {
    return this.#transfer.importNodes(nodes, options, actor);
  }

  /** A backup of everything but install tokens; secrets in clear text only with includeSecrets. */
  exportAll(options: { includeSecrets: boolean }): RegistryBackup {
    return this.#transfer.exportAll(options);
  }

  /** Writes a backup into a registry without nodes, in one transaction. Throws RegistryError. */
  restoreAll(backup: RegistryBackup, actor = DEFAULT_ACTOR): RestoreResult {
    return this.#transfer.restoreAll(backup, actor);
  }

  /** Every registered node ID. */
  nodeIds(): string[] {
    return this.#nodes.ids();
  }

  // Agents and the pairs of direct paths

  /** A new agent credential for the node (shown once), replacing its previous one. */
  issueAgentCredential(nodeId: string, actor = DEFAULT_ACTOR): string {
    return this.#agents.issue(nodeId, actor);
  }

  agentNodeOf(credential: string): string | null {
    return this.#agents.nodeOf(credential);
  }

  agentCredentialIssuedAt(nodeId: string): string | null {
    return this.#agents.issuedAt(nodeId);
  }

  agentCredentialsIssuedAt(): Map<string, string> {
    return this.#agents.allIssuedAt();
  }

  revokeAgentCredential(nodeId: string, actor = DEFAULT_ACTOR): boolean {
    return this.#agents.revoke(nodeId, actor);
  }

  listPairs(): StoredPair[] {
    return this.#pairs.list();
  }

  listPairStates(): PairState[] {
    return this.#pairs.listStates();
  }

  applyPairs(added: readonly StoredPair[], changed: readonly PairState[], removed: readonly Pick<PairState, 'a' | 'b'>[]): void {
    this.#pairs.apply(added, changed, removed);
  }

  deletePairsOf(nodeId: string): number {
    return this.#pairs.deleteOf(nodeId);
  }

  // The hub lease (which hub runs the device)

  claimLease(hub: HubRecord, ms: number, actor = DEFAULT_ACTOR): LeaseClaim {
    return this.#lease.claim(hub, ms, actor);
  }

  releaseLease(hubId: string, actor = DEFAULT_ACTOR): void {
    this.#lease.release(hubId, actor);
  }

  leaseState(): { lease: Lease | null; now: number } {
    return this.#lease.current();
  }

  listHubs(): HubRecord[] {
    return this.#lease.hubs();
  }
}
