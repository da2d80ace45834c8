import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { newId } from '../../lib/core/ids.js';
import { usd, usdToString } from '../../lib/core/money.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

// Spent per budget scope and period is maintained at ingest, in the batch's transaction, from the
// rows actually inserted: on the COPY path (real PostgreSQL) and the unnest() statement (embedded,
// and any batch with a replayed row), a replay never counts twice, and a call's reservation is
// given back when its row lands.
const db = useTestDatabase('budget_usage');
let storage: TelemetryStorage;
const s = () => `"${db.schema}"`;

beforeAll(async () => {
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions({ batchSize: 500 }) }))!;
  await db.pool.query(
    `INSERT INTO ${s()}.llm_budgets (name, scope_tag, scope_value, period, limit_usd) VALUES
       ('user-day', 'user_id', NULL, 'day', 5), ('acme-month', 'tenant', 'acme', 'month', 100), ('api-total', 'service', 'api', 'total', 1000)`,
  );
});
afterAll(async () => {
  await storage?.close();
});

function call(i: number, overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    provider: 'openai', model: 'gpt-4o-mini', operation: 'chat.completions.create', inputTokens: 10, outputTokens: 1, cachedTokens: 0,
    tokenBreakdown: { inputUncached: 10, output: 1 }, costUsd: usd('0.000123456789012345') * BigInt(i + 1), pricingModel: 'genai-prices:gpt-4o-mini',
    pricingSource: 'catalog', latencyMs: 5, status: 'ok', errorClass: null, streamed: false, spanId: newId(), traceId: null, parentSpanId: null,
    // Two days, two users, one tenant, two services.
    time: new Date(Date.UTC(2026, 10, 29 + (i % 2), 23, 59, 59)), serviceId: i % 3 === 0 ? 'worker' : 'api',
    tags: { user_id: i % 4 < 2 ? 'ann' : 'bob', tenant: 'acme' }, metadata: {},
    ...overrides,
  };
}

async function usage() {
  const r = await db.pool.query(
    `SELECT b.name, u.scope_value, u.period_start, u.spent::text AS spent, u.calls, u.reserved::text AS reserved
       FROM ${s()}.llm_budget_usage u JOIN ${s()}.llm_budgets b ON b.id = u.budget_id ORDER BY 1, 2, 3`,
  );
  return r.rows.map((x) => [x.name, x.scope_value, (x.period_start as Date).toISOString(), usdToString(usd(x.spent)), x.calls, usdToString(usd(x.reserved))]);
}

/** The same sums from the rows themselves (what the budget must equal, to the last digit). */
async function recomputed() {
  const r = await db.pool.query(
    `SELECT b.name, x.v AS scope_value, ${s()}.kostrack_period_start(b.period, c.time) AS period_start,
            COALESCE(sum(c.cost_usd), 0)::text AS spent, count(*) FILTER (WHERE c.status <> 'blocked')::int AS calls
       FROM ${s()}.llm_calls c CROSS JOIN ${s()}.llm_budgets b
       CROSS JOIN LATERAL (SELECT CASE WHEN b.scope_tag = 'service' THEN c.service_id ELSE c.tags ->> b.scope_tag END AS v) x
      WHERE x.v IS NOT NULL AND (b.scope_value IS NULL OR b.scope_value = x.v)
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  return r.rows.map((x) => [x.name, x.scope_value, (x.period_start as Date).toISOString(), usdToString(usd(x.spent)), x.calls, '0']);
}

it('adds each inserted call to every budget whose scope it is in, per UTC period; replays add nothing; blocked calls add no call', async () => {
  const calls = Array.from({ length: 400 }, (_, i) => call(i));
  calls[7] = call(7, { status: 'blocked', costUsd: 0n, pricingSource: 'blocked' });
  calls[8] = call(8, { costUsd: null, pricingSource: 'unpriced' });
  calls[9] = call(9, { tags: { tenant: 'globex' } }); // no user, another tenant: only the service budget
  for (const c of calls) storage.writer.recordCall(c);
  await storage.writer.drain();
  const first = await usage();
  expect(first).toEqual(await recomputed());
  // ann and bob on two days, acme for November (its 400 - 1 calls), api in total.
  expect(first.map((r) => [r[0], r[1], r[2]])).toEqual([
    ['acme-month', 'acme', '2026-11-01T00:00:00.000Z'],
    ['api-total', 'api', '1970-01-01T00:00:00.000Z'],
    ['user-day', 'ann', '2026-11-29T00:00:00.000Z'],
    ['user-day', 'ann', '2026-11-30T00:00:00.000Z'],
    ['user-day', 'bob', '2026-11-29T00:00:00.000Z'],
    ['user-day', 'bob', '2026-11-30T00:00:00.000Z'],
  ]);
  expect(first[0][4]).toBe(398); // 400 rows, minus globex's, minus the blocked one

  // A replay of half of them with 50 new ones: only the new ones count.
  const more = Array.from({ length: 50 }, (_, i) => call(1000 + i));
  for (const c of [...calls.slice(0, 200), ...more]) storage.writer.recordCall(c);
  await storage.writer.drain();
  expect(await usage()).toEqual(await recomputed());
});

it("a call's reservation is given back when its row lands", async () => {
  const c = call(2000, { time: new Date(Date.UTC(2026, 10, 30, 12)) });
  await db.pool.query(
    `SELECT * FROM ${s()}.kostrack_budget_admit(ARRAY[(SELECT id FROM ${s()}.llm_budgets WHERE name = 'user-day')], ARRAY['ann'], ARRAY['2026-11-30T00:00:00Z'::timestamptz], 0.25, $1, 600000, false)`,
    [c.spanId],
  );
  const held = async () =>
    (await db.pool.query(`SELECT reserved::text AS r FROM ${s()}.llm_budget_usage u JOIN ${s()}.llm_budgets b ON b.id = u.budget_id WHERE b.name = 'user-day' AND u.scope_value = 'ann' AND u.period_start = '2026-11-30T00:00:00Z'`)).rows[0].r;
  expect(usdToString(usd(await held()))).toBe('0.25');
  storage.writer.recordCall(c);
  await storage.writer.drain();
  expect(usdToString(usd(await held()))).toBe('0');
  expect((await db.pool.query(`SELECT count(*)::int AS n FROM ${s()}.llm_budget_reservations`)).rows[0].n).toBe(0);
  expect(await usage()).toEqual(await recomputed());
});
