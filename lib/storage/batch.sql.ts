import { createHash } from 'node:crypto';
import type { CallRecord, SpanRecord } from '../core/call-record.js';
import { usdToString } from '../core/money.js';
import { COPY_CALL_COLUMNS, type CallRollups, type HourlyRollups } from './calls.copy.js';
import { jsonOf } from './record.codec.js';
import { quoteSchema } from './schema.name.js';

/**
 * Set-based statements: one parameter per column holding an array of every row, expanded with
 * unnest(). One round trip per batch whatever its size, and the statement text never changes,
 * so PostgreSQL parses it once per connection.
 *
 * Lock order: a batch touches `llm_traces` in exactly one statement, one upsert sorted by
 * trace_id that merges what the batch's calls add with what its root spans set. Writers that
 * share traces then always lock those rows in the same order; two upserts per transaction (one
 * for calls, one for spans), each sorted on its own, are two lock sequences and deadlocked.
 */
export interface BatchStatements {
  /** Calls and spans of a batch (either may be empty): inserts both and rolls up into `llm_traces`. */
  batch: string;
  /** `COPY llm_calls FROM STDIN` in {@link COPY_CALL_COLUMNS} order (the fast path, see `BatchCommitter`). */
  copyCalls: string;
  /** After a COPY of calls: inserts the batch's spans and adds the calls' sums (all known inserted) to `llm_traces` and `llm_cost_hourly`. */
  afterCopy: string;
  /** A name for `afterCopy` as a prepared statement, unique to its text (the schema is in it). */
  afterCopyName: string;
}

const CALL_ARRAYS = `$1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::int[], $10::int[], $11::int[], $12::numeric[], $13::jsonb[], $14::int[],
                       $15::text[], $16::text[], $17::bool[], $18::uuid[], $19::uuid[], $20::jsonb[], $21::jsonb[],
                       $22::text[], $23::jsonb[], $24::text[], $25::smallint[]`;
const CALL_FIELDS = `span_id, time, service_id, provider, model, operation, pricing_model, pricing_source, input_tokens,
         output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class, streamed,
         trace_id, parent_span_id, tags, metadata, service_tier, pricing_flags, catalog_version, attempts`;
const SPAN_FIELDS = `span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at, status, error_class,
         tags, cost_usd, call_count`;

/** The span CTEs, their 13 arrays starting at parameter `$p`: `span_in`, `ins_spans`, `roots`. */
function spanCtes(s: string, p: number): string {
  const a = (i: number, type: string) => `$${p + i}::${type}[]`;
  return `span_in AS (
  SELECT * FROM unnest(${a(0, 'uuid')}, ${a(1, 'uuid')}, ${a(2, 'uuid')}, ${a(3, 'bool')}, ${a(4, 'text')}, ${a(5, 'text')},
                       ${a(6, 'timestamptz')}, ${a(7, 'timestamptz')}, ${a(8, 'text')}, ${a(9, 'text')}, ${a(10, 'jsonb')},
                       ${a(11, 'numeric')}, ${a(12, 'int')})
    AS u(${SPAN_FIELDS})
), ins_spans AS (
  INSERT INTO ${s}.llm_spans (${SPAN_FIELDS})
  -- A trace's own root is the llm_traces row (the seed: calls made in it have no parent), not a
  -- span; a local root that continued a remote trace is a span of the larger tree.
  SELECT * FROM span_in WHERE NOT (is_root AND parent_span_id IS NULL)
  ON CONFLICT (span_id) DO NOTHING
  RETURNING 1
), roots AS (
  -- The true root (no remote parent) names the trace; a local root of a continued trace only fills gaps.
  -- Re-applying a root sets the same values, so replays are harmless here too.
  SELECT DISTINCT ON (trace_id) * FROM span_in WHERE is_root
   ORDER BY trace_id, (parent_span_id IS NULL) DESC, started_at
)`;
}

/**
 * `merged` (one row per trace: the sums of `call_sums` beside the root of `roots`) and the one
 * upsert of `llm_traces`, sorted by trace_id. Sums add to the totals; a root sets the trace's
 * name, tags and status unless a true root already did.
 */
