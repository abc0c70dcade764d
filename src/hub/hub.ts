// The hub: the registry, the management API and the dashboard, and — while this hub holds the
// registry's lease (always, on SQLite) — the userspace device and its link, the device sync, the UAPI
// socket and the DNS server (with VPN_DNS). Started in that order, released in the reverse order,
// whether the stop comes from a signal, from the data plane failing or from a start-up step failing.
// A hub sharing a PostgreSQL registry with others waits as a standby until the lease lapses.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { configureDevice, openDevice, type DeviceEvent, type NativeDevice } from '../dataplane/device.js';
import { threadsOption } from '../domain/threads.js';
import { configureLink } from '../dataplane/link.js';
import { keyToHex } from '../domain/keys.js';
import { DnsServer } from '../dns/server.js';
import { buildApi, type HubInfo } from '../http/api.js';
import type { HubRoleView } from '../http/present.js';
import { buildDashboard, type Dashboard } from '../http/dashboard.js';
import { API_SERVER_LIMITS } from '../http/hardening.js';
import type { Node } from '../domain/node.js';
import { NodeHistory } from '../nodes/history.js';
import { NodesService, type HubIdentity } from '../nodes/service.js';
import { flushLog, type Logger } from '../runtime/log.js';
import { Store } from '../store/index.js';
import { startUapiServer, stopUapiServer } from '../uapi/server.js';
import { apiToken, checkSharedSubnet, hubIdentity } from './credentials.js';
import { DeviceSync, systemClock, type SyncClock } from './device-sync.js';
import { PLAN_INTERVAL_MS } from '../paths/direct-paths.js';
import { hubId } from './hub-id.js';
import { LEASE_MS, LeaseKeeper, type Role } from './lease-keeper.js';
import { AgentHubView } from './agent-hubs.js';
import { apiOrigin } from '../http/installs.js';
import type { HubRecord } from '../store/index.js';
import { Releases } from './releases.js';

/** What the hub reaches outside the process with. Tests give a fake device and no link. */
export interface HubSystem {
  openDevice: typeof openDevice;
  configureLink: typeof configureLink;
  /** Where the UAPI socket goes; /var/run/wireguard by default, where `wg` looks. */
  socketDir?: string;
  /** The DNS server's port; 53 by default. */
  dnsPort?: number;
  clock?: SyncClock;
}

const REAL_SYSTEM: HubSystem = { openDevice, configureLink };
const DNS_PORT = 53;

/** The registry, open: what the servers are started on, on an active hub and on a standby. */
interface Core {
  store: Store;
  identity: HubIdentity;
  token: string;
  nodes: NodesService;
  history: NodeHistory;
  startedAt: number;
}

