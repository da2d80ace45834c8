import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureKostrack } from '../../lib/core/configure.js';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { usd, usdToString } from '../../lib/core/money.js';
import { addSink } from '../../lib/core/sinks.js';
import { PriceBook } from '../../lib/pricing/price-book.js';
import { reprice } from '../../lib/storage/reprice.job.js';
import type { RepriceReport } from '../../lib/storage/reprice.options.js';
import { repricingPriceBook } from '../../lib/storage/reprice.price-book.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { useTestDatabase } from '../support/database.js';
import { rollupMismatches, priceMismatches } from './support/consistency.js';
import { CORRECTED, FAST_NOTE, TOOL_NOTE, UNPRICED, writeDataset } from './support/dataset.js';
import { fingerprint } from './support/snapshot.js';

/**
 * Issue 15, re-price: the semantics on a small set of calls (every kind of pricing, nested spans,
 * budgets of three scopes, one created after some calls landed). test/reprice/reprice-scale.spec.ts
 * shows the same at 100,000 calls, with a crash and a writer running alongside.
 */

const db = useTestDatabase('rp');
let storage: TelemetryStorage;
let detach: () => void;
const FROM = new Date('2026-10-05T00:00:00.000Z');
const TO = new Date('2026-10-08T00:00:00.000Z');
const range = { from: FROM.toISOString(), to: TO.toISOString() };
const s = () => `"${db.schema}"`;
const q = async <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows as R[];
const target = async () => ({ pool: storage.pool, schema: storage.schema, priceBook: await repricingPriceBook(storage.pool, storage.schema) });

async function addPrice(provider: string, model: string, input: string, output: string, from = '2026-01-01T00:00:00Z'): Promise<void> {
  await q(`INSERT INTO ${s()}.llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from, note) VALUES ($1, $2, $3, $4, $5, 'corrected')`, [
    provider,
    model,
    input,
    output,
    from,
  ]);
}

beforeAll(async () => {
  configureKostrack({ serviceId: 'billing-api', tags: { project: 'openmanagr' } });
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions() }))!;
  detach = addSink(storage.writer);
  await q(`INSERT INTO ${s()}.llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode) VALUES
             ('per-user-day', 'user_id', NULL, 'day', 100, 'warn'), ('invoices-month', 'feature', 'invoices', 'month', 1000, 'warn'),
             ('service-total', 'service', NULL, 'total', 100000, 'warn')`);
  const book = new PriceBook();
  // Calls at 10-minute steps over three days, and a few before the range (they must not change).
  writeDataset({ traces: 30, callsPerTrace: 12, start: FROM, stepMs: 10 * 60_000, book });
  writeDataset({ traces: 2, callsPerTrace: 6, start: new Date(FROM.getTime() - 86_400_000), stepMs: 60_000, book, seed: 7 });
  await storage.writer.drain();
  // A budget made after those calls landed: only calls recorded after it count in it.
  await q(`INSERT INTO ${s()}.llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode) VALUES ('feature-total', 'feature', NULL, 'total', 100000, 'warn')`);
  writeDataset({ traces: 6, callsPerTrace: 9, start: new Date(FROM.getTime() + 3_600_000), stepMs: 7 * 60_000, book, seed: 300 });
  await storage.writer.drain();
  expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });
});
afterAll(async () => {
  detach?.();
  configureKostrack({ serviceId: 'default', tags: {} });
  await storage?.close();
});

