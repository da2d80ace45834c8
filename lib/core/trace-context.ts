import { percentShares, type Usd, usdToString } from './money.js';
import type { CallRecord, SpanStatus } from './call-record.js';
import { mergeTags, type Tags } from './tags.js';
import { drainRecords } from './deferred-records.js';
import type { RunBudget } from './run-budget.js';

/** One line of {@link TraceContext.costBreakdown}. */
export interface CostBreakdownItem {
  provider: string;
  model: string;
  /** Exact decimal string of USD, like every `…Usd` read as data (REST, JSON, `totalCostUsd`). */
  costUsd: string;
  /** The same value as `costUsd` (kept for code written before 0.2). */
  cost: string;
  /** Share of the total, one decimal; the items sum to 100. */
  pct: number;
  calls: number;
  /** Calls of this model that could not be priced: `cost` leaves them out. */
  unpricedCalls: number;
  inputTokens: number;
  outputTokens: number;
}

interface ModelTotals {
  provider: string;
  model: string;
  cost: Usd;
  calls: number;
  unpriced: number;
  inputTokens: number;
  outputTokens: number;
}

/**
 * A trace or span while it runs. The root of a trace is a `TraceContext` like any span; costs
 * recorded in a span roll up live into it and every ancestor, so totals are right at every moment.
 */
export class TraceContext {
  readonly root: TraceContext;
  /** Epoch milliseconds; Dates are built only when read (off the hot path). */
  readonly startMs: number;
  endMs: number | null = null;
  status: SpanStatus = 'running';
  errorClass: string | null = null;
  /** Set by the Nest layer when a request-level trace was opened for a specific handler. */
  openedFor: unknown = undefined;

