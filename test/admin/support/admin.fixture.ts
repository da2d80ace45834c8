import type { CallRecord, SpanRecord } from '../../../lib/core/call-record.js';
import { usd, usdToString, type Usd } from '../../../lib/core/money.js';

/**
 * A fixed data set written through the real BatchWriter, with every time and cost chosen, and
 * the same data kept here as plain objects: the tests compute what the API must answer from
 * these objects (in JS, with bigint money), independently of the SQL under test.
 */
export const BASE = Date.parse('2026-11-02T10:00:00.000Z');
export const at = (ms: number) => new Date(BASE + ms);
export const PROJECT = 'openmanagr';

export function id(kind: number, n: number): string {
  return `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export interface FixtureTrace {
  traceId: string;
  name: string;
  tags: Record<string, string>;
  serviceId: string;
  start: Date;
  end: Date;
  spans: SpanRecord[];
  calls: CallRecord[];
}

interface CallSpec {
  at: number;
  cost: string | null;
  provider?: string;
  model?: string;
  parent?: string | null;
  status?: 'ok' | 'error';
  latency?: number;
  inputTokens?: number;
  outputTokens?: number;
  /** HTTP attempts the SDK made; absent: unknown (NULL). */
  attempts?: number;
}

let callSeq = 0;

function call(trace: { traceId: string; tags: Record<string, string>; serviceId: string }, spanName: string, spec: CallSpec): CallRecord {
  const input = spec.inputTokens ?? 100;
  const output = spec.outputTokens ?? 20;
  return {
    spanId: id(0xc, ++callSeq),
    traceId: trace.traceId,
    parentSpanId: spec.parent ?? null,
    time: at(spec.at),
    serviceId: trace.serviceId,
    provider: spec.provider ?? 'anthropic',
    model: spec.model ?? 'claude-haiku-4-5',
    operation: 'messages.create',
    inputTokens: input,
    outputTokens: output,
    cachedTokens: 0,
    tokenBreakdown: { inputUncached: input, output },
    costUsd: spec.cost === null ? null : usd(spec.cost),
    pricingModel: spec.cost === null ? null : 'test',
    pricingSource: spec.cost === null ? 'unpriced' : 'override',
    latencyMs: spec.latency ?? 100,
    status: spec.status ?? 'ok',
    errorClass: spec.status === 'error' ? 'RateLimitError' : null,
    streamed: false,
    tags: { ...trace.tags, span_name: spanName },
    metadata: {},
    ...(spec.attempts !== undefined ? { attempts: spec.attempts } : {}),
  };
}

function span(trace: FixtureTrace, spanId: string, name: string, parent: string | null, from: number, to: number, isRoot = false): SpanRecord {
  return {
    traceId: trace.traceId,
    spanId,
    parentSpanId: parent,
    isRoot,
    name,
    tags: trace.tags,
    serviceId: trace.serviceId,
    startTime: at(from),
    endTime: at(to),
    status: 'ok',
    errorClass: null,
    costUsd: 0n,
    callCount: 0,
  };
}

/** The showcase trace: 4 named spans (one nested), 8 calls, one unpriced, one failed after 3 attempts of its SDK, one with 1 attempt, the rest unknown. */
export function invoiceTrace(): FixtureTrace {
  const t: FixtureTrace = {
    traceId: id(0x7, 1),
    name: 'invoice-pipeline',
    tags: { project: PROJECT, feature: 'invoice-pipeline', user_id: 'u-42', team: 'ap' },
    serviceId: 'billing-api',
    start: at(0),
    end: at(10_000),
    spans: [],
    calls: [],
  };
  const root = id(0x5, 1);
  const validate = id(0x5, 2);
  const classify = id(0x5, 3);
  const retry = id(0x5, 4);
  const post = id(0x5, 5);
  t.spans = [
    span(t, root, 'invoice-pipeline', null, 0, 10_000, true),
    span(t, validate, 'validate', root, 1000, 3000),
    span(t, classify, 'classify', root, 3000, 6000),
    span(t, retry, 'classify-retry', classify, 4000, 6000),
    span(t, post, 'post', root, 6000, 9000),
  ];
  const gpt = { provider: 'openai', model: 'gpt-4o-mini' };
  t.calls = [
    call(t, 'invoice-pipeline', { at: 500, cost: '0.000123456789012', attempts: 1 }),
    call(t, 'validate', { at: 1100, cost: '0.0011', parent: validate }),
    call(t, 'validate', { at: 2000, cost: '0.0022', parent: validate }),
    call(t, 'classify', { at: 3100, cost: '0.000045', parent: classify, ...gpt }),
    call(t, 'classify-retry', { at: 4100, cost: '0.000055', parent: retry, status: 'error', ...gpt, attempts: 3 }),
    call(t, 'classify-retry', { at: 5000, cost: null, parent: retry, provider: 'openai', model: 'ft:gpt-4o-mini:acme' }),
    call(t, 'post', { at: 6100, cost: '0.003', parent: post }),
    call(t, 'post', { at: 8000, cost: '0.000000000000001', parent: post, latency: 1000 }),
  ];
  return t;
}

const MODELS = [
  { provider: 'openai', model: 'gpt-4o-mini' },
  { provider: 'anthropic', model: 'claude-haiku-4-5' },
  { provider: 'gemini', model: 'gemini-2.5-flash' },
];

/**
 * 60 one-span traces over three days: costs repeat every 10 traces and start times repeat in
 * pairs, so both sorts have ties the keyset must break by trace id.
 */
export function bulkTraces(): FixtureTrace[] {
  const out: FixtureTrace[] = [];
  for (let n = 0; n < 60; n++) {
    const startMs = 86_400_000 + Math.floor(n / 2) * 3_600_000; // from day 2, pairs share an hour
    const t: FixtureTrace = {
      traceId: id(0x8, 1000 - n), // id order opposite to n, so ties do not follow insertion order
      name: `bulk-${n}`,
      tags: { project: n % 7 === 0 ? 'other' : PROJECT, feature: n % 3 === 0 ? 'search' : 'chat', user_id: `u-${n % 5}`, team: n % 2 ? 'ap' : 'ar' },
      serviceId: n % 4 === 0 ? 'worker' : 'web',
      start: at(startMs),
      end: at(startMs + 2000),
      spans: [],
      calls: [],
    };
    t.spans = [span(t, id(0x6, n + 1), t.name, null, startMs, startMs + 2000, true)];
    const m1 = MODELS[n % 3];
    const m2 = MODELS[(n + 1) % 3];
    t.calls = [call(t, t.name, { at: startMs + 100, cost: `0.00${n % 10}1`, ...m1 })];
    if (n % 2 === 0) t.calls.push(call(t, t.name, { at: startMs + 900, cost: '0.0005', ...m2, inputTokens: 50, outputTokens: 5 }));
    out.push(t);
  }
  return out;
}

export function totalOf(t: FixtureTrace): Usd {
  return t.calls.reduce((s, c) => s + (c.costUsd ?? 0n), 0n);
}

export const money = (u: Usd) => usdToString(u);
