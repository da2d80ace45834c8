import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/index.js';
import { wrap } from '../../lib/providers/index.js';
import { anthropicRoutes, anthropicUsageBody, message, type AnthropicScript, type AnthropicUsageSpec } from '../../loopback/anthropic.loopback.js';
import { atMtok, providerHarness, settle, sum } from './provider-test.support.js';

/*
 * Everything an Anthropic response bills beyond plain tokens, read the way the SDK types it
 * (`Usage`, `MessageDeltaUsage`, `ServerToolUsage` in @anthropic-ai/sdk 1.x):
 * `usage.service_tier`, `usage.server_tool_use.web_search_requests`, and the long-context tier.
 *
 * List prices (per Mtok unless said), as the genai-prices catalog has them (checked with
 * `calcPrice({}, model, { providerId: 'anthropic' })`) plus Kostrack's sourced correction:
 * - claude-sonnet-4-5: input $3, cache read $0.30, 5m write $3.75, 1h write $6, output $15;
 *   web search $10 per 1,000 = $0.01 each (`web_searches_kcount: 10`).
 * - claude-sonnet-4-20250514 (catalog id claude-sonnet-4-0): the same base rates; over 200k input
 *   tokens (input + cache reads + cache writes) the whole request is input $6, cache read $0.60,
 *   5m write $7.50, 1h write $12, output $22.50 (correction, docs.anthropic.com context windows).
 * - Batch: half of every token rate; tool fees are not discounted.
 */
const SONNET_45 = 'claude-sonnet-4-5';
const SONNET_4 = 'claude-sonnet-4-20250514';
const PRIORITY_FLAG = 'service tier "priority" has no known price; billed at the standard rate';

const script: AnthropicScript = { model: SONNET_45, usage: anthropicUsageBody({ input: 1, output: 1 }) };
const h = providerHarness((s) => anthropicRoutes(s, script));
const client = () => new Anthropic({ apiKey: 'sk-ant-test', baseURL: h.server.url, maxRetries: 0 });
const body = (model: string) => ({ model, max_tokens: 1024, messages: [{ role: 'user' as const, content: 'Search the web' }] });

function use(model: string, spec: AnthropicUsageSpec, events?: AnthropicScript['events']) {
  script.model = model;
  script.usage = anthropicUsageBody(spec);
  script.events = events;
}

/** Each way a message is read: plain create, stream: true (two delta shapes), and the stream() helper. */
const MODES = ['plain', 'stream: true', 'stream: true, cumulative delta', 'messages.stream()'] as const;
type Mode = (typeof MODES)[number];

async function call(mode: Mode, model: string): Promise<unknown> {
  const anthropic = wrap(client());
  if (mode === 'plain') return anthropic.messages.create(body(model));
  if (mode === 'messages.stream()') {
    const final = await anthropic.messages.stream(body(model)).finalMessage();
    await settle(h.sink);
    return final;
  }
  if (mode === 'stream: true, cumulative delta') script.events = { cumulativeInput: true };
  const events: unknown[] = [];
  for await (const e of await anthropic.messages.create({ ...body(model), stream: true })) events.push(e);
  await settle(h.sink);
  return events;
}

