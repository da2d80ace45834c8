import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One LLM call (`llm_calls`). Money columns are exact decimal strings, never floats. */
@Entity({ name: 'llm_calls' })
@Index('llm_calls_trace_time_idx', ['traceId', 'time'])
@Index('llm_calls_time_idx', ['time'])
export class LlmCallEntity {
  @PrimaryColumn({ name: 'span_id', type: 'uuid' }) spanId: string;
  /** Part of the key: the table is partitioned by month of `time` (migration 5), and a call's time never changes. */
  @PrimaryColumn({ type: 'timestamptz' }) time: Date;
  @Column({ name: 'service_id', type: 'text' }) serviceId: string;
  @Column({ type: 'text' }) provider: string;
  @Column({ type: 'text' }) model: string;
  @Column({ type: 'text' }) operation: string;
  @Column({ name: 'pricing_model', type: 'text', nullable: true }) pricingModel: string | null;
  @Column({ name: 'pricing_source', type: 'text' }) pricingSource: string;
  @Column({ name: 'input_tokens', type: 'integer' }) inputTokens: number;
  @Column({ name: 'output_tokens', type: 'integer' }) outputTokens: number;
  @Column({ name: 'cached_tokens', type: 'integer' }) cachedTokens: number;
  /** NULL when the call could not be priced. */
  @Column({ name: 'cost_usd', type: 'numeric', nullable: true }) costUsd: string | null;
  @Column({ name: 'token_breakdown', type: 'jsonb', default: {} }) tokenBreakdown: Record<string, number>;
  @Column({ name: 'latency_ms', type: 'integer' }) latencyMs: number;
  /** HTTP attempts the SDK made (1: no retry); NULL when unknown (rows from before version 9, SDKs that cannot report it). */
  @Column({ type: 'smallint', nullable: true }) attempts: number | null;
  @Column({ type: 'text' }) status: string;
  @Column({ name: 'error_class', type: 'text', nullable: true }) errorClass: string | null;
  @Column({ type: 'boolean' }) streamed: boolean;
  @Column({ name: 'trace_id', type: 'uuid', nullable: true }) traceId: string | null;
  @Column({ name: 'parent_span_id', type: 'uuid', nullable: true }) parentSpanId: string | null;
  @Column({ type: 'jsonb', default: {} }) tags: Record<string, string>;
  @Column({ type: 'jsonb', default: {} }) metadata: Record<string, unknown>;
  /** The service tier the response reported (`flex`, `priority`, `batch`…). */
  @Column({ name: 'service_tier', type: 'text', nullable: true }) serviceTier: string | null;
  /** Why the price is not exact (a bucket billed at another's rate, an unpriced tier or fee); NULL when exact. */
  @Column({ name: 'pricing_flags', type: 'jsonb', nullable: true }) pricingFlags: string[] | null;
  /** The price catalog (and corrections) version that priced the call. */
  @Column({ name: 'catalog_version', type: 'text', nullable: true }) catalogVersion: string | null;
  /** When the writer inserted the row; NULL for rows from before version 6. */
  @Column({ name: 'recorded_at', type: 'timestamptz', nullable: true, default: () => 'now()' }) recordedAt: Date | null;
  /** When the cost was last re-priced; NULL when it is the price it was recorded with. */
  @Column({ name: 'priced_at', type: 'timestamptz', nullable: true }) pricedAt: Date | null;
  /** The `llm_repricings` run that last changed the cost; NULL when none did. */
  @Column({ name: 'repricing_id', type: 'bigint', nullable: true }) repricingId: string | null;
}
