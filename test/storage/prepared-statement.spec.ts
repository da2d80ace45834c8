import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { newId } from '../../lib/core/ids.js';
import { usd, usdToString } from '../../lib/core/money.js';
import { BatchCommitter } from '../../lib/storage/batch.committer.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { useTestDatabase } from '../support/database.js';

/**
 * The writer's rollup statement is prepared once per connection. A pooler in transaction mode, or
 * a host running DEALLOCATE ALL / DISCARD ALL on its own pool, makes the server forget it while the
 * client still believes it exists: the batch must still be stored, once, and the writer go on
 * without preparing. One connection (max 1), so the DEALLOCATE reaches the writer's session.
 */
const db = useTestDatabase('prepared');
let pool: PgSqlPool;

beforeAll(async () => {
  pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
  await runMigrations(pool, db.schema);
});
afterAll(async () => {
  await pool?.close();
});

function call(traceId: string, i: number): CallRecord {
  return {
    provider: 'openai', model: 'gpt-4o-mini', operation: 'chat.completions.create',
    inputTokens: 100 + i, outputTokens: 10, cachedTokens: 0, tokenBreakdown: { inputUncached: 100 + i, output: 10 },
    costUsd: usd('0.000001000000000007') * BigInt(i + 1), pricingModel: 'gpt-4o-mini', pricingSource: 'catalog',
    latencyMs: 5, status: 'ok', errorClass: null, streamed: false,
    spanId: newId(), traceId, parentSpanId: null, time: new Date(Date.UTC(2026, 9, 3, 12, 0, i)), serviceId: 'api',
    tags: { feature: 'prep' }, metadata: {},
  };
}

it('stores a batch whose prepared statement the server forgot, once, and every batch after it', async () => {
  const committer = new BatchCommitter(pool, db.schema);
  const traceId = newId();
  const batches = [0, 1, 2, 3].map((b) => Array.from({ length: 25 }, (_, i) => call(traceId, b * 25 + i)));
  const ok = async (n: number) => expect(await committer.commit(batches[n].map((record) => ({ kind: 'call' as const, record })))).toEqual({ calls: 25, spans: 0 });
  await ok(0);
  // On PostgreSQL the first batch prepared the statement on the one connection; the server forgets it.
  await pool.query('DEALLOCATE ALL');
  await ok(1);
  await pool.query('DISCARD ALL');
  await ok(2);
  await ok(3);

  const s = `"${db.schema}"`;
  const want = batches.flat().reduce((t, c) => t + c.costUsd!, 0n);
  const [calls] = await pool.query<{ n: number; cost: string }>(`SELECT count(*)::int AS n, trim_scale(sum(cost_usd))::text AS cost FROM ${s}.llm_calls`);
  expect(calls).toEqual({ n: 100, cost: usdToString(want) });
  const [traced] = await pool.query<{ n: number; cost: string }>(`SELECT call_count::int AS n, total_cost_usd::text AS cost FROM ${s}.llm_traces WHERE trace_id = $1`, [traceId]);
  expect(traced).toEqual({ n: 100, cost: usdToString(want) });
  for (const table of ['llm_cost_hourly', 'llm_cost_hourly_totals', 'llm_cost_daily']) {
    const [rolled] = await pool.query<{ n: number; cost: string }>(`SELECT sum(calls)::int AS n, trim_scale(sum(cost_usd))::text AS cost FROM ${s}.${table}`);
    expect(rolled).toEqual({ n: 100, cost: usdToString(want) });
  }
});
