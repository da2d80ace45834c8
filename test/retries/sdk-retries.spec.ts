import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addSink, configureKostrack, MemorySink, type CallRecord } from '../../lib/core/index.js';
import { withTags, wrap } from '../../lib/providers/index.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { anthropicRoutes, anthropicUsageBody } from '../../loopback/anthropic.loopback.js';
import { FaultPlan, type Fault } from '../../loopback/fault.plan.js';
import { geminiRoutes, geminiUsageBody } from '../../loopback/gemini.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { chatUsageBody, openaiRoutes, responsesUsageBody } from '../../loopback/openai.loopback.js';
import { atMtok, settle, sum } from '../providers/provider-test.support.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { useTestDatabase } from '../support/database.js';

/**
 * Issue 15, item 3: the HTTP attempts each SDK made for a call, observed through the real SDKs
 * against loopback servers that fail a call's first attempts (500, 429, a reset connection) and
 * then answer. Every retry waits a millisecond (the server's `retry-after-ms: 1`, honored by both
 * Stainless SDKs; Gemini's `retryOptions.initialDelay: 0`), except after a reset connection, which
 * carries no header: the Stainless SDKs then wait their default half second, once per such test.
 * Each call is told apart on the server by an `x-test-call` header, so parallel calls fail on
 * their own schedules. Rows are checked in memory and as stored in PostgreSQL.
 */

const db = useTestDatabase('retries');
const server = new LoopbackServer();
const sink = new MemorySink();
let storage: TelemetryStorage;
let detach: Array<() => void> = [];

const OPENAI_USAGE = chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 });
// gpt-4o: $2.50 input, $1.25 cached, $10 output per Mtok.
const OPENAI_COST = sum(atMtok(500, '2.50'), atMtok(1500, '1.25'), atMtok(300, '10'));
const RESPONSES_USAGE = responsesUsageBody({ input: 2000, output: 300, cached: 1500 });
// claude-haiku-4-5: $1 input, $5 output per Mtok.
const HAIKU = 'claude-haiku-4-5-20251001';
const ANTHROPIC_COST = sum(atMtok(1000, '1'), atMtok(500, '5'));
// gemini-2.5-flash: $0.30 input, $2.50 output per Mtok.
const GEMINI_COST = sum(atMtok(1000, '0.30'), atMtok(200, '2.50'));

const openaiScript = { model: 'gpt-4o-2024-08-06', usage: OPENAI_USAGE as unknown };
const messages = [{ role: 'user' as const, content: 'Say hello' }];

beforeAll(async () => {
  openaiRoutes(server, openaiScript);
  anthropicRoutes(server, { model: HAIKU, usage: anthropicUsageBody({ input: 1000, output: 500 }) });
  geminiRoutes(server, { model: 'gemini-2.5-flash', usage: geminiUsageBody({ prompt: 1000, candidates: 200 }) });
  await server.start();
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer: tempWriterOptions() }))!;
  configureKostrack({ enabled: true, warn: () => undefined });
  detach = [addSink(sink), addSink(storage.writer)];
});
afterEach(() => {
  sink.clear();
});
afterAll(async () => {
  for (const d of detach) d();
  await storage?.close();
  await server.close();
});

/** Fails the given attempts of the calls sent with `x-test-call: <key>`. */
function faults(plan: Record<string, Fault[]>): FaultPlan {
  const p = new FaultPlan((req) => req.headers['x-test-call'] as string | undefined);
  for (const [key, list] of Object.entries(plan)) p.fail(key, ...list);
  server.faults = p;
  return p;
}

const as = (key: string) => ({ headers: { 'x-test-call': key } });
const openai = (opts: ConstructorParameters<typeof OpenAI>[0] = {}) => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 3, ...opts }));
const anthropic = () => wrap(new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries: 3 }));
const haiku = { model: HAIKU, max_tokens: 1024, messages };

/** The attempts stored for each recorded call, by span id, once the writer has written them. */
async function storedAttempts(calls: readonly CallRecord[]): Promise<(number | null)[]> {
  await storage.writer.drain();
  const { rows } = await db.pool.query<{ span_id: string; attempts: number | null }>(
    `SELECT span_id, attempts FROM "${db.schema}".llm_calls WHERE span_id = ANY($1::uuid[])`,
    [calls.map((c) => c.spanId)],
  );
  const by = new Map(rows.map((r) => [r.span_id, r.attempts]));
  return calls.map((c) => (by.has(c.spanId) ? by.get(c.spanId)! : -1));
}

/** The one call recorded, its attempts as stored. */
async function onlyRow(): Promise<CallRecord & { storedAttempts: number | null }> {
  expect(sink.calls).toHaveLength(1);
  const [row] = sink.calls;
  const [stored] = await storedAttempts([row]);
  return Object.assign(row, { storedAttempts: stored });
}

