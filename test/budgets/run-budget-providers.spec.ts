import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { KostrackBudgetExceededError, trace, usd, usdToString, type CallRecord } from '../../lib/core/index.js';
import { wrap } from '../../lib/providers/index.js';
import { anthropicRoutes, anthropicUsageBody, type AnthropicScript } from '../../loopback/anthropic.loopback.js';
import { geminiRoutes, geminiUsageBody, type GeminiScript } from '../../loopback/gemini.loopback.js';
import { chatUsageBody, openaiRoutes, type OpenAIScript } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, settle, sum } from '../providers/provider-test.support.js';

/*
 * Run budgets on streams, Anthropic and Gemini, with the real SDKs against one loopback server.
 *
 * Every request below has the same messages, whose walked JSON is 39 bytes (see run-budget.spec.ts):
 *   [{ role: 'user', content: 'Say hello' }]: 3 (array) + 8 + 6 + 11 + 11 = 39 → 39 + 64 = 103 input tokens.
 * Gemini's `contents: 'Say hello'` is one string: 9 + 2 = 11 → 11 + 64 = 75 input tokens.
 */
const messages = [{ role: 'user' as const, content: 'Say hello' }];

// gpt-4o-mini ($0.15 in, $0.60 out per 1M), max_tokens 5000, usage 90 / 5000:
//   E = (103 × 0.15 + 5000 × 0.60) µ$ = $0.00301545;  C = (90 × 0.15 + 5000 × 0.60) µ$ = $0.0030135
const E_OPENAI = '0.00301545';
const C_OPENAI = '0.0030135';

// claude-haiku-4-5 ($1 in, $1.25 5-minute write, $2 1-hour write, $5 out per 1M), max_tokens 1000, usage 90 / 1000:
//   E = (103 × 1 + 1000 × 5) µ$ = 5,103 µ$ = $0.005103;  C = (90 × 1 + 1000 × 5) µ$ = $0.00509
const HAIKU = 'claude-haiku-4-5';
const E_HAIKU = '0.005103';
const C_HAIKU = '0.00509';

// gemini-2.5-flash ($0.30 in, $2.50 out per 1M), maxOutputTokens 1000, usage 50 / 1000:
//   E = (75 × 0.30 + 1000 × 2.50) µ$ = 2,522.5 µ$ = $0.0025225;  C = (50 × 0.30 + 1000 × 2.50) µ$ = $0.002515
const E_GEMINI = '0.0025225';
const C_GEMINI = '0.002515';

const openaiScript: OpenAIScript = { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) };
const anthropicScript: AnthropicScript = { model: 'claude-haiku-4-5-20251001', usage: anthropicUsageBody({ input: 90, output: 1000 }) };
const geminiScript: GeminiScript = { model: 'gemini-2.5-flash', usage: geminiUsageBody({ prompt: 50, candidates: 1000 }) };
const h = providerHarness((s) => {
  openaiRoutes(s, openaiScript);
  anthropicRoutes(s, anthropicScript);
  geminiRoutes(s, geminiScript);
});

const openai = () => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const anthropic = () => wrap(new Anthropic({ apiKey: 'sk-ant-test', baseURL: h.server.url, maxRetries: 0 }));
const gemini = () => wrap(new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: h.server.url } }));

const haikuBody = { model: HAIKU, max_tokens: 1000, messages };
const geminiBody = { model: 'gemini-2.5-flash', contents: 'Say hello', config: { maxOutputTokens: 1000 } };

/** The refusal of `call` (run inside an async function: a refused Stainless `create()` throws synchronously). */
async function refusal(call: () => unknown): Promise<KostrackBudgetExceededError> {
  const error = await (async () => call())().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KostrackBudgetExceededError);
  return error as KostrackBudgetExceededError;
}

const statuses = () => h.sink.calls.map((c: CallRecord) => c.status);

describe('the estimates by hand', () => {
  it('E and C of each provider', () => {
    expect(usdToString(sum(atMtok(103, '0.15'), atMtok(5000, '0.60')))).toBe(E_OPENAI);
    expect(usdToString(sum(atMtok(90, '0.15'), atMtok(5000, '0.60')))).toBe(C_OPENAI);
    expect(usdToString(sum(atMtok(103, '1'), atMtok(1000, '5')))).toBe(E_HAIKU);
    expect(usdToString(sum(atMtok(90, '1'), atMtok(1000, '5')))).toBe(C_HAIKU);
    expect(usdToString(sum(atMtok(75, '0.30'), atMtok(1000, '2.50')))).toBe(E_GEMINI);
    expect(usdToString(sum(atMtok(50, '0.30'), atMtok(1000, '2.50')))).toBe(C_GEMINI);
  });
});

