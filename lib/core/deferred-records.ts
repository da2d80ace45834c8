import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as nextTurn } from 'node:timers';
import { runtime } from './runtime.js';

/**
 * Runs a function in the async context of this module's loading: no request's stores. A turn's
 * queue holds many requests' calls, so sinks must not see the context of whichever scheduled it.
 */
const outsideAnyRequest = AsyncLocalStorage.snapshot();

/** A finished call whose pricing and row have not been built yet. */
export interface DeferredRecord {
  recordNow(): void;
}

export interface DeferredQueue {
  tasks: DeferredRecord[];
  head: number;
  scheduled: boolean;
}

/**
 * Tracked clients hand the response to the caller first and do their bookkeeping after: work done
 * between a response and the caller's next step delays that step (and, on a real socket, more than
 * the work itself costs). The queue runs on the next turn of the event loop, by then usually
 * during the caller's next network wait, or sooner, whenever anyone needs the results: a span or
 * trace ending, a total being read, a sink being added or removed, `configureKostrack()`, the
 * storage flushing or closing. So no reader can ever observe a call as missing.
 */
export function deferRecord(task: DeferredRecord): void {
  const q = queue();
  q.tasks.push(task);
  if (!q.scheduled) {
    q.scheduled = true;
    // The module's own binding, not the global: fake timers in the user's tests replace the global
    // and would hold our bookkeeping back until they are advanced.
    nextTurn(runScheduled);
  }
}

/** Runs every deferred record now. Cheap when there are none; safe to call re-entrantly. */
export function drainRecords(): void {
  const q = runtime.deferred;
  if (q === undefined || q.head === q.tasks.length) return;
  while (q.head < q.tasks.length) {
    const task = q.tasks[q.head++];
    try {
      task.recordNow();
    } catch (e) {
      runtime.warn(`Kostrack could not record a call: ${(e as Error)?.constructor?.name ?? typeof e}`);
    }
  }
  q.tasks.length = 0;
  q.head = 0;
  // An emptied queue needs no pending turn: a lost immediate (fake timers switched off before it
  // ran) must not stop the next call from scheduling one. An extra immediate finds nothing to do.
  q.scheduled = false;
}

function runScheduled(): void {
  outsideAnyRequest(drainRecords);
}

function queue(): DeferredQueue {
  // On the shared runtime, so two loaded copies of the package drain one queue.
  return (runtime.deferred ??= { tasks: [], head: 0, scheduled: false });
}
