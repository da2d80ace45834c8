import { AsyncLocalStorage } from 'node:async_hooks';
import type { TraceContext } from './trace-context.js';
import type { TelemetrySink } from './call-record.js';
import type { DeferredQueue } from './deferred-records.js';
import { EMPTY_TAGS, type Tags } from './tags.js';
import { isUuid } from './ids.js';
import { KostrackConfigError } from './errors.js';

/** Process-wide state. Lives on `globalThis` so two loaded copies of the package share one store. */
export interface Runtime {
  readonly als: AsyncLocalStorage<TraceContext>;
  sinks: TelemetrySink[];
  enabled: boolean;
  serviceId: string;
  /** Module-level tags, applied under trace tags. */
  tags: Tags;
  /** Reports sink failures and dropped tags; never throws. */
  warn: (message: string) => void;
  /**
   * Asked when a new root trace opens with no trace id of its own: lets a bridge (OpenTelemetry)
   * hand over the ambient trace so both systems share one id. Undefined = draw a fresh id.
   */
  traceIdSource?: TraceIdSource | undefined;
  /** Calls whose bookkeeping waits for the next turn (see deferred-records.ts); created on first use. */
  deferred?: DeferredQueue | undefined;
}

/** An ambient trace to join: its id, and the span that is our caller (both UUIDs). */
export type TraceIdSource = () => { traceId: string; parentSpanId?: string } | undefined;

const KEY = Symbol.for('kostrack.runtime.v1');
type Holder = { [KEY]?: Runtime };

function create(): Runtime {
  return {
    als: new AsyncLocalStorage<TraceContext>(),
    sinks: [],
    enabled: true,
    serviceId: process.env.KOSTRACK_SERVICE_ID ?? 'default',
    tags: EMPTY_TAGS,
    warn: (message) => process.emitWarning(message, { code: 'KOSTRACK' }),
  };
}

export const runtime: Runtime = ((globalThis as Holder)[KEY] ??= create());

export interface RuntimeOptions {
  enabled?: boolean | undefined;
  serviceId?: string | undefined;
  tags?: Tags | undefined;
  warn?: ((message: string) => void) | undefined;
}

/** Throws a {@link KostrackConfigError} unless `serviceId` is a non-empty string of at most 128 characters. */
export function assertServiceId(serviceId: unknown, where: string): asserts serviceId is string {
  if (typeof serviceId !== 'string' || serviceId === '' || serviceId.length > 128)
    throw new KostrackConfigError(`${where}: serviceId must be a non-empty string of at most 128 characters`);
}

/** Installs the source of ambient trace ids (one at a time); returns a function that removes it. */
export function setTraceIdSource(source: TraceIdSource): () => void {
  runtime.traceIdSource = source;
  return () => {
    if (runtime.traceIdSource === source) runtime.traceIdSource = undefined;
  };
}

/** The source's answer when it is well-formed; a throwing or malformed source never breaks a trace. */
export function ambientTrace(): { traceId: string; parentSpanId: string | null } | undefined {
  const source = runtime.traceIdSource;
  if (!source) return undefined;
  try {
    const found = source();
    if (!found || !isUuid(found.traceId)) return undefined;
    return { traceId: found.traceId.toLowerCase(), parentSpanId: isUuid(found.parentSpanId) ? found.parentSpanId.toLowerCase() : null };
  } catch {
    return undefined;
  }
}
