import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { configureKostrack } from '../../lib/core/configure.js';
import { MemorySink } from '../../lib/core/memory.sink.js';
import { usd, usdToString, type Usd } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { addSink } from '../../lib/core/sinks.js';
import { trace } from '../../lib/core/trace.js';
import { MIGRATION_STEPS } from '../../lib/storage/migrations/migration.list.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';

/**
 * Issue 14: llm_calls partitioned by month, the hourly cost rollup kept exactly at ingest,
 * retention by dropping whole months, and the upgrade of an existing installation.
 */

const db = useTestDatabase('parts');
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function open(schema: string, extra: Parameters<typeof TelemetryStorage.open>[0] = {}): Promise<TelemetryStorage> {
  const storage = (await TelemetryStorage.open({ database: db.url, schema, writer: tempWriterOptions(), ...extra }))!;
  cleanup.push(() => storage.close());
  return storage;
}

async function q<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
  return (await db.pool.query(sql, params)).rows as R[];
}

async function partitionsOf(schema: string): Promise<string[]> {
  const rows = await q<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = format('%I.llm_calls', $1::text)::regclass ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.name);
}

/** The hourly rollup as stored, and as the calls say it must be: both sorted the same way. */
async function hourlyVsCalls(schema: string): Promise<{ stored: unknown[]; fromCalls: unknown[] }> {
  const cols = `hour, service_id, provider, model, feature, project, user_id, cost_usd::text AS cost, calls::int, unpriced::int, errors::int, input::int, output::int, cached::int`;
  const stored = await q(
    `SELECT ${cols} FROM (SELECT hour, service_id, provider, model, feature, project, user_id, cost_usd, calls, unpriced_calls AS unpriced,
            error_calls AS errors, input_tokens AS input, output_tokens AS output, cached_tokens AS cached FROM "${schema}".llm_cost_hourly) h
      ORDER BY 1, 2, 3, 4, 5 NULLS FIRST, 6 NULLS FIRST, 7 NULLS FIRST`,
  );
  const fromCalls = await q(
    `SELECT ${cols} FROM (
       SELECT date_trunc('hour', time, 'UTC') AS hour, service_id, provider, model, tags->>'feature' AS feature, tags->>'project' AS project,
              tags->>'user_id' AS user_id, trim_scale(COALESCE(sum(cost_usd), 0)) AS cost_usd, count(*) AS calls,
              count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS errors,
              sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cached_tokens) AS cached
         FROM "${schema}".llm_calls GROUP BY 1, 2, 3, 4, 5, 6, 7) c
      ORDER BY 1, 2, 3, 4, 5 NULLS FIRST, 6 NULLS FIRST, 7 NULLS FIRST`,
  );
  return { stored, fromCalls };
}

/** A rollup without the user as stored, and as the calls say it must be (by UTC day or hour). */
async function userlessVsCalls(schema: string, table: 'llm_cost_daily' | 'llm_cost_hourly_totals'): Promise<{ stored: unknown[]; fromCalls: unknown[] }> {
  const grain = table === 'llm_cost_daily' ? 'day' : 'hour';
  const cols = `t, service_id, provider, model, feature, project, cost_usd::text AS cost, calls::int, unpriced::int, errors::int, input::int, output::int, cached::int`;
  const stored = await q(
    `SELECT ${cols} FROM (SELECT ${grain} AS t, service_id, provider, model, feature, project, cost_usd, calls, unpriced_calls AS unpriced,
            error_calls AS errors, input_tokens AS input, output_tokens AS output, cached_tokens AS cached FROM "${schema}".${table}) d
      ORDER BY 1, 2, 3, 4, 5 NULLS FIRST, 6 NULLS FIRST`,
  );
  const fromCalls = await q(
    `SELECT ${cols} FROM (
       SELECT date_trunc('${grain}', time, 'UTC') AS t, service_id, provider, model, tags->>'feature' AS feature, tags->>'project' AS project,
              trim_scale(COALESCE(sum(cost_usd), 0)) AS cost_usd, count(*) AS calls,
              count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS errors,
              sum(input_tokens) AS input, sum(output_tokens) AS output, sum(cached_tokens) AS cached
         FROM "${schema}".llm_calls GROUP BY 1, 2, 3, 4, 5, 6) c
      ORDER BY 1, 2, 3, 4, 5 NULLS FIRST, 6 NULLS FIRST`,
  );
  return { stored, fromCalls };
}

