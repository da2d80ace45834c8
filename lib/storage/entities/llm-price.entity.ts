import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A stored price override, USD per million tokens per bucket, valid in [effectiveFrom, effectiveTo). */
@Entity({ name: 'llm_prices' })
@Index('llm_prices_lookup_idx', ['provider', 'model', 'effectiveFrom'])
@Check('llm_prices_period_chk', '"effective_to" IS NULL OR "effective_to" > "effective_from"')
export class LlmPriceEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' }) id: string;
  @Column({ type: 'text' }) provider: string;
  @Column({ type: 'text' }) model: string;
  @Column({ name: 'input_per_mtok', type: 'numeric', nullable: true }) inputPerMtok: string | null;
  @Column({ name: 'cache_read_per_mtok', type: 'numeric', nullable: true }) cacheReadPerMtok: string | null;
  @Column({ name: 'cache_write_5m_per_mtok', type: 'numeric', nullable: true }) cacheWrite5mPerMtok: string | null;
  @Column({ name: 'cache_write_1h_per_mtok', type: 'numeric', nullable: true }) cacheWrite1hPerMtok: string | null;
  @Column({ name: 'output_per_mtok', type: 'numeric', nullable: true }) outputPerMtok: string | null;
  @Column({ name: 'reasoning_per_mtok', type: 'numeric', nullable: true }) reasoningPerMtok: string | null;
  @Column({ name: 'input_audio_per_mtok', type: 'numeric', nullable: true }) inputAudioPerMtok: string | null;
  @Column({ name: 'output_audio_per_mtok', type: 'numeric', nullable: true }) outputAudioPerMtok: string | null;
  @Column({ name: 'effective_from', type: 'timestamptz', default: () => 'now()' }) effectiveFrom: Date;
  @Column({ name: 'effective_to', type: 'timestamptz', nullable: true }) effectiveTo: Date | null;
  @Column({ type: 'text', nullable: true }) note: string | null;
  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' }) createdAt: Date;
}
