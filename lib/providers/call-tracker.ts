import { performance } from 'node:perf_hooks';
import { KostrackBudgetExceededError, mergeTags, newId, recordCall, type CallStatus, type Tags, type Usd } from '../core/index.js';
import { budgetGate, type BudgetGate } from '../core/budget-gate.js';
import { admitCall, releaseReservation, type Reservation } from '../core/run-budget.js';
import { AttemptTally } from './attempt.counter.js';
import { requestBound } from './request-bound.js';
import { deferRecord, drainRecords, type DeferredRecord } from '../core/deferred-records.js';
import { runtime } from '../core/runtime.js';
import { errorClassOf } from '../core/span-lifecycle.js';
import type { TraceContext } from '../core/trace-context.js';
import { defaultPriceBook, type PriceBook, type PricedCall } from '../pricing/index.js';
import { missingUsage, type NormalizedUsage } from './usage-reader.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

const NOT_BILLED: PricedCall = Object.freeze({ costUsd: 0n, pricingModel: null, pricingSource: 'not-billed', flags: null, catalogVersion: null });
const BLOCKED: PricedCall = Object.freeze({ costUsd: 0n, pricingModel: null, pricingSource: 'blocked', flags: null, catalogVersion: null });
const NO_USAGE: PricedCall = Object.freeze({ costUsd: null, pricingModel: null, pricingSource: 'no-usage', flags: null, catalogVersion: null });

/** The call's worst case, or null when it cannot be bounded (then the budget's `unpriced` policy decides). */
function worstCaseOf(book: PriceBook, provider: string, operation: string, model: string, params: unknown): Usd | null {
  try {
    const bound = requestBound(book, provider, operation, model, params);
    return bound ? book.worstCase(provider, model, bound) : null;
  } catch (e) {
    runtime.warn(`Kostrack could not bound a ${provider} call's cost (${errorClassOf(e)}); it is treated as unpriced by budgets`);
    return null;
  }
}

/** Everything about one tracked call, captured when the call was made. */
export interface CallScopeInit {
  provider: string;
  operation: string;
  requestModel: string;
  streamed: boolean;
  batch?: boolean | undefined;
  params: unknown;
  callTags: Tags | undefined;
  options: ResolvedWrapOptions;
  /** A fixed id, so that recording the same call again (batch results read twice) stores it once. */
  spanId?: string | undefined;
  /** The trace the call belongs to when it is not the active one (batch results read later); null for none. */
  context?: TraceContext | null | undefined;
}

/**
 * One tracked call from request to record. It captures the active trace when the call is made (a
 * stream consumed later, elsewhere, still belongs to it) and records exactly once, whichever of
 * success, error or abandonment comes first.
 */
export class CallScope implements DeferredRecord {
  private readonly context: TraceContext | null | undefined;
  private readonly startMs = Date.now();
  private readonly start = performance.now();
  private latencyMs = 0;
  private done = false;
  /** Extra row metadata gathered while the call runs (ids, batch ids, stream notes); most calls have none. */
  private notes: Record<string, unknown> | undefined;
  /** What {@link okFrom} read from the response, for {@link recordNow}. */
  private usage: NormalizedUsage | undefined;
  private responseModel: unknown;
  /** The privacy hook's answer, taken by {@link okFrom}. */
  private kept: Record<string, unknown> | undefined;
  /** What this call holds against the budgets above it until it settles. */
  private reservation: Reservation | null = null;
  /** The call's worst case once computed (null: it cannot be bounded). */
  private bound: Usd | null | undefined;
  /** The row's id when it had to be known before the call (a durable budget's hold is keyed by it). */
  private rowId: string | undefined;
  /** The durable budgets' gate that admitted this call: told the exact cost when it is known. */
  private durableGate: BudgetGate | undefined;
  /** The HTTP attempts the SDK sent for this call, counted while it runs in {@link sendingCall} (attempt.hooks.ts). */
  readonly attempts = new AttemptTally();

  constructor(readonly init: CallScopeInit) {
    this.context = init.context !== undefined ? init.context : runtime.als.getStore();
  }

  /** Records the error, then rethrows it untouched; one function per call, usable as a rejection handler. */
  readonly rethrow = (error: unknown): never => {
    this.fail(error);
    throw error;
  };

  /**
   * Admission before the request is sent. Run budgets (the active trace's) are checked at once:
   * the call's worst case is held, or the call is recorded `blocked` and
   * {@link KostrackBudgetExceededError} is thrown. Durable budgets (per user, feature… in the
   * database) that apply to the call's tags make it wait: the returned promise resolves when the
   * database admitted it, or rejects (the call recorded `blocked`). Null (the usual case, decided
   * by a field read and a lookup in memory): send now.
   */
  admit(): Promise<void> | null {
    this.admitRun();
    return this.admitDurable();
  }