function traceUpsert(s: string): string {
  const rootWins = 'EXCLUDED.root_span_id IS NOT NULL AND (t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL)';
  const fromRoot = (column: string) => `${column} = CASE WHEN ${rootWins} THEN EXCLUDED.${column} ELSE t.${column} END`;
  return `merged AS (
  SELECT COALESCE(c.trace_id, r.trace_id) AS trace_id,
         COALESCE(c.cost, 0) AS cost, COALESCE(c.calls, 0) AS calls, COALESCE(c.unpriced, 0) AS unpriced,
         COALESCE(c.errors, 0) AS errors, COALESCE(c.input_tokens, 0) AS input_tokens,
         COALESCE(c.output_tokens, 0) AS output_tokens, COALESCE(c.cached_tokens, 0) AS cached_tokens,
         c.first_at, c.last_at, r.name, r.span_id AS root_span_id, r.parent_span_id AS root_parent_span_id,
         COALESCE(r.tags, '{}'::jsonb) AS tags, r.status, r.error_class,
         LEAST(c.first_at, r.started_at) AS started_at, GREATEST(c.last_at, r.ended_at) AS ended_at,
         CASE WHEN r.trace_id IS NULL THEN c.services
              WHEN c.trace_id IS NULL THEN ARRAY[r.service_id]
              ELSE ARRAY(SELECT DISTINCT x FROM unnest(c.services || r.service_id) x ORDER BY 1) END AS services
    FROM call_sums c FULL JOIN roots r ON r.trace_id = c.trace_id
), up AS (
  INSERT INTO ${s}.llm_traces AS t (trace_id, total_cost_usd, call_count, unpriced_call_count, error_call_count,
         input_tokens, output_tokens, cached_tokens, first_call_at, last_call_at, name, root_span_id,
         root_parent_span_id, tags, status, error_class, started_at, ended_at, service_ids)
  SELECT trace_id, cost, calls, unpriced, errors, input_tokens, output_tokens, cached_tokens, first_at, last_at, name,
         root_span_id, root_parent_span_id, tags, status, error_class, started_at, ended_at, services
    FROM merged ORDER BY trace_id
  ON CONFLICT (trace_id) DO UPDATE SET
    total_cost_usd = trim_scale(t.total_cost_usd + EXCLUDED.total_cost_usd),
    call_count = t.call_count + EXCLUDED.call_count,
    unpriced_call_count = t.unpriced_call_count + EXCLUDED.unpriced_call_count,
    error_call_count = t.error_call_count + EXCLUDED.error_call_count,
    input_tokens = t.input_tokens + EXCLUDED.input_tokens,
    output_tokens = t.output_tokens + EXCLUDED.output_tokens,
    cached_tokens = t.cached_tokens + EXCLUDED.cached_tokens,
    first_call_at = LEAST(t.first_call_at, EXCLUDED.first_call_at),
    last_call_at = GREATEST(t.last_call_at, EXCLUDED.last_call_at),
    ${fromRoot('name')},
    ${fromRoot('tags')},
    ${fromRoot('status')},
    ${fromRoot('error_class')},
    ${fromRoot('root_parent_span_id')},
    ${fromRoot('root_span_id')},
    started_at = LEAST(t.started_at, EXCLUDED.started_at),
    ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
    service_ids = CASE WHEN EXCLUDED.service_ids <@ t.service_ids THEN t.service_ids
                       ELSE ARRAY(SELECT DISTINCT x FROM unnest(t.service_ids || EXCLUDED.service_ids) x ORDER BY 1) END,
    updated_at = now()
  RETURNING 1
)`;
}

/** The ON CONFLICT assignments of a cost rollup row (alias `r`): each sum grows by the batch's. */
function addSums(r: string): string {
  return `cost_usd = trim_scale(${r}.cost_usd + EXCLUDED.cost_usd), calls = ${r}.calls + EXCLUDED.calls,
    unpriced_calls = ${r}.unpriced_calls + EXCLUDED.unpriced_calls, error_calls = ${r}.error_calls + EXCLUDED.error_calls,
    input_tokens = ${r}.input_tokens + EXCLUDED.input_tokens, output_tokens = ${r}.output_tokens + EXCLUDED.output_tokens,
    cached_tokens = ${r}.cached_tokens + EXCLUDED.cached_tokens`;
}

