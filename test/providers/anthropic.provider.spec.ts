import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { usdToString } from '../../lib/core/index.js';
import { withTags, wrap } from '../../lib/providers/index.js';
import { anthropicRoutes, anthropicUsageBody, message, type AnthropicScript } from '../../loopback/anthropic.loopback.js';
import { hang, json } from '../../loopback/loopback.server.js';
import { atMtok, providerHarness, settle, sum } from './provider-test.support.js';

// claude-sonnet-4 published prices per Mtok: input $3, 5-minute cache write $3.75, 1-hour cache write $6, cache read $0.30, output $15.
const SONNET = 'claude-sonnet-4-20250514';
const usage = anthropicUsageBody({ input: 1200, write5m: 2000, write1h: 4000, cacheRead: 10000, output: 900 });
const expected = sum(atMtok(1200, '3'), atMtok(2000, '3.75'), atMtok(4000, '6'), atMtok(10000, '0.30'), atMtok(900, '15'));
const script: AnthropicScript = { model: SONNET, usage };
const h = providerHarness((s) => anthropicRoutes(s, script));
const client = (opts: ConstructorParameters<typeof Anthropic>[0] = {}) => new Anthropic({ apiKey: 'sk-ant-test', baseURL: h.server.url, maxRetries: 0, ...opts });
const body = { model: SONNET, max_tokens: 2048, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: 'Say hello' }] };

function reset(stream?: AnthropicScript['stream']) {
  script.model = SONNET;
  script.usage = usage;
  script.stream = stream;
}

function expectSonnetRow(row: ReturnType<typeof h.only>) {
  // input_tokens excludes cache writes and reads; thinking is inside output_tokens.
  expect(row.tokenBreakdown).toEqual({ inputUncached: 1200, cacheWrite5m: 2000, cacheWrite1h: 4000, cacheRead: 10000, output: 900 });
  expect([row.inputTokens, row.outputTokens, row.cachedTokens]).toEqual([17200, 900, 10000]);
  expect(usdToString(expected)).toBe('0.0516');
  expect(row.costUsd).toBe(expected);
  expect(row).toMatchObject({ provider: 'anthropic', model: SONNET, pricingModel: 'genai-prices:claude-sonnet-4-0', pricingSource: 'catalog' });
}

