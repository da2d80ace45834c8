import { missingUsage } from './usage-reader.js';
import type { CallScope } from './call-tracker.js';

/** The parts of the Stainless-generated `APIPromise` (openai, @anthropic-ai/sdk) we rely on. */
interface StainlessPromise<T> extends Promise<T> {
  responsePromise: Promise<unknown>;
  parsedPromise?: Promise<unknown> | undefined;
  parse(): Promise<unknown>;
  _thenUnwrap<U>(transform: (data: T, props: unknown) => U): StainlessPromise<U>;
  asResponse(): Promise<Response>;
}

/** What an instrumented APIPromise carries; shared functions read it instead of per-call closures. */
interface Tracking {
  scope: CallScope;
  onData: (data: unknown) => unknown;
  parse: () => Promise<unknown>;
  asResponse: () => Promise<Response>;
  thenUnwrap: StainlessPromise<unknown>['_thenUnwrap'];
}

const TRACKING = Symbol('kostrack.tracking');
type Tracked = StainlessPromise<unknown> & { [TRACKING]: Tracking };

function isStainless(p: unknown): p is StainlessPromise<unknown> {
  return (
    p instanceof Promise &&
    typeof (p as StainlessPromise<unknown>)._thenUnwrap === 'function' &&
    typeof (p as StainlessPromise<unknown>).parse === 'function' &&
    'responsePromise' in p
  );
}

/**
 * Replaces the SDK's `parse()` on one APIPromise; `then`, `catch`, `finally` and `withResponse()`
 * all go through it. One `.then` on the SDK's own parse chain sees the data and every failure
 * before it (HTTP errors, timeouts, connection failures, a body that does not parse), and it is
 * the only step Kostrack adds between the response and the caller.
 */
function parseTracked(this: Tracked): Promise<unknown> {
  if (!this.parsedPromise) {
    const t = this[TRACKING];
    this.parsedPromise = t.parse.call(this).then(t.onData, t.scope.rethrow);
  }
  return this.parsedPromise;
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
      (error: unknown) => t.scope.fail(error),
    );
  }
  return result;
}

/**
 * `_thenUnwrap()` derives the APIPromise the OpenAI helpers return (`parse`): the same request,
 * its data transformed. It is tracked like ours, by the same scope, so whichever is read records.
 */
function thenUnwrapTracked(this: Tracked, transform: (data: unknown, props: unknown) => unknown): StainlessPromise<unknown> {
  const t = this[TRACKING];
  return instrument(t.thenUnwrap.call(this, transform), t.scope, t.onData);
}

function instrument(promise: StainlessPromise<unknown>, scope: CallScope, onData: (data: unknown) => unknown): StainlessPromise<unknown> {
  const tracked = promise as Tracked;
  tracked[TRACKING] = { scope, onData, parse: promise.parse, asResponse: promise.asResponse, thenUnwrap: promise._thenUnwrap };
  tracked.parse = parseTracked;
  tracked.asResponse = asResponseTracked;
  tracked._thenUnwrap = thenUnwrapTracked as Tracked['_thenUnwrap'];
  return promise;
}

/**
 * Tracks a call that returns an SDK `APIPromise` and returns that same `APIPromise`, so
 * `withResponse()`, `asResponse()` and `_request_id` work as without Kostrack. The response is
 * parsed once, by whoever consumes it (we never read the body ourselves). `onData` sees the parsed
 * data (recording it, or wrapping a stream) and returns what the user gets.
 */
export function trackApiPromise<T>(promise: T, scope: CallScope, onData: (data: unknown) => unknown): T {
  if (!isStainless(promise)) {
    // Not the shape we know (a future SDK): still track through the plain Promise contract.
    if (!(promise instanceof Promise)) return promise;
    return promise.then(onData, scope.rethrow) as T;
  }
  // Already tracked (a tracked method reached through another one): it records once, there.
  if ((promise as unknown as Tracked)[TRACKING] !== undefined) return promise;
  // The user's own APIPromise is instrumented in place: no second APIPromise, no second parse
  // chain (that doubled the SDK's per-call allocations), and no per-call closures of ours.
  instrument(promise, scope, onData);
  return promise;
}

