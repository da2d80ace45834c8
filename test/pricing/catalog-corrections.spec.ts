import { describe, expect, it } from 'vitest';
import { calcPrice, findProvider, type ConditionalPrice } from '@pydantic/genai-prices';
import { configureKostrack, usd } from '../../lib/core/index.js';
import { runtime } from '../../lib/core/runtime.js';
import { CATALOG_CORRECTIONS, CORRECTIONS_VERSION, catalogEntryFingerprint } from '../../lib/pricing/catalog.corrections.js';
import { parseCatalog, PriceBook } from '../../lib/pricing/index.js';

/** A model name the catalog resolves to each corrected entry. */
const PROBE: Record<string, string> = {
  'claude-sonnet-4-0': 'claude-sonnet-4-20250514',
  'ft:gpt-4o': 'ft:gpt-4o-2024-08-06:acme::abc',
  'ft:gpt-4o-mini': 'ft:gpt-4o-mini-2024-07-18:acme::abc',
};

/**
 * One test per entry of CATALOG_CORRECTIONS, priced through `new PriceBook().price(...)` at a fixed
 * `timeMs`. Every expected cost is worked out by hand from the list price (USD per 1M tokens) of
 * the page the correction cites, and compared as an exact bigint (1e-15 USD).
 */
const book = new PriceBook();
const at = (iso: string) => ({ timeMs: Date.parse(iso) });
const BUNDLED = 'genai-prices@0.1.8+corrections@2026-11-30';

/** What each test below covers, in list order; a new correction without a test fails the last test. */
const COVERED = [
  'deepseek:deepseek-chat,deepseek-reasoner:from 2025-09-05T16:00:00Z',
  'deepseek:deepseek-chat,deepseek-reasoner:from 2025-09-29T00:00:00Z',
  'anthropic:claude-sonnet-4-0:patch',
  'openai:ft:gpt-4o:patch',
  'openai:ft:gpt-4o-mini:patch',
  'openai:gpt-4o-audio-preview:patch',
  'openai:gpt-4o-audio-preview:patch /2024-10-01/',
  'openai:gpt-4o-mini-audio-preview:patch',
  'google:gemini-2.5-pro:patch',
  'google:gemini-2.5-pro,gemini-2.5-flash,gemini-2.5-flash-lite,gemini-2.0-flash,gemini-2.0-flash-lite:patch',
  'google:gemini-3-pro-preview,gemini-3-flash-preview:patch',
];

