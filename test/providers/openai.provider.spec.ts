import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { trace, usdToString } from '../../lib/core/index.js';
import { PriceBook } from '../../lib/pricing/index.js';
import { withTags, wrap } from '../../lib/providers/index.js';
import { hang, json, sse } from '../../loopback/loopback.server.js';
import { chatChunks, chatUsageBody, openaiRoutes, responsesUsageBody, type OpenAIScript } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, settle, sum } from './provider-test.support.js';

const script: OpenAIScript = { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 }) };
const h = providerHarness((s) => openaiRoutes(s, script));
const client = (opts: ConstructorParameters<typeof OpenAI>[0] = {}) => new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0, ...opts });
const messages = [{ role: 'user' as const, content: 'Say hello' }];

function use(model: string, usage: unknown, stream?: OpenAIScript['stream']) {
  script.model = model;
  script.usage = usage;
  script.stream = stream;
}

describe('openai chat.completions.create', () => {
  it('plain: cached input billed at the cache rate, rest at input (gpt-4o: $2.50 / $1.25 cached / $10 per Mtok)', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 }));
    const openai = wrap(client(), { tags: { team: 'ledger' } });
    const res = await openai.chat.completions.create({ model: 'gpt-4o', messages });
    expect(res.choices[0].message.content).toBe('Hello!');
    const row = h.only();
    expect(row).toMatchObject({ provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'chat.completions.create', status: 'ok', streamed: false });
    expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([2000, 300, 1500]);
    expect(row.tokenBreakdown).toEqual({ inputUncached: 500, cacheRead: 1500, output: 300 });
    const expected = sum(atMtok(500, '2.50'), atMtok(1500, '1.25'), atMtok(300, '10.00'));
    expect(usdToString(expected)).toBe('0.006125');
    expect(row.costUsd).toBe(expected);
    expect(row).toMatchObject({ pricingModel: 'genai-prices:gpt-4o', pricingSource: 'catalog' });
    expect(row.tags.team).toBe('ledger');
    expect(row.metadata.request_model).toBe('gpt-4o');
  });

  it('plain: reasoning tokens are inside completion_tokens and billed as output (o4-mini: $1.10 / $0.275 / $4.40)', async () => {
    use('o4-mini-2025-04-16', chatUsageBody({ prompt: 1000, completion: 800, cached: 200, reasoning: 500 }));
    await wrap(client()).chat.completions.create({ model: 'o4-mini', messages });
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 800, cacheRead: 200, output: 300, reasoning: 500 });
    expect([row.inputTokens, row.outputTokens]).toEqual([1000, 800]);
    expect(row.costUsd).toBe(sum(atMtok(800, '1.10'), atMtok(200, '0.275'), atMtok(300, '4.40'), atMtok(500, '4.40')));
  });

  it('streamed: include_usage is added, the usage-only chunk is hidden, usage recorded', async () => {
    use('o4-mini-2025-04-16', chatUsageBody({ prompt: 1000, completion: 800, cached: 200, reasoning: 500 }));
    const stream = await wrap(client()).chat.completions.create({ model: 'o4-mini', messages, stream: true });
    const seen: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) seen.push(chunk);
    expect(seen.every((c) => c.choices.length === 1)).toBe(true);
    expect(seen.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('Hello!');
    expect((h.server.requests[0].body as { stream_options: unknown }).stream_options).toEqual({ include_usage: true });
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, status: 'ok', model: 'o4-mini-2025-04-16' });
    expect(row.tokenBreakdown).toEqual({ inputUncached: 800, cacheRead: 200, output: 300, reasoning: 500 });
    expect(row.costUsd).toBe(sum(atMtok(800, '1.10'), atMtok(200, '0.275'), atMtok(800, '4.40')));
  });

  it('streamed: a user who asked for usage still gets the usage chunk', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } });
    const seen = [];
    for await (const chunk of stream) seen.push(chunk);
    expect(seen.at(-1)!.choices).toEqual([]);
    expect(seen.at(-1)!.usage?.prompt_tokens).toBe(10);
    expect(h.only().costUsd).toBe(sum(atMtok(10, '2.50'), atMtok(5, '10')));
  });

  it('streamed: include_usage explicitly false is respected; the row flags the unknown usage', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: false } });
    for await (const _ of stream) void _;
    const row = h.only();
    expect(row.costUsd).toBeNull();
    expect(row.pricingSource).toBe('no-usage');
    expect(row.metadata.usage_issues).toEqual(['usage: not requested (stream_options.include_usage is false)']);
  });

  it('a stream belongs to the trace active when the call was made', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const openai = wrap(client());
    let traceId = '';
    const stream = await trace({ name: 'make' }, async (t) => {
      traceId = t.traceId;
      return openai.chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    });
    await trace({ name: 'consume', newTrace: true }, async () => {
      for await (const _ of stream) void _;
    });
    expect(h.only().traceId).toBe(traceId);
  });

  it('broken by the user after two chunks: one row, status aborted, usage that arrived', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }), { gapMs: 20 });
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let n = 0;
    for await (const _ of stream) if (++n === 2) break;
    await settle(h.sink);
    await new Promise((r) => setTimeout(r, 50));
    const row = h.only();
    expect(row.status).toBe('aborted');
    expect(row.metadata.usage_issues).toEqual(['usage: stream ended before the usage chunk']);
  });

  it('a throw in the user loop after two chunks: one row, status aborted, the error reaches the user', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const boom = new Error('user code failed');
    let n = 0;
    await expect(async () => {
      for await (const _ of stream) if (++n === 2) throw boom;
    }).rejects.toBe(boom);
    await settle(h.sink);
    expect(h.only().status).toBe('aborted');
  });

  it('connection dropped by the server after two chunks: one row, aborted, with the error class', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }), { dropAfter: 2 });
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let n = 0;
    await expect(async () => {
      for await (const _ of stream) n++;
    }).rejects.toThrow();
    expect(n).toBe(2);
    await settle(h.sink);
    const row = h.only();
    expect(row.status).toBe('aborted');
    expect(row.errorClass).toBeTruthy();
  });

  it('tee() of a tracked stream still records once', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const stream = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    const [a, b] = stream.tee();
    for await (const _ of a) void _;
    for await (const _ of b) void _;
    expect(h.only().costUsd).toBe(sum(atMtok(10, '2.50'), atMtok(5, '10')));
  });
});

