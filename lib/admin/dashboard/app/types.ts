/** The API's JSON, as the dashboard reads it (see lib/admin/dto/admin.responses.ts and insights.responses.ts). */
export interface TraceSummary {
  traceId: string;
  name: string | null;
  feature: string | null;
  userId: string | null;
  project: string | null;
  totalCostUsd: string;
  callCount: number;
  unpricedCallCount: number;
  errorCallCount: number;
  inputTokens: number;
  outputTokens: number;
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
  serviceId: string;
  provider: string;
  model: string;
  operation: string;
  costUsd: string | null;
  pricingSource: string;
  pricingModel: string | null;
  pricingFlags: string[];
  serviceTier: string | null;
  catalogVersion: string | null;
  latencyMs: number;
  status: string;
  errorClass: string | null;
  streamed: boolean;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  tokenBreakdown: Record<string, number>;
  tags: Record<string, string>;
  metadata: Record<string, unknown>;
  /** HTTP attempts the SDK made (over 1: it retried on its own); null when unknown. */
  attempts: number | null;
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

export interface CostGroup {
  key: string | null;
  bucket?: string;
  series?: string | null;
  seriesProvider?: string;
  provider?: string;
  costUsd: string;
  calls: number;
  unpricedCalls: number;
  inputTokens: number;
  outputTokens: number;
}

export interface CostReport {
  groupBy: string;
  series: string | null;
  from: string;
  to: string;
  totalCostUsd: string;
  truncated: boolean;
  groups: CostGroup[];
}

export interface PeriodFigures {
  from: string;
  to: string;
  spendUsd: string;
  traces: number;
  calls: number;
  avgPerTraceUsd: string;
  p95PerTraceUsd: string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  errorCalls: number;
  unpricedCalls: number;
}

export interface Summary {
  current: PeriodFigures;
  previous: PeriodFigures;
}

export interface Top {
  by: 'user' | 'feature';
  groupCount: number;
  rows: { key: string | null; spendUsd: string; traces: number; calls: number; avgPerTraceUsd: string }[];
}

export interface FeatureCosts {
  outlierFactor: string;
  featureCount: number;
  features: { feature: string | null; traces: number; spendUsd: string; p50Usd: string; p95Usd: string; maxUsd: string; outliers: number }[];
  outlierCount: number;
  outliers: { traceId: string; name: string | null; feature: string | null; startedAt: string | null; costUsd: string; p95Usd: string; timesP95: number }[];
}

export interface CacheSavings {
  savedUsd: string;
  cachedTokens: number;
  models: { provider: string; model: string; cachedTokens: number; savedUsd: string | null }[];
  method: string;
}

export interface Price {
  id: number | null;
  source: 'stored' | 'option';
  provider: string;
  model: string;
  perMtok: Record<string, unknown>;
  effectiveFrom: string | null;
  effectiveTo: string | null;
  note: string | null;
}

export interface CallDetail {
  call: Call;
  traceId: string | null;
  traceName: string | null;
  span: { spanId: string; name: string; parentSpanId: string | null; startedAt: string; endedAt: string; status: string; errorClass: string | null } | null;
  pricedAt: string | null;
  repricingId: number | null;
  storedPrice: Price | null;
}

export interface UnpricedModels {
  source: 'database' | 'process';
  models: { provider: string; model: string; calls: number; firstSeen: string; lastSeen: string | null }[];
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
  timeZone: string;
  limit: string;
  mode: string;
  unpriced: string;
  whenDatabaseDown: string;
  alerts: number[];
  source: string;
  resetsAt: string | null;
  scopeValues: number;
  usage: BudgetUsage[];
}

export interface BudgetList {
  at: string;
  budgets: Budget[];
}

export interface BlockedCalls {
  items: { time: string; spanId: string; traceId: string | null; provider: string; model: string; tags: Record<string, string>; budget: Record<string, unknown> | null }[];
}

export interface PricesDto {
  at: string;
  prices: Price[];
}

export interface ReconcileTotals {
  trackedUsd: string;
  billedUsd: string;
  gapUsd: string;
  coverage: string | null;
  untrackedUsd: string;
  overTrackedUsd: string;
  retriedCalls: number;
  extraAttempts: number;
}

export interface Reconciliation extends ReconcileTotals {
  from: string;
  to: string;
  threshold: string;
  notComparedUsd: string;
  providers: (ReconcileTotals & { provider: string; daysImported: number; daysNotImported: string[] })[];
  gaps: (ReconcileTotals & { day: string; provider: string; model: string | null; calls: number; unpricedCalls: number })[];
}
