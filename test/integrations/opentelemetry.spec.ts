import Anthropic from '@anthropic-ai/sdk';
import { context, trace as otelTrace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainRecords, hexToUuid, span, trace, usdToString, uuidToHex } from '../../lib/core/index.js';
import { enableOpenTelemetry } from '../../lib/integrations/opentelemetry/index.js';
import { wrap } from '../../lib/providers/index.js';
import { anthropicRoutes, anthropicUsageBody } from '../../loopback/anthropic.loopback.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, sum } from '../providers/provider-test.support.js';

const h = providerHarness((s) => {
  openaiRoutes(s, { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 1000, completion: 200, cached: 400, reasoning: 50 }) });
  anthropicRoutes(s, { model: 'claude-haiku-4-5-20251001', usage: anthropicUsageBody({ input: 300, output: 80, cacheRead: 2000, write5m: 100, write1h: 60 }) });
});

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');
let disable = () => {};
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
  disable = enableOpenTelemetry({ tracer });
});
afterAll(() => {
  disable();
  context.disable();
});

const openai = () => wrap(new OpenAI({ apiKey: 'sk', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const anthropic = () => wrap(new Anthropic({ apiKey: 'k', baseURL: h.server.url, maxRetries: 0 }));

describe('OpenTelemetry bridge', () => {
  it('a Kostrack trace opened under an active OTel span adopts its trace id and records it as the caller', async () => {
    exporter.reset();
    await tracer.startActiveSpan('POST /invoices', async (http) => {
      const sc = http.spanContext();
      await trace({ name: 'workflow' }, async (t) => {
        expect(t.traceId).toBe(hexToUuid(sc.traceId));
        expect(uuidToHex(t.traceId)).toBe(sc.traceId);
        expect(t.parentSpanId).toBe(hexToUuid(sc.spanId));
      });
      http.end();
    });
    const spans = exporter.getFinishedSpans();
    const http = spans.find((s) => s.name === 'POST /invoices')!;
    const workflow = spans.find((s) => s.name === 'workflow')!;
    expect(workflow.spanContext().traceId).toBe(http.spanContext().traceId);
    expect(workflow.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
  });

  it('emits calls as gen_ai.* spans under the Kostrack span tree, with the exact cost', async () => {
    exporter.reset();
    h.sink.clear();
    const traceId = await tracer.startActiveSpan('job', async (job) => {
      const id = await trace({ name: 'month-end-close', tags: { feature: 'month-end-close' } }, async (t) => {
        await span('classify', () => openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }));
        await anthropic().messages.create({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
        return t.traceId;
      });
      job.end();
      return id;
    });
    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.find((s) => s.name === n)!;
    const root = byName('month-end-close');
    const classify = byName('classify');
    const gpt = byName('chat gpt-4o');
    const haiku = byName('chat claude-haiku-4-5');
    expect(spans.map((s) => s.spanContext().traceId).every((id) => id === uuidToHex(traceId))).toBe(true);
    expect(classify.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(gpt.parentSpanContext?.spanId).toBe(classify.spanContext().spanId);
    expect(haiku.parentSpanContext?.spanId).toBe(root.spanContext().spanId);

    const gptCost = sum(atMtok(600, '2.5'), atMtok(400, '1.25'), atMtok(200, '10'));
    expect(gpt.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 200,
      'gen_ai.usage.cache_read.input_tokens': 400,
      'gen_ai.usage.reasoning.output_tokens': 50,
      'kostrack.cost_usd': usdToString(gptCost),
      'kostrack.tag.feature': 'month-end-close',
      'kostrack.tag.span_name': 'classify',
      // The loopback's ChatCompletion says which tier served it.
      'openai.response.service_tier': 'default',
      'kostrack.service_tier': 'default',
    });
    expect(gpt.attributes['gen_ai.usage.cache_creation.input_tokens']).toBeUndefined();
    expect(gpt.attributes['kostrack.pricing_flags']).toBeUndefined();
    expect(haiku.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-haiku-4-5',
      'gen_ai.response.model': 'claude-haiku-4-5-20251001',
      'gen_ai.usage.input_tokens': 300 + 2000 + 160,
      'gen_ai.usage.output_tokens': 80,
      'gen_ai.usage.cache_read.input_tokens': 2000,
      'gen_ai.usage.cache_creation.input_tokens': 160,
    });
    expect(h.sink.calls.map((c) => c.spanId).sort()).toEqual([gpt, haiku].map((s) => s.attributes['kostrack.span_id']).sort());
    const total = sum(...h.sink.calls.map((c) => c.costUsd!));
    expect(root.attributes).toMatchObject({ 'kostrack.cost_usd': usdToString(total), 'kostrack.call_count': 2 });
    // Times come from the records: each call lies inside its span.
    const ns = (t: [number, number]) => t[0] * 1e9 + t[1];
    expect(ns(gpt.startTime)).toBeGreaterThanOrEqual(ns(classify.startTime) - 1e6);
    expect(ns(gpt.endTime)).toBeLessThanOrEqual(ns(classify.endTime) + 1e6);
  });

  it('a trace with no OTel parent is still emitted (own OTel root), and calls outside traces too', async () => {
    exporter.reset();
    await trace({ name: 'standalone' }, () => openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }));
    await openai().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'y' }] });
    // A tracked call reaches the sinks on the next turn of the event loop (or when a reader drains).
    drainRecords();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(['chat gpt-4o', 'chat gpt-4o', 'standalone']);
    const standalone = spans.find((s) => s.name === 'standalone')!;
    expect(standalone.parentSpanContext).toBeUndefined();
    expect(spans.filter((s) => s.parentSpanContext?.spanId === standalone.spanContext().spanId)).toHaveLength(1);
  });

  it('no active OTel span: nothing adopted', async () => {
    expect(otelTrace.getActiveSpan()).toBeUndefined();
    await trace((t) => expect(t.parentSpanId).toBeNull());
  });
});
