import { anthropicUsage } from '../../providers/anthropic.usage.js';
import { geminiUsage } from '../../providers/gemini.usage.js';
import { chatUsage } from '../../providers/openai.usage.js';
import { missingUsage, UsageReader, type NormalizedUsage } from '../../providers/usage-reader.js';

/**
 * Usage of a LangChain chat result. The provider's own usage object (LangChain keeps it in
 * `response_metadata.usage` for non-streamed OpenAI/Anthropic calls and for OpenAI streams) goes
 * through the same normalisers as the tracked SDK clients, so a call costs the same either way.
 * Otherwise LangChain's `usage_metadata` is read: its convention is already OTel's (input includes
 * cache reads and writes; output includes reasoning), so it only needs splitting into buckets.
 */
export function langchainUsage(provider: string, responseMetadata: unknown, usageMetadata: unknown): NormalizedUsage {
  const raw = (responseMetadata as { usage?: unknown; usageMetadata?: unknown } | undefined)?.usage;
  if (isObject(raw)) {
    if (typeof raw.prompt_tokens === 'number') return chatUsage(raw);
    if (provider === 'anthropic' && typeof raw.input_tokens === 'number' && typeof raw.output_tokens === 'number') return anthropicUsage(raw);
    // Anthropic streams: LangChain keeps the cache fields (with the 5m/1h split) but moves the
    // counts to usage_metadata, whose input includes the cache; rebuild the API's own shape.
    if (provider === 'anthropic' && isObject(usageMetadata) && typeof usageMetadata.input_tokens === 'number') {
      const cached = num(raw.cache_read_input_tokens) + num(raw.cache_creation_input_tokens);
      return anthropicUsage({ ...raw, input_tokens: usageMetadata.input_tokens - cached, output_tokens: usageMetadata.output_tokens });
    }
  }
  const gemini = (responseMetadata as { usageMetadata?: unknown } | undefined)?.usageMetadata;
  if (isObject(gemini) && typeof gemini.promptTokenCount === 'number') return geminiUsage(gemini);
  if (isObject(usageMetadata)) return fromUsageMetadata(usageMetadata);
  return missingUsage('usage_metadata: missing');
}

/** LangChain's `UsageMetadata`: `input_token_details` {cache_read, cache_creation, audio}, `output_token_details` {reasoning, audio}. */
function fromUsageMetadata(u: Record<string, unknown>): NormalizedUsage {
  const r = new UsageReader();
  const input = r.count(u, 'input_tokens', 'usage_metadata', true);
  const output = r.count(u, 'output_tokens', 'usage_metadata', true);
  const inDetails = r.object(u, 'input_token_details', 'usage_metadata');
  const outDetails = r.object(u, 'output_token_details', 'usage_metadata');
  const read = r.count(inDetails, 'cache_read', 'usage_metadata.input_token_details');
  const created = r.count(inDetails, 'cache_creation', 'usage_metadata.input_token_details');
  const w1h = r.count(inDetails, 'ephemeral_1h_input_tokens', 'usage_metadata.input_token_details');
  const audioIn = r.count(inDetails, 'audio', 'usage_metadata.input_token_details');
  const reasoning = r.count(outDetails, 'reasoning', 'usage_metadata.output_token_details');
  const audioOut = r.count(outDetails, 'audio', 'usage_metadata.output_token_details');
  return r.finish(
    {
      inputUncached: r.rest(input, read + created + audioIn, 'usage_metadata.input_tokens'),
      cacheRead: read,
      cacheWrite5m: r.rest(created, w1h, 'usage_metadata.input_token_details.cache_creation'),
      cacheWrite1h: Math.min(w1h, created),
      inputAudio: audioIn,
      output: r.rest(output, reasoning + audioOut, 'usage_metadata.output_tokens'),
      reasoning,
      outputAudio: audioOut,
    },
    read,
  );
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