describe('openai streams', () => {
  it('stream: true consumed to the end holds E while open and settles at C', async () => {
    const client = openai();
    await trace({ budget: '0.05' }, async (t) => {
      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5000, stream: true });
      expect(t.reserved).toBe(usd(E_OPENAI));
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(text).toBe('Hello!');
      expect(t.reserved).toBe(0n);
      expect(t.totalCostDecimal).toBe(C_OPENAI);
    });
    expect(h.sink.calls.map((c) => [c.status, c.streamed, c.costUsd])).toEqual([['ok', true, usd(C_OPENAI)]]);
  });

  it('a stream abandoned with break is recorded aborted; its unknown cost keeps E held for the run', async () => {
    openaiScript.stream = { gapMs: 20 };
    try {
      const client = openai();
      await trace({ budget: '0.05' }, async (t) => {
        const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5000, stream: true });
        for await (const _ of stream) break;
        await settle(h.sink);
        // The usage chunk never came: the provider billed an unknown amount up to E.
        expect(h.only()).toMatchObject({ status: 'aborted', costUsd: null, streamed: true });
        expect(t.totalCost).toBe(0n);
        expect(t.reserved).toBe(usd(E_OPENAI));
      });
    } finally {
      openaiScript.stream = undefined;
    }
  });

  it('a runaway loop of abandoned streams is stopped too', async () => {
    const client = openai();
    let error: KostrackBudgetExceededError | undefined;
    await trace({ budget: '0.05' }, async () => {
      try {
        // Bounded here only so that a regression fails instead of hanging.
        for (let i = 0; i < 40; i++) {
          const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5000, stream: true });
          for await (const _ of stream) break;
        }
      } catch (e) {
        error = e as KostrackBudgetExceededError;
      }
    });
    // Each abandoned stream keeps E: k = 16 sees 15 × E = 0.04523175 held, 0.00476825 ≥ E left;
    // k = 17 sees 16 × E = 0.0482472 held, 0.05 − 0.0482472 = 0.0017528 < E.
    expect(h.server.requests).toHaveLength(16);
    expect(error).toBeInstanceOf(KostrackBudgetExceededError);
    expect([error!.spent, error!.reserved, error!.budget.remaining]).toEqual(['0', '0.0482472', '0.0017528']);
  });
});