describe('openai responses.create', () => {
  it('plain: cached input and reasoning output (o4-mini)', async () => {
    use('o4-mini-2025-04-16', responsesUsageBody({ input: 5000, cached: 4000, output: 1200, reasoning: 1000 }));
    const res = await wrap(client()).responses.create({ model: 'o4-mini', input: 'Say hello' });
    expect(res.output_text).toBe('Hello!');
    const row = h.only();
    expect(row.operation).toBe('responses.create');
    expect(row.tokenBreakdown).toEqual({ inputUncached: 1000, cacheRead: 4000, output: 200, reasoning: 1000 });
    expect(row.costUsd).toBe(sum(atMtok(1000, '1.10'), atMtok(4000, '0.275'), atMtok(1200, '4.40')));
  });

  it('streamed: usage from response.completed', async () => {
    use('o4-mini-2025-04-16', responsesUsageBody({ input: 5000, cached: 4000, output: 1200, reasoning: 1000 }));
    const stream = await wrap(client()).responses.create({ model: 'o4-mini', input: 'Say hello', stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe('response.completed');
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, status: 'ok' });
    expect(row.costUsd).toBe(sum(atMtok(1000, '1.10'), atMtok(4000, '0.275'), atMtok(1200, '4.40')));
  });
});

describe('openai embeddings.create', () => {
  it('prices input tokens (text-embedding-3-small: $0.02 per Mtok), SDK base64 decoding untouched', async () => {
    use('text-embedding-3-small', { prompt_tokens: 12345, total_tokens: 12345 });
    const res = await wrap(client()).embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    expect(res.data[0].embedding).toEqual([0.25, -0.5, 0.125]);
    const row = h.only();
    expect(row).toMatchObject({ operation: 'embeddings.create', inputTokens: 12345, outputTokens: 0 });
    expect(row.costUsd).toBe(atMtok(12345, '0.02'));
  });
});

