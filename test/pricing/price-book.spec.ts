import { describe, expect, it } from 'vitest';
import { configureKostrack, KostrackConfigError, usd } from '../../lib/core/index.js';
import { InMemoryStoredPriceSource, PriceBook } from '../../lib/pricing/index.js';
import { atMtok, sum } from '../providers/provider-test.support.js';

const tokens = { inputUncached: 1000, cacheRead: 500, output: 200, reasoning: 50 };

describe('PriceBook', () => {
  it('dated snapshots resolve to their catalog entry', () => {
    const r = new PriceBook().price('openai', 'gpt-4o-2024-08-06', tokens, 1500);
    expect(r).toEqual({ costUsd: sum(atMtok(1000, '2.5'), atMtok(500, '1.25'), atMtok(250, '10')), pricingModel: 'genai-prices:gpt-4o', pricingSource: 'catalog' });
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
    expect(book.price('openai', 'nope-1', tokens, 1500)).toEqual({ costUsd: null, pricingModel: null, pricingSource: 'unpriced' });
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

  it('resolution after warm-up is under a microsecond per call', () => {
    const book = new PriceBook();
    book.price('gemini', 'gemini-2.5-pro', tokens, 1500);
    const n = 200_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) book.price('gemini', 'gemini-2.5-pro', tokens, 1500 + (i & 1) * 300_000);
    const nsPerCall = Number(process.hrtime.bigint() - start) / n;
    expect(nsPerCall).toBeLessThan(1000);
  });
});
