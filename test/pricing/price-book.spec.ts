import { describe, expect, it } from 'vitest';
import { configureKostrack, KostrackConfigError, usd } from '../../lib/core/index.js';
import { InMemoryStoredPriceSource, PriceBook } from '../../lib/pricing/index.js';
import { atMtok, sum } from '../providers/provider-test.support.js';

const tokens = { inputUncached: 1000, cacheRead: 500, output: 200, reasoning: 50 };
/** The bundled catalog: the installed @pydantic/genai-prices and Kostrack's corrections list. */
const BUNDLED = 'genai-prices@0.1.8+corrections@2026-11-30';

describe('PriceBook', () => {
  it('dated snapshots resolve to their catalog entry', () => {
    const r = new PriceBook().price('openai', 'gpt-4o-2024-08-06', tokens, 1500);
    // gpt-4o list price $2.50 in / $1.25 cached / $10 out; reasoning is billed as output (not a flag):
    // 1000 × 2.50 + 500 × 1.25 + 250 × 10 = 2500 + 625 + 2500 = $5,625 per 1M → $0.005625.
    expect(r).toEqual({
      costUsd: usd('0.005625'),
      pricingModel: 'genai-prices:gpt-4o',
      pricingSource: 'catalog',
      flags: null,
      catalogVersion: BUNDLED,
    });
  });

  it('overrides beat the catalog; prefixes match fine-tuned names; batch defaults to half', () => {
    const book = new PriceBook({
      overrides: [
        { provider: 'openai', model: 'gpt-4o', input: '2.00', output: '8.00', cacheRead: '1.00' },
        { provider: 'openai', model: 'ft:gpt-4o-mini:acme:*', input: '0.30', output: '1.20' },
      ],
    });
    expect(book.price('openai', 'gpt-4o', tokens, 1500)).toMatchObject({ costUsd: sum(atMtok(1000, '2'), atMtok(500, '1'), atMtok(250, '8')), pricingSource: 'override' });
    expect(book.price('openai', 'ft:gpt-4o-mini:acme:v2', { inputUncached: 100, output: 10 }, 100).costUsd).toBe(sum(atMtok(100, '0.30'), atMtok(10, '1.20')));
    expect(book.price('openai', 'gpt-4o', tokens, 1500, { batch: true })).toMatchObject({ costUsd: sum(atMtok(1000, '1'), atMtok(500, '0.5'), atMtok(250, '4')), pricingSource: 'batch' });
  });

  it('a stored price applies from its effective date, not before', () => {
    const source = new InMemoryStoredPriceSource();
    const book = new PriceBook({ stored: source });
    const before = Date.parse('2025-03-01T00:00:00Z');
    const after = Date.parse('2025-03-02T00:00:00Z');
    const catalog = sum(atMtok(1000, '2.5'), atMtok(500, '1.25'), atMtok(250, '10'));
    expect(book.price('openai', 'gpt-4o', tokens, 1500, { timeMs: after }).costUsd).toBe(catalog);
    source.add({ provider: 'openai', model: 'gpt-4o', input: '1', output: '4', cacheRead: '0.5', effectiveFrom: new Date('2025-03-01T12:00:00Z') });
    expect(book.price('openai', 'gpt-4o', tokens, 1500, { timeMs: before })).toMatchObject({ costUsd: catalog, pricingSource: 'catalog' });
    expect(book.price('openai', 'gpt-4o', tokens, 1500, { timeMs: after })).toMatchObject({
      costUsd: sum(atMtok(1000, '1'), atMtok(500, '0.5'), atMtok(250, '4')),
      pricingSource: 'stored',
      pricingModel: 'stored:gpt-4o@2025-03-01T12:00:00.000Z',
    });
  });

  it('stored periods end at effectiveTo; the latest start wins', () => {
    const source = new InMemoryStoredPriceSource([
      { provider: 'custom:vllm', model: 'llama', input: '1', output: '1', effectiveFrom: new Date('2025-01-01Z'), effectiveTo: new Date('2025-02-01Z') },
      { provider: 'custom:vllm', model: 'llama', input: '3', output: '3', effectiveFrom: new Date('2025-01-15Z') },
    ]);
    const book = new PriceBook({ stored: source });
    const at = (iso: string) => book.price('custom:vllm', 'llama', { inputUncached: 1000 }, 1000, { timeMs: Date.parse(iso) }).costUsd;
    expect(at('2025-01-10Z')).toBe(atMtok(1000, '1'));
    expect(at('2025-01-20Z')).toBe(atMtok(1000, '3'));
    expect(at('2024-12-31Z')).toBeNull();
  });

  it('tiered overrides and time-of-day catalog prices stay exact', () => {
    const book = new PriceBook({ overrides: [{ provider: 'gemini', model: 'my-pro', input: { base: '1.25', tiers: [{ start: 200000, price: '2.50' }] }, output: '10' }] });
    expect(book.price('gemini', 'my-pro', { inputUncached: 200000 }, 200000).costUsd).toBe(atMtok(200000, '1.25'));
    expect(book.price('gemini', 'my-pro', { inputUncached: 200001 }, 200001).costUsd).toBe(atMtok(200001, '2.50'));
    const ds = (iso: string) => book.price('deepseek', 'deepseek-chat', { inputUncached: 1000 }, 1000, { timeMs: Date.parse(iso) }).costUsd;
    expect(ds('2025-01-01T00:29:59Z')).toBe(atMtok(1000, '0.135'));
    expect(ds('2025-01-01T00:30:00Z')).toBe(atMtok(1000, '0.27'));
    expect(ds('2025-01-01T16:30:00Z')).toBe(atMtok(1000, '0.135'));
  });

  it('large calls (above $9) take the exact bigint path', () => {
    const r = new PriceBook().price('anthropic', 'claude-opus-4-1', { output: 1_000_000, inputUncached: 3_333_333 }, 3_333_333);
    expect(r.costUsd).toBe(sum(atMtok(1_000_000, '75'), atMtok(3_333_333, '15')));
    expect(r.costUsd).toBe(usd('124.999995'));
  });

  it('unknown model: null cost, warned once, listed', () => {
    const warnings: string[] = [];
    configureKostrack({ warn: (m) => warnings.push(m) });
    const book = new PriceBook();
    expect(book.price('openai', 'nope-1', tokens, 1500)).toEqual({ costUsd: null, pricingModel: null, pricingSource: 'unpriced', flags: null, catalogVersion: null });
    book.price('openai', 'nope-1', tokens, 1500);
    expect(warnings).toHaveLength(1);
    expect(book.unpricedModels()).toMatchObject([{ provider: 'openai', model: 'nope-1', calls: 2 }]);
  });

  it('bad overrides fail at construction with KostrackConfigError', () => {
    expect(() => new PriceBook({ overrides: [{ provider: 'openai', model: 'x', input: '-1' }] })).toThrow(KostrackConfigError);
    expect(() => new PriceBook({ overrides: [{ provider: 'openai', model: 'x', input: 'cheap' }] })).toThrow(KostrackConfigError);
    expect(() => new PriceBook({ overrides: [{ provider: 'openai', model: 'x' }] })).toThrow(/sets no price/);
    expect(() => new PriceBook({ overrides: 'x' as never })).toThrow(KostrackConfigError);
  });
});