describe('OpenAI-compatible providers', () => {
  const deepseekUsage = (hit: number, miss: number, completion: number, reasoning = 0) => ({
    prompt_tokens: hit + miss,
    completion_tokens: completion,
    total_tokens: hit + miss + completion,
    prompt_tokens_details: { cached_tokens: hit },
    prompt_cache_hit_tokens: hit,
    prompt_cache_miss_tokens: miss,
    ...(reasoning ? { completion_tokens_details: { reasoning_tokens: reasoning } } : {}),
  });

  // DeepSeek's prices changed twice in 2025 (catalog corrections, api-docs.deepseek.com):
  // - before 2025-09-05T16:00Z, the January 2025 prices by time of day: standard 00:30–16:30 UTC,
  //   50% (chat) / 75% (reasoner) off otherwise;
  // - from 2025-09-05T16:00Z (V3.1), one price for both models at any hour: $0.07 hit / $0.56 miss / $1.68 output;
  // - from 2025-09-29 (V3.2-Exp), at any hour: $0.028 hit / $0.28 miss / $0.42 output.
  const deepseekAt = (book: PriceBook, model: string, b: Parameters<PriceBook['price']>[2], input: number, iso: string) =>
    book.price('deepseek', model, b, input, { timeMs: Date.parse(iso) }).costUsd;

  it('deepseek-chat: cache hit/miss at the current price (any hour); the older prices for calls dated before', async () => {
    const book = new PriceBook();
    use('deepseek-chat', deepseekUsage(3000, 1000, 400));
    const ds = wrap(client(), { provider: 'deepseek', priceBook: book });
    await ds.chat.completions.create({ model: 'deepseek-chat', messages });
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 1000, cacheRead: 3000, output: 400 });
    // Now: 1,000 × $0.28 = $0.00028; 3,000 × $0.028 = $0.000084; 400 × $0.42 = $0.000168 → $0.000532, whatever the hour.
    const now = sum(atMtok(1000, '0.28'), atMtok(3000, '0.028'), atMtok(400, '0.42'));
    expect(usdToString(now)).toBe('0.000532');
    expect(row.costUsd).toBe(now);
    const b = row.tokenBreakdown;
    const at = (iso: string) => deepseekAt(book, 'deepseek-chat', b, 4000, iso);
    expect([at('2026-06-01T10:00:00Z'), at('2026-06-01T20:00:00Z'), at('2025-09-29T00:00:00Z')]).toEqual([now, now, now]);
    // Before 2025-09-05T16:00Z, standard hours: 1,000 × $0.27 + 3,000 × $0.07 + 400 × $1.10 = $0.00027 + $0.00021 + $0.00044 = $0.00092.
    const oldPeak = sum(atMtok(1000, '0.27'), atMtok(3000, '0.07'), atMtok(400, '1.10'));
    expect(usdToString(oldPeak)).toBe('0.00092');
    expect(at('2025-06-01T10:00:00Z')).toBe(oldPeak);
    expect(at('2025-09-05T15:59:59Z')).toBe(oldPeak);
    // Off-peak (16:30–00:30 UTC), half: 1,000 × $0.135 + 3,000 × $0.035 + 400 × $0.55 = $0.00046.
    const oldOffPeak = sum(atMtok(1000, '0.135'), atMtok(3000, '0.035'), atMtok(400, '0.55'));
    expect(usdToString(oldOffPeak)).toBe('0.00046');
    expect(at('2025-06-01T20:00:00Z')).toBe(oldOffPeak);
    // V3.1, any hour: 1,000 × $0.56 + 3,000 × $0.07 + 400 × $1.68 = $0.00056 + $0.00021 + $0.000672 = $0.001442.
    const v31 = sum(atMtok(1000, '0.56'), atMtok(3000, '0.07'), atMtok(400, '1.68'));
    expect(usdToString(v31)).toBe('0.001442');
    expect([at('2025-09-05T16:00:00Z'), at('2025-09-10T10:00:00Z'), at('2025-09-10T20:00:00Z'), at('2025-09-28T23:59:59Z')]).toEqual([v31, v31, v31, v31]);
  });

  it('deepseek-reasoner: reasoning inside completion_tokens, streamed; the current price at any hour, the old time-of-day prices before 2025-09-05', async () => {
    const book = new PriceBook();
    use('deepseek-reasoner', deepseekUsage(2000, 6000, 1500, 1200));
    const ds = wrap(client(), { provider: 'deepseek', priceBook: book });
    const stream = await ds.chat.completions.create({ model: 'deepseek-reasoner', messages, stream: true });
    for await (const _ of stream) void _;
    const row = h.only();
    expect(row.tokenBreakdown).toEqual({ inputUncached: 6000, cacheRead: 2000, output: 300, reasoning: 1200 });
    // Now: 6,000 × $0.28 = $0.00168; 2,000 × $0.028 = $0.000056; 1,500 × $0.42 = $0.00063 → $0.002366.
    const now = sum(atMtok(6000, '0.28'), atMtok(2000, '0.028'), atMtok(1500, '0.42'));
    expect(usdToString(now)).toBe('0.002366');
    expect(row.costUsd).toBe(now);
    const b = row.tokenBreakdown;
    const at = (iso: string) => deepseekAt(book, 'deepseek-reasoner', b, 8000, iso);
    expect([at('2026-06-01T10:00:00Z'), at('2026-06-01T20:00:00Z')]).toEqual([now, now]);
    // Before 2025-09-05T16:00Z, standard hours: 6,000 × $0.55 + 2,000 × $0.14 + 1,500 × $2.19 = $0.0033 + $0.00028 + $0.003285 = $0.006865.
    const oldPeak = sum(atMtok(6000, '0.55'), atMtok(2000, '0.14'), atMtok(1500, '2.19'));
    expect(usdToString(oldPeak)).toBe('0.006865');
    expect(at('2025-06-01T10:00:00Z')).toBe(oldPeak);
    // Off-peak, 75% off: 6,000 × $0.135 + 2,000 × $0.035 + 1,500 × $0.55 = $0.00081 + $0.00007 + $0.000825 = $0.001705.
    const oldOffPeak = sum(atMtok(6000, '0.135'), atMtok(2000, '0.035'), atMtok(1500, '0.55'));
    expect(usdToString(oldOffPeak)).toBe('0.001705');
    expect(at('2025-06-01T20:00:00Z')).toBe(oldOffPeak);
    // V3.1 (2025-09-05T16:00Z to 2025-09-29), any hour: 6,000 × $0.56 + 2,000 × $0.07 + 1,500 × $1.68 = $0.00336 + $0.00014 + $0.00252 = $0.00602.
    const v31 = sum(atMtok(6000, '0.56'), atMtok(2000, '0.07'), atMtok(1500, '1.68'));
    expect(usdToString(v31)).toBe('0.00602');
    expect([at('2025-09-10T10:00:00Z'), at('2025-09-10T20:00:00Z')]).toEqual([v31, v31]);
  });

  it('groq and mistral by name; mistral streams without stream_options', async () => {
    use('llama-3.3-70b-versatile', chatUsageBody({ prompt: 1000, completion: 100 }));
    await wrap(client(), { provider: 'groq' }).chat.completions.create({ model: 'llama-3.3-70b-versatile', messages });
    expect(h.only()).toMatchObject({ provider: 'groq', costUsd: sum(atMtok(1000, '0.59'), atMtok(100, '0.79')) });
    h.sink.clear();
    h.server.requests.length = 0;
    use('mistral-large-latest', chatUsageBody({ prompt: 1000, completion: 100 }));
    h.server.route('POST', /\/chat\/completions$/, (req, res) => {
      // Mistral sends usage on its last content chunk.
      const chunks = chatChunks('mistral-large-latest', null, false);
      (chunks.at(-1)!.data as Record<string, unknown>).usage = chatUsageBody({ prompt: 1000, completion: 100 });
      return sse(res, chunks, { done: 'data: [DONE]' });
    });
    const stream = await wrap(client(), { provider: 'mistral' }).chat.completions.create({ model: 'mistral-large-latest', messages, stream: true });
    let n = 0;
    for await (const _ of stream) n++;
    expect(n).toBe(5);
    expect((h.server.requests[0].body as Record<string, unknown>).stream_options).toBeUndefined();
    expect(h.only()).toMatchObject({ provider: 'mistral', costUsd: sum(atMtok(1000, '2'), atMtok(100, '6')) });
  });
});