describe('anthropic web search (usage.server_tool_use.web_search_requests)', () => {
  it.each(MODES)('claude-sonnet-4-5 with 3 web searches, %s: tokens + 3 x $0.01, exact, no flags', async (mode) => {
    // web_fetch_requests are free (only the fetched tokens cost): recorded nowhere.
    use(SONNET_45, { input: 2000, cacheRead: 1000, output: 500, webSearches: 3, webFetches: 2 });
    await call(mode, SONNET_45);
    // 2,000 x $3 = $0.006; 1,000 x $0.30 = $0.0003; 500 x $15 = $0.0075; 3 x $0.01 = $0.03 → $0.0438
    const expected = sum(atMtok(2000, '3'), atMtok(1000, '0.30'), atMtok(500, '15'), 3n * usd('0.01'));
    expect(usdToString(expected)).toBe('0.0438');
    const row = h.only();
    expect(row.costUsd).toBe(expected);
    expect(row.tokenBreakdown).toEqual({ inputUncached: 2000, cacheRead: 1000, output: 500, webSearches: 3 });
    // Searches are a fee, not tokens.
    expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([3000, 500, 1000]);
    expect(row).toMatchObject({ pricingModel: 'genai-prices:claude-sonnet-4-5', pricingSource: 'catalog', pricingFlags: null, serviceTier: 'standard' });
    expect(row.metadata.usage_issues).toBeUndefined();
  });

  it.each(['plain', 'stream: true'] as const)('a negative count (%s): usage issue, searches not billed and flagged, the response untouched', async (mode) => {
    use(SONNET_45, { input: 2000, output: 500, webSearches: -2 });
    const res = await call(mode, SONNET_45);
    if (mode === 'plain') {
      // The Message is exactly what the server sent, bad count included.
      expect(JSON.parse(JSON.stringify(res))).toEqual(message(SONNET_45, script.usage));
    } else {
      const delta = (res as { type: string; usage?: { server_tool_use?: unknown } }[]).find((e) => e.type === 'message_delta');
      expect(delta?.usage?.server_tool_use).toEqual({ web_search_requests: -2, web_fetch_requests: 0 });
    }
    const row = h.only();
    expect(row.metadata.usage_issues).toEqual(['usage.server_tool_use.web_search_requests: negative (-2)']);
    // The row itself says what was left out of the price, not only its metadata.
    expect(row.pricingFlags).toEqual(['usage.server_tool_use.web_search_requests: negative (-2); not billed']);
    expect(row.tokenBreakdown).toEqual({ inputUncached: 2000, output: 500 });
    // 2,000 x $3 = $0.006; 500 x $15 = $0.0075 → $0.0135 (tokens only)
    expect(row.costUsd).toBe(sum(atMtok(2000, '3'), atMtok(500, '15')));
    expect(usdToString(row.costUsd!)).toBe('0.0135');
  });

  it('a count that is not a number: usage issue, not billed, flagged', async () => {
    use(SONNET_45, { input: 2000, output: 500, webSearches: '3' });
    const res = await call('plain', SONNET_45);
    expect((res as Anthropic.Message).usage.server_tool_use).toEqual({ web_search_requests: '3', web_fetch_requests: 0 });
    expect(h.only().metadata.usage_issues).toEqual(['usage.server_tool_use.web_search_requests: not a number (string)']);
    expect(h.only().pricingFlags).toEqual(['usage.server_tool_use.web_search_requests: not a number (string); not billed']);
    expect(h.only().costUsd).toBe(sum(atMtok(2000, '3'), atMtok(500, '15')));
  });
});

