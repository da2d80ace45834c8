/**
 * Admin API at scale: 1,000,000 calls in 100,000 traces in a fresh schema of local PostgreSQL,
 * then "top 20 traces by cost" and "one trace's detail" through a running Nest app over HTTP,
 * next to the seed's GROUP BY over llm_calls and the seed's `trace_costs` query.
 * Run: `npx tsx bench/admin.bench.ts` (or `npm run bench admin`). Writes bench/results/admin.md.
 * DATABASE_URL picks the server (default postgres://root@127.0.0.1:5432/test).
 */
import 'reflect-metadata';
import { Agent, request } from 'node:http';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { withAdmin } from '../dist/admin/admin.loader.js';
import { KOSTRACK_OPTIONS } from '../dist/nest/kostrack.module-definition.js';
import { KostrackStorageLifecycle } from '../dist/nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../dist/nest/llm-clients.providers.js';
import type { KostrackModuleOptions } from '../dist/nest/kostrack.options.js';
import { PriceBook } from '../dist/pricing/price-book.js';
import { scaleUp } from '../dist/storage/migrations/0005-scale.migration.js';
import { runMigrations } from '../dist/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../dist/storage/pg.pool.js';
import { median, percentile, writeReport } from './bench.report.js';

const URL_ = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = `kt_bench_admin_${process.pid}`;
const TRACES = 100_000;
const CALLS_PER_TRACE = 10;
const API_KEY = 'bench-admin-key-0123456789';
const ROUNDS = 400;

const pool = new pg.Pool({ connectionString: URL_, max: 2 });
const s = `"${SCHEMA}"`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

/**
 * Set-based generation: a few INSERT … SELECT generate_series statements instead of a million
 * round trips. Calls 0 of each trace run in the root; the others in one of three spans.
 */
async function load(): Promise<Record<string, number>> {
  const sql = new PgSqlPool({ connectionString: URL_, max: 1 }, () => undefined);
  await runMigrations(sql, SCHEMA);
  await sql.close();
  const took: Record<string, number> = {};
  const base = `timestamptz '2026-10-01T00:00:00Z'`;
  // llm_calls is partitioned by month: the months filled here need their partitions first (the
  // writer makes them on demand; a direct INSERT does not).
  await pool.query(
    `SELECT ${s}.kostrack_ensure_call_partition(m)
       FROM generate_series(date_trunc('month', ${base}, 'UTC'), ${base} + ${TRACES} * interval '25 seconds', interval '1 month') m`,
  );
  [, took.calls] = await timed(() =>
    pool.query(`
      INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_model, pricing_source,
             input_tokens, output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class,
             streamed, trace_id, parent_span_id, tags, metadata)
      SELECT md5('c' || i)::uuid,
             ${base} + (tr * interval '25 seconds') + (k * interval '300 milliseconds'),
             'svc-' || (tr % 3),
             (ARRAY['openai','anthropic','gemini','openai'])[1 + k % 4],
             (ARRAY['gpt-4o-mini','claude-haiku-4-5','gemini-2.5-flash','gpt-4o'])[1 + k % 4],
             'chat', 'bench', 'catalog', 1000 + k * 10, 200 + k, 0,
             round((random() * 0.02)::numeric, 12),
             '{"inputUncached": 1000, "output": 200}', 250, 'ok', NULL, false,
             md5('t' || tr)::uuid,
             CASE WHEN k = 0 THEN NULL ELSE md5('s' || tr || '-' || (k % 3))::uuid END,
             jsonb_build_object('project', 'bench', 'feature', 'feature-' || (tr % 8), 'user_id', 'u-' || (tr % 1000), 'span_name', 'step'),
             '{}'
        FROM generate_series(0, ${TRACES * CALLS_PER_TRACE - 1}) AS i,
             LATERAL (SELECT i / ${CALLS_PER_TRACE} AS tr, i % ${CALLS_PER_TRACE} AS k) x`),
  );
  [, took.spans] = await timed(() =>
    pool.query(`
      INSERT INTO ${s}.llm_spans (span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at, status, tags, cost_usd, call_count)
      SELECT md5('s' || tr || '-' || k)::uuid, md5('t' || tr)::uuid, md5('r' || tr)::uuid, false, 'step-' || k, 'svc-' || (tr % 3),
             ${base} + (tr * interval '25 seconds') + (k * interval '300 milliseconds'),
             ${base} + (tr * interval '25 seconds') + interval '3 seconds', 'ok', '{}', 0, 0
        FROM generate_series(0, ${TRACES - 1}) AS tr, generate_series(0, 2) AS k`),
  );
  // The rollup the writer maintains at ingest, built here in one pass from the call rows.
  [, took.traces] = await timed(() =>
    pool.query(`
      INSERT INTO ${s}.llm_traces (trace_id, name, root_span_id, tags, service_ids, status, started_at, ended_at, first_call_at, last_call_at,
             total_cost_usd, call_count, unpriced_call_count, error_call_count, input_tokens, output_tokens, cached_tokens)
      SELECT c.trace_id, 'workflow', min(md5('r' || (c.tags->>'user_id'))::text)::uuid, (array_agg(c.tags - 'span_name'))[1], array_agg(DISTINCT c.service_id), 'ok',
             min(c.time), max(c.time + c.latency_ms * interval '1 millisecond'), min(c.time), max(c.time),
             trim_scale(sum(c.cost_usd)), count(*), 0, 0, sum(c.input_tokens), sum(c.output_tokens), 0
        FROM ${s}.llm_calls c GROUP BY c.trace_id`),
  );
  // The hourly cost rollup, built the way migration 5 backfills it from stored calls (the writer maintains it at ingest).
  const backfill = scaleUp(SCHEMA).find((sql) => /^\s*INSERT INTO \S+\.llm_cost_hourly\b/.test(sql));
  if (!backfill) throw new Error('migration 5 has no llm_cost_hourly backfill statement');
  [, took.hourly] = await timed(() => pool.query(backfill));
  [, took.analyze] = await timed(() =>
    pool.query(`ANALYZE ${s}.llm_calls; ANALYZE ${s}.llm_spans; ANALYZE ${s}.llm_traces; ANALYZE ${s}.llm_cost_hourly`),
  );
  return took;
}

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

