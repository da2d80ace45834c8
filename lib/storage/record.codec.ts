import type { CallRecord, SpanRecord } from '../core/call-record.js';

/** What the writer queues: a finished call or a finished span. */
export type TelemetryItem = { kind: 'call'; record: CallRecord } | { kind: 'span'; record: SpanRecord };

/**
 * One JSON line per item for the spool and the dead-letter file. Money (bigint) is written as a
 * decimal-free integer string of 1e-15 USD and dates as ISO strings, so a replay is bit-exact.
 */
export function encodeItem(item: TelemetryItem): string {
  return JSON.stringify(item, (key, value) => (typeof value === 'bigint' ? `${value}n` : value));
}

const BIGINT = /^-?\d+n$/;
const DATE_KEYS = new Set(['time', 'startTime', 'endTime']);

export function decodeItem(line: string): TelemetryItem {
  const item = JSON.parse(line, (key, value) => {
    if (typeof value === 'string') {
      if (key === 'costUsd' && BIGINT.test(value)) return BigInt(value.slice(0, -1));
      if (DATE_KEYS.has(key)) return new Date(value);
    }
    return value;
  }) as TelemetryItem;
  if (!item || (item.kind !== 'call' && item.kind !== 'span') || typeof item.record?.spanId !== 'string')
    throw new TypeError('Not a Kostrack telemetry line');
  return item;
}
