import type { AdminApi } from './api.js';
import { bucketStarts, stackedBarChart } from './chart.js';
import { clear, h } from './dom.js';
import { dateTime, duration, usdExact, usdShort } from './format.js';
import type { CostReport, TraceList, TraceSummary } from './types.js';

/** The list's state, kept in the URL hash so a view can be bookmarked and shared. */
export interface ListState {
  from: string;
  to: string;
  feature: string;
  user: string;
  service: string;
  tag: string;
  minCost: string;
  sort: 'time' | 'cost';
  order: 'asc' | 'desc';
}

const FILTERS: [keyof ListState, string, string][] = [
  ['from', 'From', 'date'],
  ['to', 'To', 'date'],
  ['feature', 'Feature', 'text'],
  ['user', 'User', 'text'],
  ['service', 'Service', 'text'],
  ['tag', 'Tag (key:value)', 'text'],
  ['minCost', 'Min cost $', 'text'],
];

export function defaultState(): ListState {
  const to = new Date(Date.now() + 86_400_000);
  const from = new Date(to.getTime() - 31 * 86_400_000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10), feature: '', user: '', service: '', tag: '', minCost: '', sort: 'time', order: 'desc' };
}

export function stateFromQuery(params: URLSearchParams): ListState {
  const s = defaultState();
  for (const key of Object.keys(s) as (keyof ListState)[]) {
    const v = params.get(key);
    if (v !== null) (s as unknown as Record<string, string>)[key] = v;
  }
  if (s.sort !== 'cost') s.sort = 'time';
  if (s.order !== 'asc') s.order = 'desc';
  return s;
}

export function stateToQuery(s: ListState): string {
  const p = new URLSearchParams();
  const d = defaultState();
  for (const [k, v] of Object.entries(s)) if (v && v !== (d as unknown as Record<string, string>)[k]) p.set(k, v);
  return p.toString();
}

function apiFilters(s: ListState): Record<string, string | undefined> {
  return { from: s.from || undefined, to: s.to || undefined, feature: s.feature, user: s.user, service: s.service, tag: s.tag, minCost: s.minCost };
}

export async function renderTraces(root: HTMLElement, api: AdminApi, state: ListState, navigate: (s: ListState) => void): Promise<void> {
  clear(root);
  const inputs = new Map<keyof ListState, HTMLInputElement>();
  const form = h(
    'form',
    { class: 'filters card', 'data-testid': 'filters' },
    ...FILTERS.map(([key, label, type]) => {
      const input = h('input', { name: key, type, value: state[key] as string, placeholder: label });
      inputs.set(key, input);
      return h('label', {}, h('span', {}, label), input);
    }),
    h('button', { type: 'submit' }, 'Apply'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = { ...state };
    for (const [key, input] of inputs) (next as unknown as Record<string, string>)[key] = input.value.trim();
    navigate(next);
  });

  const charts = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading charts…'));
  const table = h('table', { class: 'traces', 'data-testid': 'traces-table' });
  const status = h('p', { class: 'muted' }, 'Loading traces…');
  const more = h('button', { class: 'more', type: 'button', hidden: true }, 'Load more');
  root.append(form, charts, h('section', { class: 'card' }, h('h3', {}, 'Traces'), table, status, more));

  const sortHeader = (label: string, key: 'time' | 'cost') => {
    const active = state.sort === key;
    const arrow = active ? (state.order === 'desc' ? ' ↓' : ' ↑') : '';
    return h('th', { class: `sortable${active ? ' active' : ''}`, 'data-sort': key, onclick: () => navigate({ ...state, sort: key, order: active && state.order === 'desc' ? 'asc' : 'desc' }) }, label + arrow);
  };
  table.append(
    h('thead', {}, h('tr', {}, sortHeader('Started', 'time'), h('th', {}, 'Name'), h('th', {}, 'Feature'), h('th', {}, 'User'), h('th', { class: 'num' }, 'Calls'), h('th', { class: 'num' }, 'Duration'), sortHeader('Cost', 'cost'))),
  );
  const tbody = h('tbody');
  table.append(tbody);

  const row = (t: TraceSummary) =>
    h(
      'tr',
      { 'data-trace-id': t.traceId, class: t.status === 'error' ? 'error' : '', onclick: () => (location.hash = `#/trace/${t.traceId}`) },
      h('td', {}, dateTime(t.startedAt)),
      h('td', {}, h('a', { href: `#/trace/${t.traceId}` }, t.name ?? t.traceId.slice(0, 8))),
      h('td', {}, t.feature ?? ''),
      h('td', {}, t.userId ?? ''),
      h('td', { class: 'num' }, String(t.callCount), t.unpricedCallCount ? h('span', { class: 'warn' }, ` (${t.unpricedCallCount} unpriced)`) : null),
      h('td', { class: 'num' }, duration(t.durationMs)),
      h('td', { class: 'num cost', title: usdExact(t.totalCostUsd) }, usdShort(t.totalCostUsd)),
    );

  let cursor: string | null = null;
  const load = async () => {
    more.hidden = true;
    const page = await api.get<TraceList>('traces', { ...apiFilters(state), sort: state.sort, order: state.order, limit: '50', cursor: cursor ?? undefined });
    for (const t of page.items) tbody.append(row(t));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    status.textContent = tbody.children.length === 0 ? 'No traces match.' : `${tbody.children.length} trace${tbody.children.length === 1 ? '' : 's'}${cursor ? ' shown' : ''}`;
  };
  more.addEventListener('click', () => void load().catch((e) => (status.textContent = String(e.message))));

  await Promise.all([load(), renderCharts(charts, api, state)]);
}

async function renderCharts(el: HTMLElement, api: AdminApi, state: ListState): Promise<void> {
  const to = state.to ? new Date(state.to) : new Date();
  const from = state.from ? new Date(state.from) : new Date(to.getTime() - 30 * 86_400_000);
  const days = (to.getTime() - from.getTime()) / 86_400_000;
  const unit = days <= 3 ? 'hour' : days <= 120 ? 'day' : 'week';
  const query = { ...apiFilters(state), from: from.toISOString(), to: to.toISOString(), groupBy: unit, minCost: undefined };
  const [byModel, byFeature] = await Promise.all([
    api.get<CostReport>('costs', { ...query, series: 'model' }),
    api.get<CostReport>('costs', { ...query, series: 'tag:feature' }),
  ]);
  const buckets = bucketStarts(from, to, unit);
  clear(el);
  el.append(stackedBarChart('Spend by model', byModel, buckets, 'chart-model'), stackedBarChart('Spend by feature', byFeature, buckets, 'chart-feature'));
}
