// `wgvm import`, `wgvm export` and `wgvm restore` on files written here and real SQLite registries
// in temporary directories: a wg0.conf with 50 peers, every kind of conflict (and nothing written),
// a linuxserver/wireguard folder, and export → restore round trips with and without secrets.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ipToInt, parseRange } from '../../src/domain/ipam.js';
import { decodeKey, encodeKey, generateKeyPair, generatePresharedKey, publicKeyOf, type KeyPair } from '../../src/domain/keys.js';
import { runExport, runImport, runRestore, CommandError, type CommandIo } from '../../src/migrate/index.js';
import { nameFromComment, toNodeId } from '../../src/migrate/source.js';
import { HUB_PRIVATE_KEY_SETTING, NO_PRESHARED_KEY, Store } from '../../src/store/index.js';
import { samplePeers, serverConf, type SamplePeer } from '../helpers/wgquick-samples.js';

const wgvm = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));
const KEY_SHAPED = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g;

let root: string;
let dataDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'wgvm-migrate-'));
  dataDir = join(root, 'data');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command in-process with only the given variables (no .env: cwd is the empty test dir). */
function runCommand(command: typeof runImport, args: string[], env: Record<string, string> = {}): Run {
  let stdout = '';
  let stderr = '';
  const io: CommandIo = {
    env: { DATA_DIR: dataDir, ...env },
    cwd: root,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: () => '',
  };
  const code = command(args, io);
  return { code, stdout, stderr };
}

