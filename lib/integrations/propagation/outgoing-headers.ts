import { currentTrace } from '../../core/trace.js';
import { traceHeaders } from '../../core/traceparent.js';
import type { TraceContext } from '../../core/trace-context.js';

/** W3C trace headers; empty outside a trace, so they can always be spread into a request. */
export type TraceHeaders = { traceparent: string; tracestate: string } | Record<string, never>;

/**
 * Headers that let the service you call continue the active trace:
 * `fetch(url, { headers: { ...outgoingTraceHeaders(), 'content-type': 'application/json' } })`.
 * The callee (a Nest app with `@Trace()` routes, or `continueTrace`) joins the same trace, so
 * both services' calls add up to one total.
 */
export function outgoingTraceHeaders(context: TraceContext | undefined = currentTrace()): TraceHeaders {
  return context ? traceHeaders(context) : {};
}