  /** Run budgets only; see {@link admit}. */
  private admitRun(): void {
    const context = this.context;
    if (!context || !context.underBudget) return;
    const { provider, requestModel } = this.init;
    try {
      this.reservation = admitCall(context, () => this.worstCase(), { provider, model: requestModel });
    } catch (error) {
      if (error instanceof KostrackBudgetExceededError) this.block(error);
      throw error;
    }
  }

  private admitDurable(): Promise<void> | null {
    const gate = budgetGate();
    if (!gate || gate.empty || this.done) return null;
    const tags = this.rowTags();
    const match = gate.match(tags, runtime.serviceId);
    if (match === null) return null;
    const { provider, requestModel } = this.init;
    const spanId = (this.rowId ??= this.init.spanId ?? newId());
    // Calls that finished a moment ago settle first (their holds shrink to their cost) before this one is weighed.
    drainRecords();
    return gate.admit(match, this.worstCase(), { spanId, provider, model: requestModel, tags, serviceId: runtime.serviceId }).then(() => {
      this.durableGate = gate;
    }, (error: unknown) => {
      if (error instanceof KostrackBudgetExceededError) this.block(error);
      else this.fail(error);
      throw error;
    });
  }

  /** The call's worst case, computed once (run and durable budgets both use it). */
  private worstCase(): Usd | null {
    if (this.bound === undefined) {
      const { provider, operation, requestModel, params } = this.init;
      this.bound = worstCaseOf(this.init.options.priceBook ?? defaultPriceBook(), provider, operation, requestModel, params);
    }
    return this.bound;
  }

  /** The tags the call's row will carry, merged as `recordCall` merges them. */
  private rowTags(): Tags {
    const ctx = this.context;
    const own = this.init.callTags;
    if (!ctx) return mergeTags(this.init.options.tags, runtime.tags, own);
    return own ? mergeTags(ctx.callTags(this.init.options.tags), own, ctx.spanNameTag) : ctx.callTags(this.init.options.tags);
  }

  /**
   * Admission checked ahead of a helper that sends later (Anthropic's `messages.stream()`): a
   * refusal is recorded and thrown now, where the caller can see it as itself; an admitted call
   * gives its hold back, and the request the helper makes is admitted again when it is sent.
   */
  preflight(): void {
    this.admitRun();
    releaseReservation(this.reservation);
    this.reservation = null;
    this.done = true;
  }

  /** Records the refused call: status `blocked`, cost 0, the refusal in its metadata. */
  private block(error: KostrackBudgetExceededError): void {
    if (!this.settle()) return;
    this.note('budget', error.budget);
    this.record('blocked', undefined, undefined, error, undefined);
  }

  note(key: string, value: unknown): void {
    (this.notes ??= {})[key] = value;
  }

  get finished(): boolean {
    return this.done;
  }

  /**
   * Records a successful response whose usage `read(raw)` normalises. What comes from the caller's
   * objects is read now: the usage (the caller may change the response once it has it) and the
   * privacy hook's answer (it sees the request as sent, in the caller's async context). Pricing
   * and building the row wait until the caller's code has resumed (see deferred-records.ts).
   */
  okFrom(read: (raw: unknown) => NormalizedUsage, raw: unknown, responseModel: unknown): void {
    if (!this.settle()) return;
    try {
      this.usage = read(raw);
    } catch (e) {
      this.usage = missingUsage(`usage: unreadable (${errorClassOf(e)})`);
    }
    this.responseModel = responseModel;
    this.kept = this.userMetadata(responseModel);
    deferRecord(this);
  }

  ok(usage: NormalizedUsage, responseModel: unknown, status: CallStatus = 'ok', error?: unknown): void {
    if (this.settle()) this.record(status, usage, responseModel, error, this.userMetadata(responseModel));
  }

  fail(error: unknown, usage?: NormalizedUsage, responseModel?: unknown): void {
    if (this.settle()) this.record('error', usage, responseModel, error, this.userMetadata(responseModel));
  }

  /** @internal Runs the bookkeeping {@link okFrom} deferred. */
  recordNow(): void {
    this.record('ok', this.usage, this.responseModel, undefined, this.kept);
  }

  private modelOf(responseModel: unknown): string {
    return typeof responseModel === 'string' && responseModel !== '' ? responseModel : this.init.requestModel;
  }

