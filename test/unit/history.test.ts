// The node detail's history (src/nodes/history.ts): traffic per 10 s over an hour, handshakes.
import { describe, expect, it } from 'vitest';
import { NodeHistory } from '../../src/nodes/history.js';
import type { Node } from '../../src/domain/node.js';
import { aNode } from '../helpers/node.js';

const T0 = Date.parse('2026-11-26T12:00:00Z');
const node = (rx: number, tx: number, hs: string | null = null): Node => aNode('w1', { lastHandshakeAt: hs, rxBytes: rx, txBytes: tx });

describe('NodeHistory', () => {
  it('counts the bytes of each 10 s interval; the first sight is only a baseline', () => {
    const h = new NodeHistory();
    h.record([node(5000, 100)], T0); // counters from before: not traffic "now"
    h.record([node(6000, 300)], T0 + 1000);
    h.record([node(6500, 300)], T0 + 9000);
    h.record([node(9000, 400)], T0 + 10_000);
    const v = h.view('w1', T0 + 10_000);
    expect(v.traffic).toHaveLength(360);
    expect(v.traffic.at(-1)).toEqual({ at: T0 + 10_000, rx: 2500, tx: 100 });
    expect(v.traffic.at(-2)).toEqual({ at: T0, rx: 1500, tx: 200 });
    expect(v.traffic.slice(0, -2).every((p) => p.rx === 0 && p.tx === 0)).toBe(true);
  });

  it('a counter that goes down (the device restarted) counts from zero, never negative', () => {
    const h = new NodeHistory();
    h.record([node(1000, 1000)], T0);
    h.record([node(300, 50)], T0 + 1000);
    expect(h.view('w1', T0 + 1000).traffic.at(-1)).toEqual({ at: T0, rx: 300, tx: 50 });
  });

  it('keeps one hour: older intervals fall off', () => {
    const h = new NodeHistory();
    h.record([node(0, 0)], T0);
    h.record([node(100, 0)], T0 + 1000);
    h.record([node(200, 0)], T0 + 3_600_000 + 5000);
    const v = h.view('w1', T0 + 3_600_000 + 5000);
    expect(v.traffic[0]!.at).toBe(T0 + 10_000);
    expect(v.traffic.reduce((s, p) => s + p.rx, 0)).toBe(100);
  });

  it('lists handshakes newest first, at most 50, and forgets deleted nodes', () => {
    const h = new NodeHistory();
    const at = (i: number) => new Date(T0 + i * 120_000).toISOString();
    h.record([node(0, 0, at(0))], T0);
    for (let i = 1; i <= 60; i++) h.record([node(0, 0, at(i))], T0 + i * 120_000);
    h.record([node(0, 0, at(60))], T0 + 60 * 120_000 + 1000); // the same handshake seen again
    const v = h.view('w1', T0 + 60 * 120_000);
    expect(v.handshakes).toHaveLength(50);
    expect(v.handshakes[0]).toBe(at(60));
    expect(v.handshakes[1]).toBe(at(59));
    h.forget('w1');
    expect(h.view('w1').handshakes).toEqual([]);
  });

  it('a node not read in an interval (its figures did not move) shows no traffic there, and its next move counts in full', () => {
    const h = new NodeHistory();
    h.record([node(100, 100), aNode('w2', { rxBytes: 7, txBytes: 7 })], T0);
    h.record([node(600, 100)], T0 + 30_000); // w2 did not move: not read
    h.record([aNode('w2', { rxBytes: 10, txBytes: 7 })], T0 + 40_000);
    const w1 = h.view('w1', T0 + 40_000).traffic;
    expect(w1.at(-2)).toEqual({ at: T0 + 30_000, rx: 500, tx: 0 });
    expect(w1.filter((p) => p.rx > 0)).toHaveLength(1);
    const w2 = h.view('w2', T0 + 40_000).traffic;
    expect(w2.at(-1)).toEqual({ at: T0 + 40_000, rx: 3, tx: 0 });
    expect(w2.slice(0, -1).every((p) => p.rx === 0 && p.tx === 0)).toBe(true);
  });
});
