import { performance } from 'node:perf_hooks';
import { recordCall, type CallStatus, type Tags } from '../core/index.js';
import { runtime } from '../core/runtime.js';
import { errorClassOf } from '../core/span-lifecycle.js';
import type { TraceContext } from '../core/trace-context.js';
import { defaultPriceBook, type PriceBook } from '../pricing/index.js';
import type { NormalizedUsage } from './usage-reader.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

/** Everything about one tracked call, captured when the call was made. */
export interface CallScopeInit {
  provider: string;
  operation: string;
  requestModel: string;
  streamed: boolean;
  batch?: boolean;
  params: unknown;
  callTags: Tags | undefined;
  options: ResolvedWrapOptions;
}

/**
 * One tracked call from request to record. It captures the active trace when the call is made (a
 * stream consumed later, elsewhere, still belongs to it) and records exactly once, whichever of
 * success, error or abandonment comes first.
 */
export class CallScope {
  private readonly context: TraceContext | undefined = runtime.als.getStore();
  private readonly startMs = Date.now();
  private readonly start = performance.now();
  private done = false;
  /** Extra row metadata gathered while the call runs (ids, batch ids, stream notes). */
  readonly notes: Record<string, unknown> = {};

  constructor(readonly init: CallScopeInit) {}

  get finished(): boolean {
    return this.done;
  }

  ok(usage: NormalizedUsage, responseModel: unknown, status: CallStatus = 'ok', error?: unknown): void {
    this.finish(status, usage, responseModel, error);
  }

  fail(error: unknown, usage?: NormalizedUsage, responseModel?: unknown): void {
    this.finish('error', usage, responseModel, error);
  }

  private finish(status: CallStatus, usage: NormalizedUsage | undefined, responseModel: unknown, error: unknown): void {
    if (this.done) return;
    this.done = true;
    try {
      const { init } = this;
      const model = typeof responseModel === 'string' && responseModel !== '' ? responseModel : init.requestModel;
      const book: PriceBook = init.options.priceBook ?? defaultPriceBook();
      const u = usage ?? { inputTokens: 0, outputTokens: 0, cachedTokens: 0, breakdown: {}, issues: [] };
      // A failed call with no usage was not billed; a successful one without readable usage has an unknown cost (null, never a silent $0).
      const noTokens = u.inputTokens === 0 && u.outputTokens === 0 && u.issues.length > 0;
      const priced = !usage
        ? { costUsd: 0n, pricingModel: null, pricingSource: 'not-billed' }
        : noTokens
          ? { costUsd: null, pricingModel: null, pricingSource: 'no-usage' }
          : book.price(init.provider, model, u.breakdown, u.inputTokens, { timeMs: this.startMs, batch: init.batch });
      const metadata: Record<string, unknown> = { ...this.notes };
      if (u.issues.length) metadata.usage_issues = u.issues;
      if (model !== init.requestModel && init.requestModel) metadata.request_model = init.requestModel;
      const kept = this.userMetadata(model);
      if (kept) metadata.request = kept;
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
          latencyMs: Math.round((performance.now() - this.start) * 1000) / 1000,
          status,
          errorClass: error === undefined ? null : errorClassOf(error),
          streamed: init.streamed,
          tags: init.callTags,
          clientTags: init.options.tags,
          metadata,
          time: new Date(this.startMs),
        },
        // null keeps "no trace at call time" (undefined would mean the trace active now).
        this.context ?? null,
      );
    } catch (e) {
      runtime.warn(`Kostrack could not record a ${this.init.provider} call: ${errorClassOf(e)}`);
    }
  }

  private userMetadata(model: string): Record<string, unknown> | undefined {
    const hook = this.init.options.metadata;
    if (!hook) return undefined;
    try {
      const kept = hook({ provider: this.init.provider, operation: this.init.operation, model, params: this.init.params });
      return kept && typeof kept === 'object' ? kept : undefined;
    } catch (e) {
      runtime.warn(`Kostrack metadata hook threw ${errorClassOf(e)}; no request metadata kept`);
      return undefined;
    }
  }
}
