import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { configureKostrack } from '../../lib/core/configure.js';
import { addSink } from '../../lib/core/sinks.js';
import { span, trace } from '../../lib/core/trace.js';
import type { TraceContext } from '../../lib/core/trace-context.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';

const db = useTestDatabase('rollup');
let storage: TelemetryStorage;
let detach: () => void;
const base = Date.parse('2026-01-05T10:00:00.000Z');
const at = (s: number) => new Date(base + s * 1000);

beforeAll(async () => {
  configureKostrack({ serviceId: 'billing-api', tags: { project: 'openmanagr' } });
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions() }))!;
  detach = addSink(storage.writer);
});
afterAll(async () => {
  detach?.();
  configureKostrack({ serviceId: 'default', tags: {} });
  await storage?.close();
});

describe('a trace with 3 spans and 8 calls', () => {
  let root: TraceContext;
  const spanIds: Record<string, string> = {};

  beforeAll(async () => {
    root = await trace({ name: 'invoice-pipeline', tags: { feature: 'invoice-pipeline', user_id: 'u-42' } }, async (t) => {
      recordCall(syntheticCall({ time: at(0), costUsd: usd('0.000123456789012345'), clientTags: { team: 'ap' } }));
      await span('validate', { tags: { step: 'validate' } }, async (s) => {
        spanIds.validate = s.spanId;
        recordCall(syntheticCall({ time: at(1), costUsd: usd('0.0011') }));
        recordCall(syntheticCall({ time: at(2), costUsd: usd('0.0022'), tags: { attempt: '2' } }));
      });
      await span('classify', async (s) => {
        spanIds.classify = s.spanId;
        recordCall(syntheticCall({ time: at(3), provider: 'openai', model: 'gpt-4o-mini', costUsd: usd('0.000045') }));
        recordCall(syntheticCall({ time: at(4), provider: 'openai', model: 'gpt-4o-mini', costUsd: usd('0.000055'), status: 'error', errorClass: 'RateLimitError' }));
        recordCall(syntheticCall({ time: at(5), provider: 'openai', model: 'ft:gpt-4o-mini:acme', costUsd: null, pricingModel: null, pricingSource: 'unpriced' }));
      });
      await span('post', { tags: { feature: 'invoice-post' } }, async (s) => {
        spanIds.post = s.spanId;
        recordCall(syntheticCall({ time: at(6), costUsd: usd('0.003') }));
        recordCall(syntheticCall({ time: at(7), costUsd: usd('0.000000000000001') }));
      });
      return t;
    });
    // A cheaper trace and a dearer one, for the ordering of the seed's first query.
    await trace({ name: 'cheap', tags: { feature: 'chat' } }, async () => recordCall(syntheticCall({ time: at(10), costUsd: usd('0.0001') })));
    await trace({ name: 'dear', tags: { feature: 'month-end-close' } }, async () => recordCall(syntheticCall({ time: at(20), costUsd: usd('1.5') })));
    // A call outside any trace: stored, but part of no trace.
    recordCall(syntheticCall({ time: at(30), costUsd: usd('0.5') }));
    await storage.writer.drain();
  });

  it('lands as 1 trace row, 3 span rows and 8 call rows', async () => {
    const traces = await db.pool.query(`SELECT * FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [root.traceId]);
    const spans = await db.pool.query(`SELECT * FROM "${db.schema}".llm_spans WHERE trace_id = $1 ORDER BY started_at`, [root.traceId]);
    const calls = await db.pool.query(`SELECT * FROM "${db.schema}".llm_calls WHERE trace_id = $1 ORDER BY time`, [root.traceId]);
    expect(traces.rowCount).toBe(1);
    expect(spans.rowCount).toBe(3);
    expect(calls.rowCount).toBe(8);

    expect(spans.rows.map((s) => [s.name, s.span_id, s.parent_span_id, s.status])).toEqual([
      ['validate', spanIds.validate, root.spanId, 'ok'],
      ['classify', spanIds.classify, root.spanId, 'ok'],
      ['post', spanIds.post, root.spanId, 'ok'],
    ]);
    expect(spans.rows[0].tags).toEqual({ project: 'openmanagr', feature: 'invoice-pipeline', user_id: 'u-42', step: 'validate' });
    expect(spans.rows.map((s) => s.cost_usd)).toEqual(['0.0033', '0.0001', '0.003000000000001']);

    expect(calls.rows.map((c) => c.parent_span_id)).toEqual([
      null,
      spanIds.validate,
      spanIds.validate,
      spanIds.classify,
      spanIds.classify,
      spanIds.classify,
      spanIds.post,
      spanIds.post,
    ]);
    expect(calls.rows[0].tags).toEqual({ team: 'ap', project: 'openmanagr', feature: 'invoice-pipeline', user_id: 'u-42', span_name: 'invoice-pipeline' });
    expect(calls.rows[2].tags).toEqual({ project: 'openmanagr', feature: 'invoice-pipeline', user_id: 'u-42', step: 'validate', attempt: '2', span_name: 'validate' });
    expect(calls.rows[6].tags.feature).toBe('invoice-post');
    expect(calls.rows.map((c) => c.cost_usd)).toEqual(['0.000123456789012', '0.0011', '0.0022', '0.000045', '0.000055', null, '0.003', '0.000000000000001']);
    expect(calls.rows[4]).toMatchObject({ status: 'error', error_class: 'RateLimitError', service_id: 'billing-api' });
    expect(calls.rows[0]).toMatchObject({ input_tokens: 1200, output_tokens: 300, cached_tokens: 200, latency_ms: 850, streamed: false, pricing_source: 'catalog' });
    expect(calls.rows[0].token_breakdown).toEqual({ inputUncached: 1000, cacheRead: 200, output: 300 });

    const t = traces.rows[0];
    // Exactly the in-process total, to the last of 15 decimals.
    expect(root.totalCostDecimal).toBe('0.006523456789013');
    expect(t.total_cost_usd).toBe(root.totalCostDecimal);
    expect(Number(t.call_count)).toBe(root.callCount);
    expect(t).toMatchObject({
      name: 'invoice-pipeline',
      root_span_id: root.spanId,
      status: 'ok',
      unpriced_call_count: '1',
      error_call_count: '1',
      input_tokens: '9600',
      output_tokens: '2400',
      cached_tokens: '1600',
      service_ids: ['billing-api'],
    });
    expect(t.tags).toEqual({ project: 'openmanagr', feature: 'invoice-pipeline', user_id: 'u-42' });
    expect(t.started_at.getTime()).toBe(at(0).getTime());
  });

  it("answers the seed's first query: traces, most expensive first", async () => {
    const rows = await db.inSchema('SELECT * FROM trace_costs ORDER BY total_cost_usd DESC LIMIT 20;');
    expect(rows.map((r) => [r.trace_name, r.feature, r.total_cost_usd, r.call_count])).toEqual([
      ['dear', 'month-end-close', '1.5', '1'],
      ['invoice-pipeline', 'invoice-pipeline', '0.006523456789013', '8'],
      ['cheap', 'chat', '0.0001', '1'],
    ]);
    expect(rows[1]).toMatchObject({ trace_id: root.traceId, user_id: 'u-42', unpriced_call_count: '1', status: 'ok' });
    const outside = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".llm_calls WHERE trace_id IS NULL`);
    expect(outside.rows[0].n).toBe(1);
  });

  it("answers the seed's second query: the calls of one trace in time order", async () => {
    const rows = await db.inSchema(
      `SELECT time, provider, model, cost_usd, tags->>'span_name' FROM llm_calls WHERE trace_id = '${root.traceId}' ORDER BY time;`,
    );
    expect(rows.map((r) => [(r.time as Date).toISOString(), r.provider, r.model, r.cost_usd, r['?column?']])).toEqual([
      [at(0).toISOString(), 'anthropic', 'claude-haiku-4-5-20251001', '0.000123456789012', 'invoice-pipeline'],
      [at(1).toISOString(), 'anthropic', 'claude-haiku-4-5-20251001', '0.0011', 'validate'],
      [at(2).toISOString(), 'anthropic', 'claude-haiku-4-5-20251001', '0.0022', 'validate'],
      [at(3).toISOString(), 'openai', 'gpt-4o-mini', '0.000045', 'classify'],
      [at(4).toISOString(), 'openai', 'gpt-4o-mini', '0.000055', 'classify'],
      [at(5).toISOString(), 'openai', 'ft:gpt-4o-mini:acme', null, 'classify'],
      [at(6).toISOString(), 'anthropic', 'claude-haiku-4-5-20251001', '0.003', 'post'],
      [at(7).toISOString(), 'anthropic', 'claude-haiku-4-5-20251001', '0.000000000000001', 'post'],
    ]);
  });

  it('never counts a call twice when it is written again (retry, replay)', async () => {
    const [before] = (await db.pool.query(`SELECT total_cost_usd, call_count FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [root.traceId])).rows;
    const again = await trace({ name: 'again' }, async (t) => {
      const call = recordCall(syntheticCall({ costUsd: usd('0.25') }))!;
      storage.writer.recordCall(call); // the same row once more, as a replay would send it
      return t;
    });
    await storage.writer.drain();
    const rows = (await db.pool.query(`SELECT total_cost_usd, call_count FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [again.traceId])).rows;
    expect(rows).toEqual([{ total_cost_usd: '0.25', call_count: '1' }]);
    const [after] = (await db.pool.query(`SELECT total_cost_usd, call_count FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [root.traceId])).rows;
    expect(after).toEqual(before);
    expect(usdToString(usd(after.total_cost_usd))).toBe(root.totalCostDecimal);
  });
});
