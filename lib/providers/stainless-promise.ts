import { missingUsage } from './usage-reader.js';
import type { CallScope } from './call-tracker.js';

/** The parts of the Stainless-generated `APIPromise` (openai, @anthropic-ai/sdk) we rely on. */
interface StainlessPromise<T> extends Promise<T> {
  responsePromise: Promise<unknown>;
  parseResponse: (client: unknown, props: unknown) => unknown;
  parsedPromise?: Promise<unknown>;
  _thenUnwrap<U>(transform: (data: T, props: unknown) => U): StainlessPromise<U>;
  asResponse(): Promise<Response>;
}

function isStainless(p: unknown): p is StainlessPromise<unknown> {
  return p instanceof Promise && typeof (p as StainlessPromise<unknown>)._thenUnwrap === 'function' && 'responsePromise' in p;
}

/**
 * Tracks a call that returns an SDK `APIPromise` and returns that same `APIPromise`, so `withResponse()`, `asResponse()` and `_request_id` work as without Kostrack. The
 * response is parsed once, by whoever consumes it (we never read the body ourselves).
 * `onData` sees the parsed data (recording it, or wrapping a stream) and returns what the user gets.
 */
export function trackApiPromise<T>(promise: T, scope: CallScope, onData: (data: unknown) => unknown): T {
  if (!isStainless(promise)) {
    // Not the shape we know (a future SDK): still track through the plain Promise contract.
    if (!(promise instanceof Promise)) return promise;
    return promise.then(
      (data) => onData(data),
      (error) => {
        scope.fail(error);
        throw error;
      },
    ) as T;
  }
  // The user's own APIPromise is kept and instrumented in place: no second APIPromise, no second
  // parse chain (that doubled the SDK's per-call allocations).
  const tracked = promise;
  // HTTP errors, timeouts and connection failures reject the response promise before any parse.
  tracked.responsePromise = promise.responsePromise.then(undefined, (error: unknown) => {
    scope.fail(error);
    throw error;
  });
  const parse = tracked.parseResponse;
  const failed = (error: unknown) => {
    scope.fail(error);
    throw error;
  };
  // One `.then` hop on the SDK's own parse (an async wrapper cost several microtasks per call).
  tracked.parseResponse = (client: unknown, props: unknown) => {
    let parsed: unknown;
    try {
      parsed = parse(client, props);
    } catch (error) {
      failed(error);
    }
    return Promise.resolve(parsed).then(onData, failed);
  };
  const asResponse = tracked.asResponse;
  // `asResponse()` alone hands the user the unread body: we cannot see usage, so the row says so.
  // (`withResponse()` parses first, which sets `parsedPromise` before it calls `asResponse()`.)
  Object.defineProperty(tracked, 'asResponse', {
    configurable: true,
    writable: true,
    value: function asResponseTracked(this: StainlessPromise<unknown>) {
      const result = asResponse.call(this);
      if (!this.parsedPromise) {
        result.then(
          () => {
            if (this.parsedPromise) return;
            scope.notes.raw_response = true;
            scope.ok(missingUsage('usage: not read (asResponse)'), undefined);
          },
          () => undefined,
        );
      }
      return result;
    },
  });
  return tracked as T;
}