describe('catalog corrections: DeepSeek (https://api-docs.deepseek.com/news/news250821, /quick_start/pricing)', () => {
  // 10,000 cache-miss input, 20,000 cache-hit input, 1,000 output tokens (the reasoner's split 600 + 400 reasoning).
  const chat = { inputUncached: 10_000, cacheRead: 20_000, output: 1_000 };
  const reasoner = { inputUncached: 10_000, cacheRead: 20_000, output: 600, reasoning: 400 };
  const cost = (model: string, iso: string) => {
    const r = book.price('deepseek', model, model === 'deepseek-chat' ? chat : reasoner, 30_000, at(iso));
    expect(r).toMatchObject({ pricingModel: `genai-prices:${model}`, pricingSource: 'catalog', flags: null, catalogVersion: BUNDLED });
    return r.costUsd;
  };

  it('before 2025-09-05T16:00Z the catalog’s time-of-day prices still apply (history is not re-priced)', () => {
    // deepseek-chat, standard hours 00:30–16:30 UTC: $0.27 miss / $0.07 hit / $1.10 out:
    // 10,000 × 0.27 + 20,000 × 0.07 + 1,000 × 1.10 = 2,700 + 1,400 + 1,100 = $5,200 per 1M → $0.0052.
    expect(cost('deepseek-chat', '2025-08-01T10:00:00Z')).toBe(usd('0.0052'));
    // Off-peak (16:30–00:30 UTC): $0.135 / $0.035 / $0.55: 1,350 + 700 + 550 = $2,600 per 1M → $0.0026.
    expect(cost('deepseek-chat', '2025-08-01T20:00:00Z')).toBe(usd('0.0026'));
    // deepseek-reasoner, standard hours: $0.55 / $0.14 / $2.19: 5,500 + 2,800 + 2,190 = $10,490 per 1M → $0.01049.
    expect(cost('deepseek-reasoner', '2025-08-01T10:00:00Z')).toBe(usd('0.01049'));
    // Off-peak: $0.135 / $0.035 / $0.55 as for chat → $0.0026.
    expect(cost('deepseek-reasoner', '2025-08-01T20:00:00Z')).toBe(usd('0.0026'));
    // The last second before the change (15:59:59 is standard hours) is still the old price.
    expect(cost('deepseek-chat', '2025-09-05T15:59:59.999Z')).toBe(usd('0.0052'));
  });

  it('from 2025-09-05T16:00Z (V3.1): $0.07 hit / $0.56 miss / $1.68 out for both models, no off-peak discount', () => {
    // 10,000 × 0.56 + 20,000 × 0.07 + 1,000 × 1.68 = 5,600 + 1,400 + 1,680 = $8,680 per 1M → $0.00868.
    for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
      expect(cost(model, '2025-09-05T16:00:00Z')).toBe(usd('0.00868'));
      expect(cost(model, '2025-09-10T10:00:00Z')).toBe(usd('0.00868'));
      // 20:00 UTC was off-peak before; it is the same price now.
      expect(cost(model, '2025-09-10T20:00:00Z')).toBe(usd('0.00868'));
      expect(cost(model, '2025-09-28T23:59:59.999Z')).toBe(usd('0.00868'));
    }
  });

  it('from 2025-09-29 (V3.2-Exp): $0.028 hit / $0.28 miss / $0.42 out for both models, no off-peak discount', () => {
    // 10,000 × 0.28 + 20,000 × 0.028 + 1,000 × 0.42 = 2,800 + 560 + 420 = $3,780 per 1M → $0.00378.
    for (const model of ['deepseek-chat', 'deepseek-reasoner']) {
      expect(cost(model, '2025-09-29T00:00:00Z')).toBe(usd('0.00378'));
      expect(cost(model, '2025-10-15T10:00:00Z')).toBe(usd('0.00378'));
      expect(cost(model, '2025-10-15T20:00:00Z')).toBe(usd('0.00378'));
    }
    // Without timeMs the call is priced as of now (a dated model reads the clock): any day after 2025-09-29.
    expect(book.price('deepseek', 'deepseek-chat', chat, 30_000).costUsd).toBe(usd('0.00378'));
  });
});

