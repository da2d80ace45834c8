import type { PriceOverride } from '../../../lib/pricing/price-table.js';
import { usd } from '../../../lib/core/money.js';
import { id, PROJECT, type FixtureTrace } from './admin.fixture.js';

/**
 * Two traces beside the admin fixture, a week after it (so the list and chart tests over
 * 2026-11-01..06 see none of them): a runaway `chat` run ($0.5, far above chat's p95) and a
 * `rag` run on a model priced by the `prices` option whose input was mostly read from cache.
 */
export const LATER = Date.parse('2026-11-10T12:00:00.000Z');
export const CACHED_TOKENS = 12_345;
/** $2 uncached, $0.50 cached per Mtok: 12,345 cached tokens saved 12,345 × 1.5 / 1e6 = $0.0185175. */
export const CACHE_PRICES: PriceOverride[] = [{ provider: 'openai', model: 'acme-cached-1', input: '2', cacheRead: '0.5', output: '8' }];
export const CACHE_SAVED = '0.0185175';

function oneCallTrace(n: number, name: string, tags: Record<string, string>, startMs: number, call: Partial<FixtureTrace['calls'][number]>): FixtureTrace {
  const traceId = id(0x9, n);
  const rootSpan = id(0xa, n);
  const t: FixtureTrace = { traceId, name, tags, serviceId: 'web', start: new Date(startMs), end: new Date(startMs + 4000), spans: [], calls: [] };
  t.spans = [
    { traceId, spanId: rootSpan, parentSpanId: null, isRoot: true, name, tags, serviceId: 'web', startTime: t.start, endTime: t.end, status: 'ok', errorClass: null, costUsd: 0n, callCount: 0 },
  ];
  t.calls = [
    {
      spanId: id(0xb, n),
      traceId,
      parentSpanId: rootSpan,
      time: new Date(startMs + 500),
      serviceId: 'web',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      operation: 'messages.create',
      inputTokens: 100,
      outputTokens: 20,
      cachedTokens: 0,
      tokenBreakdown: { inputUncached: 100, output: 20 },
      costUsd: usd('0.5'),
      pricingModel: 'test',
      pricingSource: 'override',
      latencyMs: 3000,
      status: 'ok',
      errorClass: null,
      streamed: false,
      tags: { ...tags, span_name: name },
      metadata: {},
      ...call,
    },
  ];
  return t;
}

export function laterTraces(): FixtureTrace[] {
  return [
    oneCallTrace(1, 'runaway-chat', { project: PROJECT, feature: 'chat', user_id: 'u-1' }, LATER, {}),
    oneCallTrace(2, 'rag-answer', { project: PROJECT, feature: 'rag', user_id: 'u-9' }, LATER + 3_600_000, {
      provider: 'openai',
      model: 'acme-cached-1',
      inputTokens: 20_000,
      outputTokens: 300,
      cachedTokens: CACHED_TOKENS,
      // 7,655 × $2 + 12,345 × $0.5 + 300 × $8, per Mtok = 0.01531 + 0.0061725 + 0.0024 = 0.0238825
      tokenBreakdown: { inputUncached: 7655, cacheRead: CACHED_TOKENS, output: 300, reasoning: 0 },
      costUsd: usd('0.0238825'),
      pricingModel: 'override:acme-cached-1',
      metadata: { requestId: 'req-rag-1', retries: 0 },
    }),
    // Nothing priced: a $0 run over two models (its cost shares are not 50/50, there are none).
    withSecondCall(
      oneCallTrace(3, 'unpriced-run', { project: PROJECT, feature: 'triage', user_id: 'u-9' }, LATER + 7_200_000, {
        provider: 'openai',
        model: 'ft:gpt-4o-mini:acme',
        costUsd: null,
        pricingModel: null,
        pricingSource: 'unpriced',
      }),
      { spanId: id(0xb, 4), model: 'mystery-1' },
    ),
  ];
}

function withSecondCall(t: FixtureTrace, patch: Partial<FixtureTrace['calls'][number]>): FixtureTrace {
  const first = t.calls[0];
  t.calls.push({ ...first, time: new Date(first.time.getTime() + 1000), latencyMs: 500, ...patch });
  return t;
}