describe('openai', () => {
  it('chat completion, no fault: one attempt', async () => {
    faults({});
    await openai().chat.completions.create({ model: 'gpt-4o', messages }, as('none'));
    const row = await onlyRow();
    expect([row.attempts, row.storedAttempts]).toEqual([1, 1]);
    expect(row.costUsd).toBe(OPENAI_COST);
  });

  it('chat completion after a 500 and a 429: three attempts, the same cost', async () => {
    const plan = faults({ a: [500, 429] });
    const res = await openai().chat.completions.create({ model: 'gpt-4o', messages }, as('a'));
    expect(res.choices[0].message.content).toBe('Hello!');
    expect(plan.sent.get('a')).toEqual([500, 429]);
    // The SDK numbered its attempts itself.
    expect(server.requests.filter((r) => r.headers['x-test-call'] === 'a').map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1', '2']);
    const row = await onlyRow();
    expect(row).toMatchObject({ status: 'ok', streamed: false, attempts: 3, storedAttempts: 3 });
    expect(row.costUsd).toBe(OPENAI_COST);
  });

  it('streamed chat completion after a 500: two attempts', async () => {
    faults({ s: [500] });
    const stream = await openai().chat.completions.create({ model: 'gpt-4o', messages, stream: true }, as('s'));
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello!');
    await settle(sink);
    const row = await onlyRow();
    expect(row).toMatchObject({ status: 'ok', streamed: true, attempts: 2, storedAttempts: 2 });
    expect(row.costUsd).toBe(OPENAI_COST);
  });

  it('Responses API, plain after a 429 and streamed after two 500s', async () => {
    openaiScript.usage = RESPONSES_USAGE;
    try {
      faults({ r1: [429], r2: [500, 500] });
      const client = openai();
      await client.responses.create({ model: 'gpt-4o', input: 'Say hello' }, as('r1'));
      const stream = await client.responses.create({ model: 'gpt-4o', input: 'Say hello', stream: true }, as('r2'));
      for await (const _ of stream) void _;
      await settle(sink, 2);
      const rows = [...sink.calls].sort((a, b) => Number(a.streamed) - Number(b.streamed));
      expect(rows.map((r) => [r.operation, r.streamed, r.attempts])).toEqual([
        ['responses.create', false, 2],
        ['responses.create', true, 3],
      ]);
      expect(await storedAttempts(rows)).toEqual([2, 3]);
      expect(rows.map((r) => r.costUsd)).toEqual([OPENAI_COST, OPENAI_COST]);
    } finally {
      openaiScript.usage = OPENAI_USAGE;
    }
  });

  it('a connection reset before any answer is retried and counted', async () => {
    const plan = faults({ reset: ['reset'] });
    await openai().chat.completions.create({ model: 'gpt-4o', messages }, as('reset'));
    expect(plan.sent.get('reset')).toEqual(['reset']);
    const row = await onlyRow();
    expect([row.status, row.attempts, row.storedAttempts]).toEqual(['ok', 2, 2]);
  });

  it('retries exhausted: an error row with every attempt counted, nothing billed', async () => {
    faults({ x: [500, 500, 500] });
    await expect(openai({ maxRetries: 2 }).chat.completions.create({ model: 'gpt-4o', messages }, as('x'))).rejects.toThrow(/500/);
    const row = await onlyRow();
    expect(row).toMatchObject({ status: 'error', errorClass: 'InternalServerError', attempts: 3, storedAttempts: 3, pricingSource: 'not-billed' });
  });

  it('refused by the SDK before sending: attempts unknown (NULL), not a guess', async () => {
    faults({});
    await expect(openai().chat.completions.create({ model: 'gpt-4o', messages }, { timeout: -1 })).rejects.toThrow(/timeout/);
    const row = await onlyRow();
    expect([row.status, row.attempts, row.storedAttempts]).toEqual(['error', null, null]);
  });

  it("the host's own fetch still sends every attempt; a withOptions() clone and a re-wrap count each attempt once", async () => {
    faults({ f1: [500], f2: [429, 429], f3: [500] });
    const seen: string[] = [];
    const hostFetch: typeof fetch = (url, init) => {
      seen.push(new Headers(init?.headers).get('x-test-call') ?? '');
      return fetch(url, init);
    };
    const raw = new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 3, fetch: hostFetch });
    const client = wrap(raw);
    await client.chat.completions.create({ model: 'gpt-4o', messages }, as('f1'));
    await client.withOptions({ timeout: 30_000 }).chat.completions.create({ model: 'gpt-4o', messages }, as('f2'));
    await wrap(client).chat.completions.create({ model: 'gpt-4o', messages }, as('f3'));
    expect(seen).toEqual(['f1', 'f1', 'f2', 'f2', 'f2', 'f3', 'f3']);
    expect(sink.calls.map((c) => c.attempts)).toEqual([2, 3, 2]);
    expect(await storedAttempts(sink.calls)).toEqual([2, 3, 2]);
    // Outside a tracked call the raw client's fetch counts nothing and records nothing.
    const before = sink.calls.length;
    await raw.chat.completions.create({ model: 'gpt-4o', messages }, as('raw'));
    expect(sink.calls).toHaveLength(before);
  });
});

