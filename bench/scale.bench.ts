/**
 * Storage at scale (issue 14), each section in scratch schemas of local PostgreSQL, dropped at the end:
 *   1. the admin API (a running Nest app, Express, API key) at 1M and 10M calls generated set-based
 *      (30 days, 100k users), next to the naive GROUP BY over llm_calls;
 *   2. 2M calls written through the BatchWriter, 4,000 traces tied at the top cost (plans on data
 *      nobody ANALYZEd by hand), top 20 EXPLAIN (ANALYZE, BUFFERS) and the API;
 *   3. writer ingest (COPY + trace and hourly rollups) against raw COPY into the same partitioned table;
 *   4. retention: dropping the month of the largest set against DELETE on an unpartitioned copy;
 *   5. the upgrade from schema version 4 with 1M calls: time, writers blocked, totals before and after;
 *   6. monthly against daily partitions of the same 3 years of calls.
 * Run: `npx tsx bench/scale.bench.ts [--calls 1000000|10000000]` (default both; comma list allowed),
 * `--only api,retention,writer,ingest,upgrade,granularity` for some sections. Writes bench/results/scale.md.
 * DATABASE_URL picks the server (default postgres://root@127.0.0.1:5432/test).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { withAdmin } from '../dist/admin/admin.loader.js';
import { TRACE_COLUMNS } from '../dist/admin/admin.rows.js';
import { costReportSql } from '../dist/admin/cost-report.query.js';
import type { CostsQuery } from '../dist/admin/dto/costs.query.js';
import { decodeCursor } from '../dist/admin/trace.cursor.js';
import type { CallRecord, SpanRecord } from '../dist/core/call-record.js';
import { newId } from '../dist/core/ids.js';
import { usd, usdToString, type Usd } from '../dist/core/money.js';
import { KOSTRACK_OPTIONS } from '../dist/nest/kostrack.module-definition.js';
import { KostrackStorageLifecycle } from '../dist/nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../dist/nest/llm-clients.providers.js';
import type { KostrackModuleOptions } from '../dist/nest/kostrack.options.js';
import { PriceBook } from '../dist/pricing/price-book.js';
import { batchStatements, hourlyParams, noRows, rollupParams } from '../dist/storage/batch.sql.js';
import { encodeCallsCopy } from '../dist/storage/calls.copy.js';
import { copyIn } from '../dist/storage/copy-in.query.js';
import { scaleUp } from '../dist/storage/migrations/0005-scale.migration.js';
import { dailyRollupUp } from '../dist/storage/migrations/0008-daily-rollup.migration.js';
import { MIGRATION_STEPS } from '../dist/storage/migrations/migration.list.js';
import { runMigrations } from '../dist/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../dist/storage/pg.pool.js';
import { StorageMaintenance } from '../dist/storage/storage.maintenance.js';
import { TelemetryStorage } from '../dist/storage/telemetry.storage.js';
import { median, percentile, writeReport } from './bench.report.js';

const URL_ = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const API_KEY = 'bench-scale-key-0123456789';
const USERS = 100_000;
const FEATURES = 12;
const CALLS_PER_TRACE = 10;
const DAY_MS = 86_400_000;
/** The 30 days every set is generated in: October 2026, UTC (one month partition). */
const BASE = '2026-10-01T00:00:00.000Z';
const MONTH_FROM = '2026-10-01T00:00:00Z';
const MONTH_TO = '2026-10-31T00:00:00Z';
const PID = process.pid;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
const SIZES = (arg('calls') ?? '1000000,10000000')
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
if (SIZES.some((n) => !Number.isSafeInteger(n) || n < 1000 || n % CALLS_PER_TRACE !== 0)) throw new Error(`--calls: multiples of ${CALLS_PER_TRACE}, at least 1000`);
const ONLY = new Set((arg('only') ?? 'api,retention,writer,ingest,upgrade,granularity').split(','));
const WRITER_CALLS = Number(arg('writer-calls') ?? 2_000_000);
const WRITER_TIES = Number(arg('ties') ?? 4_000);
const INGEST_ROWS = Number(arg('ingest-rows') ?? 200_000);
const INGEST_ROUNDS = 3;
const UPGRADE_CALLS = Number(arg('upgrade-calls') ?? 1_000_000);
const GRANULARITY_CALLS = Number(arg('granularity-calls') ?? 1_000_000);

const pool = new pg.Pool({ connectionString: URL_, max: 3 });
const scratch = new Set<string>();
const q = (schema: string) => `"${schema}"`;
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

// -- measuring ---------------------------------------------------------------------------------

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

/**
 * `warm` untimed runs (JIT, plans, buffers), then as many timed runs as fit in `budgetMs` at the
 * speed of the last warm-up, between `min` and `max`. Every timed run is kept: no outlier dropped.
 */
async function sample(fn: (i: number) => Promise<unknown>, o: { budgetMs: number; min: number; max: number; warm: number }): Promise<number[]> {
  let est = 1;
  for (let i = 0; i < o.warm; i++) est = (await timed(() => fn(i)))[1];
  const n = Math.max(o.min, Math.min(o.max, Math.floor(o.budgetMs / Math.max(est, 0.05))));
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await timed(() => fn(o.warm + i)))[1]);
  return out;
}
const FAST = { budgetMs: 8_000, min: 100, max: 400, warm: 30 };
const SLOW = { budgetMs: 30_000, min: 15, max: 100, warm: 3 };
const NAIVE = { budgetMs: 40_000, min: 3, max: 7, warm: 1 };

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
const p50 = (xs: number[] | undefined) => (xs && xs.length ? fmt(median(xs)) : '–');
const p99 = (xs: number[] | undefined) => (xs && xs.length ? fmt(percentile(xs, 99)) : '–');
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const n0 = (x: number) => Math.round(x).toLocaleString('en');
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ok = (b: boolean) => (b ? '✓' : '✗');

interface Explained {
  planning: number;
  execution: number;
  plan: PlanNode;
  text: string;
}
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

async function explain(db: pg.Pool | pg.ClientBase, sql: string, values: unknown[] = [], withText = false): Promise<Explained> {
  const r = await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, values);
  const j = (r.rows[0]['QUERY PLAN'] as { Plan: PlanNode; 'Planning Time': number; 'Execution Time': number }[])[0];
  let text = '';
  if (withText) text = (await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, values)).rows.map((x) => x['QUERY PLAN']).join('\n');
  return { planning: j['Planning Time'], execution: j['Execution Time'], plan: j.Plan, text };
}

function nodes(p: PlanNode): PlanNode[] {
  return [p, ...(p.Plans ?? []).flatMap(nodes)];
}
/** Rows a relation's scans returned, over every loop, plus what their filters removed. */
function rowsRead(p: PlanNode, relation: string): number {
  return nodes(p)
    .filter((x) => x['Relation Name'] === relation)
    .reduce((sum, x) => sum + x['Actual Rows'] * x['Actual Loops'] + (x['Rows Removed by Filter'] ?? 0) * x['Actual Loops'], 0);
}

async function bytesOf(sql: string): Promise<number> {
  return Number((await pool.query(sql)).rows[0].b ?? 0);
}
const callsBytes = (schema: string) =>
  bytesOf(`SELECT sum(pg_total_relation_size(relid)) AS b FROM pg_partition_tree('${q(schema)}.llm_calls'::regclass) WHERE isleaf`);

/**
 * A writer on its own connection: one plain INSERT of a call (service `probe`, time now) every
 * `everyMs`, timing each; `stop()` returns the latencies. Shows how long writers wait on a lock.
 */
async function probeWriter(schema: string, everyMs: number): Promise<{ stop: () => Promise<number[]>; client: pg.Client }> {
  const client = new pg.Client({ connectionString: URL_ });
  await client.connect();
  const lat: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = performance.now();
      await client.query(
        `INSERT INTO ${q(schema)}.llm_calls (${CALL_COLS}) VALUES ($1, now(), 'probe', 'openai', 'gpt-4o-mini', 'chat', 'bench', 'catalog', 1, 1, 0, 0,
           '{}', 1, 'ok', NULL, false, NULL, NULL, '{}', '{}')`,
        [randomUUID()],
      );
      lat.push(performance.now() - t);
      await sleep(everyMs);
    }
  })();
  return {
    client,
    stop: async () => {
      stopped = true;
      await loop;
      return lat;
    },
  };
}

// -- set-based data ----------------------------------------------------------------------------

