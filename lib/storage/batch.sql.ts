import type { CallRecord, SpanRecord } from '../core/call-record.js';
import { usdToString } from '../core/money.js';
import { COPY_CALL_COLUMNS, type CallRollups } from './calls.copy.js';
import { quoteSchema } from './schema.name.js';

/**
 * Set-based statements: one parameter per column holding an array of every row, expanded with
 * unnest(). One round trip per batch whatever its size, and the statement text never changes,
 * so PostgreSQL parses it once per connection.
 */
export interface BatchStatements {
  calls: string;
  spans: string;
  /** `COPY llm_calls FROM STDIN` in {@link COPY_CALL_COLUMNS} order (the fast path, see `BatchWriter`). */
  copyCalls: string;
  /** Adds per (trace, service) sums of rows known to be inserted to `llm_traces`. */
  rollup: string;
}

export function batchStatements(schema: string): BatchStatements {
  const s = quoteSchema(schema);
  // Adds a batch's sums to a trace's totals; shared by both ways a batch of calls is written.
  const addTotals = `  ON CONFLICT (trace_id) DO UPDATE SET
    total_cost_usd = trim_scale(t.total_cost_usd + EXCLUDED.total_cost_usd),
    call_count = t.call_count + EXCLUDED.call_count,
    unpriced_call_count = t.unpriced_call_count + EXCLUDED.unpriced_call_count,
    error_call_count = t.error_call_count + EXCLUDED.error_call_count,
    input_tokens = t.input_tokens + EXCLUDED.input_tokens,
    output_tokens = t.output_tokens + EXCLUDED.output_tokens,
    cached_tokens = t.cached_tokens + EXCLUDED.cached_tokens,
    first_call_at = LEAST(t.first_call_at, EXCLUDED.first_call_at),
    last_call_at = GREATEST(t.last_call_at, EXCLUDED.last_call_at),
    started_at = LEAST(t.started_at, EXCLUDED.started_at),
    ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
    service_ids = CASE WHEN EXCLUDED.service_ids <@ t.service_ids THEN t.service_ids
                       ELSE ARRAY(SELECT DISTINCT x FROM unnest(t.service_ids || EXCLUDED.service_ids) x ORDER BY 1) END,
    updated_at = now()`;
  const traceColumns = `trace_id, total_cost_usd, call_count, unpriced_call_count, error_call_count,
         input_tokens, output_tokens, cached_tokens, first_call_at, last_call_at, started_at, ended_at, service_ids`;
  const calls = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::int[], $10::int[], $11::int[], $12::numeric[], $13::jsonb[], $14::int[],
                       $15::text[], $16::text[], $17::bool[], $18::uuid[], $19::uuid[], $20::jsonb[], $21::jsonb[])
    AS u(span_id, time, service_id, provider, model, operation, pricing_model, pricing_source, input_tokens,
         output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class, streamed,
         trace_id, parent_span_id, tags, metadata)
), ins AS (
  INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_model, pricing_source,
         input_tokens, output_tokens, cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class,
         streamed, trace_id, parent_span_id, tags, metadata)
  SELECT * FROM input
  ON CONFLICT (span_id) DO NOTHING
  RETURNING trace_id, time, latency_ms, cost_usd, input_tokens, output_tokens, cached_tokens, service_id, status
), agg AS (
  -- Only rows this statement inserted reach the rollup, so a replayed batch adds nothing twice.
  SELECT trace_id,
         trim_scale(COALESCE(sum(cost_usd), 0)) AS cost,
         count(*) AS calls,
         count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced,
         count(*) FILTER (WHERE status <> 'ok') AS errors,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
         min(time) AS first_at, max(time + latency_ms * interval '1 millisecond') AS last_at,
         array_agg(DISTINCT service_id ORDER BY service_id) AS services
    FROM ins WHERE trace_id IS NOT NULL GROUP BY trace_id
), up AS (
  INSERT INTO ${s}.llm_traces AS t (${traceColumns})
  -- A fixed lock order keeps replicas that write the same traces from deadlocking.
  SELECT trace_id, cost, calls, unpriced, errors, input_tokens, output_tokens, cached_tokens,
         first_at, last_at, first_at, last_at, services
    FROM agg ORDER BY trace_id
${addTotals}
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM up)::int AS traces`;

  const spans = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bool[], $5::text[], $6::text[], $7::timestamptz[],
                       $8::timestamptz[], $9::text[], $10::text[], $11::jsonb[], $12::numeric[], $13::int[])
    AS u(span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at, status, error_class,
         tags, cost_usd, call_count)
), ins AS (
  INSERT INTO ${s}.llm_spans (span_id, trace_id, parent_span_id, is_root, name, service_id, started_at, ended_at,
         status, error_class, tags, cost_usd, call_count)
  -- A trace's own root is the llm_traces row (the seed: calls made in it have no parent), not a
  -- span; a local root that continued a remote trace is a span of the larger tree.
  SELECT * FROM input WHERE NOT (is_root AND parent_span_id IS NULL)
  ON CONFLICT (span_id) DO NOTHING
  RETURNING 1
), roots AS (
  -- The true root (no remote parent) names the trace; a local root of a continued trace only fills gaps.
  -- Re-applying a root sets the same values, so replays are harmless here too.
  SELECT DISTINCT ON (trace_id) * FROM input WHERE is_root
   ORDER BY trace_id, (parent_span_id IS NULL) DESC, started_at
), up AS (
  INSERT INTO ${s}.llm_traces AS t (trace_id, name, root_span_id, root_parent_span_id, tags, status, error_class,
         started_at, ended_at, service_ids)
  SELECT trace_id, name, span_id, parent_span_id, tags, status, error_class, started_at, ended_at, ARRAY[service_id]
    FROM roots ORDER BY trace_id
  ON CONFLICT (trace_id) DO UPDATE SET
    name = CASE WHEN t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL THEN EXCLUDED.name ELSE t.name END,
    tags = CASE WHEN t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL THEN EXCLUDED.tags ELSE t.tags END,
    status = CASE WHEN t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL THEN EXCLUDED.status ELSE t.status END,
    error_class = CASE WHEN t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL THEN EXCLUDED.error_class ELSE t.error_class END,
    root_parent_span_id = CASE WHEN t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL THEN EXCLUDED.root_parent_span_id ELSE t.root_parent_span_id END,
    root_span_id = CASE WHEN t.root_span_id IS NULL OR EXCLUDED.root_parent_span_id IS NULL THEN EXCLUDED.root_span_id ELSE t.root_span_id END,
    started_at = LEAST(t.started_at, EXCLUDED.started_at),
    ended_at = GREATEST(t.ended_at, EXCLUDED.ended_at),
    service_ids = CASE WHEN EXCLUDED.service_ids <@ t.service_ids THEN t.service_ids
                       ELSE ARRAY(SELECT DISTINCT x FROM unnest(t.service_ids || EXCLUDED.service_ids) x ORDER BY 1) END,
    updated_at = now()
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM up)::int AS traces`;
  const copyCalls = `COPY ${s}.llm_calls (${COPY_CALL_COLUMNS}) FROM STDIN`;

  const rollup = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::numeric[], $4::int[], $5::int[], $6::int[], $7::bigint[], $8::bigint[],
                       $9::bigint[], $10::timestamptz[], $11::timestamptz[])
    AS u(trace_id, service_id, cost, calls, unpriced, errors, input_tokens, output_tokens, cached_tokens, first_at, last_at)
), agg AS (
  SELECT trace_id, trim_scale(sum(cost)) AS cost, sum(calls) AS calls, sum(unpriced) AS unpriced, sum(errors) AS errors,
         sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
         min(first_at) AS first_at, max(last_at) AS last_at, array_agg(DISTINCT service_id ORDER BY service_id) AS services
    FROM input GROUP BY trace_id
)
INSERT INTO ${s}.llm_traces AS t (${traceColumns})
SELECT trace_id, cost, calls, unpriced, errors, input_tokens, output_tokens, cached_tokens, first_at, last_at, first_at, last_at, services
  FROM agg ORDER BY trace_id