describe('after a back-dated price correction', () => {
  let dry: RepriceReport;
  let done: RepriceReport;

  beforeAll(async () => {
    await addPrice(CORRECTED.provider, CORRECTED.model, '0.2', '0.8');
    await addPrice(UNPRICED.provider, UNPRICED.model, '0.3', '1.2');
  });

  it('a dry run reports the rows that would change and the totals, and writes nothing', async () => {
    const before = await fingerprint(db.pool, db.schema);
    dry = await reprice(await target(), { ...range, dryRun: true, batchSize: 40 });
    expect(await fingerprint(db.pool, db.schema)).toEqual(before);
    expect(dry).toMatchObject({ id: null, dryRun: true, status: 'done' });
    expect(dry.rowsChanged).toBeGreaterThan(100);
    expect(dry.rowsScanned).toBeGreaterThan(dry.rowsChanged);
    expect(dry.newlyPriced).toBeGreaterThan(0);
    expect(usd(dry.totalAfterUsd)).toBeGreaterThan(usd(dry.totalBeforeUsd));
    expect(dry.deltaUsd).toBe(usdToString(usd(dry.totalAfterUsd) - usd(dry.totalBeforeUsd)));
  });

  it('prices every call in the range as a fresh PriceBook does, and every trace, span, hour and budget still sums its calls exactly', async () => {
    const outside = await q(`SELECT span_id, cost_usd::text, pricing_source FROM ${s()}.llm_calls WHERE time < $1 ORDER BY span_id`, [FROM]);
    const notPrices = await q(`SELECT span_id, cost_usd::text, pricing_source FROM ${s()}.llm_calls WHERE pricing_source IN ('blocked', 'not-billed', 'no-usage') ORDER BY span_id`);
    done = await reprice(await target(), { ...range, batchSize: 40, by: 'test' });

    // What the dry run said is what happened.
    expect(done).toMatchObject({ dryRun: false, resumed: false, status: 'done', by: 'test', provider: null, model: null });
    for (const k of ['rowsScanned', 'rowsChanged', 'newlyPriced', 'newlyUnpriced', 'totalBeforeUsd', 'totalAfterUsd', 'deltaUsd'] as const) expect(done[k]).toEqual(dry[k]);

    const fresh = await repricingPriceBook(storage.pool, storage.schema);
    const prices = await priceMismatches(db.pool, db.schema, fresh, FROM, TO);
    expect(prices.wrong).toEqual([]);
    expect(prices.checked).toBe(done.rowsScanned);
    expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });

    // Outside the range, and where the cost is not a price, nothing moved.
    expect(await q(`SELECT span_id, cost_usd::text, pricing_source FROM ${s()}.llm_calls WHERE time < $1 ORDER BY span_id`, [FROM])).toEqual(outside);
    expect(await q(`SELECT span_id, cost_usd::text, pricing_source FROM ${s()}.llm_calls WHERE pricing_source IN ('blocked', 'not-billed', 'no-usage') ORDER BY span_id`)).toEqual(notPrices);

    // Each changed row says how and when; the run is on record with exact totals.
    const marks = await q<{ n: number; ids: string[]; min: Date }>(
      `SELECT count(*)::int AS n, array_agg(DISTINCT repricing_id::text) AS ids, min(priced_at) AS min FROM ${s()}.llm_calls WHERE priced_at IS NOT NULL`,
    );
    expect(marks[0]).toMatchObject({ n: done.rowsChanged, ids: [String(done.id)] });
    const [run] = await q(`SELECT status, rows_changed::int, total_before_usd::text AS before, total_after_usd::text AS after, requested_by FROM ${s()}.llm_repricings WHERE id = $1`, [done.id]);
    expect(run).toEqual({ status: 'done', rows_changed: done.rowsChanged, before: done.totalBeforeUsd, after: done.totalAfterUsd, requested_by: 'test' });
  });

  it('keeps batch results at batch rates, the usage notes of each row, and gives the new price its own flags', async () => {
    const fresh = await repricingPriceBook(storage.pool, storage.schema);
    const batch = await q<{ cost: string; pricing_source: string; token_breakdown: Record<string, number>; input_tokens: number; time: Date }>(
      `SELECT cost_usd::text AS cost, pricing_source, token_breakdown, input_tokens, time FROM ${s()}.llm_calls WHERE service_tier = 'batch' AND time >= $1 LIMIT 1`,
      [FROM],
    );
    const standard = fresh.price(CORRECTED.provider, CORRECTED.model, batch[0].token_breakdown, batch[0].input_tokens, { timeMs: batch[0].time.getTime() });
    expect(batch[0].pricing_source).toBe('batch');
    // Half the corrected standard price (OpenAI's batch discount), to the unit.
    expect(usd(batch[0].cost) * 2n - standard.costUsd!).toBeLessThanOrEqual(1n);

    const cached = await q<{ flags: string[] }>(
      `SELECT pricing_flags AS flags FROM ${s()}.llm_calls WHERE time >= $1 AND model = $2 AND token_breakdown ? 'cacheRead' AND priced_at IS NOT NULL LIMIT 1`,
      [FROM, CORRECTED.model],
    );
    expect(cached[0].flags).toEqual([TOOL_NOTE, 'cacheRead billed at the input rate (no cacheRead price)']);
    const fast = await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${s()}.llm_calls WHERE pricing_flags = $1::jsonb`, [JSON.stringify([FAST_NOTE])]);
    expect(fast[0].n).toBeGreaterThan(0);
  });

  it('a second run changes nothing', async () => {
    const before = await fingerprint(db.pool, db.schema);
    const again = await reprice(await target(), { ...range, batchSize: 40 });
    expect(again).toMatchObject({ rowsChanged: 0, resumed: false, status: 'done', deltaUsd: '0', totalBeforeUsd: done.totalAfterUsd });
    expect(again.id).toBeGreaterThan(done.id!);
    const after = await fingerprint(db.pool, db.schema);
    expect({ ...after, llm_repricings: '' }).toEqual({ ...before, llm_repricings: '' });
  });

  it('a price removed: its calls become unpriced again, counted as unpriced in their traces and hours', async () => {
    await q(`DELETE FROM ${s()}.llm_prices WHERE model = $1`, [UNPRICED.model]);
    const r = await reprice(await target(), { ...range, provider: 'openai', model: UNPRICED.model });
    expect(r.newlyUnpriced).toBe(r.rowsChanged);
    expect(r.rowsChanged).toBe(dry.newlyPriced);
    expect(r.totalAfterUsd).toBe('0');
    expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });
    const [u] = await q<{ unpriced: string }>(`SELECT sum(unpriced_call_count)::text AS unpriced FROM ${s()}.llm_traces`);
    const [c] = await q<{ unpriced: string }>(`SELECT count(*)::text AS unpriced FROM ${s()}.llm_calls WHERE cost_usd IS NULL AND trace_id IS NOT NULL`);
    expect(u.unpriced).toBe(c.unpriced);
  });
});

describe('interrupted and concurrent runs', () => {
  it('a run that failed halfway is resumed from its cursor by the next run of the same range, and ends as one run would', async () => {
    await q(`UPDATE ${s()}.llm_prices SET input_per_mtok = 0.25 WHERE model = $1`, [CORRECTED.model]);
    const book = await repricingPriceBook(storage.pool, storage.schema);
    const expected = await reprice({ pool: storage.pool, schema: storage.schema, priceBook: book }, { ...range, dryRun: true });
    let batches = 0;
    const failing = reprice(
      { pool: storage.pool, schema: storage.schema, priceBook: book },
      {
        ...range,
        batchSize: 25,
        onBatch: () => {
          if (++batches === 3) throw new Error('crash after 3 batches');
        },
      },
    );
    await expect(failing).rejects.toThrow('crash after 3 batches');
    const [failed] = await q<{ id: string; status: string; batches: number; error: string; rows_scanned: string }>(
      `SELECT id::text, status, batches, error, rows_scanned::text FROM ${s()}.llm_repricings ORDER BY id DESC LIMIT 1`,
    );
    expect(failed).toMatchObject({ status: 'failed', batches: 3, rows_scanned: '75' });
    expect(failed.error).toMatch(/crash after 3 batches/);

    const resumed = await reprice({ pool: storage.pool, schema: storage.schema, priceBook: book }, { ...range, batchSize: 25 });
    expect(resumed).toMatchObject({ id: Number(failed.id), resumed: true, status: 'done' });
    for (const k of ['rowsScanned', 'rowsChanged', 'newlyPriced', 'newlyUnpriced', 'totalBeforeUsd', 'totalAfterUsd'] as const) expect(resumed[k]).toEqual(expected[k]);
    expect((await priceMismatches(db.pool, db.schema, book, FROM, TO)).wrong).toEqual([]);
    expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });
  });

  it('runs at once over the same calls (the same range twice, and overlapping filters) change each call once', async () => {
    await q(`UPDATE ${s()}.llm_prices SET output_per_mtok = 0.9 WHERE model = $1`, [CORRECTED.model]);
    const book = await repricingPriceBook(storage.pool, storage.schema);
    // The embedded engine is one session: its own storage uses one connection (statements of
    // connections used at once get mixed up, electric-sql/pglite#1046), so the runs share one here too.
    const pool = db.kind === 'postgres' ? storage.pool : new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
    const t = { pool, schema: storage.schema, priceBook: book };
    const expected = await reprice(t, { ...range, dryRun: true });
    const [a, b, c] = await Promise.all([
      reprice(t, { ...range, batchSize: 20 }),
      reprice(t, { ...range, batchSize: 30 }),
      reprice(t, { ...range, provider: 'openai', batchSize: 15 }),
    ]);
    // The first two are one run, shared batch by batch; the third overlaps it.
    expect(a.id).toBe(b.id);
    expect(a.rowsChanged).toBe(b.rowsChanged);
    expect(a.rowsChanged + c.rowsChanged).toBe(expected.rowsChanged);
    expect((await priceMismatches(db.pool, db.schema, book, FROM, TO)).wrong).toEqual([]);
    expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });
    if (pool !== storage.pool) await pool.close();
  });
});

describe('bad input', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['from after to', { from: '2026-10-08', to: '2026-10-05' }, /from \(2026-10-08T00:00:00.000Z\) must be before to/],
    ['from equal to to', { from: '2026-10-05T00:00:00Z', to: '2026-10-05T00:00:00Z' }, /must be before to/],
    ['a date that does not exist', { from: '2026-02-31', to: '2026-10-05' }, /from must be an ISO-8601 date/],
    ['not a date', { from: 'yesterday', to: '2026-10-05' }, /from must be an ISO-8601 date/],
    ['an invalid Date', { from: new Date('nope'), to: '2026-10-05' }, /from is an invalid Date/],
    ['no to', { from: '2026-10-05' }, /from and to are required/],
    ['an unknown provider', { ...range, provider: 'openia' }, /unknown provider "openia"/],
    ['an empty model', { ...range, model: '' }, /model must be a string/],
    ['a batch size of 0', { ...range, batchSize: 0 }, /batchSize must be a whole number/],
  ];
  for (const [what, options, message] of cases) {
    it(`${what}: a clear error, nothing changed`, async () => {
      const before = await fingerprint(db.pool, db.schema);
      const error = await reprice(await target(), options as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KostrackConfigError);
      expect((error as Error).message).toMatch(message);
      expect(await fingerprint(db.pool, db.schema)).toEqual(before);
    });
  }
});
