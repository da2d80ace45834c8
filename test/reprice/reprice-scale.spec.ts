import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { configureKostrack } from '../../lib/core/configure.js';
import { addSink } from '../../lib/core/sinks.js';
import { PriceBook } from '../../lib/pricing/price-book.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { reprice } from '../../lib/storage/reprice.job.js';
import type { RepriceReport } from '../../lib/storage/reprice.options.js';
import { repricingPriceBook } from '../../lib/storage/reprice.price-book.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';
import { priceMismatches, rollupMismatches } from './support/consistency.js';
import { CORRECTED, UNPRICED, writeDataset } from './support/dataset.js';
import { comparableState } from './support/snapshot.js';

/**
 * Issue 15, "what must be shown": 100,000 calls across 1,000 traces (each with nested spans),
 * written through trace()/span()/recordCall() and the writer, so every rollup is the production
 * one; one model's price corrected back-dated in llm_prices; then
 *   - an uninterrupted run: every call equals a fresh PriceBook computation, every trace, span,
 *     hour and budget row equals the sum of its calls (compared in SQL), a second run changes 0;
 *   - the same calls in a second schema, re-priced by the CLI in a child process killed with
 *     SIGKILL after some batches, then resumed: it ends identical to the uninterrupted run;
 *   - a second correction re-priced while another process writes calls into the same traces,
 *     hours and budgets: nothing lost, nothing doubled, every rollup still equals its calls.
 * The embedded engine (one WASM session behind a socket) runs the same with 5,000 calls.
 */

const db = useTestDatabase('rp_scale');
const kind = inject('databaseKind');
const TRACES = kind === 'postgres' ? 1_000 : 100;
const CALLS_PER_TRACE = kind === 'postgres' ? 100 : 50;
const TOTAL = TRACES * CALLS_PER_TRACE;
const BATCH = kind === 'postgres' ? 2_000 : 250;
const FROM = new Date('2026-08-01T00:00:00.000Z');
const TO = new Date('2026-09-01T00:00:00.000Z');
/** Calls 20 s apart at 100,000 (23 days), 400 s apart at 5,000. */
const STEP_MS = Math.floor((23 * 86_400_000) / TOTAL);
const range = { from: FROM.toISOString(), to: TO.toISOString() };
const cli = fileURLToPath(new URL('../../lib/cli/kostrack.cli.ts', import.meta.url));
const ingestChild = fileURLToPath(new URL('./support/ingest.child.ts', import.meta.url));

const twin = freshSchemaName('rp_twin');
let storage: TelemetryStorage;
let detach: () => void;
let pool: PgSqlPool;
const children = new Set<ChildProcess>();
const EMPTY = { traces: [], spans: [], hourly: [], daily: [], budgets: [] };

async function q<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
  return (await db.pool.query(sql, params)).rows as R[];
}

/** The same calls and rollups in `to`: a twin to re-price another way and compare with. */
async function copySchema(from: string, to: string): Promise<void> {
  await runMigrations(pool, to);
  const [f, t] = [`"${from}"`, `"${to}"`];
  await q(`SELECT ${t}.kostrack_ensure_call_partition(m) FROM (SELECT DISTINCT date_trunc('month', time, 'UTC') AS m FROM ${f}.llm_calls) x`);
  await q(`INSERT INTO ${t}.llm_budgets OVERRIDING SYSTEM VALUE SELECT * FROM ${f}.llm_budgets`);
  for (const table of ['llm_budget_usage', 'llm_calls', 'llm_spans', 'llm_traces', 'llm_cost_hourly', 'llm_cost_hourly_totals', 'llm_cost_daily']) {
    await q(`DELETE FROM ${t}.${table}`);
    await q(`INSERT INTO ${t}.${table} SELECT * FROM ${f}.${table}`);
  }
  await q(`INSERT INTO ${t}.llm_prices OVERRIDING SYSTEM VALUE SELECT * FROM ${f}.llm_prices`);
}

/** Runs the CLI; with `killAfter`, SIGKILLs it once it has reported that many batches. */
function runCli(args: string[], killAfter?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; batches: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', cli, 'reprice', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let stdout = '';
  let stderr = '';
  let batches = 0;
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d;
    batches = (stderr.match(/, batch \d+:/g) ?? []).length;
    if (killAfter !== undefined && batches >= killAfter && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL');
  });
  return new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr, batches })));
}