describe('partitioned calls and the hourly rollup', () => {
  const schema = freshSchemaName('hourly');
  let storage: TelemetryStorage;
  const sink = new MemorySink();
  const sent: CallRecord[] = [];
  // An hour this month, the last millisecond of October 2026, the first of November, and a month
  // long before the installation (a replayed spool, an import): its partition is made on demand.
  const times = [
    new Date('2026-10-31T23:59:59.999Z'),
    new Date('2026-11-01T00:00:00.000Z'),
    new Date('2026-11-01T00:30:00.000Z'),
    new Date('2026-11-01T01:15:00.000Z'),
    new Date('2024-02-29T12:00:00.000Z'),
  ];
  const features = ['invoices', 'chat', undefined];
  const users = ['u-1', '', undefined];
  let expectedTotal: Usd = 0n;

  beforeAll(async () => {
    configureKostrack({ serviceId: 'billing-api', tags: { project: 'ledger' } });
    storage = await open(schema);
    const detach = addSink(storage.writer);
    const detachSink = addSink(sink);
    try {
      let n = 0;
      for (const time of times) {
        for (const feature of features) {
          for (const user_id of users) {
            await trace({ name: 'run', tags: { feature, user_id } }, async () => {
              for (let i = 0; i < 3; i++) {
                n++;
                const unpriced = n % 7 === 0;
                const cost = unpriced ? null : BigInt(n) * 1_000_000_007n;
                if (cost !== null) expectedTotal += cost;
                recordCall(
                  syntheticCall({
                    time: new Date(time.getTime() + i),
                    model: i === 2 ? 'claude-sonnet-4-5' : 'claude-haiku-4-5-20251001',
                    costUsd: cost,
                    pricingSource: unpriced ? 'unpriced' : 'catalog',
                    status: n % 5 === 0 ? 'error' : 'ok',
                    errorClass: n % 5 === 0 ? 'RateLimitError' : null,
                  }),
                );
              }
            });
          }
        }
      }
      await storage.writer.drain();
      sent.push(...sink.calls);
    } finally {
      detach();
      detachSink();
      configureKostrack({ serviceId: 'default', tags: {} });
    }
  });

  it('puts each call in its month, making the partition of a month long past on demand', async () => {
    expect(await partitionsOf(schema)).toEqual(expect.arrayContaining(['llm_calls_p2024_02', 'llm_calls_p2026_10', 'llm_calls_p2026_11']));
    const perPartition = await q<{ part: string; n: number }>(
      `SELECT tableoid::regclass::text AS part, count(*)::int AS n FROM "${schema}".llm_calls GROUP BY 1 ORDER BY 1`,
    );
    // 27 calls per time, each trace's three 1 ms apart: at 23:59:59.999 only the first is still in
    // October (9 calls); the other 18 are November's, beside the 81 of the three November times.
    expect(perPartition).toEqual([
      { part: `${schema}.llm_calls_p2024_02`, n: 27 },
      { part: `${schema}.llm_calls_p2026_10`, n: 9 },
      { part: `${schema}.llm_calls_p2026_11`, n: 99 },
    ]);
  });

  it('keeps the hourly rollup equal to the calls, to the last digit, with NULL and empty tag values apart', async () => {
    const { stored, fromCalls } = await hourlyVsCalls(schema);
    expect(stored).toEqual(fromCalls);
    for (const table of ['llm_cost_daily', 'llm_cost_hourly_totals'] as const) {
      const userless = await userlessVsCalls(schema, table);
      expect(userless.stored).toEqual(userless.fromCalls);
      expect(userless.stored.length).toBeGreaterThan(0);
    }
    // 4 hours × 3 features × 3 users × 2 models, but 23:00 on October 31st only has the haiku calls.
    expect(stored).toHaveLength(4 * 3 * 3 * 2 - 9);
    const [total] = await q<{ cost: string; calls: number; unpriced: number }>(
      `SELECT trim_scale(sum(cost_usd))::text AS cost, sum(calls)::int AS calls, sum(unpriced_calls)::int AS unpriced FROM "${schema}".llm_cost_hourly`,
    );
    expect(total).toEqual({ cost: usdToString(expectedTotal), calls: 135, unpriced: 19 });
    const emptyUser = await q(`SELECT count(*)::int AS n FROM "${schema}".llm_cost_hourly WHERE user_id = ''`);
    const noUser = await q(`SELECT count(*)::int AS n FROM "${schema}".llm_cost_hourly WHERE user_id IS NULL`);
    expect([emptyUser[0], noUser[0]]).toEqual([{ n: 21 }, { n: 21 }]);
  });

  it('a replayed batch (also straddling the month boundary) counts nothing twice: calls, traces and hours unchanged', async () => {
    const before = await q(`SELECT count(*)::int AS calls, trim_scale(sum(cost_usd))::text AS cost FROM "${schema}".llm_calls`);
    const hourlyBefore = await hourlyVsCalls(schema);
    const tracesBefore = await q(`SELECT trace_id, total_cost_usd::text, call_count FROM "${schema}".llm_traces ORDER BY 1`);
    // The same records again, as a replay of the spool would send them, mixed with one new call.
    const first = sent[0];
    // A new call under the same trace and hourly key: it adds to existing rows rather than making new ones.
    const fresh: CallRecord = {
      ...syntheticRecord(),
      ...{ traceId: first.traceId, tags: first.tags, time: first.time, serviceId: first.serviceId, provider: first.provider, model: first.model },
      costUsd: usd('0.25'),
    };
    for (const c of [...sent.slice(0, 60), fresh, ...sent.slice(60)]) storage.writer.recordCall(c);
    await storage.writer.drain();
    const after = await q(`SELECT count(*)::int AS calls, trim_scale(sum(cost_usd))::text AS cost FROM "${schema}".llm_calls`);
    expect(after).toEqual([{ calls: (before[0] as { calls: number }).calls + 1, cost: usdToString(expectedTotal + usd('0.25')) }]);
    const hourlyAfter = await hourlyVsCalls(schema);
    expect(hourlyAfter.stored).toEqual(hourlyAfter.fromCalls);
    for (const table of ['llm_cost_daily', 'llm_cost_hourly_totals'] as const) {
      const userlessAfter = await userlessVsCalls(schema, table);
      expect(userlessAfter.stored).toEqual(userlessAfter.fromCalls);
    }
    expect(hourlyAfter.stored).toHaveLength(hourlyBefore.stored.length);
    const tracesAfter = await q<{ trace_id: string; total_cost_usd: string; call_count: string }>(
      `SELECT trace_id, total_cost_usd::text, call_count FROM "${schema}".llm_traces ORDER BY 1`,
    );
    const changed = tracesAfter.filter((t, i) => JSON.stringify(t) !== JSON.stringify(tracesBefore[i]));
    expect(changed).toEqual([expect.objectContaining({ trace_id: fresh.traceId, call_count: '4' })]);
  });
});

