// The dashboard's formatting of ages, sizes, rates and durations (web/src/format.ts).
import { describe, expect, it } from 'vitest';
import { formatAge, formatBitRate, formatBytes, formatDuration, formatExpiry, pathSummary } from '../src/format.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();

describe('formatAge', () => {
  it.each([
    [0, 'just now'],
    [4, 'just now'],
    [12, '12 s ago'],
    [59, '59 s ago'],
    [60, '1 min ago'],
    [179, '2 min ago'],
    [3599, '59 min ago'],
    [3600, '1 h ago'],
    [86_399, '23 h ago'],
    [86_400, '1 d ago'],
    [10 * 86_400, '10 d ago'],
  ])('%i s → %s', (s, text) => expect(formatAge(ago(s), NOW)).toBe(text));

  it('never, a clock skew, garbage', () => {
    expect(formatAge(null, NOW)).toBe('never');
    expect(formatAge(ago(-30), NOW)).toBe('just now');
    expect(formatAge('not a date', NOW)).toBe('unknown');
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536, '1.50 KiB'],
    [10 * 1024, '10.0 KiB'],
    [1023.99 * 1024, '1.00 MiB'],
    [23.4 * 1024 ** 2, '23.4 MiB'],
    [118 * 1024 ** 3, '118 GiB'],
    [5 * 1024 ** 4, '5.00 TiB'],
    [2 ** 53, '8.00 PiB'],
  ])('%d → %s', (n, text) => expect(formatBytes(n)).toBe(text));

  it('nonsense is a dash, not NaN', () => {
    expect(formatBytes(-1)).toBe('–');
    expect(formatBytes(Number.NaN)).toBe('–');
  });
});

describe('formatBitRate', () => {
  it.each([
    [0, 10, '0 bit/s'],
    [125, 1, '1.00 kbit/s'],
    [1_250_000, 10, '1.00 Mbit/s'],
    [150_000_000, 1, '1.20 Gbit/s'],
    [100, 0, '0 bit/s'],
  ])('%d bytes in %d s → %s', (b, s, text) => expect(formatBitRate(b, s)).toBe(text));
});

describe('formatDuration and formatExpiry', () => {
  it.each([
    [42, '42 s'],
    [300, '5 min'],
    [3 * 3600 + 12 * 60 + 5, '3 h 12 min'],
    [4 * 86_400 + 2 * 3600, '4 d 2 h'],
    [-5, '0 s'],
  ])('duration %i → %s', (s, text) => expect(formatDuration(s)).toBe(text));

  it.each([
    [-1, 'expired'],
    [0, 'expired'],
    [30, 'in 30 s'],
    [5 * 60, 'in 5 min'],
    [23 * 3600 + 59 * 60, 'in 23 h'],
    [3 * 86_400, 'in 3 d'],
  ])('expiry in %i s → %s', (s, text) => expect(formatExpiry(new Date(NOW + s * 1000).toISOString(), NOW)).toBe(text));
});

describe('pathSummary', () => {
  const agent = { reported_at: '2026-12-05T12:00:00Z', credential_issued_at: '2026-12-05T11:00:00Z' };
  it("counts a node's pairs by state, and says why a node has none", () => {
    const p = (state: string) => ({ state });
    expect(pathSummary({ agent, paths: [p('direct'), p('relayed'), p('direct')] })).toBe('2 direct · 1 relayed');
    expect(pathSummary({ agent, paths: [] })).toBe('agent, no pairs');
    expect(pathSummary({ agent: { ...agent, reported_at: null }, paths: [] })).toBe('agent silent: relayed');
    expect(pathSummary({ agent: { reported_at: null, credential_issued_at: null }, paths: [] })).toBe('no agent: relayed');
  });
});
