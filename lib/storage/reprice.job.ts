import { usd, usdToString, type Usd } from '../core/money.js';
import type { TokenBreakdown } from '../core/call-record.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { WebSearchTool } from '../pricing/tool-fee.prices.js';
import { sqlState } from './error.classifier.js';
import { repricedFlags } from './reprice.flags.js';
import { resolveRepriceOptions, type RepriceOptions, type RepriceReport, type ResolvedRepriceOptions } from './reprice.options.js';
import { isoMicros, repriceStatements, type CallRow, type RepriceStatements, type RunRow } from './reprice.sql.js';
import { DEFAULT_SCHEMA, validateSchemaName } from './schema.name.js';
import type { SqlPool, SqlRunner } from './sql.pool.js';

export type { RepriceOptions, RepriceProgress, RepriceReport } from './reprice.options.js';
export { repricingPriceBook, type RepricingPriceBookOptions } from './reprice.price-book.js';

/** Where to re-price: the database, its schema, and the PriceBook that gives the corrected prices. */
export interface RepriceTarget {
  pool: SqlPool;
  /** Default `public`. */
  schema?: string | undefined;
  /**
   * Prices every call anew. It must read `llm_prices` (the module's book does; outside Nest see
   * {@link repricingPriceBook}) and have read it since the correction was stored.
   */
  priceBook: PriceBook;
}

/** Deadlock and serialization failure: the batch rolled back whole, so it is simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 8;

/** One batch priced in memory: what the statement needs, and the batch's totals. */
interface PlannedBatch {
  spanIds: string[];
  times: string[];
  oldCosts: (string | null)[];
  newCosts: (string | null)[];
  models: (string | null)[];
  sources: string[];
  flags: (string | null)[];
  versions: (string | null)[];
  before: Usd;
  after: Usd;
  newlyPriced: number;
  newlyUnpriced: number;
}

/**
 * Recomputes the stored cost of every call made in `[from, to)` (optionally of one provider or
 * model) from its token buckets with `target.priceBook`, and adjusts every rollup that holds it
 * (`llm_traces`, `llm_spans`, `llm_cost_hourly`, `llm_budget_usage`) by the exact deltas.
 *
 * - Batches of `batchSize` calls in (time, span_id) order, each one transaction that also moves
 *   the run's cursor in `llm_repricings`; deadlocks with the writer are retried.
 * - Idempotent: only calls whose new cost differs from the stored one change, so a second run
 *   changes nothing.
 * - Resumable: a run that did not finish (a crash, a failure) is continued by the next call with
 *   the same range and filter, from its cursor. A run going on elsewhere is joined, batch by batch.
 * - Blocked, not-billed and no-usage calls keep their cost (it is not a price of tokens); batch
 *   calls stay at batch rates; each changed row records `priced_at` and `repricing_id`, and its
 *   usage notes in `pricing_flags` are kept while the price's flags are replaced.
 *
 * Bad options throw `KostrackConfigError` before anything is read or written.
 */
export async function reprice(target: RepriceTarget, options: RepriceOptions): Promise<RepriceReport> {
  const o = resolveRepriceOptions(options);
  const schema = validateSchemaName(target.schema ?? DEFAULT_SCHEMA);
  const sql = repriceStatements(schema);
  return o.dryRun ? dryRun(target, sql, o) : run(target, sql, o);
}

async function run(target: RepriceTarget, sql: RepriceStatements, o: ResolvedRepriceOptions): Promise<RepriceReport> {
  const { row: opened, resumed } = await openRun(target.pool, sql, o);
  const id = opened.id;
  let last = opened;
  try {
    for (;;) {
      const step = await retrying(() => target.pool.transaction((db) => runBatch(db, sql, o, target.priceBook, id)));
      last = step.row;
      if (step.scanned > 0) o.onBatch?.(progressOf(last));
      if (last.status !== 'running') break;
    }
  } catch (e) {
    // Best effort: with the database gone the run stays `running`, which a new run resumes just the same.
    await target.pool.query(sql.failRun, [id, describe(e)]).catch(() => undefined);
    throw e;
  }
  return reportOf(last, resumed, o);
}

