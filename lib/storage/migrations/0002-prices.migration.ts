import { quoteSchema } from '../schema.name.js';

/**
 * Version 2: stored price overrides (negotiated rates, fine-tuned models). Prices are USD per
 * million tokens for each disjoint bucket of `TokenBreakdown`; NULL means "use the catalog".
 */
export function pricesUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.llm_prices (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      provider text NOT NULL,
      model text NOT NULL,
      input_per_mtok numeric,
      cache_read_per_mtok numeric,
      cache_write_5m_per_mtok numeric,
      cache_write_1h_per_mtok numeric,
      output_per_mtok numeric,
      reasoning_per_mtok numeric,
      input_audio_per_mtok numeric,
      output_audio_per_mtok numeric,
      effective_from timestamptz NOT NULL DEFAULT now(),
      effective_to timestamptz,
      note text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT llm_prices_period_chk CHECK (effective_to IS NULL OR effective_to > effective_from)
    )`,
    `CREATE INDEX IF NOT EXISTS llm_prices_lookup_idx ON ${s}.llm_prices (provider, model, effective_from DESC)`,
  ];
}

export function pricesDown(schema: string): string[] {
  return [`DROP TABLE IF EXISTS ${quoteSchema(schema)}.llm_prices`];
}
