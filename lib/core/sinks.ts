import type { TelemetrySink } from './call-record.js';
import { drainRecords } from './deferred-records.js';
import { runtime } from './runtime.js';

/** Sinks kept after their owner closed, until another takes over (see {@link retireSink}). */
const retired = new WeakSet<TelemetrySink>();

/**
 * Adds a sink; returns a function that removes it. Calls finished before the change go to the
 * sinks that were there when they finished, never to a sink added later. A new sink replaces
 * every retired one.
 */
export function addSink(sink: TelemetrySink): () => void {
  drainRecords();
  runtime.sinks = [...runtime.sinks.filter((s) => !retired.has(s)), sink];
  return () => {
    drainRecords();
    runtime.sinks = runtime.sinks.filter((s) => s !== sink);
  };
}

/**
 * Keeps a closed storage writer as a sink until another sink is added: calls that finish after
 * storage closed (requests still in flight at shutdown, background jobs) reach its spool and are
 * written at the next start, instead of vanishing with the detached sink.
 */
export function retireSink(sink: TelemetrySink): void {
  drainRecords();
  if (runtime.sinks.includes(sink)) retired.add(sink);
}