describe('anthropic', () => {
  it('messages.create after a 500 and a 429: three attempts, the same cost', async () => {
    faults({ m: [500, 429] });
    const res = await anthropic().messages.create(haiku, as('m'));
    expect(res.content.at(-1)).toMatchObject({ type: 'text', text: 'Hello!' });
    const row = await onlyRow();
    expect(row).toMatchObject({ provider: 'anthropic', status: 'ok', attempts: 3, storedAttempts: 3 });
    expect(row.costUsd).toBe(ANTHROPIC_COST);
  });

  it('streamed messages.create after a 429, and the messages.stream() helper after a 500', async () => {
    faults({ s1: [429], s2: [500] });
    const client = anthropic();
    const stream = await client.messages.create({ ...haiku, stream: true }, as('s1'));
    for await (const _ of stream) void _;
    const final = await client.messages.stream(haiku, as('s2')).finalMessage();
    expect(final.usage.output_tokens).toBe(500);
    await settle(sink, 2);
    const rows = [...sink.calls].sort((a, b) => a.operation.localeCompare(b.operation));
    expect(rows.map((r) => [r.operation, r.streamed, r.attempts, r.costUsd])).toEqual([
      ['messages.create', true, 2, ANTHROPIC_COST],
      ['messages.stream', true, 2, ANTHROPIC_COST],
    ]);
    expect(await storedAttempts(rows)).toEqual([2, 2]);
  });

  it('a connection reset before any answer is retried and counted', async () => {
    faults({ reset: ['reset'] });
    await anthropic().messages.create(haiku, as('reset'));
    const row = await onlyRow();
    expect([row.status, row.attempts, row.storedAttempts]).toEqual(['ok', 2, 2]);
  });
});

describe('gemini', () => {
  // @google/genai retries only when asked (httpOptions.retryOptions); initialDelay 0 means no wait.
  const retrying = { attempts: 4, initialDelay: 0, jitter: 0 };
  const gemini = (retryOptions?: typeof retrying) => wrap(new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: server.url, ...(retryOptions ? { retryOptions } : {}) } }));
  const geminiAs = (key: string) => ({ httpOptions: { headers: { 'x-test-call': key } } });

  it('generateContent after a 500 and a 429, and generateContentStream after a 500', async () => {
    faults({ g1: [500, 429], g2: [500] });
    const client = gemini(retrying);
    const res = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hello', config: geminiAs('g1') });
    expect(res.text).toBe('Hello!');
    const stream = await client.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Say hello', config: geminiAs('g2') });
    for await (const _ of stream) void _;
    await settle(sink, 2);
    const rows = [...sink.calls].sort((a, b) => Number(a.streamed) - Number(b.streamed));
    expect(rows.map((r) => [r.operation, r.attempts, r.costUsd])).toEqual([
      ['generateContent', 3, GEMINI_COST],
      ['generateContentStream', 2, GEMINI_COST],
    ]);
    expect(await storedAttempts(rows)).toEqual([3, 2]);
  });

  it('without retryOptions the SDK sends once: one attempt, or an error row of one attempt', async () => {
    faults({ once: [500] });
    const client = gemini();
    await expect(client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hello', config: geminiAs('once') })).rejects.toThrow();
    await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hello', config: geminiAs('once') });
    expect(sink.calls.map((c) => [c.status, c.attempts])).toEqual([
      ['error', 1],
      ['ok', 1],
    ]);
    expect(await storedAttempts(sink.calls)).toEqual([1, 1]);
  });
});

it('calls in flight at once each get their own count, across SDKs', async () => {
  const plan: Record<string, Fault[]> = { o0: [], o1: [500], o2: [429, 500], o3: [500, 500, 429], a0: [], a1: [429], a2: [500, 500], g2: [500, 500] };
  faults(plan);
  const o = openai();
  const a = anthropic();
  const g = wrap(new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: server.url, retryOptions: { attempts: 4, initialDelay: 0, jitter: 0 } } }));
  // Each call's tag names it, to find its row; each round of calls interleaves with the others' retries.
  const tagged = (key: string) => withTags({ call: key }, as(key));
  await Promise.all([
    ...['o0', 'o1', 'o2', 'o3'].map((k) => o.chat.completions.create({ model: 'gpt-4o', messages }, tagged(k))),
    ...['a0', 'a1', 'a2'].map((k) => a.messages.create(haiku, tagged(k))),
    g.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Say hello', config: { httpOptions: { headers: { 'x-test-call': 'g2' } } }, ...withTags({ call: 'g2' }) }),
  ]);
  expect(sink.calls).toHaveLength(8);
  const byKey = Object.fromEntries(sink.calls.map((c) => [c.tags.call, c]));
  const expected = Object.fromEntries(Object.entries(plan).map(([k, f]) => [k, f.length + 1]));
  expect(Object.fromEntries(Object.entries(byKey).map(([k, c]) => [k, c.attempts]))).toEqual(expected);
  const stored = await storedAttempts(Object.keys(plan).map((k) => byKey[k]));
  expect(stored).toEqual(Object.values(expected));
  expect(Object.keys(plan).map((k) => byKey[k].costUsd)).toEqual([...Array(4).fill(OPENAI_COST), ...Array(3).fill(ANTHROPIC_COST), GEMINI_COST]);
});
