import { ApiError, GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { trace } from '../../lib/core/index.js';
import { withTags, wrap } from '../../lib/providers/index.js';
import { geminiRoutes, geminiUsageBody, type GeminiScript } from '../../loopback/gemini.loopback.js';
import { hang, json } from '../../loopback/loopback.server.js';
import { atMtok, providerHarness, settle, sum } from './provider-test.support.js';

// gemini-2.5-pro per Mtok: input $1.25 (above 200k input tokens $2.50), cached $0.125 ($0.25), output incl. thoughts $10 ($15).
const script: GeminiScript = { model: 'gemini-2.5-pro', usage: geminiUsageBody({ prompt: 10000, cached: 6000, candidates: 400, thoughts: 1600 }) };
const h = providerHarness((s) => geminiRoutes(s, script));
const client = (timeout?: number) => new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: h.server.url, ...(timeout ? { timeout } : {}) } });

function use(model: string, usage: unknown, stream?: GeminiScript['stream']) {
  script.model = model;
  script.usage = usage;
  script.stream = stream;
}

describe('gemini models.generateContent', () => {
  it('cached content and thoughts tokens, exact', async () => {
    use('gemini-2.5-pro', geminiUsageBody({ prompt: 10000, cached: 6000, candidates: 400, thoughts: 1600 }));
    const res = await wrap(client(), { tags: { team: 'close' } }).models.generateContent({ model: 'gemini-2.5-pro', contents: 'Say hello' });
    expect(res.text).toBe('Hello!');
    const row = h.only();
    // promptTokenCount includes the cached tokens; thoughts are outside candidatesTokenCount.
    expect(row.tokenBreakdown).toEqual({ inputUncached: 4000, cacheRead: 6000, output: 400, reasoning: 1600 });
    expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([10000, 2000, 6000]);
    expect(row.costUsd).toBe(sum(atMtok(4000, '1.25'), atMtok(6000, '0.125'), atMtok(2000, '10')));
    expect(row).toMatchObject({ provider: 'gemini', operation: 'generateContent', pricingModel: 'genai-prices:gemini-2.5-pro', tags: { team: 'close' } });
  });

  it('above 200k input tokens every bucket takes the tier price', async () => {
    use('gemini-2.5-pro', geminiUsageBody({ prompt: 250000, cached: 50000, candidates: 1000, thoughts: 3000 }));
    await wrap(client()).models.generateContent({ model: 'gemini-2.5-pro', contents: 'long' });
    expect(h.only().costUsd).toBe(sum(atMtok(200000, '2.50'), atMtok(50000, '0.25'), atMtok(4000, '15')));
  });

  it('per-call tags are stripped from the request and kept on the row', async () => {
    use('gemini-2.5-flash', geminiUsageBody({ prompt: 100, candidates: 10 }));
    await wrap(client()).models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi', ...withTags({ step: 'classify' }) });
    expect(JSON.stringify(h.server.requests[0].body)).not.toContain('classify');
    expect(JSON.stringify(h.server.requests[0].body)).not.toContain('kostrack');
    expect(h.only().tags.step).toBe('classify');
    expect(h.only().costUsd).toBe(sum(atMtok(100, '0.30'), atMtok(10, '2.50')));
  });
});

describe('gemini models.generateContentStream', () => {
  it('usage from the last chunk, exact', async () => {
    use('gemini-2.5-pro', geminiUsageBody({ prompt: 10000, cached: 6000, candidates: 400, thoughts: 1600 }));
    const stream = await wrap(client()).models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'Say hello' });
    let text = '';
    for await (const chunk of stream) text += chunk.text;
    expect(text).toBe('Hello!');
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, status: 'ok', operation: 'generateContentStream' });
    expect(row.costUsd).toBe(sum(atMtok(4000, '1.25'), atMtok(6000, '0.125'), atMtok(2000, '10')));
  });

  it('broken after two chunks: one row, aborted, with the usage seen so far', async () => {
    use('gemini-2.5-pro', geminiUsageBody({ prompt: 10000, cached: 6000, candidates: 400, thoughts: 1600 }), { gapMs: 20 });
    const stream = await wrap(client()).models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'Say hello' });
    let n = 0;
    for await (const _ of stream) if (++n === 2) break;
    await settle(h.sink);
    const row = h.only();
    expect(row.status).toBe('aborted');
    expect(row.tokenBreakdown).toEqual({ inputUncached: 4000, cacheRead: 6000, output: 1, reasoning: 1600 });
  });
});

