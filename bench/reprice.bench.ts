/**
 * Re-pricing throughput at 1,000,000 calls (issue 15): a fresh schema of local PostgreSQL filled
 * set-based (calls, spans, traces, hourly and budget rollups consistent with each other), one
 * model's price corrected back-dated in llm_prices, then `reprice()`: a dry run, real runs at two
 * batch sizes, and a run with nothing left to change. Every rollup is checked against its calls
 * after the real runs.
 * Run: `npx tsx bench/reprice.bench.ts` (or `npm run bench reprice`). Writes bench/results/reprice.md.
 * DATABASE_URL picks the server (default postgres://root@127.0.0.1:5432/test); BENCH_CALLS the size.
 */
import pg from 'pg';
import { configureKostrack } from '../dist/core/configure.js';
import { usdToString } from '../dist/core/money.js';
import { PriceBook } from '../dist/pricing/price-book.js';
import { scaleUp } from '../dist/storage/migrations/0005-scale.migration.js';
import { runMigrations } from '../dist/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../dist/storage/pg.pool.js';
import { reprice, repricingPriceBook, type RepriceReport } from '../dist/storage/reprice.job.js';
import { writeReport } from './bench.report.js';

const URL_ = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const CALLS = Number(process.env.BENCH_CALLS ?? 1_000_000);
const PER_TRACE = 100;
const SCHEMA = `kt_bench_reprice_${process.pid}`;
const s = `"${SCHEMA}"`;
const FROM = '2026-06-01T00:00:00Z';
const TO = '2026-07-01T00:00:00Z';
/** Calls 2.4 s apart: 1,000,000 of them fill 28 days of June. */
const STEP_MS = Math.floor((28 * 86_400_000) / CALLS);

const pool = new pg.Pool({ connectionString: URL_, max: 2 });
const q = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await fn();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

/** The mix, per call number mod 20: what it is, its tokens, and its cost at catalog prices. */
function kinds(): { sql: string } {
  const book = new PriceBook();
  const at = { timeMs: Date.parse(FROM) };
  const k = [
    { n: 12, provider: 'openai', model: 'gpt-4o-mini', tokens: { inputUncached: 1000, output: 200 }, input: 1000, output: 200, cached: 0 },
    { n: 2, provider: 'openai', model: 'gpt-4o-mini', tokens: { inputUncached: 400, cacheRead: 600, output: 100 }, input: 1000, output: 100, cached: 600 },
    { n: 4, provider: 'anthropic', model: 'claude-haiku-4-5-20251001', tokens: { inputUncached: 1000, cacheRead: 200, output: 300 }, input: 1200, output: 300, cached: 200 },
    { n: 1, provider: 'openai', model: 'gpt-4o-mini', tokens: { inputUncached: 2000, output: 500 }, input: 2000, output: 500, cached: 0, batch: true },
    { n: 1, provider: 'openai', model: 'gpt-4o-mini', tokens: {}, input: 0, output: 0, cached: 0, blocked: true },
  ];
  const rows: string[] = [];
  let slot = 0;
  for (const x of k) {
    const p = x.blocked ? null : book.price(x.provider, x.model, x.tokens, x.input, { ...at, batch: x.batch });
    for (let i = 0; i < x.n; i++, slot++) {
      const cost = x.blocked ? '0' : usdToString(p!.costUsd!);
      const source = x.blocked ? 'blocked' : p!.pricingSource;
      rows.push(
        `(${slot}, '${x.provider}', '${x.model}', ${x.input}, ${x.output}, ${x.cached}, '${JSON.stringify(x.tokens)}'::jsonb, ${cost}::numeric, '${source}', ` +
          `${p?.pricingModel ? `'${p.pricingModel}'` : 'NULL'}, ${x.batch ? `'batch'` : 'NULL'}, '${x.blocked ? 'blocked' : 'ok'}')`,
      );
    }
  }
  return { sql: `(VALUES ${rows.join(',\n')}) AS k(slot, provider, model, input, output, cached, tokens, cost, source, pricing_model, tier, status)` };
}

