import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/index.js';
import { PriceBook } from '../../lib/pricing/index.js';
import { wrap } from '../../lib/providers/index.js';
import { chatUsageBody, openaiRoutes, responsesUsageBody, toolItem, type OpenAIScript } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, sum } from './provider-test.support.js';

/**
 * OpenAI responses read every way OpenAI bills them: the service tier the response reports
 * (ChatCompletion.service_tier, ChatCompletionChunk.service_tier, Response.service_tier), the
 * per-call tool fees (Response.output items of type `web_search_call` / `file_search_call`),
 * cache writes (CompletionUsage.PromptTokensDetails.cache_write_tokens,
 * ResponseUsage.InputTokensDetails.cache_write_tokens) and audio tokens
 * (prompt_tokens_details.audio_tokens, completion_tokens_details.audio_tokens). Shapes from the
 * `openai` 6.x type definitions; every price per 1M tokens unless said otherwise.
 */
const script: OpenAIScript = { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 10, completion: 5 }) };
const h = providerHarness((s) => openaiRoutes(s, script));
const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Say hello' }];

function use(model: string, usage: unknown, extras: { serviceTier?: unknown; tools?: unknown[] } = {}) {
  script.model = model;
  script.usage = usage;
  script.serviceTier = extras.serviceTier;
  script.tools = extras.tools;
  script.stream = undefined;
}

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const x of stream) seen.push(x);
  return seen;
}

// o3 (catalog, from 2025-06-10): $2 input / $0.50 cached / $8 output. Flex (Kostrack's tier table,
// from 2025-06-10): $1 / $0.25 / $4, half of it.
// 10,000 prompt tokens of which 4,000 cached; 3,000 completion tokens of which 2,000 reasoning.
const o3Usage = chatUsageBody({ prompt: 10_000, cached: 4_000, completion: 3_000, reasoning: 2_000 });
const o3Breakdown = { inputUncached: 6_000, cacheRead: 4_000, output: 1_000, reasoning: 2_000 };
// Flex: 6,000 × $1 = $0.006; 4,000 × $0.25 = $0.001; 3,000 × $4 = $0.012 → $0.019.
const o3Flex = sum(atMtok(6_000, '1'), atMtok(4_000, '0.25'), atMtok(3_000, '4'));
// Standard: 6,000 × $2 = $0.012; 4,000 × $0.50 = $0.002; 3,000 × $8 = $0.024 → $0.038.
const o3Standard = sum(atMtok(6_000, '2'), atMtok(4_000, '0.50'), atMtok(3_000, '8'));

