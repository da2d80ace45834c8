import { observeStainlessAttempts } from './attempt.hooks.js';
import type { CallScope } from './call-tracker.js';
import { onView, proxyClient, type TrackTree } from './client-proxy.js';
import { trackBatchCreate, trackBatchList, trackBatchLookup, trackFileContent } from './openai.batch.js';
import { chatCompletionUsage, chatUsage, embeddingsUsage, responseUsage } from './openai.usage.js';
import { trackApiPromise } from './stainless-promise.js';
import { trackedMethod } from './tracked-method.js';
import { watchStainlessStream, type StreamWatcher } from './tracked-iterator.js';
import { missingUsage } from './usage-reader.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

/** OpenAI-compatible servers known to reject `stream_options` (they send usage in the last chunk anyway). */
const NO_STREAM_OPTIONS = new Set(['mistral']);

/** Base-URL hosts of OpenAI-compatible providers, so `wrap(new OpenAI({ baseURL }))` names them right. */
const HOSTS: [RegExp, string][] = [
  [/(^|\.)deepseek\.com$/, 'deepseek'],
  [/(^|\.)groq\.com$/, 'groq'],
  [/(^|\.)mistral\.ai$/, 'mistral'],
  [/(^|\.)openrouter\.ai$/, 'openrouter'],
  [/(^|\.)x\.ai$/, 'xai'],
  [/(^|\.)together\.(xyz|ai)$/, 'together'],
  [/(^|\.)fireworks\.ai$/, 'fireworks'],
  [/(^|\.)cerebras\.ai$/, 'cerebras'],
  [/(^|\.)perplexity\.ai$/, 'perplexity'],
  [/(^|\.)openai\.azure\.com$/, 'azure'],
];

export function isOpenAIClient(client: unknown): boolean {
  const c = client as { chat?: { completions?: { create?: unknown } }; embeddings?: { create?: unknown } };
  return typeof c?.chat?.completions?.create === 'function' && typeof c?.embeddings?.create === 'function';
}

export function openaiProviderOf(client: unknown): string {
  try {
    const host = new URL(String((client as { baseURL?: unknown }).baseURL)).hostname;
    for (const [pattern, name] of HOSTS) if (pattern.test(host)) return name;
  } catch {
    // No parsable base URL: the default endpoint.
  }
  return 'openai';
}

type Body = Record<string, unknown> & { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } | null };

/**
 * Tracks `chat.completions.create`, `responses.create` and `embeddings.create` of an `openai` client,
 * and the helpers built on them (`chat.completions.parse/stream/runTools`, `responses.parse/stream`).
 */
