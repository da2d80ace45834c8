import { DataSource } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { MIGRATION_STEPS } from '../../lib/storage/migrations/migration.list.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { kostrackMigrations } from '../../lib/storage/migrations/typeorm.migrations.js';
import { kostrackEntities, LlmTraceEntity } from '../../lib/storage/entities/index.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from './support/synthetic.js';

const db = useTestDatabase('migr');
const pools: PgSqlPool[] = [];
const extraSchemas: string[] = [];
const ALL = MIGRATION_STEPS.map((m) => m.name);

function pool(): PgSqlPool {
  const p = new PgSqlPool({ connectionString: db.url, max: 2 }, () => undefined);
  pools.push(p);
  return p;
}
function schema(): string {
  const s = freshSchemaName('migr');
  extraSchemas.push(s);
  return s;
}
/** Tables and views of `s`, partitions left out (see {@link partitions}). */
async function tables(s: string): Promise<string[]> {
  const r = await db.pool.query(
    `SELECT table_name FROM information_schema.tables t
      WHERE table_schema = $1 AND NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                              WHERE n.nspname = t.table_schema AND c.relname = t.table_name AND c.relispartition)
      ORDER BY table_name`,
    [s],
  );
  return r.rows.map((x) => x.table_name);
}

/** The partitions of llm_calls with their bounds. */
async function partitions(s: string): Promise<{ name: string; bound: string }[]> {
  const r = await db.pool.query(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = format('%I.llm_calls', $1::text)::regclass ORDER BY 1`,
    [s],
  );
  return r.rows;
}

/** `llm_calls_pYYYY_MM` for the month `offset` months from now (UTC). */
function monthPartition(offset: number): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `llm_calls_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

afterAll(async () => {
  for (const s of extraSchemas) await db.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  for (const p of pools) await p.close();
});

it('runs twice: the second run has nothing to do', async () => {
  const s = schema();
  expect(await runMigrations(pool(), s)).toEqual(ALL);
  expect(await runMigrations(pool(), s)).toEqual([]);
  expect(await tables(s)).toEqual([
    'budget_status',
    'kostrack_migrations',
    'llm_budget_reservations',
    'llm_budget_usage',
    'llm_budgets',
    'llm_calls',
    'llm_cost_daily',
    'llm_cost_hourly',
    'llm_cost_hourly_totals',
    'llm_prices',
    'llm_provider_cost_days',
    'llm_provider_costs',
    'llm_reconciliation',
    'llm_repricings',
    'llm_spans',
    'llm_traces',
    'trace_costs',
  ]);
  // llm_calls is partitioned by month: this month and the next two exist before any write.
  expect((await partitions(s)).map((p) => p.name)).toEqual([monthPartition(0), monthPartition(1), monthPartition(2)]);
  const rows = await db.pool.query(`SELECT name FROM "${s}".kostrack_migrations ORDER BY id`);
  expect(rows.rows.map((r) => r.name)).toEqual(ALL);
});

it('runs concurrently from two app instances without error, each step applied once', async () => {
  const s = schema();
  const [a, b] = await Promise.all([runMigrations(pool(), s), runMigrations(pool(), s)]);
  expect([...a, ...b].sort()).toEqual([...ALL].sort());
  // And two whole storages booting at once on a fresh schema.
  const s2 = schema();
  const opened = await Promise.all([
    TelemetryStorage.open({ database: db.url, schema: s2, writer: tempWriterOptions() }),
    TelemetryStorage.open({ database: db.url, schema: s2, writer: tempWriterOptions() }),
  ]);
  for (const o of opened) await o!.close();
  const rows = await db.pool.query(`SELECT count(*)::int AS n FROM "${s2}".kostrack_migrations`);
  expect(rows.rows[0].n).toBe(ALL.length);
});

it('upgrades a database at version 1, keeping its rows', async () => {
  const s = schema();
  expect(await runMigrations(pool(), s, 1)).toEqual(ALL.slice(0, 1));
  expect(await tables(s)).not.toContain('llm_prices');
  await db.pool.query(`INSERT INTO "${s}".llm_traces (trace_id, name, total_cost_usd, call_count) VALUES ('6f1c7a52-5d4e-4b38-9d0c-2a7c1f0e9b11', 'old', 0.25, 3)`);
  expect(await runMigrations(pool(), s)).toEqual(ALL.slice(1));
  expect(await tables(s)).toContain('llm_prices');
  const r = await db.pool.query(`SELECT trace_name, total_cost_usd, call_count FROM "${s}".trace_costs`);
  expect(r.rows).toEqual([{ trace_name: 'old', total_cost_usd: '0.25', call_count: '3' }]);
});

it("runs from a host's own TypeORM DataSource with the exported migrations and entities", async () => {
  const s = schema();
  await db.pool.query(`CREATE SCHEMA "${s}"`);
  const ds = new DataSource({
    type: 'postgres',
    url: db.url,
    schema: s,
    entities: kostrackEntities,
    migrations: kostrackMigrations,
    migrationsTableName: 'host_migrations',
    poolSize: 2,
  });
  await ds.initialize();
  try {
    const ran = await ds.runMigrations({ transaction: 'all' });
    expect(ran.map((m) => m.name)).toEqual(ALL);
    // The exported entities describe what the migrations made: a host's synchronize changes nothing.
    const drift = await ds.driver.createSchemaBuilder().log();
    expect(drift.upQueries.map((q) => q.query)).toEqual([]);
    await ds.getRepository(LlmTraceEntity).insert({ traceId: '0b7e3f5c-1a2d-4e6f-8a9b-0c1d2e3f4a5b', name: 'host', totalCostUsd: '0.1' });
    const found = await ds.getRepository(LlmTraceEntity).findOneByOrFail({ traceId: '0b7e3f5c-1a2d-4e6f-8a9b-0c1d2e3f4a5b' });
    expect(found).toMatchObject({ name: 'host', totalCostUsd: '0.1', callCount: '0', serviceIds: [] });
  } finally {
    await ds.destroy();
  }
  expect(await tables(s)).toContain('llm_prices');
});


it('version 9 adds llm_calls.attempts: a smallint with no default, NULL on the rows already there', async () => {
  const s = schema();
  const p = pool();
  expect(await runMigrations(p, s, 8)).toEqual(ALL.slice(0, 8));
  await db.pool.query(
    `INSERT INTO "${s}".llm_calls (span_id, time, service_id, provider, model, operation, pricing_source, input_tokens, output_tokens,
            cached_tokens, cost_usd, latency_ms, status, streamed) VALUES ('0b7e3f5c-1a2d-4e6f-8a9b-0c1d2e3f4a5c', now(), 'api', 'openai', 'gpt-4o', 'x', 'catalog', 1, 1, 0, 0.5, 1, 'ok', false)`,
  );
  expect(await runMigrations(p, s, 9)).toEqual(['KostrackCallAttempts1767916800000']);
  const column = await db.pool.query(
    `SELECT data_type, column_default, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'llm_calls' AND column_name = 'attempts'`,
    [s],
  );
  expect(column.rows).toEqual([{ data_type: 'smallint', column_default: null, is_nullable: 'YES' }]);
  const rows = await db.pool.query(`SELECT attempts, cost_usd::text AS cost FROM "${s}".llm_calls`);
  expect(rows.rows).toEqual([{ attempts: null, cost: '0.5' }]);
  // Down and up again: the step is reversible.
  for (const sql of MIGRATION_STEPS[8].down(s)) await db.pool.query(sql);
  for (const sql of MIGRATION_STEPS[8].up(s)) await db.pool.query(sql);
  expect((await db.pool.query(`SELECT attempts FROM "${s}".llm_calls`)).rows).toEqual([{ attempts: null }]);
});

it('version 10 gives every budget a time zone (UTC for those already there, their usage untouched), refuses an unknown one, and is reversible', async () => {
  const s = schema();
  const p = pool();
  expect(await runMigrations(p, s, 9)).toEqual(ALL.slice(0, 9));
  await db.pool.query(`INSERT INTO "${s}".llm_budgets (name, scope_tag, period, limit_usd) VALUES ('user-day', 'user_id', 'day', 1)`);
  await db.pool.query(
    `INSERT INTO "${s}".llm_budget_usage (budget_id, scope_value, period_start, spent, calls)
     SELECT id, 'ann', "${s}".kostrack_period_start('day', now()), 0.25, 3 FROM "${s}".llm_budgets`,
  );
  expect(await runMigrations(p, s)).toEqual(['KostrackBudgetTimeZones1768003200000']);
  const status = async () =>
    (await db.pool.query(`SELECT name, scope_value, spent_usd::text AS spent, calls, period_start = date_trunc('day', now(), 'UTC') AS utc_day, time_zone FROM "${s}".budget_status`)).rows;
  expect(await status()).toEqual([{ name: 'user-day', scope_value: 'ann', spent: '0.25', calls: 3, utc_day: true, time_zone: 'UTC' }]);
  // New York's day, by the functions: 2026-03-08 (spring forward) has 23 hours; 2026-11-01 (fall back) 25.
  const day = async (at: string, zone: string) =>
    (await db.pool.query(`SELECT to_json("${s}".kostrack_period_start('day', $1, $2)) AS start, to_json("${s}".kostrack_period_end('day', "${s}".kostrack_period_start('day', $1, $2), $2)) AS "end"`, [at, zone])).rows[0];
  expect(await day('2026-03-08T12:00:00Z', 'America/New_York')).toEqual({ start: '2026-03-08T05:00:00+00:00', end: '2026-03-09T04:00:00+00:00' });
  expect(await day('2026-11-01T12:00:00Z', 'America/New_York')).toEqual({ start: '2026-11-01T04:00:00+00:00', end: '2026-11-02T05:00:00+00:00' });
  expect(await day('2026-06-30T19:00:00Z', 'Asia/Kolkata')).toEqual({ start: '2026-06-30T18:30:00+00:00', end: '2026-07-01T18:30:00+00:00' });
  const refused = async (zone: string) =>
    db.pool.query(`UPDATE "${s}".llm_budgets SET time_zone = $1`, [zone]).then(
      () => 'accepted',
      (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
    );
  expect(await refused('Mars/Olympus_Mons')).toBe('22023: time zone "Mars/Olympus_Mons" not recognized');
  expect(await refused('+05:30')).toMatch(/^23514: new row for relation "llm_budgets" violates check constraint "llm_budgets_time_zone_check"/);
  // An abbreviation PostgreSQL would read as a fixed offset of its own (IST: Israel), and a name outside the zone database.
  expect(await refused('IST')).toMatch(/^23514: .*llm_budgets_time_zone_check/);
  expect(await refused('posixrules')).toMatch(/^23514: .*llm_budgets_time_zone_check/);
  expect(await refused('Asia/Kolkata')).toBe('accepted');
  // Down and up again: the step is reversible, the budgets and their usage kept.
  for (const sql of MIGRATION_STEPS[9].down(s)) await db.pool.query(sql);
  expect((await db.pool.query(`SELECT name, spent_usd::text AS spent FROM "${s}".budget_status`)).rows).toEqual([{ name: 'user-day', spent: '0.25' }]);
  for (const sql of MIGRATION_STEPS[9].up(s)) await db.pool.query(sql);
  expect(await status()).toEqual([{ name: 'user-day', scope_value: 'ann', spent: '0.25', calls: 3, utc_day: true, time_zone: 'UTC' }]);
});