${addTotals}`;
  return { calls, spans, copyCalls, rollup };
}

/** Column arrays for the calls statement; throws on a row that cannot be encoded (the caller dead-letters it). */
export function callColumns(calls: readonly CallRecord[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 21 }, () => new Array(calls.length));
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
    cols[12][i] = JSON.stringify(c.tokenBreakdown ?? {});
    cols[13][i] = Math.round(c.latencyMs);
    cols[14][i] = c.status;
    cols[15][i] = c.errorClass;
    cols[16][i] = c.streamed;
    cols[17][i] = c.traceId;
    cols[18][i] = c.parentSpanId;
    cols[19][i] = JSON.stringify(c.tags ?? {});
    cols[20][i] = JSON.stringify(c.metadata ?? {});
  }
  return cols;
}

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
    cols[10][i] = JSON.stringify(s.tags ?? {});
    cols[11][i] = usdToString(s.costUsd ?? 0n);
    cols[12][i] = s.callCount;
  }
  return cols;
}

/** Parameters of the rollup statement. */
export function rollupParams(r: CallRollups): unknown[] {
  return [r.traceIds, r.serviceIds, r.costs, r.calls, r.unpriced, r.errors, r.inputTokens, r.outputTokens, r.cachedTokens, r.firstAt, r.lastAt];
}
