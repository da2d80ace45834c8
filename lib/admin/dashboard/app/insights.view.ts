import type { AdminApi } from './api.js';
import { clear, h, money, table, time } from './dom.js';
import { change, count, percent, tokens, usdExact } from './format.js';
import { stateToQuery, type ListState } from './list-state.js';
import type { CacheSavings, FeatureCosts, PeriodFigures, Summary, Top } from './types.js';

type Filters = Record<string, string | undefined>;

/** Fills `el` with what `load` renders, or with its error: one failing panel must not blank the page. */
export async function panel(el: HTMLElement, load: () => Promise<Node[]>): Promise<void> {
  try {
    const nodes = await load();
    clear(el);
    el.append(...nodes);
  } catch (e) {
    clear(el);
    el.append(h('p', { class: 'error', 'data-testid': 'panel-error' }, (e as Error).message));
  }
}

const link = (state: ListState, patch: Partial<ListState>) => `#/?${stateToQuery({ ...state, ...patch })}`;

/** Summary figures of the range with their change against the range of the same length before it. */
export async function summaryCards(api: AdminApi, filters: Filters): Promise<Node[]> {
  const s = await api.get<Summary>('insights/summary', filters);
  const c = s.current;
  const p = s.previous;
  const errorRate = (f: PeriodFigures) => (f.calls ? f.errorCalls / f.calls : 0);
  // Lower cost, error rate and unpriced share are better; volume (traces, calls, tokens) is neither: no colour.
  const card = (id: string, label: string, value: Node | string, now: number, before: number, detail?: string, lowerIsBetter: boolean | null = true) => {
    const delta = change(now, before);
    const moved = delta !== '=' && delta !== 'new' && lowerIsBetter !== null;
    const worse = moved && (now > before) === lowerIsBetter;
    return h(
      'div',
      { class: 'stat', 'data-testid': `summary-${id}` },
      h('span', { class: 'muted' }, label),
      h('strong', { class: 'value' }, value),
      h('span', { class: `delta${!moved ? '' : worse ? ' worse' : ' better'}`, 'data-testid': 'delta', title: `previous period: ${detail ?? String(before)}` }, `${delta} vs previous`),
    );
  };
  return [
    h(
      'div',
      { class: 'stats', 'data-testid': 'summary' },
      card('spend', 'Spend', money(c.spendUsd), Number(c.spendUsd), Number(p.spendUsd), usdExact(p.spendUsd)),
      card('traces', 'Traces', count(c.traces), c.traces, p.traces, undefined, null),
      card('calls', 'Calls', count(c.calls), c.calls, p.calls, undefined, null),
      card('avg', 'Average per trace', money(c.avgPerTraceUsd), Number(c.avgPerTraceUsd), Number(p.avgPerTraceUsd), usdExact(p.avgPerTraceUsd)),
      card('p95', 'p95 per trace', money(c.p95PerTraceUsd), Number(c.p95PerTraceUsd), Number(p.p95PerTraceUsd), usdExact(p.p95PerTraceUsd)),
      card('tokens', 'Tokens', h('span', { title: `${count(c.inputTokens)} in (${count(c.cachedTokens)} cached), ${count(c.outputTokens)} out` }, tokens(c.inputTokens + c.outputTokens)), c.inputTokens + c.outputTokens, p.inputTokens + p.outputTokens, `${p.inputTokens} in / ${p.outputTokens} out`, null),
      card('errors', 'Error rate', h('span', { title: `${c.errorCalls} of ${c.calls} calls failed` }, percent(c.errorCalls, c.calls)), errorRate(c), errorRate(p), percent(p.errorCalls, p.calls)),
      card('unpriced', 'Unpriced calls', count(c.unpricedCalls), c.unpricedCalls, p.unpricedCalls),
    ),
    h('p', { class: 'muted small' }, 'Traces started from ', time(c.from), ' to ', time(c.to), ', against ', time(p.from), ' to ', time(p.to), '.'),
  ];
}

