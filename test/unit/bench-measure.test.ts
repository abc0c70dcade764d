// The benchmark's UDP figure counts what arrived: a tunnel that stalls under a UDP flood must read
// as 100 % loss, not as the sender's rate with no loss (iperf3 reports 0 lost when nothing arrives).
import { describe, expect, it } from 'vitest';
import { udpResult } from '../../src/bench/measure.js';

const report = (sent: number, receivedBytes: number, seconds = 2) => ({
  end: { sum_sent: { packets: sent }, sum_received: { bytes: receivedBytes, seconds } },
});

describe('bench UDP figures', () => {
  it('a stalled tunnel is 0 pps and 100 % loss', () => {
    expect(udpResult(report(500_000, 0))).toEqual({ pps: 0, lossPercent: 100 });
  });

  it('rate and loss come from the datagrams the server received', () => {
    const r = udpResult(report(400_000, 100_000 * 1400, 2));
    expect(r.pps).toBe(50_000);
    expect(r.lossPercent).toBe(75);
  });

  it('everything arriving is 0 % loss', () => {
    expect(udpResult(report(1000, 1000 * 1400, 1))).toEqual({ pps: 1000, lossPercent: 0 });
  });

  it('a report without sent datagrams is an error, not a figure', () => {
    expect(() => udpResult(report(0, 0))).toThrow(/sent no UDP datagrams/);
  });
});
