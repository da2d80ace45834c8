import Anthropic from '@anthropic-ai/sdk';
import { ChatAnthropic } from '@langchain/anthropic';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { ChatOpenAI } from '@langchain/openai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { span, trace, usdToString } from '../../lib/core/index.js';
import { KostrackCallbackHandler } from '../../lib/integrations/langchain/index.js';
import { wrap } from '../../lib/providers/index.js';
import { anthropicRoutes, anthropicUsageBody } from '../../loopback/anthropic.loopback.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, settle, sum } from '../providers/provider-test.support.js';

const h = providerHarness((s) => {
  openaiRoutes(s, { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 1200, completion: 300, cached: 200, reasoning: 40 }) });
  anthropicRoutes(s, { model: 'claude-haiku-4-5-20251001', usage: anthropicUsageBody({ input: 500, output: 120, cacheRead: 1000, write5m: 100, write1h: 50 }) });
});

// Hand-computed from the published prices (gpt-4o $2.50/$10, cached $1.25; haiku 4.5 $1/$5, read $0.10, write 5m $1.25, 1h $2).
const GPT = sum(atMtok(1000, '2.5'), atMtok(200, '1.25'), atMtok(300, '10'));
const HAIKU = sum(atMtok(500, '1'), atMtok(1000, '0.1'), atMtok(100, '1.25'), atMtok(50, '2'), atMtok(120, '5'));

