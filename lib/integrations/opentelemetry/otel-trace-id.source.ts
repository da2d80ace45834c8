import { isSpanContextValid, trace } from '@opentelemetry/api';
import { hexToUuid } from '../../core/ids.js';
import { setTraceIdSource } from '../../core/runtime.js';

/**
 * Makes every new Kostrack trace opened while an OpenTelemetry span is active take that span's
 * trace id (and record the span as its caller), so a cost row and the request's distributed
 * trace share one id. W3C trace ids map to UUIDs losslessly. Returns a function that undoes it.
 */
export function adoptOpenTelemetryTraceIds(): () => void {
  return setTraceIdSource(() => {
    const sc = trace.getActiveSpan()?.spanContext();
    if (!sc || !isSpanContextValid(sc)) return undefined;
    return { traceId: hexToUuid(sc.traceId), parentSpanId: hexToUuid(sc.spanId) };
  });
}