beforeAll(async () => {
  configureKostrack({ serviceId: 'billing-api', tags: { project: 'openmanagr' } });
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions({ batchSize: 5_000 }) }))!;
  detach = addSink(storage.writer);
  pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
  await q(`INSERT INTO "${db.schema}".llm_budgets (name, scope_tag, scope_value, period, limit_usd, mode) VALUES
             ('per-user-day', 'user_id', NULL, 'day', 1000, 'warn'), ('invoices-month', 'feature', 'invoices', 'month', 100000, 'warn'),
             ('per-feature-hour', 'feature', NULL, 'hour', 1000, 'warn'), ('service-total', 'service', NULL, 'total', 1000000, 'warn')`);
  const started = Date.now();
  writeDataset({ traces: TRACES, callsPerTrace: CALLS_PER_TRACE, start: FROM, stepMs: STEP_MS, book: new PriceBook() });
  await storage.writer.drain(240_000);
  console.log(`reprice-scale: ${TOTAL} calls in ${TRACES} traces written through the writer in ${Date.now() - started} ms`);
  // The correction: gpt-4o-mini's price, back-dated to before every call.
  await q(`INSERT INTO "${db.schema}".llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from, note)
           VALUES ($1, $2, 0.2, 0.8, '2026-01-01T00:00:00Z', 'negotiated rate, back-dated')`, [CORRECTED.provider, CORRECTED.model]);
  await copySchema(db.schema, twin);
  const [n] = await q<{ n: number; traces: number }>(`SELECT count(*)::int AS n, count(DISTINCT trace_id)::int AS traces FROM "${twin}".llm_calls`);
  expect(n).toEqual({ n: TOTAL, traces: TRACES });
}, 600_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  detach?.();
  configureKostrack({ serviceId: 'default', tags: {} });
  await storage?.close();
  await q(`DROP SCHEMA IF EXISTS "${twin}" CASCADE`).catch(() => undefined);
  await pool?.close();
});

