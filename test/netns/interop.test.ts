// Our userspace device against Debian's wireguard-go, both configured only with `wg`, in namespaces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, run, waitFor, World, type Namespace } from '../helpers/netns.js';
import { inCI, requireTools, skipWithout } from '../helpers/tools.js';
import { addressUp, makeSide, ping, received, startImplementation, type Implementation, useWorld } from '../helpers/tunnel.js';
const skip = skipWithout('wg', 'wireguard-go', 'ip', 'ping') || (!isRoot && !inCI);


describe.skipIf(skip)('interop with wireguard-go (namespaces)', () => {
  const t = useWorld('wgvm-interop-', ['wg', 'wireguard-go', 'ip', 'ping']);

  // The pair of setUpPair with an IPv6 underlay (fd18::/64) and IPv6 tunnel addresses (fd01::/64) too.
  const pair = async (implA: Implementation, implB: Implementation) => {
    const p = await setUpPair(t.world, t.dir, implA, implB);
    const veth = (ns: Namespace) => ns.ip('-o', 'link', 'show', 'type', 'veth').split(':')[1]!.trim().split('@')[0]!;
    p.nsA.ip('addr', 'add', 'fd18::1/64', 'dev', veth(p.nsA), 'nodad');
    p.nsB.ip('addr', 'add', 'fd18::2/64', 'dev', veth(p.nsB), 'nodad');
    p.nsA.ip('addr', 'add', 'fd01::1/64', 'dev', p.a.iface, 'nodad');
    p.nsB.ip('addr', 'add', 'fd01::2/64', 'dev', p.b.iface, 'nodad');
    p.nsA.exec('wg', ['set', p.a.iface, 'peer', p.b.publicKey, 'allowed-ips', `${p.b.inner}/32,fd01::2/128`]);
    p.nsB.exec('wg', ['set', p.b.iface, 'peer', p.a.publicKey, 'allowed-ips', `${p.a.inner}/32,fd01::1/128`]);
    return p;
  };

  it('pings both ways between wgvm and wireguard-go, IPv4 and IPv6 inside an IPv4 outer transport', async () => {
    const { nsA, nsB, a, b } = await pair('wgvm', 'wireguard-go');
    expect(ping(nsA, b.inner)).toMatch(/3 received/);
    expect(ping(nsB, a.inner)).toMatch(/3 received/);
    expect(ping(nsA, 'fd01::2')).toMatch(/3 received/);
    expect(ping(nsB, 'fd01::1')).toMatch(/3 received/);

    // Both sides report the handshake and the other's endpoint.
    const peerA = nsA.exec('wg', ['show', a.iface, 'dump']).trim().split('\n')[1]!.split('\t');
    expect(peerA[0]).toBe(b.publicKey);
    expect(peerA[2]).toBe(`${b.underlay}:51821`);
    expect(Number(peerA[4])).toBeGreaterThan(0);
    const peerB = nsB.exec('wg', ['show', b.iface, 'dump']).trim().split('\n')[1]!.split('\t');
    expect(peerB[2]).toBe(`${a.underlay}:51820`);
  }, 60_000);

  it('carries IPv6 inside, over an IPv6 outer transport', async () => {
    const { nsA, nsB, a, b } = await pair('wgvm', 'wireguard-go');
    nsA.exec('wg', ['set', a.iface, 'peer', b.publicKey, 'endpoint', '[fd18::2]:51821']);
    nsB.exec('wg', ['set', b.iface, 'peer', a.publicKey, 'endpoint', '[fd18::1]:51820']);
    expect(ping(nsA, 'fd01::2')).toMatch(/3 received/);
    expect(ping(nsB, 'fd01::1')).toMatch(/3 received/);
    expect(ping(nsA, b.inner)).toMatch(/3 received/);
    const peerB = nsB.exec('wg', ['show', b.iface, 'dump']).trim().split('\n')[1]!.split('\t');
    expect(peerB[2]).toBe('[fd18::1]:51820');
  }, 60_000);

  it('counts the same bytes on the wire as wireguard-go does for the same exchange', async () => {
    const { nsA, nsB, a, b } = await pair('wgvm', 'wireguard-go');
    expect(ping(nsA, b.inner, 5)).toMatch(/5 received/);
    const ours = nsA.exec('wg', ['show', a.iface, 'transfer']).trim().split('\t');
    const theirs = nsB.exec('wg', ['show', b.iface, 'transfer']).trim().split('\t');
    // transfer: public key, received, sent
    expect(Number(ours[2])).toBeGreaterThan(0);
    expect(ours[2]).toBe(theirs[1]); // what we sent is what they received
    expect(ours[1]).toBe(theirs[2]);
  }, 60_000);

  it('moves TCP both ways with iperf3', async () => {
    requireTools('iperf3');
    const { nsA, nsB, a, b } = await pair('wgvm', 'wireguard-go');
    t.world.spawn(nsB, 'iperf3', ['-s', '-1', '-B', b.inner]);
    await waitFor('iperf3 server', () => nsB.exec('ss', ['-ltn']).includes(`${b.inner}:5201`));
    const up = JSON.parse(nsA.exec('iperf3', ['-c', b.inner, '-t', '2', '-J']));
    expect(up.end.sum_received.bytes).toBeGreaterThan(1_000_000);
    t.world.spawn(nsA, 'iperf3', ['-s', '-1', '-B', a.inner]);
    await waitFor('iperf3 server', () => nsA.exec('ss', ['-ltn']).includes(`${a.inner}:5201`));
    const down = JSON.parse(nsB.exec('iperf3', ['-c', a.inner, '-t', '2', '-J']));
    expect(down.end.sum_received.bytes).toBeGreaterThan(1_000_000);
  }, 60_000);

  it('stays responsive while a local sender floods the tunnel with small UDP datagrams', async () => {
    requireTools('iperf3');
    const { nsA, nsB, a, b } = await pair('wgvm', 'wgvm');
    expect(received(nsA, b.inner, 1)).toBe(1);
    t.world.spawn(nsB, 'iperf3', ['-s', '-1', '-B', b.inner]);
    await waitFor('iperf3 server', () => nsB.exec('ss', ['-ltn']).includes(`${b.inner}:5201`));
    // 64-byte datagrams as fast as iperf3 can write them: each is a "small frame" the device sends at
    // once, so only the per-turn frame limit keeps its loop turning.
    const flood = t.world.spawn(nsA, 'iperf3', ['-c', b.inner, '-u', '-l', '64', '-b', '0', '-t', '6']);
    await new Promise((r) => setTimeout(r, 1500));
    const slowest = { ms: 0 };
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      nsA.exec('wg', ['show', a.iface, 'dump']); // the UAPI get takes the device's lock
      slowest.ms = Math.max(slowest.ms, performance.now() - start);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(slowest.ms).toBeLessThan(2000);
    await new Promise((r) => flood.once('exit', r));
    expect(received(nsA, b.inner, 3)).toBe(3);
  }, 60_000);

  it('makes no handshake with a wrong public key or preshared key, and stops carrying a removed peer', async () => {
    const { nsA, nsB, a, b } = await pair('wgvm', 'wireguard-go');
    // B knows A under a wrong key: A's initiations are refused, nothing gets through either way.
    const stranger = run('wg', ['pubkey'], run('wg', ['genkey'])).trim();
    nsB.exec('wg', ['set', b.iface, 'peer', a.publicKey, 'remove', 'peer', stranger, 'allowed-ips', `${a.inner}/32`,
      'endpoint', `${a.underlay}:51820`]);
    expect(received(nsA, b.inner, 2)).toBe(0);
    expect(received(nsB, a.inner, 2)).toBe(0);
    expect(nsA.exec('wg', ['show', a.iface, 'latest-handshakes']).trim().split('\t')[1]).toBe('0');
    nsB.exec('wg', ['set', b.iface, 'peer', stranger, 'remove', 'peer', a.publicKey, 'allowed-ips', `${a.inner}/32`,
      'endpoint', `${a.underlay}:51820`]);
    expect(received(nsA, b.inner, 2)).toBe(2);
    // A wrong preshared key on one side: no handshake until both agree.
    nsA.exec('wg', ['set', a.iface, 'peer', b.publicKey, 'remove']);
    nsA.exec('wg', ['set', a.iface, 'peer', b.publicKey, 'allowed-ips', `${b.inner}/32`, 'endpoint', `${b.underlay}:51821`]);
    const psk = join(t.dir, 'psk');
    writeFileSync(psk, run('wg', ['genpsk']), { mode: 0o600 });
    nsA.exec('wg', ['set', a.iface, 'peer', b.publicKey, 'preshared-key', psk]);
    expect(received(nsA, b.inner, 2)).toBe(0);
    expect(nsA.exec('wg', ['show', a.iface, 'latest-handshakes']).trim().split('\t')[1]).toBe('0');
    nsB.exec('wg', ['set', b.iface, 'peer', a.publicKey, 'preshared-key', psk]);
    expect(ping(nsA, b.inner, 2)).toMatch(/2 received/);

    nsA.exec('wg', ['set', a.iface, 'peer', b.publicKey, 'remove']);
    expect(nsA.exec('wg', ['show', a.iface, 'peers']).trim()).toBe('');
    expect(received(nsA, b.inner, 2)).toBe(0);
    expect(received(nsB, a.inner, 2)).toBe(0);
  }, 60_000);

  it('wg showconf, setconf and syncconf round-trip a configuration through our socket', async () => {
    const { nsA, a } = await pair('wgvm', 'wireguard-go');
    const conf = nsA.exec('wg', ['showconf', a.iface]);
    expect(conf).toContain('[Interface]');
    expect(conf).toContain('ListenPort = 51820');
    const file = join(t.dir, 'saved.conf');
    writeFileSync(file, conf, { mode: 0o600 });
    // setconf replaces everything: an extra peer added meanwhile is gone afterwards.
    const extra = run('wg', ['pubkey'], run('wg', ['genkey'])).trim();
    nsA.exec('wg', ['set', a.iface, 'peer', extra, 'allowed-ips', '10.201.0.50/32']);
    nsA.exec('wg', ['setconf', a.iface, file]);
    expect(nsA.exec('wg', ['showconf', a.iface])).toBe(conf);
    // syncconf changes only what differs and keeps the session.
    const before = nsA.exec('wg', ['show', a.iface, 'latest-handshakes']);
    nsA.exec('wg', ['set', a.iface, 'peer', extra, 'allowed-ips', '10.201.0.50/32']);
    nsA.exec('wg', ['syncconf', a.iface, file]);
    expect(nsA.exec('wg', ['showconf', a.iface])).toBe(conf);
    expect(nsA.exec('wg', ['show', a.iface, 'latest-handshakes'])).toBe(before);
  }, 60_000);

  it('keeps serving the tunnel through 200 rounds of random and truncated datagrams', async () => {
    const { nsA, nsB, b } = await pair('wgvm', 'wireguard-go');
    expect(ping(nsA, b.inner, 1)).toMatch(/1 received/);
    const script = `
      const dgram = require('node:dgram');
      const s = dgram.createSocket('udp4');
      let n = 0;
      const next = () => {
        if (n++ >= 200) return s.close();
        const len = Math.floor(Math.random() * 200);
        const b = require('node:crypto').randomBytes(len);
        if (len > 0) b[0] = 1 + (n % 4);
        s.send(b, 51820, '198.18.0.1', next);
      };
      next();`;
    nsB.exec(process.execPath, ['-e', script]);
    expect(ping(nsA, b.inner, 3)).toMatch(/3 received/);
    expect(ping(nsB, '10.201.0.1', 3)).toMatch(/3 received/);
  }, 60_000);
});

