import type { AdminApi } from './api.js';
import { bucketStarts, stackedBarChart } from './chart.js';
import { download, toCsv } from './csv.js';
import { clear, h, money, table, time } from './dom.js';
import { duration, localDate } from './format.js';
import { cacheSavings, featureCosts, panel, summaryCards, topTable } from './insights.view.js';
import { apiFilters, PRESETS, rangeOf, type ListState } from './list-state.js';
import type { CostReport, TraceList, TraceSummary } from './types.js';

export { defaultState, stateFromQuery, stateToQuery, type ListState } from './list-state.js';

const FILTERS: [keyof ListState, string, string][] = [
  ['from', 'From', 'date'],
  ['to', 'To (excl.)', 'date'],
  ['feature', 'Feature', 'text'],
  ['user', 'User', 'text'],
  ['service', 'Service', 'text'],
  ['tag', 'Tag (key:value)', 'text'],
  ['minCost', 'Min cost $', 'text'],
];
/** The CSV export's cap: 50 pages of the API's largest page. */
const CSV_MAX_ROWS = 10_000;

const card = (title: string, testId: string, ...rest: Node[]) =>
  h('section', { class: 'card', 'data-testid': testId }, h('h3', {}, title), ...(rest.length ? rest : [h('p', { class: 'muted' }, 'Loading…')]));

/** The overview: filters, summary figures, charts, top users and features, cost per run, cache savings, and the traces. */
export async function renderTraces(root: HTMLElement, api: AdminApi, state: ListState, navigate: (s: ListState) => void): Promise<void> {
  clear(root);
  const range = rangeOf(state);
  const filters = apiFilters(state, range);

  const inputs = new Map<keyof ListState, HTMLInputElement>();
  const presets = h(
    'div',
    { class: 'presets', role: 'group', 'aria-label': 'Range' },
    ...PRESETS.map(([key, label]) =>
      h('button', { type: 'button', class: `preset${state.range === key ? ' active' : ''}`, 'data-range': key, onclick: () => navigate({ ...state, range: key, from: '', to: '' }) }, label),
    ),
  );
  const form = h(
    'form',
    { class: 'filters card', 'data-testid': 'filters' },
    presets,
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
    // Dates typed in replace the preset.
    if (next.from || next.to) next.range = '';
    navigate(next);
  });

  const summary = h('section', { class: 'card' }, h('p', { class: 'muted' }, 'Loading summary…'));
  const charts = h('div', { class: 'charts' }, h('p', { class: 'muted' }, 'Loading charts…'));
  const users = card('Top users', 'card-top-users');
  const features = card('Top features', 'card-top-features');
  const perRun = card('Cost per workflow run, by feature', 'card-feature-costs');
  const cache = card('Cache savings', 'card-cache');
  const tableEl = h('table', { class: 'traces', 'data-testid': 'traces-table' });
  const status = h('p', { class: 'muted' }, 'Loading traces…');
  const more = h('button', { class: 'more', type: 'button', hidden: true }, 'Load more');
  const exportTraces = h('button', { type: 'button', class: 'secondary', 'data-testid': 'export-traces' }, 'Export CSV');
  const exportCosts = h('button', { type: 'button', class: 'secondary', 'data-testid': 'export-costs' }, 'Export cost report (CSV)');
  root.append(
    form,
    summary,
    charts,
    h('div', { class: 'export-row' }, exportCosts),
    h('div', { class: 'pair' }, users, features),
    h('div', { class: 'pair wide-first' }, perRun, cache),
    h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'Traces'), exportTraces), h('div', { class: 'table-wrap' }, tableEl), status, more),
  );

  const sortHeader = (label: string, key: 'time' | 'cost') => {
    const active = state.sort === key;
    const arrow = active ? (state.order === 'desc' ? ' ↓' : ' ↑') : '';
    return h('th', { class: `sortable${active ? ' active' : ''}${key === 'cost' ? ' num' : ''}`, 'data-sort': key, onclick: () => navigate({ ...state, sort: key, order: active && state.order === 'desc' ? 'asc' : 'desc' }) }, label + arrow);
  };
  tableEl.append(
    h('thead', {}, h('tr', {}, sortHeader('Started', 'time'), h('th', {}, 'Name'), h('th', {}, 'Feature'), h('th', {}, 'User'), h('th', { class: 'num' }, 'Calls'), h('th', { class: 'num' }, 'Duration'), sortHeader('Cost', 'cost'))),
  );
  const tbody = h('tbody');
  tableEl.append(tbody);

  const row = (t: TraceSummary) =>
    h(
      'tr',
      { 'data-trace-id': t.traceId, class: t.status === 'error' ? 'error' : '', onclick: (e: Event) => (e.target as Element).closest('a') || (location.hash = `#/trace/${t.traceId}`) },
      h('td', {}, time(t.startedAt)),
      h('td', {}, h('a', { href: `#/trace/${t.traceId}` }, t.name ?? t.traceId.slice(0, 8))),
      h('td', {}, t.feature ?? ''),
      h('td', {}, t.userId ?? ''),
      h('td', { class: 'num' }, String(t.callCount), t.unpricedCallCount ? h('span', { class: 'warn' }, ` (${t.unpricedCallCount} unpriced)`) : null),
      h('td', { class: 'num' }, duration(t.durationMs)),
      h('td', { class: 'num cost', title: `$${t.totalCostUsd}` }, money(t.totalCostUsd).textContent),
    );

  const listQuery = { ...filters, minCost: state.minCost, sort: state.sort, order: state.order };
  let cursor: string | null = null;
  const load = async () => {
    more.hidden = true;
    const page = await api.get<TraceList>('traces', { ...listQuery, limit: '50', cursor: cursor ?? undefined });
    for (const t of page.items) tbody.append(row(t));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    status.textContent = tbody.children.length === 0 ? 'No traces match.' : `${tbody.children.length} trace${tbody.children.length === 1 ? '' : 's'}${cursor ? ' shown' : ''}`;
  };
  more.addEventListener('click', () => void load().catch((e) => (status.textContent = String(e.message))));
  const stamp = `${localDate(range.from)}_${localDate(range.to)}`;
  exportTraces.addEventListener('click', () => void exportTraceList(api, listQuery, `kostrack-traces-${stamp}.csv`).catch((e) => (status.textContent = String(e.message))));
  exportCosts.addEventListener('click', () => void exportCostReport(api, filters, `kostrack-costs-${stamp}.csv`).catch((e) => (status.textContent = String(e.message))));

  // The list first, alone: it is what the view is for, and the heavier range queries behind the
  // panels would otherwise compete with it for the pool and the database's CPU.
  await load();
  // Then the rest fills in as it arrives, each panel on its own.
  await Promise.all([
    renderCharts(charts, api, filters, range),
    panel(summary, () => summaryCards(api, filters)),
    panel(users, async () => [h('h3', {}, 'Top users'), ...(await topTable(api, filters, state, 'user'))]),
    panel(features, async () => [h('h3', {}, 'Top features'), ...(await topTable(api, filters, state, 'feature'))]),
    panel(perRun, async () => [h('h3', {}, 'Cost per workflow run, by feature'), ...(await featureCosts(api, filters, state))]),
    panel(cache, async () => [h('h3', {}, 'Cache savings'), ...(await cacheSavings(api, filters))]),
  ]);
}