describe('per-call tags, SDK behaviour', () => {
  it('per-call tags persist with client tags and never reach the request', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const openai = wrap(client(), { tags: { team: 'ledger', step: 'client' } });
    await openai.chat.completions.create({ model: 'gpt-4o', messages }, withTags({ step: 'draft' }, { timeout: 5000 }));
    const received = h.server.requests[0];
    expect(JSON.stringify(received.body)).not.toContain('kostrack');
    expect(JSON.stringify(received.body)).not.toContain('draft');
    expect(JSON.stringify(received.headers)).not.toContain('draft');
    expect(h.only().tags).toMatchObject({ team: 'ledger', step: 'draft' });
  });

  it('withTags() rejects bad tags before any call is made', () => {
    expect(() => withTags({ 'bad key': 'x' })).toThrow(/Invalid tags/);
  });

  it('withResponse() and asResponse() keep working; _request_id survives', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const openai = wrap(client());
    const { data, response, request_id } = await openai.chat.completions.create({ model: 'gpt-4o', messages }).withResponse();
    expect(data.choices[0].message.content).toBe('Hello!');
    expect(response.status).toBe(200);
    expect(request_id).toBe('req_loopback');
    expect((data as { _request_id?: string })._request_id).toBe('req_loopback');
    expect(h.only().costUsd).toBe(sum(atMtok(10, '2.50'), atMtok(5, '10')));
    h.sink.clear();
    const raw = await openai.chat.completions.create({ model: 'gpt-4o', messages }).asResponse();
    expect((await raw.json()).usage.prompt_tokens).toBe(10);
    await settle(h.sink);
    expect(h.only().metadata.usage_issues).toEqual(['usage: not read (asResponse)']);
  });

  it('untracked methods pass through; instanceof holds', async () => {
    h.server.route('GET', /\/models$/, (_req, res) => json(res, { object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 1, owned_by: 'openai' }] }));
    const openai = wrap(client());
    expect(openai).toBeInstanceOf(OpenAI);
    const page = await openai.models.list();
    expect(page.data[0].id).toBe('gpt-4o');
    expect(openai.baseURL).toBe(`${h.server.url}/v1`);
    expect(h.sink.calls).toHaveLength(0);
  });

  it('a spy on the wrapped client (vi.spyOn) is tracked: a mocked response is recorded once', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const openai = wrap(client());
    const fake = (await client().chat.completions.create({ model: 'gpt-4o', messages })) as OpenAI.ChatCompletion;
    h.server.requests.length = 0;
    const spy = vi.spyOn(openai.chat.completions, 'create').mockResolvedValue(fake as never);
    const res = await openai.chat.completions.create({ model: 'gpt-4o', messages });
    expect(res.id).toBe(fake.id);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(h.server.requests).toHaveLength(0);
    expect(h.only().costUsd).toBe(sum(atMtok(10, '2.50'), atMtok(5, '10')));
    spy.mockRestore();
  });

  it('a tracked method reached through another tracked method records once', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const raw = client();
    const inner = wrap(raw);
    // A client patched in place with its own tracked method, then wrapped again elsewhere.
    raw.chat.completions.create = inner.chat.completions.create;
    const res = await wrap(raw).chat.completions.create({ model: 'gpt-4o', messages });
    expect(res.choices[0].message.content).toBe('Hello!');
    expect(h.only().costUsd).toBe(sum(atMtok(10, '2.50'), atMtok(5, '10')));
  });

  it('the wrapped client reads and writes through to the real one; its #private-backed methods work', async () => {
    const raw = client();
    const openai = wrap(raw);
    openai.maxRetries = 3;
    expect(raw.maxRetries).toBe(3);
    raw.timeout = 1234;
    expect(openai.timeout).toBe(1234);
    // withOptions() reads the client's private state: it must run on the real client.
    const copy = openai.withOptions({ timeout: 5 });
    expect(copy).toBeInstanceOf(OpenAI);
    expect([copy.timeout, copy.baseURL]).toEqual([5, `${h.server.url}/v1`]);
    expect('baseURL' in openai && 'chat' in openai).toBe(true);
  });

  it('a client derived with withOptions() is tracked like its parent: one row, same provider and client tags', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const derived = wrap(client(), { provider: 'azure', tags: { team: 'ledger' } }).withOptions({ timeout: 5000 });
    expect(derived.timeout).toBe(5000);
    await derived.chat.completions.create({ model: 'gpt-4o', messages });
    expect(h.only()).toMatchObject({ provider: 'azure', model: 'gpt-4o-2024-08-06', tags: { team: 'ledger' } });
    // The derived client is itself wrapped: wrapping it again replaces its options, never doubles the rows.
    h.sink.clear();
    await wrap(derived).chat.completions.create({ model: 'gpt-4o', messages });
    expect(h.sink.calls).toHaveLength(1);
  });

  it('tracked resources: untracked methods reach the real resource, instanceof holds, a replaced method is tracked anew', async () => {
    h.server.route('GET', /\/chat\/completions$/, (_req, res) => json(res, { object: 'list', data: [{ id: 'chatcmpl-1', object: 'chat.completion' }], has_more: false }));
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const raw = client();
    const openai = wrap(raw);
    expect(openai.chat.completions).toBeInstanceOf(raw.chat.completions.constructor);
    expect(openai.chat.completions.messages).toBe(raw.chat.completions.messages);
    const page = await openai.chat.completions.list();
    expect(page.data.map((c) => c.id)).toEqual(['chatcmpl-1']);
    expect(h.sink.calls).toHaveLength(0);
    // A spy installed on the real client after wrapping (as test doubles do) is what the wrapped client calls.
    const original = raw.chat.completions.create.bind(raw.chat.completions);
    let spied = 0;
    raw.chat.completions.create = ((...args: Parameters<typeof original>) => {
      spied++;
      return original(...args);
    }) as typeof raw.chat.completions.create;
    await openai.chat.completions.create({ model: 'gpt-4o', messages });
    expect(spied).toBe(1);
    expect(h.only().costUsd).toBe(sum(atMtok(10, '2.50'), atMtok(5, '10')));
  });

  it('the metadata hook decides what request metadata is kept; prompts never by default', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, temperature: 0.2 });
    expect(JSON.stringify(h.only(), (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('Say hello');
    h.sink.clear();
    const hooked = wrap(client(), { metadata: ({ params }) => ({ temperature: (params as { temperature?: number }).temperature }) });
    await hooked.chat.completions.create({ model: 'gpt-4o', messages, temperature: 0.2 });
    expect(h.only().metadata.request).toEqual({ temperature: 0.2 });
    expect(JSON.stringify(h.only(), (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('sk-test');
  });
});

describe('failures', () => {
  it('HTTP 429: one row, status error, RateLimitError rethrown untouched', async () => {
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => json(res, { error: { message: 'slow down', type: 'rate_limit', code: null } }, 429));
    const openai = wrap(client());
    const err = await openai.chat.completions.create({ model: 'gpt-4o', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(429);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: 'RateLimitError', costUsd: 0n, model: 'gpt-4o' });
  });

  it('HTTP 429 read through withResponse() or asResponse(): one row each, status error', async () => {
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => json(res, { error: { message: 'slow down', type: 'rate_limit', code: null } }, 429));
    const openai = wrap(client());
    await expect(openai.chat.completions.create({ model: 'gpt-4o', messages }).withResponse()).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(openai.chat.completions.create({ model: 'gpt-4o', messages }).asResponse()).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await settle(h.sink, 2);
    expect(h.sink.calls.map((c) => [c.status, c.errorClass])).toEqual([
      ['error', 'RateLimitError'],
      ['error', 'RateLimitError'],
    ]);
  });

  it('HTTP 500 on a stream request: one row, status error', async () => {
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => json(res, { error: { message: 'oops' } }, 500));
    await expect(wrap(client()).chat.completions.create({ model: 'gpt-4o', messages, stream: true })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: 'InternalServerError', streamed: true });
  });

  it('timeout: one row, status error, APIConnectionTimeoutError', async () => {
    h.server.route('POST', /\/chat\/completions$/, hang());
    await expect(wrap(client({ timeout: 150 })).chat.completions.create({ model: 'gpt-4o', messages })).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: 'APIConnectionTimeoutError' });
  });
});

