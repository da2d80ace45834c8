import { AdminApi, UnauthorizedError } from './api.js';
import { clear, h } from './dom.js';
import { renderBudgets } from './budgets.view.js';
import { renderCall } from './call.view.js';
import { rangeOf } from './list-state.js';
import { renderModels } from './models.view.js';
import { renderReconciliation, utcDaysOf } from './reconcile.view.js';
import { renderTrace } from './trace.view.js';
import { renderTraces, stateFromQuery, stateToQuery, type ListState } from './traces.view.js';

/** Routes: `#/?filters` the overview, `#/trace/<id>` one trace, `#/call/<id>` one call, `#/models`, `#/budgets`, `#/reconciliation?from=&to=` (UTC days). */
const base = document.querySelector<HTMLMetaElement>('meta[name="kostrack-base"]')?.content ?? location.pathname.replace(/\/+$/, '');
const api = new AdminApi(base);
const app = document.getElementById('app')!;
let lastList = '#/';
/** Each route bumps it: a slow earlier route must not paint over the one on screen. */
let generation = 0;

function parseHash(): { path: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, params: new URLSearchParams(query) };
}

function keyForm(message: string): HTMLElement {
  const input = h('input', { type: 'password', name: 'key', placeholder: 'x-kostrack-api-key', autocomplete: 'off' });
  const form = h('form', { class: 'card key-form', 'data-testid': 'key-form' }, h('h3', {}, 'API key'), h('p', { class: 'muted' }, message), input, h('button', { type: 'submit' }, 'Use key'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    api.key = input.value.trim() || null;
    void route();
  });
  return form;
}

const ID = '([0-9A-Fa-f-]{36})';

async function route(): Promise<void> {
  const mine = ++generation;
  const { path, params } = parseHash();
  const trace = new RegExp(`^/trace/${ID}$`).exec(path);
  const call = new RegExp(`^/call/${ID}$`).exec(path);
  const overview = !trace && !call && !['/budgets', '/models', '/reconciliation'].includes(path);
  if (overview) lastList = location.hash || '#/';
  // Reconciliation compares the UTC days covering the overview's selected range.
  const days = utcDaysOf(rangeOf(stateFromQuery(new URLSearchParams(lastList.split('?')[1] ?? ''))));
  const reconcileHref = `#/reconciliation?${new URLSearchParams(days)}`;
  // data-hash and data-ready tell a watcher (a test, the bench) which view is on screen and that it has finished.
  const view = h('main', { class: 'view', 'data-route': path, 'data-hash': location.hash });
  const nav = (href: string, label: string, testId: string, active: boolean) => h('a', { href, class: `nav${active ? ' active' : ''}`, 'data-testid': testId }, label);
  clear(app);
  app.append(
    h(
      'header',
      {},
      h('a', { href: '#/', class: 'brand' }, 'Kostrack'),
      h('span', { class: 'muted tagline' }, ' LLM cost per workflow run'),
      h('nav', {}, nav(lastList, 'Overview', 'nav-overview', path === '/'), nav('#/models', 'Models & prices', 'nav-models', path === '/models'), nav('#/budgets', 'Budgets', 'nav-budgets', path === '/budgets'), nav(reconcileHref, 'Reconciliation', 'nav-reconciliation', path === '/reconciliation')),
    ),
    view,
  );
  try {
    if (trace) await renderTrace(view, api, trace[1], lastList);
    else if (call) await renderCall(view, api, call[1], params.get('time'));
    else if (path === '/budgets') await renderBudgets(view, api);
    else if (path === '/reconciliation') await renderReconciliation(view, api, params, days);
    else if (path === '/models') await renderModels(view, api, params);
    else {
      const navigate = (s: ListState) => (location.hash = `#/?${stateToQuery(s)}`);
      await renderTraces(view, api, stateFromQuery(params), navigate);
    }
    if (mine === generation) view.setAttribute('data-ready', 'true');
  } catch (e) {
    if (mine !== generation) return;
    clear(view);
    if (e instanceof UnauthorizedError) view.append(keyForm(api.key ? 'That key was refused. Enter the admin API key.' : 'Enter the admin API key to see costs.'));
    else view.append(h('p', { class: 'error', 'data-testid': 'error' }, (e as Error).message));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