describe('anthropic', () => {
  it('messages.create: admitted while E fits, then refused before sending', async () => {
    const client = anthropic();
    await trace({ budget: '0.01' }, async (t) => {
      const res = await client.messages.create(haikuBody);
      expect(res.id).toBe('msg_loopback');
      // 0.01 − 0.00509 = 0.00491 < 0.005103
      const error = await refusal(() => client.messages.create(haikuBody));
      expect(error.budget).toMatchObject({ limit: '0.01', spent: C_HAIKU, reserved: '0', estimate: E_HAIKU, remaining: '0.00491', provider: 'anthropic', model: HAIKU });
      expect(t.totalCostDecimal).toBe(C_HAIKU);
    });
    expect(h.server.requests).toHaveLength(1);
    expect(statuses()).toEqual(['ok', 'blocked']);
    expect(h.sink.calls[1]).toMatchObject({ operation: 'messages.create', costUsd: 0n, pricingSource: 'blocked', errorClass: 'KostrackBudgetExceededError' });
  });

  it('messages.stream() refused: the call itself throws the refusal, before the helper starts; nothing is sent', async () => {
    const client = anthropic();
    await trace({ budget: '0.005' }, async (t) => {
      // Thrown by stream() itself: inside the helper's background request the SDK would wrap it
      // in an AnthropicError, and a Nest app would not answer 402.
      let error: unknown;
      try {
        client.messages.stream(haikuBody);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KostrackBudgetExceededError);
      // 0.005 < E = 0.005103
      expect((error as KostrackBudgetExceededError).budget).toMatchObject({ estimate: E_HAIKU, remaining: '0.005' });
      expect(t.reserved).toBe(0n);
    });
    await settle(h.sink);
    expect(h.server.requests).toHaveLength(0);
    expect(h.only()).toMatchObject({ status: 'blocked', operation: 'messages.stream', costUsd: 0n });
  });

  it('messages.stream() admitted: holds E, settles at C', async () => {
    const client = anthropic();
    await trace({ budget: E_HAIKU }, async (t) => {
      const final = await client.messages.stream(haikuBody).finalMessage();
      expect(final.content.at(-1)).toMatchObject({ type: 'text', text: 'Hello!' });
      await settle(h.sink);
      expect(t.reserved).toBe(0n);
      expect(t.totalCostDecimal).toBe(C_HAIKU);
    });
    expect(h.server.requests).toHaveLength(1);
    expect(h.only()).toMatchObject({ status: 'ok', operation: 'messages.stream', costUsd: usd(C_HAIKU) });
  });

  it('a stream: true broken after message_start: its partial cost is spent, the rest of E stays held', async () => {
    anthropicScript.stream = { gapMs: 20 };
    try {
      const client = anthropic();
      await trace({ budget: '0.05' }, async (t) => {
        const stream = await client.messages.create({ ...haikuBody, stream: true });
        for await (const event of stream) {
          expect(event.type).toBe('message_start');
          break;
        }
        await settle(h.sink);
        // message_start carries input 90 and output 1: 90 × $1 + 1 × $5 = 95 µ$ = $0.000095.
        expect(h.only()).toMatchObject({ status: 'aborted', costUsd: usd('0.000095') });
        // E − 0.000095 = 0.005103 − 0.000095 = 0.005008 stays held: the call counts at E in all.
        expect(t.reserved).toBe(usd('0.005008'));
        expect(t.totalCost + t.reserved).toBe(usd(E_HAIKU));
      });
    } finally {
      anthropicScript.stream = undefined;
    }
  });

  it('a top-level cache_control (1 hour) bounds input at the 1-hour write rate', async () => {
    const client = anthropic();
    // (103 × $2 + 1000 × $5) µ$ = 5,206 µ$ = $0.005206 (the 5-minute write is $1.25, input $1: the 1-hour rate is the most).
    expect(usdToString(sum(atMtok(103, '2'), atMtok(1000, '5')))).toBe('0.005206');
    const error = await trace({ budget: '0' }, () => refusal(() => client.messages.create({ ...haikuBody, cache_control: { type: 'ephemeral', ttl: '1h' } })));
    expect(error.estimate).toBe('0.005206');
    // 5-minute: (103 × $1.25 + 1000 × $5) µ$ = 128.75 + 5,000 = 5,128.75 µ$ = $0.00512875
    const fiveMinutes = await trace({ budget: '0' }, () => refusal(() => client.messages.create({ ...haikuBody, cache_control: { type: 'ephemeral' } })));
    expect(fiveMinutes.estimate).toBe('0.00512875');
    expect(h.server.requests).toHaveLength(0);
  });

  it('an output_config.format schema counts as input', async () => {
    const client = anthropic();
    // output_config = { format: { type: 'json_schema', schema: { type: 'object' } } }:
    //   "format" 6 + 4 = 10; inner: "type" 8 + "json_schema" 13 = 21, "schema" 10 + { "type" 8 + "object" 8 } 16 = 26 → 47
    //   → 57 bytes; input 39 + 57 + 64 = 160; (160 × $1 + 1000 × $5) µ$ = $0.00516
    const error = await trace({ budget: '0' }, () =>
      refusal(() => client.messages.create({ ...haikuBody, output_config: { format: { type: 'json_schema', schema: { type: 'object' } } } })),
    );
    expect(error.estimate).toBe(usdToString(sum(atMtok(160, '1'), atMtok(1000, '5'))));
    expect(error.estimate).toBe('0.00516');
  });
});

describe('gemini', () => {
  it('models.generateContent: admitted while E fits; refused as a rejected promise, nothing sent', async () => {
    const client = gemini();
    await trace({ budget: '0.005' }, async (t) => {
      const res = await client.models.generateContent(geminiBody);
      expect(res.text).toBe('Hello!');
      expect(t.totalCostDecimal).toBe(C_GEMINI);
      // 0.005 − 0.002515 = 0.002485 < 0.0025225
      const refused = client.models.generateContent(geminiBody);
      expect(refused).toBeInstanceOf(Promise);
      const error = await refused.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(KostrackBudgetExceededError);
      expect((error as KostrackBudgetExceededError).budget).toMatchObject({ spent: C_GEMINI, reserved: '0', estimate: E_GEMINI, remaining: '0.002485', provider: 'gemini', model: 'gemini-2.5-flash' });
      expect(t.reserved).toBe(0n);
    });
    expect(h.server.requests).toHaveLength(1);
    expect(statuses()).toEqual(['ok', 'blocked']);
  });

  it('models.generateContentStream: refused before sending; admitted, consumed, settled', async () => {
    const client = gemini();
    await trace({ budget: E_GEMINI }, async (t) => {
      const stream = await client.models.generateContentStream(geminiBody);
      expect(t.reserved).toBe(usd(E_GEMINI));
      let text = '';
      for await (const chunk of stream) text += chunk.text;
      expect(text).toBe('Hello!');
      expect(t.reserved).toBe(0n);
      // E − C = 0.0025225 − 0.002515 = 0.0000075 left < E
      const error = await client.models.generateContentStream(geminiBody).then(
        () => null,
        (e: unknown) => e,
      );
      expect((error as KostrackBudgetExceededError).budget).toMatchObject({ spent: C_GEMINI, remaining: '0.0000075' });
    });
    expect(h.server.requests).toHaveLength(1);
    expect(statuses()).toEqual(['ok', 'blocked']);
  });

  it('tools in config add the 1,000-token tool allowance; a responseJsonSchema counts as input', async () => {
    const client = gemini();
    // config.tools = [{ functionDeclarations: [{ name: 'lookup' }] }]:
    //   { "name" 8 + "lookup" 8 } = 16 → array 16 + 2 + 1 = 19 → "functionDeclarations" 20 + 4 = 24 → 43
    //   → array 43 + 2 + 1 = 46 → "tools" 5 + 4 = 9 → 55 bytes.
    //   input 11 + 55 + 64 + 1,000 = 1,130; (1,130 × $0.30 + 1000 × $2.50) µ$ = 339 + 2,500 = $0.002839
    const tools = await trace({ budget: '0' }, () =>
      refusal(() => client.models.generateContent({ ...geminiBody, config: { maxOutputTokens: 1000, tools: [{ functionDeclarations: [{ name: 'lookup' }] }] } })),
    );
    expect(tools.estimate).toBe(usdToString(sum(atMtok(1130, '0.30'), atMtok(1000, '2.50'))));
    expect(tools.estimate).toBe('0.002839');
    // config.responseJsonSchema = { type: 'object' }: "responseJsonSchema" 18 + 4 = 22 + { "type" 8 + "object" 8 } 16 = 38 bytes.
    //   input 11 + 38 + 64 = 113; (113 × $0.30 + 1000 × $2.50) µ$ = 33.9 + 2,500 = $0.0025339
    const schema = await trace({ budget: '0' }, () =>
      refusal(() =>
        client.models.generateContent({ ...geminiBody, config: { maxOutputTokens: 1000, responseMimeType: 'application/json', responseJsonSchema: { type: 'object' } } }),
      ),
    );
    expect(schema.estimate).toBe('0.0025339');
    expect(h.server.requests).toHaveLength(0);
  });
});

