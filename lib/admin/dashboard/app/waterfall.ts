import { h } from './dom.js';
import { duration, usdExact, usdShort } from './format.js';
import type { Call, SpanNode, TraceDetail } from './types.js';

interface Row {
  kind: 'trace' | 'span' | 'call';
  depth: number;
  label: string;
  detail: string;
  start: number;
  end: number;
  cost: string | null;
  error: boolean;
  /** Spans with children or calls can be folded. */
  parent: boolean;
  href: string | null;
}

/**
 * Spans and calls on one timeline: each row a bar from its start to its end, its cost beside it
 * (a span's cost includes its descendants'). Children are listed by start time under their span;
 * a span's toggle folds them away.
 */
export function waterfall(detail: TraceDetail): HTMLElement {
  const calls = new Map(detail.calls.map((c) => [c.spanId, c]));
  const rows: Row[] = [];
  const walk = (node: SpanNode, depth: number) => {
    rows.push({
      kind: node.kind,
      depth,
      label: node.name ?? '(unnamed)',
      detail: `${node.callCount} call${node.callCount === 1 ? '' : 's'}`,
      start: Date.parse(node.startedAt ?? detail.trace.startedAt ?? ''),
      end: Date.parse(node.endedAt ?? detail.trace.endedAt ?? ''),
      cost: node.costUsd,
      error: node.status === 'error',
      parent: node.callIds.length + node.children.length > 0,
      href: null,
    });
    const items: { at: number; add: () => void }[] = [];
    for (const id of node.callIds) {
      const c = calls.get(id);
      if (c) items.push({ at: Date.parse(c.time), add: () => rows.push(callRow(c, depth + 1)) });
    }
    for (const child of node.children) items.push({ at: Date.parse(child.startedAt ?? ''), add: () => walk(child, depth + 1) });
    items.sort((a, b) => a.at - b.at);
    for (const item of items) item.add();
  };
  walk(detail.root, 0);

  const finite = rows.flatMap((r) => [r.start, r.end]).filter(Number.isFinite);
  const t0 = Math.min(...finite);
  const t1 = Math.max(...finite);
  const span = Math.max(1, t1 - t0);
  const pct = (t: number) => ((t - t0) / span) * 100;

  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h('span', { class: 'tick' }, duration(f * span)));
  const axis = h('div', { class: 'wf-row wf-axis' }, h('div', { class: 'wf-label' }, ''), h('div', { class: 'wf-track ticks' }, ...ticks), h('div', { class: 'wf-cost' }, 'cost'));
  const folded = new Set<number>();
  const elements: HTMLElement[] = [];
  // Hides every row under a folded span (a row is under it until the depth comes back up).
  const refresh = () => {
    let hideBelow = Infinity;
    rows.forEach((r, i) => {
      if (r.depth <= hideBelow) hideBelow = Infinity;
      elements[i].hidden = r.depth > hideBelow;
      if (!elements[i].hidden && folded.has(i)) hideBelow = r.depth;
    });
  };
  rows.forEach((r, i) => {
    const bar = h('div', {
      class: `wf-bar ${r.kind}${r.error ? ' error' : ''}`,
      'data-kind': r.kind,
      'data-cost': r.cost ?? '',
      title: `${r.label} · ${duration(r.end - r.start)} · ${usdExact(r.cost)}`,
    });
    const left = Number.isFinite(r.start) ? pct(r.start) : 0;
    const width = Number.isFinite(r.end) && Number.isFinite(r.start) ? pct(r.end) - left : 100 - left;
    // CSSOM, not a style attribute: allowed under the page's strict CSP.
    bar.style.left = `${left}%`;
    bar.style.width = `max(${width}%, 2px)`;
    let marker: HTMLElement;
    if (r.kind === 'call') marker = h('span', { class: 'kind call', 'aria-hidden': 'true' }, '◆');
    else if (r.parent) {
      const toggle = h('button', { type: 'button', class: 'kind toggle', 'aria-expanded': 'true', 'aria-label': `Fold ${r.label}`, title: 'Fold or unfold' }, '▾');
      toggle.addEventListener('click', () => {
        const fold = !folded.has(i);
        if (fold) folded.add(i);
        else folded.delete(i);
        toggle.textContent = fold ? '▸' : '▾';
        toggle.setAttribute('aria-expanded', String(!fold));
        refresh();
      });
      marker = toggle;
    } else marker = h('span', { class: 'kind' }, '');
    const name = r.href ? h('a', { href: r.href }, r.label) : r.label;
    const label = h('div', { class: 'wf-label' }, marker, name, h('span', { class: 'muted' }, ` ${r.detail}`));
    label.style.paddingLeft = `${r.depth * 14 + 4}px`;
    const el = h('div', { class: `wf-row ${r.kind}`, 'data-depth': r.depth }, label, h('div', { class: 'wf-track' }, bar), h('div', { class: 'wf-cost', title: usdExact(r.cost) }, usdShort(r.cost)));
    elements.push(el);
  });
  return h('section', { class: 'card waterfall', 'data-testid': 'waterfall' }, h('h3', {}, 'Timeline'), axis, ...elements);
}

function callRow(c: Call, depth: number): Row {
  const start = Date.parse(c.time);
  return {
    kind: 'call',
    depth,
    label: c.model,
    detail: `${c.provider} · ${c.inputTokens}→${c.outputTokens} tok${c.status === 'ok' ? '' : ` · ${c.status}${c.errorClass ? ` ${c.errorClass}` : ''}`}`,
    start,
    end: start + c.latencyMs,
    cost: c.costUsd,
    error: c.status !== 'ok',
    parent: false,
    href: callHref(c),
  };
}

/** A call's own page; its time lets the API read one month's partition. */
export function callHref(c: { spanId: string; time: string }): string {
  return `#/call/${c.spanId}?time=${encodeURIComponent(c.time)}`;
}