describe('retention', () => {
  it('drops whole months past calls retention with their traces and spans, and rollup hours past theirs; newer data stays', async () => {
    const schema = freshSchemaName('retain');
    const storage = await open(schema, { retention: { calls: '30d', rollups: '90d' } });
    // The pass every instance runs at start must be over before the data exists, or (slow on the
    // embedded engine) it removes some of it before the pass under test: passes run one after another.
    expect(await storage.maintenance.run(new Date('2026-11-30T00:00:00Z'))).toMatchObject({ droppedPartitions: [], deletedTraces: 0 });
    const detach = addSink(storage.writer);
    const months = ['2026-06-15T10:00:00Z', '2026-08-15T10:00:00Z', '2026-10-20T10:00:00Z', '2026-11-25T10:00:00Z'];
    try {
      for (const m of months)
        await trace({ name: m.slice(0, 7) }, async () => {
          for (let i = 0; i < 10; i++) recordCall(syntheticCall({ time: new Date(Date.parse(m) + i * 60_000), costUsd: usd('0.001') }));
        });
      await storage.writer.drain();
    } finally {
      detach();
    }
    // "Now" is 2026-11-30: 30 days back is 2026-10-31, so June and August go, October (ends 11-01) stays.
    const report = await storage.maintenance.run(new Date('2026-11-30T00:00:00Z'));
    expect(report.droppedPartitions).toEqual(['llm_calls_p2026_06', 'llm_calls_p2026_08']);
    expect(report.deletedTraces).toBe(2);
    // Rollups older than 90 days (before 2026-09-01): June and August's hours.
    expect(report.deletedRollupHours).toBe(2);
    expect(report.deletedRollupDays).toBe(2);
    expect(await q(`SELECT to_char(time, 'YYYY-MM') AS m, count(*)::int AS n FROM "${schema}".llm_calls GROUP BY 1 ORDER BY 1`)).toEqual([
      { m: '2026-10', n: 10 },
      { m: '2026-11', n: 10 },
    ]);
    expect(await q(`SELECT name FROM "${schema}".llm_traces ORDER BY 1`)).toEqual([{ name: '2026-10' }, { name: '2026-11' }]);
    expect(await q(`SELECT count(*)::int AS n FROM "${schema}".llm_cost_hourly`)).toEqual([{ n: 2 }]);
    expect(await q(`SELECT to_char(day, 'YYYY-MM-DD') AS d FROM "${schema}".llm_cost_daily ORDER BY 1`)).toEqual([{ d: '2026-10-20' }, { d: '2026-11-25' }]);
    expect(await q(`SELECT to_char(hour, 'YYYY-MM-DD HH24') AS h FROM "${schema}".llm_cost_hourly_totals ORDER BY 1`)).toEqual([{ h: '2026-10-20 10' }, { h: '2026-11-25 10' }]);
    // Idempotent: a second pass has nothing to do.
    expect(await storage.maintenance.run(new Date('2026-11-30T00:00:00Z'))).toEqual({ droppedPartitions: [], deletedTraces: 0, deletedRollupHours: 0, deletedRollupDays: 0 });
    // A write into a dropped month (a late replay) makes the month again rather than failing.
    storage.writer.recordCall({ ...syntheticRecord(), time: new Date('2026-06-15T11:00:00Z') });
    await storage.writer.drain();
    expect(await q(`SELECT count(*)::int AS n FROM "${schema}".llm_calls WHERE time < '2026-07-01'`)).toEqual([{ n: 1 }]);
    expect(storage.health()).toMatchObject({ deadLettered: 0, lostRows: 0 });
  });

  it('refuses bad retention options with a clear error', async () => {
    for (const [retention, message] of [
      [{ calls: '90' }, /retention.calls must be a number of days like '90d'/],
      [{ calls: '3m' }, /retention.calls must be a number of days/],
      [{ calls: 0 }, /retention.calls must be a number of days/],
      [{ calls: '90d', rollups: '30d' }, /retention.rollups \(30d\) must be at least retention.calls \(90d\)/],
      [{ call: '90d' }, /retention has no option "call"/],
      ['90d', /retention must be an object/],
    ] as const) {
      await expect(TelemetryStorage.open({ database: db.url, schema: 'unused', retention: retention as never })).rejects.toThrow(message);
    }
  });
});

