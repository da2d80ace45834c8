import type { CallInput, CallStatus, TokenBreakdown } from '../../../lib/core/call-record.js';
import { recordCall } from '../../../lib/core/record-call.js';
import { span, trace } from '../../../lib/core/trace.js';
import type { PriceBook } from '../../../lib/pricing/price-book.js';

/**
 * Calls as the providers record them, written through `trace()`/`span()`/`recordCall()` (so the
 * writer fills every rollup as in production), priced at record time by `book`. The mix covers
 * every way a call is priced: the model whose price gets corrected (with cache reads, a flex tier,
 * errors), another provider, batch results, a model with no price yet, and calls whose cost is not
 * a price (blocked, not billed, no usage).
 */
export const CORRECTED = { provider: 'openai', model: 'gpt-4o-mini' } as const;
export const UNPRICED = { provider: 'openai', model: 'ft:gpt-4o-mini:acme' } as const;
export const FEATURES = ['invoices', 'chat', 'search', 'close', 'ocr'] as const;
/** A usage note the Anthropic reader writes; a re-price must keep it. */
export const FAST_NOTE = 'speed "fast" is billed at a premium; priced at the standard rate';
/** A usage note the OpenAI Responses reader writes. */
export const TOOL_NOTE = '1 code_interpreter_call not billed (no per-call price)';

export interface DatasetOptions {
  traces: number;
  callsPerTrace: number;
  /** The first call's time; calls follow `stepMs` apart. */
  start: Date;
  stepMs: number;
  book: PriceBook;
  /** Varies ids and tags between datasets written into one schema. */
  seed?: number;
  /** Tags every call gets (on top of feature and user_id). */
  tags?: Record<string, string>;
  /** Continue these traces (a second writer adding to existing traces) instead of opening new ones. */
  traceIds?: readonly string[];
}

interface Kind {
  provider: string;
  model: string;
  tokens: TokenBreakdown;
  input: number;
  output: number;
  cached: number;
  status: CallStatus;
  batch?: boolean;
  tier?: string;
  notes?: string[];
  /** The cost is not a price: recorded as the provider path records these. */
  fixed?: 'blocked' | 'not-billed' | 'no-usage';
}

/** The kind of call `i` is, cycling through a mix of 100. */
function kindOf(i: number): Kind {
  const n = i % 100;
  const small = (i % 7) * 13;
  if (n < 30) return { ...CORRECTED, tokens: { inputUncached: 900 + small, output: 250 + (i % 11) }, input: 900 + small, output: 250 + (i % 11), cached: 0, status: 'ok' };
  if (n < 40) {
    // Cache reads: the corrected price has no cache-read rate, so they get billed at input and flagged.
    return { ...CORRECTED, tokens: { inputUncached: 400, cacheRead: 600 + small, output: 120 }, input: 1000 + small, output: 120, cached: 600 + small, status: 'ok', notes: [TOOL_NOTE] };
  }
  if (n < 45) return { ...CORRECTED, tokens: { inputUncached: 800, output: 90, reasoning: 30 }, input: 800, output: 120, cached: 0, status: 'ok', tier: 'flex' };
  if (n < 48) return { ...CORRECTED, tokens: { inputUncached: 700, output: 20 }, input: 700, output: 20, cached: 0, status: 'error' };
  if (n < 53) return { ...CORRECTED, tokens: { inputUncached: 2000 + small, output: 500 }, input: 2000 + small, output: 500, cached: 0, status: 'ok', batch: true, tier: 'batch' };
  if (n < 60) return { ...UNPRICED, tokens: { inputUncached: 1500, output: 300 }, input: 1500, output: 300, cached: 0, status: 'ok' };
  if (n < 85) {
    const fast = n < 65;
    return {
      provider: 'anthropic',
      model: 'claude-haiku-4-5-20251001',
      tokens: { inputUncached: 1000 + small, cacheRead: 200, output: 300 },
      input: 1200 + small,
      output: 300,
      cached: 200,
      status: 'ok',
      ...(fast ? { notes: [FAST_NOTE] } : {}),
    };
  }
  if (n < 90) return { ...CORRECTED, tokens: { inputUncached: 5000 }, input: 5000, output: 0, cached: 0, status: 'aborted' };
  if (n < 94) return { ...CORRECTED, tokens: {}, input: 0, output: 0, cached: 0, status: 'blocked', fixed: 'blocked' };
  if (n < 97) return { ...CORRECTED, tokens: {}, input: 0, output: 0, cached: 0, status: 'error', fixed: 'not-billed' };
  return { ...CORRECTED, tokens: {}, input: 0, output: 0, cached: 0, status: 'ok', fixed: 'no-usage' };
}

