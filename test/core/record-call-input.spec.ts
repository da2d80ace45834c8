import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallInput, CallRecord } from '../../lib/core/call-record.js';
import { runtime } from '../../lib/core/runtime.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

const MAX = 2_147_483_647;

describe('recordCall() with numbers storage cannot hold', () => {
  const sink = useMemorySink();
  const warnings: string[] = [];
  const originalWarn = runtime.warn;
  let recordCall: (input: CallInput) => CallRecord | null;

  beforeEach(async () => {
    // A fresh copy of the module per test: corrections are warned once per kind per process, and
    // each test here checks its own first warning.
    vi.resetModules();
    ({ recordCall } = await import('../../lib/core/record-call.js'));
    warnings.length = 0;
    runtime.warn = (m) => warnings.push(m);
  });
  afterEach(() => {
    runtime.warn = originalWarn;
  });

  const only = (): CallRecord => {
    expect(sink.calls).toHaveLength(1);
    return sink.calls[0];
  };

  it('an Invalid Date falls back to now minus the latency, noted and warned', () => {
    const before = Date.now();
    const returned = recordCall(callInput('0.01', { time: new Date('not a date'), latencyMs: 40 }));
    const after = Date.now();
    const row = only();
    expect(returned).toBe(row);
    expect(row.time).toBeInstanceOf(Date);
    expect(row.time.getTime()).toBeGreaterThanOrEqual(before - 40);
    expect(row.time.getTime()).toBeLessThanOrEqual(after - 40);
    expect(row.latencyMs).toBe(40);
    expect(row.metadata).toEqual({ input_issues: ['time: an Invalid Date; stored now minus latencyMs'] });
    expect(warnings).toEqual([
      "Kostrack corrected a recorded call's time: an Invalid Date; stored now minus latencyMs (later corrections of time are noted only in metadata.input_issues)",
    ]);
  });

  it('a time that is not a Date falls back the same way', () => {
    const before = Date.now();
    recordCall(callInput('0.01', { time: '2026-01-01T00:00:00Z' as unknown as Date, latencyMs: 0 }));
    const after = Date.now();
    const row = only();
    expect(row.time.getTime()).toBeGreaterThanOrEqual(before);
    expect(row.time.getTime()).toBeLessThanOrEqual(after);
    expect(row.metadata.input_issues).toEqual(['time: not a Date (string); stored now minus latencyMs']);
    expect(warnings).toHaveLength(1);
  });

  it('a NaN latency is stored as 0 and the time is taken as now', () => {
    const before = Date.now();
    recordCall(callInput('0.01', { latencyMs: NaN }));
    const after = Date.now();
    const row = only();
    expect(row.latencyMs).toBe(0);
    expect(row.time.getTime()).toBeGreaterThanOrEqual(before);
    expect(row.time.getTime()).toBeLessThanOrEqual(after);
    expect(row.metadata).toEqual({ input_issues: ['latencyMs: NaN; stored 0'] });
    expect(warnings).toEqual([
      "Kostrack corrected a recorded call's latencyMs: NaN; stored 0 (later corrections of latencyMs are noted only in metadata.input_issues)",
    ]);
  });

  it('a 3e9 input token count is clamped to the column maximum; the rest of the row is untouched', () => {
    const time = new Date('2026-03-04T05:06:07.089Z');
    recordCall(callInput('0.01', { inputTokens: 3e9, time, metadata: { request_model: 'claude-x' } }));
    const row = only();
    expect([row.inputTokens, row.outputTokens, row.cachedTokens, row.latencyMs]).toEqual([MAX, 20, 0, 5]);
    expect(row.time.toISOString()).toBe('2026-03-04T05:06:07.089Z');
    expect(row.tokenBreakdown).toEqual({ inputUncached: 100, output: 20 });
    expect(row.metadata).toEqual({ request_model: 'claude-x', input_issues: ['inputTokens: 3000000000 is over 2147483647; stored 2147483647'] });
    expect(warnings).toEqual([
      "Kostrack corrected a recorded call's inputTokens: 3000000000 is over 2147483647; stored 2147483647 (later corrections of inputTokens are noted only in metadata.input_issues)",
    ]);
  });

  it('negative, fractional, non-number and infinite values: every one noted, each kind warned once', () => {
    recordCall(callInput('0.01', { inputTokens: -5, outputTokens: 2.5, cachedTokens: 7n as unknown as number, latencyMs: Infinity }));
    recordCall(callInput('0.02', { inputTokens: 2 ** 31, outputTokens: '9' as unknown as number, latencyMs: -1, time: null as unknown as Date }));
    const [a, b] = sink.calls;
    expect([a.inputTokens, a.outputTokens, a.cachedTokens, a.latencyMs]).toEqual([0, 3, 0, MAX]);
    expect(a.metadata.input_issues).toEqual([
      'inputTokens: -5 is negative; stored 0',
      'outputTokens: 2.5 is not an integer; stored 3',
      'cachedTokens: not a number (bigint); stored 0',
      'latencyMs: Infinity is over 2147483647; stored 2147483647',
    ]);
    expect([b.inputTokens, b.outputTokens, b.cachedTokens, b.latencyMs]).toEqual([MAX, 0, 0, 0]);
    // A null time is an absent one (the documented default), not a correction.
    expect(b.metadata.input_issues).toEqual([
      'inputTokens: 2147483648 is over 2147483647; stored 2147483647',
      'outputTokens: not a number (string); stored 0',
      'latencyMs: -1 is negative; stored 0',
    ]);
    expect(warnings.map((w) => w.slice(0, w.indexOf(':')))).toEqual([
      "Kostrack corrected a recorded call's inputTokens",
      "Kostrack corrected a recorded call's outputTokens",
      "Kostrack corrected a recorded call's cachedTokens",
      "Kostrack corrected a recorded call's latencyMs",
    ]);
  });

  it('a sound input is taken as it is: the largest storable values, its own metadata object, no warning', () => {
    const metadata = { request: { temperature: 0 } };
    const time = new Date('2026-01-02T03:04:05.000Z');
    recordCall(callInput('0.01', { inputTokens: MAX, outputTokens: 0, cachedTokens: MAX, latencyMs: 1234.567, time, metadata }));
    const row = only();
    expect([row.inputTokens, row.outputTokens, row.cachedTokens, row.latencyMs]).toEqual([MAX, 0, MAX, 1234.567]);
    expect(row.metadata).toBe(metadata);
    expect(row.time.getTime()).toBe(time.getTime());
    expect(warnings).toEqual([]);
  });

  it('never throws, whatever the numbers', () => {
    const weird = [Symbol('x'), {}, [], () => 1, Number.MIN_VALUE, -Infinity];
    for (const v of weird) {
      expect(() => recordCall(callInput('0.01', { inputTokens: v as never, latencyMs: v as never, time: v as never }))).not.toThrow();
    }
    expect(sink.calls).toHaveLength(weird.length);
    for (const row of sink.calls) {
      expect(Number.isInteger(row.inputTokens) && row.inputTokens >= 0 && row.inputTokens <= MAX).toBe(true);
      expect(row.latencyMs >= 0 && row.latencyMs <= MAX).toBe(true);
      expect(Number.isNaN(row.time.getTime())).toBe(false);
    }
    expect(sink.calls.map((c) => c.inputTokens)).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('attempts: a whole number from 1 to 32,767 is kept; absent or null is unknown; no warning', () => {
    for (const attempts of [1, 3, 32_767, undefined, null]) recordCall(callInput('0.01', { attempts }));
    expect(sink.calls.map((c) => c.attempts)).toEqual([1, 3, 32_767, null, null]);
    expect(sink.calls.every((c) => c.metadata.input_issues === undefined)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('attempts that are not a count are stored NULL (unknown, never a guess), each one named in input_issues, warned once', () => {
    const bad: unknown[] = [0, -1, 2.5, 32_768, NaN, Infinity, '3', 2n];
    for (const attempts of bad) recordCall(callInput('0.01', { attempts: attempts as number }));
    expect(sink.calls.map((c) => c.attempts)).toEqual(bad.map(() => null));
    expect(sink.calls.map((c) => c.metadata.input_issues)).toEqual([
      ['attempts: 0 is not a whole number from 1 to 32767; stored NULL (unknown)'],
      ['attempts: -1 is not a whole number from 1 to 32767; stored NULL (unknown)'],
      ['attempts: 2.5 is not a whole number from 1 to 32767; stored NULL (unknown)'],
      ['attempts: 32768 is not a whole number from 1 to 32767; stored NULL (unknown)'],
      ['attempts: NaN is not a whole number from 1 to 32767; stored NULL (unknown)'],
      ['attempts: Infinity is not a whole number from 1 to 32767; stored NULL (unknown)'],
      ['attempts: not a number (string); stored NULL (unknown)'],
      ['attempts: not a number (bigint); stored NULL (unknown)'],
    ]);
    // The rest of the row is untouched: same tokens, same cost.
    expect(sink.calls.every((c) => c.inputTokens === 100 && c.costUsd === 10_000_000_000_000n)).toBe(true);
    expect(warnings).toEqual([
      "Kostrack corrected a recorded call's attempts: 0 is not a whole number from 1 to 32767; stored NULL (unknown) (later corrections of attempts are noted only in metadata.input_issues)",
    ]);
  });
});
