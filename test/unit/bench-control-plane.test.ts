// The control-plane benchmark's figures: registrations per second by thousand come from when each
// registration was answered, so a registration whose cost grows with the fleet shows as a falling rate.
import { describe, expect, it } from 'vitest';
import { controlPlaneMarkdown, latencyFigures, ratesByBlock, type ControlPlaneResult } from '../../src/bench/control-figures.js';

describe('control-plane bench figures', () => {
  it('rates each block from the end of the block before it, with its own latencies', () => {
    // 2,500 registrations: the first thousand in 4 s, the second in 8 s, the last 500 in 1 s.
    const completedAt = [
      ...Array.from({ length: 1000 }, (_, i) => (i + 1) * 4),
      ...Array.from({ length: 1000 }, (_, i) => 4000 + (i + 1) * 8),
      ...Array.from({ length: 500 }, (_, i) => 12000 + (i + 1) * 2),
    ];
    const latencies: number[] = completedAt.map((_, i) => (i < 1000 ? 10 : i < 2000 ? 20 : 5));
    latencies[1999] = 500;
    const blocks = ratesByBlock(completedAt, latencies);
    expect(blocks.map((b) => [b.from, b.to, b.perSecond])).toEqual([
      [0, 1000, 250],
      [1000, 2000, 125],
      [2000, 2500, 500],
    ]);
    expect(blocks.map((b) => [b.latencyP50Ms, b.latencyP99Ms])).toEqual([
      [10, 10],
      [20, 20],
      [5, 5],
    ]);
    expect(ratesByBlock(completedAt.slice(0, 1000), latencies.slice(0, 1000), 500).map((b) => b.perSecond)).toEqual([250, 250]);
  });

  it('needs one latency per registration', () => {
    expect(() => ratesByBlock([1, 2], [1])).toThrow(/one latency per completed registration/);
  });

  it('reports latencies by percentile and the idle CPU as a share of a core', () => {
    const l = latencyFigures('/api/nodes/list?limit=100', 200, 38_912, Array.from({ length: 100 }, (_, i) => i + 1));
    expect(l).toMatchObject({ p50Ms: 50, p99Ms: 99, maxMs: 100, requests: 100 });
    const result: ControlPlaneResult = {
      version: 1,
      date: '2026-12-05T00:00:00.000Z',
      machine: { cpus: 2, model: 'test', kernel: 'test', node: 'v20' },
      options: { nodes: 2000, concurrency: 32, idleSeconds: 60, workerRange: '10.100.1.2-10.100.40.254' },
      registration: { seconds: 12, byThousand: ratesByBlock([4000, 12000], [1, 1], 1), lastToFirst: 0.5 },
      lists: [l],
      idle: { seconds: 60, cpuSeconds: 0.3, percentOfCore: 0.5, byThread: { main: 0.2, others: 0.1 } },
    };
    const md = controlPlaneMarkdown(result);
    expect(md).toContain('last thousand at 50 % of the first');
    expect(md).toContain('| /api/nodes/list?limit=100 | 200 | 38912 | 50.00 | 99.00 | 100.00 | 100 |');
    expect(md).toContain('0.30 CPU s in 60 s = 0.50 % of a core (JS thread 0.20 s, other threads 0.10 s)');
  });
});
