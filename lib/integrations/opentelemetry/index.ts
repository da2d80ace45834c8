import { trace, type Tracer } from '@opentelemetry/api';
import { addSink } from '../../core/sinks.js';
import { adoptOpenTelemetryTraceIds } from './otel-trace-id.source.js';
import { OpenTelemetrySink, type OpenTelemetrySinkOptions } from './otel.sink.js';

export { adoptOpenTelemetryTraceIds } from './otel-trace-id.source.js';
export { OpenTelemetrySink, type OpenTelemetrySinkOptions } from './otel.sink.js';
export { callAttributes, spanAttributes, genAiOperation } from './gen-ai.attributes.js';

export interface OpenTelemetryBridgeOptions extends OpenTelemetrySinkOptions {
  /** New Kostrack traces take the active OTel span's trace id. Default true. */
  adoptTraceIds?: boolean | undefined;
  /** Emit Kostrack spans and calls as OTel spans. Default true. */
  emit?: boolean | undefined;
  /** Default: `trace.getTracer('@kostrack/nestjs')` from the global provider. */
  tracer?: Tracer | undefined;
}

/**
 * Connects Kostrack to OpenTelemetry (`@opentelemetry/api`, an optional peer): call once at
 * start, after the OTel SDK is set up. Returns a function that disconnects it.
 */
export function enableOpenTelemetry(options: OpenTelemetryBridgeOptions = {}): () => void {
  const undo: (() => void)[] = [];
  if (options.adoptTraceIds !== false) undo.push(adoptOpenTelemetryTraceIds());
  if (options.emit !== false) undo.push(addSink(new OpenTelemetrySink(options.tracer ?? trace.getTracer('@kostrack/nestjs'), options)));
  return () => undo.forEach((fn) => fn());
}
