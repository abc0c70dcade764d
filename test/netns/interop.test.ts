// Our userspace device against Debian's wireguard-go, both configured only with `wg`, in namespaces.
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRoot, run, waitFor, World, type Namespace } from '../helpers/netns.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';

const wgvm = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));
const skip = skipWithout('wg', 'wireguard-go', 'ip', 'ping') || (!isRoot && !inCI);

interface Side {
  ns: Namespace;
  iface: string;
  privateKeyFile: string;
  publicKey: string;
  underlay: string;
  inner: string;
}

describe.skipIf(skip)('interop with wireguard-go (namespaces)', () => {
  let world: World;
  let dir: string;

  beforeEach(() => {
    requireTools('wg', 'wireguard-go', 'ip', 'ping');
    if (!isRoot) throw new Error('namespace tests need root');
    world = new World();
    dir = mkdtempSync(join(tmpdir(), 'wgvm-interop-'));
  });
  afterEach(async () => {
    await world.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function side(label: string, ns: Namespace, underlay: string, inner: string): Side {
    const priv = run('wg', ['genkey']);
    const privateKeyFile = join(dir, `${label}.key`);
    writeFileSync(privateKeyFile, priv, { mode: 0o600 });
    return { ns, iface: `wg${label}${world.id}`.slice(0, 15), privateKeyFile, publicKey: run('wg', ['pubkey'], priv).trim(), underlay, inner };
  }

  async function start(s: Side, implementation: 'wgvm' | 'wireguard-go'): Promise<void> {
    if (implementation === 'wgvm') world.spawn(s.ns, process.execPath, [wgvm, 'up', '--foreground', s.iface]);
    else world.spawn(s.ns, 'wireguard-go', ['-f', s.iface], { LOG_LEVEL: 'error' });
    await waitFor(`${implementation} socket for ${s.iface}`, () => existsSync(`/var/run/wireguard/${s.iface}.sock`));
  }

  function configure(s: Side, peer: Side, port: number, peerPort: number): void {
    s.ns.exec('wg', ['set', s.iface, 'private-key', s.privateKeyFile, 'listen-port', String(port),
      'peer', peer.publicKey, 'allowed-ips', `${peer.inner}/32`, 'endpoint', `${peer.underlay}:${peerPort}`]);
    s.ns.ip('addr', 'add', `${s.inner}/24`, 'dev', s.iface);
    s.ns.ip('link', 'set', s.iface, 'mtu', '1420', 'up');
  }

  it('pings both ways between wgvm and wireguard-go over IPv4', async () => {
    const nsA = world.namespace('a');
    const nsB = world.namespace('b');
    world.link(nsA, '198.18.0.1/24', nsB, '198.18.0.2/24');
    const a = side('A', nsA, '198.18.0.1', '10.201.0.1');
    const b = side('B', nsB, '198.18.0.2', '10.201.0.2');
    await start(a, 'wgvm');
    await start(b, 'wireguard-go');
    configure(a, b, 51820, 51821);
    configure(b, a, 51821, 51820);

    expect(nsA.exec('ping', ['-c', '3', '-i', '0.2', '-W', '3', b.inner])).toMatch(/3 received/);
    expect(nsB.exec('ping', ['-c', '3', '-i', '0.2', '-W', '3', a.inner])).toMatch(/3 received/);

    // Both sides report the handshake and the other's endpoint.
    const dumpA = nsA.exec('wg', ['show', a.iface, 'dump']).trim().split('\n');
    const peerA = dumpA[1]!.split('\t');
    expect(peerA[0]).toBe(b.publicKey);
    expect(peerA[2]).toBe(`${b.underlay}:51821`);
    expect(Number(peerA[4])).toBeGreaterThan(0);
    const dumpB = nsB.exec('wg', ['show', b.iface, 'dump']).trim().split('\n');
    expect(dumpB[1]!.split('\t')[2]).toBe(`${a.underlay}:51820`);
  }, 60_000);
});
