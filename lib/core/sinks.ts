import type { TelemetrySink } from './call-record.js';
import { drainRecords } from './deferred-records.js';
import { runtime } from './runtime.js';

/** Sinks kept after their owner closed, until another takes over (see {@link retireSink}). */
const retired = new WeakSet<TelemetrySink>();

/**
 * Adds a sink; returns a function that removes it. Calls finished before the change go to the
 * sinks that were there when they finished, never to a sink added later.
 */
export function addSink(sink: TelemetrySink): () => void {
  return add(sink, false);
}

/** Adds a storage writer: it takes over from every retired one (see {@link retireSink}). Internal. */
export function addStorageSink(sink: TelemetrySink): () => void {
  return add(sink, true);
}

function add(sink: TelemetrySink, replacesRetired: boolean): () => void {
  drainRecords();
  runtime.sinks = [...(replacesRetired ? runtime.sinks.filter((s) => !retired.has(s)) : runtime.sinks), sink];
  return () => {
    drainRecords();
    runtime.sinks = runtime.sinks.filter((s) => s !== sink);
  };
}

/**
 * Keeps a closed storage writer as a sink until another storage writer is added: calls that finish after
 * storage closed (requests still in flight at shutdown, background jobs) reach its spool and are
 * written at the next start, instead of vanishing with the detached sink.
 */
export function retireSink(sink: TelemetrySink): void {
  drainRecords();
  if (runtime.sinks.includes(sink)) retired.add(sink);
}
