// The registry's nodes and the running hub as views.ts shapes them: one way, for both apps.
import type { AgentHubs } from './api-agent.js';
import type { Config } from '../config/index.js';
import { namedCounters, type DeviceCounters } from '../dataplane/counters.js';
import type { HubState } from '../domain/hub-roles.js';
import { statusOf, type Node } from '../domain/node.js';
import type { DirectPaths } from '../paths/direct-paths.js';
import type { NodeTotals } from '../store/index.js';
import type { DashboardHub, HaView, HubSummary, NodeView } from './views.js';

/** What the HTTP apps need of the running hub. */
export interface HubInfo {
  publicKey: string;
  startedAt: number;
  counters(): DeviceCounters | null;
  /** Handshakes completed since start (from the device's events). */
  handshakes?(): number;
  /** The DNS server's message counts by outcome; null while VPN_DNS is off. */
  dnsMessages?(): Readonly<Record<string, number>> | null;
  /** This hub among the hubs sharing the registry; absent: the only hub (SQLite). */
  role?(): HubRoleView;
  /** With hubs sharing the registry: what the agent routes tell agents of them. */
  agentHubs?: AgentHubs;
}

/** This hub, and which hub runs the device, as the status answer tells it. */
export interface HubRoleView {
  hubId: string;
  role: 'active' | 'standby';
  /** The hub that holds the lease, since when, until when (ISO); null when none does. */
  active: { hubId: string; since: string; leaseExpiresAt: string } | null;
  /** Every hub the registry has seen lately, and what it is doing. */
  hubs: HubStateView[];
}

/** One of the hubs sharing the registry: `away` when it has not claimed the lease within a lease's length. */
export interface HubStateView {
  hubId: string;
  apiUrl: string;
  endpoint: string;
  state: HubState;
  /** When it last claimed or renewed the lease (ISO). */
  seenAt: string;
}

/** Where a node's DNS name and its paths come from (the NodesService). */
export interface NodeNames {
  dnsName(nodeId: string): string | null;
  readonly paths: Pick<DirectPaths, 'viewOf' | 'credentialsIssuedAt'>;
}

export function nodeView(n: Node, names: NodeNames, now = Date.now(), issued: ReadonlyMap<string, string> | null = null): NodeView {
  const { agent, paths } = names.paths.viewOf(n.nodeId, issued);
  return {
    node_id: n.nodeId,
    dns_name: names.dnsName(n.nodeId),
    description: n.description,
    central_server_url: n.centralServerUrl,
    vpn_ip: n.vpnIp,
    public_key: n.publicKey,
    status: statusOf(n, now),
    enabled: n.enabled,
    last_handshake: n.lastHandshakeAt,
    rx_bytes: n.rxBytes,
    tx_bytes: n.txBytes,
    endpoint: n.endpoint,
    answered_from: n.answeredFrom,
    created_at: n.createdAt,
    updated_at: n.updatedAt,
    server_holds_private_key: n.hasPrivateKey,
    isolated: n.isolated,
    direct_paths: n.directPaths,
    agent: { reported_at: agent.reportedAt, version: agent.version, credential_issued_at: agent.credentialIssuedAt },
    paths,
  };
}

/** Every node, each seen at the same moment. */
export function nodeViews(nodes: readonly Node[], names: NodeNames, now = Date.now()): NodeView[] {
  // One query for every node's credential time (on PostgreSQL, a round trip per node would be slow).
  const issued = nodes.length > 1 ? names.paths.credentialsIssuedAt() : null;
  return nodes.map((n) => nodeView(n, names, now, issued));
}

export function hubSummary(config: Config, hub: HubInfo, totals: NodeTotals, now = Date.now()): HubSummary {
  return {
    public_key: hub.publicKey,
    endpoint: config.endpoint,
    listen_port: config.serverPort,
    subnet: config.internalSubnet.text,
    hub_address: config.hubAddress,
    peers_total: totals.total,
    peers_online: totals.online,
    rx_bytes: totals.rxBytes,
    tx_bytes: totals.txBytes,
    uptime_seconds: Math.round((now - hub.startedAt) / 1000),
    ha: roleView(hub),
  };
}

function roleView(hub: HubInfo): HaView | null {
  const r = hub.role?.();
  if (!r) return null;
  return {
    hub_id: r.hubId,
    role: r.role,
    active_hub: r.active?.hubId ?? null,
    active_since: r.active?.since ?? null,
    lease_expires_at: r.active?.leaseExpiresAt ?? null,
    hubs: r.hubs.map((h) => ({ hub_id: h.hubId, api_url: h.apiUrl, endpoint: h.endpoint, state: h.state, seen_at: h.seenAt })),
  };
}

/** The summary with the data plane's counters (none while the device is not running). */
export function dashboardHub(config: Config, hub: HubInfo, totals: NodeTotals): DashboardHub {
  const counters = hub.counters();
  return {
    ...hubSummary(config, hub, totals),
    counters: counters ? Object.fromEntries(namedCounters(counters)) : {},
    handshakes: hub.handshakes?.() ?? 0,
  };
}
