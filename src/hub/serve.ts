// `wgvm serve` (npm start): the hub. Configuration from the environment and .env, the registry in
// SQLite, the userspace device on SERVERPORT, the management API on API_PORT.
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config/index.js';
import { configureLink } from '../dataplane/link.js';
import { openDevice, type NativeDevice } from '../dataplane/device.js';
import { appliedAfter, desiredPeers, reconcileBody, type AppliedPeer } from '../dataplane/reconciler.js';
import { buildApi } from '../http/api.js';
import { buildDashboard, type Dashboard } from '../http/dashboard.js';
import { decodeKey, encodeKey, generatePrivateKey, keyToHex, publicKeyOf } from '../domain/keys.js';
import { NodeHistory } from '../nodes/history.js';
import { NodesService, type HubIdentity } from '../nodes/service.js';
import { Store } from '../store/index.js';
import { HUB_PRIVATE_KEY_SETTING } from '../store/transfer.js';
import { startUapiServer, stopUapiServer } from '../uapi/server.js';
import { StopSignals } from '../runtime/stop-signals.js';
import { createLogger, flushLog } from '../runtime/log.js';
import { SERVER_LIMITS } from '../http/hardening.js';

/** The hub's key pair, made once and kept sealed in the registry. */
function hubIdentity(store: Store): HubIdentity {
  let privateKey = store.getSetting(HUB_PRIVATE_KEY_SETTING);
  if (!privateKey) {
    privateKey = encodeKey(generatePrivateKey());
    store.setSetting(HUB_PRIVATE_KEY_SETTING, privateKey, { sealed: true });
  }
  return { privateKey, publicKey: encodeKey(publicKeyOf(decodeKey(privateKey))) };
}

