import { describe, expect, it } from 'vitest';
import { KostrackConfigError, usd } from '../../lib/core/index.js';
import { InMemoryStoredPriceSource, PriceBook } from '../../lib/pricing/index.js';
import { SERVICE_TIER_PRICES } from '../../lib/pricing/service-tier.prices.js';

/**
 * Service tiers through `PriceBook.price(..., { serviceTier })`. One usage everywhere:
 * 10,000 uncached input, 20,000 cached input, 1,000 output + 500 reasoning (billed as output), so
 * cost = 0.01 × input rate + 0.02 × cached rate + 0.0015 × output rate (rates in USD per 1M).
 */
const U = { inputUncached: 10_000, cacheRead: 20_000, output: 1_000, reasoning: 500 };
const INPUT = 30_000;
const BUNDLED = 'genai-prices@0.1.8+corrections@2026-11-30';
const STANDARD_FLAG = (tier: string) => `service tier "${tier}" has no known price; billed at the standard rate`;

/**
 * Every SERVICE_TIER_PRICES entry (by index) and every catalog id in it, priced once, with the
 * cost worked out by hand from the entry's list price.
 */
const TABLE: { entry: number; model: string; id: string; tier: string; time?: string; cost: string; flags?: string[] }[] = [
  // gpt-5 / gpt-5.1 flex $0.625 / $0.0625 / $5: 0.00625 + 0.00125 + 0.0075 = $0.015.
  { entry: 0, model: 'gpt-5-2025-08-07', id: 'gpt-5', tier: 'flex', cost: '0.015' },
  { entry: 0, model: 'gpt-5.1', id: 'gpt-5.1', tier: 'flex', cost: '0.015' },
  // gpt-5-mini flex $0.125 / $0.0125 / $1: 0.00125 + 0.00025 + 0.0015 = $0.003.
  { entry: 1, model: 'gpt-5-mini', id: 'gpt-5-mini', tier: 'flex', cost: '0.003' },
  // gpt-5-nano flex $0.025 / $0.0025 / $0.20: 0.00025 + 0.00005 + 0.0003 = $0.0006.
  { entry: 2, model: 'gpt-5-nano', id: 'gpt-5-nano', tier: 'flex', cost: '0.0006' },
  // o3 flex before 2025-06-10, $5 / $1.25 / $20: 0.05 + 0.025 + 0.03 = $0.105.
  { entry: 3, model: 'o3', id: 'o3', tier: 'flex', time: '2025-06-09T23:59:59.999Z', cost: '0.105' },
  // o3 flex from 2025-06-10 (after the 80% cut), $1 / $0.25 / $4: 0.01 + 0.005 + 0.006 = $0.021.
  { entry: 4, model: 'o3-2025-04-16', id: 'o3', tier: 'flex', time: '2025-06-10T00:00:00Z', cost: '0.021' },
  // o4-mini flex $0.55 / $0.1375 / $2.20: 0.0055 + 0.00275 + 0.0033 = $0.01155.
  { entry: 5, model: 'o4-mini', id: 'o4-mini', tier: 'flex', cost: '0.01155' },
  // gpt-5 / gpt-5.1 priority $2.50 / $0.25 / $20: 0.025 + 0.005 + 0.03 = $0.06.
  { entry: 6, model: 'gpt-5', id: 'gpt-5', tier: 'priority', cost: '0.06' },
  { entry: 6, model: 'gpt-5.1', id: 'gpt-5.1', tier: 'priority', cost: '0.06' },
  // gpt-5-mini priority $0.45 / $0.045 / $3.60: 0.0045 + 0.0009 + 0.0054 = $0.0108.
  { entry: 7, model: 'gpt-5-mini', id: 'gpt-5-mini', tier: 'priority', cost: '0.0108' },
  // gpt-5.2 priority $3.50 / $0.35 / $28: 0.035 + 0.007 + 0.042 = $0.084.
  { entry: 8, model: 'gpt-5.2', id: 'gpt-5.2', tier: 'priority', cost: '0.084' },
  // gpt-5.4 priority $5 / $0.50 / $30: 0.05 + 0.01 + 0.045 = $0.105.
  { entry: 9, model: 'gpt-5.4', id: 'gpt-5.4', tier: 'priority', cost: '0.105' },
  // gpt-5.4-mini priority $1.50 / $0.15 / $9: 0.015 + 0.003 + 0.0135 = $0.0315.
  { entry: 10, model: 'gpt-5.4-mini', id: 'gpt-5.4-mini', tier: 'priority', cost: '0.0315' },
  // gpt-4.1 priority $3.50 / $0.875 / $14: 0.035 + 0.0175 + 0.021 = $0.0735.
  { entry: 11, model: 'gpt-4.1-2025-04-14', id: 'gpt-4.1', tier: 'priority', cost: '0.0735' },
  // gpt-4.1-mini priority $0.70 / $0.175 / $2.80: 0.007 + 0.0035 + 0.0042 = $0.0147.
  { entry: 12, model: 'gpt-4.1-mini', id: 'gpt-4.1-mini', tier: 'priority', cost: '0.0147' },
  // gpt-4.1-nano priority $0.20 / $0.05 / $0.80: 0.002 + 0.001 + 0.0012 = $0.0042.
  { entry: 13, model: 'gpt-4.1-nano', id: 'gpt-4.1-nano', tier: 'priority', cost: '0.0042' },
  // gpt-4o priority $4.25 / $2.125 / $17: 0.0425 + 0.0425 + 0.0255 = $0.1105.
  { entry: 14, model: 'gpt-4o-2024-08-06', id: 'gpt-4o', tier: 'priority', cost: '0.1105' },
  // gpt-4o-2024-05-13 priority $8.75 / — / $26.25 (no caching on that model, so cached tokens
  // fall back to the input rate and are flagged): 0.0875 + 0.02 × 8.75 = 0.175 + 0.039375 = $0.301875.
  {
    entry: 15,
    model: 'gpt-4o-2024-05-13',
    id: 'gpt-4o-2024-05-13',
    tier: 'priority',
    cost: '0.301875',
    flags: ['cacheRead billed at the input rate (no cacheRead price)'],
  },
  // gpt-4o-mini priority $0.25 / $0.125 / $1: 0.0025 + 0.0025 + 0.0015 = $0.0065.
  { entry: 16, model: 'gpt-4o-mini', id: 'gpt-4o-mini', tier: 'priority', cost: '0.0065' },
  // o3 priority $3.50 / $0.875 / $14: 0.035 + 0.0175 + 0.021 = $0.0735.
  { entry: 17, model: 'o3', id: 'o3', tier: 'priority', cost: '0.0735' },
  // o4-mini priority $2 / $0.50 / $8: 0.02 + 0.01 + 0.012 = $0.042.
  { entry: 18, model: 'o4-mini-2025-04-16', id: 'o4-mini', tier: 'priority', cost: '0.042' },
];

