import type { TelemetrySink } from './call-record.js';
import { drainRecords } from './deferred-records.js';
import { runtime } from './runtime.js';

/**
 * Adds a sink; returns a function that removes it. Calls finished before the change go to the
 * sinks that were there when they finished, never to a sink added later.
 */
export function addSink(sink: TelemetrySink): () => void {
  drainRecords();
  runtime.sinks = [...runtime.sinks, sink];
  return () => {
    drainRecords();
    runtime.sinks = runtime.sinks.filter((s) => s !== sink);
  };
}