async function sample(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i); // warm-up: JIT, plans, buffers
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await timed(() => fn(i)))[1]);
  return out;
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
const row = (name: string, xs: number[]) => `| ${name} | ${fmt(median(xs))} | ${fmt(percentile(xs, 99))} | ${xs.length} |`;

async function main(): Promise<void> {
  console.log(`loading ${TRACES * CALLS_PER_TRACE} calls in ${TRACES} traces into ${SCHEMA} …`);
  const took = await load();
  const counts = (await pool.query(`SELECT (SELECT count(*) FROM ${s}.llm_calls) AS calls, (SELECT count(*) FROM ${s}.llm_traces) AS traces`)).rows[0];
  console.log(`loaded in ${Object.entries(took).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}`);

  // KostrackModule's own parts, minus the trace interceptor: tsx (esbuild) emits no decorator
  // metadata, which the interceptor's constructor injection needs. The admin side is unchanged:
  // same controllers, guard, validation pipes, services and storage lifecycle as in an app.
  const options: KostrackModuleOptions = {
    database: URL_,
    schema: SCHEMA,
    admin: { enabled: true, apiKey: API_KEY },
    writer: { spoolDir: `/tmp/${SCHEMA}-spool`, deadLetterFile: `/tmp/${SCHEMA}-dead.jsonl` },
  };
  @Module({})
  class BenchAdminModule {}
  const admin = await withAdmin(
    {
      module: BenchAdminModule,
      providers: [{ provide: KOSTRACK_OPTIONS, useValue: options }, KostrackStorageLifecycle, { provide: KOSTRACK_PRICE_BOOK, useValue: new PriceBook() }],
    },
    options.admin,
  );
  // abortOnError: false, so a boot failure throws here and the bench schema is still dropped.
  const app = await NestFactory.create(admin, { logger: ['error'], abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;

  try {
    const top = await httpGet(port, '/kostrack/traces?sort=cost&limit=20');
    if (top.status !== 200) throw new Error(`top 20: HTTP ${top.status} ${top.body}`);
    const topIds = JSON.parse(top.body).items.map((i: { traceId: string }) => i.traceId) as string[];

    // The same 20, computed the seed's way: GROUP BY over every call row.
    const seedSql = `SELECT trace_id, sum(cost_usd) AS total_cost_usd, count(*) AS call_count, min(time) AS started_at
                       FROM ${s}.llm_calls WHERE trace_id IS NOT NULL GROUP BY trace_id ORDER BY total_cost_usd DESC, trace_id DESC LIMIT 20`;
    const seedIds = (await pool.query(seedSql)).rows.map((r) => r.trace_id);
    if (seedIds.join() !== topIds.join()) throw new Error('the API and the GROUP BY disagree on the top 20');

    const apiTop = await sample(ROUNDS, () => httpGet(port, '/kostrack/traces?sort=cost&limit=20'));
    const traceIds = (await pool.query(`SELECT trace_id FROM ${s}.llm_traces ORDER BY random() LIMIT ${ROUNDS + 50}`)).rows.map((r) => r.trace_id as string);
    const apiDetail = await sample(ROUNDS, async (i) => {
      const r = await httpGet(port, `/kostrack/traces/${traceIds[i % traceIds.length]}`);
      if (r.status !== 200) throw new Error(`detail: HTTP ${r.status}`);
    });
    const apiList = await sample(ROUNDS, () => httpGet(port, '/kostrack/traces?limit=50&feature=feature-3'));
    // A later keyset page (after the first 200): an index range from the cursor, no OFFSET to walk.
    const deep = JSON.parse((await httpGet(port, `/kostrack/traces?sort=cost&limit=200`)).body).nextCursor as string;
    const apiNextPage = await sample(ROUNDS, () => httpGet(port, `/kostrack/traces?sort=cost&limit=20&cursor=${deep}`));
    const costsDay = await sample(20, () => httpGet(port, '/kostrack/costs?groupBy=model&from=2026-10-05&to=2026-10-06'));
    // What the dashboard's chart asks for over the whole data set: a scan of every call row.
    const costsMonth = await sample(3, () => httpGet(port, '/kostrack/costs?groupBy=day&series=model&from=2026-10-01&to=2026-11-01'));
    const groupBy = await sample(7, () => pool.query(seedSql));
    const viewTop = await sample(ROUNDS, () => pool.query(`SELECT * FROM ${s}.trace_costs ORDER BY total_cost_usd DESC LIMIT 20`));
    const seedDetail = await sample(ROUNDS, (i) =>
      pool.query(`SELECT time, provider, model, cost_usd, tags->>'span_name' FROM ${s}.llm_calls WHERE trace_id = $1 ORDER BY time`, [traceIds[i % traceIds.length]]),
    );
    const plan = (await pool.query(`EXPLAIN SELECT * FROM ${s}.trace_costs ORDER BY total_cost_usd DESC LIMIT 20`)).rows.map((r) => r['QUERY PLAN']).join('\n');

    const ratio = median(groupBy) / median(apiTop);
    const goals = [
      `- top 20 through the API: p50 ${fmt(median(apiTop))} ms (goal < 5 ms) ${median(apiTop) < 5 ? '✓' : '✗'}`,
      `- top 20 through the API vs the seed's GROUP BY: ${ratio.toFixed(0)}× faster (goal ≥ 100×) ${ratio >= 100 ? '✓' : '✗'}`,
      `- trace detail through the API: p50 ${fmt(median(apiDetail))} ms (goal < 5 ms) ${median(apiDetail) < 5 ? '✓' : '✗'}`,
      `- \`SELECT * FROM trace_costs ORDER BY total_cost_usd DESC LIMIT 20\`: p50 ${fmt(median(viewTop))} ms (goal < 5 ms) ${median(viewTop) < 5 ? '✓' : '✗'}`,
    ];
    writeReport(
      'admin',
      'Admin API at 1,000,000 calls',
      [
        `${Number(counts.calls).toLocaleString('en')} calls in ${Number(counts.traces).toLocaleString('en')} traces (10 calls and 3 spans each) in a fresh schema; ` +
          `generated with INSERT … SELECT generate_series (calls ${(took.calls / 1000).toFixed(1)} s, spans ${(took.spans / 1000).toFixed(1)} s, trace rollup ${(took.traces / 1000).toFixed(1)} s, hourly rollup ${(took.hourly / 1000).toFixed(1)} s; \`llm_calls\` partitioned by month). ` +
          `API timings are whole HTTP round trips to a running Nest app (Express, keep-alive, one client), API key guard and validation included. PostgreSQL ${(await pool.query('SHOW server_version')).rows[0].server_version}, local.`,
        '',
        '| query | p50 ms | p99 ms | runs |',
        '|---|---:|---:|---:|',
        row('API `GET traces?sort=cost&limit=20` (top 20 by cost)', apiTop),
        row("seed-style `GROUP BY trace_id` over llm_calls, top 20 (SQL only)", groupBy),
        row('`SELECT * FROM trace_costs ORDER BY total_cost_usd DESC LIMIT 20` (SQL only)', viewTop),
        row('API `GET traces/:id` (trace, span tree, calls, breakdown)', apiDetail),
        row("seed's per-trace query `WHERE trace_id = … ORDER BY time` (SQL only)", seedDetail),
        row('API `GET traces?feature=…&limit=50` (latest first, filtered)', apiList),
        row('API `GET traces?sort=cost&limit=20&cursor=…` (a later page)', apiNextPage),
        row('API `GET costs?groupBy=model` over one day (3,456 traces, 34,560 calls)', costsDay),
        row('API `GET costs?groupBy=day&series=model` over all 1,000,000 calls (29 days)', costsMonth),
        '',
        ...goals,
        '',
        'The API and the GROUP BY return the same 20 trace ids (checked before timing).',
        '',
        '`trace_costs` plan:',
        '',
        '```',
        plan,
        '```',
      ].join('\n'),
    );
  } finally {
    await app.close();
    agent.destroy();
  }
}

try {
  await main();
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await pool.end();
}