  /** Marks the call finished (first outcome wins) and takes its latency. */
  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.latencyMs = Math.round((performance.now() - this.start) * 1000) / 1000;
    return true;
  }

  private record(status: CallStatus, usage: NormalizedUsage | undefined, responseModel: unknown, error: unknown, kept: Record<string, unknown> | undefined): void {
    // What of the worst case stays held for the rest of the run (see finally).
    let stillHeld = 0n;
    try {
      const { init } = this;
      const model = this.modelOf(responseModel);
      const book: PriceBook = init.options.priceBook ?? defaultPriceBook();
      const u = usage ?? { inputTokens: 0, outputTokens: 0, cachedTokens: 0, breakdown: {}, issues: [] };
      // A failed call with no usage was not billed; a successful one without readable usage has an unknown cost (null, never a silent $0).
      const noTokens = u.inputTokens === 0 && u.outputTokens === 0 && u.issues.length > 0;
      const priced = status === 'blocked'
        ? BLOCKED
        : !usage
        ? NOT_BILLED
        : noTokens
          ? NO_USAGE
          : book.price(init.provider, model, u.breakdown, u.inputTokens, { timeMs: this.startMs, batch: init.batch, serviceTier: u.serviceTier, webSearchTool: u.webSearchTool });
      // A call billed for what we could not read (no usage, or a stream stopped early: the provider
      // bills what it generated until then) counts at its worst case, or the budget would not bound it.
      const held = this.reservation?.amount ?? 0n;
      if (held > 0n && (status === 'aborted' || priced.costUsd === null)) stillHeld = held - (priced.costUsd ?? 0n);
      if (stillHeld < 0n) stillHeld = 0n;
      // A durable hold shrinks to the exact cost; an unknown or partial one stays whole until the row lands.
      if (this.durableGate && this.rowId && status !== 'aborted' && priced.costUsd !== null) this.durableGate.settle(this.rowId, priced.costUsd);
      let metadata = this.notes;
      if (u.issues.length) (metadata ??= {}).usage_issues = u.issues;
      // The fee per search depends on the tool on some models: kept so a re-price can price it the same way.
      if (u.webSearchTool) (metadata ??= {}).web_search_tool = u.webSearchTool;
      if (model !== init.requestModel && init.requestModel) (metadata ??= {}).request_model = init.requestModel;
      if (kept) (metadata ??= {}).request = kept;
      recordCall(
        {
          provider: init.provider,
          model,
          operation: init.operation,
          inputTokens: u.inputTokens,
          outputTokens: u.outputTokens,
          cachedTokens: u.cachedTokens,
          tokenBreakdown: u.breakdown,
          costUsd: priced.costUsd,
          pricingModel: priced.pricingModel,
          pricingSource: priced.pricingSource,
          pricingFlags: u.pricingNotes ? [...u.pricingNotes, ...(priced.flags ?? [])] : priced.flags,
          // A batch result is billed as batch whatever tier its body names.
          serviceTier: init.batch ? 'batch' : (u.serviceTier ?? null),
          catalogVersion: priced.catalogVersion,
          latencyMs: this.latencyMs,
          // Every attempt is sent before the outcome is known (a stream is never retried once it
          // started), so the count is complete here.
          attempts: this.attempts.attempts,
          status,
          errorClass: error === undefined ? null : errorClassOf(error),
          streamed: init.streamed,
          tags: init.callTags,
          clientTags: init.options.tags,
          metadata,
          time: new Date(this.startMs),
          spanId: init.spanId ?? this.rowId,
        },
        // null keeps "no trace at call time" (undefined would mean the trace active now).
        this.context ?? null,
      );
    } catch (e) {
      runtime.warn(`Kostrack could not record a ${this.init.provider} call: ${errorClassOf(e)}`);
    } finally {
      // The cost (if any) is now in the spans' totals: the worst case held for it is given back,
      // but for what an unknown or partial cost leaves uncovered.
      const reservation = this.reservation;
      this.reservation = null;
      if (reservation) releaseReservation(stillHeld > 0n ? { nodes: reservation.nodes, amount: reservation.amount - stillHeld } : reservation);
    }
  }

  /** The privacy hook's answer; run where the call ends, in the caller's async context. */
  private userMetadata(responseModel: unknown): Record<string, unknown> | undefined {
    const hook = this.init.options.metadata;
    if (!hook) return undefined;
    try {
      const kept = hook({ provider: this.init.provider, operation: this.init.operation, model: this.modelOf(responseModel), params: this.init.params });
      return kept && typeof kept === 'object' ? kept : undefined;
    } catch (e) {
      runtime.warn(`Kostrack metadata hook threw ${errorClassOf(e)}; no request metadata kept`);
      return undefined;
    }
  }
}