/**
 * A cost rollup without the user (`llm_cost_daily` by UTC day, `llm_cost_hourly_totals` by hour)
 * from `hourly_sums` summed over users, in key order. Every writer runs the same statement, so the
 * rollups are taken in one order by all of them and each one's rows in key order: no two writers
 * wait on each other in opposite orders.
 */
function userlessUpsert(s: string, cte: string, table: string, time: 'day' | 'hour'): string {
  return `${cte} AS (
  INSERT INTO ${s}.${table} AS d (${time}, dims, service_id, provider, model, feature, project, cost_usd, calls,
         unpriced_calls, error_calls, input_tokens, output_tokens, cached_tokens)
  SELECT t, ${s}.kostrack_dims(service_id, provider, model, feature, project, NULL) AS dims, service_id, provider, model,
         feature, project, trim_scale(cost), calls, unpriced, errors, input_tokens, output_tokens, cached_tokens
    FROM (SELECT date_trunc('${time}', hour, 'UTC') AS t, service_id, provider, model, feature, project, sum(cost) AS cost,
                 sum(calls) AS calls, sum(unpriced) AS unpriced, sum(errors) AS errors, sum(input_tokens) AS input_tokens,
                 sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens
            FROM hourly_sums GROUP BY 1, 2, 3, 4, 5, 6) g
   ORDER BY 1, 2
  ON CONFLICT (${time}, dims) DO UPDATE SET ${addSums('d')}
  RETURNING 1
)`;
}

/**
 * The hourly cost rollup (`llm_cost_hourly`) from `hourly_sums` (one row per hour and key, the
 * sums of rows this statement inserted), in key order like every other rollup upsert.
 */
function hourlyUpsert(s: string): string {
  return `hourly_up AS (
  INSERT INTO ${s}.llm_cost_hourly AS h (hour, dims, service_id, provider, model, feature, project, user_id, cost_usd, calls,
         unpriced_calls, error_calls, input_tokens, output_tokens, cached_tokens)
  SELECT hour, ${s}.kostrack_dims(service_id, provider, model, feature, project, user_id) AS dims, service_id, provider, model,
         feature, project, user_id, trim_scale(cost), calls, unpriced, errors, input_tokens, output_tokens, cached_tokens
    FROM hourly_sums ORDER BY 1, 2
  ON CONFLICT (hour, dims) DO UPDATE SET ${addSums('h')}
  RETURNING 1
)`;
}

/** What a call of `budget_calls c` that held `held` counts beyond its cost: its hold, when its cost could not be read. */
function residual(held: string): string {
  return `CASE WHEN c.status <> 'blocked' AND (c.cost_usd IS NULL OR c.status = 'aborted') THEN GREATEST(${held} - COALESCE(c.cost_usd, 0), 0) ELSE 0 END`;
}

/**
 * Budget usage from `budget_calls` (the calls this statement inserted): each call adds its cost to
 * every budget whose scope it is in, for the period it was made in, and the worst case its call
 * held (`llm_budget_reservations`, keyed by span id) is given back, all in one upsert per usage
 * row, in key order (admission locks the same rows in the same order). Only inserted rows come
 * here, so a replay adds nothing twice.
 *
 * A call admitted under a lease (budget.lease.ts) held no row of its own: the three arrays from
 * `$p` name it, its lease's hold and the worst case it took. What it counts (its cost, or its worst
 * case when its cost could not be read) leaves the lease's hold in this same statement. Lowered by
 * the lease afterwards, in a statement of its own, a landed call was counted as spent and as held
 * at once for a round trip; a burst near the limit was refused on that double count (a replica
 * read no room with $0.14 of a $1.00 budget unused).
 */