describe('PriceBook flags and fees', () => {
  const book = new PriceBook();

  it('cached tokens on a model without a cache rate are billed at the input rate and flagged', () => {
    // gpt-4o-2024-05-13 (catalog: $5 in / $15 out, no cached-input price):
    // (1000 + 2000 cached) × $5 + 100 × $15 = $15,000 + $1,500 per 1M → $0.0165.
    expect(book.price('openai', 'gpt-4o-2024-05-13', { inputUncached: 1000, cacheRead: 2000, output: 100 }, 3000)).toEqual({
      costUsd: usd('0.0165'),
      pricingModel: 'genai-prices:gpt-4o-2024-05-13',
      pricingSource: 'catalog',
      flags: ['cacheRead billed at the input rate (no cacheRead price)'],
      catalogVersion: BUNDLED,
    });
    // Audio on gpt-4o (no audio rates): 4000 audio tokens at the $2.50 input rate = $0.01, flagged;
    // reasoning at the output rate is how every provider bills it, so 500 × $10 = $0.005 has no flag.
    expect(book.price('openai', 'gpt-4o', { inputAudio: 4000, reasoning: 500 }, 4000)).toMatchObject({
      costUsd: usd('0.015'),
      flags: ['inputAudio billed at the input rate (no inputAudio price)'],
    });
  });

  it('a fee with a count but no price is flagged and not billed', () => {
    // gpt-4.1-nano has no web-search price in the catalog: only 1000 × $0.10 per 1M = $0.0001 is billed.
    expect(book.price('openai', 'gpt-4.1-nano', { inputUncached: 1000, webSearches: 2 }, 1000)).toMatchObject({
      costUsd: usd('0.0001'),
      pricingSource: 'catalog',
      flags: ['2 webSearches not billed (no price)'],
    });
  });

  it('fees are billed at list price and not discounted in batch', () => {
    const usage = { inputUncached: 10_000, output: 1_000, webSearches: 2, fileSearches: 3 };
    // gpt-4o: 10,000 × $2.50 + 1,000 × $10 = $0.025 + $0.01; web search $10 per 1,000 → 2 × $0.01 = $0.02;
    // file search $2.50 per 1,000 → 3 × $0.0025 = $0.0075. Total $0.0625.
    expect(book.price('openai', 'gpt-4o', usage, 10_000)).toMatchObject({ costUsd: usd('0.0625'), pricingSource: 'catalog', flags: null });
    // Batch halves the tokens only: $0.0125 + $0.005 + fees $0.0275 = $0.045.
    expect(book.price('openai', 'gpt-4o', usage, 10_000, { batch: true })).toMatchObject({ costUsd: usd('0.045'), pricingSource: 'batch', flags: null });
  });

  it('bad counts passed straight in are never billed, never throw, and are flagged', () => {
    // gpt-4o: only the valid 1000 input tokens are billed: 1000 × $2.50 per 1M = $0.0025.
    const r = book.price('openai', 'gpt-4o', { inputUncached: 1000, webSearches: -2, fileSearches: Number.NaN, output: -500 }, 1000);
    expect(r).toEqual({
      costUsd: usd('0.0025'),
      pricingModel: 'genai-prices:gpt-4o',
      pricingSource: 'catalog',
      flags: ['output is -500, not a count; not billed', 'webSearches is -2, not a count; not billed', 'fileSearches is NaN, not a count; not billed'],
      catalogVersion: BUNDLED,
    });
    // Infinity used to reach BigInt() and throw; a string is not a count either.
    expect(book.price('openai', 'gpt-4o', { inputUncached: Infinity, cacheRead: '7' as never, groundedPrompts: Infinity }, 1000)).toMatchObject({
      costUsd: 0n,
      flags: ['inputUncached is Infinity, not a count; not billed', 'cacheRead is a string, not a count; not billed', 'groundedPrompts is Infinity, not a count; not billed'],
    });
    expect(book.price('openai', 'gpt-4o', null as never, 0)).toMatchObject({ costUsd: 0n, flags: ['token breakdown is not an object; nothing billed'] });
  });

  it('very large token counts take the exact bigint path', () => {
    // 10^12 tokens × $2.50 per 1M = $2,500,000 exactly (2.5 × 10^21 units, far past 2^53).
    expect(book.price('openai', 'gpt-4o', { inputUncached: 1e12 }, 1e12).costUsd).toBe(usd('2500000'));
    // 2^60 = 1,152,921,504,606,846,976 tokens × $2.50 / 10^6 = $2,882,303,761,517.11744 (not a safe integer of tokens).
    expect(book.price('openai', 'gpt-4o', { inputUncached: 2 ** 60 }, 2 ** 60).costUsd).toBe(usd('2882303761517.11744'));
    // A rate with more than 9 decimals per 1M ($0.0000000015 = 1,500,000 units) cannot take the float
    // path: 1,000,001 × 1,500,000 / 10^6 = 1,500,001.5 units, rounded half up to 1,500,002.
    const fine = new PriceBook({ overrides: [{ provider: 'custom:lab', model: 'tiny', input: '0.0000000015' }] });
    expect(fine.price('custom:lab', 'tiny', { inputUncached: 1_000_001 }, 1_000_001).costUsd).toBe(1_500_002n);
  });
});
