import type { TraceContext } from '../lib/index.js';

/** What a workflow endpoint returns: exact decimal strings next to the seed-style printout. */
export interface RunReport {
  workflow: string;
  traceId: string;
  totalCostUsd: string;
  callCount: number;
  breakdown: { provider: string; model: string; costUsd: string; pct: number; calls: number }[];
  lines: string[];
}

/** Formats a finished run the way the seed prints it: `Total: $0.004700 in 8 calls`, then per model. */
export function runReport(workflow: string, t: TraceContext): RunReport {
  const breakdown = t.costBreakdown().map((i) => ({ provider: i.provider, model: i.model, costUsd: i.cost, pct: i.pct, calls: i.calls }));
  const lines = [
    `[${workflow}] trace ${t.traceId}`,
    `Total: $${t.totalCostUsd.toFixed(6)} in ${t.callCount} calls`,
    ...breakdown.map((i) => `  ${i.model}: $${Number(i.costUsd).toFixed(6)} (${i.pct}%)`),
  ];
  return { workflow, traceId: t.traceId, totalCostUsd: t.totalCostDecimal, callCount: t.callCount, breakdown, lines };
}