describe('unknown models and bad provider data', () => {
  it('an unknown model: unpriced (null cost), one warning, listed', async () => {
    const book = new PriceBook();
    use('acme-secret-model', chatUsageBody({ prompt: 10, completion: 5 }));
    const openai = wrap(client(), { priceBook: book });
    await openai.chat.completions.create({ model: 'acme-secret-model', messages });
    await openai.chat.completions.create({ model: 'acme-secret-model', messages });
    expect(h.sink.calls.map((c) => [c.costUsd, c.pricingSource])).toEqual([
      [null, 'unpriced'],
      [null, 'unpriced'],
    ]);
    expect(h.warnings.filter((w) => w.includes('acme-secret-model'))).toHaveLength(1);
    expect(book.unpricedModels()).toMatchObject([{ provider: 'openai', model: 'acme-secret-model', calls: 2 }]);
  });

  it.each([
    ['missing usage', undefined, ['usage: missing']],
    ['null usage', null, ['usage: missing']],
    ['a string', 'lots', ['usage: unexpected shape']],
    ['negative counts', { prompt_tokens: -5, completion_tokens: 7 }, ['usage.prompt_tokens: negative (-5)']],
    ['non-numeric counts', { prompt_tokens: '12', completion_tokens: 7 }, ['usage.prompt_tokens: not a number (string)']],
    ['details of the wrong shape', { prompt_tokens: 12, completion_tokens: 7, prompt_tokens_details: [1] }, ['usage.prompt_tokens_details: unexpected shape (array)']],
    ['cached above prompt', { prompt_tokens: 5, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 9 } }, ['usage.prompt_tokens: parts (9) exceed the total (5)']],
  ])('%s: the call returns, the row keeps what is known and flags the rest', async (_name, usage, issues) => {
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => {
      const body: Record<string, unknown> = { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] };
      if (usage !== undefined) body.usage = usage;
      json(res, body);
    });
    const res = await wrap(client()).chat.completions.create({ model: 'gpt-4o', messages });
    expect(res.choices[0].message.content).toBe('ok');
    const row = h.only();
    expect(row.status).toBe('ok');
    expect(row.metadata.usage_issues).toEqual(issues);
    if (usage && typeof usage === 'object' && (usage as { completion_tokens?: number }).completion_tokens === 7) {
      expect(row.outputTokens).toBe(7);
      expect(row.costUsd).not.toBeNull();
    } else expect(row.costUsd).toBeNull();
  });
});

