import type { CallRecord } from '../core/call-record.js';
import { usdToString, type Usd } from '../core/money.js';
import { jsonOf } from './record.codec.js';

/** Column order of the COPY text {@link encodeCallsCopy} produces. */
export const COPY_CALL_COLUMNS =
  'span_id, time, service_id, provider, model, operation, pricing_model, pricing_source, input_tokens, output_tokens, ' +
  'cached_tokens, cost_usd, token_breakdown, latency_ms, status, error_class, streamed, trace_id, parent_span_id, tags, metadata, ' +
  'service_tier, pricing_flags, catalog_version, attempts';

/**
 * Per (trace, service) sums of a batch, the input of the `llm_traces` rollup when every row of
 * the batch is known to be inserted (a COPY either inserts all rows or fails). Column arrays,
 * ready for unnest().
 */
export interface CallRollups {
  traceIds: string[];
  serviceIds: string[];
  costs: string[];
  calls: number[];
  unpriced: number[];
  errors: number[];
  inputTokens: number[];
  outputTokens: number[];
  cachedTokens: number[];
  firstAt: string[];
  lastAt: string[];
}

/**
 * Per (UTC hour, service, provider, model, feature, project, user) sums of a batch, the input of
 * the `llm_cost_hourly` rollup after a COPY. Column arrays, ready for unnest().
 */
export interface HourlyRollups {
  hours: string[];
  serviceIds: string[];
  providers: string[];
  models: string[];
  features: (string | null)[];
  projects: (string | null)[];
  userIds: (string | null)[];
  costs: string[];
  calls: number[];
  unpriced: number[];
  errors: number[];
  inputTokens: number[];
  outputTokens: number[];
  cachedTokens: number[];
}

export interface EncodedCalls {
  /** COPY text format, one line per call, UTF-8. */
  data: Buffer;
  rollups: CallRollups;
  hourly: HourlyRollups;
  /** The earliest and latest call time of the batch (ISO), so reads back touch only its partitions. */
  minTime: string;
  maxTime: string;
}

const HOUR_MS = 3_600_000;

/** One part of a rollup key: `~` for null, else `|<length>:<value>`. */
function keyPart(value: string | null): string {
  return value === null ? '~' : '|' + value.length + ':' + value;
}

/** Sums calls per hourly rollup key. */
class HourlySums {
  readonly out: HourlyRollups = {
    hours: [], serviceIds: [], providers: [], models: [], features: [], projects: [], userIds: [],
    costs: [], calls: [], unpriced: [], errors: [], inputTokens: [], outputTokens: [], cachedTokens: [],
  };
  private readonly index = new Map<string, number>();
  private readonly costs: Usd[] = [];

  add(c: CallRecord, timeMs: number, cost: Usd | null): void {
    const hourMs = Math.floor(timeMs / HOUR_MS) * HOUR_MS;
    const tags = c.tags as Record<string, string | undefined>;
    const feature = tags.feature ?? null;
    const project = tags.project ?? null;
    const user = tags.user_id ?? null;
    // Length-prefixed parts keep null apart from "" and cannot be confused by separators inside
    // values; cheaper than JSON.stringify of an array, once per call.
    const key = hourMs + keyPart(c.serviceId) + keyPart(c.provider) + keyPart(c.model) + keyPart(feature) + keyPart(project) + keyPart(user);
    let k = this.index.get(key);
    if (k === undefined) {
      k = this.out.hours.length;
      this.index.set(key, k);
      const o = this.out;
      o.hours.push(new Date(hourMs).toISOString());
      o.serviceIds.push(c.serviceId);
      o.providers.push(c.provider);
      o.models.push(c.model);
      o.features.push(feature);
      o.projects.push(project);
      o.userIds.push(user);
      o.calls.push(0);
      o.unpriced.push(0);
      o.errors.push(0);
      o.inputTokens.push(0);
      o.outputTokens.push(0);
      o.cachedTokens.push(0);
      this.costs.push(0n);
    }
    const o = this.out;
    if (cost !== null) this.costs[k] += cost;
    else o.unpriced[k]++;
    o.calls[k]++;
    if (c.status !== 'ok' && c.status !== 'blocked') o.errors[k]++;
    o.inputTokens[k] += c.inputTokens;
    o.outputTokens[k] += c.outputTokens;
    o.cachedTokens[k] += c.cachedTokens;
  }

