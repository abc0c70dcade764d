// Migration end to end: two workers run Debian's wireguard-go with the configs of an OLD WireGuard
// server (their own keys, the old hub key, Endpoint hub:41820; one with a preshared key, one
// without). The test writes that server's wg0.conf, runs `wgvm import` on it, starts `wgvm serve`,
// and the workers reach the hub and each other without any change on their side.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeKey, generateKeyPair, generatePresharedKey } from '../../src/domain/keys.js';
import { isRoot, run, stderrOf, waitFor, type Namespace } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { bringUpWorker, httpIn, received, wgvmEntry, useWorld } from '../helpers/tunnel.js';

const skip = skipWithout('wg', 'wg-quick', 'wireguard-go', 'ip', 'ping') || (!isRoot && !inCI);
const TOKEN = 'test-token-123456789';

const httpGet = (ns: Namespace, url: string, headers: Record<string, string> = {}) => httpIn(ns, 'GET', url, undefined, headers);

describe.skipIf(skip)('importing an existing WireGuard server', () => {
  const t = useWorld('wgvm-import-', ['wg', 'wg-quick', 'wireguard-go', 'ip', 'ping']);

  it('workers keep their old configs and reach the hub after `wgvm import` + `wgvm serve`', async () => {
    const nsHub = t.world.namespace('hub');
    const ns1 = t.world.namespace('w1');
    const ns2 = t.world.namespace('w2');
    t.world.link(nsHub, '198.18.7.1/24', ns1, '198.18.7.2/24');
    t.world.link(nsHub, '198.18.8.1/24', ns2, '198.18.8.2/24');

    // The old server's keys and its two workers: worker-01 with a preshared key, worker-02 without.
    const hub = generateKeyPair();
    const w1 = generateKeyPair();
    const w2 = generateKeyPair();
    const psk = encodeKey(generatePresharedKey());
    const serverConf = join(t.dir, 'wg0.conf');
    writeFileSync(
      serverConf,
      `[Interface]
Address = 10.100.0.1/16
ListenPort = 41820
PrivateKey = ${hub.privateKey}

# worker-01
[Peer]
PublicKey = ${w1.publicKey}
PresharedKey = ${psk}
AllowedIPs = 10.100.1.2/32

# worker-02
[Peer]
PublicKey = ${w2.publicKey}
AllowedIPs = 10.100.1.3/32
`,
      { mode: 0o600 },
    );

    // The workers, as the old server left them: wireguard-go with their own wg-quick files.
    const bringUp = async (ns: Namespace, label: string, keys: typeof w1, address: string, endpoint: string, presharedKey: string | null) => {
      const config = [
        '[Interface]',
        `PrivateKey = ${keys.privateKey}`,
        `Address = ${address}/32`,
        '',
        '[Peer]',
        `PublicKey = ${hub.publicKey}`,
        ...(presharedKey ? [`PresharedKey = ${presharedKey}`] : []),
        `Endpoint = ${endpoint}`,
        'AllowedIPs = 10.100.0.0/16',
        'PersistentKeepalive = 25',
        '',
      ].join('\n');
      return { ...(await bringUpWorker(t.world, t.dir, ns, label, config, 'wireguard-go')), config };
    };
    const worker1 = await bringUp(ns1, 'IA', w1, '10.100.1.2', '198.18.7.1:41820', psk);
    const worker2 = await bringUp(ns2, 'IB', w2, '10.100.1.3', '198.18.8.1:41820', null);

    const hubIface = `wgi${t.world.id}`.slice(0, 15);
    const env = {
      SERVERURL: '198.18.7.1',
      SERVERPORT: '41820',
      API_TOKEN: TOKEN,
      WG_INTERFACE: hubIface,
      DATA_DIR: join(t.dir, 'data'),
      API_PORT: '8090',
      DASHBOARD_PORT: '5000',
    };
    const wgvm = (...args: string[]) =>
      spawnSync(process.execPath, [wgvmEntry, ...args], { cwd: t.dir, env: { ...process.env, ...env }, encoding: 'utf8' });

    // The dry run shows the plan and writes nothing; the import takes both workers over.
    const dry = wgvm('import', serverConf, '--dry-run');
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^worker-01\\s+10\\.100\\.1\\.2\\s+${w1.publicKey.slice(0, 8).replace(/[+/]/g, '\\$&')}\\s+worker only\\s+yes`, 'm'));
    expect(dry.stdout).toMatch(/^worker-02\s+10\.100\.1\.3\s+\S{8}\s+worker only\s+none/m);
    const imported = wgvm('import', serverConf);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/Imported 2 node\(s\)/);
    expect(imported.stderr).toBe('');

    const hubProcess = t.world.spawn(nsHub, process.execPath, [wgvmEntry, 'serve'], env);
    await waitFor('the API', () => httpGet(nsHub, 'http://127.0.0.1:8090/health').status === 200, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${stderrOf(hubProcess)}`);
    });
    // The hub answers with the old key: `wg show` on the hub lists it and both workers.
    const show = nsHub.exec('wg', ['show', hubIface, 'dump']).split('\n');
    expect(show[0]!.split('\t').slice(0, 3)).toEqual([hub.privateKey, hub.publicKey, '41820']);
    expect(show.slice(1).map((l) => l.split('\t')[0]).filter(Boolean).sort()).toEqual([w1.publicKey, w2.publicKey].sort());

    // worker-01 (with its preshared key) and worker-02 (without one) reach the hub …
    await waitFor('worker-01 to reach the hub', () => received(ns1, '10.100.0.1', 1) === 1, 15_000);
    expect(received(ns1, '10.100.0.1', 3)).toBe(3);
    await waitFor('worker-02 to reach the hub', () => received(ns2, '10.100.0.1', 1) === 1, 15_000);
    expect(received(ns2, '10.100.0.1', 3)).toBe(3);
    // … and each other through it.
    expect(received(ns1, '10.100.1.3', 3)).toBe(3);
    expect(received(ns2, '10.100.1.2', 3)).toBe(3);

    // Nothing changed on the workers' side.
    expect(readFileSync(worker1.file, 'utf8')).toBe(worker1.config);
    expect(readFileSync(worker2.file, 'utf8')).toBe(worker2.config);
    const dump = ns1.exec('wg', ['show', worker1.iface, 'dump']).split('\n');
    expect(dump[1]!.split('\t').slice(0, 2)).toEqual([hub.publicKey, psk]);

    // The registry shows the imported nodes, online.
    const api = (path: string) => httpGet(nsHub, `http://127.0.0.1:8090${path}`, { 'x-api-key': TOKEN });
    await waitFor('both nodes online', () => {
      const list = api('/api/nodes/list').json?.nodes ?? [];
      return list.length === 2 && list.every((n: { status: string }) => n.status === 'online');
    }, 5000);
    const nodes = api('/api/nodes/list').json.nodes as { node_id: string; vpn_ip: string; public_key: string; server_holds_private_key: boolean }[];
    expect(nodes.map((n) => [n.node_id, n.vpn_ip, n.public_key, n.server_holds_private_key])).toEqual([
      ['worker-01', '10.100.1.2', w1.publicKey, false],
      ['worker-02', '10.100.1.3', w2.publicKey, false],
    ]);
  }, 120_000);
});
