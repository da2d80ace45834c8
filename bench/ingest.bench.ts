/**
 * Sustained ingest, side by side in one run, into the same schema with the same indexes:
 *   - Kostrack's BatchWriter (per batch, one transaction: COPY of the calls + the llm_traces and
 *     llm_cost_hourly rollups of exactly those rows; a batch holding an existing call goes through
 *     INSERT … ON CONFLICT DO NOTHING)
 *   - TypeORM repository.save() per row (the naive way)
 *   - raw COPY FROM STDIN of the same rows into the same table, partitioned by month (the limit; no rollup)
 * and the peak RSS above baseline while 1,000,000 calls are recorded with the database down.
 * Run: npx tsx bench/ingest.bench.ts   (DATABASE_URL, else local PostgreSQL, else embedded PGlite)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import type { CallRecord } from '../dist/core/call-record.js';
import { newId } from '../dist/core/ids.js';
import { usd, usdToString } from '../dist/core/money.js';
import { recordCall } from '../dist/core/record-call.js';
import { addSink } from '../dist/core/sinks.js';
import { trace } from '../dist/core/trace.js';
import { startEmbeddedDatabase } from '../dist/storage/embedded.database.js';
import { kostrackEntities, LlmCallEntity } from '../dist/storage/entities/index.js';
import { runMigrations } from '../dist/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../dist/storage/pg.pool.js';
import { TelemetryStorage } from '../dist/storage/telemetry.storage.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const SAVE_ROWS = Number(process.env.BENCH_SAVE_ROWS ?? 2_000);
const RSS_CALLS = Number(process.env.BENCH_RSS_CALLS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function makeCalls(n: number): CallRecord[] {
  const out: CallRecord[] = [];
  let traceId = newId();
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    if (i % 10 === 0) traceId = newId(); // workflows of 10 calls
    out.push({
      provider: 'anthropic', model: 'claude-haiku-4-5-20251001', operation: 'messages.create',
      inputTokens: 1200, outputTokens: 300, cachedTokens: 200,
      tokenBreakdown: { inputUncached: 1000, cacheRead: 200, output: 300 },
      costUsd: 2_345_000_000_000n + BigInt(i), pricingModel: 'genai-prices:claude-haiku-4-5', pricingSource: 'catalog',
      latencyMs: 850, status: 'ok', errorClass: null, streamed: false,
      spanId: newId(), traceId, parentSpanId: null, time: new Date(t0 + i), serviceId: 'bench',
      tags: { project: 'openmanagr', feature: 'invoice-pipeline', span_name: 'trace' }, metadata: {},
    });
  }
  return out;
}

const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
function copyLine(c: CallRecord): string {
  const n = (v: unknown) => (v === null || v === undefined ? '\\N' : esc(String(v)));
  return [c.spanId, c.time.toISOString(), c.serviceId, c.provider, c.model, c.operation, c.pricingModel, c.pricingSource,
    c.inputTokens, c.outputTokens, c.cachedTokens, c.costUsd === null ? null : usdToString(c.costUsd),
    JSON.stringify(c.tokenBreakdown), c.latencyMs, c.status, c.errorClass, c.streamed ? 't' : 'f', c.traceId, c.parentSpanId,
    JSON.stringify(c.tags), JSON.stringify(c.metadata)].map(n).join('\t') + '\n';
}
const COLS = 'span_id, time, service_id, provider, model, operation, pricing_model, pricing_source, input_tokens, output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class, streamed, trace_id, parent_span_id, tags, metadata';

async function databaseUrl(): Promise<{ url: string; engine: string; stop?: () => Promise<void> }> {
  const candidate = process.env.DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: candidate, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    const v = await client.query('SHOW server_version');
    await client.end();
    return { url: candidate, engine: `PostgreSQL ${v.rows[0].server_version}` };
  } catch {
    const e = await startEmbeddedDatabase({ dataDir: 'memory://' });
    return { url: e.url, engine: 'embedded PGlite (no PostgreSQL reachable)', stop: e.stop };
  }
}

async function freshSchema(admin: pg.Pool, name: string): Promise<string> {
  await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  const pool = new PgSqlPool({ connectionString: (admin as unknown as { options: { connectionString: string } }).options.connectionString, max: 1 }, () => undefined);
  await runMigrations(pool, name);
  await pool.close();
  return name;
}

async function benchCopy(admin: pg.Pool, calls: CallRecord[]): Promise<number> {
  const schema = await freshSchema(admin, 'bench_copy');
  // The writer's target: llm_calls partitioned by month. COPY routes each row to its month, which
  // must exist (the writer makes missing months on demand, inside its timing; here before it).
  const [{ partitioned }] = (await admin.query(`SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = '"${schema}".llm_calls'::regclass) AS partitioned`)).rows;
  if (!partitioned) throw new Error(`${schema}.llm_calls is not partitioned: the COPY would not measure the writer's target`);
  const times = calls.map((c) => c.time.getTime());
  await admin.query(
    `SELECT "${schema}".kostrack_ensure_call_partition(m) FROM generate_series(date_trunc('month', $1::timestamptz, 'UTC'), $2::timestamptz, interval '1 month') m`,
    [new Date(Math.min(...times)).toISOString(), new Date(Math.max(...times)).toISOString()],
  );
  const client = await admin.connect();
  const start = performance.now();
  try {
    const lines = (function* () {
      for (let i = 0; i < calls.length; i += 1000) yield calls.slice(i, i + 1000).map(copyLine).join('');
    })();
    await pipeline(Readable.from(lines), client.query(copyFrom(`COPY "${schema}".llm_calls (${COLS}) FROM STDIN`)));
  } finally {
    client.release();
  }
  return calls.length / ((performance.now() - start) / 1000);
}

async function benchWriter(url: string, calls: CallRecord[]): Promise<{ rate: number; exact: boolean }> {
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  await admin.query('DROP SCHEMA IF EXISTS bench_writer CASCADE');
  const dir = mkdtempSync(join(tmpdir(), 'kostrack-bench-'));
  const storage = (await TelemetryStorage.open({
    database: url, schema: 'bench_writer',
    writer: { batchSize: 5000, maxQueue: calls.length, flushIntervalMs: 10, spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dl.jsonl') },
  }))!;
  const start = performance.now();
  for (const c of calls) storage.writer.recordCall(c);
  await storage.writer.drain(600_000);
  const rate = calls.length / ((performance.now() - start) / 1000);
  const check = await admin.query(`SELECT (SELECT count(*) FROM bench_writer.llm_calls)::int AS calls, (SELECT sum(call_count) FROM bench_writer.llm_traces)::int AS rolled,
    (SELECT sum(total_cost_usd)::text FROM bench_writer.llm_traces) AS rolled_cost,
    (SELECT sum(calls)::int FROM bench_writer.llm_cost_hourly) AS hourly, (SELECT sum(cost_usd)::text FROM bench_writer.llm_cost_hourly) AS hourly_cost`);
  await storage.close();
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
  const cost = calls.reduce((sum, c) => sum + (c.costUsd ?? 0n), 0n);
  const r = check.rows[0];
  return {
    rate,
    exact: r.calls === calls.length && r.rolled === calls.length && usd(r.rolled_cost) === cost && r.hourly === calls.length && usd(r.hourly_cost) === cost,
  };
}

async function benchSave(url: string, calls: CallRecord[]): Promise<number> {
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  await freshSchema(Object.assign(admin, { options: { connectionString: url } }) as never, 'bench_save').catch(async () => {
    await admin.query('DROP SCHEMA IF EXISTS bench_save CASCADE');
    const p = new PgSqlPool({ connectionString: url, max: 1 }, () => undefined);
    await runMigrations(p, 'bench_save');
    await p.close();
  });
  await admin.end();
  const ds = new DataSource({ type: 'postgres', url, schema: 'bench_save', entities: kostrackEntities, poolSize: 2 });
  await ds.initialize();
  const repo = ds.getRepository(LlmCallEntity);
  const start = performance.now();
  for (const c of calls) {
    await repo.save(repo.create({ ...c, costUsd: c.costUsd === null ? null : usdToString(c.costUsd) } as never));
  }
  const rate = calls.length / ((performance.now() - start) / 1000);
  await ds.destroy();
  return rate;
}

/** Child mode: record RSS_CALLS calls through the core with the database unreachable. */
async function rssChild(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kostrack-rss-'));
  const storage = (await TelemetryStorage.open(
    { database: 'postgresql://nobody@127.0.0.1:1/none', writer: { spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dl.jsonl') } },
    { warn: () => undefined },
  ))!;
  addSink(storage.writer);
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const start = performance.now();
  for (let done = 0; done < RSS_CALLS; done += 10_000) {
    trace({ name: 'rss' }, () => {
      for (let i = 0; i < 10_000; i++)
        recordCall({ provider: 'openai', model: 'gpt-4o-mini', operation: 'chat.completions.create', inputTokens: 900, outputTokens: 120, cachedTokens: 0,
          tokenBreakdown: { inputUncached: 900, output: 120 }, costUsd: 207_000_000_000n, pricingModel: 'gpt-4o-mini', pricingSource: 'catalog',
          latencyMs: 400, status: 'ok', streamed: false });
    });
    await new Promise((r) => setImmediate(r));
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const seconds = (performance.now() - start) / 1000;
  const health = storage.writer.health();
  process.stdout.write(JSON.stringify({ baseline, peak, seconds, queue: health.queueDepth, spooled: health.spooledRows, spoolBytes: health.spoolBytes }) + '\n');
  await storage.close(100);
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  if (process.argv.includes('--rss-child')) return rssChild();
  const db = await databaseUrl();
  const admin = new pg.Pool({ connectionString: db.url, max: 2 });
  (admin as unknown as { options: { connectionString: string } }).options.connectionString = db.url;
  const calls = makeCalls(ROWS);
  console.log(`ingest bench: ${ROWS} rows on ${db.engine}`);
  // The cores are shared, so one run of each can catch a busy moment: alternate COPY and the
  // writer ROUNDS times on fresh tables and keep each one's best.
  let copy = 0;
  let writer = { rate: 0, exact: true };
  for (let round = 0; round < ROUNDS; round++) {
    const c = await benchCopy(admin, calls);
    const w = await benchWriter(db.url, makeCalls(ROWS));
    console.log(`round ${round + 1}: COPY ${c.toFixed(0)} rows/s, writer ${w.rate.toFixed(0)} rows/s (rollup exact: ${w.exact})`);
    copy = Math.max(copy, c);
    writer = { rate: Math.max(writer.rate, w.rate), exact: writer.exact && w.exact };
  }
  const save = await benchSave(db.url, makeCalls(SAVE_ROWS));
  console.log(`save(): ${save.toFixed(0)} rows/s`);
  for (const s of ['bench_copy', 'bench_writer', 'bench_save']) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await admin.end();
  await db.stop?.();

  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--rss-child'], { encoding: 'utf8', env: process.env });
  const rss = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
  const above = (rss.peak - rss.baseline) / 1024 / 1024;
  console.log(`RSS: +${above.toFixed(1)} MB over baseline while ${RSS_CALLS} calls recorded with the database down`);

  const pct = (x: number) => `${((x / copy) * 100).toFixed(1)}%`;
  const md = `# Ingest benchmark

Generated by \`bench/ingest.bench.ts\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}, ${db.engine}.
Same table and indexes for every method (\`llm_calls\` from Kostrack's migrations: partitioned by month, primary key \`(span_id, time)\`, \`(trace_id, time)\`, \`(time)\`).

| method | rows | rows/s | vs COPY |
|---|---:|---:|---:|
| raw \`COPY FROM STDIN\` into the partitioned \`llm_calls\` (pg-copy-streams; calls only, no rollup) — the limit | ${ROWS} | ${copy.toFixed(0)} | 100% |
| **Kostrack BatchWriter** (per batch of 5,000, one transaction: \`COPY\` + \`llm_traces\` and \`llm_cost_hourly\` rollups of exactly those rows; idempotent on \`(span_id, time)\`) | ${ROWS} | **${writer.rate.toFixed(0)}** | **${pct(writer.rate)}** |
| TypeORM \`repository.save()\` per row | ${SAVE_ROWS} | ${save.toFixed(0)} | ${pct(save)} |

Writer vs \`save()\`: ${(writer.rate / save).toFixed(1)}×. Rollups exact after the run (rows = sum of \`llm_traces.call_count\` = sum of \`llm_cost_hourly.calls\`, and both cost sums = the rows' exact sum): ${writer.exact}.
COPY and the writer ran alternately ${ROUNDS} times on fresh tables (the cores are shared); each one's best run is shown.
The writer's time runs from the first \`recordCall\` to the last commit (\`drain()\`), rollup included; \`save()\` is timed on fewer rows because it is slow.

## Memory with the database down

${RSS_CALLS.toLocaleString('en-US')} calls recorded through \`trace()\`/\`recordCall()\` with the database unreachable (default writer: 10,000 rows in memory, the rest spooled):
peak RSS **+${above.toFixed(1)} MB** over the baseline (goal < 100 MB); ${rss.seconds?.toFixed(1)} s; ${rss.queue} rows in memory, ${rss.spooled} rows spooled (${(rss.spoolBytes / 1024 / 1024).toFixed(0)} MB on disk).
`;
  mkdirSync(join(fileURLToPath(new URL('.', import.meta.url)), 'results'), { recursive: true });
  writeFileSync(fileURLToPath(new URL('./results/ingest.md', import.meta.url)), md);
  console.log(md);
}

await main();
