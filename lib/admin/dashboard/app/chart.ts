import { addDecimal } from './decimal.js';
import { h, svg } from './dom.js';
import { localTime, usdExact, usdShort } from './format.js';
import type { CostReport } from './types.js';

const COLORS = ['#4f7cff', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];
const MAX_SERIES = COLORS.length - 1;
/** The drawing's width: the card's on a phone (so 11 px text stays 11 px), 640 units otherwise. */
const width = () => Math.round(Math.min(640, Math.max(300, (typeof window === 'undefined' ? 640 : window.innerWidth) - 40)));
const H = 220;
const PAD = { right: 8, top: 10, bottom: 28 };
/** Width of one character of the axis font (11 px), generous: a clipped `$` misreads the axis. */
const CHAR_W = 7;

/**
 * Round ticks from 0 to at least `max`: 1, 2, 2.5 or 5 times a power of ten per step, about four
 * steps, with as many decimals as the step needs (so $0.0025 is not printed as $0.003).
 */
export function niceTicks(max: number): { ticks: number[]; decimals: number } {
  if (!(max > 0)) return { ticks: [0], decimals: 0 };
  const raw = max / 4;
  const exp = Math.floor(Math.log10(raw));
  const m = [1, 2, 2.5, 5, 10].find((x) => x * 10 ** exp >= raw * 0.999) ?? 10;
  const step = m * 10 ** exp;
  // Decimals of the step itself: 10^exp needs -exp of them, a 2.5 one more, a 10 one fewer.
  const decimals = Math.max(0, -exp + (m === 2.5 ? 1 : 0) - (m === 10 ? 1 : 0));
  const n = Math.ceil(max / step - 1e-9);
  const ticks = Array.from({ length: n + 1 }, (_, i) => Number((i * step).toFixed(decimals)));
  return { ticks, decimals };
}

/**
 * A stacked bar chart of spend per time bucket, one colour per series (model, feature, …). The
 * biggest series get their own colour; the rest are drawn together as "other".
 */
export function stackedBarChart(title: string, report: CostReport, buckets: string[], testId: string): HTMLElement {
  const W = width();
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

  // bucket → series → cost: numbers to draw, the exact decimal (summed exactly) for the tooltip.
  const cells = new Map<string, Map<string, { cost: number; exact: string }>>();
  for (const g of report.groups) {
    const b = g.bucket ?? g.key ?? '';
    const row = cells.get(b) ?? new Map();
    const s = seriesOf(g.series);
    const exact = addDecimal(row.get(s)?.exact ?? '0', g.costUsd);
    row.set(s, { cost: Number(exact), exact });
    cells.set(b, row);
  }
  const max = Math.max(0, ...[...cells.values()].map((row) => [...row.values()].reduce((a, c) => a + c.cost, 0)));
  const { ticks, decimals } = niceTicks(max);
  const top = ticks[ticks.length - 1];
  const labels = ticks.map((t) => `$${t.toFixed(decimals)}`);
  const left = Math.ceil(Math.max(...labels.map((l) => l.length)) * CHAR_W) + 12;

  const plotW = W - left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, Math.min(28, slot * 0.7));
  const y = (v: number) => (top > 0 ? (v / top) * plotH : 0);

  const parts: SVGElement[] = [];
  ticks.forEach((t, i) => {
    const yy = PAD.top + plotH - y(t);
    parts.push(svg('line', { x1: left, x2: W - PAD.right, y1: yy, y2: yy, class: 'grid' }));
    parts.push(svg('text', { x: left - 6, y: yy + 4, class: 'axis tick', 'text-anchor': 'end' }, labels[i]));
  });
  const hourly = buckets.length > 1 && Date.parse(buckets[1]) - Date.parse(buckets[0]) < 86_400_000;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / (W < 500 ? 5 : 8)));
  buckets.forEach((bucket, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let base = PAD.top + plotH;
    const row = cells.get(bucket);
    series.forEach((s, k) => {
      const cell = row?.get(s);
      if (!cell || cell.cost <= 0) return;
      // At least 2 px: a cent beside a hundred dollars must still show that it is there.
      const hgt = Math.max(2, y(cell.cost));
      base -= hgt;
      parts.push(
        svg('rect', { x, y: base, width: barW, height: hgt, fill: COLORS[k % COLORS.length], class: 'bar', 'data-series': s, 'data-cost': cell.exact },
          svg('title', {}, `${s} · ${hourly ? localTime(bucket) : `${bucket.slice(0, 10)} (UTC day)`} · ${usdExact(cell.exact)}`)),
      );
    });
    if (i % labelEvery === 0)
      parts.push(svg('text', { x: x + barW / 2, y: H - 8, class: 'axis', 'text-anchor': 'middle' }, hourly ? localTime(bucket).slice(11, 16) : bucket.slice(5, 10)));
  });

  const legend = h('ul', { class: 'legend' }, ...series.map((s, k) => h('li', {}, h('span', { class: `swatch c${k % COLORS.length}` }), s)));
  return h(
    'section',
    { class: 'card chart', 'data-testid': testId },
    h('h3', {}, title, h('span', { class: 'muted', title: usdExact(report.totalCostUsd) }, ` · ${usdShort(report.totalCostUsd)} total`)),
    report.groups.length === 0 ? h('p', { class: 'muted empty' }, 'No spend in this range.') : svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title }, ...parts),
    legend,
  );
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
