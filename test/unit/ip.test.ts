// src/domain/ip.ts: the one parser and formatter of IP addresses and prefixes.
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatIpv6, isCidr, isEndpoint, isPlainIp, parseIp, parseIpCidr, parseIpv4, parseIpv6, splitEndpoint, unmapIpv4 } from '../../src/domain/ip.js';

describe('parseIp', () => {
  it('reads IPv4 strictly: four decimal numbers 0-255, no leading zeros', () => {
    expect(parseIpv4('10.100.0.1')).toBe(0x0a640001);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['010.1.1.1', '1.2.3.04', '256.1.1.1', '1.2.3', '1.2.3.4.', ' 1.2.3.4', '0x1.2.3.4', '1e1.0.0.1', '']) {
      expect(parseIpv4(bad), bad).toBeNull();
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('reads IPv6 with "::" and a dotted-quad tail, and writes it in RFC 5952 form', () => {
    const canonical: Array<[string, string]> = [
      ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::ffff:1.1.1.1', '::ffff:101:101'],
    ];
    for (const [text, out] of canonical) expect(parseIp(text), text).toEqual({ family: 6, value: parseIpv6(text), text: out });
    for (const bad of ['fe80::1%eth0', '1::2::3', '1:2:3:4:5:6:7:8:9', '00000::1', ':', '1.2.3.4::', '[::1]', '::1.2.3.04']) {
      expect(parseIp(bad), bad).toBeNull();
    }
    expect(formatIpv6(0n)).toBe('::');
  });

  it('accepts what node:net accepts among plain addresses, and refuses the rest', () => {
    const samples = ['1:2:3:4:5:6:7::', '::1.2.3.4', '1::2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:1.2.3.4', 'ABCD::ef', '1.2.3.4'];
    for (const s of samples) expect(isPlainIp(s), s).toBe(isIP(s) !== 0);
  });

  it('sees the IPv4 address in an IPv4-mapped IPv6 address', () => {
    expect(unmapIpv4(parseIp('::ffff:192.0.2.7')!)).toEqual({ family: 4, value: 0xc0000207, text: '192.0.2.7' });
    expect(unmapIpv4(parseIp('2001:db8::1')!).text).toBe('2001:db8::1');
    expect(unmapIpv4(parseIp('192.0.2.7')!).text).toBe('192.0.2.7');
  });
});

describe('parseIpCidr', () => {
  it('reads either family, a bare address as a host prefix, in canonical text', () => {
    expect(parseIpCidr('10.100.0.0/16')).toEqual({ ok: true, family: 4, network: 0x0a640000, prefix: 16, text: '10.100.0.0/16' });
    expect(parseIpCidr('192.168.1.5')).toMatchObject({ ok: true, prefix: 32, text: '192.168.1.5/32' });
    expect(parseIpCidr('FD00:0:0::/64')).toMatchObject({ ok: true, family: 6, prefix: 64, text: 'fd00::/64' });
    expect(parseIpCidr('2001:db8::7')).toMatchObject({ ok: true, prefix: 128, text: '2001:db8::7/128' });
    expect(parseIpCidr('0.0.0.0/0')).toMatchObject({ ok: true, text: '0.0.0.0/0' });
  });

  it('says why not, with the network meant when host bits are set', () => {
    expect(parseIpCidr('10.1.2.3/8')).toEqual({ ok: false, why: 'host bits', hint: '10.0.0.0/8' });
    expect(parseIpCidr('fd00::1/64')).toEqual({ ok: false, why: 'host bits', hint: 'fd00::/64' });
    for (const bad of ['10.0.0.0/33', '10.0.0.0/016', '10.0.0.0/', '::/129', '10.0.0.0/a']) expect(parseIpCidr(bad), bad).toEqual({ ok: false, why: 'prefix' });
    expect(parseIpCidr('everything')).toEqual({ ok: false, why: 'address' });
  });
});

describe('isCidr, splitEndpoint and isEndpoint', () => {
  it('isCidr takes address/prefix within the family, host bits allowed', () => {
    for (const ok of ['10.100.1.2/32', '10.100.0.1/16', 'fd00::2/128', '::/0']) expect(isCidr(ok), ok).toBe(true);
    for (const bad of ['10.100.1.2', '10.100.1.2/33', 'fd00::/129', 'x/8', '010.1.1.1/8']) expect(isCidr(bad), bad).toBe(false);
  });

  it('isEndpoint takes host:port with a name, IPv4, or bracketed IPv6', () => {
    for (const ok of ['vpn.example.com:41820', '203.0.113.7:1', '[2001:db8::1]:65535']) expect(isEndpoint(ok), ok).toBe(true);
    for (const bad of ['2001:db8::1:41820', '[1.2.3.4]:80', 'vpn.example.com:0', 'vpn.example.com:65536', 'vpn.example.com']) {
      expect(isEndpoint(bad), bad).toBe(false);
    }
  });

  it('splitEndpoint takes the brackets off an IPv6 host and leaves the host unchecked', () => {
    expect(splitEndpoint('[2001:DB8::1]:51820')).toEqual({ host: '2001:DB8::1', bracketed: true, port: 51820 });
    expect(splitEndpoint('not_checked:080')).toEqual({ host: 'not_checked', bracketed: false, port: 80 });
    for (const bad of ['2001:db8::1:51820', 'host', 'host:0', '[host]:1', 'a:b:1']) expect(splitEndpoint(bad), bad).toBeNull();
  });
});
