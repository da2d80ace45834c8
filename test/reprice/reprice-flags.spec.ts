import { describe, expect, it } from 'vitest';
import { usd } from '../../lib/core/money.js';
import { PriceBook } from '../../lib/pricing/price-book.js';
import { InMemoryStoredPriceSource } from '../../lib/pricing/stored-price.source.js';
import { anthropicUsage } from '../../lib/providers/anthropic.usage.js';
import { geminiUsage } from '../../lib/providers/gemini.usage.js';
import { responseUsage } from '../../lib/providers/openai.usage.js';
import { isPriceFlag, repricedFlags } from '../../lib/storage/reprice.flags.js';
import { planBatch } from '../../lib/storage/reprice.job.js';

/**
 * A re-price replaces the flags the old price put on a row and keeps the notes the usage put
 * there. The PriceBook's flags are recognised by their wording: this spec makes lib/pricing produce
 * every form it has, and makes the provider readers produce theirs, so a new wording on either
 * side fails here rather than leaving a stale flag (or dropping a usage note) on re-priced rows.
 */

const own = new PriceBook({ overrides: [{ provider: 'openai', model: 'acme-ft', input: '1', output: '2' }] });
const outputOnly = new PriceBook({ overrides: [{ provider: 'custom:lab', model: 'm', output: '2' }] });
const catalog = new PriceBook();

/** Every flag one priced call got. */
function flagsOf(book: PriceBook, ...args: Parameters<PriceBook['price']>): string[] {
  const flags = book.price(...args).flags;
  expect(flags, `no flag for ${JSON.stringify(args)}`).not.toBeNull();
  return [...flags!];
}

describe('what the PriceBook says about a price is recognised as such', () => {
  const produced: [string, string[]][] = [
    ['a bucket billed at another bucket\'s rate', flagsOf(own, 'openai', 'acme-ft', { inputUncached: 10, cacheRead: 5, cacheWrite5m: 1, cacheWrite1h: 1, inputAudio: 2, outputAudio: 1, cacheReadAudio: 1, outputImage: 3, output: 1 }, 20)],
    ['a bucket with no rate at all', flagsOf(outputOnly, 'custom:lab', 'm', { inputUncached: 10, cacheRead: 2, output: 1 }, 12)],
    ['a fee with no price', flagsOf(own, 'openai', 'acme-ft', { inputUncached: 10, output: 1, webSearches: 3, fileSearches: 1, groundedPrompts: 2 }, 10)],
    ['a fee priced with a caveat (catalog correction)', flagsOf(catalog, 'gemini', 'gemini-2.5-flash', { inputUncached: 100, output: 10, groundedPrompts: 1 }, 100)],
    ['a tier with no price of the user\'s own', flagsOf(own, 'openai', 'acme-ft', { inputUncached: 10, output: 1 }, 10, { serviceTier: 'flex' })],
    ['a tier with no known price', flagsOf(catalog, 'openai', 'gpt-4o-mini', { inputUncached: 10, output: 1 }, 10, { serviceTier: 'ultra' })],
    ['a flat tier price past long context', flagsOf(catalog, 'openai', 'gpt-5.4', { inputUncached: 300_000, output: 1_000 }, 300_000, { serviceTier: 'priority' })],
    ['two web search tools offered, billed differently', flagsOf(catalog, 'openai', 'gpt-4o', { inputUncached: 10, output: 1, webSearches: 2 }, 10, { webSearchTool: 'either' })],
    ['counts that are not counts', flagsOf(own, 'openai', 'acme-ft', { inputUncached: -5, output: Number.NaN, webSearches: Infinity }, 10)],
    ['a breakdown that is not an object', flagsOf(own, 'openai', 'acme-ft', null as never, 10)],
  ];
  for (const [what, flags] of produced) {
    it(what, () => {
      expect(flags.length).toBeGreaterThan(0);
      for (const flag of flags) expect(isPriceFlag(flag), flag).toBe(true);
    });
  }
});

