import type { TraceContext } from '../lib/index.js';

/** What a workflow endpoint returns: exact decimal strings next to the seed-style printout. */
export interface RunReport {
  workflow: string;
  traceId: string;
  totalCostUsd: string;
  callCount: number;
  /** Calls that could not be priced: the total leaves them out. */
  unpricedCallCount: number;
  breakdown: { provider: string; model: string; costUsd: string; pct: number; calls: number; unpricedCalls: number }[];
  lines: string[];
}

/**
 * Formats a finished run the way the seed prints it: `Total: $0.004700 in 8 calls`, then per model.
 * A total that leaves calls out says so: `Total: $0.004700 in 8 calls (2 calls unpriced)`.
 */
export function runReport(workflow: string, t: TraceContext): RunReport {
  const breakdown = t.costBreakdown().map((i) => ({
    provider: i.provider,
    model: i.model,
    costUsd: i.cost,
    pct: i.pct,
    calls: i.calls,
    unpricedCalls: i.unpricedCalls,
  }));
  const unpriced = t.unpricedCallCount;
  const lines = [
    `[${workflow}] trace ${t.traceId}`,
    `Total: $${Number(t.totalCostUsd).toFixed(6)} in ${t.callCount} calls${unpricedNote(unpriced)}`,
    ...breakdown.map((i) => `  ${i.model}: $${Number(i.costUsd).toFixed(6)} (${i.pct}%)${unpricedNote(i.unpricedCalls)}`),
  ];
  return { workflow, traceId: t.traceId, totalCostUsd: t.totalCostDecimal, callCount: t.callCount, unpricedCallCount: unpriced, breakdown, lines };
}

function unpricedNote(n: number): string {
  return n === 0 ? '' : ` (${n} ${n === 1 ? 'call' : 'calls'} unpriced)`;
}
