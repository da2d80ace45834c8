import { EventEmitter, once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { recordCall, span, trace, usd, usdToString, type TraceContext } from '../../lib/core/index.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

describe('context isolation', () => {
  const sink = useMemorySink();

  it('keeps 1,000 concurrent traces apart across awaits, timers, emitters and Promise.all spans', async () => {
    const N = 1000;
    // One shared bus with a listener registered outside every trace: emit() runs it in the
    // emitting trace's context, as a Nest event handler would be.
    const bus = new EventEmitter();
    bus.on('call', (cost: string, run: string) => recordCall(callInput(cost, { tags: { run } })));
    const expected = new Map<string, bigint>();
    const seen = new Map<string, number>();

    const run = (i: number) =>
      trace({ tags: { run: String(i) } }, async (t: TraceContext) => {
        // Cost derived from i so every trace's total differs.
        const cost = (k: number) => `0.000${(i * 7 + k) % 1000}${k}1`;
        let sum = 0n;
        const add = (k: number) => {
          const c = cost(k);
          sum += usd(c);
          recordCall(callInput(c, { tags: { run: String(i) } }));
        };
        await sleep(i % 5);
        add(1);
        // A listener registered inside the trace runs in the emitter's (this trace's) context.
        const emitter = new EventEmitter();
        emitter.on('done', () => add(2));
        setTimeout(() => emitter.emit('done'), i % 3);
        await once(emitter, 'done');
        await Promise.all(
          [3, 4, 5].map((k) =>
            span(`step-${k}`, async () => {
              await sleep((i + k) % 4);
              add(k);
              await new Promise<void>((resolve) => setImmediate(resolve));
              add(k + 10);
            }),
          ),
        );
        // A timer started inside the trace fires in it even after other traces ran.
        await new Promise<void>((resolve) => setTimeout(() => (add(20), resolve()), 1));
        sum += usd('0.000002');
        bus.emit('call', '0.000002', String(i));
        expected.set(t.traceId, sum);
        seen.set(t.traceId, t.callCount);
        return t;
      });

    const contexts = await Promise.all(Array.from({ length: N }, (_, i) => run(i)));

    expect(new Set(contexts.map((t) => t.traceId)).size).toBe(N);
    expect(sink.calls).toHaveLength(N * 10);
    for (const [i, t] of contexts.entries()) {
      const calls = sink.callsOf(t.traceId);
      expect(calls).toHaveLength(10);
      // Zero cross-contamination: every call in this trace came from run i.
      expect(calls.every((c) => c.tags.run === String(i))).toBe(true);
      expect(usdToString(t.totalCost)).toBe(usdToString(expected.get(t.traceId)!));
      expect(usdToString(calls.reduce((a, c) => a + c.costUsd!, 0n))).toBe(t.totalCostDecimal);
      expect(seen.get(t.traceId)).toBe(10);
    }
    // 1 root + 3 spans per trace.
    expect(sink.spans).toHaveLength(N * 4);
  });

  it('records a call outside any trace with no trace id', () => {
    const rec = recordCall(callInput('0.01'));
    expect(rec?.traceId).toBeNull();
    expect(rec?.parentSpanId).toBeNull();
    expect(rec?.tags.span_name).toBeUndefined();
    expect(sink.calls).toHaveLength(1);
  });
});
