import type { AdminApi } from './api.js';
import { clear, h, table, time } from './dom.js';
import { attempts, count, duration, usdExact } from './format.js';
import type { CallDetail, Price } from './types.js';

/** Token buckets in the order a bill lists them; counts not tokens for the fee buckets. */
const BUCKETS: [string, string][] = [
  ['inputUncached', 'Input (uncached)'],
  ['cacheRead', 'Cached input (read)'],
  ['cacheWrite5m', 'Cache writes (5 min)'],
  ['cacheWrite1h', 'Cache writes (1 h)'],
  ['inputAudio', 'Audio input'],
  ['cacheReadAudio', 'Cached audio input'],
  ['output', 'Output'],
  ['reasoning', 'Reasoning'],
  ['outputAudio', 'Audio output'],
  ['outputImage', 'Image output'],
  ['webSearches', 'Web searches (fee)'],
  ['fileSearches', 'File searches (fee)'],
  ['groundedPrompts', 'Grounded prompts (fee)'],
];

const SOURCES: Record<string, string> = {
  catalog: 'the genai-prices catalog',
  override: 'a price of the prices option',
  stored: 'a stored price (llm_prices)',
  tier: "Kostrack's service-tier table",
  batch: 'batch rates',
  unpriced: 'nothing: no price was known for this model',
};

/** One call: what it cost and why, its token buckets, tags, metadata, and the span it ran in. */
export async function renderCall(root: HTMLElement, api: AdminApi, spanId: string, at: string | null): Promise<void> {
  clear(root);
  root.append(h('p', { class: 'muted' }, 'Loading call…'));
  const d = await api.get<CallDetail>(`calls/${encodeURIComponent(spanId)}`, { time: at ?? undefined });
  const c = d.call;
  clear(root);
  const fact = (label: string, value: string | Node, testId?: string) =>
    h('div', { class: 'fact' }, h('span', { class: 'muted' }, label), h('strong', testId ? { 'data-testid': testId } : {}, value));
  const known = new Set(BUCKETS.map(([k]) => k));
  const buckets = [...BUCKETS.filter(([k]) => k in c.tokenBreakdown), ...Object.keys(c.tokenBreakdown).filter((k) => !known.has(k)).map((k) => [k, k] as [string, string])];
  const kv = (o: Record<string, unknown>, testId: string) =>
    Object.keys(o).length
      ? table({ class: 'kv', 'data-testid': testId }, ['Key', 'Value'], Object.entries(o).map(([k, v]) => h('tr', { 'data-key': k }, h('td', {}, k), h('td', { class: 'mono' }, typeof v === 'string' ? v : JSON.stringify(v)))))
      : h('p', { class: 'muted' }, 'None.');
  const sections: (HTMLElement | null)[] = [
    h('p', {}, d.traceId ? h('a', { href: `#/trace/${d.traceId}`, class: 'back' }, `← Trace ${d.traceName ?? d.traceId.slice(0, 8)}`) : h('a', { href: '#/', class: 'back' }, '← All traces')),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, `${c.provider}/${c.model}`, ' ', h('span', { class: 'muted id' }, c.spanId)),
      h(
        'div',
        { class: 'facts' },
        fact('Cost', usdExact(c.costUsd), 'call-cost'),
        fact('Status', h('span', { class: c.status === 'ok' ? '' : 'error' }, c.status, c.errorClass ? ` · ${c.errorClass}` : ''), 'call-status'),
        fact('Time', time(c.time), 'call-time'),
        fact('Latency', duration(c.latencyMs)),
        fact('SDK attempts', h('span', { class: c.attempts !== null && c.attempts > 1 ? 'warn' : '', title: c.attempts === null ? 'not known: the SDK did not say' : 'HTTP attempts the SDK sent for this call; a provider may bill a retried attempt too' }, attempts(c.attempts)), 'call-attempts'),
        fact('Operation', c.operation),
        fact('Service', c.serviceId),
        fact('Streamed', c.streamed ? 'yes' : 'no'),
        fact('Span', d.span ? d.span.name : `${d.traceName ?? 'trace'} (root)`, 'call-span'),
      ),
    ),
    h(
      'section',
      { class: 'card', 'data-testid': 'call-pricing' },
      h('h3', {}, 'How it was priced'),
      h('p', {}, 'Priced by ', h('strong', {}, SOURCES[c.pricingSource] ?? c.pricingSource), c.pricingModel ? [' as ', h('code', {}, c.pricingModel)] : null, c.catalogVersion ? ` (catalog ${c.catalogVersion})` : '', c.serviceTier ? `, service tier ${c.serviceTier}` : '', '.'),
      c.pricingFlags.length ? h('ul', { class: 'flags', 'data-testid': 'pricing-flags' }, ...c.pricingFlags.map((f) => h('li', { class: 'warn' }, f))) : h('p', { class: 'muted' }, 'Exact: every bucket had a rate of its own.'),
      d.storedPrice ? priceLine(d.storedPrice) : null,
      d.pricedAt ? h('p', { class: 'muted' }, 'Re-priced ', time(d.pricedAt), d.repricingId !== null ? ` by run #${d.repricingId}` : '', '.') : null,
    ),
    h(
      'section',
      { class: 'card' },
      h('h3', {}, 'Token buckets'),
      table({ class: 'buckets', 'data-testid': 'token-buckets' }, ['Bucket', 'Count'], buckets.map(([k, label]) => h('tr', { 'data-bucket': k }, h('td', {}, label), h('td', { class: 'num' }, count(c.tokenBreakdown[k])))), [1]),
      h('p', { class: 'muted small' }, `${count(c.inputTokens)} input tokens (${count(c.cachedTokens)} from cache), ${count(c.outputTokens)} output tokens.`),
    ),
    d.span
      ? h(
          'section',
          { class: 'card', 'data-testid': 'call-span-card' },
          h('h3', {}, 'Span'),
          h('div', { class: 'facts' }, fact('Name', d.span.name), fact('Status', `${d.span.status}${d.span.errorClass ? ` · ${d.span.errorClass}` : ''}`), fact('Started', time(d.span.startedAt)), fact('Ended', time(d.span.endedAt)), fact('Duration', duration(Date.parse(d.span.endedAt) - Date.parse(d.span.startedAt)))),
        )
      : null,
    h('section', { class: 'card' }, h('h3', {}, 'Tags'), kv(c.tags, 'call-tags')),
    h('section', { class: 'card' }, h('h3', {}, 'Metadata'), kv(c.metadata, 'call-metadata')),
  ];
  root.append(...sections.filter((n): n is HTMLElement => n !== null));
}

function priceLine(p: Price): HTMLElement {
  return h('p', { class: 'muted' }, `Stored price #${p.id}: `, Object.entries(p.perMtok).map(([k, v]) => `${k} $${String(v)}`).join(', '), ' per million tokens, from ', time(p.effectiveFrom), p.effectiveTo ? [' to ', time(p.effectiveTo)] : '', '.');
}