function unitOf(range: { from: Date; to: Date }): 'hour' | 'day' | 'week' {
  const days = (range.to.getTime() - range.from.getTime()) / 86_400_000;
  return days <= 3 ? 'hour' : days <= 120 ? 'day' : 'week';
}

async function renderCharts(el: HTMLElement, api: AdminApi, filters: Record<string, string | undefined>, range: { from: Date; to: Date }): Promise<void> {
  const unit = unitOf(range);
  const query = { ...filters, groupBy: unit };
  try {
    const [byModel, byFeature] = await Promise.all([api.get<CostReport>('costs', { ...query, series: 'model' }), api.get<CostReport>('costs', { ...query, series: 'tag:feature' })]);
    const buckets = bucketStarts(range.from, range.to, unit);
    clear(el);
    el.append(stackedBarChart('Spend by model', byModel, buckets, 'chart-model'), stackedBarChart('Spend by feature', byFeature, buckets, 'chart-feature'));
  } catch (e) {
    clear(el);
    el.append(h('p', { class: 'error' }, (e as Error).message));
  }
}

/** Every trace of the list (same filters and order), exact costs, UTC times. */
async function exportTraceList(api: AdminApi, query: Record<string, string | undefined>, name: string): Promise<void> {
  const rows: (string | number | null)[][] = [];
  let cursor: string | undefined;
  do {
    const page = await api.get<TraceList>('traces', { ...query, limit: '200', cursor });
    for (const t of page.items)
      rows.push([t.traceId, t.name, t.startedAt, t.endedAt, t.durationMs, t.feature, t.userId, t.project, t.serviceIds.join(' '), t.status, t.callCount, t.unpricedCallCount, t.errorCallCount, t.inputTokens, t.outputTokens, t.totalCostUsd]);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && rows.length < CSV_MAX_ROWS);
  const header = ['trace_id', 'name', 'started_at', 'ended_at', 'duration_ms', 'feature', 'user_id', 'project', 'services', 'status', 'calls', 'unpriced_calls', 'error_calls', 'input_tokens', 'output_tokens', 'cost_usd'];
  download(name, toCsv(header, rows));
}

/** The cost report by day and model over the range (the API's exact strings). */
async function exportCostReport(api: AdminApi, filters: Record<string, string | undefined>, name: string): Promise<void> {
  const r = await api.get<CostReport>('costs', { ...filters, groupBy: 'day', series: 'model' });
  const rows = r.groups.map((g) => [g.bucket ?? g.key, g.seriesProvider ?? null, g.series ?? null, g.costUsd, g.calls, g.unpricedCalls, g.inputTokens, g.outputTokens]);
  download(name, toCsv(['day_utc', 'provider', 'model', 'cost_usd', 'calls', 'unpriced_calls', 'input_tokens', 'output_tokens'], rows));
}