function withStore<T>(fn: (store: Store) => T, dir = dataDir): T {
  const store = Store.open(dir);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** Rows in every table a command could write (install tokens counted through the nodes' cascade). */
function rowCounts(dir = dataDir) {
  return withStore((s) => ({ nodes: s.listNodes().length, audit: s.listAudit(1e6).length, hubKey: s.getSetting(HUB_PRIVATE_KEY_SETTING) }), dir);
}

/** The node IDs import gives: the comment's, else peer-1, peer-2, … in file order. */
function expectedIds(peers: readonly SamplePeer[]): string[] {
  let n = 0;
  return peers.map((p) => (p.comment !== null ? toNodeId(p.comment)! : `peer-${++n}`));
}

describe('node IDs from names', () => {
  it('lower-cases, replaces characters outside [a-z0-9-] and trims to the node ID pattern', () => {
    expect(toNodeId('GPU_01')).toBe('gpu-01');
    expect(toNodeId('laptop')).toBe('laptop');
    expect(toNodeId('Worker Box #5')).toBe('worker-box--5');
    expect(toNodeId('__x__')).toBe('x');
    expect(toNodeId('노트북')).toBeNull();
    expect(toNodeId('a'.repeat(80))).toBe('a'.repeat(63));
  });
  it('reads the usual comment styles', () => {
    expect(nameFromComment('laptop')).toBe('laptop');
    expect(nameFromComment('peer_laptop')).toBe('laptop');
    expect(nameFromComment('Name = gpu-01')).toBe('gpu-01');
    expect(nameFromComment('friendly_name: phone')).toBe('phone');
    expect(nameFromComment('## begin laptop ###')).toBe('laptop');
  });
});

describe('wgvm import of a wg0.conf', () => {
  it('imports 50 peers with their addresses, keys and preshared keys, and the hub key', () => {
    const { hub, peers } = samplePeers(50);
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, peers));
    const r = runCommand(runImport, ['wg0.conf']);
    expect(r.stderr).not.toMatch(/wgvm import: (?!warning)/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Imported 50 node\(s\)/);
    expect(r.stderr).toMatch(/warning: wg0\.conf has PostUp commands/);

    const ids = expectedIds(peers);
    withStore((store) => {
      const nodes = store.listNodes();
      expect(nodes).toHaveLength(50);
      peers.forEach((p, i) => {
        const node = store.getNode(ids[i]!)!;
        expect(node, ids[i]).not.toBeNull();
        expect(node.vpnIp).toBe(p.address);
        expect(node.publicKey).toBe(p.keys.publicKey);
        expect(node.hasPrivateKey).toBe(false);
        expect(node.enabled).toBe(true);
        expect(node.description).toBe(p.comment ?? `imported from wg0.conf (peer ${i + 1})`);
        const secrets = store.getSecrets(ids[i]!)!;
        expect(secrets.privateKey).toBeNull();
        expect(secrets.presharedKey).toBe(p.psk ?? NO_PRESHARED_KEY);
      });
      expect(store.getSetting(HUB_PRIVATE_KEY_SETTING)).toBe(hub.privateKey);
      const actions = store.listAudit(1000).map((a) => a.action);
      expect(actions.filter((a) => a === 'node.import')).toHaveLength(50);
      expect(actions).toContain('registry.import');
      // The audit log never holds a key.
      for (const a of store.listAudit(1000)) expect(a.detail).not.toMatch(KEY_SHAPED);
    });
  });

  it('treats "no PresharedKey" as the all-zero key, which WireGuard uses when none is set', () => {
    expect(NO_PRESHARED_KEY).toBe(encodeKey(new Uint8Array(32)));
    expect(decodeKey(NO_PRESHARED_KEY).every((b) => b === 0)).toBe(true);
  });

  it('--dry-run prints the plan and writes nothing, not even a registry', () => {
    const { hub, peers } = samplePeers(50);
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, peers));
    const r = runCommand(runImport, ['wg0.conf', '--dry-run']);
    expect(r.code).toBe(0);
    expect(existsSync(dataDir)).toBe(false);
    const ids = expectedIds(peers);
    const rows = r.stdout.split('\n');
    peers.forEach((p, i) => {
      const row = rows.find((l) => l.startsWith(`${ids[i]} `))!;
      expect(row, ids[i]).toBeDefined();
      expect(row.split(/\s{2,}/)).toEqual([ids[i], p.address, p.keys.publicKey.slice(0, 8), 'worker only', p.psk ? 'yes' : 'none', p.comment ? 'comment' : 'generated']);
    });
    expect(r.stdout).toMatch(/50 node\(s\) would be imported .*nothing was written/);

    // Against an existing registry: no row changes either.
    withStore((s) =>
      s.registerNode({
        nodeId: 'existing', description: '', centralServerUrl: null, publicKey: generateKeyPair().publicKey, privateKey: null,
        presharedKey: encodeKey(generatePresharedKey()), range: parseRange('10.100.1.200-10.100.1.254'), exclude: new Set(),
      }),
    );
    const before = rowCounts();
    expect(runCommand(runImport, ['wg0.conf', '--dry-run']).code).toBe(0);
    expect(rowCounts()).toEqual(before);
    expect(before.nodes).toBe(1);
    expect(before.hubKey).toBeNull();
  });

  it('reports every conflict, one line each naming the peer, and imports nothing', () => {
    const taken = generateKeyPair();
    withStore((s) =>
      s.registerNode({
        nodeId: 'taken-id', description: '', centralServerUrl: null, publicKey: taken.publicKey, privateKey: null,
        presharedKey: encodeKey(generatePresharedKey()), range: parseRange('10.100.1.2-10.100.1.2'), exclude: new Set(),
      }),
    );
    const before = rowCounts();
    const hub = generateKeyPair();
    const dupKey = generateKeyPair();
    const peer = (name: string, allowed: string, key = generateKeyPair().publicKey) => `# ${name}\n[Peer]\nPublicKey = ${key}\nAllowedIPs = ${allowed}\n`;
    const conf = [
      `[Interface]\nPrivateKey = ${hub.privateKey}\nListenPort = 41820\n`,
      peer('good-one', '10.100.1.10/32'),
      peer('outside', '10.100.2.5/32'),
      peer('addr-taken', '10.100.1.2/32'),
      peer('key-taken', '10.100.1.11/32', taken.publicKey),
      peer('taken-id', '10.100.1.12/32'),
      peer('dup-addr-a', '10.100.1.20/32'),
      peer('dup-addr-b', '10.100.1.20/32'),
      peer('dup-key-a', '10.100.1.21/32', dupKey.publicKey),
      peer('dup-key-b', '10.100.1.22/32', dupKey.publicKey),
      peer('same-name', '10.100.1.23/32'),
      peer('same-name', '10.100.1.24/32'),
      peer('two-hosts', '10.100.1.30/32, 10.100.1.31/32'),
      peer('no-host', '10.100.0.0/16'),
      peer('bad-key', '10.100.1.40/32', 'not-a-key'),
      peer('good-two', '10.100.1.50/32'),
    ].join('\n');
    writeFileSync(join(root, 'wg0.conf'), conf);
    const r = runCommand(runImport, ['wg0.conf']);
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('wgvm import: ') && !l.startsWith('wgvm import: warning'));
    const expectLine = (name: string, problem: RegExp) => {
      const hit = lines.filter((l) => l.includes(`peer "${name}"`) && problem.test(l));
      expect(hit, `${name}: ${problem}\n${lines.join('\n')}`).not.toHaveLength(0);
    };
    expectLine('outside', /address 10\.100\.2\.5 is outside the worker address range/);
    expectLine('addr-taken', /address 10\.100\.1\.2 is already used by node taken-id/);
    expectLine('key-taken', /public key .{8}… is already registered as node taken-id/);
    expectLine('taken-id', /node ID taken-id is already registered/);
    expectLine('dup-addr-b', /address 10\.100\.1\.20 is also given to dup-addr-a/);
    expectLine('dup-key-b', /public key .{8}… also belongs to dup-key-a/);
    expectLine('same-name', /node ID same-name is given to two peers/);
    expectLine('two-hosts', /has 2 IPv4 \/32s in AllowedIPs/);
    expectLine('no-host', /has no IPv4 \/32 in AllowedIPs/);
    expectLine('bad-key', /PublicKey is not 32 bytes/);
    expect(lines.some((l) => l.includes('good-one') || l.includes('good-two'))).toBe(false);
    expect(r.stderr).toMatch(/hint: 1 address\(es\) lie outside WORKER_IP_RANGE/);
    expect(r.stderr).toMatch(/wgvm import: 10 conflict\(s\): nothing was imported/);
    expect(rowCounts()).toEqual(before);

    // A dry run reports the same and exits 1 too.
    const dry = runCommand(runImport, ['wg0.conf', '--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/10 conflict\(s\): the import would be refused/);
    expect(rowCounts()).toEqual(before);
  });

  it('one bad peer among 50 stops all of them', () => {
    const { hub, peers } = samplePeers(50);
    peers[49]!.address = '10.100.9.9';
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, peers));
    const r = runCommand(runImport, ['wg0.conf']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/peer 50 \(wg0\.conf line \d+\): address 10\.100\.9\.9 is outside/);
    expect(existsSync(join(dataDir, 'wgvm.db'))).toBe(true);
    expect(rowCounts()).toEqual({ nodes: 0, audit: 0, hubKey: null });
  });

  it('refuses a different hub key unless --replace-hub-key', () => {
    const first = samplePeers(2);
    writeFileSync(join(root, 'a.conf'), serverConf(first.hub, first.peers));
    expect(runCommand(runImport, ['a.conf']).code).toBe(0);
    const second = samplePeers(2);
    second.peers.forEach((p, i) => {
      p.address = `10.100.1.${100 + i}`;
      p.comment = `second-${i}`;
    });
    writeFileSync(join(root, 'b.conf'), serverConf(second.hub, second.peers));
    const before = rowCounts();
    const r = runCommand(runImport, ['b.conf']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wgvm import: hub key: the registry already has a different hub key \(public key .{8}…, which its 2 registered node\(s\) use\)/);
    expect(r.stderr).toMatch(/--replace-hub-key/);
    expect(rowCounts()).toEqual(before);

    const again = runCommand(runImport, ['b.conf', '--replace-hub-key']);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/warning: the hub key .{8}… was replaced: the 2 node\(s\) registered before need new configs/);
    expect(rowCounts().hubKey).toBe(second.hub.privateKey);
    expect(rowCounts().nodes).toBe(4);
  });

  it('warns when ListenPort differs from SERVERPORT and the old hub address from INTERNAL_SUBNET', () => {
    const { hub, peers } = samplePeers(1);
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, peers, 51820).replace('Address = 10.100.0.1/16', 'Address = 10.13.13.1/24'));
    const r = runCommand(runImport, ['wg0.conf', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wgvm import: warning: wg0\.conf ListenPort is 51820 but SERVERPORT is 41820: .*set SERVERPORT=51820/);
    expect(r.stderr).toMatch(/warning: the old hub address 10\.13\.13\.1 .* set INTERNAL_SUBNET=10\.13\.13\.0\/24 to keep it/);
    expect(runCommand(runImport, ['wg0.conf', '--dry-run'], { SERVERPORT: '51820' }).stderr).not.toMatch(/ListenPort/);
  });

  it('reports unreadable input and bad variables as errors', () => {
    expect(() => runCommand(runImport, ['missing.conf'])).toThrow(/cannot read .*missing\.conf \(no such file or folder\)/);
    expect(() => runCommand(runImport, [])).toThrow(CommandError);
    writeFileSync(join(root, 'x.conf'), '[Interface]\n');
    expect(() => runCommand(runImport, ['x.conf'], { WORKER_IP_RANGE: 'nonsense' })).toThrow(/^WORKER_IP_RANGE:/);
    const r = runCommand(runImport, ['x.conf']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[Interface\] has no PrivateKey/);
  });
});