describe('openai helpers built on create()', () => {
  it('chat.completions.parse is tracked once, with per-call tags and exact cost', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 }));
    const openai = wrap(client());
    const res = await openai.chat.completions.parse({ model: 'gpt-4o', messages }, withTags({ step: 'extract' }));
    expect(res.choices[0].message.content).toBe('Hello!');
    const row = h.only();
    expect(row).toMatchObject({ operation: 'chat.completions.create', status: 'ok', streamed: false, tags: { step: 'extract' } });
    expect(row.costUsd).toBe(sum(atMtok(500, '2.50'), atMtok(1500, '1.25'), atMtok(300, '10.00')));
    expect(JSON.stringify(h.server.requests[0].body)).not.toContain('kostrack');
  });

  it('chat.completions.parse(...).asResponse(): one row, flagged as unread', async () => {
    use('gpt-4o-2024-08-06', chatUsageBody({ prompt: 10, completion: 5 }));
    const raw = await wrap(client()).chat.completions.parse({ model: 'gpt-4o', messages }).asResponse();
    expect((await raw.json()).usage.prompt_tokens).toBe(10);
    await settle(h.sink);
    expect(h.only()).toMatchObject({ status: 'ok', costUsd: null, metadata: { raw_response: true, usage_issues: ['usage: not read (asResponse)'] } });
  });

  it('chat.completions.stream() is tracked once, in the trace that made it', async () => {
    use('o4-mini-2025-04-16', chatUsageBody({ prompt: 1000, completion: 800, cached: 200, reasoning: 500 }));
    const traceId = await trace(async (t) => {
      const stream = wrap(client()).chat.completions.stream({ model: 'o4-mini', messages });
      const final = await stream.finalChatCompletion();
      expect(final.choices[0].message.content).toBe('Hello!');
      return t.traceId;
    });
    const row = h.only();
    expect(row).toMatchObject({ streamed: true, status: 'ok', traceId });
    expect(row.costUsd).toBe(sum(atMtok(800, '1.10'), atMtok(200, '0.275'), atMtok(800, '4.40')));
  });
});