describe.skipIf(skip)('roaming, crypto-routing and rekeying against wireguard-go', () => {
  const t = useWorld('wgvm-interop-', ['wg', 'wireguard-go', 'ip', 'ping']);

  // Renumbers a namespace's veth from 198.18.0.<from> to 198.18.0.<to>, keeping the route.
  function renumber(ns: Namespace, from: number, to: number): void {
    const veth = ns.ip('-o', 'link', 'show', 'type', 'veth').split(':')[1]!.trim().split('@')[0]!;
    ns.exec('sysctl', ['-qw', `net.ipv4.conf.${veth}.promote_secondaries=1`]);
    ns.ip('addr', 'add', `198.18.0.${to}/24`, 'dev', veth);
    ns.ip('addr', 'del', `198.18.0.${from}/24`, 'dev', veth);
  }

  it('wireguard-go follows wgvm to a new outer address', async () => {
    const { nsA, nsB, a, b } = await setUpPair(t.world, t.dir, 'wgvm', 'wireguard-go');
    expect(ping(nsA, b.inner)).toMatch(/3 received/);
    renumber(nsA, 1, 7);
    expect(ping(nsA, b.inner)).toMatch(/3 received/);
    expect(nsB.exec('wg', ['show', b.iface, 'endpoints']).trim().split('\t')[1]).toBe('198.18.0.7:51820');
    expect(ping(nsB, a.inner)).toMatch(/3 received/);
  }, 60_000);

  it('wgvm follows a peer to a new outer address and answers it there', async () => {
    // (wireguard-go keeps sending from the address it last used, so the roaming peer here is ours.)
    const { nsA, nsB, a, b } = await setUpPair(t.world, t.dir, 'wgvm', 'wgvm');
    expect(ping(nsA, b.inner)).toMatch(/3 received/);
    renumber(nsB, 2, 9);
    expect(ping(nsB, a.inner)).toMatch(/3 received/);
    expect(nsA.exec('wg', ['show', a.iface, 'endpoints']).trim().split('\t')[1]).toBe('198.18.0.9:51821');
    expect(ping(nsA, b.inner)).toMatch(/3 received/);
  }, 60_000);

  it('drops an inner packet whose source is outside the sending peer\'s allowed IPs', async () => {
    const { nsA, nsB, a, b } = await setUpPair(t.world, t.dir);
    nsB.ip('addr', 'add', '10.201.0.99/32', 'dev', b.iface);
    expect(ping(nsB, a.inner)).toMatch(/3 received/);
    expect(received(nsB, a.inner, 2, ['-I', '10.201.0.99'])).toBe(0);
    expect(received(nsB, a.inner, 2, ['-I', b.inner])).toBe(2);
    expect(nsA.exec('wg', ['show', a.iface, 'latest-handshakes']).trim().split('\t')[1]).not.toBe('0');
  }, 60_000);

  it('rekeys after REKEY_AFTER_TIME while traffic keeps flowing (about 2.5 minutes)', async () => {
    const { nsA, a, b } = await setUpPair(t.world, t.dir);
    expect(ping(nsA, b.inner, 1)).toMatch(/1 received/);
    const first = Number(nsA.exec('wg', ['show', a.iface, 'latest-handshakes']).trim().split('\t')[1]);
    const out = nsA.exec('ping', ['-c', '290', '-i', '0.5', '-W', '2', b.inner]);
    expect(Number(/(\d+) received/.exec(out)![1])).toBeGreaterThanOrEqual(287);
    const last = Number(nsA.exec('wg', ['show', a.iface, 'latest-handshakes']).trim().split('\t')[1]);
    expect(last - first).toBeGreaterThanOrEqual(120);
  }, 240_000);
});

// A in one namespace and B in another, joined by veth (198.18.0.0/24) and peered through `wg` only:
// A's tunnel address is 10.201.0.1, B's 10.201.0.2.
async function setUpPair(world: World, dir: string, implA: Implementation = 'wgvm', implB: Implementation = 'wireguard-go') {
  const nsA = world.namespace('a');
  const nsB = world.namespace('b');
  world.link(nsA, '198.18.0.1/24', nsB, '198.18.0.2/24');
  const a = makeSide(world, dir, 'A', nsA, '198.18.0.1', '10.201.0.1');
  const b = makeSide(world, dir, 'B', nsB, '198.18.0.2', '10.201.0.2');
  await startImplementation(world, a, implA);
  await startImplementation(world, b, implB);
  for (const [s, peer, port, peerPort] of [[a, b, 51820, 51821], [b, a, 51821, 51820]] as const) {
    s.ns.exec('wg', ['set', s.iface, 'private-key', s.privateKeyFile, 'listen-port', String(port),
      'peer', peer.publicKey, 'allowed-ips', `${peer.inner}/32`, 'endpoint', `${peer.underlay}:${peerPort}`]);
    addressUp(s);
  }
  return { nsA, nsB, a, b };
}
