import type { AdminApi } from './api.js';
import { clear, h, money, table } from './dom.js';
import { count, usdExact } from './format.js';
import type { Reconciliation, ReconcileTotals } from './types.js';

const DAY_MS = 86_400_000;
/** The API compares at most this many days at a time. */
const MAX_DAYS = 366;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The UTC days that cover `range` (the providers bill per UTC day, so a range in local time is
 * widened to the whole days it touches), at most a year back from its end.
 */
export function utcDaysOf(range: { from: Date; to: Date }): { from: string; to: string } {
  const first = Math.floor(range.from.getTime() / DAY_MS) * DAY_MS;
  const end = Math.ceil(range.to.getTime() / DAY_MS) * DAY_MS;
  const last = Math.max(end, first + DAY_MS);
  return { from: utcDay(Math.max(first, last - MAX_DAYS * DAY_MS)), to: utcDay(last) };
}

/** tracked ÷ billed for reading: "90.39%"; the API's exact ratio is the title. */
function coverage(value: string | null, attrs: Record<string, string> = {}): HTMLElement {
  if (value === null) return h('span', { ...attrs, title: 'nothing billed' }, '–');
  const pct = Number(value) * 100;
  return h('span', { ...attrs, class: pct < 99.5 || pct > 100.5 ? 'warn' : '', title: `${value} (tracked ÷ billed)` }, `${pct.toFixed(2)}%`);
}

const retries = (t: { retriedCalls: number; extraAttempts: number }) =>
  t.retriedCalls ? h('span', { class: 'warn', title: `${t.retriedCalls} tracked call(s) the SDK retried on its own, ${t.extraAttempts} attempt(s) beyond the first: a provider may bill those too` }, `${t.retriedCalls} / +${t.extraAttempts}`) : '0';

/**
 * Tracked beside billed for whole UTC days: coverage overall and per provider, the untracked and
 * not-compared amounts, and the days × models whose gap is over the threshold, with the calls the
 * SDK retried beside each. Amounts are the API's exact strings (rounded on screen, exact on hover).
 */
export async function renderReconciliation(view: HTMLElement, api: AdminApi, params: URLSearchParams, fallback: { from: string; to: string }): Promise<void> {
  clear(view);
  const from = DAY.test(params.get('from') ?? '') ? params.get('from')! : fallback.from;
  const to = DAY.test(params.get('to') ?? '') ? params.get('to')! : fallback.to;
  const threshold = params.get('threshold') || '0.01';
  view.append(h('p', { class: 'muted' }, 'Loading reconciliation…'));
  const r = await api.get<Reconciliation>('reconciliation', { from, to, threshold });
  clear(view);

  const input = (name: string, value: string, type: string, label: string) => h('label', {}, h('span', {}, label), h('input', { name, type, value, placeholder: label }));
  const form = h('form', { class: 'filters card', 'data-testid': 'reconcile-range' }, input('from', from, 'date', 'From (UTC day)'), input('to', to, 'date', 'To (UTC, excl.)'), input('threshold', threshold, 'text', 'Gap over $'), h('button', { type: 'submit' }, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const q = new URLSearchParams({ from: String(data.get('from') ?? ''), to: String(data.get('to') ?? ''), threshold: String(data.get('threshold') ?? '') });
    location.hash = `#/reconciliation?${q}`;
  });
  view.append(h('p', {}, h('a', { href: '#/', class: 'back' }, '← All traces')), form);

  if (r.providers.length === 0) {
    view.append(emptyState(api.base, r));
    return;
  }
  view.append(
    h(
      'section',
      { class: 'card', 'data-testid': 'reconcile-summary' },
      h('h2', {}, 'Tracked vs billed', h('span', { class: 'muted' }, ` · UTC days ${r.from} to ${r.to} (excl.)`)),
      h('div', { class: 'stats' }, ...totals(r)),
      h('p', { class: 'muted small' }, 'Only provider-days with imported figures are compared; tracked spend on the others is "not compared", never counted as a gap.'),
    ),
    h(
      'section',
      { class: 'card', 'data-testid': 'reconcile-providers-card' },
      h('h3', {}, 'By provider'),
      table(
        { class: 'providers', 'data-testid': 'reconcile-providers' },
        ['Provider', 'Coverage', 'Tracked', 'Billed', 'Untracked', 'Over-tracked', 'Days imported', 'Retried / extra'],
        r.providers.map((p) =>
          h(
            'tr',
            { 'data-provider': p.provider },
            h('td', {}, p.provider),
            h('td', { class: 'num' }, coverage(p.coverage, { 'data-testid': 'coverage' })),
            h('td', { class: 'num' }, money(p.trackedUsd, { 'data-testid': 'tracked' })),
            h('td', { class: 'num' }, money(p.billedUsd, { 'data-testid': 'billed' })),
            h('td', { class: 'num' }, money(p.untrackedUsd, { 'data-testid': 'untracked' })),
            h('td', { class: 'num' }, money(p.overTrackedUsd, { 'data-testid': 'over' })),
            h('td', { class: 'num', 'data-testid': 'days', title: p.daysNotImported.length ? `not imported: ${p.daysNotImported.join(', ')}` : 'every day of the range' }, `${p.daysImported} of ${p.daysImported + p.daysNotImported.length}`),
            h('td', { class: 'num', 'data-testid': 'retries' }, retries(p)),
          ),
        ),
        [1, 2, 3, 4, 5, 6, 7],
      ),
    ),
    gapsCard(r),
  );
}