describe('service tier: priced by the tier the response reports', () => {
  it('o3 flex, chat completion: half the standard price, row says flex, priced from the tier table', async () => {
    expect(usdToString(o3Flex)).toBe('0.019');
    expect(usdToString(o3Standard)).toBe('0.038');
    use('o3-2025-04-16', o3Usage, { serviceTier: 'flex' });
    const res = await wrap(client()).chat.completions.create({ model: 'o3', messages, service_tier: 'flex' });
    expect(res.service_tier).toBe('flex');
    const row = h.only();
    expect(row.tokenBreakdown).toEqual(o3Breakdown);
    expect(row.costUsd).toBe(o3Flex);
    expect(row).toMatchObject({ serviceTier: 'flex', pricingSource: 'tier', pricingModel: 'kostrack-tiers:o3@flex', pricingFlags: null });
    expect(row.catalogVersion).toMatch(/^genai-prices@/);
  });

  it('o3 flex, streamed chat: the tier from the chunks (ChatCompletionChunk.service_tier), same exact price', async () => {
    use('o3-2025-04-16', o3Usage, { serviceTier: 'flex' });
    const chunks = (await drain(await wrap(client()).chat.completions.create({ model: 'o3', messages, service_tier: 'flex', stream: true }))) as OpenAI.ChatCompletionChunk[];
    expect(chunks.every((c) => c.service_tier === 'flex')).toBe(true);
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, status: 'ok', tokenBreakdown: o3Breakdown, costUsd: o3Flex });
    expect(row).toMatchObject({ serviceTier: 'flex', pricingSource: 'tier', pricingModel: 'kostrack-tiers:o3@flex', pricingFlags: null });
  });

  // gpt-5 (catalog): $1.25 / $0.125 cached / $10. Priority (tier table): $2.50 / $0.25 / $20.
  // 20,000 input of which 8,000 cached; 5,000 output of which 3,000 reasoning.
  const gpt5Usage = responsesUsageBody({ input: 20_000, cached: 8_000, output: 5_000, reasoning: 3_000 });
  const gpt5Breakdown = { inputUncached: 12_000, cacheRead: 8_000, output: 2_000, reasoning: 3_000 };
  // 12,000 × $2.50 = $0.03; 8,000 × $0.25 = $0.002; 5,000 × $20 = $0.10 → $0.132.
  const gpt5Priority = sum(atMtok(12_000, '2.50'), atMtok(8_000, '0.25'), atMtok(5_000, '20'));

  it('gpt-5 priority through the Responses API (Response.service_tier)', async () => {
    expect(usdToString(gpt5Priority)).toBe('0.132');
    use('gpt-5-2025-08-07', gpt5Usage, { serviceTier: 'priority' });
    const res = await wrap(client()).responses.create({ model: 'gpt-5', input: 'Say hello', service_tier: 'priority' });
    expect([res.output_text, res.service_tier]).toEqual(['Hello!', 'priority']);
    const row = h.only();
    expect(row.tokenBreakdown).toEqual(gpt5Breakdown);
    expect(row.costUsd).toBe(gpt5Priority);
    expect(row).toMatchObject({ serviceTier: 'priority', pricingSource: 'tier', pricingModel: 'kostrack-tiers:gpt-5@priority', pricingFlags: null });
  });

  it('gpt-5 priority, streamed Responses: the tier from response.completed', async () => {
    use('gpt-5-2025-08-07', gpt5Usage, { serviceTier: 'priority' });
    const events = (await drain(await wrap(client()).responses.create({ model: 'gpt-5', input: 'Say hello', service_tier: 'priority', stream: true }))) as OpenAI.Responses.ResponseStreamEvent[];
    expect(events.at(-1)!.type).toBe('response.completed');
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, status: 'ok', tokenBreakdown: gpt5Breakdown, costUsd: gpt5Priority });
    expect(row).toMatchObject({ serviceTier: 'priority', pricingSource: 'tier', pricingModel: 'kostrack-tiers:gpt-5@priority', pricingFlags: null });
  });

  it('asked for flex, served by default: the standard price (chat, and a stream whose snapshots still say flex)', async () => {
    use('o3-2025-04-16', o3Usage, { serviceTier: 'default' });
    await wrap(client()).chat.completions.create({ model: 'o3', messages, service_tier: 'flex' });
    expect((h.server.requests[0].body as { service_tier: string }).service_tier).toBe('flex');
    expect(h.only()).toMatchObject({ costUsd: o3Standard, serviceTier: 'default', pricingSource: 'catalog', pricingModel: 'genai-prices:o3', pricingFlags: null });
    h.sink.clear();
    // Responses stream: response.created/in_progress report the requested tier ("flex"), the
    // final response the one that served it ("default"). o3 standard, same tokens: $0.038.
    use('o3-2025-04-16', responsesUsageBody({ input: 10_000, cached: 4_000, output: 3_000, reasoning: 2_000 }), { serviceTier: 'default' });
    const events = (await drain(await wrap(client()).responses.create({ model: 'o3', input: 'Say hello', service_tier: 'flex', stream: true }))) as OpenAI.Responses.ResponseStreamEvent[];
    expect((events[0] as OpenAI.Responses.ResponseCreatedEvent).response.service_tier).toBe('flex');
    expect((events.at(-1) as OpenAI.Responses.ResponseCompletedEvent).response.service_tier).toBe('default');
    expect(h.only()).toMatchObject({ costUsd: o3Standard, serviceTier: 'default', pricingSource: 'catalog', pricingFlags: null });
  });

  it('asked for auto, served by flex: the flex price', async () => {
    use('o3-2025-04-16', o3Usage, { serviceTier: 'flex' });
    await wrap(client()).chat.completions.create({ model: 'o3', messages, service_tier: 'auto' });
    expect(h.only()).toMatchObject({ costUsd: o3Flex, serviceTier: 'flex', pricingSource: 'tier' });
  });

  it('scale (no known price): the standard price, flagged; the call returns untouched', async () => {
    // gpt-4o standard: 500 × $2.50 + 1,500 × $1.25 + 300 × $10 = $0.00125 + $0.001875 + $0.003 = $0.006125.
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 2_000, cached: 1_500, completion: 300 }), { serviceTier: 'scale' });
    const res = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, service_tier: 'scale' });
    expect([res.choices[0].message.content, res.service_tier, res.usage?.prompt_tokens]).toEqual(['Hello!', 'scale', 2_000]);
    const row = h.only();
    const expected = sum(atMtok(500, '2.50'), atMtok(1_500, '1.25'), atMtok(300, '10'));
    expect(usdToString(expected)).toBe('0.006125');
    expect(row).toMatchObject({ costUsd: expected, serviceTier: 'scale', pricingSource: 'catalog', pricingModel: 'genai-prices:gpt-4o' });
    expect(row.pricingFlags).toEqual(['service tier "scale" has no known price; billed at the standard rate']);
    expect(row.metadata.usage_issues).toBeUndefined();
  });

  it('a tier that is not a tier name (a number, a 200-character string): a usage issue, the standard price, flagged, the call untouched', async () => {
    // gpt-4o standard: 10 × $2.50 + 5 × $10 = $0.000025 + $0.00005 = $0.000075.
    const expected = sum(atMtok(10, '2.50'), atMtok(5, '10'));
    expect(usdToString(expected)).toBe('0.000075');
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }), { serviceTier: 42 });
    const res = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages });
    expect(res.service_tier as unknown).toBe(42);
    let row = h.only();
    expect(row).toMatchObject({ costUsd: expected, serviceTier: null, pricingSource: 'catalog' });
    expect(row.metadata.usage_issues).toEqual(['response.service_tier: not a service tier name (number)']);
    // The row says how it was priced: the tier that served it is unknown.
    expect(row.pricingFlags).toEqual(['response.service_tier: not a service tier name (number); billed at the standard rate']);
    h.sink.clear();

    const long = 'x'.repeat(200);
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }), { serviceTier: long });
    const chunks = (await drain(await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true }))) as OpenAI.ChatCompletionChunk[];
    expect(chunks.every((c) => c.service_tier === long)).toBe(true);
    row = h.only();
    expect(row).toMatchObject({ costUsd: expected, serviceTier: null });
    expect(row.metadata.usage_issues).toEqual([`response.service_tier: not a service tier name (${JSON.stringify('x'.repeat(40))})`]);
    expect(row.pricingFlags).toEqual([`response.service_tier: not a service tier name (${JSON.stringify('x'.repeat(40))}); billed at the standard rate`]);
    h.sink.clear();

    // Responses: gpt-5 standard, 1,000 × $1.25 + 100 × $10 = $0.00125 + $0.001 = $0.00225.
    use('gpt-5-2025-08-07', responsesUsageBody({ input: 1_000, output: 100 }), { serviceTier: 'Priority!' });
    const out = await wrap(client()).responses.create({ model: 'gpt-5', input: 'Say hello' });
    expect(out.service_tier as unknown).toBe('Priority!');
    row = h.only();
    expect(row).toMatchObject({ costUsd: sum(atMtok(1_000, '1.25'), atMtok(100, '10')), serviceTier: null });
    expect(row.metadata.usage_issues).toEqual(['response.service_tier: not a service tier name ("Priority!")']);
    expect(row.pricingFlags).toEqual(['response.service_tier: not a service tier name ("Priority!"); billed at the standard rate']);
  });

  it('a prices override for the flex tier beats the tier table; standard calls keep the catalog price', async () => {
    const priceBook = new PriceBook({ overrides: [{ provider: 'openai', model: 'o3-2025-04-16', serviceTier: 'flex', input: '0.90', cacheRead: '0.20', output: '3.50' }] });
    const openai = wrap(client(), { priceBook });
    use('o3-2025-04-16', o3Usage, { serviceTier: 'flex' });
    await openai.chat.completions.create({ model: 'o3', messages, service_tier: 'flex' });
    // 6,000 × $0.90 = $0.0054; 4,000 × $0.20 = $0.0008; 3,000 × $3.50 = $0.0105 → $0.0167.
    const expected = sum(atMtok(6_000, '0.90'), atMtok(4_000, '0.20'), atMtok(3_000, '3.50'));
    expect(usdToString(expected)).toBe('0.0167');
    expect(h.only()).toMatchObject({ costUsd: expected, serviceTier: 'flex', pricingSource: 'override', pricingModel: 'override:o3-2025-04-16@flex', pricingFlags: null });
    h.sink.clear();
    use('o3-2025-04-16', o3Usage, { serviceTier: 'default' });
    await openai.chat.completions.create({ model: 'o3', messages });
    expect(h.only()).toMatchObject({ costUsd: o3Standard, pricingSource: 'catalog', pricingModel: 'genai-prices:o3' });
  });
});