describe('service tiers: Kostrack’s tier table', () => {
  const book = new PriceBook();

  it.each(TABLE)('entry $entry: $model @ $tier costs $cost USD', ({ entry, model, id, tier, time, cost, flags }) => {
    expect(SERVICE_TIER_PRICES[entry]).toMatchObject({ tier });
    expect(SERVICE_TIER_PRICES[entry].catalogIds).toContain(id);
    const r = book.price('openai', model, U, INPUT, { serviceTier: tier, timeMs: time ? Date.parse(time) : Date.parse('2026-01-01T00:00:00Z') });
    expect(r).toEqual({ costUsd: usd(cost), pricingModel: `kostrack-tiers:${id}@${tier}`, pricingSource: 'tier', flags: flags ?? null, catalogVersion: BUNDLED });
  });

  it('without timeMs a dated tier price is taken as of now', () => {
    // o3 flex today is the post-2025-06-10 $1 / $0.25 / $4 = $0.021 (as entry 4 above).
    expect(book.price('openai', 'o3', U, INPUT, { serviceTier: 'flex' }).costUsd).toBe(usd('0.021'));
  });

  it('the table above covers every entry and every catalog id of the list', () => {
    const listed = SERVICE_TIER_PRICES.flatMap((t, i) => t.catalogIds.map((id) => `${i}:${id}@${t.tier}`)).sort();
    expect([...new Set(TABLE.map((t) => `${t.entry}:${t.id}@${t.tier}`))].sort()).toEqual(listed);
    for (const t of SERVICE_TIER_PRICES) {
      expect(t.source).toMatch(/^https:\/\//);
      expect(t.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('default, auto, standard, on_demand and no tier are the standard price, unflagged', () => {
    // gpt-5 standard $1.25 / $0.125 / $10: 0.0125 + 0.0025 + 0.015 = $0.03.
    for (const serviceTier of ['default', 'auto', 'standard', 'on_demand', null, undefined]) {
      expect(book.price('openai', 'gpt-5', U, INPUT, { serviceTier })).toEqual({
        costUsd: usd('0.03'),
        pricingModel: 'genai-prices:gpt-5',
        pricingSource: 'catalog',
        flags: null,
        catalogVersion: BUNDLED,
      });
    }
  });

  it('the batch tier is the batch price: half, pricingSource batch, unflagged', () => {
    // gpt-4o standard $2.50 / $1.25 / $10: 0.025 + 0.025 + 0.015 = $0.065; batch half = $0.0325.
    expect(book.price('openai', 'gpt-4o', U, INPUT, { serviceTier: 'batch' })).toEqual({
      costUsd: usd('0.0325'),
      pricingModel: 'genai-prices:gpt-4o',
      pricingSource: 'batch',
      flags: null,
      catalogVersion: BUNDLED,
    });
  });

  it('a tier with no known price is billed at the standard rate and flagged', () => {
    // gpt-4o standard: $0.065 (above). `scale` is in no table; neither is gpt-4o `flex`.
    for (const tier of ['scale', 'flex']) {
      expect(book.price('openai', 'gpt-4o', U, INPUT, { serviceTier: tier })).toEqual({
        costUsd: usd('0.065'),
        pricingModel: 'genai-prices:gpt-4o',
        pricingSource: 'catalog',
        flags: [STANDARD_FLAG(tier)],
        catalogVersion: BUNDLED,
      });
    }
    // The tier flag comes first, then the bucket flags of the standard price.
    expect(book.price('openai', 'gpt-4o-2024-05-13', { cacheRead: 1_000 }, 1_000, { serviceTier: 'scale' }).flags).toEqual([
      STANDARD_FLAG('scale'),
      'cacheRead billed at the input rate (no cacheRead price)',
    ]);
    // An Anthropic model has no table at all: priority is flagged too. claude-sonnet-4-5 at $3 / $0.30 / $15:
    // 0.03 + 0.006 + 0.0225 = $0.0585.
    expect(book.price('anthropic', 'claude-sonnet-4-5', U, INPUT, { serviceTier: 'priority' })).toMatchObject({
      costUsd: usd('0.0585'),
      flags: [STANDARD_FLAG('priority')],
    });
  });

  it('tool fees are billed at the catalog price whatever the tier (the table lists token rates only)', () => {
    // gpt-5 priority $0.06 (above) + 2 web searches × $0.01 + 1 file search × $0.0025 = $0.0825, unflagged.
    expect(book.price('openai', 'gpt-5', { ...U, webSearches: 2, fileSearches: 1 }, INPUT, { serviceTier: 'priority' })).toEqual({
      costUsd: usd('0.0825'),
      pricingModel: 'kostrack-tiers:gpt-5@priority',
      pricingSource: 'tier',
      flags: null,
      catalogVersion: BUNDLED,
    });
    // o3 flex before the June cut, same fees: $0.105 + $0.0225 = $0.1275.
    expect(book.price('openai', 'o3', { ...U, webSearches: 2, fileSearches: 1 }, INPUT, { serviceTier: 'flex', timeMs: Date.parse('2025-05-01Z') }).costUsd).toBe(
      usd('0.1275'),
    );
  });
});

describe('service tiers: overrides and stored prices', () => {
  it('a prices override with serviceTier beats the table; exact names beat prefixes', () => {
    const book = new PriceBook({
      overrides: [
        { provider: 'openai', model: 'gpt-5', serviceTier: 'flex', input: '0.50', cacheRead: '0.05', output: '4' },
        { provider: 'openai', model: 'gpt-5*', serviceTier: 'priority', input: '2', cacheRead: '0.20', output: '16' },
        { provider: 'openai', model: 'gpt-5-mini', serviceTier: 'priority', input: '1', cacheRead: '0.10', output: '8' },
      ],
    });
    // gpt-5 flex override $0.50 / $0.05 / $4: 0.005 + 0.001 + 0.006 = $0.012 (the table says $0.015).
    expect(book.price('openai', 'gpt-5', U, INPUT, { serviceTier: 'flex' })).toEqual({
      costUsd: usd('0.012'),
      pricingModel: 'override:gpt-5@flex',
      pricingSource: 'override',
      flags: null,
      catalogVersion: null,
    });
    // gpt-5* priority $2 / $0.20 / $16: 0.02 + 0.004 + 0.024 = $0.048 for gpt-5 and gpt-5-nano (the table says $0.06 for gpt-5).
    for (const model of ['gpt-5', 'gpt-5-nano', 'gpt-5-2025-08-07']) {
      expect(book.price('openai', model, U, INPUT, { serviceTier: 'priority' })).toMatchObject({
        costUsd: usd('0.048'),
        pricingModel: 'override:gpt-5*@priority',
        pricingSource: 'override',
      });
    }
    // gpt-5-mini's exact override $1 / $0.10 / $8: 0.01 + 0.002 + 0.012 = $0.024.
    expect(book.price('openai', 'gpt-5-mini', U, INPUT, { serviceTier: 'priority' })).toMatchObject({ costUsd: usd('0.024'), pricingModel: 'override:gpt-5-mini@priority' });
    // Tier overrides leave the standard tier alone: gpt-5 is still the catalog's $0.03, and a
    // gpt-5* model the catalog does not know is unpriced outside its overridden tier.
    expect(book.price('openai', 'gpt-5', U, INPUT, { serviceTier: 'default' })).toMatchObject({ costUsd: usd('0.03'), pricingSource: 'catalog' });
    expect(book.price('openai', 'gpt-5-inhouse', U, INPUT, { serviceTier: 'priority' }).costUsd).toBe(usd('0.048'));
    expect(book.price('openai', 'gpt-5-inhouse', U, INPUT).pricingSource).toBe('unpriced');
    // Tool fees do not depend on the tier: without a webSearch price of its own the override takes
    // the catalog's $10 per 1,000: $0.012 + 2 × $0.01 = $0.032, exact, unflagged.
    expect(book.price('openai', 'gpt-5', { ...U, webSearches: 2 }, INPUT, { serviceTier: 'flex' })).toMatchObject({
      costUsd: usd('0.032'),
      flags: null,
    });
    // A model the catalog does not know has no fee to inherit: flagged, not billed.
    expect(book.price('openai', 'gpt-5-inhouse', { ...U, webSearches: 2 }, INPUT, { serviceTier: 'priority' })).toMatchObject({
      costUsd: usd('0.048'),
      flags: ['2 webSearches not billed (no price)'],
    });
  });

  it('an override with a bad serviceTier fails at construction with a clear message', () => {
    const bad = (serviceTier: unknown) => () => new PriceBook({ overrides: [{ provider: 'openai', model: 'gpt-5', input: '1', serviceTier: serviceTier as string }] });
    expect(bad('Flex')).toThrow(KostrackConfigError);
    expect(bad('Flex')).toThrow('prices[0].serviceTier must be a tier name such as "flex" or "priority", got "Flex"');
    expect(bad(42)).toThrow('prices[0].serviceTier must be a tier name such as "flex" or "priority", got 42');
    expect(bad('')).toThrow('prices[0].serviceTier must be a tier name such as "flex" or "priority", got ""');
    // "batch" would never be used (batch calls take batch rates): refused with where those go.
    expect(bad('batch')).toThrow(KostrackConfigError);
    expect(bad('batch')).toThrow('prices[0].serviceTier cannot be "batch": give batch prices in prices[0].batch (default: half the standard prices)');
  });

  it("with a stored price in force: the user's own price beats the list tier table, flagged; a tier override still wins", () => {
    // Stored gpt-5 from 2025-01-01 at $1 / $0.10 / $8 (a negotiated standard rate).
    const book = new PriceBook({
      stored: new InMemoryStoredPriceSource([{ provider: 'openai', model: 'gpt-5', input: '1', cacheRead: '0.10', output: '8', effectiveFrom: new Date('2025-01-01Z') }]),
    });
    const timeMs = Date.parse('2026-01-01Z');
    // Standard: 0.01 + 0.002 + 0.012 = $0.024 from the stored row.
    expect(book.price('openai', 'gpt-5', U, INPUT, { timeMs })).toMatchObject({ costUsd: usd('0.024'), pricingSource: 'stored', flags: null });
    // Flex: the user's stored price is theirs (negotiated); the list table's $0.015 does not
    // replace it silently: the stored $0.024 applies and the row says the tier had no price of theirs.
    const OWN_FLAG = (tier: string) => `service tier "${tier}" has no price of your own; billed at your standard price`;
    expect(book.price('openai', 'gpt-5', U, INPUT, { timeMs, serviceTier: 'flex' })).toEqual({
      costUsd: usd('0.024'),
      pricingModel: 'stored:gpt-5@2025-01-01T00:00:00.000Z',
      pricingSource: 'stored',
      flags: [OWN_FLAG('flex')],
      catalogVersion: null,
    });
    // A tier nobody prices: the same.
    expect(book.price('openai', 'gpt-5', U, INPUT, { timeMs, serviceTier: 'scale' })).toEqual({
      costUsd: usd('0.024'),
      pricingModel: 'stored:gpt-5@2025-01-01T00:00:00.000Z',
      pricingSource: 'stored',
      flags: [OWN_FLAG('scale')],
      catalogVersion: null,
    });
    // Before the stored row, the list table applies: flex $0.625 / $0.0625 / $5 = 0.00625 + 0.00125 + 0.0075 = $0.015.
    expect(book.price('openai', 'gpt-5', U, INPUT, { timeMs: Date.parse('2024-12-31Z'), serviceTier: 'flex' })).toMatchObject({
      costUsd: usd('0.015'),
      pricingSource: 'tier',
      flags: null,
    });
    // A flex override beats the stored standard price: $0.50 / $0.05 / $4 → $0.012.
    const withTier = new PriceBook({
      overrides: [{ provider: 'openai', model: 'gpt-5', serviceTier: 'flex', input: '0.50', cacheRead: '0.05', output: '4' }],
      stored: new InMemoryStoredPriceSource([{ provider: 'openai', model: 'gpt-5', input: '1', cacheRead: '0.10', output: '8', effectiveFrom: new Date('2025-01-01Z') }]),
    });
    expect(withTier.price('openai', 'gpt-5', U, INPUT, { timeMs, serviceTier: 'flex' })).toMatchObject({ costUsd: usd('0.012'), pricingSource: 'override', flags: null });
    // Batch: the stored price halved, $0.012.
    expect(book.price('openai', 'gpt-5', U, INPUT, { timeMs, serviceTier: 'batch' })).toMatchObject({ costUsd: usd('0.012'), pricingSource: 'batch' });
  });
});

describe('service tiers: edges', () => {
  it('a flat tier price past the standard long-context threshold is flagged (gpt-5.4 priority over 272k)', () => {
    const book = new PriceBook();
    // gpt-5.4 priority $5 / $0.50 / $30, flat. 300,000 uncached input + 1,000 output:
    // 300,000 × 5 / 1M = 1.5, 1,000 × 30 / 1M = 0.03 → $1.53; the standard price would switch to its long-context rates above 271,999.
    const long = book.price('openai', 'gpt-5.4', { inputUncached: 300_000, output: 1_000 }, 300_000, { serviceTier: 'priority' });
    expect(long).toMatchObject({
      costUsd: usd('1.53'),
      pricingSource: 'tier',
      flags: ['long context (over 271999 input tokens) has no published priority price; billed at the flat tier rate'],
    });
    // Under the threshold: exact, no flag. 100,000 × 5 / 1M = 0.5 + 0.03 → $0.53.
    expect(book.price('openai', 'gpt-5.4', { inputUncached: 100_000, output: 1_000 }, 100_000, { serviceTier: 'priority' })).toMatchObject({ costUsd: usd('0.53'), flags: null });
  });

  it('a batch call is billed at batch rates whatever tier its body names', () => {
    // gpt-5 batch = half of $1.25 / $0.125 / $10: 0.00625 + 0.00125 + 0.0075 = $0.015, source batch.
    expect(new PriceBook().price('openai', 'gpt-5', U, INPUT, { batch: true, serviceTier: 'priority' })).toMatchObject({ costUsd: usd('0.015'), pricingSource: 'batch', flags: null });
  });

  it('odd arguments never throw: a non-string model or tier, an invalid time', () => {
    const book = new PriceBook({ overrides: [{ provider: 'openai', model: 'gpt-5*', serviceTier: 'priority', input: '2', output: '16' }] });
    expect(book.price('openai', 42 as unknown as string, U, INPUT)).toMatchObject({ costUsd: null, pricingSource: 'unpriced' });
    expect(book.price('openai', 'gpt-5', U, INPUT, { serviceTier: Symbol('x') as unknown as string })).toMatchObject({ costUsd: usd('0.03'), pricingSource: 'catalog' });
    // An invalid time is "now": deepseek-chat is at its 2025-09-29 price at any hour, not a January 2025 period.
    // $0.28 miss / $0.028 hit / $0.42 out: 0.0028 + 0.00056 + 0.00063 = $0.00399.
    expect(book.price('deepseek', 'deepseek-chat', U, INPUT, { timeMs: Number.NaN }).costUsd).toBe(usd('0.00399'));
    expect(book.price('deepseek', 'deepseek-chat', U, INPUT, { timeMs: 'x' as unknown as number }).costUsd).toBe(usd('0.00399'));
  });

  it('tier names a server makes up are not cached: 10,000 of them leave no entry behind', () => {
    const book = new PriceBook();
    for (let i = 0; i < 10_000; i++) {
      expect(book.price('openai', 'gpt-5', U, INPUT, { serviceTier: `made-up-${i}` }).flags).toEqual([STANDARD_FLAG(`made-up-${i}`)]);
    }
    const entry = (book as unknown as { cache: Map<string, Map<string, { tiers: Map<string, unknown> | null }>> }).cache.get('openai')!.get('gpt-5')!;
    expect(entry.tiers).toBeNull();
    book.price('openai', 'gpt-5', U, INPUT, { serviceTier: 'flex' });
    expect([...entry.tiers!.keys()]).toEqual(['flex']);
  });
});