describe('catalog corrections: OpenAI, Anthropic, Google', () => {
  it('claude-sonnet-4 above 200k input tokens: the whole request at 6 / 0.60 / 7.50 / 12 / 22.50', () => {
    // 100,000 uncached + 50,000 cache reads + 30,000 5-minute writes + 20,000 1-hour writes = 200,000 input tokens: not above 200k.
    // Base rates $3 / $0.30 / $3.75 / $6 / $15 out:
    // 100,000 × 3 + 50,000 × 0.30 + 30,000 × 3.75 + 20,000 × 6 + 1,000 × 15
    // = 300,000 + 15,000 + 112,500 + 120,000 + 15,000 = $562,500 per 1M → $0.5625.
    const base = { inputUncached: 100_000, cacheRead: 50_000, cacheWrite5m: 30_000, cacheWrite1h: 20_000, output: 1_000 };
    expect(book.price('anthropic', 'claude-sonnet-4-20250514', base, 200_000)).toEqual({
      costUsd: usd('0.5625'),
      pricingModel: 'genai-prices:claude-sonnet-4-0',
      pricingSource: 'catalog',
      flags: null,
      catalogVersion: BUNDLED,
    });
    // One more uncached token: 200,001 > 200,000, every bucket at the long-context rate:
    // 100,001 × 6 + 50,000 × 0.60 + 30,000 × 7.50 + 20,000 × 12 + 1,000 × 22.50
    // = 600,006 + 30,000 + 225,000 + 240,000 + 22,500 = $1,117,506 per 1M → $1.117506.
    expect(book.price('anthropic', 'claude-sonnet-4-20250514', { ...base, inputUncached: 100_001 }, 200_001)).toMatchObject({
      costUsd: usd('1.117506'),
      flags: null,
    });
    // The tier is chosen by the input total (cache included), not by the uncached count alone.
    expect(book.price('anthropic', 'claude-sonnet-4-0', { inputUncached: 1_000 }, 200_001).costUsd).toBe(usd('0.006'));
  });

  it('ft:gpt-4o cached input at $1.875 (half the fine-tuned $3.75), not flagged', () => {
    // 10,000 × 3.75 + 20,000 × 1.875 + 1,000 × 15 = 37,500 + 37,500 + 15,000 = $90,000 per 1M → $0.09.
    expect(book.price('openai', 'ft:gpt-4o-2024-08-06:acme::abc', { inputUncached: 10_000, cacheRead: 20_000, output: 1_000 }, 30_000)).toEqual({
      costUsd: usd('0.09'),
      pricingModel: 'genai-prices:ft:gpt-4o',
      pricingSource: 'catalog',
      flags: null,
      catalogVersion: BUNDLED,
    });
  });

  it('ft:gpt-4o-mini cached input at $0.15 (half the fine-tuned $0.30), not flagged', () => {
    // 10,000 × 0.30 + 20,000 × 0.15 + 1,000 × 1.20 = 3,000 + 3,000 + 1,200 = $7,200 per 1M → $0.0072.
    expect(book.price('openai', 'ft:gpt-4o-mini-2024-07-18:acme::x1', { inputUncached: 10_000, cacheRead: 20_000, output: 1_000 }, 30_000)).toMatchObject({
      costUsd: usd('0.0072'),
      pricingModel: 'genai-prices:ft:gpt-4o-mini',
      flags: null,
    });
  });

  const audio = { inputUncached: 1_000, inputAudio: 10_000, output: 200, outputAudio: 5_000 };

  it('gpt-4o-audio-preview audio at $40 in / $80 out (text stays $2.50 / $10)', () => {
    // 1,000 × 2.50 + 10,000 × 40 + 200 × 10 + 5,000 × 80 = 2,500 + 400,000 + 2,000 + 400,000 = $804,500 per 1M → $0.8045.
    expect(book.price('openai', 'gpt-4o-audio-preview-2024-12-17', audio, 11_000)).toMatchObject({
      costUsd: usd('0.8045'),
      pricingModel: 'genai-prices:gpt-4o-audio-preview',
      flags: null,
    });
  });

  it('gpt-4o-audio-preview-2024-10-01 keeps its launch audio rates, $100 in / $200 out', () => {
    // 1,000 × 2.50 + 10,000 × 100 + 200 × 10 + 5,000 × 200 = 2,500 + 1,000,000 + 2,000 + 1,000,000 = $2,004,500 per 1M → $2.0045.
    expect(book.price('openai', 'gpt-4o-audio-preview-2024-10-01', audio, 11_000)).toMatchObject({
      costUsd: usd('2.0045'),
      pricingModel: 'genai-prices:gpt-4o-audio-preview',
      flags: null,
    });
  });

  it('gpt-4o-mini-audio-preview audio at $10 in / $20 out (text $0.15 / $0.60)', () => {
    // 1,000 × 0.15 + 10,000 × 10 + 200 × 0.60 + 5,000 × 20 = 150 + 100,000 + 120 + 100,000 = $200,270 per 1M → $0.20027.
    for (const model of ['gpt-4o-mini-audio-preview', 'gpt-4o-mini-audio-preview-2024-12-17']) {
      expect(book.price('openai', model, audio, 11_000)).toMatchObject({
        costUsd: usd('0.20027'),
        pricingModel: 'genai-prices:gpt-4o-mini-audio-preview',
        flags: null,
      });
    }
  });

  it('gemini-2.5-pro audio at the text rate ($1.25, cached $0.125), unflagged, and $2.50 above 200k input', () => {
    // 10,000 × 1.25 + 20,000 audio × 1.25 + 4,000 cached audio × 0.125 + 1,000 × 10
    // = 12,500 + 25,000 + 500 + 10,000 = $48,000 per 1M → $0.048.
    expect(book.price('gemini', 'gemini-2.5-pro', { inputUncached: 10_000, inputAudio: 20_000, cacheReadAudio: 4_000, output: 1_000 }, 34_000)).toEqual({
      costUsd: usd('0.048'),
      pricingModel: 'genai-prices:gemini-2.5-pro',
      pricingSource: 'catalog',
      flags: null,
      catalogVersion: BUNDLED,
    });
    // 200,001 input tokens: 100,000 × 2.50 + 100,001 audio × 2.50 + 1,000 × 15 out
    // = 250,000 + 250,002.5 + 15,000 = $515,002.5 per 1M → $0.5150025.
    expect(book.price('google', 'gemini-2.5-pro', { inputUncached: 100_000, inputAudio: 100_001, output: 1_000 }, 200_001)).toMatchObject({
      costUsd: usd('0.5150025'),
      flags: null,
    });
  });

  const GROUNDING = 'groundedPrompts priced at $35 per 1,000; the free daily allowance is not applied (an upper bound)';

  it('Gemini 2.x grounding: $35 per 1,000 grounded prompts, flagged as an upper bound', () => {
    // gemini-2.5-flash: 1,000 × 0.30 + 100 × 2.50 = $0.0003 + $0.00025; 1 grounded prompt × $0.035. Total $0.03555.
    expect(book.price('gemini', 'gemini-2.5-flash', { inputUncached: 1_000, output: 100, groundedPrompts: 1 }, 1_000)).toEqual({
      costUsd: usd('0.03555'),
      pricingModel: 'genai-prices:gemini-2.5-flash',
      pricingSource: 'catalog',
      flags: [GROUNDING],
      catalogVersion: BUNDLED,
    });
    // Every model of the entry: 2 grounded prompts and no tokens = 2 × $0.035 = $0.07.
    for (const model of ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.0-flash', 'gemini-2.0-flash-lite']) {
      expect(book.price('gemini', model, { groundedPrompts: 2 }, 0)).toMatchObject({ costUsd: usd('0.07'), flags: [GROUNDING] });
    }
    // Batch halves gemini-2.5-flash's tokens ($0.00015 + $0.000125), not the fee: $0.035275.
    expect(book.price('gemini', 'gemini-2.5-flash', { inputUncached: 1_000, output: 100, groundedPrompts: 1 }, 1_000, { batch: true })).toMatchObject({
      costUsd: usd('0.035275'),
      pricingSource: 'batch',
      flags: [GROUNDING],
    });
    // No grounding, no flag.
    expect(book.price('gemini', 'gemini-2.5-flash', { inputUncached: 1_000 }, 1_000).flags).toBeNull();
  });

  it('Gemini 3 grounding: $14 per 1,000 search queries, flagged as an upper bound', () => {
    const note = 'webSearches priced at $14 per 1,000 search queries; the free monthly allowance is not applied (an upper bound)';
    // gemini-3-pro-preview: 1,000 × 2 + 100 × 12 = $0.002 + $0.0012; 3 queries × $0.014 = $0.042. Total $0.0452.
    expect(book.price('gemini', 'gemini-3-pro-preview', { inputUncached: 1_000, output: 100, webSearches: 3 }, 1_000)).toMatchObject({
      costUsd: usd('0.0452'),
      pricingModel: 'genai-prices:gemini-3-pro-preview',
      flags: [note],
    });
    // gemini-3-flash-preview: 1,000 × 0.50 + 100 × 3 = $0.0005 + $0.0003; 3 × $0.014. Total $0.0428.
    expect(book.price('gemini', 'gemini-3-flash-preview', { inputUncached: 1_000, output: 100, webSearches: 3 }, 1_000)).toMatchObject({
      costUsd: usd('0.0428'),
      flags: [note],
    });
  });
});