export function wrapOpenAI<T extends object>(client: T, provider: string, options: ResolvedWrapOptions): T {
  observeStainlessAttempts(client);
  const injectUsage = options.includeStreamUsage ?? !NO_STREAM_OPTIONS.has(provider);
  let wrapped: T;
  // The SDK's helpers call `this._client.….create()`: their `_client` is the wrapped client.
  const viaWrapped = (name: string) => onView(name, () => ({ _client: { value: wrapped } }));
  const tree: TrackTree = {
    // A client derived with other request options is tracked like this one.
    withOptions: (original) => (...args: unknown[]) => wrapOpenAI(original(...args) as T, provider, options),
    chat: {
      completions: {
        create: (original) => tracked(original, 'chat.completions.create', chatCompletion),
        parse: viaWrapped('parse'),
        stream: viaWrapped('stream'),
        runTools: viaWrapped('runTools'),
      },
    },
    responses: {
      create: (original) => tracked(original, 'responses.create', responses),
      parse: viaWrapped('parse'),
      stream: viaWrapped('stream'),
    },
    embeddings: { create: (original) => tracked(original, 'embeddings.create', embeddings) },
    // Batch API: remember the creating trace, learn the result files, record results when read (openai.batch.ts).
    batches: {
      create: (original) => trackBatchCreate(original, provider, options),
      retrieve: (original) => trackBatchLookup(original, provider, options),
      list: (original) => trackBatchList(original, provider, options),
    },
    files: { content: (original) => trackFileContent(original, provider, options) },
  };

  function tracked(original: Fn, operation: string, handler: Handler) {
    return trackedMethod(original, provider, operation, options, (params, requestOptions, rest, scope) =>
      handler(original, params as Body, requestOptions, rest, scope),
    );
  }

  function chatCompletion(original: Fn, params: Body, requestOptions: unknown, rest: unknown[], scope: CallScope) {
    if (params.stream !== true) {
      return trackApiPromise(original(params, requestOptions, ...rest), scope, (data) => {
        // The whole ChatCompletion: its usage and the service_tier that served it.
        scope.okFrom(chatCompletionUsage, data, (data as { model?: unknown } | null)?.model);
        return data;
      });
    }
    const userAsked = params.stream_options?.include_usage !== undefined;
    const inject = injectUsage && !userAsked;
    const sent = inject ? { ...params, stream_options: { ...params.stream_options, include_usage: true } } : params;
    let usage: unknown;
    let model: unknown;
    let serviceTier: unknown;
    const watcher: StreamWatcher<unknown> = {
      observe(chunk) {
        const c = chunk as { usage?: unknown; model?: unknown; choices?: unknown[]; service_tier?: unknown };
        if (c?.model) model = c.model;
        if (c?.usage) usage = c.usage;
        // Every ChatCompletionChunk carries the tier that serves the request; the last one counts.
        if (c?.service_tier !== undefined && c.service_tier !== null) serviceTier = c.service_tier;
        // The usage-only chunk exists because we asked for it; the user's loop never sees it.
        return !(inject && c?.usage && Array.isArray(c.choices) && c.choices.length === 0);
      },
      finish(s, how) {
        const u = usage !== undefined ? chatUsage(usage, serviceTier) : missingUsage(inject || params.stream_options?.include_usage === true ? 'usage: stream ended before the usage chunk' : 'usage: not requested (stream_options.include_usage is false)');
        s.ok(u, model, how.complete ? 'ok' : 'aborted', how.error);
      },
    };
    return trackApiPromise(original(sent, requestOptions, ...rest), scope, (stream) => watchStainlessStream(stream as object, scope, watcher));
  }

  function responses(original: Fn, params: Body, requestOptions: unknown, rest: unknown[], scope: CallScope) {
    if (params.stream !== true) {
      return trackApiPromise(original(params, requestOptions, ...rest), scope, (data) => {
        // The whole Response: usage, service_tier and the tool-call output items billed per call.
        scope.okFrom(responseUsage, data, (data as { model?: unknown } | null)?.model);
        return data;
      });
    }
    let final: { usage?: unknown; model?: unknown; service_tier?: unknown; output?: unknown } | undefined;
    let model: unknown;
    let failedEvent = false;
    const watcher: StreamWatcher<unknown> = {
      observe(event) {
        const e = event as { type?: string; response?: { usage?: unknown; model?: unknown; service_tier?: unknown; output?: unknown } };
        if (e?.response?.model) model = e.response.model;
        // completed, incomplete and failed all carry the final response: usage, tier, output items.
        if (e?.type === 'response.completed' || e?.type === 'response.incomplete' || e?.type === 'response.failed') {
          final = e.response;
          failedEvent = e.type === 'response.failed';
        }
        return true;
      },
      finish(s, how) {
        const u = final ? responseUsage(final) : missingUsage('usage: stream ended before response.completed');
        const status = !how.complete ? 'aborted' : failedEvent ? 'error' : 'ok';
        s.ok(u, final?.model ?? model, status, how.error);
      },
    };
    return trackApiPromise(original(params, requestOptions, ...rest), scope, (stream) => watchStainlessStream(stream as object, scope, watcher));
  }

  function embeddings(original: Fn, params: Body, requestOptions: unknown, rest: unknown[], scope: CallScope) {
    return trackApiPromise(original(params, requestOptions, ...rest), scope, (data) => {
      const d = data as { usage?: unknown; model?: unknown };
      scope.okFrom(embeddingsUsage, d?.usage, d?.model);
      return data;
    });
  }

  wrapped = proxyClient(client, tree);
  return wrapped;
}

type Fn = (...args: unknown[]) => unknown;
type Handler = (original: Fn, params: Body, requestOptions: unknown, rest: unknown[], scope: CallScope) => unknown;
