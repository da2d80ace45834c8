import type { AdminApi } from './api.js';
import { clear, h } from './dom.js';
import { dateTime, duration, tokens, usdExact, usdShort } from './format.js';
import type { TraceDetail } from './types.js';
import { waterfall } from './waterfall.js';

export async function renderTrace(root: HTMLElement, api: AdminApi, traceId: string, back: string): Promise<void> {
  clear(root);
  root.append(h('p', { class: 'muted' }, 'Loading trace…'));
  const d = await api.get<TraceDetail>(`traces/${encodeURIComponent(traceId)}`);
  clear(root);
  const t = d.trace;
  const fact = (label: string, value: string | HTMLElement, testId?: string) =>
    h('div', { class: 'fact' }, h('span', { class: 'muted' }, label), h('strong', testId ? { 'data-testid': testId } : {}, value));
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
        fact('Started', dateTime(t.startedAt)),
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
      h(
        'table',
        { class: 'breakdown', 'data-testid': 'breakdown' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Provider'), h('th', {}, 'Model'), h('th', { class: 'num' }, 'Calls'), h('th', { class: 'num' }, 'Cost'), h('th', { class: 'num' }, 'Share'))),
        h(
          'tbody',
          {},
          ...d.costBreakdown.map((b) =>
            h('tr', {}, h('td', {}, b.provider), h('td', {}, b.model), h('td', { class: 'num' }, String(b.calls)), h('td', { class: 'num', title: usdExact(b.costUsd) }, usdShort(b.costUsd)), h('td', { class: 'num' }, `${b.pct.toFixed(1)}%`)),
          ),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h3', {}, 'Calls'),
      h(
        'table',
        { class: 'calls' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Model'), h('th', {}, 'Operation'), h('th', { class: 'num' }, 'Tokens in/out'), h('th', { class: 'num' }, 'Latency'), h('th', {}, 'Status'), h('th', { class: 'num' }, 'Cost'))),
        h(
          'tbody',
          {},
          ...d.calls.map((c) =>
            h(
              'tr',
              { class: c.status === 'ok' ? '' : 'error' },
              h('td', {}, dateTime(c.time)),
              h('td', {}, `${c.provider}/${c.model}`),
              h('td', {}, c.operation),
              h('td', { class: 'num' }, `${tokens(c.inputTokens)} / ${tokens(c.outputTokens)}`),
              h('td', { class: 'num' }, duration(c.latencyMs)),
              h('td', {}, c.status),
              h('td', { class: 'num', title: usdExact(c.costUsd) }, usdShort(c.costUsd)),
            ),
          ),
        ),
      ),
    ),
  );
}
