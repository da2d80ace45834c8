import type { CallInput, CallRecord } from './call-record.js';
import { newId } from './ids.js';
import { runtime } from './runtime.js';
import { errorClassOf } from './span-lifecycle.js';
import { EMPTY_TAGS, mergeTags } from './tags.js';
import type { TraceContext } from './trace-context.js';

/**
 * The one entry point through which providers record a finished LLM call. It links the call
 * to `context` (default: the active span), rolls its cost up through every ancestor, and hands
 * the record to the sinks. It never throws: tracking must not break the user's call.
 */
export function recordCall(input: CallInput, context: TraceContext | undefined = runtime.als.getStore()): CallRecord | null {
  if (!runtime.enabled) return null;
  try {
    const tags = { ...mergeTags(input.clientTags, context ? context.tags : runtime.tags, input.tags) } as Record<string, string>;
    if (context) tags.span_name = context.name;
    const record: CallRecord = {
      provider: input.provider,
      model: input.model,
      operation: input.operation,
      inputTokens: input.inputTokens,
      outputTokens: input.outputTokens,
      cachedTokens: input.cachedTokens,
      tokenBreakdown: input.tokenBreakdown,
      costUsd: input.costUsd,
      pricingModel: input.pricingModel,
      pricingSource: input.pricingSource,
      latencyMs: input.latencyMs,
      status: input.status,
      errorClass: input.errorClass ?? null,
      streamed: input.streamed,
      spanId: newId(),
      traceId: context ? context.traceId : null,
      // The seed: NULL for calls made directly in the trace's own root.
      parentSpanId: !context || (context.isRoot && context.parentSpanId === null) ? null : context.spanId,
      time: input.time ?? new Date(Date.now() - input.latencyMs),
      serviceId: runtime.serviceId,
      tags: tags === EMPTY_TAGS ? EMPTY_TAGS : tags,
      metadata: input.metadata ?? {},
    };
    context?.addCall(record);
    for (const sink of runtime.sinks) {
      try {
        sink.recordCall(record);
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
