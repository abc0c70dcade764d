// Address parsing and allocation: the rules INTERNAL_SUBNET and WORKER_IP_RANGE are checked against.
import { describe, expect, it } from 'vitest';
import {
  assertRangeInside,
  broadcastAddress,
  formatCidr,
  formatRange,
  hubAddress,
  intToIp,
  ipToInt,
  lowestFreeFrom,
  parseCidr,
  parseRange,
  rangeInside,
  rangeSize,
  subnetContains,
  usableRange,
} from '../../src/domain/ipam.js';

describe('ipToInt / intToIp', () => {
  it('round-trips the corners of the address space', () => {
    for (const ip of ['0.0.0.0', '10.100.0.1', '127.0.0.1', '192.168.255.254', '255.255.255.255']) {
      expect(intToIp(ipToInt(ip))).toBe(ip);
    }
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
    expect(ipToInt('10.100.0.1')).toBe(0x0a640001);
  });

  it('rejects anything but four plain decimal octets', () => {
    for (const bad of ['', '10.100.0', '10.100.0.1.2', '10.100.0.256', '10.100.0.-1', '010.100.0.1', '10.100.0.01',
      ' 10.100.0.1', '10.100.0.1 ', '10.100.0.x', '0x0a.100.0.1', '10..0.1', '1e1.0.0.1', '::1']) {
      expect(() => ipToInt(bad), bad).toThrow(/is not an IPv4 address/);
    }
  });

  it('rejects non-uint32 values', () => {
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) expect(() => intToIp(bad)).toThrow(RangeError);
  });
});

describe('parseCidr', () => {
  it('parses the default subnet and computes its hub, broadcast and usable addresses', () => {
    const subnet = parseCidr('10.100.0.0/16');
    expect(subnet).toEqual({ network: ipToInt('10.100.0.0'), prefix: 16 });
    expect(intToIp(hubAddress(subnet))).toBe('10.100.0.1');
    expect(intToIp(broadcastAddress(subnet))).toBe('10.100.255.255');
    expect(formatRange(usableRange(subnet))).toBe('10.100.0.1–10.100.255.254');
    expect(formatCidr(subnet)).toBe('10.100.0.0/16');
  });

  it('masks host bits, so a wg-quick style "10.100.0.1/16" means the same subnet', () => {
    expect(parseCidr('10.100.7.9/16')).toEqual(parseCidr('10.100.0.0/16'));
    expect(formatCidr(parseCidr('192.168.1.77/30'))).toBe('192.168.1.76/30');
    expect(intToIp(hubAddress(parseCidr('192.168.1.77/30')))).toBe('192.168.1.77');
  });

  it('accepts the limits /8 and /30 and trims surrounding space', () => {
    expect(parseCidr('10.0.0.0/8').prefix).toBe(8);
    expect(parseCidr(' 10.0.0.4/30 ')).toEqual({ network: ipToInt('10.0.0.4'), prefix: 30 });
  });

  it('rejects malformed text and prefixes outside /8–/30', () => {
    expect(() => parseCidr('10.100.0.0')).toThrow(/not a subnet/);
    expect(() => parseCidr('10.100.0.0/')).toThrow(/no valid prefix/);
    expect(() => parseCidr('10.100.0.0/abc')).toThrow(/no valid prefix/);
    expect(() => parseCidr('10.100.0.0/-1')).toThrow(/no valid prefix/);
    expect(() => parseCidr('10.100.0.0/016')).toThrow(/no valid prefix/);
    expect(() => parseCidr('10.100.0.0/16/2')).toThrow(/no valid prefix/);
    expect(() => parseCidr('10.100.0/16')).toThrow(/not an IPv4 address/);
    expect(() => parseCidr('10.0.0.0/7')).toThrow(/outside \/8-\/30/);
    expect(() => parseCidr('10.0.0.0/31')).toThrow(/outside \/8-\/30/);
    expect(() => parseCidr('10.0.0.0/32')).toThrow(/outside \/8-\/30/);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/outside \/8-\/30/);
  });

  it('knows which addresses a subnet contains', () => {
    const subnet = parseCidr('10.100.0.0/16');
    expect(subnetContains(subnet, ipToInt('10.100.255.255'))).toBe(true);
    expect(subnetContains(subnet, ipToInt('10.101.0.0'))).toBe(false);
    expect(subnetContains(subnet, ipToInt('10.99.255.255'))).toBe(false);
  });
});

