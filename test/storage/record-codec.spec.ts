import { expect, it } from 'vitest';
import { recordCall } from '../../lib/core/record-call.js';
import { usd } from '../../lib/core/money.js';
import { span, trace } from '../../lib/core/trace.js';
import { callColumns } from '../../lib/storage/batch.sql.js';
import { encodeCallsCopy } from '../../lib/storage/calls.copy.js';
import { decodeItem, encodeItem } from '../../lib/storage/record.codec.js';
import { syntheticCall } from './support/synthetic.js';

it('a spooled call decodes to the same row: money, dates, merged tags', () => {
  const call = trace({ name: 'codec', tags: { feature: 'spool' } }, () =>
    span('inner', () => recordCall(syntheticCall({ costUsd: usd('0.000000000000001'), tags: { q: 'a"b\\c\n' }, metadata: { route: '/x' } }))!),
  );
  const decoded = decodeItem(encodeItem({ kind: 'call', record: call }));
  expect(decoded.kind).toBe('call');
  const r = decoded.record as typeof call;
  expect(r.costUsd).toBe(1n);
  expect(r.time).toEqual(call.time);
  expect(r.tags).toEqual({ feature: 'spool', span_name: 'inner', q: 'a"b\\c\n' });
  for (const key of ['spanId', 'traceId', 'parentSpanId', 'serviceId', 'provider', 'model', 'operation', 'inputTokens', 'outputTokens',
    'cachedTokens', 'tokenBreakdown', 'pricingModel', 'pricingSource', 'latencyMs', 'status', 'errorClass', 'streamed', 'metadata'] as const)
    expect(r[key], key).toEqual(call[key]);
});

it('an unpriced call and a bigint in metadata still encode', () => {
  const unpriced = recordCall(syntheticCall({ costUsd: null }), null)!;
  expect((decodeItem(encodeItem({ kind: 'call', record: unpriced })).record as typeof unpriced).costUsd).toBeNull();
  const odd = recordCall(syntheticCall({ metadata: { size: 5n } }), null)!;
  const line = encodeItem({ kind: 'call', record: odd });
  expect(JSON.parse(line).record.metadata).toEqual({ size: '5n' });
  expect((decodeItem(line).record as typeof odd).costUsd).toBe(odd.costUsd);
});

it('keeps tag and metadata keys named like record fields as the strings they are', () => {
  const call = trace({ tags: { time: 'morning', endTime: '2024-01-01', costUsd: '5n' } }, () =>
    recordCall(syntheticCall({ metadata: { request: { time: 'noon', startTime: '2024-01-01' } } }))!,
  );
  const r = decodeItem(encodeItem({ kind: 'call', record: call })).record as typeof call;
  expect(r.tags).toEqual({ time: 'morning', endTime: '2024-01-01', costUsd: '5n', span_name: 'trace' });
  expect(r.metadata).toEqual({ request: { time: 'noon', startTime: '2024-01-01' } });
  expect(r.time).toEqual(call.time);
  expect(r.costUsd).toBe(call.costUsd);
});

it('attempts survive the spool; a line written before the field existed replays as unknown (NULL)', () => {
  const retried = recordCall(syntheticCall({ attempts: 3 }), null)!;
  expect((decodeItem(encodeItem({ kind: 'call', record: retried })).record as typeof retried).attempts).toBe(3);
  const line = JSON.parse(encodeItem({ kind: 'call', record: retried }));
  delete line.record.attempts;
  const old = decodeItem(JSON.stringify(line)).record as typeof retried;
  expect(old.attempts).toBeUndefined();
  // Both write paths store it as NULL: the last COPY field is \N, the last call column null.
  expect(encodeCallsCopy([old]).data.toString('utf8').trimEnd().split('\t').at(-1)).toBe('\\N');
  expect(callColumns([old]).at(-1)).toEqual([null]);
  expect(encodeCallsCopy([retried]).data.toString('utf8').trimEnd().split('\t').at(-1)).toBe('3');
});

it('the COPY payload grows past its first guess and keeps multi-byte text whole, one line per call', () => {
  // 512 bytes a row is the first guess; 3,000 characters of 3 to 4 UTF-8 bytes each are far past it.
  const long = '€'.repeat(1500) + '🙂'.repeat(750);
  const calls = [0, 1, 2].map((i) => recordCall(syntheticCall({ tags: { note: `${i}:${long}` } }), null)!);
  const text = encodeCallsCopy(calls).data.toString('utf8');
  const lines = text.split('\n');
  expect(lines).toHaveLength(4);
  expect(lines[3]).toBe('');
  lines.slice(0, 3).forEach((line, i) => {
    const fields = line.split('\t');
    expect(fields).toHaveLength(25);
    expect(fields[0]).toBe(calls[i].spanId);
    expect(JSON.parse(fields[19]).note).toBe(`${i}:${long}`);
  });
});