/*
 * The worst case at the rates a request can be billed at: its service tier, and the long-context
 * tier its input bound falls in. Each estimate is read from a refusal (budget just below it), so
 * nothing is sent.
 */
describe('worst cases at tier and long-context rates', () => {
  it("OpenAI service_tier 'priority' holds the priority rates: gpt-4o-mini $0.25 / $1 instead of $0.15 / $0.60", async () => {
    const client = openai();
    // 103 input tokens (as above) and max_tokens 5000: (103 × 0.25 + 5000 × 1) µ$ = 25.75 + 5,000 = $0.00502575.
    const priority = await trace({ budget: '0.005' }, () =>
      refusal(() => client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages, service_tier: 'priority' })),
    );
    expect(priority.estimate).toBe(usdToString(sum(atMtok(103, '0.25'), atMtok(5000, '1'))));
    expect(priority.estimate).toBe('0.00502575');
    expect(priority.budget).toMatchObject({ limit: '0.005', spent: '0', reserved: '0', remaining: '0.005', model: 'gpt-4o-mini' });
    // The same request at the standard tier is bounded at E = $0.00301545.
    const standard = await trace({ budget: '0.003' }, () => refusal(() => client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages })));
    expect(standard.estimate).toBe(E_OPENAI);
    expect(h.server.requests).toHaveLength(0);
  });

  /*
   * gemini-2.5-pro: $1.25 in / $10 out up to 200k input tokens, $2.50 / $15 above. `contents` of
   * n one-byte characters is bounded at n + 2 (the JSON string) + 64 input tokens:
   *   n = 199,934 → 200,000 tokens: (200,000 × 1.25 + 1000 × 10) µ$ = 250,000 + 10,000 = $0.26;
   *   n = 199,935 → 200,001 tokens: (200,001 × 2.50 + 1000 × 15) µ$ = 500,002.5 + 15,000 = $0.5150025.
   */
  it('a Gemini 2.5 Pro request whose input bound passes 200k tokens is held at the long-context rates', async () => {
    const client = gemini();
    const ask = (n: number) => client.models.generateContent({ model: 'gemini-2.5-pro', contents: 'x'.repeat(n), config: { maxOutputTokens: 1000 } });
    const within = await trace({ budget: '0.25' }, () => refusal(() => ask(199_934)));
    expect(within.estimate).toBe(usdToString(sum(atMtok(200_000, '1.25'), atMtok(1000, '10'))));
    expect(within.estimate).toBe('0.26');
    const over = await trace({ budget: '0.5' }, () => refusal(() => ask(199_935)));
    expect(over.estimate).toBe(usdToString(sum(atMtok(200_001, '2.50'), atMtok(1000, '15'))));
    expect(over.estimate).toBe('0.5150025');
    expect(over.budget).toMatchObject({ limit: '0.5', remaining: '0.5', provider: 'gemini', model: 'gemini-2.5-pro' });
    expect(h.server.requests).toHaveLength(0);
    expect(statuses()).toEqual(['blocked', 'blocked']);
  });
});
