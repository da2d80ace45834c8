/** Metadata key of `@Trace()` options on a class or method; read by the trace interceptor. */
export const TRACE_METADATA = 'kostrack:trace';
export const DEFAULT_TRACE_ID_HEADER = 'x-kostrack-trace-id';
