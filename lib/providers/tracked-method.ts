import { KostrackBudgetExceededError } from '../core/run-budget.js';
import { runtime } from '../core/runtime.js';
import { deferredApiPromise, refusedApiPromise } from './stainless-promise.js';
import { CallScope } from './call-tracker.js';
import type { Tags } from '../core/index.js';
import { KOSTRACK_KEY, takeCallOptions } from './call-tags.js';
import { sendingCall } from './attempt.counter.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

export type SdkMethod = (...args: unknown[]) => unknown;
export type RequestBody = Record<string, unknown> & { model?: unknown; stream?: unknown };

/**
 * What is given to a tracked method's handler: the request body and options with Kostrack's own
 * `kostrack` option removed, the remaining arguments, and the scope that records the call.
 */
export type TrackedHandler = (params: RequestBody, requestOptions: unknown, rest: unknown[], scope: CallScope) => unknown;

/**
 * The common front of a tracked Stainless SDK method `(body, requestOptions?, ...rest)` (openai,
 * @anthropic-ai/sdk): strips per-call tags, opens the call's scope in the caller's trace, and
 * records an argument error the SDK throws before sending, then rethrows it.
 */
export function trackedMethod(
  original: SdkMethod,
  provider: string,
  operation: string,
  options: ResolvedWrapOptions,
  handler: TrackedHandler,
): SdkMethod {
  return function trackedCall(body: unknown, requestOptions?: unknown, ...rest: unknown[]) {
    if (!runtime.enabled || body === null || typeof body !== 'object') return original(body, requestOptions, ...rest);
    let params = body as RequestBody;
    let callTags: Tags | undefined;
    // Most calls carry no per-call options: check before allocating anything for them.
    if (Object.hasOwn(body, KOSTRACK_KEY)) ({ forward: params, tags: callTags } = takeCallOptions(body) as { forward: RequestBody; tags: Tags | undefined });
    if (requestOptions !== null && typeof requestOptions === 'object' && Object.hasOwn(requestOptions, KOSTRACK_KEY)) {
      const fromOptions = takeCallOptions(requestOptions);
      requestOptions = fromOptions.forward;
      callTags = fromOptions.tags ?? callTags;
    }
    const scope = new CallScope({
      provider,
      operation,
      requestModel: typeof params.model === 'string' ? params.model : '',
      streamed: params.stream === true,
      params,
      callTags,
      options,
    });
    let pending: Promise<void> | null;
    try {
      // Under a budget: reserve the worst case, or refuse (recorded as blocked) before anything is sent.
      pending = scope.admit();
    } catch (error) {
      if (error instanceof KostrackBudgetExceededError) return refusedApiPromise(error);
      throw error;
    }
    // The SDK sends the request (and its retries) inside the call's scope, so its attempts are counted to it.
    // A durable budget answers from the database: the request starts once it admitted the call.
    if (pending) return deferredApiPromise(pending, () => sendingCall.run(scope.attempts, handler, params, requestOptions, rest, scope), scope);
    try {
      return sendingCall.run(scope.attempts, handler, params, requestOptions, rest, scope);
    } catch (error) {
      // The SDK validated the arguments and threw before sending: still one error row, same error.
      scope.fail(error);
      throw error;
    }
  };
}
