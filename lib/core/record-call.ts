import { isSoundCallInput, repairCallInput } from './call-input.guard.js';
import type { CallInput, CallRecord, CallStatus, TokenBreakdown } from './call-record.js';
import { newId } from './ids.js';
import type { Usd } from './money.js';
import { runtime } from './runtime.js';
import { errorClassOf } from './span-lifecycle.js';
import { EMPTY_TAGS, mergeTags, type Tags } from './tags.js';
import type { TraceContext } from './trace-context.js';

/** A caller-given span id must be a UUID: the column is `uuid`, and a bad one would dead-letter the row. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const NO_METADATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/**
 * A recorded call. Its merged tags and its Date are built when first read (by the writer, in a
 * batch) rather than on the tracked call's path.
 */
class RecordedCall implements CallRecord {
  readonly provider: string;
  readonly model: string;
  readonly operation: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly tokenBreakdown: TokenBreakdown;
  readonly costUsd: Usd | null;
  readonly pricingModel: string | null;
  readonly pricingSource: string;
  readonly pricingFlags: readonly string[] | null;
  readonly serviceTier: string | null;
  readonly catalogVersion: string | null;
  readonly latencyMs: number;
  /** Null when unknown (see {@link CallInput.attempts}). */
  readonly attempts: number | null;
  readonly status: CallStatus;
  readonly errorClass: string | null;
  readonly streamed: boolean;
  readonly spanId: string;
  readonly keyed: boolean;
  readonly traceId: string | null;
  readonly parentSpanId: string | null;
  readonly serviceId: string;
  readonly metadata: Record<string, unknown>;
  /** Epoch milliseconds when the call started. */
  readonly startMs: number;
  private merged: Tags | undefined;

  constructor(
    input: CallInput,
    private readonly context: TraceContext | undefined,
    private readonly moduleTags: Tags,
    private readonly clientTags: Tags | undefined,
    private readonly ownTags: Tags | undefined,
  ) {
    this.provider = input.provider;
    this.model = input.model;
    this.operation = input.operation;
    this.inputTokens = input.inputTokens;
    this.outputTokens = input.outputTokens;
    this.cachedTokens = input.cachedTokens;
    this.tokenBreakdown = input.tokenBreakdown;
    this.costUsd = input.costUsd;
    this.pricingModel = input.pricingModel;
    this.pricingSource = input.pricingSource;
    this.pricingFlags = input.pricingFlags && input.pricingFlags.length > 0 ? input.pricingFlags : null;
    this.serviceTier = input.serviceTier ?? null;
    this.catalogVersion = input.catalogVersion ?? null;
    this.latencyMs = input.latencyMs;
    this.attempts = input.attempts ?? null;
    this.status = input.status;
    this.errorClass = input.errorClass ?? null;
    this.streamed = input.streamed;
    this.keyed = typeof input.spanId === 'string' && UUID.test(input.spanId);
    this.spanId = this.keyed ? input.spanId!.toLowerCase() : newId();
    this.traceId = context ? context.traceId : null;
    // The seed: NULL for calls made directly in the trace's own root.
    this.parentSpanId = !context || (context.parent === null && context.parentSpanId === null) ? null : context.spanId;
    this.serviceId = runtime.serviceId;
    this.metadata = input.metadata ?? NO_METADATA;
    this.startMs = input.time ? input.time.getTime() : Date.now() - input.latencyMs;
  }

  get time(): Date {
    return new Date(this.startMs);
  }

  /** client < module < trace < span < call, with `span_name` the innermost span's name. */
  get tags(): Tags {
    if (this.merged) return this.merged;
    const ctx = this.context;
    const own = this.ownTags && this.ownTags !== EMPTY_TAGS ? this.ownTags : undefined;
    this.merged = ctx
      ? own
        ? mergeTags(ctx.callTags(this.clientTags), own, ctx.spanNameTag)
        : ctx.callTags(this.clientTags)
      : mergeTags(this.clientTags, this.moduleTags, own);
    return this.merged;
  }

  /** The record's fields (money stays a bigint of 1e-15 USD; serialise it with a replacer). */
  toJSON(): CallRecord {
    const { context: _c, moduleTags: _m, clientTags: _ct, ownTags: _o, merged: _t, ...fields } = this;
    return { ...fields, time: this.time, tags: this.tags };
  }
}

/**
 * The one entry point through which providers record a finished LLM call. It links the call
 * to `context` (default: the active span; `null` for none), rolls its cost up through every ancestor, and hands
 * the record to the sinks. It never throws: tracking must not break the user's call.
 */
export function recordCall(input: CallInput, context: TraceContext | null | undefined = runtime.als.getStore()): CallRecord | null {
  if (!runtime.enabled) return null;
  try {
    // Storage would dead-letter a row whose numbers overflow their columns or whose time is invalid; only a bad input is copied.
    if (!isSoundCallInput(input)) input = repairCallInput(input);
    // `null` means "made outside any trace" (a stream created outside one but read inside one).
    const record = new RecordedCall(input, context ?? undefined, runtime.tags, input.clientTags, input.tags);
    context?.addCall(record);
    const sinks = runtime.sinks;
    for (let i = 0; i < sinks.length; i++) {
      try {
        sinks[i].recordCall(record);
      } catch (e) {
        runtime.warn(`Kostrack sink failed to take a call: ${errorClassOf(e)}`);
      }
    }
    return record;
  } catch (e) {
    runtime.warn(`Kostrack could not record a ${String(input?.provider)} call: ${errorClassOf(e)}`);
    return null;
  }
}
