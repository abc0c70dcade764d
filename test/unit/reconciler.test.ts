// The registry → device reconciler (src/dataplane/reconciler.ts): only differences are set, and a
// preshared key is unsealed only for a node that is new or changed.
import { describe, expect, it } from 'vitest';
import { appliedAfter, desiredPeers, reconcileBody, type RegisteredPeer } from '../../src/dataplane/reconciler.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const hex = (n: number) => Buffer.alloc(32, n).toString('hex');
const node = (i: number, extra: Partial<RegisteredPeer> = {}): RegisteredPeer => ({
  nodeId: `n${i}`,
  publicKey: key(i),
  vpnIp: `10.100.1.${i + 1}`,
  enabled: true,
  isolated: false,
  endpoint: null,
  updatedAt: '2026-11-26T12:00:00.000Z',
  ...extra,
});

describe('desiredPeers and reconcileBody', () => {
  it('adds what is new, keeps what is the same, and unseals only new or changed nodes', () => {
    const unsealed: string[] = [];
    const psk = (id: string) => {
      unsealed.push(id);
      return key(100 + Number(id.slice(1)));
    };
    const first = desiredPeers([node(1), node(2)], new Map(), psk);
    expect(unsealed).toEqual(['n1', 'n2']);
    expect(reconcileBody(new Map(), first, false)).toBe(
      `public_key=${hex(1)}\npreshared_key=${hex(101)}\nreplace_allowed_ips=true\nallowed_ip=10.100.1.2/32\nwgvm_isolated=false\n` +
        `public_key=${hex(2)}\npreshared_key=${hex(102)}\nreplace_allowed_ips=true\nallowed_ip=10.100.1.3/32\nwgvm_isolated=false\n`,
    );
    let applied = appliedAfter(first);

    // A third node registers: one unseal, one peer set; n1 and n2 are not touched.
    unsealed.length = 0;
    const second = desiredPeers([node(1), node(2), node(3)], applied, psk);
    expect(unsealed).toEqual(['n3']);
    expect(reconcileBody(applied, second, false)).toBe(`public_key=${hex(3)}\npreshared_key=${hex(103)}\nreplace_allowed_ips=true\nallowed_ip=10.100.1.4/32\nwgvm_isolated=false\n`);
    applied = appliedAfter(second);

    // n2 is updated (its version moves): its key is read again. n3 is disabled: removed.
    unsealed.length = 0;
    const third = desiredPeers([node(1), node(2, { updatedAt: '2026-11-26T12:05:00.000Z' }), node(3, { enabled: false })], applied, psk);
    expect(unsealed).toEqual(['n2']);
    expect(reconcileBody(applied, third, false)).toBe(`public_key=${hex(3)}\nremove=true\n`);
    applied = appliedAfter(third);

    // Nothing changed: nothing to send, nothing unsealed.
    unsealed.length = 0;
    expect(reconcileBody(applied, desiredPeers([node(1), node(2, { updatedAt: '2026-11-26T12:05:00.000Z' })], applied, psk), false)).toBe('');
    expect(unsealed).toEqual([]);
  });

  it('rotated keys are a new peer: the old one is removed and the new one set', () => {
    const applied = appliedAfter(desiredPeers([node(1)], new Map(), () => key(50)));
    const rotated = desiredPeers([node(1, { publicKey: key(9), updatedAt: '2026-11-26T13:00:00.000Z' })], applied, () => key(51));
    expect(reconcileBody(applied, rotated, false)).toBe(
      `public_key=${hex(1)}\nremove=true\npublic_key=${hex(9)}\npreshared_key=${hex(51)}\nreplace_allowed_ips=true\nallowed_ip=10.100.1.2/32\nwgvm_isolated=false\n`,
    );
  });

  it('the same public key registered again with a new preshared key is removed first, ending the old sessions', () => {
    // Deleted and registered again (its own public key) between two reconciles: the device must not
    // keep sessions made with the old preshared key, as an in-place key change would.
    const applied = appliedAfter(desiredPeers([node(1)], new Map(), () => key(50)));
    const again = desiredPeers([node(1, { vpnIp: '10.100.1.9', updatedAt: '2026-11-26T14:00:00.000Z' })], applied, () => key(52));
    expect(reconcileBody(applied, again, false)).toBe(
      `public_key=${hex(1)}\nremove=true\npublic_key=${hex(1)}\npreshared_key=${hex(52)}\nreplace_allowed_ips=true\nallowed_ip=10.100.1.9/32\nwgvm_isolated=false\n`,
    );
  });

  it('on start, endpoints are set too, so that the hub can reach out at once', () => {
    const desired = desiredPeers([node(1, { endpoint: '198.51.100.7:51820' })], new Map(), () => key(50));
    const applied = appliedAfter(desired);
    expect(reconcileBody(applied, desired, true)).toBe(`public_key=${hex(1)}\nendpoint=198.51.100.7:51820\n`);
  });
  it('isolating a node is a change of its peer: wgvm_isolated follows the registry', () => {
    const applied = appliedAfter(desiredPeers([node(1)], new Map(), (id) => key(100 + Number(id.slice(1)))));
    const isolated = desiredPeers([node(1, { isolated: true, updatedAt: '2026-11-26T12:00:01.000Z' })], applied, () => key(101));
    expect(reconcileBody(applied, isolated, false)).toBe(`public_key=${hex(1)}\npreshared_key=${hex(101)}\nreplace_allowed_ips=true\nallowed_ip=10.100.1.2/32\nwgvm_isolated=true\n`);
    expect(reconcileBody(appliedAfter(isolated), isolated, false)).toBe('');
  });
});