function budgetCtes(s: string, p: number): string {
  return `budget_hits AS (
  -- By scope: each call is looked up under the few tags budgets are kept on, and only the budgets
  -- of its own value (or of every value) are read, through llm_budgets_scope_value_idx. Joining
  -- every call with every budget made a flush 25x slower at 5,000 per-user budgets.
  SELECT b.id AS budget_id, x.v AS scope_value, ${s}.kostrack_period_start(b.period, c.time, b.time_zone) AS period_start,
         COALESCE(c.cost_usd, 0) AS cost, (c.status <> 'blocked')::int AS calls
    FROM budget_calls c
    CROSS JOIN (SELECT DISTINCT scope_tag FROM ${s}.llm_budgets) k
    CROSS JOIN LATERAL (SELECT CASE WHEN k.scope_tag = 'service' THEN c.service_id ELSE c.tags ->> k.scope_tag END AS v) x
    JOIN ${s}.llm_budgets b ON b.scope_tag = k.scope_tag AND (b.scope_value = x.v OR b.scope_value IS NULL)
   WHERE x.v IS NOT NULL
), budget_released AS (
  DELETE FROM ${s}.llm_budget_reservations r USING budget_calls c WHERE r.span_id = c.span_id
  RETURNING r.span_id, r.budget_id, r.scope_value, r.period_start, r.amount
), lease_calls AS (
  SELECT m.lease_id, sum(COALESCE(c.cost_usd, 0) + x.residual) AS counted, sum(x.residual) AS residual
    FROM unnest($${p}::uuid[], $${p + 1}::uuid[], $${p + 2}::numeric[]) AS m(span_id, lease_id, held)
    JOIN budget_calls c ON c.span_id = m.span_id
    CROSS JOIN LATERAL (SELECT ${residual('m.held')} AS residual) x
   GROUP BY m.lease_id
), lease_held AS (
  -- Locked before any usage row, as the lease's own trim (budget.lease.sql.ts) locks them.
  SELECT r.span_id, r.budget_id, r.amount, l.counted, l.residual
    FROM ${s}.llm_budget_reservations r JOIN lease_calls l ON l.lease_id = r.span_id
   ORDER BY r.span_id, r.budget_id FOR UPDATE OF r
), lease_lowered AS (
  UPDATE ${s}.llm_budget_reservations r SET amount = GREATEST(h.amount - h.counted, 0)
    FROM lease_held h WHERE r.span_id = h.span_id AND r.budget_id = h.budget_id
  RETURNING r.budget_id, r.scope_value, r.period_start, h.residual, h.amount - r.amount AS released
), budget_deltas AS (
  SELECT budget_id, scope_value, period_start, sum(cost) AS cost, sum(calls) AS calls, sum(held) AS released FROM (
    SELECT budget_id, scope_value, period_start, cost, calls, 0::numeric AS held FROM budget_hits
    -- A call billed for what could not be read (no usage, or a stream stopped early) counts at the
    -- worst case it held, as run budgets count it: the hold becomes spent instead of vanishing.
    UNION ALL SELECT r.budget_id, r.scope_value, r.period_start, ${residual('r.amount')}, 0, r.amount
      FROM budget_released r JOIN budget_calls c ON c.span_id = r.span_id
    UNION ALL SELECT budget_id, scope_value, period_start, residual, 0, released FROM lease_lowered
  ) d GROUP BY budget_id, scope_value, period_start
), budget_up AS (
  INSERT INTO ${s}.llm_budget_usage AS u (budget_id, scope_value, period_start, spent, calls)
  SELECT budget_id, scope_value, period_start, trim_scale(cost), calls FROM budget_deltas ORDER BY budget_id, scope_value, period_start
  ON CONFLICT (budget_id, scope_value, period_start) DO UPDATE SET
    spent = trim_scale(u.spent + EXCLUDED.spent),
    calls = u.calls + EXCLUDED.calls,
    reserved = GREATEST(u.reserved - (SELECT d.released FROM budget_deltas d
                                      WHERE d.budget_id = u.budget_id AND d.scope_value = u.scope_value AND d.period_start = u.period_start), 0)
  RETURNING 1
)`;
}

/**
 * Lock order. PostgreSQL runs the data-modifying CTEs nothing reads after the main query, in reverse
 * order of their place in the WITH list; `ins_spans` (read by the main query) goes first. So each
 * batch takes spans, then daily, hourly totals, hourly, trace and budget rows, each in key order; the re-price
 * statement (reprice.sql.ts) is laid out to take them in the same order.
 */
