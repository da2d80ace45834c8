import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { newId } from '../../lib/core/ids.js';
import { usd, usdToString } from '../../lib/core/money.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from './support/synthetic.js';

// On PostgreSQL batches of calls are COPYed (the fast path); on the embedded engine they take
// the unnest() statement. Both must store the same bytes and the same totals.
const db = useTestDatabase('copy');
let storage: TelemetryStorage;
const base = Date.parse('2026-02-01T08:00:00.000Z');

beforeAll(async () => {
  storage = (await TelemetryStorage.open({
    database: db.url,
    schema: db.schema,
    writer: tempWriterOptions({ batchSize: 200, maxQueue: 5000 }),
  }))!;
});
afterAll(async () => {
  await storage?.close();
});

function call(traceId: string | null, i: number, overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    provider: 'openai', model: 'gpt-4o-mini', operation: 'chat.completions.create',
    inputTokens: 100 + i, outputTokens: 10 + i, cachedTokens: i % 3,
    tokenBreakdown: { inputUncached: 100 + i - (i % 3), cacheRead: i % 3, output: 10 + i },
    costUsd: i % 7 === 3 ? null : usd('0.000123456789012345') * BigInt(i + 1),
    pricingModel: 'genai-prices:gpt-4o-mini', pricingSource: i % 7 === 3 ? 'unpriced' : 'catalog',
    latencyMs: 100.4 + i, status: i % 5 === 4 ? 'error' : 'ok', errorClass: i % 5 === 4 ? 'RateLimitError' : null, streamed: i % 2 === 0,
    spanId: newId(), traceId, parentSpanId: null, time: new Date(base + i * 1000), serviceId: i % 4 === 0 ? 'worker' : 'api',
    tags: { feature: 'copy', n: String(i) }, metadata: {},
    ...overrides,
  };
}

/** llm_traces as stored next to the same totals recomputed from the call rows. */
async function totals() {
  const s = `"${db.schema}"`;
  const stored = await db.pool.query(
    `SELECT trace_id, total_cost_usd::text AS cost, call_count::int AS calls, unpriced_call_count::int AS unpriced,
            error_call_count::int AS errors, input_tokens::int AS input, output_tokens::int AS output, cached_tokens::int AS cached,
            first_call_at, last_call_at, service_ids FROM ${s}.llm_traces ORDER BY trace_id`,
  );
  const recomputed = await db.pool.query(
    `SELECT trace_id, trim_scale(COALESCE(sum(cost_usd), 0))::text AS cost, count(*)::int AS calls,
            (count(*) FILTER (WHERE cost_usd IS NULL))::int AS unpriced, (count(*) FILTER (WHERE status <> 'ok'))::int AS errors,
            sum(input_tokens)::int AS input, sum(output_tokens)::int AS output, sum(cached_tokens)::int AS cached,
            min(time) AS first_call_at, max(time + latency_ms * interval '1 millisecond') AS last_call_at,
            array_agg(DISTINCT service_id ORDER BY service_id) AS service_ids
       FROM ${s}.llm_calls WHERE trace_id IS NOT NULL GROUP BY trace_id ORDER BY trace_id`,
  );
  return { stored: stored.rows, recomputed: recomputed.rows };
}

it('stores every field exactly, escapes included, and the rollup equals the rows', async () => {
  const traces = [newId(), newId(), newId()];
  const calls = Array.from({ length: 450 }, (_, i) => call(i % 11 === 10 ? null : traces[i % 3], i));
  // Characters COPY's text format must escape, in every kind of column.
  calls[5] = call(traces[2], 5, {
    model: 'ft:gpt-4o\\mini\tv2',
    errorClass: 'Line\nBreak\rError',
    status: 'error',
    tags: { path: 'C:\\temp\\x', quote: 'say "hi"\n\ttab', emoji: 'é🚀', backslash_n: '\\n' },
    metadata: { note: 'a\\b', nested: { list: [1, 'two\t'] } },
  });
  const shared = { feature: 'shared-object' };
  for (let i = 10; i < 20; i++) calls[i] = call(traces[0], i, { tags: shared });
  for (const c of calls) storage.writer.recordCall(c);
  await storage.writer.drain();

  const rows = await db.pool.query(
    `SELECT span_id, model, error_class, tags, metadata, token_breakdown, cost_usd::text AS cost, time, latency_ms, streamed, service_id
       FROM "${db.schema}".llm_calls`,
  );
  expect(rows.rowCount).toBe(450);
  const byId = new Map(rows.rows.map((r) => [r.span_id, r]));
  for (const c of calls) {
    const r = byId.get(c.spanId);
    expect(r, c.spanId).toBeDefined();
    expect(r).toEqual({
      span_id: c.spanId, model: c.model, error_class: c.errorClass, tags: c.tags, metadata: c.metadata,
      token_breakdown: c.tokenBreakdown, cost: c.costUsd === null ? null : usdToString(c.costUsd), time: c.time,
      latency_ms: Math.round(c.latencyMs), streamed: c.streamed, service_id: c.serviceId,
    });
  }
  const { stored, recomputed } = await totals();
  expect(stored).toHaveLength(3);
  expect(stored).toEqual(recomputed);
  // And against the in-process sums, to the last 1e-15 USD.
  const expected = calls.filter((c) => c.traceId === traces[0]).reduce((sum, c) => sum + (c.costUsd ?? 0n), 0n);
  expect(stored.find((t) => t.trace_id === traces[0])!.cost).toBe(usdToString(expected));
  expect(storage.health().written?.calls).toBe(450);
});

it('a re-sent batch inserts and counts only the rows that were not there yet', async () => {
  const traceId = newId();
  const first = Array.from({ length: 300 }, (_, i) => call(traceId, i));
  for (const c of first) storage.writer.recordCall(c);
  await storage.writer.drain();
  const before = storage.health().written!.calls;

  // A replay after an outage: the same rows again, interleaved with new ones, one batch each.
  const fresh = Array.from({ length: 100 }, (_, i) => call(traceId, 1000 + i));
  const mixed = [...first.slice(0, 100), ...fresh, ...first.slice(100)];
  for (const c of mixed) storage.writer.recordCall(c);
  await storage.writer.drain();

  const count = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".llm_calls WHERE trace_id = $1`, [traceId]);
  expect(count.rows[0].n).toBe(400);
  expect(storage.health().written!.calls - before).toBe(100);
  const { stored, recomputed } = await totals();
  expect(stored).toEqual(recomputed);
  const t = stored.find((r) => r.trace_id === traceId)!;
  expect(t.calls).toBe(400);
  expect(usd(t.cost)).toBe([...first, ...fresh].reduce((sum, c) => sum + (c.costUsd ?? 0n), 0n));
});
