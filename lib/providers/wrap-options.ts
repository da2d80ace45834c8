import { KostrackConfigError, normalizeTags, type TagInput, type Tags } from '../core/index.js';
import { assertProviderName, PriceBook } from '../pricing/index.js';

/** What the metadata hook sees: the request as the user wrote it (minus Kostrack's own option). */
export interface RequestInfo {
  provider: string;
  operation: string;
  model: string;
  params: unknown;
}

/**
 * Decides which request metadata is kept on the call row. The default keeps none: prompts,
 * completions and API keys are never stored unless this hook returns them. Return a small JSON
 * object, e.g. `({ params }) => ({ temperature: params.temperature })`.
 */
export type MetadataHook = (request: RequestInfo) => Record<string, unknown> | undefined;

export interface WrapOptions {
  /** Provider name stored on rows and used for pricing; default from the client (`openai`, `anthropic`, `gemini`, or the base URL's host). */
  provider?: string | undefined;
  /** Client tags: lowest precedence, persisted on every call of this client. */
  tags?: TagInput | undefined;
  /** Prices calls; default the process-wide book (the Nest module configures it). */
  priceBook?: PriceBook | undefined;
  metadata?: MetadataHook | undefined;
  /**
   * OpenAI-style streams: add `stream_options.include_usage` when the user did not set it (and hide
   * the extra usage-only chunk). Default true, except for providers that reject the option (Mistral).
   */
  includeStreamUsage?: boolean | undefined;
}

export interface ResolvedWrapOptions {
  provider: string | undefined;
  tags: Tags;
  priceBook: PriceBook | undefined;
  metadata: MetadataHook | undefined;
  includeStreamUsage: boolean | undefined;
}

const KNOWN = new Set(['provider', 'tags', 'priceBook', 'metadata', 'includeStreamUsage']);

/** Validates `wrap()` options up front, so mistakes surface at wrap time, never inside a tracked call. */
export function resolveWrapOptions(options: unknown): ResolvedWrapOptions {
  if (options === undefined) return { provider: undefined, tags: normalizeTags(undefined), priceBook: undefined, metadata: undefined, includeStreamUsage: undefined };
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new KostrackConfigError('wrap(client, options): options must be an object like { provider, tags }');
  const o = options as WrapOptions;
  for (const key of Object.keys(o)) if (!KNOWN.has(key)) throw new KostrackConfigError(`wrap(): unknown option "${key}"; expected ${[...KNOWN].join(', ')}`);
  if (o.provider !== undefined) assertProviderName(o.provider, 'wrap()');
  if (o.priceBook !== undefined && !(o.priceBook instanceof PriceBook)) throw new KostrackConfigError('wrap(): priceBook must be a PriceBook');
  if (o.metadata !== undefined && typeof o.metadata !== 'function') throw new KostrackConfigError('wrap(): metadata must be a function');
  if (o.includeStreamUsage !== undefined && typeof o.includeStreamUsage !== 'boolean') throw new KostrackConfigError('wrap(): includeStreamUsage must be a boolean');
  return {
    provider: o.provider,
    tags: normalizeTags(o.tags),
    priceBook: o.priceBook,
    metadata: o.metadata,
    includeStreamUsage: o.includeStreamUsage,
  };
}
