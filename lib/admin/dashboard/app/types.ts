/** The API's JSON, as the dashboard reads it (see lib/admin/dto/admin.responses.ts). */
export interface TraceSummary {
  traceId: string;
  name: string | null;
  feature: string | null;
  userId: string | null;
  totalCostUsd: string;
  callCount: number;
  unpricedCallCount: number;
  errorCallCount: number;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  status: string | null;
  serviceIds: string[];
}

export interface TraceList {
  items: TraceSummary[];
  nextCursor: string | null;
}

export interface Call {
  spanId: string;
  parentSpanId: string | null;
  time: string;
  provider: string;
  model: string;
  operation: string;
  costUsd: string | null;
  latencyMs: number;
  status: string;
  inputTokens: number;
  outputTokens: number;
}

export interface SpanNode {
  spanId: string | null;
  name: string | null;
  kind: 'trace' | 'span';
  startedAt: string | null;
  endedAt: string | null;
  status: string | null;
  costUsd: string;
  callCount: number;
  callIds: string[];
  children: SpanNode[];
}

export interface TraceDetail {
  trace: TraceSummary;
  root: SpanNode;
  calls: Call[];
  costBreakdown: { provider: string; model: string; costUsd: string; pct: number; calls: number }[];
  totals: { totalCostUsd: string; callCount: number; unpricedCallCount: number; errorCallCount: number; durationMs: number | null; spanCount: number };
}

export interface CostReport {
  from: string;
  to: string;
  totalCostUsd: string;
  groups: { key: string | null; bucket?: string; series?: string | null; costUsd: string; calls: number }[];
}

export interface BudgetUsage {
  scopeValue: string;
  spent: string;
  reserved: string;
  remaining: string;
  calls: number;
  periodStart: string;
  resetsAt: string | null;
}

export interface Budget {
  name: string;
  scope: string;
  value: string | null;
  period: string;
  limit: string;
  mode: string;
  resetsAt: string | null;
  scopeValues: number;
  usage: BudgetUsage[];
}

export interface BudgetList {
  at: string;
  budgets: Budget[];
}
