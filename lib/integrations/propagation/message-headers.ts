import { remoteParentFrom } from '../../core/traceparent.js';
import { trace, type TraceOptions } from '../../core/trace.js';
import type { TraceContext } from '../../core/trace-context.js';
import { outgoingTraceHeaders, type TraceHeaders } from './outgoing-headers.js';

/**
 * Trace headers for a @nestjs/microservices message, written by the client side:
 * - NATS: `new NatsRecordBuilder(data).setHeaders(natsHeaders(messageTraceHeaders()))`
 * - RabbitMQ: `new RmqRecordBuilder(data).setOptions({ headers: messageTraceHeaders() })`
 * - Kafka: `client.emit(topic, { value: data, headers: messageTraceHeaders() })`
 * - MQTT 5: `new MqttRecordBuilder(data).setProperties({ userProperties: messageTraceHeaders() })`
 * - TCP / Redis (no headers): `client.send(pattern, { ...data, ...messageTraceHeaders() })`
 * On the server, `@Trace()` on the `@MessagePattern` handler continues the trace from any of these.
 */
export function messageTraceHeaders(context?: TraceContext): TraceHeaders {
  return outgoingTraceHeaders(context);
}

/**
 * Runs `fn` in a trace that continues the caller's, read from `carrier` (HTTP or message headers,
 * a `Headers`/`Map`, or a payload with `traceparent`). A missing or malformed header starts a fresh
 * trace instead of failing: for workers, queue consumers and handlers outside Nest's interceptors.
 */
export function continueTrace<T>(carrier: unknown, fn: (context: TraceContext) => T): T;
export function continueTrace<T>(carrier: unknown, options: Omit<TraceOptions, 'traceId' | 'parentSpanId'>, fn: (context: TraceContext) => T): T;
export function continueTrace<T>(
  carrier: unknown,
  optionsOrFn: Omit<TraceOptions, 'traceId' | 'parentSpanId'> | ((context: TraceContext) => T),
  maybeFn?: (context: TraceContext) => T,
): T {
  const [options, fn] = typeof optionsOrFn === 'function' ? [{}, optionsOrFn] : [optionsOrFn ?? {}, maybeFn!];
  const remote = remoteParentFrom(carrier);
  if (!remote) return trace(options, fn);
  // A remote parent always starts this process's part of the trace, even inside another trace.
  return trace({ ...options, traceId: remote.traceId, parentSpanId: remote.parentSpanId }, fn);
}
