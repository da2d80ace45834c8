import { AdminApi, UnauthorizedError } from './api.js';
import { clear, h } from './dom.js';
import { renderBudgets } from './budgets.view.js';
import { renderTrace } from './trace.view.js';
import { renderTraces, stateFromQuery, stateToQuery, type ListState } from './traces.view.js';

/** Routes: `#/?filters` is the list with charts, `#/trace/<id>` one trace. */
const base = document.querySelector<HTMLMetaElement>('meta[name="kostrack-base"]')?.content ?? location.pathname.replace(/\/+$/, '');
const api = new AdminApi(base);
const app = document.getElementById('app')!;
let lastList = '#/';

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

async function route(): Promise<void> {
  const { path, params } = parseHash();
  const view = h('main', { class: 'view' });
  clear(app);
  app.append(
    h('header', {}, h('a', { href: '#/', class: 'brand' }, 'Kostrack'), h('span', { class: 'muted' }, ' LLM cost per workflow run'), h('a', { href: '#/budgets', class: 'nav', 'data-testid': 'nav-budgets' }, 'Budgets')),
    view,
  );
  try {
    const trace = /^\/trace\/([0-9A-Fa-f-]{36})$/.exec(path);
    if (trace) await renderTrace(view, api, trace[1], lastList);
    else if (path === '/budgets') await renderBudgets(view, api);
    else {
      lastList = location.hash || '#/';
      const navigate = (s: ListState) => (location.hash = `#/?${stateToQuery(s)}`);
      await renderTraces(view, api, stateFromQuery(params), navigate);
    }
  } catch (e) {
    clear(view);
    if (e instanceof UnauthorizedError) view.append(keyForm(api.key ? 'That key was refused. Enter the admin API key.' : 'Enter the admin API key to see costs.'));
    else view.append(h('p', { class: 'error', 'data-testid': 'error' }, (e as Error).message));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
