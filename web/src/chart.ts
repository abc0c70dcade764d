// The node detail's traffic chart: received and sent per interval over the last hour, as an SVG.
import { svg } from './dom.js';
import { formatBitRate } from './format.js';
import type { NodeHistoryView } from './types.js';

const W = 1000;
const H = 240;
const PAD = { left: 80, right: 12, top: 12, bottom: 26 };

export function trafficChart(history: NodeHistoryView): SVGSVGElement {
  const seconds = history.intervalMs / 1000;
  const points = history.traffic;
  const max = Math.max(1, ...points.map((p) => Math.max(p.rx, p.tx)));
  const x = (i: number) => PAD.left + (i / Math.max(1, points.length - 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const line = (pick: (p: { rx: number; tx: number }) => number) =>
    points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(pick(p)).toFixed(1)}`).join('');
  const grid = [0, 0.5, 1].map((f) => {
    const v = max * f;
    return svg('g', { class: 'grid' }, svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }), svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatBitRate(v, seconds)));
  });
  const labels = [
    svg('text', { x: PAD.left, y: H - 6 }, '60 min ago'),
    svg('text', { x: (W + PAD.left) / 2, y: H - 6, 'text-anchor': 'middle' }, '30 min'),
    svg('text', { x: W - PAD.right, y: H - 6, 'text-anchor': 'end' }, 'now'),
  ];
  return svg(
    'svg',
    { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Traffic over the last hour', 'data-testid': 'traffic-chart' },
    ...grid,
    ...labels,
    svg('path', { class: 'rx', d: line((p) => p.rx) }),
    svg('path', { class: 'tx', d: line((p) => p.tx) }),
  );
}
