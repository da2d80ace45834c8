import { KostrackConfigError } from '../core/index.js';

/**
 * Provider names Kostrack accepts, mapped to their `@pydantic/genai-prices` provider id. The name is
 * what rows store in `provider`. `custom:<name>` is accepted for self-hosted or unlisted
 * OpenAI-compatible servers; those are priced only through overrides or stored prices.
 */
export const PROVIDERS: Readonly<Record<string, string | null>> = Object.freeze({
  openai: 'openai',
  azure: 'azure',
  anthropic: 'anthropic',
  gemini: 'google',
  google: 'google',
  deepseek: 'deepseek',
  groq: 'groq',
  mistral: 'mistral',
  openrouter: 'openrouter',
  xai: 'x-ai',
  together: 'together',
  fireworks: 'fireworks',
  cerebras: 'cerebras',
  perplexity: 'perplexity',
  novita: 'novita',
  moonshotai: 'moonshotai',
  ollama: null,
});

const CUSTOM = /^custom:[a-z0-9][a-z0-9._-]{0,62}$/;

/** Throws {@link KostrackConfigError} unless `name` is a known provider or `custom:<name>`. */
export function assertProviderName(name: unknown, where: string): asserts name is string {
  if (typeof name === 'string' && (Object.hasOwn(PROVIDERS, name) || CUSTOM.test(name))) return;
  throw new KostrackConfigError(
    `${where}: unknown provider ${JSON.stringify(name)}; use one of ${Object.keys(PROVIDERS).join(', ')}, or "custom:<name>" for other OpenAI-compatible servers`,
  );
}

/** The catalog's provider id, or null when the catalog does not price this provider. */
export function catalogProviderOf(provider: string): string | null {
  return Object.hasOwn(PROVIDERS, provider) ? PROVIDERS[provider] : null;
}

/**
 * Batch API discount as a fraction (numerator, denominator). OpenAI, Anthropic and Gemini bill
 * batch calls at half price; others have no batch API we track, so the fraction is 1.
 */
export function batchDiscountOf(provider: string): [bigint, bigint] {
  return provider === 'openai' || provider === 'azure' || provider === 'anthropic' || provider === 'gemini' || provider === 'google'
    ? [1n, 2n]
    : [1n, 1n];
}
