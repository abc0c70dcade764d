// The node registry as domain logic: register, delete, enable, rotate keys, install tokens, status.
// No HTTP here; the API maps RegistryError to 4xx responses.
import { workerDns, type Config } from '../config/index.js';
import { decodeKey, encodeKey, generatePresharedKey, generatePrivateKey, isValidKey, isWeakPublicKey, publicKeyOf } from '../domain/keys.js';
import { RegistryError } from '../domain/errors.js';
import type { WorkerInstall } from '../domain/install.js';
import { isNodeId, NODE_ID_RULE, nodeDnsName } from '../domain/names.js';
import type { Node } from '../domain/node.js';
import { DirectPaths } from '../paths/direct-paths.js';
import { checkFreeText, checkHttpUrl } from '../domain/text.js';
import type { HubRecord, NodePage, NodePageQuery, NodeTotals, PathFlags, Store } from '../store/index.js';

export interface RegisterInput {
  nodeId: string;
  description?: string | undefined;
  centralServerUrl?: string | undefined;
  publicKey?: string | undefined;
}

export interface Registration {
  node: Node;
  installToken: string;
  installExpiresAt: string;
}

export interface HubIdentity {
  privateKey: string;
  publicKey: string;
}

const MAX_DESCRIPTION = 200;
/** A hub not seen for this long is no longer offered to agents and installers. */
export const HUB_SEEN_MS = 3_600_000;

