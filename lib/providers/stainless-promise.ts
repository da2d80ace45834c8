import { missingUsage } from './usage-reader.js';
import type { CallScope } from './call-tracker.js';

type ParseResponse = (client: unknown, props: unknown) => unknown;

/** The parts of the Stainless-generated `APIPromise` (openai, @anthropic-ai/sdk) we rely on. */
interface StainlessPromise<T> extends Promise<T> {
  responsePromise: Promise<unknown>;
  parseResponse: ParseResponse;
  parsedPromise?: Promise<unknown>;
  _thenUnwrap<U>(transform: (data: T, props: unknown) => U): StainlessPromise<U>;
  asResponse(): Promise<Response>;
}

/** What an instrumented APIPromise carries; shared functions read it instead of per-call closures. */
interface Tracking {
  scope: CallScope;
  onData: (data: unknown) => unknown;
  parse: ParseResponse;
  asResponse: () => Promise<Response>;
  thenUnwrap: StainlessPromise<unknown>['_thenUnwrap'];
}

const TRACKING = Symbol('kostrack.tracking');
type Tracked = StainlessPromise<unknown> & { [TRACKING]: Tracking };

function isStainless(p: unknown): p is StainlessPromise<unknown> {
  return p instanceof Promise && typeof (p as StainlessPromise<unknown>)._thenUnwrap === 'function' && 'responsePromise' in p;
}

/**
 * Replaces the SDK's `parseResponse` on one APIPromise. The SDK calls it as a method of that
 * promise (also from promises made by `_thenUnwrap`, which the OpenAI helpers use), so a shared
 * function reaches the call's tracking through `this`.
 */
function parseTracked(this: Tracked, client: unknown, props: unknown): unknown {
  const t = this[TRACKING];
  let parsed: unknown;
  try {
    parsed = t.parse.call(this, client, props);
  } catch (error) {
    t.scope.rethrow(error);
  }
  // One `.then` hop on the SDK's own parse (an async wrapper cost several microtasks per call).
  return Promise.resolve(parsed).then(t.onData, t.scope.rethrow);
}

/**
 * `asResponse()` alone hands the user the unread body: we cannot see usage, so the row says so.
 * (`withResponse()` parses first, which sets `parsedPromise` before it calls `asResponse()`.)
 */
function asResponseTracked(this: Tracked): Promise<Response> {
  const t = this[TRACKING];
  const result = t.asResponse.call(this);
  if (!this.parsedPromise) {
    result.then(
      () => {
        if (this.parsedPromise) return;
        t.scope.note('raw_response', true);
        t.scope.ok(missingUsage('usage: not read (asResponse)'), undefined);
      },
      () => undefined,
    );
  }
  return result;
}

/**
 * `_thenUnwrap()` derives the APIPromise the OpenAI helpers return (`parse`). It parses through
 * ours, so it is recorded when read; its own `asResponse()` needs the same watch as ours.
 */
function thenUnwrapTracked(this: Tracked, transform: (data: unknown, props: unknown) => unknown): StainlessPromise<unknown> {
  const t = this[TRACKING];
  const next = t.thenUnwrap.call(this, transform) as Tracked;
  next[TRACKING] = { ...t, asResponse: next.asResponse, thenUnwrap: next._thenUnwrap };
  next.asResponse = asResponseTracked;
  next._thenUnwrap = thenUnwrapTracked as Tracked['_thenUnwrap'];
  return next;
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
    return promise.then(onData, scope.rethrow) as T;
  }
  // The user's own APIPromise is instrumented in place: no second APIPromise, no second parse
  // chain (that doubled the SDK's per-call allocations), and no per-call closures of ours.
  const tracked = promise as unknown as Tracked;
  // Already tracked (a tracked method reached through another one): it records once, there.
  if (tracked[TRACKING] !== undefined) return promise;
  tracked[TRACKING] = { scope, onData, parse: promise.parseResponse, asResponse: promise.asResponse, thenUnwrap: promise._thenUnwrap };
  // HTTP errors, timeouts and connection failures reject the response promise before any parse.
  tracked.responsePromise = promise.responsePromise.then(undefined, scope.rethrow);
  tracked.parseResponse = parseTracked;
  tracked.asResponse = asResponseTracked;
  tracked._thenUnwrap = thenUnwrapTracked as Tracked['_thenUnwrap'];
  return promise;
}
