import { h, svg } from './dom.js';
import { usdShort } from './format.js';
import type { CostReport } from './types.js';

const COLORS = ['#4f7cff', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];
const MAX_SERIES = COLORS.length - 1;
const W = 640;
const H = 220;
const PAD = { left: 56, right: 8, top: 10, bottom: 28 };

/**
 * A stacked bar chart of spend per time bucket, one colour per series (model, feature, …). The
 * biggest series get their own colour; the rest are drawn together as "other".
 */
export function stackedBarChart(title: string, report: CostReport, buckets: string[], testId: string): HTMLElement {
  const totals = new Map<string, number>();
  for (const g of report.groups) {
    const name = g.series ?? '(none)';
    totals.set(name, (totals.get(name) ?? 0) + Number(g.costUsd));
  }
  // Series with no spend (only unpriced calls) draw nothing, so they stay out of the legend too.
  const ranked = [...totals.entries()].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([name]) => name);
  const named = ranked.slice(0, ranked.length > MAX_SERIES + 1 ? MAX_SERIES : ranked.length);
  const seriesOf = (s: string | null | undefined) => (named.includes(s ?? '(none)') ? (s ?? '(none)') : 'other');
  const series = ranked.length > named.length ? [...named, 'other'] : named;

  // bucket → series → cost (numbers only for drawing; the tooltips quote the API's strings)
  const cells = new Map<string, Map<string, { cost: number; label: string }>>();
  for (const g of report.groups) {
    const b = g.bucket ?? g.key ?? '';
    const row = cells.get(b) ?? new Map();
    const s = seriesOf(g.series);
    const cost = (row.get(s)?.cost ?? 0) + Number(g.costUsd);
    row.set(s, { cost, label: usdShort(String(cost)) });
    cells.set(b, row);
  }
  const max = Math.max(0, ...[...cells.values()].map((row) => [...row.values()].reduce((a, c) => a + c.cost, 0)));

  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, Math.min(28, slot * 0.7));
  const y = (v: number) => (max > 0 ? (v / max) * plotH : 0);

  const parts: SVGElement[] = [];
  for (const frac of [0, 0.5, 1]) {
    const yy = PAD.top + plotH - frac * plotH;
    parts.push(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, class: 'grid' }));
    parts.push(svg('text', { x: PAD.left - 6, y: yy + 4, class: 'axis', 'text-anchor': 'end' }, usdShort(String(max * frac))));
  }
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  buckets.forEach((bucket, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let base = PAD.top + plotH;
    const row = cells.get(bucket);
    series.forEach((s, k) => {
      const cell = row?.get(s);
      if (!cell || cell.cost <= 0) return;
      const hgt = Math.max(1, y(cell.cost));
      base -= hgt;
      parts.push(
        svg('rect', { x, y: base, width: barW, height: hgt, fill: COLORS[k % COLORS.length], class: 'bar', 'data-series': s },
          svg('title', {}, `${s} · ${bucket.slice(0, 16).replace('T', ' ')} · ${cell.label}`)),
      );
    });
    if (i % labelEvery === 0)
      parts.push(svg('text', { x: x + barW / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, bucketLabel(bucket, buckets)));
  });

  const legend = h('ul', { class: 'legend' }, ...series.map((s, k) => h('li', {}, h('span', { class: `swatch c${k % COLORS.length}` }), s)));
  return h(
    'section',
    { class: 'card chart', 'data-testid': testId },
    h('h3', {}, title, h('span', { class: 'muted' }, ` · ${usdShort(report.totalCostUsd)} total`)),
    report.groups.length === 0 ? h('p', { class: 'muted empty' }, 'No spend in this range.') : svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title }, ...parts),
    legend,
  );
}

function bucketLabel(bucket: string, all: string[]): string {
  const hourly = all.length > 1 && Date.parse(all[1]) - Date.parse(all[0]) < 86_400_000;
  return hourly ? bucket.slice(11, 16) : bucket.slice(5, 10);
}

/** Every bucket start in [from, to), so empty days still take their place on the axis. */
export function bucketStarts(from: Date, to: Date, unit: 'hour' | 'day' | 'week'): string[] {
  const out: string[] = [];
  const d = new Date(from);
  if (unit === 'hour') d.setUTCMinutes(0, 0, 0);
  else {
    d.setUTCHours(0, 0, 0, 0);
    if (unit === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7)); // ISO weeks start on Monday
  }
  const step = unit === 'hour' ? 3_600_000 : unit === 'day' ? 86_400_000 : 7 * 86_400_000;
  for (let t = d.getTime(); t < to.getTime() && out.length < 2000; t += step) out.push(new Date(t).toISOString());
  return out;
}