describe('wgvm import of a linuxserver/wireguard folder', () => {
  it('takes node IDs from the peer folders and private keys from their configs', () => {
    const hub = generateKeyPair();
    const laptop = generateKeyPair();
    const gpu = generateKeyPair();
    const stray = generateKeyPair(); // a server peer with no folder
    const psk = { laptop: encodeKey(generatePresharedKey()), gpu: encodeKey(generatePresharedKey()) };
    const dir = join(root, 'config');
    mkdirSync(join(dir, 'wg_confs'), { recursive: true });
    // As linuxserver/wireguard writes it: the peer's name as a comment under [Peer].
    writeFileSync(
      join(dir, 'wg_confs', 'wg0.conf'),
      `[Interface]
Address = 10.13.13.1
ListenPort = 51820
PrivateKey = ${hub.privateKey}
PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth+ -j MASQUERADE
PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth+ -j MASQUERADE

[Peer]
# peer_laptop
PublicKey = ${laptop.publicKey}
PresharedKey = ${psk.laptop}
AllowedIPs = 10.13.13.2/32

[Peer]
# peer_GPU_01
PublicKey = ${gpu.publicKey}
PresharedKey = ${psk.gpu}
AllowedIPs = 10.13.13.3/32

[Peer]
PublicKey = ${stray.publicKey}
AllowedIPs = 10.13.13.4/32
`,
    );
    const peerConf = (keys: KeyPair, address: string, key: string) => `[Interface]
Address = ${address}
PrivateKey = ${keys.privateKey}
ListenPort = 51820
DNS = 10.13.13.1

[Peer]
PublicKey = ${hub.publicKey}
PresharedKey = ${key}
Endpoint = vpn.example.com:51820
AllowedIPs = 0.0.0.0/0, ::/0
`;
    for (const [folder, keys, address, key] of [
      ['peer_laptop', laptop, '10.13.13.2', psk.laptop],
      ['peer_GPU_01', gpu, '10.13.13.3', psk.gpu],
    ] as const) {
      mkdirSync(join(dir, folder));
      writeFileSync(join(dir, folder, `${folder}.conf`), peerConf(keys, address, key));
      writeFileSync(join(dir, folder, `privatekey-${folder}`), `${keys.privateKey}\n`);
    }
    mkdirSync(join(dir, 'coredns'));

    const env = { INTERNAL_SUBNET: '10.13.13.0/24', SERVERPORT: '51820' };
    const dry = runCommand(runImport, ['config', '--dry-run'], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/linuxserver\/wireguard folder/);
    expect(dry.stdout).toMatch(/^laptop\s+10\.13\.13\.2\s+\S{8}\s+known\s+yes\s+folder$/m);
    expect(dry.stdout).toMatch(/^gpu-01\s+10\.13\.13\.3\s+\S{8}\s+known\s+yes\s+folder$/m);
    expect(dry.stdout).toMatch(/^peer-1\s+10\.13\.13\.4\s+\S{8}\s+worker only\s+none\s+generated$/m);
    expect(dry.stderr).toMatch(/route everything .*0\.0\.0\.0\/0/);
    expect(dry.stderr).toMatch(/use the old hub address as DNS server/);
    expect(existsSync(dataDir)).toBe(false);

    const r = runCommand(runImport, ['config'], env);
    expect(r.code, r.stderr).toBe(0);
    withStore((store) => {
      expect(store.listNodes().map((n) => [n.nodeId, n.vpnIp, n.hasPrivateKey])).toEqual([
        ['laptop', '10.13.13.2', true],
        ['gpu-01', '10.13.13.3', true],
        ['peer-1', '10.13.13.4', false],
      ]);
      expect(store.getSecrets('laptop')).toEqual({ privateKey: laptop.privateKey, presharedKey: psk.laptop });
      expect(store.getSecrets('gpu-01')).toEqual({ privateKey: gpu.privateKey, presharedKey: psk.gpu });
      expect(store.getSecrets('peer-1')).toEqual({ privateKey: null, presharedKey: NO_PRESHARED_KEY });
      expect(store.getNode('gpu-01')!.publicKey).toBe(gpu.publicKey);
      expect(store.getSetting(HUB_PRIVATE_KEY_SETTING)).toBe(hub.privateKey);
    });
  });

  it('reports a peer config whose Address differs from the server AllowedIPs', () => {
    const hub = generateKeyPair();
    const laptop = generateKeyPair();
    const dir = join(root, 'config');
    mkdirSync(join(dir, 'peer_laptop'), { recursive: true });
    writeFileSync(join(dir, 'wg0.conf'), `[Interface]\nPrivateKey = ${hub.privateKey}\n[Peer]\nPublicKey = ${laptop.publicKey}\nAllowedIPs = 10.100.1.2/32\n`);
    writeFileSync(join(dir, 'peer_laptop', 'peer_laptop.conf'), `[Interface]\nPrivateKey = ${laptop.privateKey}\nAddress = 10.100.1.9\n`);
    const r = runCommand(runImport, ['config']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/peer "laptop" \(peer_laptop\/, wg0\.conf line 3\): AllowedIPs 10\.100\.1\.2\/32 in wg0\.conf differs from Address 10\.100\.1\.9/);
  });
});