export class Hub {
  private readonly releases = new Releases();
  private phase: 'new' | 'starting' | 'running' | 'stopping' = 'new';
  /** The first stop asked for: its reason is logged, its code is the exit status. */
  private stopRequest: { reason: string; code: number } | undefined;
  private finish: (code: number) => void = () => {};
  /** The exit status, once the hub has stopped and released everything. */
  readonly stopped = new Promise<number>((resolve) => (this.finish = resolve));
  private handshakes = 0;
  /** Set once started, with VPN_DNS: /metrics reads its counts. */
  private dns: DnsServer | undefined;
  /** Set once built: the sync publishes every change to its live stream. */
  private dashboard: Dashboard | undefined;
  /** Set while active: device events tell it when to read the device. */
  private sync: DeviceSync | undefined;
  /** Set while active. */
  private device: NativeDevice | undefined;
  /** Set with a shared (PostgreSQL) registry: whether this hub holds its lease. */
  private lease: LeaseKeeper | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly system: HubSystem = REAL_SYSTEM,
  ) {}

  /**
   * Starts everything, then logs the start-up line. A stop asked for meanwhile ends start-up after
   * the step under way, and start() resolves once everything is released (see `stopped`). When a
   * step fails, what was started is released and the error is thrown.
   */
  async start(): Promise<void> {
    if (this.phase !== 'new') {
      if (this.stopRequest) return; // stopped before it started
      throw new Error('a hub starts once');
    }
    this.phase = 'starting';
    let core: Core;
    try {
      core = this.open();
      // The only hub of its registry brings its device up before anything serves, as it always did.
      if (core.store.engine === 'sqlite') this.openDataPlane(core);
    } catch (err) {
      // Nothing serves yet: the error alone says what happened, without a "shutting down" line.
      this.phase = 'stopping';
      await this.releases.releaseAll();
      this.finish(1);
      throw err;
    }
    let role: Role = 'active';
    try {
      if (core.store.engine === 'sqlite') await this.startDataPlaneServers(core);
      await this.startServers(core);
      if (core.store.engine === 'postgres' && !this.stopRequest) role = await this.takeLease(core);
    } catch (err) {
      this.requestStop(err instanceof Error ? err.message : String(err), 1);
      await this.shutDown();
      throw err;
    }
    if (this.stopRequest) {
      await this.shutDown();
      return;
    }
    this.phase = 'running';
    this.logStarted(core.identity.publicKey, role);
  }

  /**
   * With a shared (PostgreSQL) registry: active if this hub gets the registry's lease, else a standby
   * (the API and the dashboard serve; the device waits) until the lease lapses.
   */
  private async takeLease(core: Core): Promise<Role> {
    const me = this.hubRecord();
    const clock = this.system.clock ?? systemClock;
    const keeper = new LeaseKeeper((hub, ms) => core.store.claimLease(hub, ms), me, { every: clock.every, monotonic: () => performance.now() }, {
      activate: async () => {
        if (this.stopRequest) return;
        if (this.phase === 'running') this.logger.info({ hub: me.hubId }, `hub ${me.hubId}: the lease is ours, bringing the device up`);
        core.nodes.paths.activate(); // the pairs as the last active hub left them
        this.openDataPlane(core);
        await this.startDataPlaneServers(core);
      },
      fence: (ms) => this.device?.fenceAfter(ms),
      standby: (holder) => this.logger.info({ hub: me.hubId, active: holder }, `hub ${me.hubId} is a standby: ${holder} is active`),
      lost: (reason) => void this.stop(`hub ${me.hubId} lost the lease: ${reason}`, 1),
      failed: (err) => this.logger.warn({ err, hub: me.hubId }, 'the registry did not answer a lease claim (the device stops by itself if it stays so)'),
    });
    this.lease = keeper;
    this.releases.add(() => {
      keeper.stop();
      // A clean stop hands the device on at once instead of when the lease would lapse.
      if (keeper.role === 'active') core.store.releaseLease(me.hubId);
    });
    return keeper.start();
  }

  /** This hub as the others sharing the registry, and the agents, know it. */
  private hubRecord(): HubRecord {
    return { hubId: hubId(this.config), apiUrl: apiOrigin(this.config), endpoint: this.config.endpoint };
  }

  /** What the agent routes tell agents of the hubs sharing the registry. */
  private agentHubView(core: Core): AgentHubView {
    const me = this.hubRecord();
    return new AgentHubView({
      endpoint: me.endpoint,
      apiUrl: me.apiUrl,
      lease: () => ({ active: this.lease?.role === 'active' && this.device !== undefined, holder: this.lease?.holder ?? null }),
      hubApis: () => core.nodes.hubApis(),
      publicKeyOf: (nodeId) => core.nodes.find(nodeId)?.publicKey ?? null,
      lastHandshakeAt: (publicKey) => this.sync?.lastHandshakeAt(publicKey) ?? null,
    });
  }

  /**
   * Asks the hub to stop; the first reason and exit status count. Safe at any moment and any number
   * of times: during start-up the step under way ends first. Resolves with the exit status once
   * everything is released.
   */
  stop(reason: string, code: number): Promise<number> {
    this.requestStop(reason, code);
    if (this.phase === 'new' || this.phase === 'running') void this.shutDown();
    return this.stopped;
  }

  private requestStop(reason: string, code: number): void {
    this.stopRequest ??= { reason, code };
  }

  private async shutDown(): Promise<void> {
    if (this.phase === 'stopping') return;
    this.phase = 'stopping';
    const { reason, code } = this.stopRequest!;
    this.logger.info({ reason, code }, `shutting down: ${reason}`);
    await this.releases.releaseAll();
    await flushLog(this.logger);
    this.finish(code);
  }

  /** Opens the registry. All synchronous. */
  private open(): Core {
    const { config, releases } = this;
    const store = Store.open(config.dataDir, { databaseUrl: config.databaseUrl });
    releases.add(() => store.close());
    store.purgeInstallTokens(); // (also done whenever a token is made)
    const identity = hubIdentity(store);
    if (store.engine === 'postgres') checkSharedSubnet(store, config);
    const token = apiToken(config);
    // Every change reaches the device while this hub runs it, and the dashboards (changes made
    // through the API too).
    const nodes = new NodesService(store, config, identity, (nodeId) => this.sync?.changed(nodeId));
    // With a shared registry the hub holding the lease plans the pairs; this one does once it holds it.
    if (store.engine === 'postgres') nodes.paths.standby();
    return { store, identity, token, nodes, history: new NodeHistory(), startedAt: Date.now() };
  }

  /**
   * Brings up the device with the hub's key and subnet from the registry and puts the registry's
   * nodes on it, reaching out to each at its last endpoint. All synchronous.
   */
  private openDataPlane(core: Core): void {
    const { config, releases } = this;
    const device = this.system.openDevice(config.wgInterface, {
      mtu: config.mtu,
      threads: threadsOption(config.threads),
      onEvent: (e) => this.onDeviceEvent(e),
    });
    this.device = device;
    releases.add(() => device.close()); // the kernel removes the interface with it
    configureDevice(device, `private_key=${keyToHex(core.identity.privateKey)}\nlisten_port=${config.serverPort}\n`);
    this.system.configureLink(config.wgInterface, config.hubAddress, config.internalSubnet.prefix, config.mtu);
    const sync = new DeviceSync({
      device,
      registry: core.store,
      history: core.history,
      published: (changes) => this.dashboard?.live.publish(changes),
      failed: (err, message) => this.logger.error({ err }, message),
      registryChanged: () => core.nodes.paths.registryChanged(),
      ...(this.system.clock ? { clock: this.system.clock } : {}),
    });
    this.sync = sync;
    sync.start();
    releases.add(() => sync.stop()); // before the device and the registry close: it keeps the last figures
    // The pairs of direct paths move on their deadlines and on the agents' reports.
    const nodes = core.nodes;
    const stopPlanning = (this.system.clock ?? systemClock).every(PLAN_INTERVAL_MS, () => {
      try {
        nodes.paths.step();
      } catch (err) {
        this.logger.error({ err }, 'planning direct paths failed');
      }
    });
    releases.add(stopPlanning);
  }

  /** The UAPI socket and the DNS server of the device, each started only if no stop was asked for meanwhile. */
  private async startDataPlaneServers(core: Core): Promise<void> {
    for (const step of [() => this.startUapi(this.device!), () => this.startDns(core.nodes)]) {
      if (this.stopRequest) return;
      await step();
    }
  }

  private onDeviceEvent(e: DeviceEvent): void {
    if (e.type !== 'stopped') this.sync?.deviceActivity(); // its peers' figures are moving: read them
    if (e.type === 'handshake') this.handshakes++;
    else if (e.type === 'stopped') void this.stop(`the data plane stopped: ${e.reason}`, 1);
  }

  /** This hub among those sharing the registry, and which one runs the device (read from the registry). */
  private roleView(core: Core): HubRoleView {
    const { lease, now } = core.store.leaseState();
    const iso = (ms: number) => new Date(ms).toISOString();
    const holder = lease && lease.expiresAt > now ? lease.holder : null;
    return {
      hubId: hubId(this.config),
      role: this.lease?.role ?? 'standby',
      active: lease && holder ? { hubId: holder, since: iso(lease.since), leaseExpiresAt: iso(lease.expiresAt) } : null,
      hubs: core.nodes.recentHubs().map((h) => ({
        hubId: h.hubId,
        apiUrl: h.apiUrl,
        endpoint: h.endpoint,
        state: h.hubId === holder ? 'active' : now - (h.seenAt ?? 0) <= LEASE_MS ? 'standby' : 'away',
        seenAt: iso(h.seenAt ?? 0),
      })),
    };
  }

  /** The API and the dashboard, each started only if no stop was asked for meanwhile. */
  private async startServers(core: Core): Promise<void> {
    const hub: HubInfo = {
      publicKey: core.identity.publicKey,
      startedAt: core.startedAt,
      counters: () => this.device?.counters() ?? null,
      handshakes: () => this.handshakes,
      dnsMessages: () => (this.dns ? { ...this.dns.stats } : null),
      ...(core.store.engine === 'postgres' ? { role: () => this.roleView(core), agentHubs: this.agentHubView(core) } : {}),
    };
    const steps = [() => this.startApi(core, hub), () => this.startDashboard(core, hub)];
    for (const step of steps) {
      if (this.stopRequest) return;
      await step();
    }
  }

  /** `wg show` reads the hub through it; read-only, the registry being the source of truth. */
  private async startUapi(device: NativeDevice): Promise<void> {
    const iface = this.config.wgInterface;
    const dir = this.system.socketDir;
    const uapi = await startUapiServer(iface, device, {
      writable: false,
      onError: (message) => this.logger.warn({ socket: iface }, message),
      ...(dir ? { dir } : {}),
    });
    this.releases.add(() => stopUapiServer(uapi, iface, dir));
  }

  /**
   * With VPN_DNS: names for the nodes on port 53 of the hub's VPN address, read from the registry at
   * every query (a deleted or disabled node is gone from the next answer).
   */
  private async startDns(nodes: NodesService): Promise<void> {
    const c = this.config;
    if (!c.vpnDns) return;
    const enabled = (n: Node | null) => (n?.enabled ? n : null);
    const dns = await DnsServer.start({
      zone: { domain: c.vpnDomain, subnet: c.internalSubnet, hubAddress: c.hubAddressInt },
      data: {
        addressOf: (nodeId) => enabled(nodes.find(nodeId))?.vpnIp ?? null,
        nodeAt: (address) => enabled(nodes.atAddress(address))?.nodeId ?? null,
      },
      host: c.hubAddress,
      port: this.system.dnsPort ?? DNS_PORT,
      logger: this.logger,
    }).catch((err: NodeJS.ErrnoException) => {
      const hint = err.code === 'EACCES' ? ' (a port below 1024 needs root or CAP_NET_BIND_SERVICE)' : '';
      throw new Error(`VPN_DNS: cannot listen on ${c.hubAddress} port ${this.system.dnsPort ?? DNS_PORT}: ${err.message}${hint}`);
    });
    this.dns = dns;
    this.releases.add(() => dns.close());
  }

  private async startApi(core: Core, hub: HubInfo): Promise<void> {
    const api = await buildApi(this.config, core.nodes, hub, core.token, API_SERVER_LIMITS, this.logger);
    this.releases.add(() => {
      core.nodes.paths.close(); // agents' long polls answer now: the close need not wait for them
      return api.close();
    });
    await listen(api, this.config.apiPort, 'API_PORT');
  }

  private async startDashboard(core: Core, hub: HubInfo): Promise<void> {
    const { config, logger } = this;
    const dashboard = await buildDashboard({ config, nodes: core.nodes, hub, history: core.history, apiToken: core.token, logger });
    this.dashboard = dashboard;
    this.releases.add(() => dashboard.app.close());
    await listen(dashboard.app, config.dashboardPort, 'DASHBOARD_PORT');
  }

  private logStarted(publicKey: string, role: Role): void {
    const c = this.config;
    const standby = role === 'standby' ? ' (standby: the device comes up when this hub gets the lease)' : '';
    this.logger.info(
      { publicKey, udpPort: c.serverPort, interface: c.wgInterface, apiPort: c.apiPort, dashboardPort: c.dashboardPort, role },
      `hub ${publicKey} on UDP ${c.serverPort}, ${c.wgInterface} ${c.hubAddress}/${c.internalSubnet.prefix}${standby}; API on :${c.apiPort}, dashboard on :${c.dashboardPort}` +
        (c.vpnDns && role === 'active' ? `; DNS for ${c.vpnDomain} on ${c.hubAddress}:${this.system.dnsPort ?? DNS_PORT}` : ''),
    );
  }
}

/** Listens on every address; a failure names the variable that set the port. */
async function listen(app: FastifyInstance, port: number, variable: string): Promise<void> {
  await app.listen({ port, host: '::' }).catch((err: Error) => {
    throw new Error(`cannot listen on ${variable} ${port}: ${err.message}`);
  });
}
