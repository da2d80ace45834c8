import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { trace } from '../../lib/core/trace.js';
import { KostrackStorageLifecycle } from '../../lib/nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../../lib/nest/llm-clients.providers.js';
import type { PriceBook } from '../../lib/pricing/price-book.js';
import { API_KEY, startAdminApp } from '../admin/support/admin.app.js';
import { useTestDatabase } from '../support/database.js';
import { priceMismatches, rollupMismatches } from './support/consistency.js';
import { callOf, CORRECTED, writeDataset } from './support/dataset.js';
import { fingerprint } from './support/snapshot.js';

/** `POST <admin path>/reprice`: validated input, the module's own PriceBook, the run's report. */

const db = useTestDatabase('rp_admin');
let app: INestApplication;
let book: PriceBook;
const FROM = new Date('2026-09-10T00:00:00.000Z');
const TO = new Date('2026-09-11T00:00:00.000Z');
const range = { from: FROM.toISOString(), to: TO.toISOString() };
/** A fine-tuned model the app prices through its `prices` option (not in the catalog, not in llm_prices). */
const OWN = { provider: 'custom:acme', model: 'acme-1' };
const post = (path: string, body: unknown) => request(app.getHttpServer()).post(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).send(body as object);

beforeAll(async () => {
  app = await startAdminApp(db, { prices: [{ provider: OWN.provider, model: OWN.model, input: '0.5', output: '2' }] });
  book = app.get<PriceBook>(KOSTRACK_PRICE_BOOK);
  writeDataset({ traces: 10, callsPerTrace: 10, start: FROM, stepMs: 13 * 60_000, book });
  trace({ name: 'own-model' }, () => {
    for (let i = 0; i < 5; i++) {
      const c = callOf(i, new Date(FROM.getTime() + i * 60_000), book);
      const priced = book.price(OWN.provider, OWN.model, c.tokenBreakdown, c.inputTokens);
      recordCall({ ...c, ...OWN, costUsd: priced.costUsd, pricingModel: priced.pricingModel, pricingSource: priced.pricingSource, pricingFlags: priced.flags });
    }
  });
  await app.get(KostrackStorageLifecycle).current!.writer.drain();
});
afterAll(async () => {
  await app?.close();
});

describe('POST reprice: bad input is a 400 with the reason, and changes nothing', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['from after to', { from: '2026-09-11', to: '2026-09-10' }, /from \(2026-09-11T00:00:00.000Z\) must be before to/],
    ['from equal to to', { from: '2026-09-10', to: '2026-09-10T00:00:00Z' }, /must be before to/],
    ['an invalid date', { from: '2026-02-30', to: '2026-09-10' }, /from must be a valid ISO-8601 date/],
    ['not a date', { from: 'last week', to: '2026-09-10' }, /from must be an ISO-8601 date/],
    ['no to', { from: '2026-09-10' }, /to must be/],
    ['an unknown provider', { ...range, provider: 'openia' }, /unknown provider "openia"/],
    ['a batch size of 0', { ...range, batchSize: 0 }, /batchSize must be at least 1/],
    ['a batch size that is not a number', { ...range, batchSize: '100' }, /batchSize must be a whole number/],
    ['dryRun that is not a boolean', { ...range, dryRun: 'yes' }, /dryRun must be true or false/],
    ['a field it does not know', { ...range, mdoel: 'gpt-4o' }, /property mdoel should not exist/],
  ];
  for (const [what, body, message] of cases) {
    it(what, async () => {
      const before = await fingerprint(db.pool, db.schema);
      const res = await post('reprice', body);
      expect(res.status).toBe(400);
      expect([res.body.message].flat().join('; ')).toMatch(message);
      expect(await fingerprint(db.pool, db.schema)).toEqual(before);
    });
  }
});

describe('POST reprice after a back-dated price stored through POST prices', () => {
  beforeAll(async () => {
    const res = await post('prices', { ...CORRECTED, input: '0.2', output: '0.8', effectiveFrom: '2026-01-01T00:00:00Z', note: 'negotiated, back-dated' });
    expect(res.status).toBe(201);
  });

  it('a dry run returns the report and writes nothing', async () => {
    const before = await fingerprint(db.pool, db.schema);
    const res = await post('reprice', { ...range, dryRun: true });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: null, dryRun: true, status: 'done', by: 'admin-api', from: range.from, to: range.to });
    expect(res.body.rowsChanged).toBeGreaterThan(0);
    expect(await fingerprint(db.pool, db.schema)).toEqual(before);
  });

  it("re-prices with the module's book: the stored correction applies, the prices option still prices its model", async () => {
    const res = await post('reprice', { ...range, by: 'jane@acme.test', batchSize: 17 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dryRun: false, status: 'done', by: 'jane@acme.test', resumed: false });
    expect(typeof res.body.id).toBe('number');
    expect(usd(res.body.deltaUsd)).toBe(usd(res.body.totalAfterUsd) - usd(res.body.totalBeforeUsd));
    expect(usd(res.body.deltaUsd)).toBeGreaterThan(0n);
    expect((await priceMismatches(db.pool, db.schema, book, FROM, TO)).wrong).toEqual([]);
    expect(await rollupMismatches(db.pool, db.schema)).toEqual({ traces: [], spans: [], hourly: [], daily: [], budgets: [] });
    // The option-priced calls were not touched (a book without the option would have made them unpriced).
    const own = await db.pool.query(`SELECT DISTINCT pricing_source, (priced_at IS NULL) AS untouched FROM "${db.schema}".llm_calls WHERE model = $1`, [OWN.model]);
    expect(own.rows).toEqual([{ pricing_source: 'override', untouched: true }]);
    // The app prices new calls with the same corrected price, with nothing to reload.
    expect(book.price(CORRECTED.provider, CORRECTED.model, { inputUncached: 1_000_000 }, 1_000_000).costUsd).toBe(usd('0.2'));
  });

  it('the same request again changes nothing', async () => {
    const res = await post('reprice', range);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rowsChanged: 0, deltaUsd: '0' });
  });
});