describe('tool fees: web_search_call and file_search_call output items', () => {
  // gpt-5 (catalog): $1.25 input / $10 output; web search $10 per 1,000 calls ($0.01 each), file
  // search $2.50 per 1,000 ($0.0025 each). 3,000 input, 600 output, 2 web searches, 1 file search:
  // 3,000 × $1.25 = $0.00375; 600 × $10 = $0.006; 2 × $0.01 = $0.02; 1 × $0.0025 → $0.03225.
  const tools = [toolItem('web_search_call', 1), toolItem('file_search_call', 1), toolItem('web_search_call', 2)];
  const expected = sum(atMtok(3_000, '1.25'), atMtok(600, '10'), 2n * usd('0.01'), usd('0.0025'));
  const breakdown = { inputUncached: 3_000, output: 600, webSearches: 2, fileSearches: 1 };

  it('plain: each call billed at its per-call price, counts in the breakdown', async () => {
    expect(usdToString(expected)).toBe('0.03225');
    use('gpt-5-2025-08-07', responsesUsageBody({ input: 3_000, output: 600 }), { tools });
    const res = await wrap(client()).responses.create({ model: 'gpt-5', input: 'Look it up', tools: [{ type: 'web_search' }] });
    expect(res.output.map((o) => o.type)).toEqual(['web_search_call', 'file_search_call', 'web_search_call', 'reasoning', 'message']);
    const row = h.only();
    expect(row.tokenBreakdown).toEqual(breakdown);
    expect([row.inputTokens, row.outputTokens]).toEqual([3_000, 600]);
    expect(row).toMatchObject({ costUsd: expected, pricingSource: 'catalog', pricingModel: 'genai-prices:gpt-5', pricingFlags: null });
  });

  it('streamed: the items of the response.completed response', async () => {
    use('gpt-5-2025-08-07', responsesUsageBody({ input: 3_000, output: 600 }), { tools });
    const events = (await drain(await wrap(client()).responses.create({ model: 'gpt-5', input: 'Look it up', tools: [{ type: 'web_search' }], stream: true }))) as OpenAI.Responses.ResponseStreamEvent[];
    // Each item is also announced in output_item.added/done events: counted once, from the final response.
    expect(events.filter((e) => e.type === 'response.output_item.done')).toHaveLength(5);
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, tokenBreakdown: breakdown, costUsd: expected, pricingFlags: null });
  });

  it('a model whose price has no web-search fee: the search is counted, not billed, and flagged', async () => {
    // Override acme-search-1: $1 input, $2 output, no webSearch price. 1,000 × $1 + 100 × $2 = $0.0012.
    const priceBook = new PriceBook({ overrides: [{ provider: 'openai', model: 'acme-search-1', input: '1', output: '2' }] });
    use('acme-search-1', responsesUsageBody({ input: 1_000, output: 100 }), { tools: [toolItem('web_search_call', 1)] });
    await wrap(client(), { priceBook }).responses.create({ model: 'acme-search-1', input: 'Look it up' });
    const row = h.only();
    const tokensOnly = sum(atMtok(1_000, '1'), atMtok(100, '2'));
    expect(usdToString(tokensOnly)).toBe('0.0012');
    expect(row).toMatchObject({ costUsd: tokensOnly, pricingSource: 'override', tokenBreakdown: { inputUncached: 1_000, output: 100, webSearches: 1 } });
    expect(row.pricingFlags).toEqual(['1 webSearches not billed (no price)']);
  });
});

