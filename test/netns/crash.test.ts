// Crash safety: a real `wgvm serve` (in a namespace: it opens a TUN device) is killed with SIGKILL
// while 500 registrations are in flight. After a restart every registration that was answered 201
// is there with the address and key it was given, no address is held twice, SQLite's integrity
// check passes, every node came with its install link (the two commit together), and the device's
// peers — read back through the UAPI socket with `wg show dump` — are exactly the enabled nodes
// with their preshared keys and addresses.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { isRoot, stderrOf, waitFor, type Namespace } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { httpIn, useWorld, wgvmEntry } from '../helpers/tunnel.js';
import { DATABASE_FILE, Store } from '../../src/store/index.js';

const skip = skipWithout('wg', 'ip') || (!isRoot && !inCI);
const TOKEN = 'crash-token-123456789';
const REGISTRATIONS = 500;
const KILL_AFTER = 150; // 201s seen before the SIGKILL: well inside the burst

interface Outcome {
  node_id: string;
  status: number;
  vpn_ip?: string;
  public_key?: string;
}

// Runs inside the namespace: fires every registration at once, prints each outcome as it arrives.
const LOAD = `
const [url, token, count] = process.argv.slice(1);
const one = async (i) => {
  const node_id = 'crash-' + String(i).padStart(4, '0');
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': token }, body: JSON.stringify({ node_id }) });
    const j = await r.json().catch(() => ({}));
    console.log(JSON.stringify({ node_id, status: r.status, vpn_ip: j.node?.vpn_ip, public_key: j.node?.public_key }));
  } catch {
    console.log(JSON.stringify({ node_id, status: 0 }));
  }
};
Promise.all(Array.from({ length: Number(count) }, (_, i) => one(i))).then(() => process.exit(0));
`;

interface DevicePeer {
  publicKey: string;
  presharedKey: string;
  allowedIps: string;
}

/** The device's peers as `wg show <iface> dump` reads them from the UAPI socket. */
function devicePeers(ns: Namespace, iface: string): DevicePeer[] {
  const lines = ns.exec('wg', ['show', iface, 'dump']).trim().split('\n');
  return lines.slice(1).map((l) => {
    const [publicKey, presharedKey, , allowedIps] = l.split('\t');
    return { publicKey: publicKey!, presharedKey: presharedKey!, allowedIps: allowedIps! };
  });
}