const MODELS: readonly (readonly [string, string])[] = [
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4o'],
  ['anthropic', 'claude-haiku-4-5'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['gemini', 'gemini-2.5-flash'],
  ['deepseek', 'deepseek-chat'],
];
const PROVIDERS_SQL = `ARRAY[${MODELS.map((m) => `'${m[0]}'`).join(', ')}]`;
const MODELS_SQL = `ARRAY[${MODELS.map((m) => `'${m[1]}'`).join(', ')}]`;
const CALL_COLS = `span_id, time, service_id, provider, model, operation, pricing_model, pricing_source, input_tokens, output_tokens,
  cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class, streamed, trace_id, parent_span_id, tags, metadata`;

interface Layout {
  /** First trace number (ids are md5 of it, so ranges never collide). */
  from: number;
  traces: number;
  base: string;
  /** Time between trace starts. */
  stepMs: number;
}

/**
 * Traces of 10 calls in 300 ms steps (calls 1–9 in one of three spans), each in one service and
 * feature, for one of 100k users, using two of six models; costs random up to $0.02 a call.
 * Rows come in time order, as a writer would append them.
 */
function callsInsert(target: string, l: Layout): string {
  return `INSERT INTO ${target} (${CALL_COLS})
    SELECT md5('c' || tr || '-' || k)::uuid,
           timestamptz '${l.base}' + tr_rel * interval '${l.stepMs} milliseconds' + k * interval '300 milliseconds',
           'svc-' || (tr % 3), (${PROVIDERS_SQL})[m], (${MODELS_SQL})[m], 'chat', 'bench', 'catalog',
           1000 + k * 10, 200 + k, 0, round((random() * 0.02)::numeric, 12),
           '{"inputUncached": 1000, "output": 200}', 250, 'ok', NULL, false,
           md5('t' || tr)::uuid,
           CASE WHEN k = 0 THEN NULL ELSE md5('s' || tr || '-' || (k % 3))::uuid END,
           jsonb_build_object('project', 'bench', 'feature', 'feature-' || (tr % ${FEATURES}), 'user_id', 'u-' || (tr % ${USERS}), 'span_name', 'step'),
           '{}'
      FROM generate_series(${l.from}, ${l.from + l.traces - 1}) AS tr
     CROSS JOIN LATERAL (SELECT tr - ${l.from} AS tr_rel) r
     CROSS JOIN generate_series(0, ${CALLS_PER_TRACE - 1}) AS k
     CROSS JOIN LATERAL (SELECT 1 + ((tr % 5) + (k % 2)) % 6 AS m) x`;
}

function spansInsert(schema: string, l: Layout): string {
  return `INSERT INTO ${q(schema)}.llm_spans (span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at, status, tags, cost_usd, call_count)
    SELECT md5('s' || tr || '-' || k)::uuid, md5('t' || tr)::uuid, md5('r' || tr)::uuid, false, 'step-' || k, 'svc-' || (tr % 3),
           timestamptz '${l.base}' + (tr - ${l.from}) * interval '${l.stepMs} milliseconds' + k * interval '300 milliseconds',
           timestamptz '${l.base}' + (tr - ${l.from}) * interval '${l.stepMs} milliseconds' + interval '3 seconds', 'ok', '{}', 0, 0
      FROM generate_series(${l.from}, ${l.from + l.traces - 1}) AS tr, generate_series(0, 2) AS k`;
}

/** The per-trace rollup the writer maintains at ingest, in one pass over the call rows. */
function tracesInsert(schema: string): string {
  return `INSERT INTO ${q(schema)}.llm_traces (trace_id, name, root_span_id, tags, service_ids, status, started_at, ended_at, first_call_at, last_call_at,
           total_cost_usd, call_count, unpriced_call_count, error_call_count, input_tokens, output_tokens, cached_tokens)
    SELECT c.trace_id, 'workflow', md5('r' || c.trace_id::text)::uuid,
           (array_agg(c.tags - 'span_name') FILTER (WHERE c.parent_span_id IS NULL))[1], array_agg(DISTINCT c.service_id), 'ok',
           min(c.time), max(c.time + c.latency_ms * interval '1 millisecond'), min(c.time), max(c.time),
           trim_scale(sum(c.cost_usd)), count(*), 0, 0, sum(c.input_tokens), sum(c.output_tokens), 0
      FROM ${q(schema)}.llm_calls c GROUP BY c.trace_id`;
}

/** Migration 8's backfills of llm_cost_hourly_totals and llm_cost_daily from llm_cost_hourly (what the writer maintains at ingest). */
function userlessBackfills(schema: string): string {
  const sql = dailyRollupUp(schema).filter((x) => /^\s*INSERT INTO \S+\.llm_cost_(daily|hourly_totals)\b/.test(x));
  if (sql.length !== 2) throw new Error('migration 8 has not its two backfill statements');
  return sql.join(';\n');
}

/** Migration 5's backfill of llm_cost_hourly from stored calls (what the writer maintains at ingest). */
function hourlyBackfill(schema: string): string {
  const sql = scaleUp(schema).find((x) => /^\s*INSERT INTO \S+\.llm_cost_hourly\b/.test(x));
  if (!sql) throw new Error('migration 5 has no llm_cost_hourly backfill statement');
  return sql;
}

async function ensureMonths(db: pg.ClientBase | pg.Pool, schema: string, from: string, to: string): Promise<void> {
  await db.query(
    `SELECT ${q(schema)}.kostrack_ensure_call_partition(m) FROM generate_series(date_trunc('month', $1::timestamptz, 'UTC'), $2::timestamptz, interval '1 month') m`,
    [from, to],
  );
}

async function migrate(schema: string, upTo?: number): Promise<void> {
  scratch.add(schema);
  await pool.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
  const sql = new PgSqlPool({ connectionString: URL_, max: 1 }, () => undefined);
  try {
    await runMigrations(sql, schema, upTo);
  } finally {
    await sql.close();
  }
}

async function loader(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  // Session settings for bulk generation only (sorts and hashes in memory, index builds).
  await c.query(`SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'`);
  return c;
}

interface Loaded {
  took: Record<string, number>;
  calls: number;
  traces: number;
  spans: number;
  hourly: number;
  daily: number;
  callsBytes: number;
  hourlyBytes: number;
  tracesBytes: number;
}

/** A schema at the latest version filled set-based with `calls` calls over the 30 days of October 2026. */
async function loadSet(schema: string, calls: number, opts: { upTo?: number } = {}): Promise<Loaded> {
  await migrate(schema, opts.upTo);
  const traces = calls / CALLS_PER_TRACE;
  const layout: Layout = { from: 0, traces, base: BASE, stepMs: (30 * DAY_MS) / traces };
  const c = await loader();
  const s = q(schema);
  const took: Record<string, number> = {};
  try {
    const latest = opts.upTo === undefined;
    if (latest) await ensureMonths(c, schema, BASE, MONTH_TO);
    // Ten statements, so one transaction never holds millions of rows' worth of WAL and locks.
    took.calls = 0;
    const chunk = Math.ceil(traces / 10);
    for (let from = 0; from < traces; from += chunk) {
      const part = { ...layout, from, traces: Math.min(chunk, traces - from), base: new Date(Date.parse(BASE) + from * layout.stepMs).toISOString() };
      took.calls += (await timed(() => c.query(callsInsert(`${s}.llm_calls`, part))))[1];
      log(`  ${schema}: ${n0((from + part.traces) * CALLS_PER_TRACE)} calls`);
    }
    [, took.spans] = await timed(() => c.query(spansInsert(schema, layout)));
    [, took.traces] = await timed(() => c.query(tracesInsert(schema)));
    if (latest) [, took.hourly] = await timed(() => c.query(hourlyBackfill(schema)));
    if (latest) [, took.daily] = await timed(() => c.query(userlessBackfills(schema)));
    [, took.analyze] = await timed(() =>
      c.query(`ANALYZE ${s}.llm_calls; ANALYZE ${s}.llm_spans; ANALYZE ${s}.llm_traces${latest ? `; ANALYZE ${s}.llm_cost_hourly; ANALYZE ${s}.llm_cost_daily; ANALYZE ${s}.llm_cost_hourly_totals` : ''}`),
    );
  } finally {
    await c.end();
  }
  const counts = (
    await pool.query(
      `SELECT (SELECT count(*) FROM ${s}.llm_calls)::bigint AS calls, (SELECT count(*) FROM ${s}.llm_traces)::bigint AS traces,
              (SELECT count(*) FROM ${s}.llm_spans)::bigint AS spans,
              ${opts.upTo === undefined ? `(SELECT count(*) FROM ${s}.llm_cost_hourly)` : '0'}::bigint AS hourly,
              ${opts.upTo === undefined ? `(SELECT count(*) FROM ${s}.llm_cost_daily)` : '0'}::bigint AS daily`,
    )
  ).rows[0];
  return {
    took,
    calls: Number(counts.calls),
    traces: Number(counts.traces),
    spans: Number(counts.spans),
    hourly: Number(counts.hourly),
    daily: Number(counts.daily),
    callsBytes: opts.upTo === undefined ? await callsBytes(schema) : await bytesOf(`SELECT pg_total_relation_size('${s}.llm_calls') AS b`),
    hourlyBytes: opts.upTo === undefined ? await bytesOf(`SELECT pg_total_relation_size('${s}.llm_cost_hourly') AS b`) : 0,
    tracesBytes: await bytesOf(`SELECT pg_total_relation_size('${s}.llm_traces') AS b`),
  };
}

// -- the admin API -----------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { 'x-kostrack-api-key': API_KEY } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function getJson<T>(port: number, path: string): Promise<T> {
  const r = await httpGet(port, path);
  if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as T;
}

/**
 * KostrackModule's own parts for one schema, minus the trace interceptor: tsx (esbuild) emits no
 * decorator metadata, which the interceptor's constructor injection needs. The admin side is
 * what an app runs: controllers, guard, validation pipes, services and the storage lifecycle.
 */