/** Set-based generation: calls, then every rollup computed from them in one pass each (as the writer would have kept them). */
async function load(): Promise<Record<string, number>> {
  const sql = new PgSqlPool({ connectionString: URL_, max: 1 }, () => undefined);
  await runMigrations(sql, SCHEMA);
  await sql.close();
  const took: Record<string, number> = {};
  await q(`SELECT ${s}.kostrack_ensure_call_partition(timestamptz '${FROM}')`);
  await q(`INSERT INTO ${s}.llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode) VALUES
             ('per-user-day', 'user_id', NULL, 'day', 100, 'warn'), ('per-feature-month', 'feature', NULL, 'month', 100000, 'warn')`);
  // Calls 0-33 of a trace run in its root, 34-66 in span `plan`, 67-99 in `step` inside `work`.
  [, took.calls] = await timed(() =>
    q(`
      INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_model, pricing_source, input_tokens,
             output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, streamed, trace_id, parent_span_id, tags, service_tier)
      SELECT md5('c' || i)::uuid, timestamptz '${FROM}' + i * interval '${STEP_MS} milliseconds', 'bench', k.provider, k.model, 'chat',
             k.pricing_model, k.source, k.input, k.output, k.cached, k.cost, k.tokens, 400, k.status, false, md5('t' || tr)::uuid,
             CASE WHEN c < 34 THEN NULL WHEN c < 67 THEN md5('s' || tr || '-plan')::uuid ELSE md5('s' || tr || '-step')::uuid END,
             jsonb_build_object('project', 'bench', 'feature', 'feature-' || (tr % 5), 'user_id', 'u-' || (tr % 1000),
                                'span_name', CASE WHEN c < 34 THEN 'run' WHEN c < 67 THEN 'plan' ELSE 'step' END),
             k.tier
        FROM generate_series(0, ${CALLS - 1}) AS i
       CROSS JOIN LATERAL (SELECT i / ${PER_TRACE} AS tr, i % ${PER_TRACE} AS c) x
        JOIN ${kinds().sql} ON k.slot = i % 20`),
  );
  [, took.spans] = await timed(() =>
    q(`
      INSERT INTO ${s}.llm_spans (span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at, status, tags, cost_usd, call_count)
      SELECT md5('s' || tr || '-' || n)::uuid, md5('t' || tr)::uuid,
             CASE n WHEN 'step' THEN md5('s' || tr || '-work')::uuid ELSE md5('r' || tr)::uuid END, false, n, 'bench',
             timestamptz '${FROM}' + tr * ${PER_TRACE} * interval '${STEP_MS} milliseconds',
             timestamptz '${FROM}' + (tr + 1) * ${PER_TRACE} * interval '${STEP_MS} milliseconds', 'ok', '{}', 0, 0
        FROM generate_series(0, ${CALLS / PER_TRACE - 1}) AS tr, unnest(ARRAY['plan', 'work', 'step']) AS n`),
  );
  [, took.spanCosts] = await timed(async () => {
    await q(`UPDATE ${s}.llm_spans p SET cost_usd = x.cost, call_count = x.n
               FROM (SELECT parent_span_id, trim_scale(COALESCE(sum(cost_usd), 0)) AS cost, count(*) AS n FROM ${s}.llm_calls
                      WHERE parent_span_id IS NOT NULL GROUP BY 1) x WHERE p.span_id = x.parent_span_id`);
    // `work` holds what `step` holds.
    await q(`UPDATE ${s}.llm_spans w SET cost_usd = st.cost_usd, call_count = st.call_count FROM ${s}.llm_spans st
              WHERE st.parent_span_id = w.span_id AND w.name = 'work'`);
  });
  [, took.traces] = await timed(() =>
    q(`
      INSERT INTO ${s}.llm_traces (trace_id, name, root_span_id, tags, service_ids, status, started_at, ended_at, first_call_at, last_call_at,
             total_cost_usd, call_count, unpriced_call_count, error_call_count, input_tokens, output_tokens, cached_tokens)
      SELECT trace_id, 'workflow', NULL, '{}', ARRAY['bench'], 'ok', min(time), max(time), min(time), max(time),
             trim_scale(COALESCE(sum(cost_usd), 0)), count(*), count(*) FILTER (WHERE cost_usd IS NULL), 0,
             sum(input_tokens), sum(output_tokens), sum(cached_tokens)
        FROM ${s}.llm_calls GROUP BY trace_id`),
  );
  const backfill = scaleUp(SCHEMA).find((x) => /^\s*INSERT INTO \S+\.llm_cost_hourly\b/.test(x));
  if (!backfill) throw new Error('migration 5 has no llm_cost_hourly backfill statement');
  [, took.hourly] = await timed(() => q(backfill));
  [, took.budgets] = await timed(() =>
    q(`
      INSERT INTO ${s}.llm_budget_usage (budget_id, scope_value, period_start, spent, calls)
      SELECT b.id, c.tags ->> b.scope_tag, ${s}.kostrack_period_start(b.period, c.time), trim_scale(sum(COALESCE(c.cost_usd, 0))),
             count(*) FILTER (WHERE c.status <> 'blocked')
        FROM ${s}.llm_calls c CROSS JOIN ${s}.llm_budgets b GROUP BY 1, 2, 3`),
  );
  [, took.analyze] = await timed(() => q(`ANALYZE ${s}.llm_calls; ANALYZE ${s}.llm_spans; ANALYZE ${s}.llm_traces; ANALYZE ${s}.llm_cost_hourly`));
  return took;
}

