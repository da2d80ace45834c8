import type { TokenBreakdown } from '../core/index.js';

/** The token buckets a price applies to; the same disjoint buckets as {@link TokenBreakdown}. */
export type PriceBucket = Exclude<keyof TokenBreakdown, FeeBucket>;

export const PRICE_BUCKETS: readonly PriceBucket[] = [
  'inputUncached',
  'cacheRead',
  'cacheWrite5m',
  'cacheWrite1h',
  'output',
  'reasoning',
  'inputAudio',
  'outputAudio',
  'cacheReadAudio',
  'outputImage',
];

/** Per-request fees: counts, each billed at a price per request. */
export type FeeBucket = 'webSearches' | 'fileSearches' | 'groundedPrompts';

export const FEE_BUCKETS: readonly FeeBucket[] = ['webSearches', 'fileSearches', 'groundedPrompts'];

/** The price key of each fee bucket in {@link ModelPriceSpec}. */
export const FEE_PRICE_KEYS: Readonly<Record<FeeBucket, 'webSearch' | 'fileSearch' | 'groundedPrompt'>> = {
  webSearches: 'webSearch',
  fileSearches: 'fileSearch',
  groundedPrompts: 'groundedPrompt',
};

/**
 * A price in USD per million tokens, as a decimal string (exact) or a number (read through its
 * shortest decimal form), or tiered: `base` applies unless the call's total input tokens exceed a
 * tier's `start`, then that tier's price applies to every token of the bucket (the catalog's rule,
 * e.g. Gemini 2.5 Pro above 200k input tokens).
 */
export type PerMtok = string | number | { base: string | number; tiers: readonly { start: number; price: string | number }[] };

/**
 * Prices for one model. Reasoning is billed at `output` unless `reasoning` is set. Other unset
 * buckets fall back like the catalog (cache and audio input → `input`, audio and image output →
 * `output`), and a call that has tokens in such a bucket is flagged as approximated.
 */
export interface ModelPriceSpec {
  input?: PerMtok | undefined;
  output?: PerMtok | undefined;
  cacheRead?: PerMtok | undefined;
  /** Single cache-write rate (Anthropic's 5-minute rate). */
  cacheWrite?: PerMtok | undefined;
  cacheWrite1h?: PerMtok | undefined;
  reasoning?: PerMtok | undefined;
  inputAudio?: PerMtok | undefined;
  outputAudio?: PerMtok | undefined;
  /** Cached audio input. */
  cacheReadAudio?: PerMtok | undefined;
  outputImage?: PerMtok | undefined;
  /** USD per request, for APIs billed per call. */
  perRequest?: string | number | undefined;
  /** USD per web search (Anthropic and OpenAI web search tools, Gemini 3 search queries). */
  webSearch?: string | number | undefined;
  /** USD per OpenAI `file_search` call. */
  fileSearch?: string | number | undefined;
  /** USD per Gemini prompt grounded with Google Search. */
  groundedPrompt?: string | number | undefined;
}

/** A price override from module options: applies to a provider's model (exact name, or a prefix ending in `*`). */
export interface PriceOverride extends ModelPriceSpec {
  provider: string;
  model: string;
  /** Prices for batch API calls; default: these prices times the provider's batch discount. */
  batch?: ModelPriceSpec | undefined;
  /**
   * The service tier these prices are for (`flex`, `priority`…), as the response reports it.
   * Absent: the standard tier. A tier override beats Kostrack's tier table.
   */
  serviceTier?: string | undefined;
}
