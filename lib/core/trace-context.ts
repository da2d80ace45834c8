import { type Usd, usdToNumber, usdToString } from './money.js';
import type { CallRecord, SpanStatus } from './call-record.js';
import type { Tags } from './tags.js';

/** One line of {@link TraceContext.costBreakdown}. */
export interface CostBreakdownItem {
  provider: string;
  model: string;
  /** Convenience float; `cost` is exact. */
  costUsd: number;
  /** Exact decimal string. */
  cost: string;
  /** Share of the total, one decimal; the items sum to 100. */
  pct: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

interface ModelTotals {
  provider: string;
  model: string;
  cost: Usd;
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

/**
 * A trace or span while it runs. The root of a trace is a `TraceContext` like any span; costs
 * recorded in a span roll up live into it and every ancestor, so totals are right at every moment.
 */
export class TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  /** Null for a root that did not continue a remote parent. */
  readonly parentSpanId: string | null;
  readonly parent: TraceContext | null;
  readonly root: TraceContext;
  readonly name: string;
  /** Module, trace and span tags merged (not client or call tags). */
  readonly tags: Tags;
  readonly startTime: Date;
  endTime: Date | null = null;
  status: SpanStatus = 'running';
  errorClass: string | null = null;
  /** Set by the Nest layer when a request-level trace was opened for a specific handler. */
  openedFor: unknown = undefined;

  private cost: Usd = 0n;
  private calls = 0;
  private readonly byModel = new Map<string, ModelTotals>();

  constructor(init: {
    traceId: string;
    spanId: string;
    parentSpanId: string | null;
    parent: TraceContext | null;
    name: string;
    tags: Tags;
  }) {
    this.traceId = init.traceId;
    this.spanId = init.spanId;
    this.parentSpanId = init.parentSpanId;
    this.parent = init.parent;
    this.root = init.parent ? init.parent.root : this;
    this.name = init.name;
    this.tags = init.tags;
    this.startTime = new Date();
  }

  get isRoot(): boolean {
    return this.parent === null;
  }

  /** Exact total of every call in this span and its descendants. */
  get totalCost(): Usd {
    return this.cost;
  }

  /** The total as a float, for display. Use {@link totalCostDecimal} or {@link totalCost} to compute. */
  get totalCostUsd(): number {
    return usdToNumber(this.cost);
  }

  /** The exact total as a decimal string. */
  get totalCostDecimal(): string {
    return usdToString(this.cost);
  }

  /** LLM calls recorded in this span and its descendants (spans themselves are not counted). */
  get callCount(): number {
    return this.calls;
  }

  get durationMs(): number | null {
    return this.endTime ? this.endTime.getTime() - this.startTime.getTime() : null;
  }

  /** Per-model attribution, most expensive first; `pct` has one decimal and sums to 100. */
  costBreakdown(): CostBreakdownItem[] {
    const rows = [...this.byModel.values()].sort((a, b) =>
      a.cost === b.cost ? a.model.localeCompare(b.model) : a.cost > b.cost ? -1 : 1,
    );
    const pcts = shares(rows.map((r) => r.cost), this.cost);
    return rows.map((r, i) => ({
      provider: r.provider,
      model: r.model,
      costUsd: usdToNumber(r.cost),
      cost: usdToString(r.cost),
      pct: pcts[i],
      calls: r.calls,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
    }));
  }

  /** @internal Adds a finished call here and in every ancestor. */
  addCall(call: CallRecord): void {
    const cost = call.costUsd ?? 0n;
    const key = call.provider + '\u0000' + call.model;
    for (let node: TraceContext | null = this; node; node = node.parent) {
      node.cost += cost;
      node.calls += 1;
      const m = node.byModel.get(key);
      if (m) {
        m.cost += cost;
        m.calls += 1;
        m.inputTokens += call.inputTokens;
        m.outputTokens += call.outputTokens;
      } else {
        node.byModel.set(key, {
          provider: call.provider,
          model: call.model,
          cost,
          calls: 1,
          inputTokens: call.inputTokens,
          outputTokens: call.outputTokens,
        });
      }
    }
  }

  toJSON(): Record<string, unknown> {
    return {
      traceId: this.traceId,
      spanId: this.spanId,
      parentSpanId: this.parentSpanId,
      name: this.name,
      tags: this.tags,
      status: this.status,
      totalCostUsd: this.totalCostDecimal,
      callCount: this.calls,
      startTime: this.startTime.toISOString(),
      endTime: this.endTime?.toISOString() ?? null,
    };
  }
}

/** Percentages with one decimal that sum to exactly 100 (largest remainder). */
function shares(costs: Usd[], total: Usd): number[] {
  if (costs.length === 0) return [];
  if (total <= 0n) {
    // Nothing priced yet: split evenly so the sum still reads 100.
    return shares(costs.map(() => 1n), BigInt(costs.length));
  }
  const tenths = costs.map((c) => (c * 1000n) / total);
  const remainders = costs.map((c, i) => ({ i, r: (c * 1000n) % total }));
  let missing = 1000n - tenths.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (missing <= 0n) break;
    tenths[i] += 1n;
    missing -= 1n;
  }
  return tenths.map((t) => Number(t) / 10);
}
