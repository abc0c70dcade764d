// The conflicts of an import of existing nodes (see transfer.ts): every one is found and reported,
// each naming the node it is about, and any one of them stops the whole import.
import { formatRange, ipToInt, type AddressRange } from '../domain/ipam.js';
import { isValidKey } from '../domain/keys.js';
import { keyFingerprint, nodeProblems, publicKeyFor } from '../domain/node-checks.js';
import type { NewNode, NodeRepository } from './nodes.js';

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

/** Where imported nodes' addresses may lie. */
export interface AddressRules {
  /** Every address must lie in it (WORKER_IP_RANGE). */
  range: AddressRange;
  /** Addresses no node may have (the hub's own). */
  exclude: ReadonlySet<number>;
}

/** What the import does to the stored hub key. */
export interface HubKeyPlan {
  /** The hub key setting is written: it was unset or different. */
  written: boolean;
  /** The public key of the different hub key it replaces, if any. */
  replacedPublicKey: string | null;
}

// The order of one node's conflicts found before the transaction (those with the registry follow).
const KIND_ORDER: readonly ImportConflictKind[] = ['node_id', 'public_key', 'private_key', 'preshared_key', 'address'];

type Found = { kind: ImportConflictKind; message: string };

/**
 * The checks of one import. Construction runs those that need no registry (each node's own,
 * the nodes against each other, the addresses against the rules, the hub key's format);
 * the registry's are run inside the import's transaction.
 */
export class ImportChecks {
  readonly #found: ImportConflict[] = [];
  /** Each node's address, when it has a valid one. */
  readonly #addresses: (number | null)[];
  /** Of the imported hub key; null when none is imported or it is not a key. */
  readonly hubPublicKey: string | null = null;

  constructor(
    private readonly nodes: readonly NewNode[],
    rules: AddressRules,
    /** The hub key the nodes were set up with, when the import brings it. */
    private readonly hubPrivateKey: string | undefined,
  ) {
    if (hubPrivateKey !== undefined) {
      if (!isValidKey(hubPrivateKey)) this.#add('hub_key', null, 'the hub private key is not 32 bytes of standard base64');
      else this.hubPublicKey = publicKeyFor(hubPrivateKey);
    }
    const firstWith = { ids: new Map<string, number>(), keys: new Map<string, number>(), addresses: new Map<number, number>() };
    this.#addresses = nodes.map((n, i) => {
      const found: Found[] = nodeProblems(n, { matchPair: true }).map((p) => ({ kind: p.field, message: p.message }));
      const has = (kind: ImportConflictKind) => found.some((f) => f.kind === kind);
      if (!has('node_id')) this.#twice(found, 'node_id', firstWith.ids, n.nodeId, i, () => `node ID ${n.nodeId} is given to two peers of the import`);
      if (!has('public_key')) this.#publicKeyInBatch(found, n, i, firstWith.keys);
      const address = this.#addressInBatch(found, n, i, rules, firstWith.addresses);
      found.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
      for (const f of found) this.#add(f.kind, i, f.message);
      return address;
    });
  }

  /** The nodes against the registry: IDs, keys and addresses already taken. */
  checkRegistry(registry: NodeRepository): void {
    this.nodes.forEach((n, i) => {
      const registered = registry.get(n.nodeId);
      if (registered) this.#add('node_id', i, `node ID ${n.nodeId} is already registered (${registered.vpnIp})`);
      const keyOwner = registry.keyOwner(n.publicKey);
      if (keyOwner !== null) this.#add('public_key', i, `the public key ${keyFingerprint(n.publicKey)} is already registered as node ${keyOwner}`);
      const address = this.#addresses[i];
      const addressOwner = address === null || address === undefined ? null : registry.addressOwner(address);
      if (addressOwner !== null) this.#add('address', i, `address ${n.vpnIp} is already used by node ${addressOwner}`);
    });
  }

  /**
   * The imported hub key against the stored one: replacing a different key needs `replace`, and
   * the imported key must not be a registered node's.
   */
  planHubKey(stored: string | null, replace: boolean, registry: NodeRepository): HubKeyPlan {
    const written = this.hubPrivateKey !== undefined && stored !== this.hubPrivateKey;
    const replacedPublicKey = written && stored !== null ? publicKeyFor(stored) : null;
    if (replacedPublicKey !== null && this.hubPublicKey !== null && !replace) {
      const users = registry.count();
      this.#add(
        'hub_key',
        null,
        `the registry already has a different hub key (public key ${keyFingerprint(replacedPublicKey)}` +
          `${users > 0 ? `, which its ${users} registered node(s) use` : ''}), not the imported one (${keyFingerprint(this.hubPublicKey)})`,
      );
    }
    const owner = this.hubPublicKey === null ? null : registry.keyOwner(this.hubPublicKey);
    if (owner !== null) this.#add('hub_key', null, `the imported hub key's public key is registered as node ${owner}`);
    return { written, replacedPublicKey };
  }

  /** Every conflict found so far: the import's own first, then node by node in input order. */
  conflicts(): ImportConflict[] {
    return [...this.#found].sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  }

  #add(kind: ImportConflictKind, index: number | null, message: string): void {
    this.#found.push({ kind, index, nodeId: index === null ? null : this.nodes[index]!.nodeId, message });
  }

  /** Notes the first node with `value`; a later one is a conflict. */
  #twice<T>(found: Found[], kind: ImportConflictKind, firstWith: Map<T, number>, value: T, i: number, message: () => string): void {
    if (firstWith.has(value)) found.push({ kind, message: message() });
    else firstWith.set(value, i);
  }

  #publicKeyInBatch(found: Found[], n: NewNode, i: number, firstWith: Map<string, number>): void {
    const key = keyFingerprint(n.publicKey);
    const other = firstWith.get(n.publicKey);
    if (other !== undefined) found.push({ kind: 'public_key', message: `the public key ${key} also belongs to ${this.nodes[other]!.nodeId} in the import` });
    else if (n.publicKey === this.hubPublicKey) found.push({ kind: 'public_key', message: `the public key ${key} is the hub's own key` });
    else firstWith.set(n.publicKey, i);
  }

  /** The node's address, if it is one: checked against the rules and the nodes before it. */
  #addressInBatch(found: Found[], n: NewNode, i: number, rules: AddressRules, firstWith: Map<number, number>): number | null {
    let address: number;
    try {
      address = ipToInt(n.vpnIp);
    } catch (err) {
      found.push({ kind: 'address', message: (err as Error).message });
      return null;
    }
    if (address < rules.range.first || address > rules.range.last) {
      found.push({ kind: 'address', message: `address ${n.vpnIp} is outside the worker address range ${formatRange(rules.range)}` });
    } else if (rules.exclude.has(address)) {
      found.push({ kind: 'address', message: `address ${n.vpnIp} is reserved (the hub's own)` });
    } else {
      this.#twice(found, 'address', firstWith, address, i, () => `address ${n.vpnIp} is also given to ${this.nodes[firstWith.get(address)!]!.nodeId} in the import`);
    }
    return address;
  }
}
