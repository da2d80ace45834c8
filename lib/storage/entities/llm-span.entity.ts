import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One named span (`llm_spans`), so the tree of a trace can be rebuilt from the database. */
@Entity({ name: 'llm_spans' })
@Index('llm_spans_trace_idx', ['traceId'])
export class LlmSpanEntity {
  @PrimaryColumn({ name: 'span_id', type: 'uuid' }) spanId: string;
  @Column({ name: 'trace_id', type: 'uuid' }) traceId: string;
  @Column({ name: 'parent_span_id', type: 'uuid', nullable: true }) parentSpanId: string | null;
  @Column({ name: 'is_root', type: 'boolean' }) isRoot: boolean;
  @Column({ type: 'text' }) name: string;
  @Column({ name: 'service_id', type: 'text' }) serviceId: string;
  @Column({ name: 'started_at', type: 'timestamptz' }) startedAt: Date;
  @Column({ name: 'ended_at', type: 'timestamptz' }) endedAt: Date;
  @Column({ type: 'text' }) status: string;
  @Column({ name: 'error_class', type: 'text', nullable: true }) errorClass: string | null;
  @Column({ type: 'jsonb', default: {} }) tags: Record<string, string>;
  /** The subtree's cost as known in the recording process when the span ended. */
  @Column({ name: 'cost_usd', type: 'numeric' }) costUsd: string;
  @Column({ name: 'call_count', type: 'integer' }) callCount: number;
}
