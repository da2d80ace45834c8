import type { AdminApi } from './api.js';
import { clear, h, money, table, time } from './dom.js';
import { attempts, duration, tokens, usdExact } from './format.js';
import type { TraceDetail } from './types.js';
import { callHref, waterfall } from './waterfall.js';

export async function renderTrace(root: HTMLElement, api: AdminApi, traceId: string, back: string): Promise<void> {
  clear(root);
  root.append(h('p', { class: 'muted' }, 'Loading trace…'));
  const d = await api.get<TraceDetail>(`traces/${encodeURIComponent(traceId)}`);
  clear(root);
  const t = d.trace;
  const fact = (label: string, value: string | HTMLElement, testId?: string) =>
    h('div', { class: 'fact' }, h('span', { class: 'muted' }, label), h('strong', testId ? { 'data-testid': testId } : {}, value));
  // Shares of nothing are not 50/50: a trace that cost $0 (all unpriced, or free) shows none.
  const free = Number(d.totals.totalCostUsd) === 0;
  root.append(
    h('p', {}, h('a', { href: back, class: 'back' }, '← All traces')),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, t.name ?? t.traceId, ' ', h('span', { class: 'muted id' }, t.traceId)),
      h(
        'div',
        { class: 'facts' },
        fact('Total cost', usdExact(d.totals.totalCostUsd), 'trace-total'),
        fact('Calls', `${d.totals.callCount}${d.totals.unpricedCallCount ? ` (${d.totals.unpricedCallCount} unpriced)` : ''}`, 'trace-calls'),
        fact('Errors', String(d.totals.errorCallCount)),
        fact('Spans', String(d.totals.spanCount)),
        fact('Duration', duration(d.totals.durationMs)),
        fact('Started', time(t.startedAt), 'trace-started'),
        fact('Feature', t.feature ?? '–'),
        fact('User', t.userId ?? '–'),
        fact('Services', t.serviceIds.join(', ') || '–'),
      ),
    ),
    waterfall(d),
    h(
      'section',
      { class: 'card' },
      h('h3', {}, 'Cost by model'),
      table(
        { class: 'breakdown', 'data-testid': 'breakdown' },
        ['Provider', 'Model', 'Calls', 'Cost', 'Share'],
        d.costBreakdown.map((b) =>
          h('tr', {}, h('td', {}, b.provider), h('td', {}, b.model), h('td', { class: 'num' }, String(b.calls)), h('td', { class: 'num' }, money(b.costUsd)), h('td', { class: 'num share' }, free ? '–' : `${b.pct.toFixed(1)}%`)),
        ),
        [2, 3, 4],
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h3', {}, 'Calls'),
      table(
        { class: 'calls', 'data-testid': 'calls' },
        ['Time', 'Model', 'Operation', 'Tokens in/out', 'Latency', 'Attempts', 'Status', 'Cost'],
        d.calls.map((c) =>
          h(
            'tr',
            { class: c.status === 'ok' ? '' : 'error', 'data-call-id': c.spanId },
            h('td', {}, h('a', { href: callHref(c) }, time(c.time))),
            h('td', {}, `${c.provider}/${c.model}`),
            h('td', {}, c.operation),
            h('td', { class: 'num' }, `${tokens(c.inputTokens)} / ${tokens(c.outputTokens)}`),
            h('td', { class: 'num' }, duration(c.latencyMs)),
            // Retries the SDK made on its own: a provider may bill them, the tracker saw one call.
            h('td', { class: `num${c.attempts !== null && c.attempts > 1 ? ' warn' : ''}`, 'data-testid': 'attempts', title: c.attempts === null ? 'not known: the SDK did not say' : `${c.attempts} HTTP attempt${c.attempts === 1 ? '' : 's'}` }, attempts(c.attempts)),
            h('td', { class: 'status' }, c.status, c.errorClass ? h('span', { class: 'error-class', 'data-testid': 'error-class' }, ` ${c.errorClass}`) : null),
            h('td', { class: 'num' }, money(c.costUsd)),
          ),
        ),
        [3, 4, 5, 7],
      ),
    ),
  );
}
