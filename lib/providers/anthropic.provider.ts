import { runtime } from '../core/runtime.js';
import { observeStainlessAttempts } from './attempt.hooks.js';
import { CallScope } from './call-tracker.js';
import { KOSTRACK_KEY, takeCallOptions } from './call-tags.js';
import { onView, proxyClient, type TrackTree } from './client-proxy.js';
import { anthropicUsage, mergeAnthropicUsage } from './anthropic.usage.js';
import { trackApiPromise } from './stainless-promise.js';
import { trackedMethod } from './tracked-method.js';
import { watchStainlessStream, type StreamWatcher } from './tracked-iterator.js';
import { missingUsage } from './usage-reader.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

export function isAnthropicClient(client: unknown): boolean {
  const m = (client as { messages?: { create?: unknown; stream?: unknown } })?.messages;
  return typeof m?.create === 'function' && typeof m?.stream === 'function';
}

type Fn = (...args: unknown[]) => unknown;
type Body = Record<string, unknown> & { model?: unknown; stream?: unknown };

/**
 * Tracks `messages.create` (plain and `stream: true`), the `messages.parse()` and `messages.stream()`
 * helpers, the same three under `beta.messages`, and `messages.batches.results()` (each succeeded
 * result is one call, priced at batch rates; its usage reports `service_tier: 'batch'`). Service
 * tier, web searches and long context are read from the usage (see anthropicUsage): streamed, the
 * tier comes with `message_start`, the search count with `message_delta`.
 */
export function wrapAnthropic<T extends object>(client: T, provider: string, options: ResolvedWrapOptions): T {
  observeStainlessAttempts(client);
  // The SDK's helpers (`parse`, `stream`) call `this.create(...)`: their `create` is tracked.
  const viaTrackedCreate = (name: string, operation: string) =>
    onView(name, (resource) => ({ create: { value: trackedCreate((resource as { create: Fn }).create.bind(resource), operation) } }));
  const streamHelper = (operation: string) => (original: Fn, resource: object) => {
    const run = viaTrackedCreate('stream', operation)(original, resource);
    return function stream(body: unknown, requestOptions?: unknown) {
      if (!runtime.enabled) return original(body, requestOptions);
      // The helper rebuilds the body it sends; per-call tags travel in the request options.
      const { forward, tags } = takeCallOptions(body);
      const fromOptions = takeCallOptions(requestOptions);
      const callTags = fromOptions.tags ?? tags;
      // Under a budget, a refusal is thrown here, before the helper starts its request in the
      // background (where the SDK would wrap it in an AnthropicError).
      const model = (forward as { model?: unknown } | null)?.model;
      new CallScope({ provider, operation, requestModel: typeof model === 'string' ? model : '', streamed: true, params: forward, callTags, options }).preflight();
      return run(forward, callTags ? { ...(fromOptions.forward as object), [KOSTRACK_KEY]: { tags: callTags } } : fromOptions.forward);
    };
  };
  const messagesTree = (prefix: string): TrackTree => ({
    create: (original) => trackedCreate(original, `${prefix}.create`),
    parse: viaTrackedCreate('parse', `${prefix}.parse`),
    stream: streamHelper(`${prefix}.stream`),
  });
  const tree: TrackTree = {
    // A client derived with other request options is tracked like this one.
    withOptions: (original) => (...args: unknown[]) => wrapAnthropic(original(...args) as T, provider, options),
    messages: { ...messagesTree('messages'), batches: { results: (original) => trackedResults(original) } },
    beta: { messages: messagesTree('beta.messages') },
  };

  function trackedCreate(original: Fn, operation: string) {
    return trackedMethod(original, provider, operation, options, (params, requestOptions, rest, scope) => {
      const promise = original(params, requestOptions, ...rest);
      if (params.stream !== true) {
        return trackApiPromise(promise, scope, (data) => {
          const d = data as { usage?: unknown; model?: unknown };
          scope.okFrom(anthropicUsage, d?.usage, d?.model);
          return data;
        });
      }
      return trackApiPromise(promise, scope, (stream) => watchStainlessStream(stream as object, scope, streamWatcher()));
    });
  }

  function streamWatcher(): StreamWatcher<unknown> {
    let startUsage: unknown;
    let deltaUsage: unknown;
    let model: unknown;
    let errored = false;
    return {
      observe(event) {
        const e = event as { type?: string; message?: { usage?: unknown; model?: unknown }; usage?: unknown };
        if (e?.type === 'message_start') {
          startUsage = e.message?.usage;
          model = e.message?.model;
        } else if (e?.type === 'message_delta') deltaUsage = mergeAnthropicUsage(deltaUsage, e.usage);
        else if (e?.type === 'error') errored = true;
        return true;
      },
      finish(s, how) {
        const raw = mergeAnthropicUsage(startUsage, deltaUsage);
        const u = raw === undefined ? missingUsage('usage: stream ended before message_start') : anthropicUsage(raw);
        s.ok(u, model, !how.complete ? 'aborted' : errored ? 'error' : 'ok', how.error);
      },
    };
  }

  /** Batch results are already paid for when read; each succeeded result becomes one call row. */
  function trackedResults(original: Fn) {
    return async function results(batchId: unknown, ...rest: unknown[]) {
      const decoder = (await original(batchId, ...rest)) as AsyncIterable<unknown>;
      if (!runtime.enabled || typeof decoder?.[Symbol.asyncIterator] !== 'function') return decoder;
      const iterate = decoder[Symbol.asyncIterator].bind(decoder);
      const recordOne = (item: unknown) => {
        const r = item as { custom_id?: unknown; result?: { type?: string; message?: { usage?: unknown; model?: unknown } } };
        if (r?.result?.type !== 'succeeded') return;
        const message = r.result.message;
        const scope = new CallScope({
          provider,
          operation: 'messages.batches.results',
          requestModel: typeof message?.model === 'string' ? message.model : '',
          streamed: false,
          batch: true,
          params: undefined,
          callTags: undefined,
          options,
        });
        scope.note('batch_id', String(batchId));
        if (typeof r.custom_id === 'string') scope.note('custom_id', r.custom_id);
        scope.ok(anthropicUsage(message?.usage), message?.model);
      };
      // Keep the decoder object (and its class) as the SDK made it; only iteration is observed.
      Object.defineProperty(decoder, Symbol.asyncIterator, {
        configurable: true,
        value: () => {
          const source = iterate();
          return (async function* () {
            try {
              while (true) {
                const step = await source.next();
                if (step.done) return;
                try {
                  recordOne(step.value);
                } catch {
                  // Never break the user's loop over results.
                }
                yield step.value;
              }
            } finally {
              // A `break` in the user's loop must still close the results stream.
              await source.return?.(undefined);
            }
          })();
        },
      });
      return decoder;
    };
  }

  return proxyClient(client, tree);
}