/** Top users or features: each row links to the traces list filtered to it. */
export async function topTable(api: AdminApi, filters: Filters, state: ListState, by: 'user' | 'feature'): Promise<Node[]> {
  const top = await api.get<Top>(by === 'user' ? 'insights/top-users' : 'insights/top-features', { ...filters, limit: '10' });
  if (top.rows.length === 0) return [h('p', { class: 'muted' }, 'No traces in this range.')];
  const rows = top.rows.map((r) =>
    h(
      'tr',
      { 'data-key': r.key ?? '' },
      h('td', {}, r.key === null ? h('span', { class: 'muted' }, `(no ${by})`) : h('a', { href: link(state, { [by]: r.key }) }, r.key)),
      h('td', { class: 'num' }, money(r.spendUsd, { 'data-testid': 'spend' })),
      h('td', { class: 'num' }, count(r.traces)),
      h('td', { class: 'num' }, money(r.avgPerTraceUsd, { 'data-testid': 'avg' })),
    ),
  );
  return [
    table({ class: 'top', 'data-testid': `top-${by}s` }, [by === 'user' ? 'User' : 'Feature', 'Spend', 'Traces', 'Avg / trace'], rows, [1, 2, 3]),
    top.groupCount > top.rows.length ? h('p', { class: 'muted small' }, `Top ${top.rows.length} of ${count(top.groupCount)}.`) : null,
  ].filter((n): n is HTMLElement => n !== null);
}

/** Cost per workflow run by feature, and the runs far above their feature's p95. */
export async function featureCosts(api: AdminApi, filters: Filters, state: ListState): Promise<Node[]> {
  const f = await api.get<FeatureCosts>('insights/feature-costs', { ...filters, limit: '20' });
  if (f.features.length === 0) return [h('p', { class: 'muted' }, 'No traces in this range.')];
  const rows = f.features.map((r) =>
    h(
      'tr',
      { 'data-feature': r.feature ?? '', class: r.outliers ? 'has-outliers' : '' },
      h('td', {}, r.feature === null ? h('span', { class: 'muted' }, '(no feature)') : h('a', { href: link(state, { feature: r.feature }) }, r.feature)),
      h('td', { class: 'num' }, count(r.traces)),
      h('td', { class: 'num' }, money(r.p50Usd, { 'data-testid': 'p50' })),
      h('td', { class: 'num' }, money(r.p95Usd, { 'data-testid': 'p95' })),
      h('td', { class: 'num' }, money(r.maxUsd, { 'data-testid': 'max' })),
      h('td', { class: 'num' }, r.outliers ? h('span', { class: 'badge err', 'data-testid': 'outliers' }, String(r.outliers)) : '0'),
    ),
  );
  const outliers = f.outliers.map((o) =>
    h(
      'tr',
      { class: 'outlier', 'data-trace-id': o.traceId },
      h('td', {}, h('a', { href: `#/trace/${o.traceId}` }, o.name ?? o.traceId.slice(0, 8))),
      h('td', {}, o.feature ?? ''),
      h('td', {}, time(o.startedAt)),
      h('td', { class: 'num' }, money(o.costUsd, { 'data-testid': 'cost' })),
      h('td', { class: 'num', title: `p95 ${usdExact(o.p95Usd)}` }, `${o.timesP95}× p95`),
    ),
  );
  return [
    table({ class: 'features', 'data-testid': 'feature-costs' }, ['Feature', 'Runs', 'p50', 'p95', 'Max', 'Outliers'], rows, [1, 2, 3, 4, 5]),
    h('h4', {}, `Runaway runs (over ${f.outlierFactor}× their feature's p95)`),
    outliers.length
      ? table({ class: 'outliers', 'data-testid': 'outliers' }, ['Trace', 'Feature', 'Started', 'Cost', 'vs p95'], outliers, [3, 4])
      : h('p', { class: 'muted', 'data-testid': 'no-outliers' }, 'None: every run is within its feature’s usual cost.'),
  ];
}

/** What cache reads saved against the uncached input price. */
export async function cacheSavings(api: AdminApi, filters: Filters): Promise<Node[]> {
  const c = await api.get<CacheSavings>('insights/cache-savings', filters);
  const rows = c.models.map((m) =>
    h('tr', {}, h('td', {}, `${m.provider}/${m.model}`), h('td', { class: 'num' }, tokens(m.cachedTokens)), h('td', { class: 'num' }, m.savedUsd === null ? h('span', { class: 'warn' }, 'no price') : money(m.savedUsd))),
  );
  return [
    h('p', { class: 'big' }, money(c.savedUsd, { 'data-testid': 'cache-saved' }), h('span', { class: 'muted' }, ` saved on ${tokens(c.cachedTokens)} cached input tokens`)),
    rows.length ? table({ class: 'cache', 'data-testid': 'cache-models' }, ['Model', 'Cached tokens', 'Saved'], rows, [1, 2]) : h('p', { class: 'muted' }, 'No cached input in this range.'),
    h('p', { class: 'muted small' }, c.method),
  ];
}