/** The call a provider wrapper would record for call `i` made at `time`. */
export function callOf(i: number, time: Date, book: PriceBook): CallInput {
  const k = kindOf(i);
  const base = {
    provider: k.provider,
    model: k.model,
    operation: k.provider === 'anthropic' ? 'messages.create' : 'chat.completions.create',
    inputTokens: k.input,
    outputTokens: k.output,
    cachedTokens: k.cached,
    tokenBreakdown: k.tokens,
    latencyMs: 300 + (i % 500),
    status: k.status,
    streamed: i % 3 === 0,
    time,
    ...(k.status === 'error' ? { errorClass: 'RateLimitError' } : {}),
  };
  if (k.fixed === 'blocked') return { ...base, costUsd: 0n, pricingModel: null, pricingSource: 'blocked' };
  if (k.fixed === 'not-billed') return { ...base, costUsd: 0n, pricingModel: null, pricingSource: 'not-billed' };
  if (k.fixed === 'no-usage') return { ...base, costUsd: null, pricingModel: null, pricingSource: 'no-usage' };
  const priced = book.price(k.provider, k.model, k.tokens, k.input, { timeMs: time.getTime(), batch: k.batch, serviceTier: k.tier });
  return {
    ...base,
    costUsd: priced.costUsd,
    pricingModel: priced.pricingModel,
    pricingSource: priced.pricingSource,
    pricingFlags: k.notes ? [...k.notes, ...(priced.flags ?? [])] : priced.flags,
    serviceTier: k.tier ?? null,
    catalogVersion: priced.catalogVersion,
  };
}

/**
 * Writes `traces` traces of `callsPerTrace` calls each: a third in the root, the rest in a span
 * `plan` and in `step`, nested in `work` (so a call's cost is in its span and that span's parent).
 * Returns the trace ids. The caller drains the writer.
 */
export function writeDataset(o: DatasetOptions): string[] {
  const ids: string[] = [];
  const seed = o.seed ?? 0;
  let i = 0;
  const next = () => {
    const call = callOf(i + seed, new Date(o.start.getTime() + i * o.stepMs), o.book);
    i++;
    return call;
  };
  for (let t = 0; t < o.traces; t++) {
    const user = `u-${(t + seed) % 50}`;
    const tags = { feature: FEATURES[(t + seed) % FEATURES.length], user_id: user, ...o.tags };
    const per = o.callsPerTrace;
    const root = Math.ceil(per / 3);
    const plan = Math.ceil((per - root) / 2);
    const body = () => {
      for (let c = 0; c < root; c++) recordCall(next());
      span('plan', () => {
        for (let c = 0; c < plan; c++) recordCall(next());
      });
      span('work', () =>
        span('step', { tags: { step: 'extract' } }, () => {
          for (let c = root + plan; c < per; c++) recordCall(next());
        }),
      );
    };
    const existing = o.traceIds?.[t % o.traceIds.length];
    const ctx = trace(existing ? { name: 'more', tags, traceId: existing } : { name: `run-${t}`, tags }, (x) => {
      body();
      return x;
    });
    ids.push(ctx.traceId);
  }
  return ids;
}