describe("what the providers' usage says is kept", () => {
  const notes: [string, string[] | undefined][] = [
    ['Anthropic fast mode', anthropicUsage({ input_tokens: 100, output_tokens: 10, speed: 'fast' }).pricingNotes],
    [
      'OpenAI tools billed outside tokens',
      responseUsage({ usage: { input_tokens: 10, output_tokens: 1 }, output: [{ type: 'code_interpreter_call' }, { type: 'image_generation_call' }] }).pricingNotes,
    ],
    [
      'OpenAI service tier that is not a name',
      responseUsage({ model: 'gpt-4o-2024-08-06', service_tier: 42, usage: { input_tokens: 10, output_tokens: 1 } }).pricingNotes,
    ],
    [
      'Gemini details that do not add up',
      geminiUsage({ promptTokenCount: 10_000, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 2_000 }, { modality: 'AUDIO', tokenCount: 9_000 }], candidatesTokenCount: 100 }, 'gemini-2.5-flash')
        .pricingNotes,
    ],
  ];
  for (const [what, found] of notes) {
    it(what, () => {
      expect(found?.length).toBeGreaterThan(0);
      for (const note of found!) expect(isPriceFlag(note), note).toBe(false);
    });
  }
  it('and so is anything a host recorded itself', () => {
    expect(isPriceFlag('priced from an invoice line')).toBe(false);
  });
});

describe('a re-priced row', () => {
  it('keeps its usage notes, in front, and takes the new price flags in place of the old', () => {
    const stored = ['1 code_interpreter_call not billed (no per-call price)', 'cacheRead billed at the input rate (no cacheRead price)'];
    expect(repricedFlags(stored, ['service tier "flex" has no price of your own; billed at your standard price'])).toEqual([
      '1 code_interpreter_call not billed (no per-call price)',
      'service tier "flex" has no price of your own; billed at your standard price',
    ]);
  });
  it('has no flags (NULL) when neither the usage nor the new price has any', () => {
    expect(repricedFlags(['reasoning not billed (no price)'], null)).toBeNull();
    expect(repricedFlags(null, null)).toBeNull();
    expect(repricedFlags(null, ['inputAudio billed at the input rate (no inputAudio price)'])).toEqual(['inputAudio billed at the input rate (no inputAudio price)']);
  });
  it('prices as before: the flags come with a cost (a sanity check of the books used above)', () => {
    expect(own.price('openai', 'acme-ft', { inputUncached: 1_000_000 }, 1_000_000).costUsd).toBe(usd('1'));
    expect(catalog.price('openai', 'gpt-4o-mini', { inputUncached: 10, output: 1 }, 10, { serviceTier: 'ultra' }).costUsd).not.toBeNull();
    expect(new PriceBook({ stored: new InMemoryStoredPriceSource() }).price('openai', 'gpt-4o-mini', {}, 0).costUsd).toBe(0n);
  });
});

describe('a re-priced OpenAI web search call', () => {
  const row = (tool: string | null) => ({
    span_id: '00000000-0000-4000-8000-000000000001', us: String(Date.UTC(2026, 10, 1) * 1000), provider: 'openai', model: 'gpt-4o',
    input_tokens: 1_000, token_breakdown: { inputUncached: 1_000, output: 100, webSearches: 2 }, cost: '0', pricing_source: 'catalog',
    pricing_flags: null, service_tier: null, web_search_tool: tool,
  });
  it('keeps the fee of the tool its metadata names (web_search_preview: $25 per 1,000 on gpt-4o)', () => {
    // 1,000 × $2.50/M + 100 × $10/M + 2 × $0.025 = $0.0025 + $0.001 + $0.05 = $0.0535
    expect(planBatch([row('web_search_preview')], catalog).newCosts).toEqual(['0.0535']);
    // web_search on gpt-4o: $10 per 1,000 → $0.0035 + $0.02 = $0.0235
    expect(planBatch([row('web_search')], catalog).newCosts).toEqual(['0.0235']);
    // Metadata is free-form: an unknown name is the catalog's web search rate, like no name.
    expect(planBatch([row('bing')], catalog).newCosts).toEqual(['0.0235']);
  });
});