/** API_TOKEN, or the one kept in DATA_DIR, or a new one (printed once, then kept with mode 0600). */
function apiToken(config: Config): string {
  if (config.apiToken) return config.apiToken;
  const file = join(config.dataDir, 'api_token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  process.stdout.write(`API token (shown once; kept in ${file}): ${token}\n`);
  return token;
}

/**
 * Runs the hub until SIGINT or SIGTERM (exit status 0) or until its data plane fails (1). The signals
 * are caught before anything is opened; one that comes during start-up ends it at the next step, and
 * everything opened so far is closed again.
 */
export async function serve(): Promise<number> {
  const signals = new StopSignals();
  try {
    return await runHub(signals);
  } finally {
    signals.dispose();
  }
}

async function runHub(signals: StopSignals): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(warning);
  const store = Store.open(config.dataDir);
  store.purgeInstallTokens(); // (also done whenever a token is made)
  const hub = hubIdentity(store);
  const token = apiToken(config);

  // Declared up front: a stop can be asked for (a signal, the data plane failing) before start-up finished.
  let poller: NodeJS.Timeout | undefined;
  let uapi: Server | undefined;
  let api: FastifyInstance | undefined;
  let dashboard: Dashboard | undefined;
  let done: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => (done = r));
  let starting = true;
  let stop: { reason: string; code: number } | undefined;
  let closing = false;
  // A stop during start-up waits for the step under way to end (start-up then calls close()).
  function shutdown(reason: string, code: number): void {
    stop ??= { reason, code };
    if (!starting) void close();
  }
  async function close(): Promise<void> {
    if (closing) return;
    closing = true;
    logger.info({ reason: stop!.reason, code: stop!.code }, `shutting down: ${stop!.reason}`);
    clearInterval(poller);
    await api?.close().catch(() => {});
    await dashboard?.app.close().catch(() => {});
    if (uapi) await stopUapiServer(uapi, config.wgInterface).catch(() => {});
    try {
      pollStatus(); // keep the last traffic figures
    } catch {
      // the device may already be gone
    }
    device.close();
    store.close();
    await flushLog(logger);
    done(stop!.code);
  }
  signals.onStop((signal) => shutdown(signal, 0));

  let device: NativeDevice;
  let handshakes = 0;
  try {
    device = openDevice(config.wgInterface, {
      mtu: config.mtu,
      onEvent: (e) => {
        if (e.type === 'handshake') handshakes++;
        else if (e.type === 'stopped') shutdown(`the data plane stopped: ${e.reason}`, 1);
      },
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const setDevice = (body: string) => {
    const r = device.set(body);
    if (r.errno !== 0) throw new Error(`the device refused its configuration: ${r.message}`);
  };
  try {
    setDevice(`private_key=${keyToHex(hub.privateKey)}\nlisten_port=${config.serverPort}\n`);
    configureLink(config.wgInterface, config.hubAddress, config.internalSubnet.prefix, config.mtu);
  } catch (err) {
    device.close();
    store.close();
    throw err;
  }

  // The registry → the device, changing only what differs.
  let applied = new Map<string, AppliedPeer>();
  const reconcile = (withEndpoints: boolean) => {
    const desired = desiredPeers(store.listNodes(), applied, (id) => store.getSecrets(id)!.presharedKey);
    const body = reconcileBody(applied, desired, withEndpoints);
    if (body) setDevice(body);
    applied = appliedAfter(desired);
    return desired;
  };
  // Every change reaches the device, and the dashboards at once (changes made through the API too).
  const nodes = new NodesService(store, config, hub, () => {
    reconcile(false);
    dashboard?.live.publish();
  });
  const history = new NodeHistory();

  // After a restart, reach out to every worker at its last known endpoint instead of waiting for it.
  for (const d of reconcile(true)) if (d.endpoint) device.initiateHandshake(decodeKey(d.publicKey));

  // The device's view of each peer, stored every second.
  const byKey = new Map<string, string>();
  const pollStatus = () => {
    byKey.clear();
    for (const n of store.listNodes()) byKey.set(n.publicKey, n.nodeId);
    const rows = device.peers().flatMap((p) => {
      const nodeId = byKey.get(p.publicKey.toString('base64'));
      if (!nodeId) return [];
      const ns = p.lastHandshakeNs;
      return [{
        nodeId,
        lastHandshakeAt: ns > 0n ? new Date(Number(ns / 1_000_000n)).toISOString() : null,
        rxBytes: Number(p.rxBytes),
        txBytes: Number(p.txBytes),
        endpoint: p.endpoint,
        answeredFrom: p.localAddress,
      }];
    });
    store.updateStatus(rows);
    history.record(store.listNodes());
    dashboard?.live.publish();
  };
  poller = setInterval(() => {
    try {
      pollStatus();
    } catch (err) {
      logger.error({ err }, 'status update failed');
    }
  }, 1000);

  const hubInfo = { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => device.counters(), handshakes: () => handshakes };
  const steps: Array<() => Promise<unknown>> = [
    async () => (uapi = await startUapiServer(config.wgInterface, device, { writable: false, onError: (m) => logger.warn({ socket: config.wgInterface }, m) })),
    async () => {
      api = await buildApi(config, nodes, hubInfo, token, SERVER_LIMITS, logger);
      await api.listen({ port: config.apiPort, host: '::' }).catch((err: Error) => {
        throw new Error(`cannot listen on API_PORT ${config.apiPort}: ${err.message}`);
      });
    },
    async () => {
      dashboard = await buildDashboard({ config, nodes, hub: hubInfo, history, apiToken: token, logger });
      await dashboard.app.listen({ port: config.dashboardPort, host: '::' }).catch((err: Error) => {
        throw new Error(`cannot listen on DASHBOARD_PORT ${config.dashboardPort}: ${err.message}`);
      });
    },
  ];
  try {
    for (const step of steps) {
      if (stop) break;
      await step();
    }
  } catch (err) {
    shutdown(err instanceof Error ? err.message : String(err), 1);
    starting = false;
    await close();
    throw err;
  }
  starting = false;
  if (stop) await close();
  else {
    logger.info(
      { publicKey: hub.publicKey, udpPort: config.serverPort, interface: config.wgInterface, apiPort: config.apiPort, dashboardPort: config.dashboardPort },
      `hub ${hub.publicKey} on UDP ${config.serverPort}, ${config.wgInterface} ${config.hubAddress}/${config.internalSubnet.prefix}; API on :${config.apiPort}, dashboard on :${config.dashboardPort}`,
    );
  }
  return finished;
}