describe('parseRange / rangeInside', () => {
  const subnet = parseCidr('10.100.0.0/16');

  it('parses the default worker range, a single address and a whole /16', () => {
    const range = parseRange('10.100.1.2-10.100.1.254');
    expect(range).toEqual({ first: ipToInt('10.100.1.2'), last: ipToInt('10.100.1.254') });
    expect(rangeSize(range)).toBe(253);
    expect(rangeSize(parseRange('10.100.1.9-10.100.1.9'))).toBe(1);
    expect(parseRange(' 10.100.0.2 - 10.100.255.254 ')).toEqual({ first: ipToInt('10.100.0.2'), last: ipToInt('10.100.255.254') });
  });

  it('rejects malformed ranges and reversed bounds', () => {
    expect(() => parseRange('10.100.1.2')).toThrow(/not an address range/);
    expect(() => parseRange('10.100.1.2-10.100.1.3-10.100.1.4')).toThrow(/not an address range/);
    expect(() => parseRange('10.100.1.2-')).toThrow(/not an IPv4 address/);
    expect(() => parseRange('10.100.1.300-10.100.1.301')).toThrow(/not an IPv4 address/);
    expect(() => parseRange('10.100.1.9-10.100.1.2')).toThrow(/first address is above the last/);
  });

  it('accepts ranges of usable addresses only', () => {
    expect(rangeInside(parseRange('10.100.1.2-10.100.1.254'), subnet)).toBe(true);
    expect(rangeInside(parseRange('10.100.0.1-10.100.255.254'), subnet)).toBe(true);
    // Partly or wholly outside, or touching the network or broadcast address.
    expect(rangeInside(parseRange('10.99.255.250-10.100.0.5'), subnet)).toBe(false);
    expect(rangeInside(parseRange('10.100.255.250-10.101.0.5'), subnet)).toBe(false);
    expect(rangeInside(parseRange('192.168.1.2-192.168.1.254'), subnet)).toBe(false);
    expect(rangeInside(parseRange('10.100.0.0-10.100.0.9'), subnet)).toBe(false);
    expect(rangeInside(parseRange('10.100.255.200-10.100.255.255'), subnet)).toBe(false);
  });

  it('explains a range outside the subnet', () => {
    expect(() => assertRangeInside(parseRange('10.100.1.2-10.101.0.5'), subnet)).toThrow(
      '10.100.1.2–10.101.0.5 is not inside 10.100.0.0/16 (usable addresses are 10.100.0.1–10.100.255.254)',
    );
    expect(() => assertRangeInside(parseRange('10.100.1.2-10.100.1.254'), subnet)).not.toThrow();
  });
});

describe('lowestFreeFrom', () => {
  const range = parseRange('10.100.1.2-10.100.1.6');
  const ips = (...texts: string[]) => texts.map(ipToInt).sort((a, b) => a - b);
  const free = (used: number[], exclude = new Set<number>(), start = range.first) => {
    const address = lowestFreeFrom(range, start, used, exclude);
    return address === null ? null : intToIp(address);
  };

  it('takes the first address of an empty range', () => {
    expect(free([])).toBe('10.100.1.2');
  });

  it('fills the lowest gap first, so freed addresses are reused', () => {
    expect(free(ips('10.100.1.2', '10.100.1.3', '10.100.1.5'))).toBe('10.100.1.4');
    expect(free(ips('10.100.1.3', '10.100.1.4'))).toBe('10.100.1.2');
    expect(free(ips('10.100.1.2', '10.100.1.3', '10.100.1.4', '10.100.1.5'))).toBe('10.100.1.6');
  });

  it('skips excluded addresses and ignores used addresses outside the range', () => {
    expect(free(ips('10.100.1.3'), new Set(ips('10.100.1.2')))).toBe('10.100.1.4');
    expect(free(ips('10.100.0.1', '10.100.1.1', '10.100.1.7'))).toBe('10.100.1.2');
  });

  it('returns null when every address is used or excluded', () => {
    expect(free(ips('10.100.1.2', '10.100.1.3', '10.100.1.5', '10.100.1.6'), new Set(ips('10.100.1.4')))).toBeNull();
  });

  it('searches from the start given, below which everything is known to be taken', () => {
    expect(free(ips('10.100.1.4', '10.100.1.5'), new Set(), ipToInt('10.100.1.4'))).toBe('10.100.1.6');
    expect(free(ips('10.100.1.5'), new Set(), ipToInt('10.100.1.4'))).toBe('10.100.1.4');
    expect(free(ips('10.100.1.6'), new Set(), ipToInt('10.100.1.6'))).toBeNull();
    expect(free([], new Set(), ipToInt('10.100.1.1'))).toBe('10.100.1.2'); // never below the range
  });

  it('reads the used addresses only up to the first gap', () => {
    const whole = usableRange(parseCidr('10.100.0.0/16'));
    let read = 0;
    function* used() {
      for (let a = whole.first; a < whole.first + 5000; a++) {
        read++;
        yield a;
      }
      for (let a = whole.first + 5001; a <= whole.last; a++) {
        read++;
        yield a;
      }
    }
    expect(lowestFreeFrom(whole, whole.first, used(), new Set())).toBe(whole.first + 5000);
    expect(read).toBe(5001);
    // A full /16 answers null.
    function* all() {
      for (let a = whole.first; a <= whole.last; a++) yield a;
    }
    expect(lowestFreeFrom(whole, whole.first, all(), new Set())).toBeNull();
  });
});
