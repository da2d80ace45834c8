import type { AdminApi } from './api.js';
import { clear, h, table, time } from './dom.js';
import { count, fromLocalDate, localTime } from './format.js';
import type { Price, PricesDto, UnpricedModels } from './types.js';

/** Rates the form offers, as the API names them (USD per million tokens). */
const RATES: [string, string][] = [
  ['input', 'Input $/Mtok'],
  ['output', 'Output $/Mtok'],
  ['cacheRead', 'Cache read $/Mtok'],
  ['cacheWrite', 'Cache write $/Mtok'],
];

/**
 * Models and prices: the models whose calls could not be priced (last 30 days), the price
 * overrides in force, and a form that stores a new one (POST prices). Adding a price for an
 * unpriced model prices its next calls; `POST reprice` re-prices the stored ones.
 */
export async function renderModels(view: HTMLElement, api: AdminApi, params: URLSearchParams, notice = ''): Promise<void> {
  clear(view);
  view.append(h('p', { class: 'muted' }, 'Loading models…'));
  // `#/models?from=…&to=…` (local dates) picks another range than the last 30 days.
  const to = fromLocalDate(params.get('to') ?? '') ?? new Date();
  const from = fromLocalDate(params.get('from') ?? '') ?? new Date(to.getTime() - 30 * 86_400_000);
  const label = params.has('from') || params.has('to') ? ` · ${localTime(from.toISOString())} to ${localTime(to.toISOString())}` : ' · last 30 days';
  const [unpriced, prices] = await Promise.all([
    api.get<UnpricedModels>('models/unpriced', { from: from.toISOString(), to: to.toISOString() }),
    api.get<PricesDto>('prices'),
  ]);
  clear(view);

  const inputs = new Map<string, HTMLInputElement>();
  const field = (name: string, label: string, attrs: Record<string, string> = {}) => {
    const input = h('input', { name, ...attrs });
    inputs.set(name, input);
    return h('label', {}, h('span', {}, label), input);
  };
  const message = h('p', { class: notice ? 'ok' : 'muted', 'data-testid': 'price-message' }, notice);
  const form = h(
    'form',
    { class: 'filters price-form', 'data-testid': 'price-form' },
    field('provider', 'Provider', { placeholder: 'openai', required: 'true' }),
    field('model', 'Model', { placeholder: 'ft:gpt-4o-mini:acme', required: 'true' }),
    ...RATES.map(([k, label]) => field(k, label, { inputmode: 'decimal', placeholder: '0.15' })),
    field('effectiveFrom', 'From (local)', { type: 'datetime-local' }),
    field('note', 'Note', { placeholder: 'negotiated rate' }),
    h('button', { type: 'submit' }, 'Add price'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body: Record<string, string> = {};
    for (const [k, input] of inputs) {
      const v = input.value.trim();
      if (!v) continue;
      // datetime-local is the viewer's local time; the API takes an instant.
      body[k] = k === 'effectiveFrom' ? new Date(v).toISOString() : v;
    }
    message.className = 'muted';
    message.textContent = 'Saving…';
    api.post<Price>('prices', body).then(
      (p) => void renderModels(view, api, params, `Stored price #${p.id} for ${p.provider}/${p.model}.`),
      (err: Error) => {
        message.className = 'error';
        message.textContent = err.message;
      },
    );
  });

  const unpricedRows = unpriced.models.map((m) =>
    h(
      'tr',
      { 'data-model': `${m.provider}/${m.model}` },
      h('td', {}, m.provider),
      h('td', {}, m.model),
      h('td', { class: 'num', 'data-testid': 'calls' }, count(m.calls)),
      h('td', {}, time(m.firstSeen)),
      h('td', {}, time(m.lastSeen)),
      h('td', {}, h('button', { type: 'button', class: 'secondary small', onclick: () => fill(inputs, m.provider, m.model) }, 'Add a price')),
    ),
  );
  const priceRows = prices.prices.map((p) =>
    h(
      'tr',
      { 'data-model': `${p.provider}/${p.model}`, 'data-source': p.source },
      h('td', {}, p.source === 'stored' ? `stored #${p.id}` : 'prices option'),
      h('td', {}, p.provider),
      h('td', {}, p.model),
      h('td', { class: 'mono', 'data-testid': 'rates' }, Object.entries(p.perMtok).map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · ')),
      h('td', {}, time(p.effectiveFrom)),
      h('td', {}, time(p.effectiveTo)),
      h('td', {}, p.note ?? ''),
    ),
  );
  view.append(
    h(
      'section',
      { class: 'card', 'data-testid': 'unpriced-models' },
      h('h2', {}, 'Unpriced models', h('span', { class: 'muted' }, unpriced.source === 'process' ? ' · this process only (storage is off)' : label)),
      unpricedRows.length ? table({ class: 'unpriced' }, ['Provider', 'Model', 'Calls', 'First seen', 'Last seen', ''], unpricedRows, [2]) : h('p', { class: 'muted' }, 'Every call was priced.'),
    ),
    h(
      'section',
      { class: 'card', 'data-testid': 'prices' },
      h('h2', {}, 'Price overrides in force'),
      priceRows.length ? table({ class: 'prices' }, ['Source', 'Provider', 'Model', 'USD per million tokens', 'From', 'To', 'Note'], priceRows) : h('p', { class: 'muted' }, 'None: the catalog prices every call.'),
    ),
    h('section', { class: 'card' }, h('h3', {}, 'Add a price'), form, message, h('p', { class: 'muted small' }, 'It prices calls made from its start; re-price stored calls with POST reprice.')),
  );
}

function fill(inputs: Map<string, HTMLInputElement>, provider: string, model: string): void {
  inputs.get('provider')!.value = provider;
  inputs.get('model')!.value = model;
  inputs.get('input')!.focus();
}