/** The unfinished run of this range and filter, or a new one. */
async function openRun(pool: SqlPool, sql: RepriceStatements, o: ResolvedRepriceOptions): Promise<{ row: RunRow; resumed: boolean }> {
  const key = [o.from.toISOString(), o.to.toISOString(), o.provider, o.model];
  // Another process may insert or finish the same range in between: a few turns settle it.
  for (let attempt = 0; attempt < 5; attempt++) {
    const [unfinished] = await pool.query<RunRow>(sql.resumeRun, key);
    if (unfinished) return { row: unfinished, resumed: true };
    const [created] = await pool.query<RunRow>(sql.insertRun, [...key, o.by]);
    if (created) return { row: created, resumed: false };
  }
  throw new Error('reprice: could not open a run (another process keeps starting and finishing the same range)');
}

/** One batch in one transaction: lock the run, read the calls after its cursor, price, apply, advance. */
async function runBatch(
  db: SqlRunner,
  sql: RepriceStatements,
  o: ResolvedRepriceOptions,
  book: PriceBook,
  id: string,
): Promise<{ row: RunRow; scanned: number }> {
  const [locked] = await db.query<RunRow>(sql.lockRun, [id]);
  if (!locked) throw new Error(`reprice: run ${id} disappeared from llm_repricings`);
  // Finished (or failed) by a process sharing this run: nothing left for this one.
  if (locked.status !== 'running') return { row: locked, scanned: 0 };
  const calls = await readBatch(db, sql, o, locked);
  const plan = planBatch(calls, book);
  let changed = 0;
  let delta = 0n;
  let newlyPriced = 0;
  let newlyUnpriced = 0;
  if (plan.spanIds.length > 0) {
    const first = isoMicros(calls[0].us);
    const lastTime = isoMicros(calls[calls.length - 1].us);
    const [r] = await db.query<{ changed: number; delta: string; newly_priced: number; newly_unpriced: number }>(sql.applyBatch, [
      id,
      plan.spanIds,
      plan.times,
      plan.oldCosts,
      plan.newCosts,
      plan.models,
      plan.sources,
      plan.flags,
      plan.versions,
      first,
      lastTime,
    ]);
    ({ changed, newly_priced: newlyPriced, newly_unpriced: newlyUnpriced } = r);
    delta = usd(r.delta);
  }
  const tail = calls[calls.length - 1];
  const finished = calls.length < o.batchSize;
  // What the rows cost after this batch: the ones it changed by their delta, the rest as they were.
  const [row] = await db.query<RunRow>(sql.advanceRun, [
    id,
    tail ? isoMicros(tail.us) : locked.cursor_us === null ? null : isoMicros(locked.cursor_us),
    tail ? tail.span_id : locked.cursor_span_id,
    calls.length,
    changed,
    newlyPriced,
    newlyUnpriced,
    usdToString(plan.before),
    usdToString(plan.before + delta),
    calls.length > 0 ? 1 : 0,
    finished,
  ]);
  return { row, scanned: calls.length };
}

/** The next batch after `cursor`, in a transaction (the scan settings are local to it). */
async function readBatch(db: SqlRunner, sql: RepriceStatements, o: ResolvedRepriceOptions, cursor: Pick<RunRow, 'cursor_us' | 'cursor_span_id'> | null): Promise<CallRow[]> {
  const base = [o.from.toISOString(), o.to.toISOString(), o.provider, o.model, o.batchSize];
  await db.query(sql.orderedScan);
  const calls =
    cursor?.cursor_us != null && cursor.cursor_span_id != null
      ? await db.query<CallRow>(sql.nextBatch, [...base, isoMicros(cursor.cursor_us), cursor.cursor_span_id])
      : await db.query<CallRow>(sql.firstBatch, base);
  await db.query(sql.anyScan);
  return calls;
}

/** The web search tool a stored row names, if it is one the PriceBook knows (metadata is free-form). */
function webSearchToolOf(value: string | null): WebSearchTool | undefined {
  return value === 'web_search' || value === 'web_search_preview' || value === 'either' ? value : undefined;
}