function totals(r: Reconciliation): HTMLElement[] {
  const stat = (id: string, label: string, value: Node | string, note?: string) =>
    h('div', { class: 'stat', 'data-testid': `reconcile-${id}` }, h('span', { class: 'muted' }, label), h('strong', { class: 'value' }, value), note ? h('span', { class: 'delta' }, note) : null);
  const t: ReconcileTotals = r;
  return [
    stat('coverage', 'Coverage', coverage(t.coverage), 'tracked ÷ billed'),
    stat('tracked', 'Tracked', money(t.trackedUsd)),
    stat('billed', 'Billed', money(t.billedUsd)),
    stat('untracked', 'Untracked', money(t.untrackedUsd), 'billed, not tracked'),
    stat('over', 'Over-tracked', money(t.overTrackedUsd), 'tracked, not billed'),
    stat('not-compared', 'Not compared', money(r.notComparedUsd), 'tracked, no figures imported'),
    stat('retries', 'SDK retries', h('span', { title: `${t.retriedCalls} retried call(s), ${t.extraAttempts} extra attempt(s)` }, `${count(t.retriedCalls)} / +${count(t.extraAttempts)}`), 'retried calls / extra attempts'),
  ];
}

function gapsCard(r: Reconciliation): HTMLElement {
  const rows = r.gaps.map((g) =>
    h(
      'tr',
      { 'data-day': g.day, 'data-provider': g.provider, 'data-model': g.model ?? '' },
      h('td', {}, g.day),
      h('td', {}, g.provider),
      h('td', {}, g.model ?? h('span', { class: 'muted', title: 'a cost the provider ties to no model (web search, tools…)' }, '(no model)')),
      h('td', { class: 'num' }, money(g.trackedUsd, { 'data-testid': 'tracked' })),
      h('td', { class: 'num' }, money(g.billedUsd, { 'data-testid': 'billed' })),
      h('td', { class: 'num' }, money(g.gapUsd, { 'data-testid': 'gap', class: g.gapUsd.startsWith('-') ? 'ok' : 'error' })),
      h('td', { class: 'num' }, coverage(g.coverage, { 'data-testid': 'coverage' })),
      h('td', { class: 'num', 'data-testid': 'calls', title: g.unpricedCalls ? `${g.unpricedCalls} unpriced (counted as $0)` : '' }, count(g.calls), g.unpricedCalls ? h('span', { class: 'warn' }, ` (${g.unpricedCalls} unpriced)`) : null),
      h('td', { class: 'num', 'data-testid': 'retries' }, retries(g)),
    ),
  );
  return h(
    'section',
    { class: 'card', 'data-testid': 'reconcile-gaps-card' },
    h('h3', {}, 'Gaps', h('span', { class: 'muted' }, ` · days × models off by more than ${usdExact(r.threshold)}`)),
    rows.length
      ? table({ class: 'gaps', 'data-testid': 'reconcile-gaps' }, ['Day (UTC)', 'Provider', 'Model', 'Tracked', 'Billed', 'Gap', 'Coverage', 'Calls', 'Retried / extra'], rows, [3, 4, 5, 6, 7, 8])
      : h('p', { class: 'muted', 'data-testid': 'no-gaps' }, `No day × model is off by more than ${usdExact(r.threshold)}.`),
    h('p', { class: 'muted small' }, 'Gap = billed − tracked. A gap on every day of one model is usually a price (correct it and re-price); on some days only, spend Kostrack did not see, or SDK retries the provider billed.'),
  );
}

function emptyState(base: string, r: Reconciliation): HTMLElement {
  const body = JSON.stringify({ provider: 'openai', from: r.from, to: r.to });
  return h(
    'section',
    { class: 'card', 'data-testid': 'reconcile-empty' },
    h('h2', {}, 'Nothing to compare yet'),
    h('p', {}, `No provider figures were imported for the UTC days ${r.from} to ${r.to} (excl.). Import the providers' own daily costs (OpenAI's organization Costs API, Anthropic's Admin cost report; an admin key, not the inference key), then come back:`),
    h('pre', { class: 'mono' }, `OPENAI_ADMIN_KEY=sk-admin-… kostrack import-costs --provider openai --from ${r.from} --to ${r.to}\nANTHROPIC_ADMIN_KEY=sk-ant-admin… kostrack import-costs --provider anthropic --from ${r.from} --to ${r.to}`),
    h('p', {}, 'or, with ', h('code', {}, 'admin.providerCosts'), ' configured in the module:'),
    h('pre', { class: 'mono' }, `POST ${base}/provider-costs/import\n${body}`),
    h('p', { class: 'muted small', 'data-testid': 'reconcile-not-compared' }, 'Tracked in these days, not compared: ', money(r.notComparedUsd), '.'),
  );
}
