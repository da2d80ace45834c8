import { quoteSchema } from '../schema.name.js';

/**
 * Version 1: calls, spans, per-trace rollup and the seed's `trace_costs` view.
 * Statements are idempotent (IF NOT EXISTS) so a half-applied run on a database without
 * transactional DDL guarantees still converges.
 */
export function initUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.llm_calls (
      span_id uuid PRIMARY KEY,
      time timestamptz NOT NULL,
      service_id text NOT NULL,
      provider text NOT NULL,
      model text NOT NULL,
      operation text NOT NULL,
      pricing_model text,
      pricing_source text NOT NULL,
      input_tokens integer NOT NULL,
      output_tokens integer NOT NULL,
      cached_tokens integer NOT NULL,
      cost_usd numeric,
      token_breakdown jsonb NOT NULL DEFAULT '{}',
      latency_ms integer NOT NULL,
      status text NOT NULL,
      error_class text,
      streamed boolean NOT NULL,
      trace_id uuid,
      parent_span_id uuid,
      tags jsonb NOT NULL DEFAULT '{}',
      metadata jsonb NOT NULL DEFAULT '{}'
    )`,
    // The seed's per-trace query filters by trace_id and sorts by time.
    `CREATE INDEX IF NOT EXISTS llm_calls_trace_time_idx ON ${s}.llm_calls (trace_id, time)`,
    `CREATE INDEX IF NOT EXISTS llm_calls_time_idx ON ${s}.llm_calls (time)`,
    `CREATE TABLE IF NOT EXISTS ${s}.llm_spans (
      span_id uuid PRIMARY KEY,
      trace_id uuid NOT NULL,
      parent_span_id uuid,
      is_root boolean NOT NULL,
      name text NOT NULL,
      service_id text NOT NULL,
      started_at timestamptz NOT NULL,
      ended_at timestamptz NOT NULL,
      status text NOT NULL,
      error_class text,
      tags jsonb NOT NULL DEFAULT '{}',
      cost_usd numeric NOT NULL,
      call_count integer NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS llm_spans_trace_idx ON ${s}.llm_spans (trace_id)`,
    `CREATE TABLE IF NOT EXISTS ${s}.llm_traces (
      trace_id uuid PRIMARY KEY,
      name text,
      root_span_id uuid,
      root_parent_span_id uuid,
      tags jsonb NOT NULL DEFAULT '{}',
      service_ids text[] NOT NULL DEFAULT '{}',
      status text,
      error_class text,
      started_at timestamptz,
      ended_at timestamptz,
      first_call_at timestamptz,
      last_call_at timestamptz,
      total_cost_usd numeric NOT NULL DEFAULT 0,
      call_count bigint NOT NULL DEFAULT 0,
      unpriced_call_count bigint NOT NULL DEFAULT 0,
      error_call_count bigint NOT NULL DEFAULT 0,
      input_tokens bigint NOT NULL DEFAULT 0,
      output_tokens bigint NOT NULL DEFAULT 0,
      cached_tokens bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
    // "Most expensive first" and "latest first" are the two ways traces are listed.
    `CREATE INDEX IF NOT EXISTS llm_traces_cost_idx ON ${s}.llm_traces (total_cost_usd DESC)`,
    `CREATE INDEX IF NOT EXISTS llm_traces_started_idx ON ${s}.llm_traces (started_at DESC)`,
    `CREATE OR REPLACE VIEW ${s}.trace_costs AS
      SELECT t.trace_id,
             t.name AS trace_name,
             t.tags->>'feature' AS feature,
             COALESCE(t.tags->>'user_id', t.tags->>'user') AS user_id,
             t.total_cost_usd,
             t.call_count,
             t.unpriced_call_count,
             t.input_tokens,
             t.output_tokens,
             t.cached_tokens,
             t.started_at,
             t.ended_at,
             (EXTRACT(EPOCH FROM (t.ended_at - t.started_at)) * 1000)::bigint AS duration_ms,
             t.status,
             t.service_ids,
             t.tags
        FROM ${s}.llm_traces t`,
  ];
}

export function initDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `DROP VIEW IF EXISTS ${s}.trace_costs`,
    `DROP TABLE IF EXISTS ${s}.llm_traces`,
    `DROP TABLE IF EXISTS ${s}.llm_spans`,
    `DROP TABLE IF EXISTS ${s}.llm_calls`,
  ];
}
