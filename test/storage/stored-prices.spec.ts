import { afterAll, beforeAll, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { addSink } from '../../lib/core/sinks.js';
import { trace } from '../../lib/core/trace.js';
import { PriceBook } from '../../lib/pricing/price-book.js';
import { SqlStoredPriceSource } from '../../lib/storage/stored-prices.source.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';

const db = useTestDatabase('prices');
let storage: TelemetryStorage;
let detach: () => void;
const T = Date.parse('2026-03-01T00:00:00.000Z');
const tokens = { inputUncached: 1000, output: 200 };

beforeAll(async () => {
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions() }))!;
  detach = addSink(storage.writer);
});
afterAll(async () => {
  detach?.();
  await storage?.close();
});

it('a price in llm_prices applies to calls after its effective date, the catalog before; rows keep the exact cost', async () => {
  const warnings: string[] = [];
  const source = new SqlStoredPriceSource(storage.pool, storage.schema, { refreshMs: 0, warn: (w) => warnings.push(w) });
  const book = new PriceBook();
  const stop = source.subscribe(() => book.refresh(source));
  await source.refresh();
  const before = book.price('openai', 'gpt-4o-mini', tokens, 1000, { timeMs: T + 1000 });
  expect(before.pricingSource).toBe('catalog');

  await db.pool.query(
    `INSERT INTO "${db.schema}".llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from, note)
     VALUES ('openai', 'gpt-4o-mini', 1.5, 6.000000001, $1, 'negotiated')`,
    [new Date(T).toISOString()],
  );
  await source.refresh();

  const priceAt = (timeMs: number) => book.price('openai', 'gpt-4o-mini', tokens, 1000, { timeMs });
  const early = priceAt(T - 1);
  const late = priceAt(T + 1);
  expect(early.pricingSource).toBe('catalog');
  expect(early.costUsd).toBe(usd('0.00027')); // gpt-4o-mini's catalog rates: $0.15 and $0.60 per million
  expect(late.pricingSource).toBe('stored');
  // 1000 × 1.5/1e6 + 200 × 6.000000001/1e6, to the last 1e-15 USD.
  expect(late.costUsd).toBe(usd('0.0027000000002'));

  const root = trace({ name: 'priced' }, (t) => {
    recordCall(syntheticCall({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 200, cachedTokens: 0, tokenBreakdown: tokens, ...early, time: new Date(T - 5000) }));
    recordCall(syntheticCall({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1000, outputTokens: 200, cachedTokens: 0, tokenBreakdown: tokens, ...late, time: new Date(T + 1) }));
    return t;
  });
  await storage.writer.drain();
  const rows = await db.pool.query(
    `SELECT pricing_source, pricing_model, cost_usd::text AS cost FROM "${db.schema}".llm_calls WHERE trace_id = $1 ORDER BY time`,
    [root.traceId],
  );
  expect(rows.rows).toEqual([
    { pricing_source: 'catalog', pricing_model: early.pricingModel, cost: '0.00027' },
    { pricing_source: 'stored', pricing_model: 'stored:gpt-4o-mini@2026-03-01T00:00:00.000Z', cost: '0.0027000000002' },
  ]);
  const total = await db.pool.query(`SELECT total_cost_usd::text AS cost FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [root.traceId]);
  expect(total.rows[0].cost).toBe(usdToString(usd('0.00027') + usd('0.0027000000002')));
  expect(warnings).toEqual([]);
  stop();
});

it('an unreadable table never throws: the last prices stay, one warning', async () => {
  const warnings: string[] = [];
  const source = new SqlStoredPriceSource(storage.pool, 'no_such_schema_kt', { refreshMs: 0, warn: (w) => warnings.push(w) });
  await expect(source.load()).resolves.toEqual([]);
  await expect(source.load()).resolves.toEqual([]);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/llm_prices/);
});

it('KostrackModule: the module PriceBook prices from llm_prices, refreshed on demand', async () => {
  const { Module } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const { KostrackModule } = await import('../../lib/nest/kostrack.module.js');
  const { KostrackStorageLifecycle } = await import('../../lib/nest/kostrack-storage.lifecycle.js');
  const { KOSTRACK_PRICE_BOOK } = await import('../../lib/nest/llm-clients.providers.js');
  @Module({ imports: [KostrackModule.forRoot({ database: db.url, schema: db.schema, writer: tempWriterOptions() })] })
  class AppModule {}
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  try {
    const book = app.get<PriceBook>(KOSTRACK_PRICE_BOOK);
    // The row from the first test is loaded at start.
    expect(book.price('openai', 'gpt-4o-mini', tokens, 1000, { timeMs: T + 1 }).costUsd).toBe(usd('0.0027000000002'));
    await db.pool.query(
      `INSERT INTO "${db.schema}".llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from) VALUES ('openai', 'gpt-4o-mini', 1, 2, $1)`,
      [new Date(T + 60_000).toISOString()],
    );
    await app.get(KostrackStorageLifecycle).refreshPrices();
    const later = book.price('openai', 'gpt-4o-mini', tokens, 1000, { timeMs: T + 120_000 });
    expect(later).toMatchObject({ pricingSource: 'stored', costUsd: usd('0.0014') });
    expect(book.price('openai', 'gpt-4o-mini', tokens, 1000, { timeMs: T + 1 }).costUsd).toBe(usd('0.0027000000002'));
  } finally {
    await app.close();
  }
});
