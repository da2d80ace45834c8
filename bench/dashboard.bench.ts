/**
 * The dashboard at scale: bundle size (raw and gzip), and the first render of the traces view in
 * headless Chromium against a running Nest app over 1,000,000 calls in 100,000 traces (generated
 * set-based in a fresh schema of local PostgreSQL, as bench/admin.bench.ts does).
 * Run: `npx tsx bench/dashboard.bench.ts` after `npm run build` (or `npm run bench dashboard`).
 * Writes bench/results/dashboard.md. DATABASE_URL picks the server (default postgres://root@127.0.0.1:5432/test);
 * CHROMIUM_PATH the browser (default /usr/bin/chromium).
 */
import 'reflect-metadata';
import { gzipSync } from 'node:zlib';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { withAdmin } from '../dist/admin/admin.loader.js';
import { DASHBOARD_CSS, DASHBOARD_JS } from '../dist/admin/dashboard/dashboard.bundle.js';
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
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCHEMA = `kt_bench_dashboard_${process.pid}`;
const TRACES = 100_000;
const CALLS_PER_TRACE = 10;
const API_KEY = 'bench-dashboard-key-0123456789';
const LOADS = 15;
/** The whole generated month: the traces view over every one of the 1,000,000 calls. */
const HASH = '#/?from=2026-10-01&to=2026-11-01';

const pool = new pg.Pool({ connectionString: URL_, max: 2 });
const s = `"${SCHEMA}"`;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

