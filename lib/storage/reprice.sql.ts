import { quoteSchema } from './schema.name.js';

/**
 * The statements of a re-price run. Times cross to JavaScript as whole microseconds since the
 * epoch (`us`) and come back as ISO-8601 text with six decimals: a JS Date holds milliseconds,
 * and a keyset cursor rounded to the millisecond would skip or repeat calls stored with more.
 */
export interface RepriceStatements {
  /** A new run, unless one of the same range and filter is unfinished: then nothing ($1–$5). */
  insertRun: string;
  /** The unfinished run of a range and filter ($1–$4), its failure (if any) cleared. */
  resumeRun: string;
  /** Locks the run for one batch: concurrent runners of one run take turns, each from the latest cursor. */
  lockRun: string;
  /** Makes the next batch read walk the time index in order (see {@link ORDERED_SCAN}). */
  orderedScan: string;
  /** Gives the planner its choice back for the rest of the transaction. */
  anyScan: string;
  /** The first batch of a run: calls in [$1, $2) of provider $3 and model $4 (NULL: any), $5 of them. */
  firstBatch: string;
  /** A later batch: the same after the cursor ($6 time, $7 span id). */
  nextBatch: string;
  /** Applies one batch's new prices and adjusts every rollup by the exact deltas (see {@link applyBatchSql}). */
  applyBatch: string;
  /** Moves the cursor and adds the batch's counts and totals to the run, and finishes it ($11). */
  advanceRun: string;
  /** Marks a run failed with its error ($2). */
  failRun: string;
}

/**
 * A batch is the next `batchSize` calls in (time, span_id) order: cheap when read by walking the
 * `time` index from the cursor (an incremental sort on span_id), whatever the range holds. Without
 * fresh statistics (a month just written, a bulk import) the planner expects a few hundred rows
 * and reads the whole rest of the range through a bitmap scan and a top-N sort instead: each batch
 * then costs the rest of the range (at 100,000 calls, 100 ms per batch of 2,000 instead of 2.5 ms).
 * So, for the read only, those plans are off (transaction-local; `anyScan` turns them back on).
 */
