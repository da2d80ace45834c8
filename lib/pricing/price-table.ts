import type { TokenBreakdown } from '../core/index.js';

/** The token buckets a price applies to; the same disjoint buckets as {@link TokenBreakdown}. */
export type PriceBucket = keyof TokenBreakdown;

export const PRICE_BUCKETS: readonly PriceBucket[] = [
  'inputUncached',
  'cacheRead',
  'cacheWrite5m',
  'cacheWrite1h',
  'output',
  'reasoning',
  'inputAudio',
  'outputAudio',
];

/**
 * A price in USD per million tokens, as a decimal string (exact) or a number (read through its
 * shortest decimal form), or tiered: `base` applies unless the call's total input tokens exceed a
 * tier's `start`, then that tier's price applies to every token of the bucket (the catalog's rule,
 * e.g. Gemini 2.5 Pro above 200k input tokens).
 */
export type PerMtok = string | number | { base: string | number; tiers: readonly { start: number; price: string | number }[] };

/** Prices for one model. Unset buckets fall back like the catalog: cache and audio input → `input`, reasoning and audio output → `output`. */
export interface ModelPriceSpec {
  input?: PerMtok;
  output?: PerMtok;
  cacheRead?: PerMtok;
  /** Single cache-write rate (Anthropic's 5-minute rate). */
  cacheWrite?: PerMtok;
  cacheWrite1h?: PerMtok;
  reasoning?: PerMtok;
  inputAudio?: PerMtok;
  outputAudio?: PerMtok;
  /** USD per request, for APIs billed per call. */
  perRequest?: string | number;
}

/** A price override from module options: applies to a provider's model (exact name, or a prefix ending in `*`). */
export interface PriceOverride extends ModelPriceSpec {
  provider: string;
  model: string;
  /** Prices for batch API calls; default: these prices times the provider's batch discount. */
  batch?: ModelPriceSpec;
}
