// wg-quick drives our daemon as its userspace implementation (WG_QUICK_USERSPACE_IMPLEMENTATION).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRoot, waitFor, World } from '../helpers/netns.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';
import { addressUp, daemonPids, makeSide, received, startImplementation, stopDaemons } from '../helpers/tunnel.js';

const userspaceBin = fileURLToPath(new URL('../../bin/wgvm-userspace.js', import.meta.url));
const skip = skipWithout('wg', 'wg-quick', 'wireguard-go', 'ip', 'ping') || (!isRoot && !inCI);


describe.skipIf(skip)('wg-quick with WG_QUICK_USERSPACE_IMPLEMENTATION=wgvm-userspace', () => {
  let world: World;
  let dir: string;
  let iface = '';
  beforeEach(() => {
    requireTools('wg', 'wg-quick', 'wireguard-go', 'ip', 'ping');
    if (!isRoot) throw new Error('namespace tests need root');
    world = new World();
    dir = mkdtempSync(join(tmpdir(), 'wgvm-quick-'));
  });
  afterEach(async () => {
    await stopDaemons(iface);
    await world.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('brings the interface up from a wg0.conf, carries traffic, and takes it down again', async () => {
    const nsA = world.namespace('a');
    const nsB = world.namespace('b');
    world.link(nsA, '198.18.0.1/24', nsB, '198.18.0.2/24');
    const b = makeSide(world, dir, 'B', nsB, '198.18.0.2', '10.203.0.2');
    await startImplementation(world, b, 'wireguard-go');

    const privateKey = execFileSync('wg', ['genkey'], { encoding: 'utf8' }).trim();
    const publicKey = execFileSync('wg', ['pubkey'], { input: privateKey, encoding: 'utf8' }).trim();
    iface = `wgq${world.id}`.slice(0, 15);
    const conf = join(dir, `${iface}.conf`);
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${privateKey}\nAddress = 10.203.0.1/24\nListenPort = 51830\n\n` +
        `[Peer]\nPublicKey = ${b.publicKey}\nAllowedIPs = 10.203.0.2/32\nEndpoint = 198.18.0.2:51831\n`,
      { mode: 0o600 },
    );
    nsB.exec('wg', ['set', b.iface, 'private-key', b.privateKeyFile, 'listen-port', '51831',
      'peer', publicKey, 'allowed-ips', '10.203.0.1/32', 'endpoint', '198.18.0.1:51830']);
    addressUp(b);

    // wg-quick finds the implementation on PATH.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(userspaceBin, join(bin, 'wgvm-userspace'));
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, WG_QUICK_USERSPACE_IMPLEMENTATION: 'wgvm-userspace' };
    const up = spawnSync('ip', ['netns', 'exec', nsA.name, 'wg-quick', 'up', conf], { env, encoding: 'utf8' });
    expect(up.status, up.stderr).toBe(0);
    expect(daemonPids(iface)).toHaveLength(1);
    expect(nsA.exec('wg', ['show', iface, 'listen-port']).trim()).toBe('51830');
    expect(nsA.ip('-o', 'addr', 'show', 'dev', iface)).toContain('10.203.0.1/24');
    expect(received(nsA, '10.203.0.2', 3)).toBe(3);
    expect(received(nsB, '10.203.0.1', 3)).toBe(3);

    const down = spawnSync('ip', ['netns', 'exec', nsA.name, 'wg-quick', 'down', conf], { env, encoding: 'utf8' });
    expect(down.status, down.stderr).toBe(0);
    await waitFor('the daemon to exit', () => daemonPids(iface).length === 0);
    expect(existsSync(`/var/run/wireguard/${iface}.sock`)).toBe(false);
    expect(spawnSync('ip', ['-n', nsA.name, 'link', 'show', iface]).status).not.toBe(0);
    expect(readFileSync(conf, 'utf8')).toContain('[Peer]'); // untouched
  }, 60_000);
});
