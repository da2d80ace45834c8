import { missingUsage, UsageReader, type NormalizedUsage } from './usage-reader.js';

/**
 * Chat Completions usage (OpenAI and compatible servers). `prompt_tokens` includes cached and
 * audio input; `completion_tokens` includes reasoning and audio output. DeepSeek reports
 * `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens` = `prompt_tokens` instead.
 */
export function chatUsage(usage: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  const prompt = r.count(usage, 'prompt_tokens', 'usage', true);
  const completion = r.count(usage, 'completion_tokens', 'usage', !('prompt_tokens' in usage) || 'completion_tokens' in usage);
  const pd = r.object(usage, 'prompt_tokens_details', 'usage');
  const cd = r.object(usage, 'completion_tokens_details', 'usage');
  const hasHit = (usage as Record<string, unknown>).prompt_cache_hit_tokens !== undefined;
  const cached = hasHit ? r.count(usage, 'prompt_cache_hit_tokens', 'usage') : r.count(pd, 'cached_tokens', 'usage.prompt_tokens_details');
  const audioIn = r.count(pd, 'audio_tokens', 'usage.prompt_tokens_details');
  const reasoning = r.count(cd, 'reasoning_tokens', 'usage.completion_tokens_details');
  const audioOut = r.count(cd, 'audio_tokens', 'usage.completion_tokens_details');
  return r.finish(
    {
      inputUncached: r.rest(prompt, cached + audioIn, 'usage.prompt_tokens'),
      cacheRead: cached,
      inputAudio: audioIn,
      output: r.rest(completion, reasoning + audioOut, 'usage.completion_tokens'),
      reasoning,
      outputAudio: audioOut,
    },
    cached,
  );
}

/** Responses API usage: `input_tokens` includes cached, `output_tokens` includes reasoning. */
export function responsesUsage(usage: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  const input = r.count(usage, 'input_tokens', 'usage', true);
  const output = r.count(usage, 'output_tokens', 'usage', true);
  const cached = r.count(r.object(usage, 'input_tokens_details', 'usage'), 'cached_tokens', 'usage.input_tokens_details');
  const reasoning = r.count(r.object(usage, 'output_tokens_details', 'usage'), 'reasoning_tokens', 'usage.output_tokens_details');
  return r.finish(
    {
      inputUncached: r.rest(input, cached, 'usage.input_tokens'),
      cacheRead: cached,
      output: r.rest(output, reasoning, 'usage.output_tokens'),
      reasoning,
    },
    cached,
  );
}

/** Embeddings usage: input only. */
export function embeddingsUsage(usage: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  return r.finish({ inputUncached: r.count(usage, 'prompt_tokens', 'usage', true) }, 0);
}
