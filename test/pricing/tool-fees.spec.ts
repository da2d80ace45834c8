import { describe, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/index.js';
import { PriceBook, TOOL_FEE_PRICES } from '../../lib/pricing/index.js';

/**
 * The fee table through `PriceBook.price(..., { webSearchTool })`. One usage everywhere: 1,000
 * uncached input, 100 output and 2 web searches, so cost = 0.001 × input rate + 0.0001 × output
 * rate (rates in USD per 1M) + 2 × the fee per call. OpenAI's pricing page (built-in tools):
 * web_search_preview on gpt-4o and gpt-4.1 models $25.00 per 1,000 calls ($0.025 each); on
 * reasoning models, and the web_search tool on every model, $10.00 per 1,000 ($0.01, the catalog's).
 */
const U = { inputUncached: 1_000, output: 100, webSearches: 2 };
const preview = { webSearchTool: 'web_search_preview' as const };

describe('web_search_preview on non-reasoning OpenAI models', () => {
  // Each catalog id of the table, by a model name that resolves to it, with its list price.
  const cases: [string, string, string][] = [
    // gpt-4o $2.50 / $10: 0.0025 + 0.001 + 0.05 = $0.0535.
    ['gpt-4o-2024-08-06', 'gpt-4o', '0.0535'],
    // gpt-4o-2024-05-13 $5 / $15: 0.005 + 0.0015 + 0.05 = $0.0565.
    ['gpt-4o-2024-05-13', 'gpt-4o-2024-05-13', '0.0565'],
    // gpt-4o-mini $0.15 / $0.60: 0.00015 + 0.00006 + 0.05 = $0.05021.
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini', '0.05021'],
    // gpt-4.1 $2 / $8: 0.002 + 0.0008 + 0.05 = $0.0528.
    ['gpt-4.1-2025-04-14', 'gpt-4.1', '0.0528'],
    // gpt-4.1-mini $0.40 / $1.60: 0.0004 + 0.00016 + 0.05 = $0.05056.
    ['gpt-4.1-mini', 'gpt-4.1-mini', '0.05056'],
  ];

  it.each(cases)('%s: 2 × $0.025, exact, no flag', (model, id, cost) => {
    const p = new PriceBook().price('openai', model, U, 1_000, preview);
    expect(p).toMatchObject({ pricingModel: `genai-prices:${id}`, pricingSource: 'catalog', flags: null });
    expect(usdToString(p.costUsd!)).toBe(cost);
  });

  it('covers every catalog id of the table, each entry sourced and dated', () => {
    expect(TOOL_FEE_PRICES.flatMap((t) => t.catalogIds).sort()).toEqual(cases.map((c) => c[1]).sort());
    for (const t of TOOL_FEE_PRICES) {
      expect(t.source).toMatch(/^https:\/\/platform\.openai\.com\/docs\/pricing/);
      expect(t.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(usd(t.each)).toBe(usd('0.025'));
    }
  });

  it('the web_search tool, no tool said, or a reasoning model: the catalog fee, $0.01', () => {
    const book = new PriceBook();
    // gpt-4o: 0.0025 + 0.001 + 2 × 0.01 = $0.0235.
    expect(usdToString(book.price('openai', 'gpt-4o', U, 1_000, { webSearchTool: 'web_search' }).costUsd!)).toBe('0.0235');
    expect(usdToString(book.price('openai', 'gpt-4o', U, 1_000).costUsd!)).toBe('0.0235');
    // gpt-5 $1.25 / $10, web_search_preview: 0.00125 + 0.001 + 0.02 = $0.02225.
    expect(book.price('openai', 'gpt-5', U, 1_000, preview)).toMatchObject({ costUsd: usd('0.02225'), flags: null });
  });

  it('at batch rates: the tokens halved, the fee not', () => {
    // gpt-4o batch $1.25 / $5: 0.00125 + 0.0005 + 0.05 = $0.05175.
    const p = new PriceBook().price('openai', 'gpt-4o', U, 1_000, { ...preview, batch: true });
    expect(p).toMatchObject({ costUsd: usd('0.05175'), pricingSource: 'batch', flags: null });
  });

  it('at a tier from the tier table: the tier token rates, the preview fee', () => {
    // gpt-4o priority $4.25 / $17: 0.00425 + 0.0017 + 0.05 = $0.05595.
    const p = new PriceBook().price('openai', 'gpt-4o', U, 1_000, { ...preview, serviceTier: 'priority' });
    expect(p).toMatchObject({ costUsd: usd('0.05595'), pricingSource: 'tier', pricingModel: 'kostrack-tiers:gpt-4o@priority', flags: null });
  });

  it('a price of your own keeps its own web search fee', () => {
    // Override $2 / $8, web search $0.02: 0.002 + 0.0008 + 0.04 = $0.0428.
    const book = new PriceBook({ overrides: [{ provider: 'openai', model: 'gpt-4o', input: '2', output: '8', webSearch: '0.02' }] });
    expect(book.price('openai', 'gpt-4o', U, 1_000, preview)).toMatchObject({ costUsd: usd('0.0428'), pricingSource: 'override', flags: null });
  });

  it('a tier price of your own without a web search fee takes the preview fee, as the standard tier does', () => {
    // Your gpt-4o priority $5 / $20, no fee of its own: 0.005 + 0.002 + 2 × $0.025 = $0.057 (not 2 × $0.01 from the catalog).
    const book = new PriceBook({ overrides: [{ provider: 'openai', model: 'gpt-4o', serviceTier: 'priority', input: '5', output: '20' }] });
    expect(book.price('openai', 'gpt-4o', U, 1_000, { ...preview, serviceTier: 'priority' })).toMatchObject({ costUsd: usd('0.057'), pricingSource: 'override', flags: null });
    // With a fee of its own ($0.02): 0.005 + 0.002 + 0.04 = $0.047.
    const own = new PriceBook({ overrides: [{ provider: 'openai', model: 'gpt-4o', serviceTier: 'priority', input: '5', output: '20', webSearch: '0.02' }] });
    expect(own.price('openai', 'gpt-4o', U, 1_000, { ...preview, serviceTier: 'priority' }).costUsd).toBe(usd('0.047'));
  });

  it('both tools offered: the catalog fee, flagged; a call without searches is not', () => {
    const book = new PriceBook();
    const p = book.price('openai', 'gpt-4o', U, 1_000, { webSearchTool: 'either' });
    expect(p.costUsd).toBe(usd('0.0235'));
    expect(p.flags).toEqual(['webSearches: web_search and web_search_preview both offered, and gpt-4o bills them differently; priced at the web_search rate']);
    // 1,000 × $2.50 + 100 × $10 = $0.0035, nothing to flag.
    expect(book.price('openai', 'gpt-4o', { inputUncached: 1_000, output: 100 }, 1_000, { webSearchTool: 'either' })).toMatchObject({ costUsd: usd('0.0035'), flags: null });
  });
});
