import { missingUsage, UsageReader, type NormalizedUsage } from './usage-reader.js';

/**
 * Gemini `usageMetadata`: `promptTokenCount` includes `cachedContentTokenCount`;
 * `thoughtsTokenCount` is billed as output but is outside `candidatesTokenCount`; tool-use prompt
 * tokens are billed as input and outside `promptTokenCount`.
 */
export function geminiUsage(usage: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usageMetadata: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usageMetadata: unexpected shape');
  const r = new UsageReader();
  const prompt = r.count(usage, 'promptTokenCount', 'usageMetadata', true);
  const cached = r.count(usage, 'cachedContentTokenCount', 'usageMetadata');
  const toolUse = r.count(usage, 'toolUsePromptTokenCount', 'usageMetadata');
  const candidates = r.count(usage, 'candidatesTokenCount', 'usageMetadata');
  const thoughts = r.count(usage, 'thoughtsTokenCount', 'usageMetadata');
  return r.finish(
    {
      inputUncached: r.rest(prompt, cached, 'usageMetadata.promptTokenCount') + toolUse,
      cacheRead: cached,
      output: candidates,
      reasoning: thoughts,
    },
    cached,
  );
}

/** `embedContent`: token counts come per embedding in `statistics.tokenCount` where the API reports them. */
export function geminiEmbedUsage(response: unknown): NormalizedUsage {
  const embeddings = (response as { embeddings?: unknown } | null)?.embeddings;
  if (!Array.isArray(embeddings)) return missingUsage('embeddings: unexpected shape');
  const r = new UsageReader();
  let tokens = 0;
  let counted = 0;
  embeddings.forEach((e, i) => {
    const stats = r.object(e, 'statistics', `embeddings[${i}]`);
    if (stats) {
      tokens += r.count(stats, 'tokenCount', `embeddings[${i}].statistics`, true);
      counted++;
    }
  });
  if (counted < embeddings.length) r.issues.push(`embeddings: ${embeddings.length - counted} of ${embeddings.length} without statistics.tokenCount`);
  return r.finish({ inputUncached: tokens }, 0);
}
