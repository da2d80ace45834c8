import { usd, usdToString } from '../core/money.js';
import type { CallDto, TraceSummaryDto } from './dto/admin.responses.js';

/** Rows as `pg` returns them: bigint and numeric arrive as strings (selected `::text` for money). */
export interface TraceRow {
  trace_id: string;
  name: string | null;
  tags: Record<string, string>;
  service_ids: string[];
  status: string | null;
  cost: string;
  call_count: string;
  unpriced_call_count: string;
  error_call_count: string;
  input_tokens: string;
  output_tokens: string;
  cached_tokens: string;
  started_at: Date | null;
  ended_at: Date | null;
  root_span_id?: string | null | undefined;
  root_parent_span_id?: string | null | undefined;
  started_key?: string | null | undefined;
}

export interface SpanRow {
  span_id: string;
  parent_span_id: string | null;
  name: string;
  started_at: Date;
  ended_at: Date;
  status: string;
}

export interface CallRow {
  span_id: string;
  parent_span_id: string | null;
  time: Date;
  service_id: string;
  provider: string;
  model: string;
  operation: string;
  cost: string | null;
  pricing_source: string;
  pricing_model: string | null;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  token_breakdown: Record<string, number>;
  latency_ms: number;
  status: string;
  error_class: string | null;
  streamed: boolean;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  service_tier: string | null;
  pricing_flags: string[] | null;
  catalog_version: string | null;
  /** HTTP attempts the SDK made; NULL when the SDK could not tell. */
  attempts: number | null;
}

export const TRACE_COLUMNS = `t.trace_id, t.name, t.tags, t.service_ids, t.status, t.total_cost_usd::text AS cost,
  t.call_count, t.unpriced_call_count, t.error_call_count, t.input_tokens, t.output_tokens, t.cached_tokens,
  t.started_at, t.ended_at`;

/** One canonical spelling of an amount (`0.0100` and `0.01` are the same money). */
export function money(text: string): string {
  return usdToString(usd(text));
}

export function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

export function toTraceSummary(r: TraceRow): TraceSummaryDto {
  const tags = r.tags ?? {};
  return {
    traceId: r.trace_id,
    name: r.name,
    feature: tags.feature ?? null,
    userId: tags.user_id ?? tags.user ?? null,
    project: tags.project ?? null,
    totalCostUsd: money(r.cost),
    callCount: Number(r.call_count),
    unpricedCallCount: Number(r.unpriced_call_count),
    errorCallCount: Number(r.error_call_count),
    inputTokens: Number(r.input_tokens),
    outputTokens: Number(r.output_tokens),
    cachedTokens: Number(r.cached_tokens),
    startedAt: iso(r.started_at),
    endedAt: iso(r.ended_at),
    durationMs: r.started_at && r.ended_at ? r.ended_at.getTime() - r.started_at.getTime() : null,
    status: r.status,
    serviceIds: r.service_ids ?? [],
    tags,
  };
}

export function toCall(r: CallRow): CallDto {
  return {
    spanId: r.span_id,
    parentSpanId: r.parent_span_id,
    time: r.time.toISOString(),
    serviceId: r.service_id,
    provider: r.provider,
    model: r.model,
    operation: r.operation,
    costUsd: r.cost === null ? null : money(r.cost),
    pricingSource: r.pricing_source,
    pricingModel: r.pricing_model,
    pricingFlags: r.pricing_flags ?? [],
    serviceTier: r.service_tier ?? null,
    catalogVersion: r.catalog_version ?? null,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cachedTokens: r.cached_tokens,
    tokenBreakdown: r.token_breakdown ?? {},
    latencyMs: r.latency_ms,
    status: r.status,
    errorClass: r.error_class,
    streamed: r.streamed,
    tags: r.tags ?? {},
    metadata: r.metadata ?? {},
    attempts: r.attempts,
  };
}