export class NodesService {
  /** The agents' direct paths: follows every change made here. */
  readonly paths: DirectPaths;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly hub: HubIdentity,
    /** Called after every change with the node it changed, so that the device follows the registry. */
    private readonly onChange: (nodeId: string) => void,
  ) {
    this.paths = new DirectPaths(store, config.directPaths);
  }

  /**
   * The hubs sharing the registry that claimed its lease within HUB_SEEN_MS of the latest claim,
   * most recent first (none on SQLite).
   */
  recentHubs(): HubRecord[] {
    const hubs = this.store.listHubs();
    const latest = Math.max(0, ...hubs.map((h) => h.seenAt ?? 0));
    return hubs.filter((h) => (h.seenAt ?? 0) >= latest - HUB_SEEN_MS).sort((x, y) => (y.seenAt ?? 0) - (x.seenAt ?? 0));
  }

  /** Every recent hub's API origin (recentHubs), each once. */
  hubApis(): string[] {
    return [...new Set(this.recentHubs().map((h) => h.apiUrl))];
  }

  private changed(nodeId: string): void {
    this.onChange(nodeId);
    this.paths.nodeChanged(nodeId);
  }

  register(input: RegisterInput, actor: string): Registration {
    const nodeId = input.nodeId;
    if (!isNodeId(nodeId)) throw new RegistryError('invalid', `node_id must be ${NODE_ID_RULE}`, 'node_id');
    const description = input.description ?? '';
    if (description.length > MAX_DESCRIPTION) throw new RegistryError('invalid', `description must be at most ${MAX_DESCRIPTION} characters`, 'description');
    // The same checks the installers apply, so that every registered node can be installed.
    checkFreeText('description', description);
    const centralServerUrl = input.centralServerUrl || null;
    if (centralServerUrl) checkHttpUrl('central_server_url', centralServerUrl);

    let publicKey: string;
    let privateKey: string | null = null;
    if (input.publicKey !== undefined) {
      if (!isValidKey(input.publicKey)) throw new RegistryError('invalid', 'public_key must be 32 bytes of standard base64 (44 characters)', 'public_key');
      if (isWeakPublicKey(decodeKey(input.publicKey))) throw new RegistryError('invalid', 'public_key is a weak key (a small-order point)', 'public_key');
      if (input.publicKey === this.hub.publicKey) throw new RegistryError('invalid', "public_key is the hub's own key", 'public_key');
      publicKey = input.publicKey;
    } else {
      const priv = generatePrivateKey();
      privateKey = encodeKey(priv);
      publicKey = encodeKey(publicKeyOf(priv));
    }
    // The node and its install link commit together: no node is left without a link by a crash.
    const { node, token } = this.store.atomically(() => {
      const node = this.store.registerNode(
        {
          nodeId,
          description,
          centralServerUrl,
          publicKey,
          privateKey,
          presharedKey: encodeKey(generatePresharedKey()),
          range: this.config.workerRange,
          exclude: new Set([this.config.hubAddressInt]),
        },
        actor,
      );
      const token = this.store.createInstallToken(nodeId, { ttlSeconds: this.config.installTokenTtl, uses: this.config.installTokenUses }, actor);
      return { node, token };
    });
    this.changed(nodeId);
    return { node, installToken: token.token, installExpiresAt: token.expiresAt };
  }

  /** Every node, in address order. */
  list(): Node[] {
    return this.store.listNodes();
  }

  /** A page of the nodes matching the query's filters, in address order, and how many match. */
  page(query: Omit<NodePageQuery, 'now'>, now = Date.now()): NodePage {
    return this.store.listNodesPage({ ...query, now });
  }

  count(): number {
    return this.store.countNodes();
  }

  totals(now = Date.now()): NodeTotals {
    return this.store.nodeTotals(now);
  }

  /** The node, or null when there is none (for callers to whom a missing node is no error: DNS, the live feed). */
  find(nodeId: string): Node | null {
    return this.store.getNode(nodeId);
  }

  /** The node with this VPN address (uint32), or null. */
  atAddress(address: number): Node | null {
    return this.store.nodeAtAddress(address);
  }

  /** The node's name in the hub's DNS (`<node_id>.<VPN_DOMAIN>`), or null while VPN_DNS is off. */
  dnsName(nodeId: string): string | null {
    return this.config.vpnDns ? nodeDnsName(nodeId, this.config.vpnDomain) : null;
  }

  get(nodeId: string): Node {
    const node = this.store.getNode(nodeId);
    if (!node) throw new RegistryError('not_found', `no node "${nodeId.slice(0, 63)}"`);
    return node;
  }

  remove(nodeId: string, actor: string): void {
    if (!this.store.deleteNode(nodeId, actor)) throw new RegistryError('not_found', `no node "${nodeId.slice(0, 63)}"`);
    this.changed(nodeId);
  }

  setEnabled(nodeId: string, enabled: boolean, actor: string): Node {
    const node = this.store.setEnabled(nodeId, enabled, actor);
    if (!node) throw new RegistryError('not_found', `no node "${nodeId.slice(0, 63)}"`);
    this.changed(nodeId);
    return node;
  }

  /** New keys for the node (the old ones stop working at once) and a fresh install link. */
  rotateKeys(nodeId: string, actor: string): Registration {
    if (!this.get(nodeId).hasPrivateKey) {
      throw new RegistryError('invalid', 'this worker holds its own private key: delete the node and register it again with its new public key');
    }
    const priv = generatePrivateKey();
    const { node, token } = this.store.atomically(() => {
      const node = this.store.replaceKeys(
        nodeId,
        { publicKey: encodeKey(publicKeyOf(priv)), privateKey: encodeKey(priv), presharedKey: encodeKey(generatePresharedKey()) },
        actor,
      )!;
      this.store.revokeTokens(nodeId, actor);
      // The agent's credential was made for the old keys' install, and every pair's key was shared
      // with the old key: a new install brings a new credential, and the pairs start again.
      this.store.revokeAgentCredential(nodeId, actor);
      this.store.deletePairsOf(nodeId);
      const token = this.store.createInstallToken(nodeId, { ttlSeconds: this.config.installTokenTtl, uses: this.config.installTokenUses }, actor);
      return { node, token };
    });
    this.changed(nodeId);
    return { node, installToken: token.token, installExpiresAt: token.expiresAt };
  }

  /** Sets whether the node is isolated and whether it may have direct paths. */
  setPathFlags(nodeId: string, flags: PathFlags, actor: string): Node {
    const node = this.store.setPathFlags(nodeId, flags, actor);
    if (!node) throw new RegistryError('not_found', `no node "${nodeId.slice(0, 63)}"`);
    this.changed(nodeId);
    return node;
  }

  /** A new agent credential for the node, to be written into its installer (shown once). */
  issueAgentCredential(nodeId: string, actor: string): string {
    this.get(nodeId);
    return this.store.issueAgentCredential(nodeId, actor);
  }

  /** The node an agent credential belongs to, or null. */
  agentNodeOf(credential: string): string | null {
    return this.store.agentNodeOf(credential);
  }

  /** When the node's agent credential was issued, or null when it has none. */
  agentCredentialIssuedAt(nodeId: string): string | null {
    return this.store.agentCredentialIssuedAt(nodeId);
  }

  /** Revokes the node's agent credential: its agent gets 401s and removes its direct peers. */
  revokeAgentCredential(nodeId: string, actor: string): void {
    this.get(nodeId);
    if (!this.store.revokeAgentCredential(nodeId, actor)) throw new RegistryError('not_found', `node "${nodeId.slice(0, 63)}" has no agent credential`);
    this.changed(nodeId);
  }

  newInstallToken(nodeId: string, actor: string): { installToken: string; installExpiresAt: string } {
    this.get(nodeId);
    const token = this.store.createInstallToken(nodeId, { ttlSeconds: this.config.installTokenTtl, uses: this.config.installTokenUses }, actor);
    return { installToken: token.token, installExpiresAt: token.expiresAt };
  }

  /**
   * The node an install token belongs to, using up one of its uses. With `nodeId`, a token of another
   * node is refused before anything is used up.
   */
  redeem(token: string, nodeId?: string): string {
    if (nodeId !== undefined) {
      const check = this.store.checkInstallToken(token);
      if ('nodeId' in check && check.nodeId !== nodeId) throw new RegistryError('not_found', 'this install link is not valid');
    }
    const result = this.store.redeemInstallToken(token);
    if ('nodeId' in result) return result.nodeId;
    if (result.error === 'unknown') throw new RegistryError('not_found', 'this install link is not valid');
    throw new RegistryError('gone', result.error === 'expired' ? 'this install link has expired' : 'this install link has been used up');
  }

  /** Everything a worker's config and installers are made of, secrets included. */
  workerInstall(nodeId: string): WorkerInstall {
    const node = this.get(nodeId);
    const secrets = this.store.getSecrets(nodeId)!;
    const c = this.config;
    return {
      interfaceName: 'wg0',
      nodeId: node.nodeId,
      description: node.description,
      centralServerUrl: node.centralServerUrl,
      vpnIp: node.vpnIp,
      privateKey: secrets.privateKey,
      presharedKey: secrets.presharedKey,
      dns: workerDns(c),
      mtu: c.mtu,
      hubPublicKey: this.hub.publicKey,
      endpoint: c.endpoint,
      allowedIps: c.allowedIps,
      persistentKeepalive: c.persistentKeepalive,
      hubVpnIp: c.hubAddress,
      serverPort: c.serverPort,
      subnet: c.internalSubnet.text,
      // The hub side of the agent (credential store, routes) is not wired yet: no agent for now.
      agent: null,
    };
  }
}