describe.skipIf(skip)('the hub killed with SIGKILL in the middle of 500 registrations', () => {
  const t = useWorld('wgvm-ab-crash-', ['wg', 'ip']);

  it('keeps every acknowledged registration, no address twice, an intact database and a device that matches it', async () => {
    const ns = t.world.namespace('ab-crash');
    const iface = `wgab${t.world.id}`.slice(0, 15);
    const dataDir = join(t.dir, 'data');
    const env = {
      SERVERURL: '198.18.7.1',
      SERVERPORT: '41820',
      API_TOKEN: TOKEN,
      WG_INTERFACE: iface,
      DATA_DIR: dataDir,
      API_PORT: '8090',
      WORKER_IP_RANGE: '10.100.1.2-10.100.4.254',
    };
    const api = (method: string, path: string, body?: unknown) => httpIn(ns, method, `http://127.0.0.1:8090${path}`, body, { 'x-api-key': TOKEN });
    const startHub = async () => {
      const hub = t.world.spawn(ns, process.execPath, [wgvmEntry, 'serve'], env);
      await waitFor('the API', () => {
        if (hub.exitCode !== null) throw new Error(`the hub exited: ${stderrOf(hub)}`);
        return httpIn(ns, 'GET', 'http://127.0.0.1:8090/health').status === 200;
      }, 15_000);
      return hub;
    };

    const hub = await startHub();
    // A node that is already there, disabled: it must stay out of the device after the restart.
    expect(api('POST', '/api/nodes/register', { node_id: 'before' }).status).toBe(201);
    expect(api('POST', '/api/nodes/before/disable').status).toBe(200);

    // The burst, and the kill once KILL_AFTER registrations have been acknowledged.
    const load: ChildProcess = t.world.spawn(ns, process.execPath, ['-e', LOAD, 'http://127.0.0.1:8090/api/nodes/register', TOKEN, String(REGISTRATIONS)]);
    const outcomes: Outcome[] = [];
    let killedAt = -1;
    const hubGone = new Promise((r) => hub.once('exit', r));
    const loadDone = new Promise((r) => load.once('exit', r));
    createInterface({ input: load.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as Outcome;
      outcomes.push(o);
      if (o.status === 201 && killedAt < 0 && outcomes.filter((x) => x.status === 201).length >= KILL_AFTER) {
        killedAt = outcomes.length;
        hub.kill('SIGKILL');
      }
    });
    await loadDone;
    await hubGone;
    expect(hub.signalCode).toBe("SIGKILL");
    expect(outcomes).toHaveLength(REGISTRATIONS);
    const acknowledged = outcomes.filter((o) => o.status === 201);
    const cutOff = outcomes.filter((o) => o.status === 0).length;
    // The kill did land in the middle: some were answered, some were cut off.
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(cutOff).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.status !== 201 && o.status !== 0)).toEqual([]);

    // The file as the killed process left it: intact.
    const db = new Database(join(dataDir, DATABASE_FILE));
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }

    await startHub();
    const listed = api('GET', '/api/nodes/list').json.nodes as { node_id: string; vpn_ip: string; public_key: string; enabled: boolean }[];
    const byId = new Map(listed.map((n) => [n.node_id, n]));
    // Every 201 is there, with the address and key it was given.
    const missing = acknowledged.filter((o) => byId.get(o.node_id)?.vpn_ip !== o.vpn_ip || byId.get(o.node_id)?.public_key !== o.public_key);
    expect(missing).toEqual([]);
    // No address twice; no key twice.
    expect(new Set(listed.map((n) => n.vpn_ip)).size).toBe(listed.length);
    expect(new Set(listed.map((n) => n.public_key)).size).toBe(listed.length);
    // Nothing beyond what was asked for; some cut-off requests may have committed before the kill.
    expect(listed.length).toBeGreaterThanOrEqual(acknowledged.length + 1);
    expect(listed.length).toBeLessThanOrEqual(REGISTRATIONS + 1);

    const ro = new Database(join(dataDir, DATABASE_FILE), { readonly: true });
    try {
      // A node and its install link commit together.
      expect(ro.prepare('SELECT node_id FROM nodes WHERE node_id NOT IN (SELECT node_id FROM install_tokens)').pluck().all()).toEqual([]);
      // Every node's registration is in the audit log.
      expect(ro.prepare("SELECT node_id FROM nodes WHERE node_id NOT IN (SELECT node_id FROM audit_log WHERE action = 'node.register')").pluck().all()).toEqual([]);
    } finally {
      ro.close();
    }

    // The device after the restart: exactly the enabled nodes, with their keys and addresses.
    const store = Store.open(dataDir);
    try {
      const expected = store
        .listNodes()
        .filter((n) => n.enabled)
        .map((n) => ({ publicKey: n.publicKey, presharedKey: store.getSecrets(n.nodeId)!.presharedKey, allowedIps: `${n.vpnIp}/32` }))
        .sort((a, b) => a.publicKey.localeCompare(b.publicKey));
      expect(expected).toHaveLength(listed.length - 1);
      await waitFor('the device to hold every node', () => devicePeers(ns, iface).length === expected.length, 5000);
      const actual = devicePeers(ns, iface).sort((a, b) => a.publicKey.localeCompare(b.publicKey));
      expect(actual).toEqual(expected);
    } finally {
      store.close();
    }

    // And the registry goes on: new registrations take free addresses and reach the device.
    const more = Array.from({ length: 3 }, (_, i) => api('POST', '/api/nodes/register', { node_id: `after-${i}` }));
    expect(more.map((r) => r.status)).toEqual([201, 201, 201]);
    const all = api('GET', '/api/nodes/list').json.nodes as { vpn_ip: string }[];
    expect(new Set(all.map((n) => n.vpn_ip)).size).toBe(all.length);
    expect(devicePeers(ns, iface)).toHaveLength(listed.length - 1 + 3);
  }, 120_000);
});