describe('catalog corrections: the list itself', () => {
  it('every correction cites a page and the date it was read, and has a test above', () => {
    for (const c of CATALOG_CORRECTIONS) {
      expect(c.source).toMatch(/^https:\/\/[a-z0-9.-]+\.[a-z]{2,}\/\S*/);
      expect(c.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Number.isNaN(Date.parse(c.checked))).toBe(false);
      expect(c.checked <= CORRECTIONS_VERSION).toBe(true);
      expect(c.why.length).toBeGreaterThan(10);
      if (c.kind === 'from') expect(Number.isNaN(Date.parse(c.from!))).toBe(false);
    }
    const listed = CATALOG_CORRECTIONS.map(
      (c) => `${c.provider}:${Object.keys(c.catalogIds).join(',')}:${c.kind === 'from' ? `from ${c.from}` : 'patch'}${c.model ? ` ${String(c.model)}` : ''}`,
    );
    expect(listed).toEqual(COVERED);
  });

  it('every correction was checked against the bundled catalog entry it corrects (an upgrade of genai-prices must re-check them)', () => {
    for (const c of CATALOG_CORRECTIONS) {
      for (const [id, fingerprint] of Object.entries(c.catalogIds)) {
        const model = c.model ? (id === 'gpt-4o-audio-preview' ? 'gpt-4o-audio-preview-2024-10-01' : id) : PROBE[id] ?? id;
        const found = calcPrice({}, model, { providerId: c.provider });
        expect(found?.model.id, `${c.provider}/${id}`).toBe(id);
        expect(catalogEntryFingerprint(found!.model.prices), `${c.provider}/${id}`).toBe(fingerprint);
      }
    }
  });

  it('a catalog whose entry changed since (a newer catalog) keeps its own prices: the correction is skipped, with one warning', () => {
    const deepseek = structuredClone(findProvider({ providerId: 'deepseek' })!);
    // The newer catalog prices deepseek-chat itself: $0.20 miss / $0.02 hit / $0.30 out from 2026-06-01.
    const chat = deepseek.models.find((m) => m.id === 'deepseek-chat')!;
    chat.prices = [...(chat.prices as ConditionalPrice[]), { constraint: { type: 'start_date', start_date: '2026-06-01' }, prices: { input_mtok: 0.2, cache_read_mtok: 0.02, output_mtok: 0.3 } }];
    const warnings: string[] = [];
    const previous = runtime.warn;
    configureKostrack({ warn: (m) => warnings.push(m) });
    try {
      const newer = new PriceBook({ catalogData: parseCatalog(JSON.stringify([deepseek]), 'newer') });
      // 1,000 miss + 1,000 hit + 1,000 out on 2026-07-01 at the newer catalog's prices: 0.0002 + 0.00002 + 0.0003 = $0.00052.
      const at = Date.parse('2026-07-01T20:00:00Z');
      expect(newer.price('deepseek', 'deepseek-chat', { inputUncached: 1000, cacheRead: 1000, output: 1000 }, 2000, { timeMs: at }).costUsd).toBe(usd('0.00052'));
      expect(warnings.filter((w) => w.includes('deepseek/deepseek-chat'))).toHaveLength(1);
      // deepseek-reasoner's entry is unchanged in that file: its corrections still apply ($0.28 / $0.028 / $0.42 → $0.000728).
      expect(newer.price('deepseek', 'deepseek-reasoner', { inputUncached: 1000, cacheRead: 1000, output: 1000 }, 2000, { timeMs: at }).costUsd).toBe(usd('0.000728'));
    } finally {
      configureKostrack({ warn: previous });
    }
  });

  it('rows priced through the catalog carry the corrections version', () => {
    expect(CORRECTIONS_VERSION).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const r = book.price('openai', 'gpt-4o', { inputUncached: 1 }, 1);
    expect(r.catalogVersion).toBe(BUNDLED);
    expect(r.catalogVersion).toContain(`corrections@${CORRECTIONS_VERSION}`);
    // The tier table is versioned with the catalog it extends; overrides have no catalog version.
    expect(book.price('openai', 'gpt-5', { inputUncached: 1 }, 1, { serviceTier: 'flex' }).catalogVersion).toContain(`corrections@${CORRECTIONS_VERSION}`);
  });
});
