import type { AdminApi } from './api.js';
import { clear, h, money, table, time } from './dom.js';
import { usdExact } from './format.js';
import type { BlockedCalls, Budget, BudgetList, BudgetUsage } from './types.js';

/**
 * Budgets: each one's limit and, per scope value in the current period, what is spent, held by
 * calls in flight and left, with a bar of how much is used; then the calls budgets refused in
 * the last 7 days. The percentage is for reading only; the amounts are the API's exact strings.
 */
export async function renderBudgets(view: HTMLElement, api: AdminApi): Promise<void> {
  clear(view);
  view.append(h('p', { class: 'muted' }, 'Loading budgets…'));
  const [list, blocked] = await Promise.all([api.get<BudgetList>('budgets'), api.get<BlockedCalls>('budgets/blocked', { limit: '50' })]);
  clear(view);
  view.append(h('p', {}, h('a', { href: '#/', class: 'back' }, '← All traces')));
  if (list.budgets.length === 0)
    view.append(h('section', { class: 'card' }, h('h2', {}, 'Budgets'), h('p', { class: 'muted', 'data-testid': 'no-budgets' }, 'No budgets yet: declare them in the module options or POST them to the admin API.')));
  else view.append(...list.budgets.map(card));
  view.append(blockedCard(blocked));
}

function card(b: Budget): HTMLElement {
  const scope = b.value === null ? `each ${b.scope}` : `${b.scope} = ${b.value}`;
  const rows = b.usage.length === 0 ? [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'Nothing spent this period.'))] : b.usage.map((u) => row(b, u));
  const rules = [b.mode === 'warn' ? 'warns only' : 'refuses calls over the limit', `unpriced calls: ${b.unpriced}`, `database down: ${b.whenDatabaseDown}`, b.alerts?.length ? `alerts at ${b.alerts.map((a) => `${a}%`).join(', ')}` : null, `from ${b.source}`];
  return h(
    'section',
    { class: 'card budget', 'data-testid': `budget-${b.name}` },
    h('h3', {}, b.name, h('span', { class: 'muted' }, ` · ${usdExact(b.limit)} per ${b.period === 'total' ? 'all time' : b.period}${b.period !== 'total' && b.timeZone !== 'UTC' ? ` (${b.timeZone})` : ''} · ${scope}${b.mode === 'warn' ? ' · warn only' : ''}`)),
    h('p', { class: 'muted' }, b.resetsAt ? ['Resets ', time(b.resetsAt)] : 'Never resets', ` · ${rules.filter(Boolean).join(' · ')}`),
    table({ class: 'budget-usage' }, ['Scope', 'Spent', 'Held', 'Left', 'Calls', 'Used'], rows, [1, 2, 3, 4]),
    b.scopeValues > b.usage.length ? h('p', { class: 'muted small' }, `${b.usage.length} of ${b.scopeValues} scope values shown (most spent first).`) : null,
  );
}

function row(b: Budget, u: BudgetUsage): HTMLElement {
  const limit = Number(b.limit);
  const used = limit > 0 ? Math.min(100, ((Number(u.spent) + Number(u.reserved)) / limit) * 100) : 100;
  const bar = h('div', { class: `meter${used >= 100 ? ' full' : used >= 80 ? ' high' : ''}` }, h('div', { class: 'meter-fill' }));
  (bar.firstChild as HTMLElement).style.width = `${used}%`;
  return h(
    'tr',
    { 'data-scope-value': u.scopeValue },
    h('td', {}, u.scopeValue),
    h('td', { class: 'num', 'data-testid': 'spent', title: usdExact(u.spent) }, money(u.spent).textContent),
    h('td', { class: 'num', title: usdExact(u.reserved) }, money(u.reserved).textContent),
    h('td', { class: 'num', 'data-testid': 'left', title: usdExact(u.remaining) }, money(u.remaining).textContent),
    h('td', { class: 'num' }, String(u.calls)),
    h('td', { class: 'used' }, bar, h('span', { class: 'muted', 'data-testid': 'used' }, ` ${used.toFixed(used < 10 ? 1 : 0)}%`)),
  );
}

function blockedCard(blocked: BlockedCalls): HTMLElement {
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  const rows = blocked.items.map((c) =>
    h(
      'tr',
      { 'data-span-id': c.spanId },
      h('td', {}, time(c.time)),
      h('td', {}, str(c.budget?.spanName) || '–'),
      h('td', {}, str(c.budget?.scopeValue) || '–'),
      h('td', {}, `${c.provider}/${c.model}`),
      h('td', { class: 'num' }, c.budget && typeof c.budget.estimate === 'string' ? money(c.budget.estimate) : '–'),
      h('td', { class: 'num' }, c.budget && typeof c.budget.remaining === 'string' ? money(c.budget.remaining) : '–'),
      h('td', {}, c.traceId ? h('a', { href: `#/trace/${c.traceId}` }, 'trace') : ''),
    ),
  );
  return h(
    'section',
    { class: 'card', 'data-testid': 'blocked-calls' },
    h('h3', {}, 'Refused calls', h('span', { class: 'muted' }, ' · last 7 days')),
    rows.length ? table({ class: 'blocked' }, ['Time', 'Budget', 'Scope value', 'Model', 'Estimate', 'Left then', ''], rows, [4, 5]) : h('p', { class: 'muted' }, 'No call was refused.'),
  );
}