/** Calls, spans, the trace rollup and the hourly rollup, each one INSERT … SELECT (as in admin.bench.ts; some calls read from cache). */
async function load(): Promise<number> {
  const sql = new PgSqlPool({ connectionString: URL_, max: 1 }, () => undefined);
  await runMigrations(sql, SCHEMA);
  await sql.close();
  const base = `timestamptz '2026-10-01T00:00:00Z'`;
  const [, took] = await timed(async () => {
    await pool.query(
      `SELECT ${s}.kostrack_ensure_call_partition(m)
         FROM generate_series(date_trunc('month', ${base}, 'UTC'), ${base} + ${TRACES} * interval '25 seconds', interval '1 month') m`,
    );
    await pool.query(`
      INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_model, pricing_source,
             input_tokens, output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class,
             streamed, trace_id, parent_span_id, tags, metadata)
      SELECT md5('c' || i)::uuid,
             ${base} + (tr * interval '25 seconds') + (k * interval '300 milliseconds'),
             'svc-' || (tr % 3),
             (ARRAY['openai','anthropic','gemini','openai'])[1 + k % 4],
             (ARRAY['gpt-4o-mini','claude-haiku-4-5','gemini-2.5-flash','gpt-4o'])[1 + k % 4],
             'chat', 'bench', 'catalog', 1000 + k * 10, 200 + k, CASE WHEN k % 2 = 0 THEN 600 ELSE 0 END,
             round((random() * 0.02)::numeric, 12),
             '{"inputUncached": 1000, "output": 200}', 250, CASE WHEN i % 97 = 0 THEN 'error' ELSE 'ok' END, NULL, false,
             md5('t' || tr)::uuid,
             CASE WHEN k = 0 THEN NULL ELSE md5('s' || tr || '-' || (k % 3))::uuid END,
             jsonb_build_object('project', 'bench', 'feature', 'feature-' || (tr % 8), 'user_id', 'u-' || (tr % 1000), 'span_name', 'step'),
             '{}'
        FROM generate_series(0, ${TRACES * CALLS_PER_TRACE - 1}) AS i,
             LATERAL (SELECT i / ${CALLS_PER_TRACE} AS tr, i % ${CALLS_PER_TRACE} AS k) x`);
    await pool.query(`
      INSERT INTO ${s}.llm_spans (span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at, status, tags, cost_usd, call_count)
      SELECT md5('s' || tr || '-' || k)::uuid, md5('t' || tr)::uuid, md5('r' || tr)::uuid, false, 'step-' || k, 'svc-' || (tr % 3),
             ${base} + (tr * interval '25 seconds') + (k * interval '300 milliseconds'),
             ${base} + (tr * interval '25 seconds') + interval '3 seconds', 'ok', '{}', 0, 0
        FROM generate_series(0, ${TRACES - 1}) AS tr, generate_series(0, 2) AS k`);
    await pool.query(`
      INSERT INTO ${s}.llm_traces (trace_id, name, root_span_id, tags, service_ids, status, started_at, ended_at, first_call_at, last_call_at,
             total_cost_usd, call_count, unpriced_call_count, error_call_count, input_tokens, output_tokens, cached_tokens)
      SELECT c.trace_id, 'workflow', min(md5('r' || (c.tags->>'user_id'))::text)::uuid, (array_agg(c.tags - 'span_name'))[1], array_agg(DISTINCT c.service_id), 'ok',
             min(c.time), max(c.time + c.latency_ms * interval '1 millisecond'), min(c.time), max(c.time),
             trim_scale(sum(c.cost_usd)), count(*), 0, count(*) FILTER (WHERE c.status = 'error'), sum(c.input_tokens), sum(c.output_tokens), sum(c.cached_tokens)
        FROM ${s}.llm_calls c GROUP BY c.trace_id`);
    const backfill = scaleUp(SCHEMA).find((q) => /^\s*INSERT INTO \S+\.llm_cost_hourly\b/.test(q));
    if (!backfill) throw new Error('migration 5 has no llm_cost_hourly backfill statement');
    await pool.query(backfill);
    await pool.query(`ANALYZE ${s}.llm_calls; ANALYZE ${s}.llm_spans; ANALYZE ${s}.llm_traces; ANALYZE ${s}.llm_cost_hourly`);
  });
  return took;
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(1) : ms.toFixed(0));
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const js = Buffer.byteLength(DASHBOARD_JS);
  const css = Buffer.byteLength(DASHBOARD_CSS);
  const jsGz = gzipSync(DASHBOARD_JS, { level: 9 }).length;
  const cssGz = gzipSync(DASHBOARD_CSS, { level: 9 }).length;

  console.log(`loading ${TRACES * CALLS_PER_TRACE} calls in ${TRACES} traces into ${SCHEMA} …`);
  const loadMs = await load();
  const counts = (await pool.query(`SELECT (SELECT count(*) FROM ${s}.llm_calls) AS calls, (SELECT count(*) FROM ${s}.llm_traces) AS traces`)).rows[0];

  // KostrackModule's own parts (as admin.bench.ts: tsx emits no decorator metadata for the interceptor).
  const options: KostrackModuleOptions = {
    database: URL_,
    schema: SCHEMA,
    admin: { enabled: true, apiKey: API_KEY },
    writer: { spoolDir: `/tmp/${SCHEMA}-spool`, deadLetterFile: `/tmp/${SCHEMA}-dead.jsonl` },
  };
  @Module({})
  class BenchAdminModule {}
  const book = new PriceBook();
  const admin = await withAdmin(
    { module: BenchAdminModule, providers: [{ provide: KOSTRACK_OPTIONS, useValue: options }, KostrackStorageLifecycle, { provide: KOSTRACK_PRICE_BOOK, useValue: book }] },
    options.admin,
  );
  const app = await NestFactory.create(admin, { logger: ['error'], abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  const origin = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });

  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    // The key is in the tab's session before the page's script runs; each load records, in the
    // page's own clock (ms since navigation start), when the first trace rows and the whole view
    // were in the DOM.
    await context.addInitScript((key: string) => {
      sessionStorage.setItem('kostrack-admin-key', key);
      const marks: Record<string, number> = {};
      (window as unknown as { __marks: Record<string, number> }).__marks = marks;
      new MutationObserver(() => {
        if (!marks.rows && document.querySelector('[data-testid=traces-table] tbody tr')) marks.rows = performance.now();
        if (!marks.ready && document.querySelector('main.view[data-ready=true]')) marks.ready = performance.now();
      }).observe(document, { subtree: true, childList: true, attributes: true });
    }, API_KEY);
    const page = await context.newPage();
    const rows: number[] = [];
    const ready: number[] = [];
    const apis = new Map<string, number[]>();
    for (let i = 0; i < LOADS + 2; i++) {
      // A real load each time (a goto to the same URL with a hash would stay in the document).
      await page.goto('about:blank');
      await page.goto(`${origin}/kostrack/${HASH}`);
      await page.waitForSelector('main.view[data-ready=true]', { timeout: 60_000 });
      if ((await page.locator('[data-testid=traces-table] tbody tr').count()) !== 50) throw new Error('the traces view did not list 50 traces');
      const m = await page.evaluate(() => (window as unknown as { __marks: Record<string, number> }).__marks);
      const timings = await page.evaluate(() =>
        performance.getEntriesByType('resource').map((e) => ({ name: new URL(e.name).pathname.replace(/^.*\/kostrack\//, ''), ms: e.duration })),
      );
      if (i < 2) continue; // warm-up: plans, caches, JIT
      rows.push(m.rows);
      ready.push(m.ready);
      for (const t of timings) apis.set(t.name, [...(apis.get(t.name) ?? []), t.ms]);
    }
    const apiRows = [...apis.entries()]
      .filter(([name]) => !name.startsWith('dashboard.') && name !== '')
      .sort((a, b) => median(b[1]) - median(a[1]))
      .map(([name, xs]) => `| \`GET ${name}\` | ${fmt(median(xs))} | ${fmt(percentile(xs, 90))} |`);
    const goal = median(rows) < 300;
    writeReport(
      'dashboard',
      'Dashboard: bundle size and first render at 1,000,000 calls',
      [
        '## Bundle (served from the package, no CDN)',
        '',
        '| file | raw | gzip -9 |',
        '|---|---:|---:|',
        `| dashboard.js | ${kb(js)} | ${kb(jsGz)} |`,
        `| dashboard.css | ${kb(css)} | ${kb(cssGz)} |`,
        `| total | ${kb(js + css)} | ${kb(jsGz + cssGz)} |`,
        '',
        '## First render of the traces view',
        '',
        `${Number(counts.calls).toLocaleString('en')} calls in ${Number(counts.traces).toLocaleString('en')} traces over 29 days, generated set-based (${(loadMs / 1000).toFixed(0)} s with both rollups). ` +
          `Headless Chromium (${browser.version()}), 1440 × 1000, loads \`/kostrack/${HASH}\` (every call in range) ${LOADS} times after 2 warm-up loads; ` +
          'times are in the page\'s clock from navigation start: HTML, script, CSS, key check, and the API round trips to a Nest app (Express) on local PostgreSQL ' +
          `${(await pool.query('SHOW server_version')).rows[0].server_version}.`,
        '',
        '| milestone | p50 ms | p90 ms |',
        '|---|---:|---:|',
        `| first 50 trace rows in the DOM | ${fmt(median(rows))} | ${fmt(percentile(rows, 90))} |`,
        `| whole overview done (summary, charts, top users and features, cost per run, cache savings) | ${fmt(median(ready))} | ${fmt(percentile(ready, 90))} |`,
        '',
        `- goal: first render of the traces view under 300 ms: p50 ${fmt(median(rows))} ms ${goal ? '✓' : '✗'}`,
        '',
        'The overview\'s API requests as the browser timed them (they run in parallel):',
        '',
        '| request | p50 ms | p90 ms |',
        '|---|---:|---:|',
        ...apiRows,
      ].join('\n'),
    );
  } finally {
    await browser.close();
    await app.close();
  }
}

try {
  await main();
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await pool.end();
}
