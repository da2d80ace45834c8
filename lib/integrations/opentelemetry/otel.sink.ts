import { type Context, ROOT_CONTEXT, type SpanContext, SpanKind, SpanStatusCode, TraceFlags, type Tracer, trace } from '@opentelemetry/api';
import type { CallRecord, SpanRecord, TelemetrySink } from '../../core/call-record.js';
import { uuidToHex } from '../../core/ids.js';
import { callAttributes, genAiOperation, requestModelOf, spanAttributes } from './gen-ai.attributes.js';

export interface OpenTelemetrySinkOptions {
  /** Emit named Kostrack spans (`trace()`, `@Span`) too, not only the LLM calls. Default true. */
  exportSpans?: boolean | undefined;
  /** Traces held while their root is still open; past it the oldest is emitted as it stands. Default 10,000. */
  maxPendingTraces?: number | undefined;
}

interface Pending {
  spans: SpanRecord[];
  calls: CallRecord[];
}

/**
 * Emits Kostrack spans and calls as OpenTelemetry spans with `gen_ai.*` attributes. OTel picks
 * span ids itself, and a call finishes before the span that encloses it, so each trace is held
 * until this process's root closes and then emitted top-down with the real start and end times:
 * the backend gets the same tree Kostrack stores. A root that continued a remote caller (W3C
 * `traceparent`, or an adopted OTel span) is parented to it, so the trace ids match.
 */
export class OpenTelemetrySink implements TelemetrySink {
  private readonly pending = new Map<string, Pending>();
  /** Kostrack span id → its emitted OTel span, for children that end after their root (bounded). */
  private readonly emitted = new Map<string, SpanContext>();
  private readonly exportSpans: boolean;
  private readonly maxPending: number;

  constructor(
    private readonly tracer: Tracer,
    options: OpenTelemetrySinkOptions = {},
  ) {
    this.exportSpans = options.exportSpans ?? true;
    this.maxPending = options.maxPendingTraces ?? 10_000;
  }

  recordCall(call: CallRecord): void {
    if (call.traceId === null) return this.emitCall(call, ROOT_CONTEXT);
    const late = call.parentSpanId ? this.emitted.get(call.parentSpanId) : undefined;
    if (late) return this.emitCall(call, trace.setSpanContext(ROOT_CONTEXT, late));
    this.bucket(call.traceId).calls.push(call);
  }

  recordSpan(span: SpanRecord): void {
    const late = span.parentSpanId ? this.emitted.get(span.parentSpanId) : undefined;
    if (late && !span.isRoot) {
      this.emitTree(span, trace.setSpanContext(ROOT_CONTEXT, late), { spans: [span], calls: [] });
      return;
    }
    const bucket = this.bucket(span.traceId);
    bucket.spans.push(span);
    if (span.isRoot) {
      this.pending.delete(span.traceId);
      this.emitTree(span, this.remoteParent(span), bucket);
    }
  }

  private bucket(traceId: string): Pending {
    let bucket = this.pending.get(traceId);
    if (!bucket) {
      if (this.pending.size >= this.maxPending) this.evictOldest();
      bucket = { spans: [], calls: [] };
      this.pending.set(traceId, bucket);
    }
    return bucket;
  }

  private evictOldest(): void {
    const [traceId, bucket] = this.pending.entries().next().value as [string, Pending];
    this.pending.delete(traceId);
    for (const s of bucket.spans) this.emitTree(s, ROOT_CONTEXT, { spans: [s], calls: [] });
    for (const c of bucket.calls) this.emitCall(c, ROOT_CONTEXT);
  }

  /** The caller of this process's root: an OTel span context built from the Kostrack ids. */
  private remoteParent(root: SpanRecord): Context {
    if (!root.parentSpanId) return ROOT_CONTEXT;
    return trace.setSpanContext(ROOT_CONTEXT, {
      traceId: uuidToHex(root.traceId),
      spanId: uuidToHex(root.parentSpanId).slice(0, 16),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
  }

  /** Emits `root` and everything in `bucket` below it; leftovers (parents unknown) go under `root`. */
  private emitTree(root: SpanRecord, parent: Context, bucket: Pending): void {
    const spansByParent = groupBy(bucket.spans, (s) => s.parentSpanId);
    const callsByParent = groupBy(bucket.calls, (c) => c.parentSpanId ?? root.spanId);
    const done = new Set<unknown>();
    const visit = (span: SpanRecord, ctx: Context): Context => {
      done.add(span);
      const otel = this.exportSpans
        ? this.tracer.startSpan(span.name, { kind: SpanKind.INTERNAL, startTime: span.startTime, attributes: spanAttributes(span) }, ctx)
        : undefined;
      if (otel && span.status === 'error') otel.setStatus({ code: SpanStatusCode.ERROR });
      const inner = otel ? trace.setSpan(ctx, otel) : ctx;
      if (otel) this.remember(span.spanId, otel.spanContext());
      for (const call of callsByParent.get(span.spanId) ?? []) {
        done.add(call);
        this.emitCall(call, inner);
      }
      for (const child of spansByParent.get(span.spanId) ?? []) if (!done.has(child)) visit(child, inner);
      otel?.end(span.endTime);
      return inner;
    };
    const rootCtx = visit(root, parent);
    for (const s of bucket.spans) if (!done.has(s)) visit(s, rootCtx);
    for (const c of bucket.calls) if (!done.has(c)) this.emitCall(c, rootCtx);
  }

  private emitCall(call: CallRecord, parent: Context): void {
    const start = call.time;
    const otel = this.tracer.startSpan(
      `${genAiOperation(call.operation)} ${requestModelOf(call)}`,
      { kind: SpanKind.CLIENT, startTime: start, attributes: callAttributes(call) },
      parent,
    );
    if (call.status !== 'ok') otel.setStatus({ code: SpanStatusCode.ERROR });
    otel.end(new Date(start.getTime() + call.latencyMs));
  }

  private remember(spanId: string, sc: SpanContext): void {
    if (this.emitted.size >= 10_000) this.emitted.delete(this.emitted.keys().next().value as string);
    this.emitted.set(spanId, sc);
  }
}

function groupBy<T>(items: T[], key: (item: T) => string | null): Map<string | null, T[]> {
  const map = new Map<string | null, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}