/** Rollup rows that do not equal the sum of their calls (0 everywhere, or the run broke something). */
async function mismatches(): Promise<Record<string, number>> {
  const one = async (sql: string) => Number((await q(`SELECT count(*) AS n FROM (${sql}) x`))[0].n);
  return {
    traces: await one(`SELECT 1 FROM ${s}.llm_traces t FULL JOIN (SELECT trace_id, COALESCE(sum(cost_usd), 0) AS cost,
                              count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced FROM ${s}.llm_calls GROUP BY 1) c USING (trace_id)
                        WHERE t.total_cost_usd IS DISTINCT FROM c.cost OR t.unpriced_call_count IS DISTINCT FROM c.unpriced`),
    // A span holds its calls and, for `work`, those of the `step` inside it.
    spans: await one(`SELECT 1 FROM ${s}.llm_spans p LEFT JOIN (
                        SELECT span_id, sum(cost) AS cost FROM (
                          SELECT parent_span_id AS span_id, COALESCE(cost_usd, 0) AS cost FROM ${s}.llm_calls WHERE parent_span_id IS NOT NULL
                          UNION ALL
                          SELECT st.parent_span_id, COALESCE(c.cost_usd, 0) FROM ${s}.llm_calls c JOIN ${s}.llm_spans st ON st.span_id = c.parent_span_id
                        ) x GROUP BY 1) y USING (span_id)
                       WHERE p.cost_usd IS DISTINCT FROM COALESCE(y.cost, 0)`),
    hourly: await one(`SELECT 1 FROM ${s}.llm_cost_hourly h FULL JOIN (
                         SELECT date_trunc('hour', time, 'UTC') AS hour, ${s}.kostrack_dims(service_id, provider, model, tags->>'feature',
                                tags->>'project', tags->>'user_id') AS dims, COALESCE(sum(cost_usd), 0) AS cost FROM ${s}.llm_calls GROUP BY 1, 2) c
                         USING (hour, dims) WHERE h.cost_usd IS DISTINCT FROM c.cost`),
    budgets: await one(`SELECT 1 FROM ${s}.llm_budget_usage u FULL JOIN (
                          SELECT b.id AS budget_id, c.tags ->> b.scope_tag AS scope_value, ${s}.kostrack_period_start(b.period, c.time) AS period_start,
                                 sum(COALESCE(c.cost_usd, 0)) AS cost FROM ${s}.llm_calls c CROSS JOIN ${s}.llm_budgets b GROUP BY 1, 2, 3) c
                          USING (budget_id, scope_value, period_start) WHERE u.spent IS DISTINCT FROM c.cost`),
  };
}

interface Row {
  name: string;
  batch: number;
  report: RepriceReport;
  ms: number;
}