const ORDERED_SCAN = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`;
const ANY_SCAN = `SELECT set_config('enable_seqscan', 'on', true), set_config('enable_bitmapscan', 'on', true)`;

/** Calls whose cost is not the price of their tokens: refused (blocked), not billed, or with no usage to price. */
const NOT_A_PRICE = `pricing_source NOT IN ('blocked', 'not-billed', 'no-usage') AND status <> 'blocked'`;

const CALL_COLUMNS = `span_id, (extract(epoch FROM time) * 1000000)::bigint::text AS us, provider, model, input_tokens, token_breakdown,
       cost_usd::text AS cost, pricing_source, pricing_flags, service_tier, metadata->>'web_search_tool' AS web_search_tool`;

const RUN_COLUMNS = `id::text, range_from, range_to, provider, model, requested_by, status, rows_scanned::text, rows_changed::text,
       newly_priced::text, newly_unpriced::text, trim_scale(total_before_usd)::text AS total_before, trim_scale(total_after_usd)::text AS total_after,
       batches, (extract(epoch FROM cursor_time) * 1000000)::bigint::text AS cursor_us, cursor_span_id, started_at, finished_at`;

/**
 * One statement per batch, so the call rows and every rollup holding them change together or not
 * at all. `changed` is the calls actually updated: a row is only updated while its cost is still
 * the one this batch read (`IS NOT DISTINCT FROM`), so two runs over the same calls, or a retried
 * batch, never apply a delta twice. Each rollup then gets the sum of exactly those rows' deltas:
 * - `llm_traces`: the total, and the unpriced count when a call goes priced ↔ unpriced;
 * - `llm_spans`: the call's span and each ancestor up to this process's root of the trace (the
 *   span costs a process writes hold its own calls only; a remote parent never counted this call);
 * - `llm_cost_hourly`: the call's hour and key (the writer's `kostrack_dims`); `llm_cost_hourly_totals`
 *   and `llm_cost_daily` its hour and day and key without the user;
 * - `llm_budget_usage.spent`: every budget the writer counted the call in, those that existed
 *   when its row was inserted (`recorded_at`; the call's time for rows from before version 6).
 * Rollup rows are updated, never created: a missing row held nothing to adjust. Groups whose
 * deltas cancel out are left alone (no lock taken for nothing), and each rollup's rows are taken
 * in key order, as the writer takes them.
 */
/** The re-price's update of a rollup without the user, by the calls' `grain` and user-less key, in key order. */
function userlessUpdate(s: string, cte: string, table: string, grain: 'hour' | 'day'): string {
  return `${cte} AS (
  UPDATE ${s}.${table} r SET cost_usd = trim_scale(r.cost_usd + x.d), unpriced_calls = r.unpriced_calls + x.du
    FROM (SELECT t, ${s}.kostrack_dims(service_id, provider, model, feature, project, NULL) AS dims, d, du
            FROM (SELECT date_trunc('${grain}', time, 'UTC') AS t, service_id, provider, model, tags->>'feature' AS feature,
                         tags->>'project' AS project, sum(d) AS d, sum(du) AS du
                    FROM changed GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(d) <> 0 OR sum(du) <> 0) g
           ORDER BY 1, 2) x
   WHERE r.${grain} = x.t AND r.dims = x.dims
  RETURNING 1`;
}

function applyBatchSql(s: string): string {
  return `
-- PostgreSQL runs data-modifying CTEs that nothing reads in reverse order of their place here: spans,
-- then daily, hourly totals, hourly, traces and budgets last, the order the writer's batch takes the same rows in
-- (batch.sql.ts). A re-price beside a writer so never waits for a row the writer holds while holding
-- one the writer waits for.
WITH RECURSIVE v AS (
  SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::numeric[], $5::numeric[], $6::text[], $7::text[], $8::jsonb[], $9::text[])
    AS v(span_id, time, old_cost, new_cost, pricing_model, pricing_source, pricing_flags, catalog_version)
), changed AS (
  UPDATE ${s}.llm_calls c
     SET cost_usd = v.new_cost, pricing_model = v.pricing_model, pricing_source = v.pricing_source, pricing_flags = v.pricing_flags,
         catalog_version = v.catalog_version, priced_at = now(), repricing_id = $1
    FROM v
   -- The batch's time range lets PostgreSQL search only its months' partitions.
   WHERE c.span_id = v.span_id AND c.time = v.time AND c.time >= $10::timestamptz AND c.time <= $11::timestamptz
     AND c.cost_usd IS NOT DISTINCT FROM v.old_cost
  RETURNING c.time, c.trace_id, c.parent_span_id, c.service_id, c.provider, c.model, c.tags, c.recorded_at,
            COALESCE(v.new_cost, 0) - COALESCE(v.old_cost, 0) AS d,
            -- +1: one more unpriced call; -1: one fewer.
            (v.new_cost IS NULL)::int - (v.old_cost IS NULL)::int AS du
), budget_calls AS (
  -- Every budget period, in any time zone, is whole quarter hours (zones are offset from UTC by
  -- multiples of 15 minutes: +05:30, +05:45), so calls of one quarter, scope and landing count
  -- together; a row from before version 6 has no landing time and is taken alone (by its own time).
  SELECT date_bin('15 minutes', time, 'epoch') AS quarter, service_id, tags, COALESCE(recorded_at, time) AS landed, sum(d) AS d
    FROM changed GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0
), budget_up AS (
  UPDATE ${s}.llm_budget_usage u SET spent = trim_scale(u.spent + x.d)
    FROM (SELECT b.id AS budget_id, k.v AS scope_value, ${s}.kostrack_period_start(b.period, c.quarter, b.time_zone) AS period_start, sum(c.d) AS d
            FROM budget_calls c
           CROSS JOIN (SELECT DISTINCT scope_tag FROM ${s}.llm_budgets) t
           CROSS JOIN LATERAL (SELECT CASE WHEN t.scope_tag = 'service' THEN c.service_id ELSE c.tags ->> t.scope_tag END AS v) k
            JOIN ${s}.llm_budgets b ON b.scope_tag = t.scope_tag AND (b.scope_value = k.v OR b.scope_value IS NULL)
           -- Only the budgets the writer counted the call in: those that existed when its row landed.
           WHERE k.v IS NOT NULL AND b.created_at <= c.landed
           GROUP BY 1, 2, 3 HAVING sum(c.d) <> 0 ORDER BY 1, 2, 3) x
   WHERE u.budget_id = x.budget_id AND u.scope_value = x.scope_value AND u.period_start = x.period_start
  RETURNING 1
), trace_up AS (
  UPDATE ${s}.llm_traces t
     SET total_cost_usd = trim_scale(t.total_cost_usd + x.d), unpriced_call_count = t.unpriced_call_count + x.du, updated_at = now()
    FROM (SELECT trace_id, sum(d) AS d, sum(du) AS du FROM changed WHERE trace_id IS NOT NULL
           GROUP BY trace_id HAVING sum(d) <> 0 OR sum(du) <> 0 ORDER BY trace_id) x
   WHERE t.trace_id = x.trace_id
  RETURNING 1
), hourly_up AS (
  UPDATE ${s}.llm_cost_hourly h SET cost_usd = trim_scale(h.cost_usd + x.d), unpriced_calls = h.unpriced_calls + x.du
    -- Summed by the key's columns first: kostrack_dims (an md5) once per hour and key, not per call.
    FROM (SELECT hour, ${s}.kostrack_dims(service_id, provider, model, feature, project, user_id) AS dims, d, du
            FROM (SELECT date_trunc('hour', time, 'UTC') AS hour, service_id, provider, model, tags->>'feature' AS feature,
                         tags->>'project' AS project, tags->>'user_id' AS user_id, sum(d) AS d, sum(du) AS du
                    FROM changed GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING sum(d) <> 0 OR sum(du) <> 0) g
           ORDER BY 1, 2) x
   WHERE h.hour = x.hour AND h.dims = x.dims
  RETURNING 1
), ${userlessUpdate(s, 'totals_up', 'llm_cost_hourly_totals', 'hour')}
), ${userlessUpdate(s, 'daily_up', 'llm_cost_daily', 'day')}
), span_walk (span_id, parent_span_id, is_root, d, depth) AS (
  SELECT p.span_id, p.parent_span_id, p.is_root, x.d, 1
    FROM (SELECT parent_span_id, sum(d) AS d FROM changed WHERE parent_span_id IS NOT NULL GROUP BY 1 HAVING sum(d) <> 0) x
    JOIN ${s}.llm_spans p ON p.span_id = x.parent_span_id
  UNION ALL
  SELECT p.span_id, p.parent_span_id, p.is_root, w.d, w.depth + 1
    FROM span_walk w JOIN ${s}.llm_spans p ON p.span_id = w.parent_span_id
   -- A local root's parent is in another process (or is the trace itself); a corrupt cycle ends too.
   WHERE NOT w.is_root AND w.depth < 1000
), span_up AS (
  UPDATE ${s}.llm_spans p SET cost_usd = trim_scale(p.cost_usd + x.d)
    FROM (SELECT span_id, sum(d) AS d FROM span_walk GROUP BY span_id HAVING sum(d) <> 0 ORDER BY span_id) x
   WHERE p.span_id = x.span_id
  RETURNING 1
)
SELECT (SELECT count(*) FROM changed)::int AS changed,
       (SELECT COALESCE(trim_scale(sum(d)), 0)::text FROM changed) AS delta,
       (SELECT count(*) FROM changed WHERE du < 0)::int AS newly_priced,
       (SELECT count(*) FROM changed WHERE du > 0)::int AS newly_unpriced`;
}

export function repriceStatements(schema: string): RepriceStatements {
  const s = quoteSchema(schema);
  const batchWhere = `time >= $1::timestamptz AND time < $2::timestamptz
     AND ($3::text IS NULL OR provider = $3) AND ($4::text IS NULL OR model = $4) AND ${NOT_A_PRICE}`;
  return {
    insertRun: `INSERT INTO ${s}.llm_repricings (range_from, range_to, provider, model, requested_by)
                VALUES ($1::timestamptz, $2::timestamptz, $3, $4, $5)
                ON CONFLICT (range_from, range_to, (COALESCE(provider, '')), (COALESCE(model, ''))) WHERE status <> 'done' DO NOTHING
                RETURNING ${RUN_COLUMNS}`,
    resumeRun: `UPDATE ${s}.llm_repricings SET status = 'running', error = NULL, updated_at = now()
                 WHERE range_from = $1::timestamptz AND range_to = $2::timestamptz AND COALESCE(provider, '') = COALESCE($3, '')
                   AND COALESCE(model, '') = COALESCE($4, '') AND status <> 'done'
                RETURNING ${RUN_COLUMNS}`,
    lockRun: `SELECT ${RUN_COLUMNS} FROM ${s}.llm_repricings WHERE id = $1 FOR UPDATE`,
    orderedScan: ORDERED_SCAN,
    anyScan: ANY_SCAN,
    firstBatch: `SELECT ${CALL_COLUMNS} FROM ${s}.llm_calls
                  WHERE ${batchWhere}
                  ORDER BY time, span_id LIMIT $5`,
    // Spelt out rather than a row comparison, so the (time) index bounds the scan.
    nextBatch: `SELECT ${CALL_COLUMNS} FROM ${s}.llm_calls
                 WHERE ${batchWhere} AND time >= $6::timestamptz AND (time > $6::timestamptz OR span_id > $7::uuid)
                 ORDER BY time, span_id LIMIT $5`,
    applyBatch: applyBatchSql(s),
    advanceRun: `UPDATE ${s}.llm_repricings
                    SET cursor_time = $2::timestamptz, cursor_span_id = $3::uuid, rows_scanned = rows_scanned + $4::bigint,
                        rows_changed = rows_changed + $5::bigint, newly_priced = newly_priced + $6::bigint,
                        newly_unpriced = newly_unpriced + $7::bigint, total_before_usd = trim_scale(total_before_usd + $8::numeric),
                        total_after_usd = trim_scale(total_after_usd + $9::numeric), batches = batches + $10::int, updated_at = now(),
                        status = CASE WHEN $11::boolean THEN 'done' ELSE status END,
                        finished_at = CASE WHEN $11::boolean THEN now() ELSE finished_at END
                  WHERE id = $1
                 RETURNING ${RUN_COLUMNS}`,
    failRun: `UPDATE ${s}.llm_repricings SET status = 'failed', error = $2, updated_at = now() WHERE id = $1 AND status = 'running'`,
  };
}

/** A run row as {@link RepriceStatements} return it. */
export interface RunRow {
  id: string;
  range_from: Date;
  range_to: Date;
  provider: string | null;
  model: string | null;
  requested_by: string | null;
  status: 'running' | 'done' | 'failed';
  rows_scanned: string;
  rows_changed: string;
  newly_priced: string;
  newly_unpriced: string;
  total_before: string;
  total_after: string;
  batches: number;
  cursor_us: string | null;
  cursor_span_id: string | null;
  started_at: Date;
  finished_at: Date | null;
}

/** A call as a batch reads it. */
export interface CallRow {
  span_id: string;
  /** Microseconds since the epoch. */
  us: string;
  provider: string;
  model: string;
  input_tokens: number;
  token_breakdown: unknown;
  cost: string | null;
  pricing_source: string;
  pricing_flags: unknown;
  service_tier: string | null;
  /** Which OpenAI web search tool the request offered (recorded in metadata): its calls have their own fee. */
  web_search_tool: string | null;
}

/** Exact ISO-8601 text (six decimals, UTC) of a time in microseconds since the epoch. */
export function isoMicros(us: string | bigint): string {
  const micros = BigInt(us);
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const rest = micros - ms * 1000n;
  return new Date(Number(ms)).toISOString().replace('Z', `${rest.toString().padStart(3, '0')}Z`);
}