describe('tool fees: which web search items are billed', () => {
  it('open_page and find_in_page actions are free: only search actions count', async () => {
    // gpt-5: 1,000 input × $1.25 = $0.00125; 100 output × $10 = $0.001; 1 search × $0.01 → $0.01225.
    const items = [
      toolItem('web_search_call', 1),
      { type: 'web_search_call', id: 'ws_2', status: 'completed', action: { type: 'open_page', url: 'https://example.com' } },
      { type: 'web_search_call', id: 'ws_3', status: 'completed', action: { type: 'find_in_page', url: 'https://example.com', pattern: 'x' } },
    ];
    use('gpt-5-2025-08-07', responsesUsageBody({ input: 1_000, output: 100 }), { tools: items });
    await wrap(client()).responses.create({ model: 'gpt-5', input: 'Look it up', tools: [{ type: 'web_search' }] });
    const row = h.only();
    const expected = sum(atMtok(1_000, '1.25'), atMtok(100, '10'), usd('0.01'));
    expect(usdToString(expected)).toBe('0.01225');
    expect(row).toMatchObject({ costUsd: expected, tokenBreakdown: { inputUncached: 1_000, output: 100, webSearches: 1 }, pricingFlags: null });
  });

});

describe('tool fees: web_search_preview is billed by model family (Kostrack fee table)', () => {
  // OpenAI's pricing page (built-in tools): web_search_preview on non-reasoning models (gpt-4o,
  // gpt-4.1 and their -mini) $25.00 per 1,000 calls = $0.025 each, search content tokens free;
  // on reasoning models (gpt-5, o-series) $10.00 per 1,000 = $0.01; the web_search tool $0.01 on every model.
  // gpt-4o: $2.50 input / $10 output. 1,000 input, 100 output, 2 searches:
  // 1,000 × $2.50 = $0.0025; 100 × $10 = $0.001; 2 × $0.025 = $0.05 → $0.0535.
  const gpt4o = sum(atMtok(1_000, '2.50'), atMtok(100, '10'), 2n * usd('0.025'));
  const twoSearches = [toolItem('web_search_call', 1), toolItem('web_search_call', 2)];
  const breakdown = { inputUncached: 1_000, output: 100, webSearches: 2 };

  it('gpt-4o, plain Responses: 2 × $0.025, exact, no flag', async () => {
    expect(usdToString(gpt4o)).toBe('0.0535');
    use('gpt-4o-2024-08-06', responsesUsageBody({ input: 1_000, output: 100 }), { tools: twoSearches });
    const res = await wrap(client()).responses.create({ model: 'gpt-4o', input: 'Look it up', tools: [{ type: 'web_search_preview' }] });
    expect(res.tools.map((t) => t.type)).toEqual(['web_search_preview']);
    const row = h.only();
    expect(row).toMatchObject({ costUsd: gpt4o, tokenBreakdown: breakdown, pricingSource: 'catalog', pricingModel: 'genai-prices:gpt-4o', pricingFlags: null });
    // The tool is kept on the row: the token buckets alone would re-price the searches at $0.01.
    expect(row.metadata.web_search_tool).toBe('web_search_preview');
  });

  it('gpt-4o, streamed Responses (tools of the response.completed response): the same exact cost', async () => {
    use('gpt-4o-2024-08-06', responsesUsageBody({ input: 1_000, output: 100 }), { tools: twoSearches });
    await drain(await wrap(client()).responses.create({ model: 'gpt-4o', input: 'Look it up', tools: [{ type: 'web_search_preview' }], stream: true }));
    expect(h.only()).toMatchObject({ streamed: true, costUsd: gpt4o, tokenBreakdown: breakdown, pricingFlags: null });
  });

  it('gpt-4.1-mini with a dated preview tool, plain and streamed: $0.025 per call', async () => {
    // gpt-4.1-mini: $0.40 input / $1.60 output. 2,000 × $0.40 = $0.0008; 300 × $1.60 = $0.00048; 1 × $0.025 → $0.02628.
    const expected = sum(atMtok(2_000, '0.40'), atMtok(300, '1.60'), usd('0.025'));
    expect(usdToString(expected)).toBe('0.02628');
    use('gpt-4.1-mini-2025-04-14', responsesUsageBody({ input: 2_000, output: 300 }), { tools: [toolItem('web_search_call', 1)] });
    const tools = [{ type: 'web_search_preview_2025_03_11' as const }];
    await wrap(client()).responses.create({ model: 'gpt-4.1-mini', input: 'Look it up', tools });
    expect(h.only()).toMatchObject({ costUsd: expected, pricingModel: 'genai-prices:gpt-4.1-mini', pricingFlags: null });
    h.sink.clear();
    await drain(await wrap(client()).responses.create({ model: 'gpt-4.1-mini', input: 'Look it up', tools, stream: true }));
    expect(h.only()).toMatchObject({ streamed: true, costUsd: expected, pricingFlags: null });
  });

  it('the web_search tool on gpt-4o, and web_search_preview on gpt-5 (a reasoning model): $0.01 per call', async () => {
    // gpt-4o, web_search: 1,000 × $2.50 = $0.0025; 100 × $10 = $0.001; 1 × $0.01 → $0.0135.
    const gpt4oSearch = sum(atMtok(1_000, '2.50'), atMtok(100, '10'), usd('0.01'));
    expect(usdToString(gpt4oSearch)).toBe('0.0135');
    use('gpt-4o-2024-08-06', responsesUsageBody({ input: 1_000, output: 100 }), { tools: [toolItem('web_search_call', 1)] });
    await wrap(client()).responses.create({ model: 'gpt-4o', input: 'Look it up', tools: [{ type: 'web_search' }] });
    expect(h.only()).toMatchObject({ costUsd: gpt4oSearch, pricingFlags: null });
    h.sink.clear();
    // gpt-5, web_search_preview: 1,000 × $1.25 = $0.00125; 100 × $10 = $0.001; 1 × $0.01 → $0.01225.
    const gpt5Preview = sum(atMtok(1_000, '1.25'), atMtok(100, '10'), usd('0.01'));
    expect(usdToString(gpt5Preview)).toBe('0.01225');
    use('gpt-5-2025-08-07', responsesUsageBody({ input: 1_000, output: 100 }), { tools: [toolItem('web_search_call', 1)] });
    await drain(await wrap(client()).responses.create({ model: 'gpt-5', input: 'Look it up', tools: [{ type: 'web_search_preview' }], stream: true }));
    expect(h.only()).toMatchObject({ streamed: true, costUsd: gpt5Preview, pricingFlags: null });
  });

  it('both tools offered on gpt-4o: which made the call is unknown, so the web_search rate, flagged', async () => {
    // 1,000 × $2.50 = $0.0025; 100 × $10 = $0.001; 1 × $0.01 → $0.0135 (a preview call would be $0.025).
    use('gpt-4o-2024-08-06', responsesUsageBody({ input: 1_000, output: 100 }), { tools: [toolItem('web_search_call', 1)] });
    await wrap(client()).responses.create({ model: 'gpt-4o', input: 'Look it up', tools: [{ type: 'web_search' }, { type: 'web_search_preview' }] });
    const row = h.only();
    expect(row.costUsd).toBe(sum(atMtok(1_000, '2.50'), atMtok(100, '10'), usd('0.01')));
    expect(row.pricingFlags).toEqual(['webSearches: web_search and web_search_preview both offered, and gpt-4o bills them differently; priced at the web_search rate']);
    expect(row.metadata.web_search_tool).toBe('either');
  });
});

