/**
 * Price fields (as `StoredPrice` and the admin API name them) → `llm_prices` columns, in USD per
 * million tokens. One list for everything that reads or writes stored prices.
 */
export const PRICE_COLUMNS = {
  input: 'input_per_mtok',
  output: 'output_per_mtok',
  cacheRead: 'cache_read_per_mtok',
  cacheWrite: 'cache_write_5m_per_mtok',
  cacheWrite1h: 'cache_write_1h_per_mtok',
  reasoning: 'reasoning_per_mtok',
  inputAudio: 'input_audio_per_mtok',
  outputAudio: 'output_audio_per_mtok',
} as const;

export type PriceField = keyof typeof PRICE_COLUMNS;
export const PRICE_FIELDS = Object.keys(PRICE_COLUMNS) as PriceField[];

/** Every price column as an exact decimal string (never a float), aliased to its field name. */
export const PRICE_COLUMNS_AS_TEXT = PRICE_FIELDS.map((f) => `trim_scale(${PRICE_COLUMNS[f]})::text AS "${f}"`).join(', ');