/** Prices each call anew; keeps only those whose cost changes. */
export function planBatch(calls: readonly CallRow[], book: PriceBook): PlannedBatch {
  const plan: PlannedBatch = { spanIds: [], times: [], oldCosts: [], newCosts: [], models: [], sources: [], flags: [], versions: [], before: 0n, after: 0n, newlyPriced: 0, newlyUnpriced: 0 };
  for (const c of calls) {
    const old = c.cost === null ? null : usd(c.cost);
    const tokens = (typeof c.token_breakdown === 'object' && c.token_breakdown !== null ? c.token_breakdown : {}) as TokenBreakdown;
    const priced = book.price(c.provider, c.model, tokens, c.input_tokens, {
      timeMs: Math.floor(Number(c.us) / 1000),
      // A batch result stays at batch rates (its tier says `batch`, or it was priced as one).
      batch: c.pricing_source === 'batch' || c.service_tier === 'batch',
      serviceTier: c.service_tier,
      webSearchTool: webSearchToolOf(c.web_search_tool),
    });
    const now = priced.costUsd;
    plan.before += old ?? 0n;
    plan.after += now ?? 0n;
    if (now === old) continue;
    if (old === null) plan.newlyPriced++;
    if (now === null) plan.newlyUnpriced++;
    plan.spanIds.push(c.span_id);
    plan.times.push(isoMicros(c.us));
    plan.oldCosts.push(c.cost);
    plan.newCosts.push(now === null ? null : usdToString(now));
    plan.models.push(priced.pricingModel);
    plan.sources.push(priced.pricingSource);
    const flags = repricedFlags(c.pricing_flags, priced.flags);
    plan.flags.push(flags === null ? null : JSON.stringify(flags));
    plan.versions.push(priced.catalogVersion);
  }
  return plan;
}

/** The same reading and pricing, no locks and no writes. */
async function dryRun(target: RepriceTarget, sql: RepriceStatements, o: ResolvedRepriceOptions): Promise<RepriceReport> {
  const startedAt = new Date();
  let cursor: { cursor_us: string | null; cursor_span_id: string | null } | null = null;
  const totals = { scanned: 0, changed: 0, newlyPriced: 0, newlyUnpriced: 0, before: 0n, after: 0n, batches: 0 };
  for (;;) {
    const calls = await target.pool.transaction((db) => readBatch(db, sql, o, cursor));
    if (calls.length === 0) break;
    const plan = planBatch(calls, target.priceBook);
    totals.scanned += calls.length;
    totals.changed += plan.spanIds.length;
    totals.newlyPriced += plan.newlyPriced;
    totals.newlyUnpriced += plan.newlyUnpriced;
    totals.before += plan.before;
    totals.after += plan.after;
    totals.batches++;
    o.onBatch?.({ id: null, batches: totals.batches, rowsScanned: totals.scanned, rowsChanged: totals.changed });
    if (calls.length < o.batchSize) break;
    const tail = calls[calls.length - 1];
    cursor = { cursor_us: tail.us, cursor_span_id: tail.span_id };
  }
  return {
    id: null,
    dryRun: true,
    resumed: false,
    status: 'done',
    from: o.from.toISOString(),
    to: o.to.toISOString(),
    provider: o.provider,
    model: o.model,
    by: o.by,
    rowsScanned: totals.scanned,
    rowsChanged: totals.changed,
    newlyPriced: totals.newlyPriced,
    newlyUnpriced: totals.newlyUnpriced,
    totalBeforeUsd: usdToString(totals.before),
    totalAfterUsd: usdToString(totals.after),
    deltaUsd: usdToString(totals.after - totals.before),
    batches: totals.batches,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

async function retrying<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      const state = sqlState(e);
      if (i >= MAX_ATTEMPTS || state === undefined || !RETRYABLE.has(state)) throw e;
      // The other transaction usually finishes within milliseconds; jitter keeps two runs from meeting again.
      await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** i) * (0.5 + Math.random())));
    }
  }
}

function progressOf(row: RunRow): { id: number; batches: number; rowsScanned: number; rowsChanged: number } {
  return { id: Number(row.id), batches: row.batches, rowsScanned: Number(row.rows_scanned), rowsChanged: Number(row.rows_changed) };
}

function reportOf(row: RunRow, resumed: boolean, o: ResolvedRepriceOptions): RepriceReport {
  return {
    id: Number(row.id),
    dryRun: false,
    resumed,
    status: row.status,
    from: row.range_from.toISOString(),
    to: row.range_to.toISOString(),
    provider: row.provider,
    model: row.model,
    by: row.requested_by ?? o.by,
    rowsScanned: Number(row.rows_scanned),
    rowsChanged: Number(row.rows_changed),
    newlyPriced: Number(row.newly_priced),
    newlyUnpriced: Number(row.newly_unpriced),
    totalBeforeUsd: row.total_before,
    totalAfterUsd: row.total_after,
    deltaUsd: usdToString(usd(row.total_after) - usd(row.total_before)),
    batches: row.batches,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

function describe(e: unknown): string {
  const state = sqlState(e);
  const message = e instanceof Error ? e.message : String(e);
  return `${state ? `${state}: ` : ''}${message}`.slice(0, 500);
}
