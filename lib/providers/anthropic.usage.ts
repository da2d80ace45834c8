import { missingUsage, UsageReader, type NormalizedUsage } from './usage-reader.js';

/**
 * Anthropic usage (`Usage` / `MessageDeltaUsage` in `@anthropic-ai/sdk`): `input_tokens` excludes
 * cache writes and reads, which come as `cache_creation_input_tokens` (split into 5-minute and
 * 1-hour writes under `cache_creation`) and `cache_read_input_tokens`. Extended thinking is billed
 * as output and counted in `output_tokens`.
 *
 * - `service_tier` (`standard`, `priority`, `batch`) is the tier that served the request: `batch`
 *   is priced at batch rates; `priority` has no published per-token price (it is bought as
 *   committed spend), so it is billed at the standard rate and the row is flagged.
 * - `server_tool_use.web_search_requests` is billed per search (`webSearches`, $10 per 1,000 from
 *   the catalog). `web_fetch_requests` cost nothing beyond the tokens they add, so they are not read.
 * - Long context (claude-sonnet-4 over 200k input tokens, cache reads and writes included) needs
 *   nothing here: the whole input total selects the price tier.
 */
export function anthropicUsage(usage: unknown): NormalizedUsage {
  if (usage === undefined || usage === null) return missingUsage('usage: missing');
  if (typeof usage !== 'object' || Array.isArray(usage)) return missingUsage('usage: unexpected shape');
  const r = new UsageReader();
  const input = r.count(usage, 'input_tokens', 'usage', true);
  const output = r.count(usage, 'output_tokens', 'usage', true);
  const read = r.count(usage, 'cache_read_input_tokens', 'usage');
  const created = r.count(usage, 'cache_creation_input_tokens', 'usage');
  const split = r.object(usage, 'cache_creation', 'usage');
  let w5 = created;
  let w1h = 0;
  if (split) {
    w1h = r.count(split, 'ephemeral_1h_input_tokens', 'usage.cache_creation');
    const fiveMinutes = r.count(split, 'ephemeral_5m_input_tokens', 'usage.cache_creation');
    // Trust the split when it accounts for the total; otherwise keep the total at the 5-minute rate.
    if (fiveMinutes + w1h === created || created === 0) w5 = fiveMinutes;
    else {
      w5 = r.rest(created, w1h, 'usage.cache_creation_input_tokens');
      // A 1-hour part larger than the total it belongs to (reported just above) is held to the total.
      if (w1h > created) w1h = created;
    }
  }
  const tools = r.object(usage, 'server_tool_use', 'usage');
  // A bad count (negative, not a number) is reported, not billed, and flagged on the row.
  const webSearches = tools ? r.feeCount(tools, 'web_search_requests', 'usage.server_tool_use') : 0;
  r.tier(usage, 'service_tier', 'usage');
  // Fast mode is billed at a premium the catalog does not carry: priced at the standard rate, said on the row.
  if ((usage as { speed?: unknown }).speed === 'fast') r.approximate('speed "fast" is billed at a premium; priced at the standard rate');
  return r.finish({ inputUncached: input, cacheRead: read, cacheWrite5m: w5, cacheWrite1h: w1h, output, webSearches }, read);
}

/**
 * Stream usage arrives in two parts: `message_start` carries input and cache counts and the
 * `service_tier`, `message_delta` the cumulative output and `server_tool_use` counts (and, from
 * newer API versions, cumulative input counts too). Later non-null values win.
 */
export function mergeAnthropicUsage(start: unknown, delta: unknown): unknown {
  if (!isObject(start)) return isObject(delta) ? delta : start;
  if (!isObject(delta)) return start;
  const merged: Record<string, unknown> = { ...start };
  for (const [k, v] of Object.entries(delta)) if (v !== null && v !== undefined) merged[k] = v;
  return merged;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