async function main(): Promise<void> {
  configureKostrack({ warn: () => undefined });
  console.log(`loading ${CALLS.toLocaleString('en')} calls into ${SCHEMA} …`);
  const [took, loadMs] = await timed(load);
  console.log(`loaded in ${(loadMs / 1000).toFixed(1)} s (${Object.entries(took).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')})`);
  const before = await mismatches();
  if (Object.values(before).some((n) => n > 0)) throw new Error(`generated rollups disagree with their calls: ${JSON.stringify(before)}`);

  const sql = new PgSqlPool({ connectionString: URL_, max: 1 }, () => undefined);
  const rows: Row[] = [];
  const run = async (name: string, batch: number, dryRun = false) => {
    const priceBook = await repricingPriceBook(sql, SCHEMA);
    const [report, ms] = await timed(() => reprice({ pool: sql, schema: SCHEMA, priceBook }, { from: FROM, to: TO, batchSize: batch, dryRun, by: 'bench' }));
    rows.push({ name, batch, report, ms });
    console.log(`${name} (batch ${batch}): ${report.rowsScanned} read, ${report.rowsChanged} changed in ${(ms / 1000).toFixed(1)} s`);
  };
  /** A correction: gpt-4o-mini's rates, back-dated to before every call; each call makes them different again. */
  let cents = 20;
  const correct = async () => {
    cents++;
    await q(`DELETE FROM ${s}.llm_prices`);
    await q(`INSERT INTO ${s}.llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from) VALUES ('openai', 'gpt-4o-mini', $1, $2, '2026-01-01')`, [
      `0.${cents}`,
      `0.${cents * 4}`,
    ]);
    // Each real run leaves a dead version of every row it changed; the next one starts from a clean table.
    await q(`VACUUM ANALYZE ${s}.llm_calls`);
  };
  let after: Record<string, number> = {};
  try {
    await correct();
    await run('dry run', 5000, true);
    await run('re-price', 5000);
    after = await mismatches();
    await run('again: nothing left to change', 5000);
    await correct();
    await run('re-price', 2000);
    const second = await mismatches();
    for (const [k, v] of Object.entries(second)) after[k] = (after[k] ?? 0) + v;
    await correct();
    await run('re-price', 20_000);
  } finally {
    await sql.close();
    await q(`DROP SCHEMA ${s} CASCADE`).catch(() => undefined);
  }
  const server = String((await q('SHOW server_version'))[0].server_version);
  const buffers = String((await q('SHOW shared_buffers'))[0].shared_buffers);
  await pool.end();

  const perS = (n: number, ms: number) => Math.round((n / ms) * 1000).toLocaleString('en');
  const table = [
    '| run | batch | calls read | calls changed | seconds | calls read/s | calls changed/s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.batch.toLocaleString('en')} | ${r.report.rowsScanned.toLocaleString('en')} | ${r.report.rowsChanged.toLocaleString('en')} | ${(r.ms / 1000).toFixed(1)} | ${perS(r.report.rowsScanned, r.ms)} | ${r.report.rowsChanged ? perS(r.report.rowsChanged, r.ms) : '—'} |`,
    ),
  ];
  const exact = Object.values(after).every((n) => n === 0);
  writeReport(
    'reprice',
    `Re-pricing ${CALLS.toLocaleString('en')} calls`,
    [
      `PostgreSQL ${server} (shared_buffers ${buffers}). ${CALLS.toLocaleString('en')} calls in ${(CALLS / PER_TRACE).toLocaleString('en')} traces (100 calls and 3 nested spans each), one month, in a fresh schema; ` +
        `generated set-based (INSERT … SELECT generate_series) in ${(loadMs / 1000).toFixed(0)} s with every rollup (traces, spans, hourly, budget usage for 2 budgets) built from the calls. ` +
        `The mix: 75% gpt-4o-mini (5% of it batch results), 20% claude-haiku-4-5, 5% blocked (not a price: skipped). ` +
        `The correction: a back-dated llm_prices row for gpt-4o-mini, changed before each real run so that every one has the same work.`,
      '',
      table.join('\n'),
      '',
      `- Dry run: reads and prices every call, writes nothing (no llm_repricings row).`,
      `- A real run: per batch, one transaction: the calls whose cost changes are updated (guarded by their old cost) and the same statement adjusts`,
      `  their traces, spans (parent and ancestors), hourly buckets and budget usage by the exact deltas; the run's cursor and totals move with it.`,
      `- Every rollup equals the sum of its calls after the real runs (checked in SQL, to the last decimal): ${exact ? 'true' : `FALSE ${JSON.stringify(after)}`}.`,
      `- What a real run adds to a dry run is writes: each changed call becomes a new row version with three index entries (primary key,`,
      `  (trace_id, time), (time)), plus the rollup rows; at this size the table does not fit in shared_buffers, so they cost reads and writes of pages.`,
      `- Each real run starts on a vacuumed table: a run leaves a dead version of every row it changed, and the next one would also pay for those.`,
      `- Batch size: larger batches are fewer statements, but a batch holds the rollup rows it adjusts (budget usage included, which a budget`,
      `  admission waits on, 2 s by default) until it commits: 5,000 is the default, 20,000 the most \`reprice\` accepts.`,
    ].join('\n'),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
