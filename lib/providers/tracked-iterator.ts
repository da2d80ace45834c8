import { missingUsage } from './usage-reader.js';
import type { CallScope } from './call-tracker.js';

/** What a provider does with a stream: watch each item, decide what the user sees, record at the end. */
export interface StreamWatcher<I> {
  /** Sees every item; return false to hide it from the user (our injected usage chunk). */
  observe(item: I): boolean;
  /** Records the call: `complete` when the stream ended normally. */
  finish(scope: CallScope, how: { complete: boolean; error?: unknown }): void;
}

/**
 * Wraps an async iterator so the call is recorded exactly once: when the stream ends, when the
 * user stops early (`break`, a throw in their loop: status aborted), or when it fails midway
 * (aborted, with the error's class). Items pass through unchanged.
 */
export async function* watchStream<I>(source: AsyncIterator<I>, scope: CallScope, watcher: StreamWatcher<I>): AsyncGenerator<I> {
  let complete = false;
  let failure: unknown;
  try {
    while (true) {
      let step: IteratorResult<I>;
      try {
        step = await source.next();
      } catch (error) {
        failure = error;
        throw error;
      }
      if (step.done) break;
      let show = true;
      try {
        show = watcher.observe(step.value);
      } catch {
        // A watcher bug must never break the user's stream.
      }
      if (show) yield step.value;
    }
    complete = true;
  } finally {
    try {
      // On early exit, let the SDK close the connection (it aborts the request in its own finally).
      if (!complete && failure === undefined) await source.return?.();
    } finally {
      // Recorded even if closing the connection fails: the call was billed.
      if (!scope.finished) watcher.finish(scope, { complete, error: failure });
    }
  }
}

/**
 * Stainless `Stream` objects (openai, anthropic) are iterated through their `iterator` factory,
 * also by `tee()` and `toReadableStream()`. Replacing the factory on this call's own instance keeps
 * the object, its class and its `controller` exactly as the SDK made them.
 */
export function watchStainlessStream<S extends object>(stream: S, scope: CallScope, watcher: StreamWatcher<unknown>): S {
  const s = stream as unknown as { iterator?: () => AsyncIterator<unknown> };
  if (typeof s.iterator !== 'function') {
    if (typeof (stream as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      return watchStream((stream as AsyncIterable<unknown>)[Symbol.asyncIterator](), scope, watcher) as unknown as S;
    }
    scope.ok(missingUsage('stream: unexpected shape'), undefined);
    return stream;
  }
  const inner = s.iterator.bind(stream);
  s.iterator = () => watchStream(inner(), scope, watcher);
  return stream;
}