const State = Annotation.Root({
  invoice: Annotation<string>(),
  notes: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

function graphOf(nodes: { extract: () => Promise<unknown>; classify: () => Promise<unknown>; post: () => Promise<unknown> }) {
  // extract and classify run in parallel (one superstep); post joins them.
  return new StateGraph(State)
    .addNode('extract', async () => (await nodes.extract(), { notes: ['extracted'] }))
    .addNode('classify', async () => (await nodes.classify(), { notes: ['classified'] }))
    .addNode('post', async () => (await nodes.post(), { notes: ['posted'] }))
    .addEdge(START, 'extract')
    .addEdge(START, 'classify')
    .addEdge(['extract', 'classify'], 'post')
    .addEdge('post', END)
    .compile();
}

describe('LangGraph: nodes calling tracked clients, invoked inside trace()', () => {
  it('three nodes with a parallel branch: every call in one trace, totals exact', async () => {
    const openai = wrap(new OpenAI({ apiKey: 'sk', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
    const anthropic = wrap(new Anthropic({ apiKey: 'k', baseURL: h.server.url, maxRetries: 0 }));
    const gpt = () => openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    const haiku = () => anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    let inBranch = 0;
    let maxParallel = 0;
    let overlapped!: () => void;
    const twoInBranch = new Promise<void>((resolve) => (overlapped = resolve));
    // Each branch waits for a second one to be running beside it (not for a timer that the other
    // might outlast on a loaded machine). Run one after the other, the first waits out the bound
    // alone and maxParallel stays 1.
    const parallel = async <T>(fn: () => Promise<T>) => {
      maxParallel = Math.max(maxParallel, ++inBranch);
      if (inBranch >= 2) overlapped();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([twoInBranch, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
        return await fn();
      } finally {
        clearTimeout(timer);
        inBranch--;
      }
    };
    const graph = graphOf({
      extract: () => parallel(() => span('extract', () => Promise.all([haiku(), haiku()]))),
      classify: () => parallel(() => span('classify', () => gpt())),
      post: () => span('post', async () => (await gpt(), await haiku())),
    });
    // Two runs at once: the graph's own concurrency must not mix their traces.
    const run = () =>
      trace({ name: 'invoice-graph', tags: { feature: 'invoice-pipeline' } }, async (t) => {
        const out = await graph.invoke({ invoice: 'INV-1' });
        return { t, out };
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect(maxParallel).toBeGreaterThanOrEqual(2);
    expect(a.out.notes.sort()).toEqual(['classified', 'extracted', 'posted']);
    for (const { t } of [a, b]) {
      const calls = h.sink.callsOf(t.traceId);
      expect(calls).toHaveLength(5);
      expect(t.callCount).toBe(5);
      expect(t.totalCost).toBe(sum(GPT, GPT, HAIKU, HAIKU, HAIKU));
      expect(t.totalCostDecimal).toBe(usdToString(sum(...calls.map((c) => c.costUsd!))));
      expect(calls.map((c) => c.tags.span_name).sort()).toEqual(['classify', 'extract', 'extract', 'post', 'post']);
      expect(calls.every((c) => c.tags.feature === 'invoice-pipeline')).toBe(true);
      expect(t.costBreakdown().map((i) => [i.model, i.cost, i.calls])).toEqual([
        ['gpt-4o-2024-08-06', usdToString(GPT * 2n), 2],
        ['claude-haiku-4-5-20251001', usdToString(HAIKU * 3n), 3],
      ]);
    }
    expect(h.sink.calls).toHaveLength(10);
  });
});

describe('LangChain callback handler: real chat models against the loopback server', () => {
  const handler = new KostrackCallbackHandler({ tags: { via: 'langchain' } });
  const chatOpenAI = (streaming = false) =>
    new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk', configuration: { baseURL: `${h.server.url}/v1` }, maxRetries: 0, streaming, callbacks: [handler] });
  const chatAnthropic = (streaming = false) =>
    new ChatAnthropic({ model: 'claude-haiku-4-5', apiKey: 'k', anthropicApiUrl: h.server.url, maxRetries: 0, streaming, callbacks: [handler] });

  it('ChatOpenAI and ChatAnthropic calls are priced exactly like the tracked SDK clients', async () => {
    const t = await trace({ name: 'lc' }, async (t) => {
      await chatOpenAI().invoke('hi');
      await span('draft', () => chatAnthropic().invoke('hi'));
      return t;
    });
    const [gpt, haiku] = h.sink.calls;
    expect(gpt).toMatchObject({ provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'langchain.ChatOpenAI', inputTokens: 1200, outputTokens: 300, cachedTokens: 200, costUsd: GPT, traceId: t.traceId, streamed: false });
    expect(gpt.tokenBreakdown).toEqual({ inputUncached: 1000, cacheRead: 200, output: 260, reasoning: 40 });
    expect(haiku).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5-20251001', inputTokens: 1650, outputTokens: 120, costUsd: HAIKU, traceId: t.traceId });
    expect(haiku.tags).toMatchObject({ via: 'langchain', span_name: 'draft' });
    expect(t.totalCost).toBe(GPT + HAIKU);
  });

  it('streamed calls too (usage from the final chunk; Anthropic keeps its 5m/1h cache-write split)', async () => {
    await trace(async () => {
      for await (const _ of await chatOpenAI(true).stream('hi'));
      for await (const _ of await chatAnthropic(true).stream('hi'));
    });
    await settle(h.sink, 2);
    const [gpt, haiku] = h.sink.calls;
    expect(gpt).toMatchObject({ provider: 'openai', costUsd: GPT, streamed: true });
    // LangChain sums usage_metadata over chunks, so message_start's placeholder output token (1) is
    // added to message_delta's cumulative 120: the handler prices what LangChain reports.
    expect(haiku).toMatchObject({ provider: 'anthropic', costUsd: HAIKU + atMtok(1, '5'), outputTokens: 121, streamed: true });
    expect(haiku.tokenBreakdown).toMatchObject({ cacheWrite5m: 100, cacheWrite1h: 50, cacheRead: 1000, inputUncached: 500 });
  });

  it('chat models in a LangGraph graph: passed as run callbacks, every node call lands in the trace', async () => {
    const plain = {
      openai: new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk', configuration: { baseURL: `${h.server.url}/v1` }, maxRetries: 0 }),
      anthropic: new ChatAnthropic({ model: 'claude-haiku-4-5', apiKey: 'k', anthropicApiUrl: h.server.url, maxRetries: 0 }),
    };
    const graph = graphOf({ extract: () => plain.anthropic.invoke('x'), classify: () => plain.openai.invoke('x'), post: () => plain.anthropic.invoke('x') });
    const t = await trace({ name: 'graph' }, async (t) => (await graph.invoke({ invoice: 'INV-2' }, { callbacks: [new KostrackCallbackHandler()] }), t));
    expect(h.sink.callsOf(t.traceId)).toHaveLength(3);
    expect(t.totalCost).toBe(GPT + HAIKU * 2n);
  });

  it('a failed call is recorded as an error with no cost; the error reaches the caller', async () => {
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'bad', type: 'invalid_request_error' } }));
    });
    await expect(trace(() => chatOpenAI().invoke('hi'))).rejects.toThrow();
    expect(h.only()).toMatchObject({ status: 'error', costUsd: 0n, provider: 'openai' });
  });
});
