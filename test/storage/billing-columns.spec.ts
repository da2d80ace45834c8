import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { newId } from '../../lib/core/ids.js';
import { usd } from '../../lib/core/money.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { MIGRATION_STEPS } from '../../lib/storage/migrations/migration.list.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';
import { closedPortUrl } from './support/closed-port.js';
import { tempWriterOptions } from './support/synthetic.js';

// service_tier, pricing_flags, catalog_version and attempts reach the row on every write path: COPY, the
// unnest() statement a batch with an already-stored span_id falls back to (and the embedded
// engine always uses), and a spool written while the database was down, replayed at start.
const db = useTestDatabase('billing');
let storage: TelemetryStorage;
const writer = tempWriterOptions({ batchSize: 100 });

beforeAll(async () => {
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer }))!;
});
afterAll(async () => {
  await storage?.close();
});

function call(i: number, overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    provider: 'openai', model: 'o3-2025-04-16', operation: 'chat.completions.create',
    inputTokens: 1000, outputTokens: 200, cachedTokens: 0, tokenBreakdown: { inputUncached: 1000, output: 200, webSearches: 2 },
    costUsd: usd('0.0018'), pricingModel: 'kostrack-tiers:o3@flex', pricingSource: 'tier', latencyMs: 10, status: 'ok',
    errorClass: null, streamed: false, spanId: newId(), traceId: null, parentSpanId: null, time: new Date(Date.UTC(2026, 10, 1, 0, 0, i)),
    serviceId: 'api', tags: {}, metadata: {},
    serviceTier: i % 3 === 0 ? null : 'flex', pricingFlags: i % 2 === 0 ? null : ['service tier "scale" has no known price; billed at the standard rate', 'tab\there "quoted"'],
    catalogVersion: i % 4 === 0 ? null : 'genai-prices@0.1.8+corrections@2026-11-30',
    // Unknown both ways: absent (another sink's record) and null.
    attempts: i % 5 === 0 ? undefined : i % 5 === 1 ? null : i % 5,
    ...overrides,
  };
}

async function stored(ids: string[]) {
  const r = await db.pool.query(
    `SELECT span_id, service_tier, pricing_flags, catalog_version, attempts, token_breakdown FROM "${db.schema}".llm_calls WHERE span_id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(r.rows.map((row) => [row.span_id as string, row]));
}

function expectSame(rows: Map<string, Record<string, unknown>>, calls: CallRecord[]) {
  expect(rows.size).toBe(calls.length);
  for (const c of calls) {
    const row = rows.get(c.spanId)!;
    expect(row.service_tier).toBe(c.serviceTier ?? null);
    expect(row.pricing_flags).toEqual(c.pricingFlags ?? null);
    expect(row.catalog_version).toBe(c.catalogVersion ?? null);
    expect(row.attempts).toBe(c.attempts ?? null);
    expect(row.token_breakdown).toEqual({ inputUncached: 1000, output: 200, webSearches: 2 });
  }
}

it('COPY path and unnest path store tier, flags, catalog version and attempts exactly', async () => {
  const first = Array.from({ length: 12 }, (_, i) => call(i));
  for (const c of first) storage.writer.recordCall(c);
  await storage.writer.drain();
  expectSame(await stored(first.map((c) => c.spanId)), first);

  // A replayed row in the batch makes COPY fail on the key; the batch then takes the unnest statement.
  const second = [first[0], ...Array.from({ length: 8 }, (_, i) => call(i + 1))];
  for (const c of second) storage.writer.recordCall(c);
  await storage.writer.drain();
  expectSame(await stored(second.slice(1).map((c) => c.spanId)), second.slice(1));
  const count = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".llm_calls`);
  expect(count.rows[0].n).toBe(20);
});

it('a spooled row keeps them through the disk spool and replay', async () => {
  const options = tempWriterOptions({ batchSize: 10, maxQueue: 10 });
  const down = (await TelemetryStorage.open({ database: await closedPortUrl(), schema: db.schema, writer: options, migrationsRun: false }, { warn: () => undefined }))!;
  const calls = Array.from({ length: 25 }, (_, i) => call(i));
  for (const c of calls) down.writer.recordCall(c);
  await down.close(500);
  const up = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: options }))!;
  await up.writer.drain();
  await up.close();
  expectSame(await stored(calls.map((c) => c.spanId)), calls);
});

it('the migration adds the columns to a version-2 schema with rows in it, which keep NULL there', async () => {
  const schema = freshSchemaName('billing_up');
  const pool = new PgSqlPool({ connectionString: db.url, max: 2 }, () => undefined);
  try {
    await runMigrations(pool, schema, 2);
    await pool.query(
      `INSERT INTO "${schema}".llm_calls (span_id, time, service_id, provider, model, operation, pricing_source, input_tokens, output_tokens,
              cached_tokens, cost_usd, latency_ms, status, streamed) VALUES ($1, now(), 'api', 'openai', 'gpt-4o', 'x', 'catalog', 1, 1, 0, 0.5, 1, 'ok', false)`,
      [newId()],
    );
    expect(await runMigrations(pool, schema, 3)).toEqual([MIGRATION_STEPS[2].name]);
    const r = await pool.query<{ service_tier: null; pricing_flags: null; catalog_version: null; cost: string }>(
      `SELECT service_tier, pricing_flags, catalog_version, cost_usd::text AS cost FROM "${schema}".llm_calls`,
    );
    expect(r).toEqual([{ service_tier: null, pricing_flags: null, catalog_version: null, cost: '0.5' }]);
  } finally {
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.close();
  }
});