  /** A spending limit on this span (see `trace({ budget })`); null for none. */
  budget: RunBudget | null = null;
  /** True when this span or an ancestor has a budget: tracked calls then reserve before sending. */
  underBudget: boolean;
  /** Worst-case cost held by calls in flight under this span's budget. */
  reserved: Usd = 0n;
  /** A `warn`-mode budget here has warned (once per run). */
  budgetWarned = false;
  private cost: Usd = 0n;
  private calls = 0;
  private unpriced = 0;
  private merged: Tags | undefined;
  private nameTag: Tags | undefined;
  private lastClientTags: Tags | undefined;
  private lastCallTags: Tags | undefined;
  /** Totals per model: most spans see one model, so a Map is made only for the second. */
  private firstModel: ModelTotals | undefined;
  private byModel: Map<string, ModelTotals> | undefined;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    /** Null for a root that did not continue a remote parent. */
    readonly parentSpanId: string | null,
    readonly parent: TraceContext | null,
    readonly name: string,
    /** Tags this span inherits: the parent's, or the module's for a root. */
    private readonly inherited: Tags,
    /** Tags given to this span itself. */
    readonly ownTags: Tags,
    readonly serviceId: string,
  ) {
    this.root = parent ? parent.root : this;
    this.startMs = Date.now();
    this.underBudget = parent !== null && parent.underBudget;
  }

  /** @internal Puts a budget on this span (before anything runs in it). */
  setBudget(budget: RunBudget | null): void {
    this.budget = budget;
    if (budget) this.underBudget = true;
  }

  /** @internal The cost of the calls recorded so far, without waiting for deferred records (admission uses it). */
  get settledCost(): Usd {
    return this.cost;
  }

  /** Module, trace and span tags merged (not client or call tags). */
  get tags(): Tags {
    return (this.merged ??= mergeTags(this.inherited, this.ownTags));
  }

  get startTime(): Date {
    return new Date(this.startMs);
  }

  get endTime(): Date | null {
    return this.endMs === null ? null : new Date(this.endMs);
  }

  get isRoot(): boolean {
    return this.parent === null;
  }

  /** Exact total of every call in this span and its descendants. */
  get totalCost(): Usd {
    drainRecords();
    return this.cost;
  }

  /**
   * The tags a call made here carries: `clientTags` under this span's tags, plus `span_name`.
   * Cached per client, since a span's calls usually come from one client (read-only; shared).
   */
  callTags(clientTags: Tags | undefined): Tags {
    if (this.lastCallTags === undefined || this.lastClientTags !== clientTags) {
      this.lastClientTags = clientTags;
      this.lastCallTags = mergeTags(clientTags, this.tags, (this.nameTag ??= { span_name: this.name }));
    }
    return this.lastCallTags;
  }

  /** `{ span_name }`, the reserved tag that wins over every other layer. */
  get spanNameTag(): Tags {
    return (this.nameTag ??= { span_name: this.name });
  }

  /**
   * The exact total as a decimal string of USD, e.g. `'0.0047'`: the same meaning as
   * `totalCostUsd` over REST and in `JSON.stringify(trace)`. `Number(t.totalCostUsd)` for a
   * float to display; {@link totalCost} (a bigint of 1e-15 USD) to compute.
   */
  get totalCostUsd(): string {
    drainRecords();
    return usdToString(this.cost);
  }

  /** The same value as {@link totalCostUsd} (kept for code written before 0.2). */
  get totalCostDecimal(): string {
    drainRecords();
    return usdToString(this.cost);
  }

  /** LLM calls recorded in this span and its descendants (spans themselves are not counted). */
  get callCount(): number {
    drainRecords();
    return this.calls;
  }

  /**
   * Calls in this span and its descendants that could not be priced (unknown model, unreadable
   * usage). When it is not 0, {@link totalCost} is a lower bound: those calls are not in it.
   */
  get unpricedCallCount(): number {
    drainRecords();
    return this.unpriced;
  }

  get durationMs(): number | null {
    return this.endMs === null ? null : this.endMs - this.startMs;
  }

  /** Per-model attribution, most expensive first; `pct` has one decimal and sums to 100. */
  costBreakdown(): CostBreakdownItem[] {
    drainRecords();
    const rows = (this.byModel ? [...this.byModel.values()] : this.firstModel ? [this.firstModel] : []).sort((a, b) =>
      a.cost === b.cost ? a.model.localeCompare(b.model) : a.cost > b.cost ? -1 : 1,
    );
    const pcts = percentShares(rows.map((r) => r.cost), this.cost);
    return rows.map((r, i) => ({
      provider: r.provider,
      model: r.model,
      costUsd: usdToString(r.cost),
      cost: usdToString(r.cost),
      pct: pcts[i],
      calls: r.calls,
      unpricedCalls: r.unpriced,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
    }));
  }

  /** @internal Adds a finished call here and in every ancestor. */
  addCall(call: CallRecord): void {
    const cost = call.costUsd ?? 0n;
    const unpriced = call.costUsd === null || call.costUsd === undefined ? 1 : 0;
    for (let node: TraceContext | null = this; node; node = node.parent) {
      node.cost += cost;
      node.calls += 1;
      node.unpriced += unpriced;
      node.modelTotals(call.provider, call.model, cost, unpriced, call.inputTokens, call.outputTokens);
    }
  }

  private modelTotals(provider: string, model: string, cost: Usd, unpriced: number, inputTokens: number, outputTokens: number): void {
    const first = this.firstModel;
    let m: ModelTotals | undefined;
    if (first && first.model === model && first.provider === provider) m = first;
    else if (this.byModel) m = this.byModel.get(provider + '\u0000' + model);
    if (m) {
      m.cost += cost;
      m.calls += 1;
      m.unpriced += unpriced;
      m.inputTokens += inputTokens;
      m.outputTokens += outputTokens;
      return;
    }
    m = { provider, model, cost, calls: 1, unpriced, inputTokens, outputTokens };
    if (!first) {
      this.firstModel = m;
      return;
    }
    if (!this.byModel) this.byModel = new Map([[first.provider + '\u0000' + first.model, first]]);
    this.byModel.set(provider + '\u0000' + model, m);
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
      callCount: this.callCount,
      unpricedCallCount: this.unpricedCallCount,
      startTime: this.startTime.toISOString(),
      endTime: this.endTime?.toISOString() ?? null,
    };
  }
}
