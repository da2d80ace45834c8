import { KostrackConfigError } from '../core/index.js';
import { wrapAnthropic, isAnthropicClient } from './anthropic.provider.js';
import { RAW } from './client-proxy.js';
import { isGeminiClient, wrapGemini } from './gemini.provider.js';
import { isOpenAIClient, openaiProviderOf, wrapOpenAI } from './openai.provider.js';
import { resolveWrapOptions, type WrapOptions } from './wrap-options.js';

const ANTHROPIC = new Set(['anthropic']);
const GEMINI = new Set(['gemini', 'google']);

/**
 * Returns the client with its LLM calls tracked: same type, same methods, same behaviour. Works
 * with `openai` (and OpenAI-compatible servers through `baseURL`), `@anthropic-ai/sdk` and
 * `@google/genai` clients. Throws {@link KostrackConfigError} here, at wrap time, for anything
 * that is not such a client or for bad options; a tracked call never throws because of Kostrack.
 */
export function wrap<T extends object>(client: T, options?: WrapOptions): T {
  if (client === null || (typeof client !== 'object' && typeof client !== 'function'))
    throw new KostrackConfigError(`wrap(): expected an OpenAI, Anthropic or GoogleGenAI client, got ${client === null ? 'null' : typeof client}`);
  const resolved = resolveWrapOptions(options);
  // Wrapping a wrapped client replaces its options instead of recording every call twice.
  const raw = ((client as Record<PropertyKey, unknown>)[RAW] as T | undefined) ?? client;
  if (isAnthropicClient(raw)) {
    const provider = resolved.provider ?? 'anthropic';
    if (!ANTHROPIC.has(provider)) throw new KostrackConfigError(`wrap(): an Anthropic client cannot be provider "${provider}"`);
    return wrapAnthropic(raw, provider, resolved);
  }
  if (isGeminiClient(raw)) {
    const provider = resolved.provider ?? 'gemini';
    if (!GEMINI.has(provider)) throw new KostrackConfigError(`wrap(): a GoogleGenAI client cannot be provider "${provider}"`);
    return wrapGemini(raw, provider, resolved);
  }
  if (isOpenAIClient(raw)) {
    const provider = resolved.provider ?? openaiProviderOf(raw);
    // Anthropic and Gemini also serve OpenAI-compatible endpoints, so any known provider name is allowed here.
    return wrapOpenAI(raw, provider, resolved);
  }
  throw new KostrackConfigError(
    'wrap(): not a supported LLM client; pass an instance of OpenAI (openai), Anthropic (@anthropic-ai/sdk) or GoogleGenAI (@google/genai)',
  );
}