describe('upgrading an installation with data', () => {
  it('keeps every row and total, attaches the old table as one partition, backfills the hourly rollup, and writes on', async () => {
    const schema = freshSchemaName('upgrade');
    const pool = new PgSqlPool({ connectionString: db.url, max: 2 }, () => undefined);
    cleanup.push(() => pool.close());
    // Today's schema (version 4), filled the way the old writer filled it.
    await runMigrations(pool, schema, 4);
    await pool.query(`INSERT INTO "${schema}".llm_calls (span_id, time, service_id, provider, model, operation, pricing_source, input_tokens,
        output_tokens, cached_tokens, cost_usd, latency_ms, status, streamed, trace_id, tags)
      SELECT md5('call' || g)::uuid, timestamptz '2026-09-01T00:00:00Z' + g * interval '7 minutes', 'svc', 'openai', 'gpt-4o', 'chat',
             CASE WHEN g % 11 = 0 THEN 'unpriced' ELSE 'catalog' END, g, 2 * g, 0,
             CASE WHEN g % 11 = 0 THEN NULL ELSE g * 0.000000123456789 END, 100, 'ok', false, md5('trace' || (g / 10))::uuid,
             jsonb_build_object('feature', 'f' || (g % 3), 'user_id', 'u' || (g % 5))
        FROM generate_series(1, 5000) g`);
    await pool.query(`INSERT INTO "${schema}".llm_traces (trace_id, total_cost_usd, call_count, started_at)
      SELECT trace_id, COALESCE(sum(cost_usd), 0), count(*), min(time) FROM "${schema}".llm_calls GROUP BY 1`);
    const snapshot = () =>
      q(`SELECT count(*)::int AS n, sum(cost_usd)::text AS cost, sum(input_tokens)::int AS input, min(time) AS first, max(time) AS last,
                (SELECT sum(total_cost_usd)::text FROM "${schema}".llm_traces) AS traces
           FROM "${schema}".llm_calls`);
    const before = await snapshot();

    expect(await runMigrations(pool, schema)).toEqual(MIGRATION_STEPS.slice(4).map((m) => m.name));
    expect(await snapshot()).toEqual(before);
    // 5,000 × 7 minutes from September 1st ends on September 25th: one legacy partition up to October 1st.
    const bounds = await q<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = format('%I.llm_calls', $1::text)::regclass AND c.relname = 'llm_calls_legacy'`,
      [schema],
    );
    expect(bounds).toEqual([{ name: 'llm_calls_legacy', bound: expect.stringMatching(/^FOR VALUES FROM \(MINVALUE\) TO \('2026-10-01 00:00:00\+00'\)$/) }]);
    const { stored, fromCalls } = await hourlyVsCalls(schema);
    expect(stored).toEqual(fromCalls);
    for (const table of ['llm_cost_daily', 'llm_cost_hourly_totals'] as const) {
      const userless = await userlessVsCalls(schema, table);
      expect(userless.stored).toEqual(userless.fromCalls);
      expect(userless.stored.length).toBeGreaterThan(0);
    }
    expect(stored.length).toBeGreaterThan(500);

    // The writer goes on: a replay of an old row (now in the legacy partition) counts once, a new one lands in its month.
    const storage = await open(schema);
    const old = (await q<{ span_id: string; time: Date }>(`SELECT span_id, time FROM "${schema}".llm_calls ORDER BY time LIMIT 1`))[0];
    storage.writer.recordCall({ ...syntheticRecord(), spanId: old.span_id, time: old.time });
    storage.writer.recordCall({ ...syntheticRecord(), time: new Date('2026-11-20T10:00:00Z') });
    await storage.writer.drain();
    expect(await q(`SELECT count(*)::int AS n FROM "${schema}".llm_calls`)).toEqual([{ n: 5001 }]);
    expect(await q(`SELECT tableoid::regclass::text AS part FROM "${schema}".llm_calls WHERE time = '2026-11-20T10:00:00Z'`)).toEqual([
      { part: `${schema}.llm_calls_p2026_11` },
    ]);
    // The legacy partition goes whole once all of it is past retention.
    expect(await storage.maintenance.run(new Date('2026-11-25T00:00:00Z'))).toMatchObject({ droppedPartitions: [] });
    const dropped = await q<{ d: string[] }>(`SELECT "${schema}".kostrack_drop_call_partitions('2026-11-01T00:00:00Z') AS d`);
    expect(dropped).toEqual([{ d: ['llm_calls_legacy'] }]);
    expect(await q(`SELECT count(*)::int AS n FROM "${schema}".llm_calls`)).toEqual([{ n: 1 }]);
  });
});

let recordSeq = 0;
/** A stored call record built directly, for the writer (replays, late rows). */
function syntheticRecord(): CallRecord {
  const input = syntheticCall();
  recordSeq++;
  return {
    ...input,
    spanId: `7d3c1e2a-9b4f-4c6d-8e0f-${String(recordSeq).padStart(12, '0')}`,
    traceId: null,
    parentSpanId: null,
    serviceId: 'svc',
    tags: {},
    metadata: {},
    time: new Date(),
    costUsd: usd('0.001'),
    errorClass: null,
  } as CallRecord;
}

describe('a call recorded again under its own id at another time', () => {
  it('is stored once, with its rollups counted once (batch results read again after a restart)', async () => {
    const schema = freshSchemaName('keyed');
    const storage = await open(schema);
    const detach = addSink(storage.writer);
    const spanId = '5e0b7c1a-2d3f-4a5b-8c6d-7e8f9a0b1c2d';
    try {
      await trace({ name: 'import' }, async () => {
        recordCall(syntheticCall({ spanId, time: new Date('2026-11-10T10:00:00Z'), costUsd: usd('0.004') }));
        // The same result read twice in one batch, and again later in another month.
        recordCall(syntheticCall({ spanId, time: new Date('2026-11-10T10:05:00Z'), costUsd: usd('0.004') }));
      });
      await storage.writer.drain();
      await trace({ name: 'import again' }, async () => {
        recordCall(syntheticCall({ spanId: spanId.toUpperCase(), time: new Date('2026-12-01T09:00:00Z'), costUsd: usd('0.004') }));
        recordCall(syntheticCall({ time: new Date('2026-12-01T09:00:00Z'), costUsd: usd('0.001') }));
      });
      await storage.writer.drain();
    } finally {
      detach();
    }
    expect(await q(`SELECT span_id, time FROM "${schema}".llm_calls WHERE span_id = $1`, [spanId])).toEqual([{ span_id: spanId, time: new Date('2026-11-10T10:00:00Z') }]);
    expect(await q(`SELECT count(*)::int AS n, trim_scale(sum(cost_usd))::text AS cost FROM "${schema}".llm_calls`)).toEqual([{ n: 2, cost: '0.005' }]);
    expect(await q(`SELECT trim_scale(sum(total_cost_usd))::text AS cost, sum(call_count)::int AS n FROM "${schema}".llm_traces`)).toEqual([{ cost: '0.005', n: 2 }]);
    const { stored, fromCalls } = await hourlyVsCalls(schema);
    expect(stored).toEqual(fromCalls);
    for (const table of ['llm_cost_daily', 'llm_cost_hourly_totals'] as const) {
      const userless = await userlessVsCalls(schema, table);
      expect(userless.stored).toEqual(userless.fromCalls);
      expect(userless.stored.length).toBeGreaterThan(0);
    }
    expect(storage.health()).toMatchObject({ deadLettered: 0, lostRows: 0 });
  });
});
