import { describe, expect, it } from 'vitest';
import { recordCall, span, trace, usd, usdToString } from '../../lib/core/index.js';
import { runReport } from '../../sample-app/run-report.js';
import { callInput } from '../support/call-input.js';
import { useMemorySink } from '../support/memory-sink.js';

// A call that could not be priced adds nothing to the total; the trace must say the total is
// incomplete rather than show it as if it were the whole cost.
describe('unpriced calls in process', () => {
  useMemorySink();

  it('are counted on the trace, every ancestor span and each breakdown item, and printed', async () => {
    const unpriced = { costUsd: null, pricingSource: 'unpriced', pricingModel: null, model: 'acme-llm-7b', provider: 'custom:acme' };
    const t = await trace({ name: 'mixed' }, async (root) => {
      recordCall(callInput('0.0012', { model: 'gpt-4o', provider: 'openai' }));
      await span('inner', async (inner) => {
        recordCall(callInput('0.0003', { model: 'gpt-4o', provider: 'openai' }));
        recordCall(callInput('0', unpriced));
        recordCall(callInput('0', unpriced));
        expect(inner.unpricedCallCount).toBe(2);
        expect(inner.callCount).toBe(3);
      });
      return root;
    });
    expect(usdToString(t.totalCost)).toBe(usdToString(usd('0.0015')));
    expect(t.callCount).toBe(4);
    expect(t.unpricedCallCount).toBe(2);
    const items = t.costBreakdown();
    expect(items.map((i) => [i.model, i.cost, i.calls, i.unpricedCalls, i.pct])).toEqual([
      ['gpt-4o', '0.0015', 2, 0, 100],
      ['acme-llm-7b', '0', 2, 2, 0],
    ]);
    expect(t.toJSON()).toMatchObject({ callCount: 4, unpricedCallCount: 2, totalCostUsd: '0.0015' });
    const report = runReport('mixed', t);
    expect(report.lines[1]).toBe('Total: $0.001500 in 4 calls (2 calls unpriced)');
    expect(report.lines[3]).toBe('  acme-llm-7b: $0.000000 (0%) (2 calls unpriced)');
    expect(report.unpricedCallCount).toBe(2);
  });

  it('a fully priced trace says nothing more', async () => {
    const t = await trace({ name: 'priced' }, async (root) => {
      recordCall(callInput('0.0047', { model: 'gpt-4o', provider: 'openai' }));
      return root;
    });
    expect(t.unpricedCallCount).toBe(0);
    expect(runReport('priced', t).lines[1]).toBe('Total: $0.004700 in 1 calls');
    expect(t.costBreakdown()[0].unpricedCalls).toBe(0);
  });
});