async function startApp(schema: string): Promise<{ port: number; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'kostrack-scale-app-'));
  const options: KostrackModuleOptions = {
    database: URL_,
    schema,
    admin: { enabled: true, apiKey: API_KEY },
    writer: { spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dead.jsonl') },
  };
  @Module({})
  class BenchScaleModule {}
  const admin = await withAdmin(
    {
      module: BenchScaleModule,
      providers: [{ provide: KOSTRACK_OPTIONS, useValue: options }, KostrackStorageLifecycle, { provide: KOSTRACK_PRICE_BOOK, useValue: new PriceBook() }],
    },
    options.admin,
  );
  const app = await NestFactory.create(admin, { logger: ['error'], abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  return {
    port,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface CostGroup {
  bucket?: string;
  key: string | null;
  series?: string | null;
  seriesProvider?: string;
  costUsd: string;
  calls: number;
}
interface CostReport {
  totalCostUsd: string;
  groups: CostGroup[];
}

const MONTH_PATH = `/kostrack/costs?groupBy=day&series=model&from=${MONTH_FROM}&to=${MONTH_TO}`;
/** The same 30 days starting and ending mid-day: whole days from the daily rollup, the two partial days from hourly rows, minutes from calls. */
const MONTH_EDGES_FROM = '2026-10-01T07:30:00Z';
const MONTH_EDGES_TO = '2026-10-31T07:30:00Z';
const MONTH_EDGES_PATH = `/kostrack/costs?groupBy=day&series=model&from=${MONTH_EDGES_FROM}&to=${MONTH_EDGES_TO}`;
const DAY_FROM = '2026-10-15T00:00:00Z';
const DAY_TO = '2026-10-16T00:00:00Z';
const FEATURE_DAY_PATH = `/kostrack/costs?groupBy=tag:feature&from=${DAY_FROM}&to=${DAY_TO}`;

/** The same month report the naive way: every call row of the range, grouped. */
const naiveMonthSql = (schema: string) => `SELECT date_trunc('day', time, 'UTC') AS bucket, provider, model, trim_scale(sum(cost_usd))::text AS cost, count(*) AS calls
    FROM ${q(schema)}.llm_calls WHERE time >= $1::timestamptz AND time < $2::timestamptz GROUP BY 1, 2, 3 ORDER BY 1, sum(cost_usd) DESC`;
const naiveFeatureSql = (schema: string) => `SELECT tags->>'feature' AS feature, trim_scale(sum(cost_usd))::text AS cost, count(*) AS calls
    FROM ${q(schema)}.llm_calls WHERE time >= $1::timestamptz AND time < $2::timestamptz GROUP BY 1 ORDER BY sum(cost_usd) DESC`;

function monthReportSql(schema: string): { sql: string; values: unknown[] } {
  const query = { groupBy: 'day', series: 'model', from: MONTH_FROM, to: MONTH_TO } as CostsQuery;
  return costReportSql(q(schema), query, new Date(MONTH_FROM), new Date(MONTH_TO), 'day');
}

/** Same output as the API's statement, from a coarser rollup table (`t` column `time`): what a fix would read. */
function whatIfSql(table: string, time: string): string {
  return `SELECT date_trunc('day', x.${time}, 'UTC') AS bucket, x.provider, x.model AS dim,
      trim_scale(COALESCE(sum(x.cost_usd), 0))::text AS cost, sum(x.calls) AS calls,
      trim_scale(COALESCE(sum(sum(x.cost_usd)) OVER (), 0))::text AS total, count(*) OVER () AS group_count,
      sum(x.unpriced_calls) AS unpriced, COALESCE(sum(x.input_tokens), 0) AS input_tokens, COALESCE(sum(x.output_tokens), 0) AS output_tokens
    FROM ${table} x WHERE x.${time} >= $1::timestamptz AND x.${time} < $2::timestamptz
    GROUP BY 1, 2, 3 ORDER BY 1, sum(x.cost_usd) DESC NULLS LAST, 2, 3 LIMIT 1000`;
}

interface ApiRun {
  calls: number;
  loaded: Loaded;
  t: Record<string, number[]>;
  monthIdentical: boolean;
  featureIdentical: boolean;
  monthPlan: Explained;
  monthHourlyRows: number;
  monthDailyRows: number;
  whatIfRows: { hourly: number };
  userTraceCount: number;
}

async function apiSection(calls: number): Promise<ApiRun> {
  const schema = `kt_scale_${calls}_${PID}`;
  log(`API at ${n0(calls)} calls: generating into ${schema} …`);
  const loaded = await loadSet(schema, calls);
  log(`  loaded: ${Object.entries(loaded.took).map(([k, v]) => `${k} ${sec(v)}`).join(', ')}; ${n0(loaded.hourly)} hourly rows`);
  const s = q(schema);
  const app = await startApp(schema);
  const t: Record<string, number[]> = {};
  try {
    const port = app.port;
    // Correctness first: the API's month and feature reports against the naive GROUP BY.
    const api = await getJson<CostReport>(port, MONTH_PATH);
    const naive = (await pool.query(naiveMonthSql(schema), [MONTH_FROM, MONTH_TO])).rows;
    const key = (b: string, p: string, m: string, cost: string, n: number) => `${b}|${p}|${m}|${usdToString(usd(cost))}|${n}`;
    const apiKeys = api.groups.map((g) => key(g.bucket!, g.seriesProvider!, g.series!, g.costUsd, g.calls)).sort();
    const naiveKeys = naive.map((r) => key((r.bucket as Date).toISOString(), r.provider, r.model, r.cost, Number(r.calls))).sort();
    const monthIdentical = apiKeys.join() === naiveKeys.join();
    const apiF = await getJson<CostReport>(port, FEATURE_DAY_PATH);
    const naiveF = (await pool.query(naiveFeatureSql(schema), [DAY_FROM, DAY_TO])).rows;
    const fKeys = apiF.groups.map((g) => `${g.key}|${usdToString(usd(g.costUsd))}|${g.calls}`).sort();
    const nfKeys = naiveF.map((r) => `${r.feature}|${usdToString(usd(r.cost))}|${r.calls}`).sort();
    const featureIdentical = fKeys.join() === nfKeys.join();
    const apiE = await getJson<CostReport>(port, MONTH_EDGES_PATH);
    const naiveE = (await pool.query(naiveMonthSql(schema), [MONTH_EDGES_FROM, MONTH_EDGES_TO])).rows;
    const eKeys = apiE.groups.map((g) => key(g.bucket!, g.seriesProvider!, g.series!, g.costUsd, g.calls)).sort();
    const neKeys = naiveE.map((r) => key((r.bucket as Date).toISOString(), r.provider, r.model, r.cost, Number(r.calls))).sort();
    const edgesIdentical = eKeys.join() === neKeys.join() && eKeys.length > 0;
    if (!edgesIdentical) log('  ✗ API and GROUP BY disagree on the mid-day month');
    if (!monthIdentical || !featureIdentical) log(`  ✗ API and GROUP BY disagree (month ${monthIdentical}, feature ${featureIdentical})`);

    const users = Array.from({ length: 1000 }, () => `u-${Math.floor(Math.random() * USERS)}`);
    const userTraceCount = (await getJson<{ items: unknown[] }>(port, `/kostrack/traces?user=${users[0]}&limit=50`)).items.length;
    const traceIds = (await pool.query(`SELECT trace_id FROM ${s}.llm_traces ORDER BY random() LIMIT 1000`)).rows.map((r) => r.trace_id as string);
    log('  timing the API …');
    t.month = await sample(() => getJson(port, MONTH_PATH), SLOW);
    t.monthEdges = await sample(() => getJson(port, MONTH_EDGES_PATH), SLOW);
    t.featureDay = await sample(() => getJson(port, FEATURE_DAY_PATH), SLOW);
    t.user = await sample((i) => getJson(port, `/kostrack/traces?user=${users[i % users.length]}&limit=50`), FAST);
    t.top = await sample(() => getJson(port, '/kostrack/traces?sort=cost&limit=20'), FAST);
    t.detail = await sample((i) => getJson(port, `/kostrack/traces/${traceIds[i % traceIds.length]}`), FAST);

    log('  SQL only: the API statement, naive GROUP BY, coarser rollups …');
    const month = monthReportSql(schema);
    t.monthSql = await sample(() => pool.query(month.sql, month.values), SLOW);
    const monthPlan = await explain(pool, month.sql, month.values, calls === SIZES[SIZES.length - 1]);
    t.naiveMonth = await sample(() => pool.query(naiveMonthSql(schema), [MONTH_FROM, MONTH_TO]), NAIVE);
    t.naiveFeature = await sample(() => pool.query(naiveFeatureSql(schema), [DAY_FROM, DAY_TO]), { ...NAIVE, max: 15 });
    // The month from llm_cost_hourly_totals alone (why whole days read the daily rollup instead).
    const whatIfRows = (await pool.query(`SELECT (SELECT count(*) FROM ${s}.llm_cost_hourly_totals)::int AS hourly`)).rows[0];
    t.whatIfHourly = await sample(() => pool.query(whatIfSql(`${s}.llm_cost_hourly_totals`, 'hour'), [MONTH_FROM, MONTH_TO]), FAST);
    return {
      calls,
      loaded,
      t,
      monthIdentical: monthIdentical && edgesIdentical,
      featureIdentical,
      monthPlan,
      monthHourlyRows: rowsRead(monthPlan.plan, 'llm_cost_hourly'),
      monthDailyRows: rowsRead(monthPlan.plan, 'llm_cost_daily'),
      whatIfRows,
      userTraceCount,
    };
  } finally {
    await app.close();
  }
}

// -- retention ---------------------------------------------------------------------------------

interface RetentionRun {
  calls: number;
  tailCalls: number;
  partitionedBefore: number;
  partitionedAfter: number;
  dropMs: number;
  /** The DROP statement (lock, catalog) and the COMMIT (files unlinked, WAL flushed). */
  dropParts: { statement: number; commit: number };
  /** Files the dropped partition was made of (table, TOAST, indexes; 1 GB segments), and unlinking as many of the same sizes. */
  segments: number;
  unlinkMs: number;
  /** Autovacuum workers on the schema when the drop started (a DROP waits for one to be cancelled). */
  autovacuum: number;
  /** The longest INSERT (through the parent, into this month) while the drop ran. */
  probeMax: number;
  dropped: string[];
  maintenanceMs: number;
  deletedTraces: number;
  tracesBytesBefore: number;
  tracesBytesAfter: number;
  naiveCopyMs: number;
  naiveBefore: number;
  deleteMs: number;
  deletedRows: number;
  naiveAfterDelete: number;
  vacuumMs: number;
  naiveAfterVacuum: number;
}

/** The sizes of the files a relation and its TOAST table and indexes occupy (every fork, 1 GB segments). */
async function fileSegments(relation: string): Promise<number[]> {
  const { rows } = await pool.query(
    `WITH r AS (SELECT $1::regclass AS oid UNION ALL SELECT reltoastrelid FROM pg_class WHERE oid = $1::regclass AND reltoastrelid <> 0
                UNION ALL SELECT indexrelid FROM pg_index WHERE indrelid = $1::regclass
                UNION ALL SELECT i.indexrelid FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid WHERE c.oid = $1::regclass)
     SELECT pg_relation_size(r.oid, f)::bigint AS b FROM r CROSS JOIN unnest(ARRAY['main', 'fsm', 'vm']) f`,
    [relation],
  );
  const GB = 1024 ** 3;
  const out: number[] = [];
  for (const { b } of rows) for (let left = Number(b); left > 0; left -= GB) out.push(Math.min(GB, left));
  return out;
}

/**
 * What removing that much data costs the file system itself: files of the same sizes written (and
 * synced) beside PostgreSQL's data directory, then unlinked, timed. A DROP's commit cannot beat it.
 */
async function unlinkLimit(sizes: number[]): Promise<number> {
  const dataDir = (await pool.query('SHOW data_directory')).rows[0].data_directory as string;
  const dir = join(dataDir, '..', `kostrack-bench-unlink-${PID}`);
  mkdirSync(dir, { recursive: true });
  const chunk = Buffer.alloc(8 * 1024 * 1024, 7);
  const files: string[] = [];
  try {
    for (const [i, size] of sizes.entries()) {
      const file = join(dir, `seg-${i}`);
      const fd = openSync(file, 'w');
      for (let left = size; left > 0; left -= chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, left));
      fsyncSync(fd);
      closeSync(fd);
      files.push(file);
    }
    await sleep(5000);
    const start = performance.now();
    for (const f of files) unlinkSync(f);
    return performance.now() - start;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * On the largest set, after the API timings: a small newer month (Nov 1–2) is added so both tables
 * keep rows after the cutoff, as a live table would; then October goes by partition drop, and by
 * DELETE from an unpartitioned copy of the same rows (primary key and indexes as version 4 had).
 */
async function retentionSection(calls: number): Promise<RetentionRun> {
  const schema = `kt_scale_${calls}_${PID}`;
  const naive = `kt_scale_naive_${PID}`;
  const s = q(schema);
  const n = q(naive);
  scratch.add(naive);
  log(`retention on ${schema}: adding Nov 1–2, copying into an unpartitioned table …`);
  const tailTraces = 10_000;
  const c = await loader();
  try {
    await ensureMonths(c, schema, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z');
    await c.query(callsInsert(`${s}.llm_calls`, { from: calls / CALLS_PER_TRACE, traces: tailTraces, base: '2026-11-01T00:00:00.000Z', stepMs: (2 * DAY_MS) / tailTraces }));
    await c.query(`DROP SCHEMA IF EXISTS ${n} CASCADE; CREATE SCHEMA ${n}; CREATE TABLE ${n}.llm_calls (LIKE ${s}.llm_calls INCLUDING DEFAULTS)`);
    // One serial scan, partitions in bound order: the copy is in time order like a table written live.
    await c.query('SET max_parallel_workers_per_gather = 0');
    const [, copyMs] = await timed(async () => {
      await c.query(`INSERT INTO ${n}.llm_calls SELECT * FROM ${s}.llm_calls`);
      await c.query(`ALTER TABLE ${n}.llm_calls ADD PRIMARY KEY (span_id)`);
      await c.query(`CREATE INDEX llm_calls_trace_time_idx ON ${n}.llm_calls (trace_id, time)`);
      await c.query(`CREATE INDEX llm_calls_time_idx ON ${n}.llm_calls (time)`);
      await c.query(`VACUUM ANALYZE ${n}.llm_calls`);
      await c.query(`ANALYZE ${s}.llm_calls`);
    });
    const naiveBefore = await bytesOf(`SELECT pg_total_relation_size('${n}.llm_calls') AS b`);
    const partitionedBefore = await callsBytes(schema);
    const tracesBytesBefore = await bytesOf(`SELECT pg_total_relation_size('${s}.llm_traces') + pg_total_relation_size('${s}.llm_spans') AS b`);

    log('  dropping October by partition …');
    const sql = new PgSqlPool({ connectionString: URL_, max: 2 }, () => undefined);
    let dropped: string[] = [];
    let dropMs = 0;
    let dropParts = { statement: 0, commit: 0 };
    let autovacuum = 0;
    let probeMax = 0;
    let maintenanceMs = 0;
    let deletedTraces = 0;
    let segments: number[] = [];
    try {
      // A month old enough to drop was written out long ago; the copy above just wrote gigabytes
      // that the server and the kernel are still flushing. A checkpoint stands in for that time.
      await c.query('CHECKPOINT');
      await sleep(5000);
      autovacuum = Number(
        (await pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND query LIKE $1`, [`%${schema}%`])).rows[0].n,
      );
      // The statements CallPartitions.dropBefore runs, one by one so the commit (files unlinked) shows
      // apart, while a writer inserts into November through the parent every 5 ms.
      await ensureMonths(pool, schema, new Date().toISOString(), new Date().toISOString());
      segments = await fileSegments(`${schema}.llm_calls_p2026_10`);
      const probe = await probeWriter(schema, 5);
      await sleep(300);
      const d = await pool.connect();
      try {
        const [, begin] = await timed(() => d.query(`BEGIN; SET LOCAL lock_timeout = 2000`));
        const [r, drop] = await timed(() => d.query(`SELECT ${s}.kostrack_drop_call_partitions($1::timestamptz) AS dropped`, ['2026-11-01T00:00:00Z']));
        const [, commit] = await timed(() => d.query('COMMIT'));
        dropped = r.rows[0].dropped;
        dropMs = begin + drop + commit;
        dropParts = { statement: drop, commit };
      } finally {
        d.release();
        await sleep(300);
        const lat = await probe.stop();
        await probe.client.end();
        probeMax = Math.max(...lat);
      }
      // The rest of a maintenance pass with retention: the traces and spans of the dropped month.
      const maintenance = new StorageMaintenance(sql, schema, { callsDays: 1, rollupsDays: null }, (m: string) => log(`  maintenance: ${m}`));
      const [report, ms] = await timed(() => maintenance.run(new Date('2026-11-02T00:00:00Z')));
      maintenanceMs = ms;
      deletedTraces = report.deletedTraces;
    } finally {
      await sql.close();
    }
    log('  the physical limit: unlinking files of the same sizes on the same file system …');
    const unlinkMs = await unlinkLimit(segments);
    const partitionedAfter = await callsBytes(schema);
    const tracesBytesAfter = await bytesOf(`SELECT pg_total_relation_size('${s}.llm_traces') + pg_total_relation_size('${s}.llm_spans') AS b`);

    log('  DELETE on the unpartitioned copy …');
    const [del, deleteMs] = await timed(() => c.query(`DELETE FROM ${n}.llm_calls WHERE time < '2026-11-01T00:00:00Z'`));
    const naiveAfterDelete = await bytesOf(`SELECT pg_total_relation_size('${n}.llm_calls') AS b`);
    const [, vacuumMs] = await timed(() => c.query(`VACUUM ${n}.llm_calls`));
    const naiveAfterVacuum = await bytesOf(`SELECT pg_total_relation_size('${n}.llm_calls') AS b`);
    return {
      calls,
      tailCalls: tailTraces * CALLS_PER_TRACE,
      partitionedBefore,
      partitionedAfter,
      dropMs,
      segments: segments.length,
      unlinkMs,
      dropParts,
      autovacuum,
      probeMax,
      dropped,
      maintenanceMs,
      deletedTraces,
      tracesBytesBefore,
      tracesBytesAfter,
      naiveCopyMs: copyMs,
      naiveBefore,
      deleteMs,
      deletedRows: del.rowCount ?? 0,
      naiveAfterDelete,
      vacuumMs,
      naiveAfterVacuum,
    };
  } finally {
    await c.query(`DROP SCHEMA IF EXISTS ${n} CASCADE`).catch(() => undefined);
    await c.end();
  }
}

// -- through the writer ------------------------------------------------------------------------

const TIE_COST: Usd = 50_000_000_000_000n; // $0.05 a call, $0.50 a trace: above every random trace ($0.20 at most)

/** One trace as the core records it: 5 calls in the root, 5 in a span `step`, the step span, then the root span. */
function writerTrace(tr: number, base: number, stepMs: number, tie: boolean, withSpans: boolean): { calls: CallRecord[]; spans: SpanRecord[] } {
  const traceId = newId();
  const rootId = newId();
  const stepId = newId();
  const serviceId = `svc-${tr % 3}`;
  const tags = { project: 'bench', feature: `feature-${tr % FEATURES}`, user_id: `u-${tr % USERS}` };
  const rootTags = { ...tags, span_name: 'workflow' };
  const stepTags = { ...tags, span_name: 'step' };
  const t0 = base + tr * stepMs;
  const calls: CallRecord[] = [];
  let total = 0n;
  let stepCost = 0n;
  for (let k = 0; k < CALLS_PER_TRACE; k++) {
    const [provider, model] = MODELS[((tr % 5) + (k % 2)) % 6];
    const cost: Usd = tie ? TIE_COST : BigInt(Math.floor(Math.random() * 2e13));
    total += cost;
    if (k >= 5) stepCost += cost;
    calls.push({
      provider, model, operation: 'chat', inputTokens: 1000 + k * 10, outputTokens: 200 + k, cachedTokens: 0,
      tokenBreakdown: { inputUncached: 1000 + k * 10, output: 200 + k }, costUsd: cost, pricingModel: 'bench', pricingSource: 'catalog',
      latencyMs: 250, status: 'ok', errorClass: null, streamed: false,
      spanId: newId(), traceId, parentSpanId: k < 5 ? null : stepId, time: new Date(t0 + k * 300), serviceId,
      tags: k < 5 ? rootTags : stepTags, metadata: {},
    });
  }
  const span = (spanId: string, parentSpanId: string | null, isRoot: boolean, name: string, start: number, costUsd: Usd, callCount: number): SpanRecord => ({
    traceId, spanId, parentSpanId, isRoot, name, tags, serviceId, startTime: new Date(t0 + start), endTime: new Date(t0 + 3000),
    status: 'ok', errorClass: null, costUsd, callCount,
  });
  return { calls, spans: withSpans ? [span(stepId, rootId, false, 'step', 1500, stepCost, 5), span(rootId, null, true, 'workflow', 0, total, 10)] : [] };
}

interface WriterRun {
  calls: number;
  traces: number;
  ties: number;
  seconds: number;
  exact: boolean;
  checks: Record<string, string | number>;
  analyzed: string;
  top: Explained;
  topCostOnly: Explained;
  deep: Explained;
  deepRow: Explained;
  deepPosition: number;
  t: Record<string, number[]>;
  hourly: number;
  /** What the writer warned about while writing (an outage it retried, a row dead-lettered). */
  warnings: string[];
}

async function writerSection(): Promise<WriterRun> {
  const schema = `kt_scale_writer_${PID}`;
  const s = q(schema);
  scratch.add(schema);
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  const traces = WRITER_CALLS / CALLS_PER_TRACE;
  const every = Math.max(1, Math.floor(traces / WRITER_TIES));
  const stepMs = (30 * DAY_MS) / traces;
  const dir = mkdtempSync(join(tmpdir(), 'kostrack-scale-writer-'));
  const warnings: string[] = [];
  log(`writer: ${n0(WRITER_CALLS)} calls in ${n0(traces)} traces (${n0(WRITER_TIES)} tied at the top) into ${schema} …`);
  const storage = (await TelemetryStorage.open(
    {
      database: URL_,
      schema,
      writer: { batchSize: 5000, maxQueue: 200_000, flushIntervalMs: 10, spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dead.jsonl') },
    },
    {
      warn: (m) => {
        warnings.push(m);
        log(`  writer: ${m}`);
      },
    },
  ))!;
  let expectCost = 0n;
  let ties = 0;
  const start = performance.now();
  try {
    for (let tr = 0; tr < traces; tr++) {
      const tie = tr % every === 0 && ties < WRITER_TIES;
      if (tie) ties++;
      const { calls, spans } = writerTrace(tr, Date.parse(BASE), stepMs, tie, true);
      for (const c of calls) {
        expectCost += c.costUsd!;
        storage.writer.recordCall(c);
      }
      for (const sp of spans) storage.writer.recordSpan(sp);
      // Keep what waits in memory bounded, as a live app's steady rate would.
      if (tr % 500 === 499) while (storage.writer.health().queueDepth > 100_000) await sleep(2);
      if (tr % 20_000 === 19_999) log(`  ${n0((tr + 1) * CALLS_PER_TRACE)} recorded`);
    }
    await storage.writer.drain(3_600_000);
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - start) / 1000;
  const r = (
    await pool.query(`SELECT (SELECT count(*) FROM ${s}.llm_calls)::bigint AS calls, (SELECT count(*) FROM ${s}.llm_traces)::bigint AS traces,
      (SELECT sum(call_count) FROM ${s}.llm_traces)::bigint AS traced_calls, (SELECT trim_scale(sum(cost_usd))::text FROM ${s}.llm_calls) AS cost,
      (SELECT trim_scale(sum(total_cost_usd))::text FROM ${s}.llm_traces) AS traced_cost,
      (SELECT sum(calls) FROM ${s}.llm_cost_hourly)::bigint AS hourly_calls, (SELECT trim_scale(sum(cost_usd))::text FROM ${s}.llm_cost_hourly) AS hourly_cost,
      (SELECT sum(calls) FROM ${s}.llm_cost_daily)::bigint AS daily_calls, (SELECT trim_scale(sum(cost_usd))::text FROM ${s}.llm_cost_daily) AS daily_cost,
      (SELECT count(*) FROM ${s}.llm_cost_hourly)::bigint AS hourly_rows,
      (SELECT count(*) FROM ${s}.llm_traces WHERE total_cost_usd = (SELECT max(total_cost_usd) FROM ${s}.llm_traces))::bigint AS tied`)
  ).rows[0];
  const exact =
    Number(r.calls) === WRITER_CALLS && Number(r.traced_calls) === WRITER_CALLS && Number(r.hourly_calls) === WRITER_CALLS && Number(r.daily_calls) === WRITER_CALLS &&
    usd(r.cost) === expectCost && usd(r.traced_cost) === expectCost && usd(r.hourly_cost) === expectCost && usd(r.daily_cost) === expectCost && Number(r.tied) === ties;
  const stats = (
    await pool.query(
      `SELECT relname, last_autoanalyze, last_analyze FROM pg_stat_user_tables WHERE schemaname = $1 AND relname IN ('llm_traces', 'llm_calls_p2026_10', 'llm_cost_hourly') ORDER BY relname`,
      [schema],
    )
  ).rows;
  const analyzed = stats.map((x) => `${x.relname}: ${x.last_autoanalyze ? 'autoanalyzed' : 'never analyzed'}`).join(', ');

  const topSql = `SELECT ${TRACE_COLUMNS},
        to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_key
      FROM ${s}.llm_traces t ORDER BY t.total_cost_usd DESC, t.trace_id DESC LIMIT $1`;
  const top = await explain(pool, topSql, [21], true);
  // The index it replaced, (total_cost_usd DESC) alone, in a transaction rolled back.
  const client = await pool.connect();
  let topCostOnly: Explained;
  try {
    await client.query('BEGIN');
    await client.query(`DROP INDEX ${s}.llm_traces_cost_id_idx`);
    await client.query(`CREATE INDEX llm_traces_cost_only ON ${s}.llm_traces (total_cost_usd DESC)`);
    await explain(client, topSql, [21]);
    topCostOnly = await explain(client, topSql, [21], true);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }

  const app = await startApp(schema);
  const t: Record<string, number[]> = {};
  let deep: Explained;
  let deepRow: Explained;
  let deepPosition = 0;
  try {
    const port = app.port;
    const top20 = await getJson<{ items: { traceId: string; totalCostUsd: string }[] }>(port, '/kostrack/traces?sort=cost&limit=20');
    if (top20.items.length !== 20 || top20.items.some((i) => usd(i.totalCostUsd) !== TIE_COST * 10n)) throw new Error('the top 20 are not the tied traces');
    // A page deep inside the ties: follow the cursor through 3/4 of them.
    let cursor: string | null = null;
    while (deepPosition < Math.floor(ties * 0.75)) {
      const page: { items: unknown[]; nextCursor: string | null } = await getJson(port, `/kostrack/traces?sort=cost&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      cursor = page.nextCursor;
      deepPosition += page.items.length;
    }
    const c = decodeCursor(cursor!, 'cost', 'desc');
    // The list statement as AdminQueryService.listTraces builds it for that cursor.
    const deepSql = `SELECT ${TRACE_COLUMNS},
        to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS started_key
      FROM ${s}.llm_traces t
      WHERE t.total_cost_usd <= $1::numeric AND (t.total_cost_usd < $1::numeric OR t.trace_id < $2::uuid)
      ORDER BY t.total_cost_usd DESC, t.trace_id DESC
      LIMIT $3`;
    deep = await explain(pool, deepSql, [c.value, c.traceId, 21], true);
    const rowSql = deepSql.replace(
      't.total_cost_usd <= $1::numeric AND (t.total_cost_usd < $1::numeric OR t.trace_id < $2::uuid)',
      '(t.total_cost_usd, t.trace_id) < ($1::numeric, $2::uuid)',
    );
    deepRow = await explain(pool, rowSql, [c.value, c.traceId, 21], true);
    const users = Array.from({ length: 1000 }, () => `u-${Math.floor(Math.random() * USERS)}`);
    const traceIds = (await pool.query(`SELECT trace_id FROM ${s}.llm_traces ORDER BY random() LIMIT 1000`)).rows.map((x) => x.trace_id as string);
    log('  timing the API …');
    t.top = await sample(() => getJson(port, '/kostrack/traces?sort=cost&limit=20'), FAST);
    t.deep = await sample(() => getJson(port, `/kostrack/traces?sort=cost&limit=20&cursor=${cursor}`), FAST);
    t.user = await sample((i) => getJson(port, `/kostrack/traces?user=${users[i % users.length]}&limit=50`), FAST);
    t.detail = await sample((i) => getJson(port, `/kostrack/traces/${traceIds[i % traceIds.length]}`), FAST);
    t.month = await sample(() => getJson(port, MONTH_PATH), SLOW);
  } finally {
    await app.close();
  }
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  scratch.delete(schema);
  return {
    calls: WRITER_CALLS,
    traces,
    ties,
    seconds,
    exact,
    checks: { calls: Number(r.calls), traces: Number(r.traces), tied: Number(r.tied) },
    analyzed,
    top,
    topCostOnly: topCostOnly!,
    deep: deep!,
    deepRow: deepRow!,
    deepPosition,
    t,
    hourly: Number(r.hourly_rows),
    warnings,
  };
}

// -- ingest: writer against raw COPY -----------------------------------------------------------

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
function copyLine(c: CallRecord): string {
  const n = (v: unknown) => (v === null || v === undefined ? '\\N' : esc(String(v)));
  return [c.spanId, c.time.toISOString(), c.serviceId, c.provider, c.model, c.operation, c.pricingModel, c.pricingSource,
    c.inputTokens, c.outputTokens, c.cachedTokens, c.costUsd === null ? null : usdToString(c.costUsd),
    JSON.stringify(c.tokenBreakdown), c.latencyMs, c.status, c.errorClass, c.streamed ? 't' : 'f', c.traceId, c.parentSpanId,
    JSON.stringify(c.tags), JSON.stringify(c.metadata)].map(n).join('\t') + '\n';
}

async function freshTarget(schema: string): Promise<void> {
  await migrate(schema);
  await ensureMonths(pool, schema, BASE, MONTH_TO);
}

interface IngestRun {
  rows: number;
  rounds: { copy: number; writer: number; noUser: number; exact: boolean }[];
  hourlyRows: { users: number; noUser: number };
  stages: { users: Stages; noUser: Stages };
}

async function ingestSection(): Promise<IngestRun> {
  // The same rows for both: 100k users, 12 features, 6 models, spread over October (a batch of
  // 5,000 calls touches ~1,000 hourly rollup keys, the cost a many-user app pays).
  const traces = INGEST_ROWS / CALLS_PER_TRACE;
  const calls: CallRecord[] = [];
  for (let tr = 0; tr < traces; tr++) calls.push(...writerTrace(tr, Date.parse(BASE), (30 * DAY_MS) / traces, false, false).calls);
  // The same calls without user_id (tags objects still shared per span): what the hourly keys cost.
  const stripped = new Map<object, CallRecord['tags']>();
  const noUser = calls.map((c) => {
    let tags = stripped.get(c.tags);
    if (!tags) {
      const { user_id: _user, ...rest } = c.tags;
      stripped.set(c.tags, (tags = rest));
    }
    return { ...c, tags };
  });
  const cost = calls.reduce((sum, c) => sum + (c.costUsd ?? 0n), 0n);
  const copySchema = `kt_scale_copy_${PID}`;
  const writerSchema = `kt_scale_ingest_${PID}`;
  const rounds: IngestRun['rounds'] = [];
  const hourlyRows = { users: 0, noUser: 0 };
  for (let round = 0; round < INGEST_ROUNDS; round++) {
    await freshTarget(copySchema);
    const client = await pool.connect();
    const copyStart = performance.now();
    try {
      const lines = (function* () {
        for (let i = 0; i < calls.length; i += 1000) yield calls.slice(i, i + 1000).map(copyLine).join('');
      })();
      await pipeline(Readable.from(lines), client.query(copyFrom(`COPY ${q(copySchema)}.llm_calls (${CALL_COLS}) FROM STDIN`)));
    } finally {
      client.release();
    }
    const copy = calls.length / ((performance.now() - copyStart) / 1000);
    const writer = await writeAll(writerSchema, calls, cost);
    const plain = await writeAll(writerSchema, noUser, cost);
    hourlyRows.users = writer.hourlyRows;
    hourlyRows.noUser = plain.hourlyRows;
    rounds.push({ copy, writer: writer.rate, noUser: plain.rate, exact: writer.exact && plain.exact });
    log(`  ingest round ${round + 1}: COPY ${n0(copy)} rows/s, writer ${n0(writer.rate)} rows/s (${((writer.rate / copy) * 100).toFixed(0)}%), ` +
      `without user_id ${n0(plain.rate)} rows/s (${((plain.rate / copy) * 100).toFixed(0)}%), rollups exact ${writer.exact && plain.exact}`);
  }
  const stages = { users: await batchStages(writerSchema, calls), noUser: await batchStages(writerSchema, noUser) };
  for (const x of [copySchema, writerSchema]) {
    await pool.query(`DROP SCHEMA IF EXISTS ${q(x)} CASCADE`);
    scratch.delete(x);
  }
  return { rows: calls.length, rounds, hourlyRows, stages };
}

interface Stages {
  encode: number;
  copy: number;
  rollups: number;
  commit: number;
  rate: number;
}

/**
 * Where a writer batch's time goes: the committer's own steps (encodeCallsCopy, the COPY, the
 * afterCopy statement with the trace and hourly upserts, COMMIT) on one connection, batches of
 * 5,000 in turn with no overlap (the writer overlaps two batches).
 */
async function batchStages(schema: string, calls: CallRecord[]): Promise<Stages> {
  await freshTarget(schema);
  const st = batchStatements(schema);
  const c = await pool.connect();
  const t = { encode: 0, copy: 0, rollups: 0, commit: 0 };
  const start = performance.now();
  try {
    for (let i = 0; i < calls.length; i += 5000) {
      const part = calls.slice(i, i + 5000);
      let x = performance.now();
      const enc = encodeCallsCopy(part);
      const params = [...rollupParams(enc.rollups), ...noRows(13), part.map((p) => p.spanId), enc.minTime, enc.maxTime, ...hourlyParams(enc.hourly)];
      t.encode += performance.now() - x;
      await c.query('BEGIN');
      x = performance.now();
      await copyIn(c, st.copyCalls, enc.data);
      t.copy += performance.now() - x;
      x = performance.now();
      await c.query(st.afterCopy, params);
      t.rollups += performance.now() - x;
      x = performance.now();
      await c.query('COMMIT');
      t.commit += performance.now() - x;
    }
  } finally {
    c.release();
  }
  return { ...t, rate: calls.length / ((performance.now() - start) / 1000) };
}

/** The writer into a fresh schema (migrated, its month made, beforehand): first recordCall to drain(). */
async function writeAll(schema: string, calls: CallRecord[], cost: Usd): Promise<{ rate: number; exact: boolean; hourlyRows: number }> {
  await freshTarget(schema);
  const dir = mkdtempSync(join(tmpdir(), 'kostrack-scale-ingest-'));
  const storage = (await TelemetryStorage.open({
    database: URL_,
    schema,
    writer: { batchSize: 5000, maxQueue: calls.length, flushIntervalMs: 10, spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dead.jsonl') },
  }))!;
  const start = performance.now();
  for (const c of calls) storage.writer.recordCall(c);
  await storage.writer.drain(600_000);
  const rate = calls.length / ((performance.now() - start) / 1000);
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
  const w = q(schema);
  const r = (
    await pool.query(`SELECT (SELECT count(*) FROM ${w}.llm_calls)::int AS calls, (SELECT sum(call_count) FROM ${w}.llm_traces)::int AS traced,
      (SELECT sum(total_cost_usd)::text FROM ${w}.llm_traces) AS traced_cost, (SELECT sum(calls) FROM ${w}.llm_cost_hourly)::int AS hourly,
      (SELECT sum(cost_usd)::text FROM ${w}.llm_cost_hourly) AS hourly_cost, (SELECT count(*) FROM ${w}.llm_cost_hourly)::int AS hourly_rows,
      (SELECT sum(calls) FROM ${w}.llm_cost_daily)::int AS daily, (SELECT sum(cost_usd)::text FROM ${w}.llm_cost_daily) AS daily_cost`)
  ).rows[0];
  const exact = r.calls === calls.length && r.traced === calls.length && r.hourly === calls.length && r.daily === calls.length &&
    usd(r.traced_cost) === cost && usd(r.hourly_cost) === cost && usd(r.daily_cost) === cost;
  return { rate, exact, hourlyRows: r.hourly_rows };
}

// -- upgrade from version 4 --------------------------------------------------------------------

interface Totals {
  calls: string;
  traces: string;
  spans: string;
  models: string;
}

async function totals(schema: string): Promise<Totals> {
  const s = q(schema);
  // Sums, and an order-independent checksum of every row's full text: all columns of a call as
  // version 4 had them (later versions add columns, NULL on old rows, that would change the text).
  const v4Call = `ROW(c.span_id, c.time, c.service_id, c.provider, c.model, c.operation, c.pricing_model, c.pricing_source, c.input_tokens,
    c.output_tokens, c.cached_tokens, c.cost_usd, c.token_breakdown, c.latency_ms, c.status, c.error_class, c.streamed, c.trace_id,
    c.parent_span_id, c.tags, c.metadata, c.service_tier, c.pricing_flags, c.catalog_version)`;
  const check = (alias: string) => `sum(('x' || substr(md5((${alias === 'c' ? v4Call : alias})::text), 1, 15))::bit(60)::bigint)::text`;
  const [calls, traces, spans, models] = await Promise.all([
    pool.query(`SELECT count(*)::text || ' rows, $' || trim_scale(sum(cost_usd))::text || ', ' || sum(input_tokens)::text || ' in, ' || sum(output_tokens)::text || ' out, checksum ' || ${check('c')} AS v
                  FROM ${s}.llm_calls c WHERE service_id <> 'probe'`),
    pool.query(`SELECT count(*)::text || ' rows, $' || trim_scale(sum(total_cost_usd))::text || ', ' || sum(call_count)::text || ' calls, checksum ' || ${check('t')} AS v FROM ${s}.llm_traces t`),
    pool.query(`SELECT count(*)::text || ' rows, checksum ' || ${check('sp')} AS v FROM ${s}.llm_spans sp`),
    pool.query(`SELECT string_agg(provider || '/' || model || ' ' || n || ' $' || cost, '; ' ORDER BY provider, model) AS v
                  FROM (SELECT provider, model, count(*) AS n, trim_scale(sum(cost_usd))::text AS cost FROM ${s}.llm_calls WHERE service_id <> 'probe' GROUP BY 1, 2) x`),
  ]);
  return { calls: calls.rows[0].v, traces: traces.rows[0].v, spans: spans.rows[0].v, models: models.rows[0].v };
}

interface UpgradeRun {
  calls: number;
  loadMs: number;
  migrateMs: number;
  before: Totals;
  after: Totals;
  hourly: { calls: number; cost: string; expectCost: string };
  tracesMatchCalls: number;
  probes: number;
  probeMax: number;
  probeBlocked: number;
  probeP50: number;
  oldWriterError: string;
  legacyBound: string;
  steps: { label: string; ms: number }[];
}

async function upgradeSection(): Promise<UpgradeRun> {
  const schema = `kt_scale_upgrade_${PID}`;
  const clone = `kt_scale_upgrade2_${PID}`;
  const s = q(schema);
  log(`upgrade: version-4 schema ${schema} with ${n0(UPGRADE_CALLS)} calls …`);
  const [loaded, loadMs] = await timed(() => loadSet(schema, UPGRADE_CALLS, { upTo: 4 }));
  // A second copy of the same rows, migrated statement by statement for the breakdown.
  await migrate(clone, 4);
  await pool.query(`INSERT INTO ${q(clone)}.llm_calls SELECT * FROM ${s}.llm_calls; INSERT INTO ${q(clone)}.llm_spans SELECT * FROM ${s}.llm_spans;
    INSERT INTO ${q(clone)}.llm_traces SELECT * FROM ${s}.llm_traces; ANALYZE ${q(clone)}.llm_calls; ANALYZE ${q(clone)}.llm_traces; ANALYZE ${q(clone)}.llm_spans`);
  const before = await totals(schema);

  // A writer on another connection: one plain INSERT every 20 ms while the migration runs.
  const probing = await probeWriter(schema, 20);
  const probe = probing.client;
  await sleep(500);
  const sql = new PgSqlPool({ connectionString: URL_, max: 1 }, () => undefined);
  let migrateMs: number;
  try {
    [, migrateMs] = await timed(() => runMigrations(sql, schema));
  } finally {
    await sql.close();
  }
  await sleep(500);
  const lat = await probing.stop();
  // What a replica still on the previous version sends when its COPY meets a duplicate.
  const oldWriterError = await probe
    .query(
      `INSERT INTO ${s}.llm_calls (${CALL_COLS}) VALUES ($1, now(), 'probe', 'openai', 'gpt-4o-mini', 'chat', 'bench', 'catalog', 1, 1, 0, 0,
         '{}', 1, 'ok', NULL, false, NULL, NULL, '{}', '{}') ON CONFLICT (span_id) DO NOTHING`,
      [randomUUID()],
    )
    .then(
      () => 'accepted',
      (e: Error & { code?: string }) => `${e.code}: ${e.message}`,
    );
  await probe.end();
  const after = await totals(schema);
  const h = (await pool.query(`SELECT sum(calls)::bigint AS calls, trim_scale(sum(cost_usd))::text AS cost FROM ${s}.llm_cost_hourly WHERE service_id <> 'probe'`)).rows[0];
  const expectCost = (await pool.query(`SELECT trim_scale(sum(cost_usd))::text AS cost FROM ${s}.llm_calls WHERE service_id <> 'probe'`)).rows[0].cost;
  const mismatched = Number(
    (
      await pool.query(`SELECT count(*) AS n FROM ${s}.llm_traces t JOIN (SELECT trace_id, sum(cost_usd) AS cost, count(*) AS n FROM ${s}.llm_calls WHERE trace_id IS NOT NULL GROUP BY 1) x
      USING (trace_id) WHERE t.total_cost_usd <> x.cost OR t.call_count <> x.n`)
    ).rows[0].n,
  );
  const legacyBound = (
    await pool.query(`SELECT pg_get_expr(c.relpartbound, c.oid) AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'llm_calls_legacy'`, [schema])
  ).rows[0]?.b;

  // The breakdown: migration 5's statements one by one in one transaction, as the runner runs them.
  log('  per-statement breakdown on a copy …');
  const steps: { label: string; ms: number }[] = [];
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    for (const stmt of MIGRATION_STEPS[4].up(clone)) {
      const [, ms] = await timed(() => c.query(stmt));
      steps.push({ label: label(stmt), ms });
    }
    await c.query('ROLLBACK');
  } finally {
    c.release();
  }
  for (const x of [schema, clone]) {
    await pool.query(`DROP SCHEMA IF EXISTS ${q(x)} CASCADE`);
    scratch.delete(x);
  }
  const blockedAt = 100;
  return {
    calls: loaded.calls,
    loadMs,
    migrateMs: migrateMs!,
    before,
    after,
    hourly: { calls: Number(h.calls), cost: h.cost, expectCost },
    tracesMatchCalls: mismatched,
    probes: lat.length,
    probeMax: Math.max(...lat),
    probeBlocked: lat.filter((x) => x > blockedAt).length,
    probeP50: median(lat),
    oldWriterError,
    legacyBound,
    steps,
  };
}

function label(sql: string): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  if (one.startsWith('DO $do$')) return 'DO block: RENAME to llm_calls_legacy, CREATE partitioned llm_calls, ATTACH legacy (bound check scan + (span_id, time) key build)';
  if (/^INSERT INTO \S+\.llm_cost_hourly/.test(one)) return 'INSERT INTO llm_cost_hourly … GROUP BY (backfill from every call)';
  const m = /^(CREATE OR REPLACE FUNCTION \S+|CREATE TABLE IF NOT EXISTS \S+|CREATE INDEX IF NOT EXISTS \S+ ON \S+ [^,]*|DROP INDEX IF EXISTS \S+|SELECT \S+kostrack_ensure_call_partition)/.exec(one);
  return (m ? m[1] : one.slice(0, 70)).replace(/"kt_scale_upgrade2_\d+"\./g, '');
}

// -- partition granularity ---------------------------------------------------------------------

interface GranularityRun {
  calls: number;
  days: number;
  monthly: GranularitySide;
  daily: GranularitySide;
  createDailyMs: number;
}
interface GranularitySide {
  partitions: number;
  seed: { plan: number[]; exec: number[]; rt: number[]; locks: number };
  detailSql: { plan: number[]; exec: number[]; locks: number };
  monthSql: { plan: number[]; exec: number[] };
  spanSql: { plan: number[]; exec: number[] };
  api: Record<string, number[]>;
}

const GRAN_FROM = '2023-11-01T00:00:00.000Z';
const GRAN_DAYS = 1096; // 2023-11-01 to 2026-10-31: 36 months

async function granularitySection(): Promise<GranularityRun> {
  const monthly = `kt_scale_gm_${PID}`;
  const daily = `kt_scale_gd_${PID}`;
  const traces = GRANULARITY_CALLS / CALLS_PER_TRACE;
  const stepMs = (GRAN_DAYS * DAY_MS) / traces;
  log(`granularity: ${n0(GRANULARITY_CALLS)} calls over ${GRAN_DAYS} days, monthly (${monthly}) and daily (${daily}) …`);
  await migrate(monthly);
  await migrate(daily);
  const c = await loader();
  let createDailyMs = 0;
  try {
    await ensureMonths(c, monthly, GRAN_FROM, '2026-10-31T00:00:00Z');
    // Daily partitions, a month's worth per transaction (a thousand CREATEs in one would hold
    // ~4,000 locks of the server's shared lock table at once).
    const t0 = performance.now();
    for (let d = 0; d < GRAN_DAYS; d += 30) {
      await c.query(`DO $$ DECLARE d date; BEGIN
        FOR d IN SELECT generate_series(date '2023-11-01' + ${d}, date '2023-11-01' + ${Math.min(d + 29, GRAN_DAYS - 1)}, interval '1 day')::date LOOP
          EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.llm_calls FOR VALUES FROM (%L) TO (%L)', '${daily}', 'llm_calls_d' || to_char(d, 'YYYYMMDD'), '${daily}',
                         d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
        END LOOP; END $$`);
    }
    createDailyMs = performance.now() - t0;
    // The same rows in both, a month at a time (one statement per month keeps locks few).
    const gm = q(monthly);
    const gd = q(daily);
    const chunk = Math.ceil(traces / 36);
    for (let from = 0; from < traces; from += chunk) {
      const part: Layout = { from, traces: Math.min(chunk, traces - from), base: new Date(Date.parse(GRAN_FROM) + from * stepMs).toISOString(), stepMs };
      await c.query(callsInsert(`${gm}.llm_calls`, part));
      // Windows that do not overlap: a trace's last calls may run past the next chunk's start.
      const lo = from === 0 ? '-infinity' : part.base;
      const hi = from + chunk >= traces ? 'infinity' : new Date(Date.parse(GRAN_FROM) + (from + chunk) * stepMs).toISOString();
      await c.query(`INSERT INTO ${gd}.llm_calls SELECT * FROM ${gm}.llm_calls WHERE time >= $1::timestamptz AND time < $2::timestamptz`, [lo, hi]);
    }
    await c.query(tracesInsert(monthly));
    await c.query(hourlyBackfill(monthly));
    await c.query(`INSERT INTO ${gd}.llm_traces SELECT * FROM ${gm}.llm_traces; INSERT INTO ${gd}.llm_cost_hourly SELECT * FROM ${gm}.llm_cost_hourly`);
    const [cm, cd] = (await c.query(`SELECT (SELECT count(*) FROM ${gm}.llm_calls) AS m, (SELECT count(*) FROM ${gd}.llm_calls) AS d`)).rows.map((r) => [r.m, r.d])[0];
    if (cm !== cd) throw new Error(`granularity: ${cm} monthly rows but ${cd} daily`);
    for (const x of [gm, gd]) await c.query(`ANALYZE ${x}.llm_calls; ANALYZE ${x}.llm_traces; ANALYZE ${x}.llm_cost_hourly`);
  } finally {
    await c.end();
  }
  const ids = (await pool.query(`SELECT trace_id, first_call_at FROM ${q(monthly)}.llm_traces ORDER BY random() LIMIT 40`)).rows.map((r) => r.trace_id as string);
  return { calls: GRANULARITY_CALLS, days: GRAN_DAYS, monthly: await granularitySide(monthly, ids), daily: await granularitySide(daily, ids), createDailyMs };
}

async function granularitySide(schema: string, ids: string[]): Promise<GranularitySide> {
  const s = q(schema);
  const partitions = Number((await pool.query(`SELECT count(*) AS n FROM pg_partition_tree('${s}.llm_calls'::regclass) WHERE isleaf`)).rows[0].n);
  log(`  ${schema}: ${partitions} partitions`);
  const seedSql = `SELECT time, provider, model, cost_usd, tags->>'span_name' FROM ${s}.llm_calls WHERE trace_id = $1 ORDER BY time`;
  // The calls statement of AdminQueryService.traceDetail (bounds from the trace row: run-time pruning).
  const detailSql = `SELECT span_id, parent_span_id, time, service_id, provider, model, operation, cost_usd::text AS cost, pricing_source,
                pricing_model, input_tokens, output_tokens, cached_tokens, token_breakdown, latency_ms, status, error_class,
                streamed, tags, metadata, service_tier, pricing_flags, catalog_version
           FROM ${s}.llm_calls
          WHERE trace_id = $1
            AND time >= (SELECT first_call_at FROM ${s}.llm_traces WHERE trace_id = $1)
            AND time <= (SELECT last_call_at FROM ${s}.llm_traces WHERE trace_id = $1)
          ORDER BY time, span_id`;
  const month = monthReportSql(schema);
  // A report by a tag the rollup does not keep reads calls: 30 days of them.
  const spanQuery = { groupBy: 'day', series: 'tag:span_name', from: MONTH_FROM, to: MONTH_TO } as CostsQuery;
  const span = costReportSql(s, spanQuery, new Date(MONTH_FROM), new Date(MONTH_TO), 'day');
  const run = async (sql: string, values: (i: number) => unknown[], n: number) => {
    const plan: number[] = [];
    const exec: number[] = [];
    await explain(pool, sql, values(0));
    for (let i = 0; i < n; i++) {
      const e = await explain(pool, sql, values(i));
      plan.push(e.planning);
      exec.push(e.execution);
    }
    return { plan, exec };
  };
  const locks = async (sql: string, values: unknown[]) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(sql, values);
      return Number((await client.query(`SELECT count(*) AS n FROM pg_locks WHERE pid = pg_backend_pid()`)).rows[0].n);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  };
  const seed = { ...(await run(seedSql, (i) => [ids[i % ids.length]], 20)), rt: await sample((i) => pool.query(seedSql, [ids[i % ids.length]]), { budgetMs: 4000, min: 20, max: 100, warm: 3 }), locks: await locks(seedSql, [ids[0]]) };
  const detail = { ...(await run(detailSql, (i) => [ids[i % ids.length]], 20)), locks: await locks(detailSql, [ids[0]]) };
  const monthSql = await run(month.sql, () => month.values, 10);
  const spanSql = await run(span.sql, () => span.values, 10);
  const app = await startApp(schema);
  const api: Record<string, number[]> = {};
  try {
    api.detail = await sample((i) => getJson(app.port, `/kostrack/traces/${ids[i % ids.length]}`), { budgetMs: 6000, min: 40, max: 200, warm: 5 });
    api.month = await sample(() => getJson(app.port, MONTH_PATH), { budgetMs: 6000, min: 20, max: 100, warm: 3 });
    api.span = await sample(() => getJson(app.port, `/kostrack/costs?groupBy=day&series=tag:span_name&from=${MONTH_FROM}&to=${MONTH_TO}`), { budgetMs: 6000, min: 20, max: 100, warm: 3 });
  } finally {
    await app.close();
  }
  return { partitions, seed, detailSql: detail, monthSql, spanSql, api };
}

/** Drops a schema; one with many partitions a month of them per transaction (lock table). */
async function dropSchema(schema: string): Promise<void> {
  const parts = (
    await pool.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relispartition AND c.relkind = 'r' ORDER BY 1`, [schema])
  ).rows.map((r) => r.relname as string);
  for (let i = 0; i < parts.length; i += 30) await pool.query(`DROP TABLE ${parts.slice(i, i + 30).map((p) => `${q(schema)}.${q(p)}`).join(', ')}`);
  await pool.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
}

// -- report ------------------------------------------------------------------------------------

function report(o: {
  api: ApiRun[];
  retention: RetentionRun | null;
  writer: WriterRun | null;
  ingest: IngestRun | null;
  upgrade: UpgradeRun | null;
  granularity: GranularityRun | null;
  version: string;
  settings: string;
  loadStart: number[];
  loadEnd: number[];
  minutes: number;
}): string {
  const out: string[] = [];
  const cores = cpus().length;
  const load = `load average ${o.loadStart.map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min) at the start and ${o.loadEnd.map((x) => x.toFixed(1)).join(' / ')} at the end, on ${cores} cores`;
  out.push(
    `PostgreSQL ${o.version}, local, server settings untouched (${o.settings}). ` +
      (Math.max(...o.loadStart, ...o.loadEnd) > cores
        ? `**The machine is shared and was busy** (other agents' test suites): ${load}. Absolute times are inflated by that and vary from run to run; compare rows of one run. `
        : `**The machine is shared** (other agents run test suites on it) and was fairly quiet during this run: ${load}. Absolute times vary with that load from run to run; compare rows of one run. `) +
      `No run is dropped: p50/p99 are over every timed run after the warm-up (runs column), best-of-N only where said. Whole run: ${o.minutes.toFixed(0)} min.`,
    '',
  );

  if (o.api.length) {
    const cols = o.api.map((a) => `${(a.calls / 1e6).toLocaleString('en')}M calls`);
    out.push('## 1. Admin API at ' + cols.join(' and '), '');
    out.push(
      'Generated set-based (`INSERT … SELECT generate_series`, like `bench/admin.bench.ts`) into a fresh schema at the latest version: traces of 10 calls ' +
        '(9 of them in one of 3 spans) spread evenly over the 30 days of October 2026 (one month partition), 3 services, 12 features, 100,000 users ' +
        '(`tags.user_id`), 6 models of 4 providers (two per trace), random costs up to $0.02 a call; `llm_traces` and `llm_cost_hourly` built from ' +
        "the calls (the hourly and daily ones by migrations 5 and 8's own backfill statements), then `ANALYZE`. API times are whole HTTP round trips to a running Nest app " +
        '(Express, keep-alive, one client, API key guard and validation included).',
      '',
    );
    out.push(`| data | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`);
    const dataRow = (name: string, f: (a: ApiRun) => string) => out.push(`| ${name} | ${o.api.map(f).join(' | ')} |`);
    dataRow('calls / traces / spans', (a) => `${n0(a.loaded.calls)} / ${n0(a.loaded.traces)} / ${n0(a.loaded.spans)}`);
    dataRow('`llm_cost_hourly` rows (hour × service × provider × model × feature × project × user)', (a) => `${n0(a.loaded.hourly)} (${((a.loaded.hourly / a.loaded.calls) * 100).toFixed(0)}% of calls)`);
    dataRow('`llm_cost_daily` rows (day × service × provider × model × feature × project)', (a) => n0(a.loaded.daily));
    dataRow('`llm_cost_hourly_totals` rows (the hourly key without `user_id`)', (a) => n0(a.whatIfRows.hourly));
    dataRow('size: `llm_calls` partitions / `llm_cost_hourly` / `llm_traces`', (a) => `${mb(a.loaded.callsBytes)} / ${mb(a.loaded.hourlyBytes)} / ${mb(a.loaded.tracesBytes)}`);
    dataRow('generation: calls / spans / traces / hourly / hourly totals + daily / analyze', (a) =>
      ['calls', 'spans', 'traces', 'hourly', 'daily', 'analyze'].map((k) => sec(a.loaded.took[k] ?? 0)).join(' / '),
    );
    out.push('');
    out.push(`| query | goal | ${o.api.map((a) => `${(a.calls / 1e6).toLocaleString('en')}M p50 ms | p99 ms | runs`).join(' | ')} |`);
    out.push(`|---|---|${o.api.map(() => '---:|---:|---:').join('|')}|`);
    const row = (name: string, goal: string, k: string) => out.push(`| ${name} | ${goal} | ${o.api.map((a) => `${p50(a.t[k])} | ${p99(a.t[k])} | ${a.t[k]?.length ?? 0}`).join(' | ')} |`);
    row('API `costs?groupBy=day&series=model`, 30 days', '< 20 ms', 'month');
    row('… its SQL alone (`costReportSql`: daily rollup, edge days from hourly, edge minutes from calls)', '', 'monthSql');
    row('API, the same 30 days from 07:30 to 07:30 (the two partial days from `llm_cost_hourly_totals`)', '', 'monthEdges');
    row('… naive: `GROUP BY day, provider, model` over `llm_calls` (SQL only)', '', 'naiveMonth');
    row('… the same SQL over `llm_cost_hourly_totals` alone, no daily rows (SQL only)', '', 'whatIfHourly');
    row('API `costs?groupBy=tag:feature`, one day', '', 'featureDay');
    row('… naive: `GROUP BY tags->>\'feature\'` over one day of `llm_calls` (SQL only)', '', 'naiveFeature');
    row('API `traces?user=<one of 100k>&limit=50`', '< 10 ms', 'user');
    row('API `traces?sort=cost&limit=20` (top 20)', '< 5 ms', 'top');
    row('API `traces/:id` (trace, span tree, calls, breakdown)', '< 5 ms', 'detail');
    out.push('');
    for (const a of o.api) {
      const m = median(a.t.month);
      const ratio = median(a.t.naiveMonth) / m;
      out.push(
        `- ${(a.calls / 1e6).toLocaleString('en')}M: month report p50 ${fmt(m)} ms ${ok(m < 20)} (naive GROUP BY ${fmt(median(a.t.naiveMonth))} ms, ${ratio.toFixed(1)}× slower than the API); ` +
          `one user's traces ${fmt(median(a.t.user))} ms ${ok(median(a.t.user) < 10)}; top 20 ${fmt(median(a.t.top))} ms ${ok(median(a.t.top) < 5)}; detail ${fmt(median(a.t.detail))} ms ${ok(median(a.t.detail) < 5)}. ` +
          `The month report read ${n0(a.monthDailyRows)} \`llm_cost_daily\` rows and ${n0(a.monthHourlyRows)} of \`llm_cost_hourly\` (EXPLAIN ANALYZE: planning ${fmt(a.monthPlan.planning)} ms, execution ${fmt(a.monthPlan.execution)} ms). ` +
          `API = naive GROUP BY, group for group (day × model from midnight and from 07:30, and feature): ${ok(a.monthIdentical && a.featureIdentical)}. The first user listed has ${a.userTraceCount} trace${a.userTraceCount === 1 ? '' : 's'}.`,
      );
    }
    if (o.api.length > 1) {
      const [a, b] = [o.api[0], o.api[o.api.length - 1]];
      const g = (k: string) => (median(b.t[k]) / median(a.t[k])).toFixed(1);
      out.push(
        `- Growth from ${(a.calls / 1e6).toLocaleString('en')}M to ${(b.calls / 1e6).toLocaleString('en')}M calls (×${b.calls / a.calls}), p50 ratio: month report ×${g('month')}, ` +
          `its SQL ×${g('monthSql')}, feature day ×${g('featureDay')}, user's traces ×${g('user')}, top 20 ×${g('top')}, detail ×${g('detail')}; naive month ×${g('naiveMonth')}; ` +
          `mid-day month ×${g('monthEdges')}, hourly totals alone ×${g('whatIfHourly')}.`,
      );
    }
    const big = o.api[o.api.length - 1];
    if (big.monthPlan.text) out.push('', `Month report plan at ${(big.calls / 1e6).toLocaleString('en')}M calls (\`EXPLAIN (ANALYZE, BUFFERS)\` of the API's statement):`, '', '```', big.monthPlan.text, '```');
    out.push('');
  }

  if (o.writer) {
    const w = o.writer;
    const scan = (e: Explained) => nodes(e.plan).find((x) => x['Relation Name'] === 'llm_traces')!;
    const rowsOf = (e: Explained) => {
      const x = scan(e);
      return x['Actual Rows'] + (x['Rows Removed by Filter'] ?? 0);
    };
    const bufs = (e: Explained) => (e.plan['Shared Hit Blocks'] ?? 0) + (e.plan['Shared Read Blocks'] ?? 0);
    out.push(`## 2. Written through the writer: ${n0(w.calls)} calls, ${n0(w.ties)} traces tied at the top cost`, '');
    out.push(
      `${n0(w.calls)} calls in ${n0(w.traces)} traces over October 2026 recorded through \`TelemetryStorage.open\` → \`writer.recordCall\`/\`recordSpan\` (a root span ` +
        `with the user/feature tags, a child span, 10 calls: the records \`trace()\`/\`recordCall()\` produce, with explicit times so they spread over 30 days; ` +
        `the writer made the month's partition on demand). ${n0(w.ties)} traces cost exactly $0.50 (10 calls × $0.05), every other less than $0.20. ` +
        `Chosen size: ${(w.calls / 1e6).toLocaleString('en')}M calls (the issue's own writer figure is 2M), ${w.seconds.toFixed(0)} s to write on this machine (${n0(w.calls / w.seconds)} calls/s, throttled to 100k queued). ` +
        `No ANALYZE by hand: at measurement ${w.analyzed}. Rows, trace rollup, hourly and daily rollups and cost sums exact: ${ok(w.exact)} (${w.checks.calls} calls, ${w.checks.traces} traces, ${w.checks.tied} tied, ${n0(w.hourly)} hourly rows).`,
      '',
    );
    if (w.warnings.length) out.push(`The writer warned ${w.warnings.length}× while writing: ${w.warnings.map((x) => `“${x}”`).join('; ')}.`, '');
    out.push('| top 20 by cost (SQL of `GET traces?sort=cost&limit=20`, EXPLAIN (ANALYZE, BUFFERS)) | index | rows read | buffers | execution ms |', '|---|---|---:|---:|---:|');
    out.push(`| now: \`ORDER BY total_cost_usd DESC, trace_id DESC LIMIT 21\` | \`${scan(w.top)['Index Name'] ?? scan(w.top)['Node Type']}\` | ${rowsOf(w.top)} | ${bufs(w.top)} | ${fmt(w.top.execution)} |`);
    out.push(`| before (index on \`total_cost_usd\` alone, same data, rolled back) | \`${scan(w.topCostOnly)['Index Name'] ?? scan(w.topCostOnly)['Node Type']}\` | ${rowsOf(w.topCostOnly)} | ${bufs(w.topCostOnly)} | ${fmt(w.topCostOnly.execution)} |`);
    out.push(`| next page after ${n0(w.deepPosition)} tied rows (\`cursor\`, as \`listTraces\` writes it) | \`${scan(w.deep)['Index Name'] ?? scan(w.deep)['Node Type']}\` | ${rowsOf(w.deep)} | ${bufs(w.deep)} | ${fmt(w.deep.execution)} |`);
    out.push(`| … the same page with a row comparison \`(total_cost_usd, trace_id) < ($1, $2)\` | \`${scan(w.deepRow)['Index Name'] ?? scan(w.deepRow)['Node Type']}\` | ${rowsOf(w.deepRow)} | ${bufs(w.deepRow)} | ${fmt(w.deepRow.execution)} |`);
    out.push('', '| API | goal | p50 ms | p99 ms | runs |', '|---|---|---:|---:|---:|');
    const row = (name: string, goal: string, k: string) => out.push(`| ${name} | ${goal} | ${p50(w.t[k])} | ${p99(w.t[k])} | ${w.t[k].length} |`);
    row('`traces?sort=cost&limit=20` (4,000 ties at the top)', '< 5 ms', 'top');
    row(`\`traces?sort=cost&limit=20&cursor=…\` (after ${n0(w.deepPosition)} tied rows)`, '', 'deep');
    row('`traces?user=<one of 100k>&limit=50`', '< 10 ms', 'user');
    row('`traces/:id`', '< 5 ms', 'detail');
    row('`costs?groupBy=day&series=model`, 30 days', '< 20 ms', 'month');
    out.push('', 'Top 20 plan (now):', '', '```', w.top.text, '```', '', 'Deep page plan (now):', '', '```', w.deep.text, '```', '');
  }

  if (o.ingest) {
    const g = o.ingest;
    const copy = Math.max(...g.rounds.map((r) => r.copy));
    const writer = Math.max(...g.rounds.map((r) => r.writer));
    const noUser = Math.max(...g.rounds.map((r) => r.noUser));
    out.push('## 3. Ingest: the writer with both rollups against raw COPY into the same partitioned table', '');
    out.push(
      `${n0(g.rows)} calls (traces of 10, 100k users, 12 features, 6 models, over October: ${n0(g.hourlyRows.users)} hourly rollup rows, so each batch of 5,000 upserts ~1,000 of them), ` +
        `the same rows for both, each into a fresh schema at the latest version with October's partition made beforehand. COPY: pg-copy-streams, calls only, encoding included. ` +
        `Writer: \`TelemetryStorage.open\` + \`recordCall\` (batches of 5,000: COPY + \`llm_traces\` + \`llm_cost_hourly\` in one transaction), from the first call to \`drain()\`. ` +
        `Alternating, ${INGEST_ROUNDS} rounds, best of each. Last column, for the cause: the writer with the same calls minus \`tags.user_id\` ` +
        `(${n0(g.hourlyRows.noUser)} hourly rows instead of ${n0(g.hourlyRows.users)}).`,
      '',
      '| round | raw COPY rows/s | writer rows/s | writer / COPY | rollups exact | writer, calls without user_id |',
      '|---|---:|---:|---:|---|---:|',
      ...g.rounds.map(
        (r, i) => `| ${i + 1} | ${n0(r.copy)} | ${n0(r.writer)} | ${((r.writer / r.copy) * 100).toFixed(0)}% | ${ok(r.exact)} | ${n0(r.noUser)} (${((r.noUser / r.copy) * 100).toFixed(0)}%) |`,
      ),
      `| **best** | **${n0(copy)}** | **${n0(writer)}** | **${((writer / copy) * 100).toFixed(0)}%** (goal ≥ 70%) ${ok(writer / copy >= 0.7)} | | ${n0(noUser)} (${((noUser / copy) * 100).toFixed(0)}%) |`,
      '',
      `Where a batch's time goes (the committer's steps on one connection, ${n0(g.rows / 5000)} batches of 5,000 in turn, no overlap; ms for all ${n0(g.rows)} calls):`,
      '',
      '| calls | encode (\`encodeCallsCopy\`, JS) | COPY | rollups (\`afterCopy\`: traces + hourly) | COMMIT | rows/s |',
      '|---|---:|---:|---:|---:|---:|',
      ...(['users', 'noUser'] as const).map((k) => {
        const x = g.stages[k];
        return `| ${k === 'users' ? 'as above' : 'without user_id'} | ${n0(x.encode)} | ${n0(x.copy)} | ${n0(x.rollups)} | ${n0(x.commit)} | ${n0(x.rate)} |`;
      }),
      '',
    );
  }

  if (o.retention) {
    const r = o.retention;
    out.push(`## 4. Retention: October (30 days, ${n0(r.calls)} calls) dropped`, '');
    out.push(
      `On the ${(r.calls / 1e6).toLocaleString('en')}M set of section 1, with ${n0(r.tailCalls)} calls added on November 1–2 so rows remain after the cutoff. ` +
        `The unpartitioned copy holds the same rows in time order (filled from the partitions, ${sec(r.naiveCopyMs)}), with version 4's primary key on ` +
        '`span_id` and its `(trace_id, time)` and `(time)` indexes, vacuumed and analyzed before the DELETE. Before the drop: `CHECKPOINT` and 5 s ' +
        `(the copy had just written gigabytes; a month old enough to drop was flushed long ago); autovacuum workers on the schema at that moment: ${r.autovacuum}.`,
      '',
      '| | time | `llm_calls` size before | after |',
      '|---|---:|---:|---:|',
      `| \`kostrack_drop_call_partitions('2026-11-01')\` as \`CallPartitions.dropBefore\` runs it (dropped ${r.dropped.join(', ') || 'nothing'}; statement ${fmt(r.dropParts.statement)} ms + commit ${fmt(r.dropParts.commit)} ms) | **${fmt(r.dropMs)} ms** ${ok(r.dropMs < 1000)} | ${mb(r.partitionedBefore)} | ${mb(r.partitionedAfter)} |`,
      `| physical limit: unlinking ${r.segments} files of the same sizes (the partition, its TOAST and indexes, 1 GB segments) on the same file system, written and synced beforehand | ${fmt(r.unlinkMs)} ms (drop ÷ limit ${(r.dropMs / r.unlinkMs).toFixed(2)}) | | |`,
      `| naive \`DELETE FROM llm_calls WHERE time < '2026-11-01'\` (${n0(r.deletedRows)} rows) on the unpartitioned copy | ${sec(r.deleteMs)} | ${mb(r.naiveBefore)} | ${mb(r.naiveAfterDelete)} |`,
      `| … then plain \`VACUUM\` | ${sec(r.vacuumMs)} | | ${mb(r.naiveAfterVacuum)} |`,
      '',
      `Meanwhile a writer inserted into this month through the parent every 5 ms: its longest INSERT took **${fmt(r.probeMax)} ms**. ` +
        (r.probeMax < Math.min(100, r.dropParts.commit)
          ? "The parent is locked only for the DROP statement; PostgreSQL unlinks the files after the commit has released the locks, so the commit's time " +
            '(about proportional to the gigabytes dropped: freeing the files and their cached pages) keeps no writer waiting.'
          : 'Writers waited for the drop.'),
      '',
      `The rest of a maintenance pass with retention (\`StorageMaintenance.run\`: the month's traces and their spans, by DELETE in batches of 5,000): ` +
        `${n0(r.deletedTraces)} traces in ${sec(r.maintenanceMs)}; \`llm_traces\` + \`llm_spans\` ${mb(r.tracesBytesBefore)} before, ${mb(r.tracesBytesAfter)} after (dead rows stay until vacuumed and reused).`,
      '',
    );
  }

  if (o.upgrade) {
    const u = o.upgrade;
    const same = (a: string, b: string) => (a === b ? '✓ identical' : `✗ ${a} → ${b}`);
    out.push(`## 5. Upgrade from schema version 4 with ${n0(u.calls)} calls`, '');
    out.push(
      `\`runMigrations(pool, schema, 4)\`, filled set-based like section 1 (calls, spans, traces; ${sec(u.loadMs)}), analyzed; then \`runMigrations(pool, schema)\` to the latest. ` +
        `Meanwhile another connection INSERTs one call every 20 ms (service \`probe\`, kept out of the totals).`,
      '',
      `- Migration: **${sec(u.migrateMs)}** for ${n0(u.calls)} calls = **${sec((u.migrateMs / u.calls) * 1e6)} per million rows** (one transaction).`,
      `- Writers: ${u.probes} probe INSERTs, p50 ${fmt(u.probeP50)} ms, ${u.probeBlocked} took over 100 ms, the longest **${fmt(u.probeMax)} ms**: an INSERT that arrives after the RENAME waits for the whole migration to commit.`,
      `- Legacy partition: \`llm_calls_legacy\` ${u.legacyBound}.`,
      `- Calls: ${same(u.before.calls, u.after.calls)} (${u.after.calls}).`,
      `- Calls per model: ${same(u.before.models, u.after.models)}.`,
      `- Traces: ${same(u.before.traces, u.after.traces)} (${u.after.traces}); traces whose totals differ from their calls after: ${u.tracesMatchCalls}.`,
      `- Spans: ${same(u.before.spans, u.after.spans)}.`,
      `- \`llm_cost_hourly\` backfilled: ${n0(u.hourly.calls)} calls, $${u.hourly.cost} (calls: $${u.hourly.expectCost}) ${ok(u.hourly.calls === u.calls && u.hourly.cost === u.hourly.expectCost)}.`,
      `- A replica still on the previous version, after the upgrade, sending its \`INSERT … ON CONFLICT (span_id) DO NOTHING\` (its path when a COPY meets a duplicate): ${u.oldWriterError}.`,
      '',
      'Where the time goes (the same rows in a second schema, migration 5 statement by statement in one transaction, rolled back):',
      '',
      '| statement | ms |',
      '|---|---:|',
      ...u.steps.filter((x) => x.ms >= 5).map((x) => `| ${x.label.replace(/\|/g, '\\|')} | ${fmt(x.ms)} |`),
      `| ${u.steps.filter((x) => x.ms < 5).length} more statements under 5 ms each | ${fmt(u.steps.filter((x) => x.ms < 5).reduce((a, x) => a + x.ms, 0))} |`,
      '',
    );
  }

  if (o.granularity) {
    const g = o.granularity;
    const m = g.monthly;
    const d = g.daily;
    out.push(`## 6. Partition granularity: ${m.partitions} monthly against ${d.partitions} daily partitions`, '');
    out.push(
      `The same ${n0(g.calls)} calls over ${g.days} days (Nov 2023 – Oct 2026: no retention, the default) in two schemas at the latest version; the daily one's ` +
        `partitions made with plain SQL (${sec(g.createDailyMs)} for ${g.days}), both with the 3 premade months ahead. Planning and execution are medians of EXPLAIN ANALYZE ` +
        `(${m.seed.plan.length} runs, random traces); round trips are node-pg from this process. Locks: \`pg_locks\` rows the statement's transaction holds ` +
        '(the server has 64 × 100 = 6,400 shared lock slots).',
      '',
      '| statement | monthly plan ms | exec ms | locks | daily plan ms | exec ms | locks |',
      '|---|---:|---:|---:|---:|---:|---:|',
      `| seed's per-trace \`SELECT … FROM llm_calls WHERE trace_id = $1 ORDER BY time\` | ${fmt(median(m.seed.plan))} | ${fmt(median(m.seed.exec))} | ${m.seed.locks} | ${fmt(median(d.seed.plan))} | ${fmt(median(d.seed.exec))} | ${d.seed.locks} |`,
      `| trace detail's calls (bounded by the trace's first/last call, run-time pruning) | ${fmt(median(m.detailSql.plan))} | ${fmt(median(m.detailSql.exec))} | ${m.detailSql.locks} | ${fmt(median(d.detailSql.plan))} | ${fmt(median(d.detailSql.exec))} | ${d.detailSql.locks} |`,
      `| \`costs?groupBy=day&series=model\` 30 days (hourly rollup + edge hours of calls) | ${fmt(median(m.monthSql.plan))} | ${fmt(median(m.monthSql.exec))} | | ${fmt(median(d.monthSql.plan))} | ${fmt(median(d.monthSql.exec))} | |`,
      `| \`costs?groupBy=day&series=tag:span_name\` 30 days (a tag the rollup lacks: calls) | ${fmt(median(m.spanSql.plan))} | ${fmt(median(m.spanSql.exec))} | | ${fmt(median(d.spanSql.plan))} | ${fmt(median(d.spanSql.exec))} | |`,
      '',
      '| round trip p50 ms (p99) | monthly | daily |',
      '|---|---:|---:|',
      `| seed's per-trace query (SQL, node-pg) | ${p50(m.seed.rt)} (${p99(m.seed.rt)}) | ${p50(d.seed.rt)} (${p99(d.seed.rt)}) |`,
      `| API \`traces/:id\` | ${p50(m.api.detail)} (${p99(m.api.detail)}) | ${p50(d.api.detail)} (${p99(d.api.detail)}) |`,
      `| API \`costs?groupBy=day&series=model\`, 30 days | ${p50(m.api.month)} (${p99(m.api.month)}) | ${p50(d.api.month)} (${p99(d.api.month)}) |`,
      `| API \`costs?groupBy=day&series=tag:span_name\`, 30 days | ${p50(m.api.span)} (${p99(m.api.span)}) | ${p50(d.api.span)} (${p99(d.api.span)}) |`,
      '',
    );
  }
  return out.join('\n');
}

// -- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = loadavg();
  const version = (await pool.query('SHOW server_version')).rows[0].server_version as string;
  const settings = (
    await pool.query(`SELECT string_agg(name || ' ' || setting || COALESCE(unit, ''), ', ' ORDER BY name) AS s FROM pg_settings
                       WHERE name IN ('shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather', 'max_locks_per_transaction')`)
  ).rows[0].s as string;
  log(`scale bench: sizes ${SIZES.join(', ')}; sections ${[...ONLY].join(', ')}; load ${loadStart.map((x) => x.toFixed(1)).join(' ')}`);
  const api: ApiRun[] = [];
  let retention: RetentionRun | null = null;
  if (ONLY.has('api') || ONLY.has('retention')) {
    for (const calls of SIZES) {
      const schema = `kt_scale_${calls}_${PID}`;
      if (ONLY.has('api')) api.push(await apiSection(calls));
      else await loadSet(schema, calls);
      if (ONLY.has('retention') && calls === SIZES[SIZES.length - 1]) retention = await retentionSection(calls);
      await pool.query(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
      scratch.delete(schema);
    }
  }
  const writer = ONLY.has('writer') ? await writerSection() : null;
  const ingest = ONLY.has('ingest') ? await ingestSection() : null;
  const upgrade = ONLY.has('upgrade') ? await upgradeSection() : null;
  let granularity: GranularityRun | null = null;
  if (ONLY.has('granularity')) {
    try {
      granularity = await granularitySection();
    } finally {
      for (const x of [`kt_scale_gm_${PID}`, `kt_scale_gd_${PID}`]) {
        await dropSchema(x);
        scratch.delete(x);
      }
    }
  }
  const body = report({
    api,
    retention,
    writer,
    ingest,
    upgrade,
    granularity,
    version,
    settings,
    loadStart,
    loadEnd: loadavg(),
    minutes: (performance.now() - started) / 60_000,
  });
  writeReport('scale', 'Storage at scale: partitions, hourly rollups, retention, upgrade', body);
}

try {
  await main();
} finally {
  agent.destroy();
  for (const schema of scratch) await dropSchema(schema).catch((e) => console.error(`could not drop ${schema}: ${e.message}`));
  await pool.end();
}
