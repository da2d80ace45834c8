import type { AdminApi } from './api.js';
import { clear, h } from './dom.js';
import { dateTime, usdExact, usdShort } from './format.js';
import type { Budget, BudgetList, BudgetUsage } from './types.js';

/**
 * Budgets: each one's limit and, per scope value in the current period, what is spent, held by
 * calls in flight and left, with a bar of how much is used. The percentage is for reading only;
 * the amounts are the API's exact strings.
 */
export async function renderBudgets(view: HTMLElement, api: AdminApi): Promise<void> {
  clear(view);
  view.append(h('p', { class: 'muted' }, 'Loading budgets…'));
  const list = await api.get<BudgetList>('budgets');
  clear(view);
  view.append(h('p', {}, h('a', { href: '#/', class: 'back' }, '← All traces')));
  if (list.budgets.length === 0) {
    view.append(h('section', { class: 'card' }, h('h2', {}, 'Budgets'), h('p', { class: 'muted', 'data-testid': 'no-budgets' }, 'No budgets yet: declare them in the module options or POST them to the admin API.')));
    return;
  }
  view.append(...list.budgets.map(card));
}

function card(b: Budget): HTMLElement {
  const scope = b.value === null ? `each ${b.scope}` : `${b.scope} = ${b.value}`;
  const rows = b.usage.length === 0 ? [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'Nothing spent this period.'))] : b.usage.map((u) => row(b, u));
  return h(
    'section',
    { class: 'card budget', 'data-testid': `budget-${b.name}` },
    h('h3', {}, b.name, h('span', { class: 'muted' }, ` · ${usdExact(b.limit)} per ${b.period === 'total' ? 'all time' : b.period} · ${scope}${b.mode === 'warn' ? ' · warn only' : ''}`)),
    h('p', { class: 'muted' }, b.resetsAt ? `Resets ${dateTime(b.resetsAt)}` : 'Never resets'),
    h(
      'table',
      { class: 'budget-usage' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Scope'), h('th', { class: 'num' }, 'Spent'), h('th', { class: 'num' }, 'Held'), h('th', { class: 'num' }, 'Left'), h('th', { class: 'num' }, 'Calls'), h('th', {}, 'Used'))),
      h('tbody', {}, ...rows),
    ),
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
    h('td', { class: 'num', 'data-testid': 'spent', title: usdExact(u.spent) }, usdShort(u.spent)),
    h('td', { class: 'num', title: usdExact(u.reserved) }, usdShort(u.reserved)),
    h('td', { class: 'num', 'data-testid': 'left', title: usdExact(u.remaining) }, usdShort(u.remaining)),
    h('td', { class: 'num' }, String(u.calls)),
    h('td', { class: 'used' }, bar, h('span', { class: 'muted', 'data-testid': 'used' }, ` ${used.toFixed(used < 10 ? 1 : 0)}%`)),
  );
}
