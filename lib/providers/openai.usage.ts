import type { WebSearchTool } from '../pricing/index.js';
import { missingUsage, UsageReader, type NormalizedUsage } from './usage-reader.js';

/**
 * Chat Completions usage (OpenAI and compatible servers). `prompt_tokens` includes cached, cache
 * written and audio input; `completion_tokens` includes reasoning and audio output. DeepSeek
 * reports `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens` = `prompt_tokens` instead.
 * `serviceTier` is the completion's top-level `service_tier` (the tier that served it, which is
 * what is billed, whatever the request asked for).
 */
export function chatUsage(usage: unknown, serviceTier?: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  r.tier({ service_tier: serviceTier }, 'service_tier', 'response');
  const prompt = r.count(usage, 'prompt_tokens', 'usage', true);
  const completion = r.count(usage, 'completion_tokens', 'usage', !('prompt_tokens' in usage) || 'completion_tokens' in usage);
  const pd = r.object(usage, 'prompt_tokens_details', 'usage');
  const cd = r.object(usage, 'completion_tokens_details', 'usage');
  const hasHit = (usage as Record<string, unknown>).prompt_cache_hit_tokens !== undefined;
  const cached = hasHit ? r.count(usage, 'prompt_cache_hit_tokens', 'usage') : r.count(pd, 'cached_tokens', 'usage.prompt_tokens_details');
  // CompletionUsage.PromptTokensDetails.cache_write_tokens: part of prompt_tokens, billed at the cache-write rate.
  const cacheWrite = r.count(pd, 'cache_write_tokens', 'usage.prompt_tokens_details');
  const audioIn = r.count(pd, 'audio_tokens', 'usage.prompt_tokens_details');
  const reasoning = r.count(cd, 'reasoning_tokens', 'usage.completion_tokens_details');
  const audioOut = r.count(cd, 'audio_tokens', 'usage.completion_tokens_details');
  return r.finish(
    {
      inputUncached: r.rest(prompt, cached + cacheWrite + audioIn, 'usage.prompt_tokens'),
      cacheRead: cached,
      cacheWrite5m: cacheWrite,
      inputAudio: audioIn,
      output: r.rest(completion, reasoning + audioOut, 'usage.completion_tokens'),
      reasoning,
      outputAudio: audioOut,
    },
    cached,
  );
}

/**
 * Responses API usage: `input_tokens` includes cached and cache-written input, `output_tokens`
 * includes reasoning. `serviceTier` is the response's `service_tier`; `output` its output items,
 * of which each `web_search_call` and `file_search_call` is a billed tool call.
 */
export function responsesUsage(usage: unknown, serviceTier?: unknown, output?: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  r.tier({ service_tier: serviceTier }, 'service_tier', 'response');
  const input = r.count(usage, 'input_tokens', 'usage', true);
  const outputTokens = r.count(usage, 'output_tokens', 'usage', true);
  const id = r.object(usage, 'input_tokens_details', 'usage');
  const cached = r.count(id, 'cached_tokens', 'usage.input_tokens_details');
  // ResponseUsage.InputTokensDetails.cache_write_tokens: part of input_tokens.
  const cacheWrite = r.count(id, 'cache_write_tokens', 'usage.input_tokens_details');
  const reasoning = r.count(r.object(usage, 'output_tokens_details', 'usage'), 'reasoning_tokens', 'usage.output_tokens_details');
  const { webSearches, fileSearches } = toolCalls(r, output);
  return r.finish(
    {
      inputUncached: r.rest(input, cached + cacheWrite, 'usage.input_tokens'),
      cacheRead: cached,
      cacheWrite5m: cacheWrite,
      output: r.rest(outputTokens, reasoning, 'usage.output_tokens'),
      reasoning,
      webSearches,
      fileSearches,
    },
    cached,
  );
}

/** The billed tool calls among a response's output items (`ResponseFunctionWebSearch`, `ResponseFileSearchToolCall`). */
function toolCalls(r: UsageReader, output: unknown): { webSearches: number; fileSearches: number } {
  let webSearches = 0;
  let fileSearches = 0;
  if (output === undefined || output === null) return { webSearches, fileSearches };
  if (!Array.isArray(output)) {
    // Its web and file search calls, billed per call, cannot be counted.
    r.billingIssue(`response.output: unexpected shape (${typeof output}); tool calls not billed`);
    return { webSearches, fileSearches };
  }
  for (const item of output) {
    const i = item as { type?: unknown; action?: { type?: unknown } | null } | null;
    // Only a search is billed: reasoning models also emit open_page and find_in_page actions
    // (ResponseFunctionWebSearch.action is Search | OpenPage | Find), which are free.
    if (i?.type === 'web_search_call') {
      if (i.action === undefined || i.action === null || i.action.type === 'search') webSearches++;
    } else if (i?.type === 'file_search_call') fileSearches++;
  }
  return { webSearches, fileSearches };
}

/** Output items of tools billed by the container hour or per image, which Kostrack does not price. */
const UNPRICED_TOOL_ITEMS = new Set(['code_interpreter_call', 'image_generation_call']);

function unpricedToolCalls(output: unknown): string | null {
  if (!Array.isArray(output)) return null;
  const counts = new Map<string, number>();
  for (const item of output) {
    const type = (item as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && UNPRICED_TOOL_ITEMS.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  if (counts.size === 0) return null;
  return `${[...counts].map(([type, n]) => `${n} ${type}`).join(', ')} not billed (no per-call price)`;
}

/**
 * Which web search tool the response's `tools` (the request's, echoed) offered: the fee per call
 * depends on it on some models (priced from the fee table in lib/pricing). Tool types may carry a
 * date (`web_search_preview_2025_03_11`, `web_search_2025_08_26`).
 */
function webSearchToolOf(tools: unknown): WebSearchTool | undefined {
  if (!Array.isArray(tools)) return undefined;
  let preview = false;
  let ga = false;
  for (const t of tools) {
    const type = (t as { type?: unknown } | null)?.type;
    if (typeof type !== 'string') continue;
    if (type.startsWith('web_search_preview')) preview = true;
    else if (type.startsWith('web_search')) ga = true;
  }
  return preview ? (ga ? 'either' : 'web_search_preview') : ga ? 'web_search' : undefined;
}

/** Usage of a `ChatCompletion` (its `usage` and `service_tier`). */
export function chatCompletionUsage(completion: unknown): NormalizedUsage {
  const c = completion as { usage?: unknown; service_tier?: unknown } | null | undefined;
  return chatUsage(c?.usage, c?.service_tier);
}

/** Usage of a Responses API `Response` (its `usage`, `service_tier` and tool-call output items). */
export function responseUsage(response: unknown): NormalizedUsage {
  const r = response as { usage?: unknown; service_tier?: unknown; output?: unknown } | null | undefined;
  const u = responsesUsage(r?.usage, r?.service_tier, r?.output);
  const unpricedTools = unpricedToolCalls(r?.output);
  // Tools billed outside tokens that no catalog prices per call: seen, so said on the row.
  if (unpricedTools) u.pricingNotes = [...(u.pricingNotes ?? []), unpricedTools];
  if (u.breakdown.webSearches) {
    const tool = webSearchToolOf((response as { tools?: unknown } | null)?.tools);
    if (tool) u.webSearchTool = tool;
  }
  return u;
}

/** Embeddings usage: input only. */
export function embeddingsUsage(usage: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  return r.finish({ inputUncached: r.count(usage, 'prompt_tokens', 'usage', true) }, 0);
}
