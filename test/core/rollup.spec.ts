import { describe, expect, it } from 'vitest';
import { currentTrace, recordCall, span, trace, usd, usdToString, type TraceContext } from '../../lib/core/index.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

describe('cost roll-up', () => {
  const sink = useMemorySink();

  it('rolls costs up live through three levels, concurrent siblings and an explicit parent', async () => {
    const costs = ['0.0012345', '0.000001', '0.0031', '0.00000042', '0.0000999', '0.25', '0.0000001'];
    let lostCallback: (() => void) | undefined;
    // sibling-a waits for sibling-b's two calls by handshake, not by timer, so the order holds
    // however slowly the machine runs the first recordCall.
    let siblingBDone!: () => void;
    const siblingBFinished = new Promise<void>((resolve) => (siblingBDone = resolve));
    const root = await trace({ tags: { feature: 'invoice-pipeline' } }, async (t) => {
      recordCall(callInput(costs[0]));
      await span('level1', async (l1) => {
        await Promise.all([
          span('sibling-a', async () => {
            await siblingBFinished;
            await span('level3', async (l3) => {
              recordCall(callInput(costs[1], { model: 'gpt-4o', provider: 'openai' }));
              // Live: the root already holds it (and sibling-b's, which finished first) while level3 is open.
              expect(usdToString(t.totalCost)).toBe('0.00433592');
              expect(l3.parentSpanId).not.toBe(t.spanId);
            });
          }),
          span('sibling-b', async () => {
            recordCall(callInput(costs[2], { model: 'deepseek-reasoner', provider: 'deepseek' }));
            // Both siblings are suspended here at once: the spans are open concurrently.
            await Promise.resolve();
            recordCall(callInput(costs[3]));
            siblingBDone();
          }),
        ]);
        expect(l1.callCount).toBe(3);
        expect(usdToString(l1.totalCost)).toBe(usdToString(usd(costs[1]) + usd(costs[2]) + usd(costs[3])));
      });
      // A callback scheduled from a context that knows nothing of this trace.
      lostCallback = () => span('late', { parent: t }, () => recordCall(callInput(costs[4])));
      return t;
    });
    // Runs outside the trace: only the explicit parent links it.
    expect(currentTrace()).toBeUndefined();
    lostCallback!();
    recordCall(callInput(costs[5]), root);
    trace({ newTrace: true }, () => recordCall(callInput(costs[6])));

    const expected = costs.slice(0, 6).reduce((a, c) => a + usd(c), 0n);
    expect(root.totalCostDecimal).toBe(usdToString(expected));
    expect(root.totalCostDecimal).toBe('0.25443582');
    expect(root.callCount).toBe(6);
    const late = sink.spans.find((s) => s.name === 'late')!;
    expect(late.parentSpanId).toBe(root.spanId);
    expect(late.traceId).toBe(root.traceId);
    const l3 = sink.spans.find((s) => s.name === 'level3')!;
    const a = sink.spans.find((s) => s.name === 'sibling-a')!;
    const l1 = sink.spans.find((s) => s.name === 'level1')!;
    expect([l3.parentSpanId, a.parentSpanId, l1.parentSpanId]).toEqual([a.spanId, l1.spanId, root.spanId]);
    // Root calls have no parent span (the seed's rule); calls in spans name their span.
    const calls = sink.callsOf(root.traceId);
    expect(calls).toHaveLength(6);
    expect(calls[0].parentSpanId).toBeNull();
    expect(calls[0].tags).toEqual({ feature: 'invoice-pipeline', span_name: 'trace' });
    const gpt = calls.find((c) => c.model === 'gpt-4o')!;
    expect(gpt.parentSpanId).toBe(l3.spanId);
    expect(gpt.tags.span_name).toBe('level3');
  });

  it('sorts costBreakdown by spend with one-decimal pcts summing to 100', () => {
    const t = trace((ctx) => {
      recordCall(callInput('0.0038', { model: 'claude-haiku-4-5-20251001' }));
      recordCall(callInput('0.0142', { model: 'deepseek-reasoner', provider: 'deepseek', inputTokens: 7, outputTokens: 9 }));
      recordCall(callInput('0.001', { model: 'gpt-4o-mini', provider: 'openai' }));
      recordCall(callInput('0.001', { model: 'gpt-4o-mini', provider: 'openai' }));
      recordCall(callInput('0.0000003', { model: 'gemini-2.5-flash', provider: 'google' }));
      return ctx;
    });
    const items = t.costBreakdown();
    expect(items.map((i) => [i.model, i.cost, i.calls, i.pct])).toEqual([
      ['deepseek-reasoner', '0.0142', 1, 71],
      ['claude-haiku-4-5-20251001', '0.0038', 1, 19],
      ['gpt-4o-mini', '0.002', 2, 10],
      ['gemini-2.5-flash', '0.0000003', 1, 0],
    ]);
    expect(items[0]).toMatchObject({ provider: 'deepseek', costUsd: '0.0142', inputTokens: 7, outputTokens: 9 });
    expect(items.reduce((a, i) => a + i.pct, 0)).toBeCloseTo(100, 1);
  });

  it('makes the pcts of three equal shares sum to 100 exactly', () => {
    const t = trace((ctx) => {
      for (const model of ['a', 'b', 'c']) recordCall(callInput('0.01', { model }));
      return ctx;
    });
    const pcts = t.costBreakdown().map((i) => i.pct);
    expect(pcts).toEqual([33.4, 33.3, 33.3]);
    expect(Math.round(pcts.reduce((a, b) => a + b, 0) * 10)).toBe(1000);
  });

  it('counts calls, not spans, and counts an unpriced call without cost', () => {
    const t: TraceContext = trace((ctx) => {
      span('empty', () => undefined);
      span('one', () => recordCall(callInput('0.5', { costUsd: null, pricingSource: 'unpriced' })));
      return ctx;
    });
    expect(t.callCount).toBe(1);
    expect(t.totalCostDecimal).toBe('0');
  });
});