describe(`${TOTAL} calls across ${TRACES} traces, one model's price corrected back-dated`, () => {
  let uninterrupted: RepriceReport;

  it('an uninterrupted run: every call equals a fresh PriceBook computation, every rollup row equals the sum of its calls', { timeout: 300_000 }, async () => {
    const book = await repricingPriceBook(pool, twin);
    const started = Date.now();
    uninterrupted = await reprice({ pool, schema: twin, priceBook: book }, { ...range, batchSize: BATCH });
    const ms = Date.now() - started;
    console.log(`reprice-scale: ${uninterrupted.rowsScanned} calls read, ${uninterrupted.rowsChanged} changed in ${ms} ms (${Math.round((uninterrupted.rowsScanned / ms) * 1000)} calls/s)`);
    expect(uninterrupted).toMatchObject({ status: 'done', resumed: false });
    // The corrected model is about 60% of the mix (its batch, flex, error and aborted calls included) and the unpriced one stays unpriced.
    expect(uninterrupted.rowsChanged).toBeGreaterThan(TOTAL * 0.5);
    // Blocked, not-billed and no-usage calls (10% of the mix) are not prices.
    expect(uninterrupted.rowsScanned).toBe(TOTAL * 0.9);
    const prices = await priceMismatches(db.pool, twin, book, FROM, TO);
    expect(prices.checked).toBe(uninterrupted.rowsScanned);
    expect(prices.wrong).toEqual([]);
    expect(await rollupMismatches(db.pool, twin)).toEqual(EMPTY);
  });

  it('a second run changes 0 rows', { timeout: 300_000 }, async () => {
    const again = await reprice({ pool, schema: twin, priceBook: await repricingPriceBook(pool, twin) }, { ...range, batchSize: BATCH });
    expect(again).toMatchObject({ rowsChanged: 0, deltaUsd: '0', totalBeforeUsd: uninterrupted.totalAfterUsd, status: 'done' });
    const [marks] = await q<{ runs: string[] }>(`SELECT array_agg(DISTINCT repricing_id::text) AS runs FROM "${twin}".llm_calls WHERE repricing_id IS NOT NULL`);
    expect(marks.runs).toEqual([String(uninterrupted.id)]);
  });

  it('a CLI run killed with SIGKILL after some batches, then run again, ends identical to the uninterrupted run', { timeout: 300_000 }, async () => {
    const args = ['--database', db.url, '--schema', db.schema, '--from', range.from, '--to', range.to, '--batch-size', String(BATCH)];
    const killed = await runCli(args, 5);
    expect(killed.signal).toBe('SIGKILL');
    const [left] = await q<{ status: string; batches: number; scanned: number }>(
      `SELECT status, batches, rows_scanned::int AS scanned FROM "${db.schema}".llm_repricings`,
    );
    // Killed mid-way: the run is on record as running, with what its committed batches did.
    expect(left.status).toBe('running');
    expect(left.batches).toBeGreaterThanOrEqual(5);
    expect(left.scanned).toBeLessThan(uninterrupted.rowsScanned);
    expect(left.scanned).toBe(left.batches * BATCH);

    const resumed = await runCli([...args, '--quiet']);
    // Quiet: no progress; what is left is the PriceBook naming the model it has no price for.
    expect(resumed.stderr.trim().split('\n')).toEqual([`kostrack reprice: warning: Kostrack has no price for openai model "${UNPRICED.model}"; its calls are recorded as unpriced. Add it to the prices option.`]);
    expect(resumed.code).toBe(0);
    const report = JSON.parse(resumed.stdout) as RepriceReport;
    expect(report).toMatchObject({ resumed: true, status: 'done', by: expect.stringMatching(/^cli:/) });
    for (const k of ['rowsScanned', 'rowsChanged', 'newlyPriced', 'newlyUnpriced', 'totalBeforeUsd', 'totalAfterUsd', 'deltaUsd'] as const)
      expect(report[k]).toEqual(uninterrupted[k]);
    expect(await comparableState(db.pool, db.schema)).toEqual(await comparableState(db.pool, twin));
    expect(await rollupMismatches(db.pool, db.schema)).toEqual(EMPTY);
  });

  it('re-priced while another process writes into the same traces, hours and budgets: nothing lost, nothing doubled', { timeout: 300_000 }, async () => {
    // A second correction, for the run to have work while the other process writes.
    await q(`UPDATE "${db.schema}".llm_prices SET input_per_mtok = 0.25, output_per_mtok = 0.75 WHERE model = $1`, [CORRECTED.model]);
    const [before] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".llm_calls`);
    const writer = spawn(
      process.execPath,
      ['--import', 'tsx', ingestChild, db.url, db.schema, String(FROM.getTime()), String(23 * 86_400_000), '1000000', kind === 'postgres' ? '40' : '150'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.add(writer);
    let out = '';
    let err = '';
    writer.stderr.on('data', (d) => (err += d));
    const ready = new Promise<void>((resolve, reject) => {
      writer.stdout.on('data', (d) => {
        out += d;
        if (out.startsWith('ready\n')) resolve();
      });
      writer.on('exit', (code) => reject(new Error(`ingest child exited (${code}) before it was ready: ${err}`)));
    });
    const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));
    await ready;
    const book = await repricingPriceBook(pool, db.schema);
    const [written] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".llm_calls WHERE tags->>'ingest' = 'alongside'`);
    const report = await reprice({ pool, schema: db.schema, priceBook: book }, { ...range, batchSize: BATCH });
    const [during] = await q<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".llm_calls WHERE tags->>'ingest' = 'alongside'`);
    writer.stdin.write('stop\n');
    expect(await exited).toBe(0);
    const { written: sent, spanIds } = JSON.parse(out.slice('ready\n'.length)) as { written: number; spanIds: string[] };
    console.log(`reprice-scale: ${report.rowsChanged} calls re-priced while another process wrote ${sent} calls (${during.n - written.n} of them during the run)`);
    // The other process really wrote while the run went on.
    expect(during.n).toBeGreaterThan(written.n);
    expect(report.rowsChanged).toBeGreaterThan(TOTAL * 0.5);

    // Nothing lost, nothing doubled: every call it sent is there once, and nothing else is new.
    const [after] = await q<{ n: number; ids: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE span_id = ANY($1::uuid[]))::int AS ids FROM "${db.schema}".llm_calls`,
      [spanIds],
    );
    expect(after).toEqual({ n: before.n + sent, ids: sent });
    // Its calls were priced at the new price already; the run's at the new price now: all fresh, and every rollup sums its calls.
    const prices = await priceMismatches(db.pool, db.schema, book, FROM, TO);
    expect(prices.wrong).toEqual([]);
    expect(await rollupMismatches(db.pool, db.schema)).toEqual(EMPTY);
  });
});