  finish(): HourlyRollups {
    this.out.costs = this.costs.map(usdToString);
    return this.out;
  }
}

interface Sum {
  traceId: string;
  serviceId: string;
  index: number;
  cost: Usd;
  firstMs: number;
  lastMs: number;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** A text field in COPY text format; NUL stays as is so PostgreSQL rejects the row (a data error, dead-lettered). */
function text(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value !== 'string') value = String(value);
  return NEEDS_ESCAPE.test(value) ? value.replace(/[\\\t\n\r]/g, escapeChar) : value;
}

function escapeChar(c: string): string {
  return c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r';
}

/** JSON.stringify escapes every control character, so in COPY text only its backslashes need doubling. */
function json(value: string): string {
  return value.includes('\\') ? value.replace(/\\/g, '\\\\') : value;
}

function uuid(value: string | null | undefined): string {
  return value === null || value === undefined ? '\\N' : text(value);
}

/** Attempts are NULL when unknown: absent from records of other sinks and from spool lines older than the column. */
function attempts(value: number | null | undefined): string {
  return value === null || value === undefined ? '\\N' : int(value);
}

function int(value: number): string {
  // Non-numbers are written as they are, so PostgreSQL rejects that row alone.
  return typeof value === 'number' ? String(value) : text(String(value));
}

/**
 * JSON of tag objects, cached per object for one batch: calls of one span share their merged
 * tags object (see `RecordedCall.tags`), so a batch stringifies each one once. Tags are never
 * mutated after a call is recorded (they are `Readonly`), which makes an identity cache sound.
 * A plain Map dropped with the batch: a WeakMap costs more to fill than JSON.stringify when
 * every row has its own object, and holds nothing between batches anyway.
 */
class JsonCache {
  private lastObject: object | null = null;
  private lastJson = '{}';
  private readonly seen = new Map<object, string>();

  of(value: unknown): string {
    if (value === null || value === undefined || typeof value !== 'object') return json(jsonOf(value));
    if (value === this.lastObject) return this.lastJson;
    let cached = this.seen.get(value);
    if (cached === undefined) {
      cached = json(jsonOf(value));
      this.seen.set(value, cached);
    }
    this.lastObject = value;
    this.lastJson = cached;
    return cached;
  }
}

/**
 * The six text fields from service_id to pricing_source, escaped and joined: most calls of a
 * batch repeat the previous call's (one service, a few models), so the last one is kept.
 */
class ModelFields {
  private last: CallRecord | null = null;
  private lastText = '';

  of(c: CallRecord): string {
    const l = this.last;
    if (
      l === null || l.serviceId !== c.serviceId || l.provider !== c.provider || l.model !== c.model ||
      l.operation !== c.operation || l.pricingModel !== c.pricingModel || l.pricingSource !== c.pricingSource
    ) {
      this.lastText = text(c.serviceId) + '\t' + text(c.provider) + '\t' + text(c.model) + '\t' + text(c.operation) + '\t' +
        text(c.pricingModel) + '\t' + text(c.pricingSource);
    }
    this.last = c;
    return this.lastText;
  }
}

/**
 * The batch's COPY payload, written line by line into one growing buffer. A line built with `+`
 * is a rope of some fifty pieces; joining thousands of them into one string and encoding that
 * cost five times as much as flattening each line into the buffer while it is small (measured
 * on 100k calls), and made a second copy of the batch for the garbage collector.
 */
class CopyBuffer {
  private buffer: Buffer;
  private length = 0;

  constructor(rows: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(rows, 1) * 512);
  }

  line(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    const most = text.length * 3;
    if (this.length + most > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + most));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length);
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Encodes calls as COPY text and sums them per (trace, service) for the rollup, in one pass.
 * Throws on a row that cannot be encoded (an invalid date, a non-bigint cost); the writer then
 * bisects the batch down to it like a row PostgreSQL rejected.
 */