describe('wgvm export and restore', () => {
  /** A registry with imported nodes, hub-generated ones, a disabled one, status, a token and an audit trail. */
  function populate(): { hub: KeyPair; token: string } {
    const { hub, peers } = samplePeers(20);
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, peers));
    expect(runCommand(runImport, ['wg0.conf']).code).toBe(0);
    const token = withStore((s) => {
      const range = parseRange('10.100.1.2-10.100.1.254');
      for (const id of ['gpu-a', 'gpu-b']) {
        const priv = generateKeyPair();
        s.registerNode({ nodeId: id, description: `GPU ${id}`, centralServerUrl: 'http://192.168.0.88:8000', publicKey: priv.publicKey, privateKey: priv.privateKey, presharedKey: encodeKey(generatePresharedKey()), range, exclude: new Set([ipToInt('10.100.0.1')]) }, 'admin');
      }
      s.setEnabled('gpu-b', false, 'admin');
      s.updateStatus([{ nodeId: 'gpu-a', lastHandshakeAt: '2024-05-01T10:00:00.000Z', rxBytes: 1234, txBytes: 5678, endpoint: '203.0.113.7:51820' }]);
      return s.createInstallToken('gpu-a', { ttlSeconds: 3600, uses: 2 }).token;
    });
    return { hub, token };
  }

  it('with --include-secrets, restoring into a fresh DATA_DIR gives an identical registry', () => {
    const { hub, token } = populate();
    const r = runCommand(runExport, ['--include-secrets', '-o', 'backup.json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wgvm export: warning: .*backup\.json holds every private key, preshared key and the hub private key in clear text/);
    const file = join(root, 'backup.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(token);

    const fresh = join(root, 'fresh');
    const restore = runCommand(runRestore, ['backup.json'], { DATA_DIR: fresh });
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(/Restored 22 node\(s\), 1 setting\(s\)/);
    expect(restore.stderr).toBe('');

    const original = withStore((s) => ({
      nodes: s.listNodes(),
      secrets: s.listNodes().map((n) => s.getSecrets(n.nodeId)),
      hub: s.getSetting(HUB_PRIVATE_KEY_SETTING),
      audit: s.listAudit(1e6).reverse().map(({ id: _, ...a }) => a),
    }));
    withStore((s) => {
      expect(s.listNodes()).toEqual(original.nodes);
      expect(s.listNodes().map((n) => s.getSecrets(n.nodeId))).toEqual(original.secrets);
      expect(s.getSetting(HUB_PRIVATE_KEY_SETTING)).toBe(hub.privateKey);
      expect(s.getSetting(HUB_PRIVATE_KEY_SETTING)).toBe(original.hub);
      const audit = s.listAudit(1e6).reverse().map(({ id: _, ...a }) => a);
      expect(audit.slice(0, original.audit.length)).toEqual(original.audit);
      expect(audit[audit.length - 1]!.action).toBe('registry.restore');
      // Install tokens are not part of a backup.
      expect(s.checkInstallToken(token)).toEqual({ error: 'unknown' });
      expect(s.getNode('gpu-b')!.enabled).toBe(false);
      expect(s.getNode('gpu-a')!.endpoint).toBe('203.0.113.7:51820');
    }, fresh);
    // The restored registry has its own sealing key, not a copy.
    expect(readFileSync(join(fresh, 'secret.key')).equals(readFileSync(join(dataDir, 'secret.key')))).toBe(false);
  });

  it('without --include-secrets, the file holds no key but public keys and a restore has no private keys', () => {
    const { hub } = populate();
    const r = runCommand(runExport, ['-o', 'public.json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no secrets included: a restore from this backup gives nodes without private keys/);
    const text = readFileSync(join(root, 'public.json'), 'utf8');
    const backup = JSON.parse(text);
    expect(backup.includes_secrets).toBe(false);
    const publicKeys = withStore((s) => new Set([...s.listNodes().map((n) => n.publicKey), encodeKey(publicKeyOf(decodeKey(hub.privateKey)))]));
    const found = text.match(KEY_SHAPED) ?? [];
    expect(found.length).toBeGreaterThanOrEqual(22);
    for (const k of found) expect(publicKeys.has(k), k).toBe(true);
    withStore((s) => {
      for (const n of s.listNodes()) {
        const secrets = s.getSecrets(n.nodeId)!;
        if (secrets.privateKey) expect(text).not.toContain(secrets.privateKey);
        if (secrets.presharedKey !== NO_PRESHARED_KEY) expect(text).not.toContain(secrets.presharedKey);
      }
    });
    expect(text).not.toContain(hub.privateKey);
    expect(backup.settings).toEqual([]);

    const fresh = join(root, 'fresh');
    const restore = runCommand(runRestore, ['public.json'], { DATA_DIR: fresh });
    expect(restore.code).toBe(0);
    expect(restore.stderr).toMatch(/warning: the backup holds no secrets: the 22 node\(s\) were restored without private keys \(2 had one\).*registered again/);
    withStore((s) => {
      const nodes = s.listNodes();
      expect(nodes).toHaveLength(22);
      expect(nodes.every((n) => !n.hasPrivateKey)).toBe(true);
      expect(nodes.map((n) => [n.nodeId, n.vpnIp, n.publicKey])).toEqual(backup.nodes.map((n: any) => [n.node_id, n.vpn_ip, n.public_key]));
      expect(s.getSetting(HUB_PRIVATE_KEY_SETTING)).toBeNull();
    }, fresh);
  });

  it('export writes JSON to standard output by default', () => {
    populate();
    const r = runCommand(runExport, []);
    expect(JSON.parse(r.stdout).nodes).toHaveLength(22);
  });

  it('restore refuses a registry that has nodes, and writes nothing', () => {
    populate();
    expect(runCommand(runExport, ['--include-secrets', '-o', 'b.json']).code).toBe(0);
    const before = rowCounts();
    expect(() => runCommand(runRestore, ['b.json'])).toThrow(/restore: the registry already has 22 node\(s\): restore only into an empty registry/);
    expect(rowCounts()).toEqual(before);
  });

  it('restore rejects files that are not a wgvm backup, naming each problem', () => {
    writeFileSync(join(root, 'junk.json'), '{nope');
    expect(() => runCommand(runRestore, ['junk.json'])).toThrow(/is not JSON/);
    writeFileSync(join(root, 'other.json'), '{"format":"something"}');
    expect(runCommand(runRestore, ['other.json']).stderr).toMatch(/format is "something", expected "wgvm-registry-backup"/);
    populate();
    expect(runCommand(runExport, ['-o', 'b.json']).code).toBe(0);
    const backup = JSON.parse(readFileSync(join(root, 'b.json'), 'utf8'));
    backup.nodes[0].vpn_ip = '10.100.1.999';
    backup.nodes[1].public_key = 'x';
    backup.nodes[2].node_id = backup.nodes[3].node_id;
    writeFileSync(join(root, 'bad.json'), JSON.stringify(backup));
    const fresh = join(root, 'fresh');
    const r = runCommand(runRestore, ['bad.json'], { DATA_DIR: fresh });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nodes\[0\]\.vpn_ip: "10\.100\.1\.999" is not an IPv4 address/);
    expect(r.stderr).toMatch(/nodes\[1\]\.public_key: must be a key/);
    expect(r.stderr).toMatch(/nodes\[3\]\.node_id: .* appears twice/);
    expect(existsSync(fresh)).toBe(false);
  });
});

describe('the wgvm binary', () => {
  it('exits 1 with one line per conflict, and 1 with one line for a refused restore', () => {
    const { hub, peers } = samplePeers(3);
    peers[2]!.address = peers[1]!.address;
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, peers));
    const env = { ...process.env, DATA_DIR: dataDir };
    const run = (args: string[]) => spawnSync(process.execPath, [wgvm, ...args], { cwd: root, env, encoding: 'utf8' });
    const bad = run(['import', 'wg0.conf']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^wgvm import: peer 3 \(wg0\.conf line \d+\): address 10\.100\.1\.3 is also given to peer-1 in the import$/m);
    writeFileSync(join(root, 'wg0.conf'), serverConf(hub, samplePeers(3).peers));
    expect(run(['import', 'wg0.conf']).status).toBe(0);
    expect(run(['export', '-o', 'b.json']).status).toBe(0);
    const refused = run(['restore', 'b.json']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^wgvm restore: the registry already has 3 node\(s\): .*nothing was restored\n$/);
  });
});
