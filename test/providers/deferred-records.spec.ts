import { AsyncLocalStorage } from 'node:async_hooks';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { addSink, configureKostrack, currentTrace, drainRecords, span, trace, type CallRecord, type SpanRecord, type TelemetrySink } from '../../lib/core/index.js';
import { wrap } from '../../lib/providers/index.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, sum } from './provider-test.support.js';

// gpt-4o: $2.50 input, $1.25 cached input, $10 output per Mtok.
const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 }) }));
const COST = sum(atMtok(500, '2.50'), atMtok(1500, '1.25'), atMtok(300, '10.00'));
const client = () => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const body = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Say hello' }] };
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A sink that only collects, in arrival order: it never drains anything itself. */
function orderSink(): TelemetrySink & { events: string[]; calls: CallRecord[] } {
  const events: string[] = [];
  const calls: CallRecord[] = [];
  return {
    events,
    calls,
    recordCall(c: CallRecord) {
      calls.push(c);
      events.push(`call ${c.costUsd}`);
    },
    recordSpan(s: SpanRecord) {
      events.push(`span ${s.name} ${s.costUsd} ${s.callCount}`);
    },
  };
}

const removers: (() => void)[] = [];
afterEach(() => removers.splice(0).forEach((remove) => remove()));
function collect() {
  const sink = orderSink();
  removers.push(addSink(sink));
  return sink;
}

describe('tracked calls are recorded after the caller resumes', () => {
  it('the caller gets the response first; the row reaches sinks on the next turn, once', async () => {
    const sink = collect();
    const res = await client().chat.completions.create(body);
    // The caller's code runs before any bookkeeping: nothing has reached the sink yet.
    expect(res.usage?.prompt_tokens).toBe(2000);
    expect(sink.calls).toHaveLength(0);
    await nextTurn();
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toMatchObject({ model: 'gpt-4o-2024-08-06', inputTokens: 2000, outputTokens: 300, cachedTokens: 1500, status: 'ok' });
    expect(sink.calls[0].costUsd).toBe(COST);
    expect(sink.calls[0].latencyMs).toBeGreaterThan(0);
    await nextTurn();
    drainRecords();
    expect(sink.calls).toHaveLength(1);
  });

  it('a total read right after the await already includes the call, to the last decimal', async () => {
    await trace({ name: 'agent' }, async () => {
      await client().chat.completions.create(body);
      expect(currentTrace()!.callCount).toBe(1);
      expect(currentTrace()!.totalCost).toBe(COST);
      await client().chat.completions.create(body);
      expect(currentTrace()!.costBreakdown()).toMatchObject([{ model: 'gpt-4o-2024-08-06', calls: 2, inputTokens: 4000 }]);
      expect(currentTrace()!.totalCostDecimal).toBe('0.01225');
    });
  });

  it('a span ending right after its call carries the call, and the call reaches sinks before the span', async () => {
    const sink = collect();
    const openai = client();
    const t = await trace({ name: 'root' }, async (root) => {
      await span('draft', () => openai.chat.completions.create(body));
      await openai.chat.completions.create(body);
      return root;
    });
    expect(t.totalCost).toBe(2n * COST);
    expect(sink.events).toEqual([`call ${COST}`, `span draft ${COST} 1`, `call ${COST}`, `span root ${2n * COST} 2`]);
  });

  it('a sink added after a call finished never receives it; one removed still receives what finished before', async () => {
    const early = orderSink();
    const removeEarly = addSink(early);
    await client().chat.completions.create(body);
    const late = collect();
    removeEarly();
    await nextTurn();
    expect(early.calls.map((c) => c.costUsd)).toEqual([COST]);
    expect(late.calls).toHaveLength(0);
  });

  it('MemorySink readers see every finished call without waiting', async () => {
    await client().chat.completions.create(body);
    expect(h.sink.calls).toHaveLength(1);
    expect(h.only().costUsd).toBe(COST);
  });

  it('1,000 concurrent calls in 100 traces: every trace total exact, every row once', async () => {
    const sink = collect();
    const openai = client();
    const traces = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        trace({ name: `t${i}` }, async (ctx) => {
          await Promise.all(Array.from({ length: 10 }, () => openai.chat.completions.create(body)));
          return ctx;
        }),
      ),
    );
    expect(traces.map((t) => t.totalCost)).toEqual(Array(100).fill(10n * COST));
    expect(sink.calls).toHaveLength(1000);
    expect(new Set(sink.calls.map((c) => c.spanId)).size).toBe(1000);
    const perTrace = new Map<string, number>();
    for (const c of sink.calls) perTrace.set(c.traceId!, (perTrace.get(c.traceId!) ?? 0) + 1);
    expect([...perTrace.values()]).toEqual(Array(100).fill(10));
  });

  it('what comes from the caller is read before the caller resumes: usage, and the privacy hook in its own context', async () => {
    const sink = collect();
    const openai = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }), {
      metadata: ({ params }) => ({ user: currentTrace()?.name ?? null, turns: (params as { messages: unknown[] }).messages.length }),
    });
    await Promise.all(
      ['alice', 'bob', 'carol'].map((user) =>
        trace({ name: user }, async () => {
          const messages: { role: 'user' | 'assistant'; content: string }[] = [{ role: 'user', content: 'Say hello' }];
          const res = await openai.chat.completions.create({ model: 'gpt-4o', messages });
          // The caller keeps the conversation going and strips what it does not need, in the same turn.
          messages.push({ role: 'assistant', content: res.choices[0].message.content ?? '' });
          delete (res.usage as { prompt_tokens_details?: unknown }).prompt_tokens_details;
        }),
      ),
    );
    await nextTurn();
    expect(sink.calls.map((c) => c.metadata.request).sort((a, b) => String((a as { user: string }).user).localeCompare((b as { user: string }).user))).toEqual([
      { user: 'alice', turns: 1 },
      { user: 'bob', turns: 1 },
      { user: 'carol', turns: 1 },
    ]);
    expect(sink.calls.map((c) => [c.cachedTokens, c.costUsd])).toEqual(Array(3).fill([1500, COST]));
  });

  it('switching tracking off right after a call still records that call, with the service id it finished under', async () => {
    const sink = collect();
    try {
      const t = await trace({ name: 'last' }, async (ctx) => {
        await client().chat.completions.create(body);
        configureKostrack({ serviceId: 'before-switch' });
        configureKostrack({ enabled: false, serviceId: 'after-switch' });
        return ctx;
      });
      expect([t.callCount, t.totalCost]).toEqual([1, COST]);
      expect(sink.calls.map((c) => [c.serviceId, c.costUsd])).toEqual([['default', COST]]);
    } finally {
      configureKostrack({ enabled: true, serviceId: 'default' });
    }
  });

  it('fake timers in the caller\'s tests never hold rows back', async () => {
    const sink = collect();
    const openai = client();
    vi.useFakeTimers();
    try {
      await openai.chat.completions.create(body);
      await openai.chat.completions.create(body);
    } finally {
      vi.useRealTimers();
    }
    await openai.chat.completions.create(body);
    await nextTurn();
    expect(sink.calls.map((c) => c.costUsd)).toEqual([COST, COST, COST]);
  });

  it('rows delivered on the next turn reach sinks outside any request context, never in another request context', async () => {
    const requestUser = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    removers.push(addSink({ recordCall: () => void seen.push(requestUser.getStore()), recordSpan: () => undefined }));
    const openai = client();
    await Promise.all(['alice', 'bob'].map((user) => requestUser.run(user, async () => await openai.chat.completions.create(body))));
    await nextTurn();
    expect(seen).toEqual([undefined, undefined]);
  });
});