describe('tools billed outside tokens that Kostrack does not price', () => {
  it('code_interpreter_call and image_generation_call items: tokens priced, the row says what was left out', async () => {
    // gpt-5: 1,000 input × $1.25 = $0.00125; 100 output × $10 = $0.001 → $0.00225 (containers and images not included).
    const items = [
      { type: 'code_interpreter_call', id: 'ci_1', status: 'completed', code: 'print(1)', container_id: 'cntr_1', outputs: null },
      { type: 'code_interpreter_call', id: 'ci_2', status: 'completed', code: 'print(2)', container_id: 'cntr_1', outputs: null },
      { type: 'image_generation_call', id: 'ig_1', status: 'completed', result: null },
    ];
    use('gpt-5-2025-08-07', responsesUsageBody({ input: 1_000, output: 100 }), { tools: items });
    await wrap(client()).responses.create({ model: 'gpt-5', input: 'Plot it' });
    const row = h.only();
    expect(row.costUsd).toBe(sum(atMtok(1_000, '1.25'), atMtok(100, '10')));
    expect(row.pricingFlags).toEqual(['2 code_interpreter_call, 1 image_generation_call not billed (no per-call price)']);
  });
});

describe('cache writes: cache_write_tokens', () => {
  it('chat on a model with a cache-write rate (gpt-6-sol): billed exactly at it', async () => {
    // gpt-6-sol (catalog, below its 272k-token tier): $2 input / $0.20 cached / $2.50 cache write / $10 output.
    // 10,000 prompt = 2,000 cached + 5,000 written + 3,000 uncached; 400 completion.
    // 3,000 × $2 = $0.006; 2,000 × $0.20 = $0.0004; 5,000 × $2.50 = $0.0125; 400 × $10 = $0.004 → $0.0229.
    use('gpt-6-sol', chatUsageBody({ prompt: 10_000, cached: 2_000, cacheWrite: 5_000, completion: 400 }));
    await wrap(client()).chat.completions.create({ model: 'gpt-6-sol', messages });
    const row = h.only();
    const expected = sum(atMtok(3_000, '2'), atMtok(2_000, '0.20'), atMtok(5_000, '2.50'), atMtok(400, '10'));
    expect(usdToString(expected)).toBe('0.0229');
    expect(row.tokenBreakdown).toEqual({ inputUncached: 3_000, cacheRead: 2_000, cacheWrite5m: 5_000, output: 400 });
    expect([row.inputTokens, row.cachedTokens]).toEqual([10_000, 2_000]);
    expect(row).toMatchObject({ costUsd: expected, pricingModel: 'genai-prices:gpt-6-sol', pricingFlags: null });
  });

  it('streamed chat on gpt-6-sol: the usage chunk\'s cache_write_tokens billed at the cache-write rate', async () => {
    // Same prices and usage as above, read from the last chunk (ChatCompletionChunk.usage,
    // prompt_tokens_details.cache_write_tokens):
    // 3,000 × $2 = $0.006; 2,000 × $0.20 = $0.0004; 5,000 × $2.50 = $0.0125; 400 × $10 = $0.004 → $0.0229
    // (at the input rate the written tokens would cost $0.01, the total $0.0204).
    const expected = sum(atMtok(3_000, '2'), atMtok(2_000, '0.20'), atMtok(5_000, '2.50'), atMtok(400, '10'));
    expect(usdToString(expected)).toBe('0.0229');
    use('gpt-6-sol', chatUsageBody({ prompt: 10_000, cached: 2_000, cacheWrite: 5_000, completion: 400 }));
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-6-sol', messages, stream: true, stream_options: { include_usage: true } });
    const chunks = (await drain(stream)) as OpenAI.ChatCompletionChunk[];
    const last = chunks.at(-1)!;
    expect((last.usage?.prompt_tokens_details as { cache_write_tokens?: number } | undefined)?.cache_write_tokens).toBe(5_000);
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 3_000, cacheRead: 2_000, cacheWrite5m: 5_000, output: 400 });
    expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([10_000, 400, 2_000]);
    expect(row).toMatchObject({ streamed: true, status: 'ok', costUsd: expected, pricingModel: 'genai-prices:gpt-6-sol', pricingFlags: null });
  });

  it('Responses on gpt-5.6-luna (input_tokens_details.cache_write_tokens), plain and streamed', async () => {
    // gpt-5.6-luna from 2026-07-30 (catalog): $0.20 input / $0.02 cached / $0.25 cache write / $1.20 output.
    // 50,000 input = 10,000 cached + 30,000 written + 10,000 uncached; 2,000 output of which 1,500 reasoning.
    // 10,000 × $0.20 = $0.002; 10,000 × $0.02 = $0.0002; 30,000 × $0.25 = $0.0075; 2,000 × $1.20 = $0.0024 → $0.0121.
    const expected = sum(atMtok(10_000, '0.20'), atMtok(10_000, '0.02'), atMtok(30_000, '0.25'), atMtok(2_000, '1.20'));
    expect(usdToString(expected)).toBe('0.0121');
    const breakdown = { inputUncached: 10_000, cacheRead: 10_000, cacheWrite5m: 30_000, output: 500, reasoning: 1_500 };
    use('gpt-5.6-luna', responsesUsageBody({ input: 50_000, cached: 10_000, cacheWrite: 30_000, output: 2_000, reasoning: 1_500 }));
    await wrap(client()).responses.create({ model: 'gpt-5.6-luna', input: 'Say hello' });
    expect(h.only()).toMatchObject({ tokenBreakdown: breakdown, costUsd: expected, pricingModel: 'genai-prices:gpt-5.6-luna', pricingFlags: null });
    h.sink.clear();
    await drain(await wrap(client()).responses.create({ model: 'gpt-5.6-luna', input: 'Say hello', stream: true }));
    expect(h.only()).toMatchObject({ streamed: true, tokenBreakdown: breakdown, costUsd: expected, pricingFlags: null });
  });

  it('gpt-4o has no cache-write rate: written tokens billed at the input rate, flagged', async () => {
    // gpt-4o: $2.50 input / $1.25 cached / $10 output, no cache-write price.
    // 2,000 prompt = 500 cached + 1,000 written + 500 uncached; 100 completion.
    // 500 × $2.50 = $0.00125; 500 × $1.25 = $0.000625; 1,000 × $2.50 (input rate) = $0.0025; 100 × $10 = $0.001 → $0.005375.
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 2_000, cached: 500, cacheWrite: 1_000, completion: 100 }));
    await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages });
    const row = h.only();
    const expected = sum(atMtok(500, '2.50'), atMtok(500, '1.25'), atMtok(1_000, '2.50'), atMtok(100, '10'));
    expect(usdToString(expected)).toBe('0.005375');
    expect(row.tokenBreakdown).toEqual({ inputUncached: 500, cacheRead: 500, cacheWrite5m: 1_000, output: 100 });
    expect(row.costUsd).toBe(expected);
    expect(row.pricingFlags).toEqual(['cacheWrite5m billed at the input rate (no cacheWrite5m price)']);
  });
});

