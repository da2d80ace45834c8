import { AsyncLocalStorage } from 'node:async_hooks';
import type { TraceContext } from './trace-context.js';
import type { TelemetrySink } from './call-record.js';
import { EMPTY_TAGS, type Tags } from './tags.js';

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
}

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
  enabled?: boolean;
  serviceId?: string;
  tags?: Tags;
  warn?: (message: string) => void;
}

/** Sets process-wide options (the Nest module calls this from `forRoot`). */
export function configureKostrack(options: RuntimeOptions): void {
  if (options.enabled !== undefined) runtime.enabled = options.enabled;
  if (options.serviceId !== undefined) runtime.serviceId = options.serviceId;
  if (options.tags !== undefined) runtime.tags = options.tags;
  if (options.warn !== undefined) runtime.warn = options.warn;
}

/** Adds a sink; returns a function that removes it. */
export function addSink(sink: TelemetrySink): () => void {
  runtime.sinks = [...runtime.sinks, sink];
  return () => {
    runtime.sinks = runtime.sinks.filter((s) => s !== sink);
  };
}