export function encodeCallsCopy(calls: readonly CallRecord[]): EncodedCalls {
  const out = new CopyBuffer(calls.length);
  const who = new ModelFields();
  const rollups: CallRollups = {
    traceIds: [], serviceIds: [], costs: [], calls: [], unpriced: [], errors: [],
    inputTokens: [], outputTokens: [], cachedTokens: [], firstAt: [], lastAt: [],
  };
  const sums = new Map<string, Map<string, Sum>>();
  const all: Sum[] = [];
  let last: Sum | undefined;
  const tags = new JsonCache();
  const metadata = new JsonCache();
  const hourly = new HourlySums();
  let minMs = Infinity;
  let maxMs = -Infinity;
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    const date = c.time;
    const timeMs = date.getTime();
    const time = date.toISOString();
    const latency = Math.round(c.latencyMs);
    const cost = c.costUsd === null || c.costUsd === undefined ? null : c.costUsd;
    if (timeMs < minMs) minMs = timeMs;
    if (timeMs > maxMs) maxMs = timeMs;
    out.line(
      uuid(c.spanId) + '\t' + time + '\t' + who.of(c) + '\t' + int(c.inputTokens) + '\t' +
      int(c.outputTokens) + '\t' + int(c.cachedTokens) + '\t' + (cost === null ? '\\N' : usdToString(cost)) + '\t' +
      json(jsonOf(c.tokenBreakdown)) + '\t' + int(latency) + '\t' + text(c.status) + '\t' + text(c.errorClass) + '\t' +
      (c.streamed ? 't' : 'f') + '\t' + uuid(c.traceId) + '\t' + uuid(c.parentSpanId) + '\t' + tags.of(c.tags) + '\t' +
      metadata.of(c.metadata) + '\t' + text(c.serviceTier ?? null) + '\t' + (c.pricingFlags ? json(jsonOf(c.pricingFlags)) : '\\N') + '\t' +
      text(c.catalogVersion ?? null) + '\t' + attempts(c.attempts) + '\n',
    );
    hourly.add(c, timeMs, cost);
    if (c.traceId === null || c.traceId === undefined) continue;
    // Calls of one trace usually sit next to each other; only a change of trace needs a lookup.
    let sum: Sum | undefined = last && last.traceId === c.traceId && last.serviceId === c.serviceId ? last : undefined;
    if (!sum) {
      let byService = sums.get(c.traceId);
      if (!byService) sums.set(c.traceId, (byService = new Map()));
      sum = byService.get(c.serviceId);
      if (!sum) {
        sum = { traceId: c.traceId, serviceId: c.serviceId, index: rollups.traceIds.length, cost: 0n, firstMs: timeMs, lastMs: timeMs + latency };
        byService.set(c.serviceId, sum);
        all.push(sum);
        rollups.traceIds.push(c.traceId);
        rollups.serviceIds.push(c.serviceId);
        rollups.calls.push(0);
        rollups.unpriced.push(0);
        rollups.errors.push(0);
        rollups.inputTokens.push(0);
        rollups.outputTokens.push(0);
        rollups.cachedTokens.push(0);
      }
      last = sum;
    }
    const k = sum.index;
    if (cost !== null) sum.cost += cost;
    else rollups.unpriced[k]++;
    rollups.calls[k]++;
    if (c.status !== 'ok' && c.status !== 'blocked') rollups.errors[k]++;
    rollups.inputTokens[k] += c.inputTokens;
    rollups.outputTokens[k] += c.outputTokens;
    rollups.cachedTokens[k] += c.cachedTokens;
    if (timeMs < sum.firstMs) sum.firstMs = timeMs;
    if (timeMs + latency > sum.lastMs) sum.lastMs = timeMs + latency;
  }
  for (const sum of all) {
    rollups.costs[sum.index] = usdToString(sum.cost);
    rollups.firstAt[sum.index] = new Date(sum.firstMs).toISOString();
    rollups.lastAt[sum.index] = new Date(sum.lastMs).toISOString();
  }
  return {
    data: out.bytes(),
    rollups,
    hourly: hourly.finish(),
    minTime: calls.length ? new Date(minMs).toISOString() : new Date(0).toISOString(),
    maxTime: calls.length ? new Date(maxMs).toISOString() : new Date(0).toISOString(),
  };
}
