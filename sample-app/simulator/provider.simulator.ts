import { createHash } from 'node:crypto';
import { anthropicRoutes, anthropicUsageBody, message } from '../../loopback/anthropic.loopback.js';
import { json, LoopbackServer } from '../../loopback/loopback.server.js';
import { chatCompletion } from '../../loopback/openai.loopback.js';

/**
 * Answers like OpenAI, Anthropic and DeepSeek (the wire formats of the loopback servers in
 * `loopback/`, whose builders it reuses) so `npm start` runs offline. Usage is realistic for each step and
 * varies a little per prompt, deterministically, so reruns of the same workflow cost the same.
 */
export async function startProviderSimulator(): Promise<LoopbackServer> {
  const server = new LoopbackServer();
  // Registered first so the body-aware routes below win (the last matching route answers).
  anthropicRoutes(server, { model: 'claude-sonnet-4-6', usage: anthropicUsageBody({ input: 1, output: 1 }) });
  server.route('POST', /\/v1\/messages(\?.*)?$/, (req, res) => {
    const body = req.body as { model: string; messages: unknown };
    const j = jitter(body.messages);
    const model = ANTHROPIC_MODELS[body.model] ?? body.model;
    const usage = model.includes('haiku')
      ? anthropicUsageBody({ input: 2_400 + j, output: 410 + (j % 60), cacheRead: 3_072 })
      : anthropicUsageBody({ input: 1_150 + j, output: 240 + (j % 40), cacheRead: 2_048, write5m: j % 2 ? 0 : 512 });
    json(res, message(model, usage), 200, { 'request-id': `req_sim_${j}` });
  });
  server.route('POST', /\/chat\/completions$/, (req, res) => {
    const body = req.body as { model: string; messages: unknown };
    const j = jitter(body.messages);
    if (body.model.startsWith('deepseek')) {
      // DeepSeek reports cache hits and misses instead of prompt_tokens_details; reasoning is inside completion_tokens.
      const hit = 1_024;
      const miss = 3_200 + j;
      const reasoning = 2_600 + j * 3;
      return json(res, chatCompletion(body.model, {
        prompt_tokens: hit + miss,
        completion_tokens: reasoning + 350,
        total_tokens: hit + miss + reasoning + 350,
        prompt_cache_hit_tokens: hit,
        prompt_cache_miss_tokens: miss,
        completion_tokens_details: { reasoning_tokens: reasoning },
      }));
    }
    const prompt = 860 + j;
    json(res, chatCompletion(OPENAI_MODELS[body.model] ?? body.model, {
      prompt_tokens: prompt,
      completion_tokens: 45 + (j % 15),
      total_tokens: prompt + 45 + (j % 15),
      prompt_tokens_details: { cached_tokens: 512, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    }));
  });
  return server.start();
}

/** Dated snapshots, as the real APIs report them. */
const ANTHROPIC_MODELS: Record<string, string> = {
  'claude-sonnet-4-6': 'claude-sonnet-4-6',
  'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
};
const OPENAI_MODELS: Record<string, string> = { 'gpt-4o-mini': 'gpt-4o-mini-2024-07-18', 'gpt-4o': 'gpt-4o-2024-08-06' };

/** 0..199 from the prompt: different documents, slightly different token counts. */
function jitter(messages: unknown): number {
  return createHash('sha256').update(JSON.stringify(messages ?? '')).digest().readUInt16BE(0) % 200;
}
