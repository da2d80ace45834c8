import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { configureKostrack, recordCall } from '../../lib/core/index.js';
import { runtime } from '../../lib/core/runtime.js';
import { anthropicUsage } from '../../lib/providers/anthropic.usage.js';
import { geminiUsage } from '../../lib/providers/gemini.usage.js';
import { wrap } from '../../lib/providers/index.js';
import { chatUsage, responsesUsage } from '../../lib/providers/openai.usage.js';
import { startKostrack } from '../../lib/storage/start-kostrack.js';
import { anthropicRoutes } from '../../loopback/anthropic.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { callInput } from '../support/call-input.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

/** The `integer` token columns of `llm_calls` hold at most this. */
const MAX = 2_147_483_647;

describe('token counts the integer columns cannot hold', () => {
  it('a 2^31 count is flagged and clamped, saying what was seen and what was stored', () => {
    expect(anthropicUsage({ input_tokens: 2 ** 31, output_tokens: 12 })).toEqual({
      inputTokens: MAX,
      outputTokens: 12,
      cachedTokens: 0,
      breakdown: { inputUncached: MAX, output: 12 },
      issues: ['usage.input_tokens: 2147483648 is over 2147483647; stored 2147483647'],
    });
    expect(responsesUsage({ input_tokens: 10, output_tokens: 2 ** 31, output_tokens_details: { reasoning_tokens: 40 } })).toEqual({
      inputTokens: 10,
      outputTokens: MAX,
      cachedTokens: 0,
      breakdown: { inputUncached: 10, output: MAX - 40, reasoning: 40 },
      issues: ['usage.output_tokens: 2147483648 is over 2147483647; stored 2147483647'],
    });
  });

  it('a huge fractional or cached count is clamped too', () => {
    const u = chatUsage({ prompt_tokens: 1e12 + 0.5, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 3e9 } });
    expect(u).toEqual({
      inputTokens: MAX,
      outputTokens: 3,
      cachedTokens: MAX,
      breakdown: { cacheRead: MAX, output: 3 },
      issues: [
        'usage.prompt_tokens: 1000000000000.5 is over 2147483647; stored 2147483647',
        'usage.prompt_tokens_details.cached_tokens: 3000000000 is over 2147483647; stored 2147483647',
      ],
    });
  });

  it('counts that fit alone but add up past the column are flagged and the total clamped', () => {
    // Anthropic's input_tokens excludes cache reads; the stored input is their sum.
    expect(anthropicUsage({ input_tokens: 2_000_000_000, cache_read_input_tokens: 200_000_000, output_tokens: 1 })).toEqual({
      inputTokens: MAX,
      outputTokens: 1,
      cachedTokens: 200_000_000,
      breakdown: { inputUncached: 2_000_000_000, cacheRead: 200_000_000, output: 1 },
      issues: ['input tokens: the counts add up to 2200000000, over 2147483647; stored 2147483647'],
    });
    expect(geminiUsage({ promptTokenCount: 10, candidatesTokenCount: MAX, thoughtsTokenCount: 5 }).issues).toEqual([
      'output tokens: the counts add up to 2147483652, over 2147483647; stored 2147483647',
    ]);
  });

  it('2^31 - 1 itself is a clean count', () => {
    expect(anthropicUsage({ input_tokens: MAX, output_tokens: 0 })).toEqual({
      inputTokens: MAX,
      outputTokens: 0,
      cachedTokens: 0,
      breakdown: { inputUncached: MAX },
      issues: [],
    });
  });
});

describe('stored, not dead-lettered', () => {
  const db = useTestDatabase('token_limits');

  it('a provider reporting 2^31 tokens and a recordCall() with 3e9 both land in llm_calls', async () => {
    const model = 'claude-sonnet-4-20250514';
    const server = await anthropicRoutes(new LoopbackServer(), { model, usage: { input_tokens: 2 ** 31, output_tokens: 7 } }).start();
    const warnings: string[] = [];
    const originalWarn = runtime.warn;
    configureKostrack({ serviceId: 'token-limits', warn: (m) => warnings.push(m) });
    const kostrack = await startKostrack({ database: db.url, schema: db.schema, serviceId: 'token-limits', writer: tempWriterOptions() });
    try {
      const client = wrap(new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries: 0 }));
      await client.messages.create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
      recordCall(callInput('0.01', { model: 'direct', inputTokens: 3e9, latencyMs: NaN }));
      await kostrack.flush();
      expect(kostrack.health()).toMatchObject({ deadLettered: 0 });
    } finally {
      await kostrack.close();
      configureKostrack({ serviceId: 'default', warn: originalWarn });
      await server.close();
    }
    const rows = await db.inSchema<{ model: string; input_tokens: number; output_tokens: number; latency_ms: number; metadata: Record<string, unknown> }>(
      `SELECT model, input_tokens, output_tokens, latency_ms, metadata FROM llm_calls WHERE service_id = 'token-limits' ORDER BY model`,
    );
    expect(rows.map((r) => [r.model, r.input_tokens, r.output_tokens])).toEqual([
      [model, MAX, 7],
      ['direct', MAX, 20],
    ]);
    const byModel = Object.fromEntries(rows.map((r) => [r.model, r]));
    expect(byModel[model].metadata.usage_issues).toEqual(['usage.input_tokens: 2147483648 is over 2147483647; stored 2147483647']);
    expect(byModel.direct.latency_ms).toBe(0);
    expect(byModel.direct.metadata).toEqual({
      input_issues: ['inputTokens: 3000000000 is over 2147483647; stored 2147483647', 'latencyMs: NaN; stored 0'],
    });
    expect(warnings.filter((w) => w.startsWith("Kostrack corrected a recorded call's"))).toHaveLength(2);
  });
});

describe('anthropic cache-write split that contradicts its total', () => {
  it('a 1-hour part larger than cache_creation_input_tokens is held to the total, and reported', () => {
    // Total 30 written, split 50 (5 min) / 40 (1 h): the split cannot be right; the total is what is billed.
    const u = anthropicUsage({ input_tokens: 100, output_tokens: 10, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 50, ephemeral_1h_input_tokens: 40 } });
    expect(u.breakdown).toEqual({ inputUncached: 100, cacheWrite1h: 30, output: 10 });
    expect(u.inputTokens).toBe(130);
    expect(u.issues).toEqual(['usage.cache_creation_input_tokens: parts (40) exceed the total (30)']);
  });
});

describe('anthropic fast mode', () => {
  it('usage.speed "fast" is priced at the standard rate and says so', () => {
    expect(anthropicUsage({ input_tokens: 100, output_tokens: 10, speed: 'fast' }).pricingNotes).toEqual(['speed "fast" is billed at a premium; priced at the standard rate']);
    expect(anthropicUsage({ input_tokens: 100, output_tokens: 10, speed: 'standard' }).pricingNotes).toBeUndefined();
  });
});
