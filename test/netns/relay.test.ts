// The hub relays between workers inside the device: no TUN round trip, no kernel forwarding
// (the hub's ip_forward stays 0). Hub: ours; worker 1: wireguard-go; worker 2: ours.
import { describe, expect, it } from 'vitest';
import { isRoot, run } from '../helpers/netns.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { addressUp, makeSide, received, startImplementation, wgvmEntry, useWorld } from '../helpers/tunnel.js';

const skip = skipWithout('wg', 'wireguard-go', 'ip', 'ping') || (!isRoot && !inCI);

describe.skipIf(skip)('relay between peers through a wgvm hub', () => {
  const t = useWorld('wgvm-relay-', ['wg', 'wireguard-go', 'ip', 'ping']);

  it('workers reach each other through the hub with ip_forward=0; isolation and relay off stop it', async () => {
    const nsH = t.world.namespace('hub');
    const ns1 = t.world.namespace('w1');
    const ns2 = t.world.namespace('w2');
    t.world.link(nsH, '198.18.1.1/24', ns1, '198.18.1.2/24');
    t.world.link(nsH, '198.18.2.1/24', ns2, '198.18.2.2/24');
    expect(nsH.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim()).toBe('0');

    const hub = makeSide(t.world, t.dir, 'H', nsH, '198.18.1.1', '10.202.0.1');
    const w1 = makeSide(t.world, t.dir, 'W1', ns1, '198.18.1.2', '10.202.0.2');
    const w2 = makeSide(t.world, t.dir, 'W2', ns2, '198.18.2.2', '10.202.0.3');
    await startImplementation(t.world, hub, 'wgvm');
    await startImplementation(t.world, w1, 'wireguard-go');
    await startImplementation(t.world, w2, 'wgvm');

    nsH.exec('wg', ['set', hub.iface, 'private-key', hub.privateKeyFile, 'listen-port', '51820',
      'peer', w1.publicKey, 'allowed-ips', `${w1.inner}/32`,
      'peer', w2.publicKey, 'allowed-ips', `${w2.inner}/32`]);
    for (const [w, hubAddress] of [[w1, '198.18.1.1'], [w2, '198.18.2.1']] as const) {
      w.ns.exec('wg', ['set', w.iface, 'private-key', w.privateKeyFile,
        'peer', hub.publicKey, 'allowed-ips', '10.202.0.0/24', 'endpoint', `${hubAddress}:51820`, 'persistent-keepalive', '25']);
    }
    for (const s of [hub, w1, w2]) addressUp(s);

    expect(received(ns1, w2.inner, 3)).toBe(3);
    expect(received(ns2, w1.inner, 3)).toBe(3);
    expect(nsH.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim()).toBe('0');

    // Isolated, worker 1 still reaches the hub but no longer worker 2 (in either direction).
    run(process.execPath, [wgvmEntry, 'isolate', hub.iface, w1.publicKey, 'on']);
    expect(received(ns1, hub.inner, 2)).toBe(2);
    expect(received(ns1, w2.inner, 2)).toBe(0);
    expect(received(ns2, w1.inner, 2)).toBe(0);
    run(process.execPath, [wgvmEntry, 'isolate', hub.iface, w1.publicKey, 'off']);
    expect(received(ns1, w2.inner, 2)).toBe(2);

    // Relay off: the packet goes to the hub's TUN, and with ip_forward=0 the kernel drops it.
    run(process.execPath, [wgvmEntry, 'relay', hub.iface, 'off']);
    expect(received(ns1, w2.inner, 2)).toBe(0);
    run(process.execPath, [wgvmEntry, 'relay', hub.iface, 'on']);
    expect(received(ns1, w2.inner, 2)).toBe(2);
  }, 90_000);
});