describe('audio tokens in chat completions', () => {
  // 1,000 prompt tokens of which 600 audio; 500 completion tokens of which 450 audio.
  const audioUsage = chatUsageBody({ prompt: 1_000, audioIn: 600, completion: 500, audioOut: 450 });
  const breakdown = { inputUncached: 400, inputAudio: 600, output: 50, outputAudio: 450 };

  // gpt-4o-audio-preview (2024-12-17): text $2.50 / $10, audio $40 in / $80 out (corrected).
  // 400 × $2.50 = $0.001; 600 × $40 = $0.024; 50 × $10 = $0.0005; 450 × $80 = $0.036 → $0.0615.
  const preview = sum(atMtok(400, '2.50'), atMtok(600, '40'), atMtok(50, '10'), atMtok(450, '80'));

  it('gpt-4o-audio-preview-2024-12-17, plain: audio at the audio rates, text at the text rates, no flags', async () => {
    expect(usdToString(preview)).toBe('0.0615');
    use('gpt-4o-audio-preview-2024-12-17', audioUsage);
    await wrap(client()).chat.completions.create({ model: 'gpt-4o-audio-preview', messages, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } });
    const row = h.only();
    expect(row.tokenBreakdown).toEqual(breakdown);
    expect([row.inputTokens, row.outputTokens]).toEqual([1_000, 500]);
    expect(row).toMatchObject({ costUsd: preview, pricingModel: 'genai-prices:gpt-4o-audio-preview', pricingFlags: null });
  });

  it('gpt-4o-audio-preview-2024-12-17, streamed: the same exact cost', async () => {
    use('gpt-4o-audio-preview-2024-12-17', audioUsage);
    await drain(await wrap(client()).chat.completions.create({ model: 'gpt-4o-audio-preview', messages, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'pcm16' }, stream: true }));
    expect(h.only()).toMatchObject({ streamed: true, tokenBreakdown: breakdown, costUsd: preview, pricingFlags: null });
  });

  it('gpt-4o-mini-audio-preview: text $0.15 / $0.60, audio $10 / $20', async () => {
    // 400 × $0.15 = $0.00006; 600 × $10 = $0.006; 50 × $0.60 = $0.00003; 450 × $20 = $0.009 → $0.01509.
    const expected = sum(atMtok(400, '0.15'), atMtok(600, '10'), atMtok(50, '0.60'), atMtok(450, '20'));
    expect(usdToString(expected)).toBe('0.01509');
    use('gpt-4o-mini-audio-preview-2024-12-17', audioUsage);
    await wrap(client()).chat.completions.create({ model: 'gpt-4o-mini-audio-preview', messages });
    expect(h.only()).toMatchObject({ tokenBreakdown: breakdown, costUsd: expected, pricingModel: 'genai-prices:gpt-4o-mini-audio-preview', pricingFlags: null });
    h.sink.clear();
    await drain(await wrap(client()).chat.completions.create({ model: 'gpt-4o-mini-audio-preview', messages, stream: true }));
    expect(h.only()).toMatchObject({ streamed: true, costUsd: expected, pricingFlags: null });
  });

  it('gpt-4o-audio-preview-2024-10-01 keeps its launch audio rates, $100 / $200', async () => {
    // 400 × $2.50 = $0.001; 600 × $100 = $0.06; 50 × $10 = $0.0005; 450 × $200 = $0.09 → $0.1515.
    const expected = sum(atMtok(400, '2.50'), atMtok(600, '100'), atMtok(50, '10'), atMtok(450, '200'));
    expect(usdToString(expected)).toBe('0.1515');
    use('gpt-4o-audio-preview-2024-10-01', audioUsage);
    await wrap(client()).chat.completions.create({ model: 'gpt-4o-audio-preview-2024-10-01', messages });
    expect(h.only()).toMatchObject({ tokenBreakdown: breakdown, costUsd: expected, pricingFlags: null });
  });
});