export function batchStatements(schema: string): BatchStatements {
  const s = quoteSchema(schema);
  const batch = `
WITH call_in AS (
  SELECT * FROM unnest(${CALL_ARRAYS})
    AS u(${CALL_FIELDS})
), ins_calls AS (
  INSERT INTO ${s}.llm_calls (${CALL_FIELDS})
  SELECT * FROM call_in
  -- The primary key holds the partition key (time); a replayed call has its original time.
  ON CONFLICT (span_id, time) DO NOTHING
  RETURNING span_id, trace_id, time, latency_ms, cost_usd, input_tokens, output_tokens, cached_tokens, service_id, status, tags,
            provider, model
), call_sums AS (
  -- Only rows this statement inserted reach the rollup, so a replayed batch adds nothing twice.
  SELECT trace_id,
         trim_scale(COALESCE(sum(cost_usd), 0)) AS cost,
         count(*) AS calls,
         count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced,
         -- A call a budget refused (blocked) is not a failure.
         count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS errors,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
         min(time) AS first_at, max(time + latency_ms * interval '1 millisecond') AS last_at,
         array_agg(DISTINCT service_id ORDER BY service_id) AS services
    FROM ins_calls WHERE trace_id IS NOT NULL GROUP BY trace_id
), hourly_sums AS (
  SELECT date_trunc('hour', time, 'UTC') AS hour, service_id, provider, model, tags->>'feature' AS feature,
         tags->>'project' AS project, tags->>'user_id' AS user_id, COALESCE(sum(cost_usd), 0) AS cost, count(*) AS calls,
         count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS errors,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens
    FROM ins_calls GROUP BY 1, 2, 3, 4, 5, 6, 7
), budget_calls AS (
  SELECT span_id, time, cost_usd, tags, service_id, status FROM ins_calls WHERE EXISTS (SELECT 1 FROM ${s}.llm_budgets)
), ${budgetCtes(s, CALL_COLUMN_COUNT + 14)}, ${spanCtes(s, CALL_COLUMN_COUNT + 1)}, ${traceUpsert(s)}, ${hourlyUpsert(s)}, ${userlessUpsert(s, 'totals_up', 'llm_cost_hourly_totals', 'hour')}, ${userlessUpsert(s, 'daily_up', 'llm_cost_daily', 'day')}
SELECT (SELECT count(*) FROM ins_calls)::int AS calls, (SELECT count(*) FROM ins_spans)::int AS spans`;

  const afterCopy = `
WITH sums_in AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::numeric[], $4::int[], $5::int[], $6::int[], $7::bigint[], $8::bigint[],
                       $9::bigint[], $10::timestamptz[], $11::timestamptz[])
    AS u(trace_id, service_id, cost, calls, unpriced, errors, input_tokens, output_tokens, cached_tokens, first_at, last_at)
), call_sums AS (
  SELECT trace_id, trim_scale(sum(cost)) AS cost, sum(calls) AS calls, sum(unpriced) AS unpriced, sum(errors) AS errors,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
         min(first_at) AS first_at, max(last_at) AS last_at, array_agg(DISTINCT service_id ORDER BY service_id) AS services
    FROM sums_in GROUP BY trace_id
), hourly_sums AS (
  SELECT * FROM unnest($28::timestamptz[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::text[],
                       $35::numeric[], $36::int[], $37::int[], $38::int[], $39::bigint[], $40::bigint[], $41::bigint[])
    AS u(hour, service_id, provider, model, feature, project, user_id, cost, calls, unpriced, errors, input_tokens, output_tokens, cached_tokens)
), budget_calls AS MATERIALIZED (
  -- Every row of the COPY was inserted: they are read back by key, only when some budget exists,
  -- within the batch's time range so only its month's partition is searched.
  SELECT span_id, time, cost_usd, tags, service_id, status FROM ${s}.llm_calls
   WHERE span_id = ANY($25::uuid[]) AND time >= $26::timestamptz AND time <= $27::timestamptz AND EXISTS (SELECT 1 FROM ${s}.llm_budgets)
), ${budgetCtes(s, 42)}, ${spanCtes(s, 12)}, ${traceUpsert(s)}, ${hourlyUpsert(s)}, ${userlessUpsert(s, 'totals_up', 'llm_cost_hourly_totals', 'hour')}, ${userlessUpsert(s, 'daily_up', 'llm_cost_daily', 'day')}
SELECT (SELECT count(*) FROM ins_spans)::int AS spans`;
  const copyCalls = `COPY ${s}.llm_calls (${COPY_CALL_COLUMNS}) FROM STDIN`;
  const afterCopyName = `kostrack_after_copy_${createHash('sha1').update(afterCopy).digest('hex').slice(0, 16)}`;
  return { batch, copyCalls, afterCopy, afterCopyName };
}