describe('anthropic messages.create', () => {
  it('plain: 5-minute and 1-hour cache writes, cache reads and thinking, exact', async () => {
    reset();
    const res = await wrap(client()).messages.create(body);
    expect(res.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expectSonnetRow(h.only());
    expect(h.only()).toMatchObject({ operation: 'messages.create', streamed: false, status: 'ok' });
  });

  it('stream: true: usage merged from message_start and message_delta', async () => {
    reset();
    const stream = await wrap(client()).messages.create({ ...body, stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('message_start');
    expect(types.at(-1)).toBe('message_stop');
    expectSonnetRow(h.only());
    expect(h.only()).toMatchObject({ streamed: true, status: 'ok' });
  });

  it('message_delta with cumulative input counts (newer API versions) still counts once', async () => {
    reset();
    h.server.route('POST', /\/v1\/messages/, async (_req, res) => {
      const { messageEvents } = await import('../../loopback/anthropic.loopback.js');
      const events = messageEvents(SONNET, usage);
      (events.at(-2)!.data as unknown as { usage: unknown }).usage = { ...usage };
      const { sse } = await import('../../loopback/loopback.server.js');
      return sse(res, events);
    });
    const stream = await wrap(client()).messages.create({ ...body, stream: true });
    for await (const _ of stream) void _;
    expectSonnetRow(h.only());
  });

  it('messages.stream() helper: recorded once, finalMessage() works', async () => {
    reset();
    const stream = wrap(client()).messages.stream(body, withTags({ step: 'helper' }));
    const final = await stream.finalMessage();
    expect(final.content.at(-1)).toMatchObject({ type: 'text', text: 'Hello!' });
    await settle(h.sink);
    expectSonnetRow(h.only());
    expect(h.only()).toMatchObject({ operation: 'messages.stream', streamed: true, tags: { step: 'helper' } });
    expect(JSON.stringify(h.server.requests[0].body)).not.toContain('helper');
  });

  it('messages.parse() helper and beta.messages (create, stream: true, stream(), parse): each recorded once, exact', async () => {
    reset();
    const anthropic = wrap(client(), { tags: { team: 'ap' } });
    const parsed = await anthropic.messages.parse(body, withTags({ step: 'parse' }));
    expect(parsed.content.at(-1)).toMatchObject({ type: 'text', text: 'Hello!' });
    await anthropic.beta.messages.create({ ...body, betas: ['context-1m-2025-08-07'] });
    for await (const _ of await anthropic.beta.messages.create({ ...body, stream: true })) void _;
    await anthropic.beta.messages.stream(body).finalMessage();
    await anthropic.beta.messages.parse(body);
    await settle(h.sink, 5);
    expect(h.sink.calls.map((c) => [c.operation, c.streamed, c.costUsd, c.tags.team])).toEqual([
      ['messages.parse', false, expected, 'ap'],
      ['beta.messages.create', false, expected, 'ap'],
      ['beta.messages.create', true, expected, 'ap'],
      ['beta.messages.stream', true, expected, 'ap'],
      ['beta.messages.parse', false, expected, 'ap'],
    ]);
    expect(h.sink.calls[0].tags.step).toBe('parse');
    expect(h.server.requests).toHaveLength(5);
    expect(h.server.requests[1].headers['anthropic-beta']).toContain('context-1m-2025-08-07');
    expect(JSON.stringify(h.server.requests.map((r) => r.body))).not.toContain('kostrack');
  });

  it('broken after two events: one row, aborted, with the input usage message_start carried', async () => {
    reset({ gapMs: 20 });
    const stream = await wrap(client()).messages.create({ ...body, stream: true });
    let n = 0;
    for await (const _ of stream) if (++n === 2) break;
    await settle(h.sink);
    await new Promise((r) => setTimeout(r, 50));
    const row = h.only();
    expect(row.status).toBe('aborted');
    expect(row.tokenBreakdown).toEqual({ inputUncached: 1200, cacheWrite5m: 2000, cacheWrite1h: 4000, cacheRead: 10000, output: 1 });
  });

  it('per-call tags persist and never reach the request; client tags too', async () => {
    reset();
    await wrap(client(), { tags: { team: 'ap' } }).messages.create(body, withTags({ invoice: 'INV-7' }));
    expect(JSON.stringify(h.server.requests[0].body)).not.toContain('INV-7');
    expect(h.only().tags).toMatchObject({ team: 'ap', invoice: 'INV-7' });
  });

  it('a client derived with withOptions() is tracked like its parent, with its client tags', async () => {
    reset();
    await wrap(client(), { tags: { team: 'ap' } }).withOptions({ timeout: 5000 }).messages.create(body);
    expectSonnetRow(h.only());
    expect(h.only().tags).toMatchObject({ team: 'ap' });
  });

  it('withResponse() keeps working', async () => {
    reset();
    const { data, response } = await wrap(client()).messages.create(body).withResponse();
    expect(response.headers.get('request-id')).toBe('req_loopback');
    expect(data.id).toBe('msg_loopback');
    expect(h.only().costUsd).toBe(expected);
  });
});

describe('anthropic batch results', () => {
  it('each succeeded result is one row at batch prices (half of standard)', async () => {
    reset();
    script.batchResults = [
      { custom_id: 'a', result: { type: 'succeeded', message: message(SONNET, anthropicUsageBody({ input: 1000, output: 500 })) } },
      { custom_id: 'b', result: { type: 'errored', error: { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } } } },
      { custom_id: 'c', result: { type: 'succeeded', message: message(SONNET, anthropicUsageBody({ input: 3000, output: 100, cacheRead: 2000 })) } },
    ];
    const results = await wrap(client()).messages.batches.results('msgbatch_1');
    const ids: string[] = [];
    for await (const r of results) ids.push(r.custom_id);
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(h.sink.calls).toHaveLength(2);
    const [a, c] = h.sink.calls;
    expect(a).toMatchObject({ operation: 'messages.batches.results', pricingSource: 'batch', metadata: { batch_id: 'msgbatch_1', custom_id: 'a' } });
    expect(a.costUsd).toBe(sum(atMtok(1000, '1.5'), atMtok(500, '7.5')));
    expect(c.costUsd).toBe(sum(atMtok(3000, '1.5'), atMtok(2000, '0.15'), atMtok(100, '7.5')));
  });
});

describe('anthropic failures', () => {
  it('529 overloaded: one row, status error, the SDK error rethrown', async () => {
    h.server.route('POST', /\/v1\/messages/, (_req, res) => json(res, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 529));
    const err = await wrap(client()).messages.create(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: (err as Error).constructor.name, model: SONNET });
  });

  it('400 on messages.stream(): one row, status error', async () => {
    h.server.route('POST', /\/v1\/messages/, (_req, res) => json(res, { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } }, 400));
    const stream = wrap(client()).messages.stream(body);
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    await settle(h.sink);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: 'BadRequestError', operation: 'messages.stream' });
  });

  it('timeout: one row, status error', async () => {
    h.server.route('POST', /\/v1\/messages/, hang());
    await expect(wrap(client({ timeout: 150 })).messages.create(body)).rejects.toBeInstanceOf(Anthropic.APIConnectionTimeoutError);
    expect(h.only()).toMatchObject({ status: 'error', errorClass: 'APIConnectionTimeoutError' });
  });

  it('bad usage: the call returns and the row flags it', async () => {
    h.server.route('POST', /\/v1\/messages/, (_req, res) =>
      json(res, message(SONNET, { input_tokens: null, output_tokens: 'many', cache_read_input_tokens: -3 })),
    );
    const res = await wrap(client()).messages.create(body);
    expect(res.id).toBe('msg_loopback');
    expect(h.only().metadata.usage_issues).toEqual([
      'usage.input_tokens: null',
      'usage.output_tokens: not a number (string)',
      'usage.cache_read_input_tokens: negative (-3)',
    ]);
    expect(h.only().costUsd).toBeNull();
  });
});
