import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One workflow run (`llm_traces`); totals are maintained at ingest from the call rows actually inserted. */
@Entity({ name: 'llm_traces' })
// The migrations' indexes (0005): the trace list's two orders, with trace_id as the tie-break.
@Index('llm_traces_cost_id_idx', ['totalCostUsd', 'traceId'])
@Index('llm_traces_started_id_idx', ['startedAt', 'traceId'])
// Expression and GIN indexes TypeORM cannot describe: declared so that synchronize leaves them alone.
@Index('llm_traces_user_idx', { synchronize: false })
@Index('llm_traces_feature_idx', { synchronize: false })
@Index('llm_traces_tags_idx', { synchronize: false })
export class LlmTraceEntity {
  @PrimaryColumn({ name: 'trace_id', type: 'uuid' }) traceId: string;
  /** The root span's name; NULL until the root span arrives. */
  @Column({ type: 'text', nullable: true }) name: string | null;
  @Column({ name: 'root_span_id', type: 'uuid', nullable: true }) rootSpanId: string | null;
  /** Set when the root continued a remote caller's trace (W3C traceparent). */
  @Column({ name: 'root_parent_span_id', type: 'uuid', nullable: true }) rootParentSpanId: string | null;
  @Column({ type: 'jsonb', default: {} }) tags: Record<string, string>;
  @Column({ name: 'service_ids', type: 'text', array: true, default: () => "'{}'" }) serviceIds: string[];
  @Column({ type: 'text', nullable: true }) status: string | null;
  @Column({ name: 'error_class', type: 'text', nullable: true }) errorClass: string | null;
  @Column({ name: 'started_at', type: 'timestamptz', nullable: true }) startedAt: Date | null;
  @Column({ name: 'ended_at', type: 'timestamptz', nullable: true }) endedAt: Date | null;
  @Column({ name: 'first_call_at', type: 'timestamptz', nullable: true }) firstCallAt: Date | null;
  @Column({ name: 'last_call_at', type: 'timestamptz', nullable: true }) lastCallAt: Date | null;
  @Column({ name: 'total_cost_usd', type: 'numeric', default: 0 }) totalCostUsd: string;
  @Column({ name: 'call_count', type: 'bigint', default: 0 }) callCount: string;
  @Column({ name: 'unpriced_call_count', type: 'bigint', default: 0 }) unpricedCallCount: string;
  @Column({ name: 'error_call_count', type: 'bigint', default: 0 }) errorCallCount: string;
  @Column({ name: 'input_tokens', type: 'bigint', default: 0 }) inputTokens: string;
  @Column({ name: 'output_tokens', type: 'bigint', default: 0 }) outputTokens: string;
  @Column({ name: 'cached_tokens', type: 'bigint', default: 0 }) cachedTokens: string;
  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' }) updatedAt: Date;
}
