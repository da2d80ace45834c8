import type { CallRecord, SpanRecord } from '../core/call-record.js';

/** What the writer queues: a finished call or a finished span. */
export type TelemetryItem = { kind: 'call'; record: CallRecord } | { kind: 'span'; record: SpanRecord };

/**
 * One JSON line per item for the spool and the dead-letter file. Money (bigint) is written as a
 * decimal-free integer string of 1e-15 USD and dates as ISO strings, so a replay is bit-exact.
 */
export function encodeItem(item: TelemetryItem): string {
  if (item.kind === 'call') return encodeCall(item.record);
  return genericLine(item);
}

/**
 * JSON of a tags, metadata or token-breakdown object for a `jsonb` column. Metadata comes from
 * user hooks and may hold what JSON cannot: a bigint (a database id) is written as its decimal
 * string; anything else unrepresentable (a cycle) is replaced by a note saying why, so the call's
 * cost is still stored rather than the whole row refused for its metadata.
 */
export function jsonOf(value: unknown): string {
  if (value === null || value === undefined) return '{}';
  try {
    // Without a replacer first: it is called per key, and this runs for every row.
    return JSON.stringify(value) ?? '{}';
  } catch {
    try {
      return JSON.stringify(value, bigintAsString) ?? '{}';
    } catch (e) {
      return JSON.stringify(unstorable(e));
    }
  }
}

function unstorable(e: unknown): Record<string, string> {
  return { kostrack_unstorable: `not JSON: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`.slice(0, 200) };
}

function bigintAsString(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function genericLine(item: TelemetryItem): string {
  return JSON.stringify(item, (key, value) => (typeof value === 'bigint' ? `${value}n` : value));
}

/**
 * The spool's hot path (every call past the memory bound): the same line as the generic
 * encoding, built from a plain object so JSON.stringify needs no replacer call per key and the
 * record's toJSON() copy is skipped. Less garbage per call is what keeps memory flat while the
 * database is down.
 */
export function encodeCall(c: CallRecord): string {
  try {
    return callLine(c);
  } catch {
    try {
      // A bigint somewhere in metadata: the generic encoding writes it like costUsd.
      return genericLine({ kind: 'call', record: c });
    } catch (e) {
      // Metadata JSON cannot hold at all: the row is kept with a note instead (as jsonOf does).
      return callLine({ ...queuedCall(c), metadata: unstorable(e) });
    }
  }
}

function callLine(c: CallRecord): string {
  const cost = c.costUsd;
  return JSON.stringify({
    kind: 'call',
    record: {
      provider: c.provider, model: c.model, operation: c.operation, inputTokens: c.inputTokens, outputTokens: c.outputTokens,
      cachedTokens: c.cachedTokens, tokenBreakdown: c.tokenBreakdown, costUsd: typeof cost === 'bigint' ? `${cost}n` : cost,
      pricingModel: c.pricingModel, pricingSource: c.pricingSource, latencyMs: c.latencyMs, status: c.status, errorClass: c.errorClass,
      streamed: c.streamed, spanId: c.spanId, traceId: c.traceId, parentSpanId: c.parentSpanId, serviceId: c.serviceId,
      metadata: c.metadata, time: c.time, tags: c.tags, pricingFlags: c.pricingFlags ?? null, serviceTier: c.serviceTier ?? null,
      catalogVersion: c.catalogVersion ?? null, attempts: c.attempts ?? null, ...(c.keyed ? { keyed: true } : {}),
    },
  });
}

const BIGINT = /^-?\d+n$/;
const DATE_KEYS = ['time', 'startTime', 'endTime'] as const;

/**
 * Only the record's own fields are revived: a reviver would also turn a tag or metadata key that
 * happens to be called `time` or `costUsd` into a Date or a bigint.
 */
export function decodeItem(line: string): TelemetryItem {
  const item = JSON.parse(line) as TelemetryItem;
  if (!item || (item.kind !== 'call' && item.kind !== 'span') || typeof item.record?.spanId !== 'string')
    throw new TypeError('Not a Kostrack telemetry line');
  const record = item.record as unknown as Record<string, unknown>;
  if (typeof record.costUsd === 'string' && BIGINT.test(record.costUsd)) record.costUsd = BigInt(record.costUsd.slice(0, -1));
  for (const key of DATE_KEYS) {
    if (!(key in record)) continue;
    // An invalid Date is spooled as null; a line that cannot become a row is refused here, with
    // its reason, rather than failing every replay of its batch.
    const date = typeof record[key] === 'string' ? new Date(record[key] as string) : null;
    if (date === null || Number.isNaN(date.getTime())) throw new TypeError(`the ${item.kind}'s ${key} is not a valid date (${JSON.stringify(record[key])})`);
    record[key] = date;
  }
  return item;
}

/**
 * The row's fields alone, for the in-memory queue. A `RecordedCall` also keeps its TraceContext
 * (and through it the span's ancestors) and every tag layer; the queue should hold only the row.
 * Allocating queued rows here, apart from where records are made, also keeps V8 from
 * "pretenuring" records: once the rows that fill the queue survive young collections, V8 starts
 * allocating every object of that site in the old generation, so the calls that are only spooled
 * (the database down) became old garbage, and memory grew by 100 MB and more before a full GC.
 */
export function queuedCall(c: CallRecord): CallRecord {
  return {
    provider: c.provider, model: c.model, operation: c.operation, inputTokens: c.inputTokens, outputTokens: c.outputTokens,
    cachedTokens: c.cachedTokens, tokenBreakdown: c.tokenBreakdown, costUsd: c.costUsd, pricingModel: c.pricingModel,
    pricingSource: c.pricingSource, latencyMs: c.latencyMs, status: c.status, errorClass: c.errorClass, streamed: c.streamed,
    spanId: c.spanId, traceId: c.traceId, parentSpanId: c.parentSpanId, serviceId: c.serviceId, metadata: c.metadata,
    time: c.time, tags: c.tags, pricingFlags: c.pricingFlags ?? null, serviceTier: c.serviceTier ?? null, catalogVersion: c.catalogVersion ?? null,
    attempts: c.attempts ?? null, keyed: c.keyed === true,
  };
}