describe('openai responses helpers', () => {
  it('responses.parse is tracked once with the exact cost', async () => {
    use('o4-mini-2025-04-16', responsesUsageBody({ input: 5000, cached: 4000, output: 1200, reasoning: 1000 }));
    const parsed = await wrap(client()).responses.parse({ model: 'o4-mini', input: 'Say hello' });
    expect(parsed.output_text).toBe('Hello!');
    const expected = sum(atMtok(1000, '1.10'), atMtok(4000, '0.275'), atMtok(1200, '4.40'));
    expect(h.only()).toMatchObject({ operation: 'responses.create', streamed: false, status: 'ok', costUsd: expected });
  });

  it('responses.stream() is tracked once, in the trace it was made in; finalResponse() works', async () => {
    use('o4-mini-2025-04-16', responsesUsageBody({ input: 5000, cached: 4000, output: 1200, reasoning: 1000 }));
    const openai = wrap(client(), { tags: { team: 'ledger' } });
    const traceId = await trace({ name: 'answer' }, async (t) => {
      const stream = openai.responses.stream({ model: 'o4-mini', input: 'Say hello' });
      let text = '';
      for await (const event of stream) if (event.type === 'response.output_text.delta') text += event.delta;
      expect(text).toBe('Hello!');
      expect((await stream.finalResponse()).output_text).toBe('Hello!');
      return t.traceId;
    });
    const expected = sum(atMtok(1000, '1.10'), atMtok(4000, '0.275'), atMtok(1200, '4.40'));
    expect(h.only()).toMatchObject({ operation: 'responses.create', streamed: true, status: 'ok', costUsd: expected, traceId, tags: { team: 'ledger' } });
    expect(h.server.requests.at(-1)!.body).toMatchObject({ stream: true });
  });
});