describe('gemini chats', () => {
  it('each sendMessage and sendMessageStream of a chat from chats.create() is one exact row in the active trace', async () => {
    use('gemini-2.5-pro', geminiUsageBody({ prompt: 10000, cached: 6000, candidates: 400, thoughts: 1600 }));
    const ai = wrap(client(), { tags: { team: 'close' } });
    const total = await trace({ name: 'conversation' }, async (t) => {
      const chat = ai.chats.create({ model: 'gemini-2.5-pro' });
      expect((await chat.sendMessage({ message: 'Say hello' })).text).toBe('Hello!');
      let text = '';
      for await (const chunk of await chat.sendMessageStream({ message: 'Again' })) text += chunk.text;
      expect(text).toBe('Hello!');
      expect(chat.getHistory().filter((c) => c.role === 'user').map((c) => c.parts?.[0]?.text)).toEqual(['Say hello', 'Again']);
      return t.totalCost;
    });
    await settle(h.sink, 2);
    const one = sum(atMtok(4000, '1.25'), atMtok(6000, '0.125'), atMtok(2000, '10'));
    expect(h.sink.calls.map((c) => [c.operation, c.streamed, c.costUsd, c.tags.team])).toEqual([
      ['generateContent', false, one, 'close'],
      ['generateContentStream', true, one, 'close'],
    ]);
    expect(total).toBe(2n * one);
  });
});

describe('gemini models.embedContent', () => {
  it('priced from per-embedding token counts (gemini-embedding-001: $0.15 per Mtok)', async () => {
    script.embedTokens = [700, 300];
    const res = await wrap(client()).models.embedContent({ model: 'gemini-embedding-001', contents: ['a', 'b'] });
    expect(res.embeddings).toHaveLength(2);
    expect(h.only()).toMatchObject({ operation: 'embedContent', inputTokens: 1000, costUsd: atMtok(1000, '0.15') });
  });

  it('without token counts (the Gemini API shape) the row is flagged, never a silent $0', async () => {
    script.embedTokens = undefined;
    await wrap(client()).models.embedContent({ model: 'gemini-embedding-001', contents: 'a' });
    expect(h.only()).toMatchObject({ costUsd: null, pricingSource: 'no-usage', metadata: { usage_issues: ['embeddings: 1 of 1 without statistics.tokenCount'] } });
  });
});

describe('gemini failures and bad data', () => {
  it('HTTP 429: one row, status error, ApiError rethrown', async () => {
    h.server.route('POST', /:generateContent/, (_req, res) => json(res, { error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }, 429));
    const err = await wrap(client()).models.generateContent({ model: 'gemini-2.5-pro', contents: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: 'ApiError', model: 'gemini-2.5-pro' });
  });

  it('timeout: one row, status error', async () => {
    h.server.route('POST', /:generateContent/, hang());
    await expect(wrap(client(150)).models.generateContent({ model: 'gemini-2.5-pro', contents: 'x' })).rejects.toBeTruthy();
    expect(h.only().status).toBe('error');
  });

  it('unexpected usage shape: the call returns, the row flags it', async () => {
    use('gemini-2.5-pro', { promptTokenCount: 'ten', candidatesTokenCount: 5 });
    const res = await wrap(client()).models.generateContent({ model: 'gemini-2.5-pro', contents: 'x' });
    expect(res.text).toBe('Hello!');
    expect(h.only().metadata.usage_issues).toEqual(['usageMetadata.promptTokenCount: not a number (string)']);
    expect(h.only().costUsd).toBe(atMtok(5, '10'));
  });
});