/** How many call arrays {@link BatchStatements.batch} takes before the span arrays. */
export const CALL_COLUMN_COUNT = 25;

/** Column arrays for the calls of {@link BatchStatements.batch}; throws on a row that cannot be encoded. */
export function callColumns(calls: readonly CallRecord[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: CALL_COLUMN_COUNT }, () => new Array(calls.length));
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    cols[0][i] = c.spanId;
    cols[1][i] = c.time.toISOString();
    cols[2][i] = c.serviceId;
    cols[3][i] = c.provider;
    cols[4][i] = c.model;
    cols[5][i] = c.operation;
    cols[6][i] = c.pricingModel;
    cols[7][i] = c.pricingSource;
    cols[8][i] = c.inputTokens;
    cols[9][i] = c.outputTokens;
    cols[10][i] = c.cachedTokens;
    cols[11][i] = c.costUsd === null || c.costUsd === undefined ? null : usdToString(c.costUsd);
    cols[12][i] = jsonOf(c.tokenBreakdown);
    cols[13][i] = Math.round(c.latencyMs);
    cols[14][i] = c.status;
    cols[15][i] = c.errorClass;
    cols[16][i] = c.streamed;
    cols[17][i] = c.traceId;
    cols[18][i] = c.parentSpanId;
    cols[19][i] = jsonOf(c.tags);
    cols[20][i] = jsonOf(c.metadata);
    cols[21][i] = c.serviceTier ?? null;
    cols[22][i] = c.pricingFlags ? jsonOf(c.pricingFlags) : null;
    cols[23][i] = c.catalogVersion ?? null;
    // Unknown (null) also for records without the field: other sinks' and older spool lines.
    cols[24][i] = c.attempts ?? null;
  }
  return cols;
}

/** Column arrays for spans (13, in {@link SPAN_FIELDS} order); throws on a span that cannot be encoded. */
export function spanColumns(spans: readonly SpanRecord[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 13 }, () => new Array(spans.length));
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    cols[0][i] = s.spanId;
    cols[1][i] = s.traceId;
    cols[2][i] = s.parentSpanId;
    cols[3][i] = s.isRoot;
    cols[4][i] = s.name;
    cols[5][i] = s.serviceId;
    cols[6][i] = s.startTime.toISOString();
    cols[7][i] = s.endTime.toISOString();
    cols[8][i] = s.status;
    cols[9][i] = s.errorClass;
    cols[10][i] = jsonOf(s.tags);
    cols[11][i] = usdToString(s.costUsd ?? 0n);
    cols[12][i] = s.callCount;
  }
  return cols;
}

/** Empty column arrays: the other half of a batch that has only calls or only spans. */
export function noRows(columns: number): unknown[][] {
  return Array.from({ length: columns }, () => []);
}

/** Parameters of the call sums in {@link BatchStatements.afterCopy} ($1–$11). */
export function rollupParams(r: CallRollups): unknown[][] {
  return [r.traceIds, r.serviceIds, r.costs, r.calls, r.unpriced, r.errors, r.inputTokens, r.outputTokens, r.cachedTokens, r.firstAt, r.lastAt];
}

/** Calls admitted under a budget lease: their span ids, their leases' hold ids, what each takes of its lease (its worst case, or its cost once settled; see budgetCtes). */
export interface LeaseHolds {
  spanIds: string[];
  leaseIds: string[];
  held: string[];
}

/** The last three parameters of both statements ($39–$41 of `batch`, $42–$44 of `afterCopy`). */
export function leaseParams(h: LeaseHolds | null): unknown[][] {
  return h ? [h.spanIds, h.leaseIds, h.held] : noRows(3);
}

/** Parameters of the hourly sums in {@link BatchStatements.afterCopy} ($28–$41). */
export function hourlyParams(h: HourlyRollups): unknown[][] {
  return [h.hours, h.serviceIds, h.providers, h.models, h.features, h.projects, h.userIds, h.costs, h.calls, h.unpriced, h.errors, h.inputTokens, h.outputTokens, h.cachedTokens];
}