/** What a refused call returns in place of the SDK's APIPromise. */
type Refused = Promise<never> & { _thenUnwrap: () => Refused; parse: () => Refused; withResponse: () => Refused; asResponse: () => Refused };

/**
 * A call refused before it was sent (a budget): a rejected promise that also answers the
 * APIPromise methods callers and the SDK's own helpers use (`withResponse()`, `asResponse()`,
 * `parse()`, `_thenUnwrap()`), each with the same rejection. Returned, not thrown, so that
 * `Promise.all(items.map(() => client.….create()))` sees every refusal.
 */
export function refusedApiPromise(error: unknown): Refused {
  const p = Promise.reject(error) as Refused;
  // Whoever awaits it gets the error; one never awaited (only withResponse() was) must not take
  // the process down as an unhandled rejection.
  p.catch(() => undefined);
  p._thenUnwrap = () => refusedApiPromise(error);
  p.parse = () => refusedApiPromise(error);
  p.withResponse = () => refusedApiPromise(error);
  p.asResponse = () => refusedApiPromise(error);
  return p;
}

/**
 * What a call waiting for admission returns in place of the SDK's APIPromise. Like the APIPromise,
 * it parses the response only when it is awaited (`then`, `catch`, `finally`): created eagerly,
 * the parse would read the body that `asResponse()` hands the caller unread.
 */
class DeferredApiPromise extends Promise<unknown> {
  // What `then` and its kin return is a plain Promise, as the APIPromise's are.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  private parsed: Promise<unknown> | undefined;

  constructor(private readonly started: Promise<{ api: StainlessPromise<unknown> }>) {
    // Settled at once and never read: `then` is answered from the SDK's APIPromise.
    super((resolve) => resolve(null));
    // Only the promises the caller reads may reject unhandled (a refused call left unawaited must not).
    started.catch(() => undefined);
  }

  private via(method: 'withResponse' | 'asResponse'): Promise<unknown> {
    return this.started.then(({ api }) => (api as unknown as Record<string, () => Promise<unknown>>)[method].call(api));
  }

  parse(): Promise<unknown> {
    // Adopting the APIPromise runs its (tracked) parse(); a plain promise (a future SDK) is adopted as is.
    return (this.parsed ??= this.started.then(({ api }) => api));
  }

  withResponse(): Promise<unknown> {
    return this.via('withResponse');
  }

  asResponse(): Promise<unknown> {
    return this.via('asResponse');
  }

  /** The SDK's helpers (`chat.completions.parse()`) derive their APIPromise with it: the same request, its data transformed. */
  _thenUnwrap(transform: (data: unknown, props: unknown) => unknown): DeferredApiPromise {
    return new DeferredApiPromise(this.started.then(({ api }) => ({ api: api._thenUnwrap(transform) })));
  }

  override then<A = unknown, B = never>(
    onfulfilled?: ((value: unknown) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.parse().then(onfulfilled, onrejected);
  }

  override catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.parse().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<unknown> {
    return this.parse().finally(onfinally);
  }
}

/**
 * A call that may start only once `admission` resolves (a durable budget asked the database):
 * the SDK method runs then, in the caller's async context, and this stands for the APIPromise it
 * returns: awaiting it gives the data, and `withResponse()`, `asResponse()`, `parse()` and
 * `_thenUnwrap()` (the SDK's own helpers) reach the real APIPromise. A refusal rejects all of them.
 */
export function deferredApiPromise(admission: Promise<void>, start: () => unknown, scope: CallScope): DeferredApiPromise {
  // Boxed, so the APIPromise (a thenable) is not adopted (which would parse it) on the way.
  const started = admission.then(() => {
    try {
      return { api: start() as StainlessPromise<unknown> };
    } catch (error) {
      // The SDK validated the arguments and threw before sending: one error row, the same error.
      scope.fail(error);
      throw error;
    }
  });
  return new DeferredApiPromise(started);
}