describe('anthropic service tier (usage.service_tier)', () => {
  it.each(MODES)('priority, %s: the standard price, flagged, and the tier stored on the row', async (mode) => {
    use(SONNET_45, { input: 1000, output: 200, serviceTier: 'priority' });
    await call(mode, SONNET_45);
    // Priority Tier is sold as committed spend; no per-token price is published.
    // 1,000 x $3 = $0.003; 200 x $15 = $0.003 → $0.006
    const row = h.only();
    expect(row.costUsd).toBe(sum(atMtok(1000, '3'), atMtok(200, '15')));
    expect(usdToString(row.costUsd!)).toBe('0.006');
    expect(row).toMatchObject({ serviceTier: 'priority', pricingFlags: [PRIORITY_FLAG], pricingSource: 'catalog' });
  });

  it.each(['plain', 'stream: true'] as const)('standard, %s: exact, no flag, tier stored', async (mode) => {
    use(SONNET_45, { input: 1000, output: 200, serviceTier: 'standard' });
    await call(mode, SONNET_45);
    expect(h.only()).toMatchObject({ serviceTier: 'standard', pricingFlags: null, pricingSource: 'catalog', costUsd: sum(atMtok(1000, '3'), atMtok(200, '15')) });
  });

  it('no service_tier at all: standard price, no tier on the row', async () => {
    use(SONNET_45, { input: 1000, output: 200, serviceTier: null });
    await call('plain', SONNET_45);
    expect(h.only()).toMatchObject({ serviceTier: null, pricingFlags: null, costUsd: sum(atMtok(1000, '3'), atMtok(200, '15')) });
  });

  it('batch results carrying service_tier "batch": half token rates, searches at full price', async () => {
    script.batchResults = [
      { custom_id: 'a', result: { type: 'succeeded', message: message(SONNET_45, anthropicUsageBody({ input: 1000, output: 500, webSearches: 2, serviceTier: 'batch' })) } },
      { custom_id: 'b', result: { type: 'succeeded', message: message(SONNET_45, anthropicUsageBody({ input: 4000, cacheRead: 2000, write5m: 1000, output: 100, serviceTier: 'batch' })) } },
    ];
    try {
      for await (const _ of await wrap(client()).messages.batches.results('msgbatch_tier')) void _;
    } finally {
      script.batchResults = undefined;
    }
    const [a, b] = h.sink.calls;
    // a: 1,000 x $1.50 = $0.0015; 500 x $7.50 = $0.00375; 2 x $0.01 = $0.02 → $0.02525
    expect(a.costUsd).toBe(sum(atMtok(1000, '1.50'), atMtok(500, '7.50'), 2n * usd('0.01')));
    expect(usdToString(a.costUsd!)).toBe('0.02525');
    // b: 4,000 x $1.50 = $0.006; 2,000 x $0.15 = $0.0003; 1,000 x $1.875 = $0.001875; 100 x $7.50 = $0.00075 → $0.008925
    expect(b.costUsd).toBe(sum(atMtok(4000, '1.50'), atMtok(2000, '0.15'), atMtok(1000, '1.875'), atMtok(100, '7.50')));
    expect(usdToString(b.costUsd!)).toBe('0.008925');
    for (const row of [a, b]) expect(row).toMatchObject({ serviceTier: 'batch', pricingSource: 'batch', pricingFlags: null, operation: 'messages.batches.results' });
    expect(a.tokenBreakdown.webSearches).toBe(2);
  });
});

describe('claude-sonnet-4 long context (over 200k input tokens, cache reads and writes included)', () => {
  // Input split: uncached + 150,000 cache reads + 6,000 5-minute writes + 4,000 1-hour writes.
  const at = (input: number): AnthropicUsageSpec => ({ input, cacheRead: 150_000, write5m: 6_000, write1h: 4_000, output: 2_000 });

  it.each(['plain', 'stream: true'] as const)('199,999 input tokens (%s): the base rates', async (mode) => {
    use(SONNET_4, at(39_999));
    await call(mode, SONNET_4);
    // 39,999 x $3 = $0.119997; 150,000 x $0.30 = $0.045; 6,000 x $3.75 = $0.0225;
    // 4,000 x $6 = $0.024; 2,000 x $15 = $0.03 → $0.241497
    const row = h.only();
    expect(row.inputTokens).toBe(199_999);
    expect(row.costUsd).toBe(sum(atMtok(39_999, '3'), atMtok(150_000, '0.30'), atMtok(6_000, '3.75'), atMtok(4_000, '6'), atMtok(2_000, '15')));
    expect(usdToString(row.costUsd!)).toBe('0.241497');
    expect(row).toMatchObject({ model: SONNET_4, pricingModel: 'genai-prices:claude-sonnet-4-0', pricingFlags: null });
  });

  it.each(['plain', 'stream: true'] as const)('200,001 input tokens (%s): every bucket at the long-context rate', async (mode) => {
    use(SONNET_4, at(40_001));
    await call(mode, SONNET_4);
    // 40,001 x $6 = $0.240006; 150,000 x $0.60 = $0.09; 6,000 x $7.50 = $0.045;
    // 4,000 x $12 = $0.048; 2,000 x $22.50 = $0.045 → $0.468006
    const row = h.only();
    expect(row.inputTokens).toBe(200_001);
    expect(row.costUsd).toBe(sum(atMtok(40_001, '6'), atMtok(150_000, '0.60'), atMtok(6_000, '7.50'), atMtok(4_000, '12'), atMtok(2_000, '22.50')));
    expect(usdToString(row.costUsd!)).toBe('0.468006');
    expect(row).toMatchObject({ pricingModel: 'genai-prices:claude-sonnet-4-0', pricingFlags: null });
  });
});
