import { runtime } from '../core/runtime.js';
import { sendingCall } from './attempt.counter.js';
import { observeGeminiAttempts } from './attempt.hooks.js';
import { CallScope } from './call-tracker.js';
import { takeCallOptions } from './call-tags.js';
import { onView, proxyClient, type TrackTree } from './client-proxy.js';
import { GeminiGroundingCollector, geminiEmbedUsage, geminiGroundings, geminiUsage } from './gemini.usage.js';
import { watchStream } from './tracked-iterator.js';
import { missingUsage } from './usage-reader.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

export function isGeminiClient(client: unknown): boolean {
  const m = (client as { models?: { generateContent?: unknown } })?.models;
  return typeof m?.generateContent === 'function';
}

type Fn = (...args: unknown[]) => unknown;
type Params = Record<string, unknown> & { model?: unknown };

/** Gemini reports models as `models/gemini-2.5-pro` in some places; rows and prices use the bare name. */
function bareModel(model: unknown): string {
  return typeof model === 'string' ? model.replace(/^(?:publishers\/google\/)?models\//, '') : '';
}

/**
 * Tracks `models.generateContent`, `models.generateContentStream` and `models.embedContent` of
 * `@google/genai`, and the chats made with `chats.create()` (each `sendMessage` is one call).
 */
export function wrapGemini<T extends object>(client: T, provider: string, options: ResolvedWrapOptions): T {
  observeGeminiAttempts(client);
  let wrapped: T;
  const tree: TrackTree = {
    models: {
      generateContent: (original) => tracked(original, 'generateContent', false),
      generateContentStream: (original) => tracked(original, 'generateContentStream', true),
      embedContent: (original) => tracked(original, 'embedContent', false),
    },
    chats: {
      // A chat sends through the models module it is created with: hand it the tracked one.
      create: onView('create', () => ({ modelsModule: { value: (wrapped as { models?: unknown }).models } })),
    },
  };

  function tracked(original: Fn, operation: string, streamed: boolean) {
    return function call(params: unknown, ...rest: unknown[]) {
      if (!runtime.enabled || params === null || typeof params !== 'object') return original(params, ...rest);
      const { forward, tags } = takeCallOptions(params);
      const p = forward as Params;
      const scope = new CallScope({ provider, operation, requestModel: bareModel(p.model), streamed, params: p, callTags: tags, options });
      let pending: Promise<void> | null;
      try {
        // Under a budget: reserve the worst case, or refuse (recorded as blocked) before anything is sent.
        pending = scope.admit();
      } catch (error) {
        return Promise.reject(error);
      }
      // A durable budget answers from the database: the request starts once it admitted the call.
      return pending ? pending.then(() => send(p, rest, scope)) : send(p, rest, scope);
    };

    function send(p: Params, rest: unknown[], scope: CallScope): Promise<unknown> {
      let promise: Promise<unknown>;
      try {
        // The request and its retries are sent inside the call's scope, so its attempts are counted to it.
        promise = sendingCall.run(scope.attempts, original, p, ...rest) as Promise<unknown>;
      } catch (error) {
        scope.fail(error);
        throw error;
      }
      return Promise.resolve(promise).then(
        (result) => {
          if (streamed) return watchStream(result as AsyncGenerator<unknown>, scope, streamWatcher());
          const r = result as { usageMetadata?: unknown; modelVersion?: unknown };
          if (operation === 'embedContent') scope.okFrom(geminiEmbedUsage, result, undefined);
          else {
            const model = bareModel(r?.modelVersion) || undefined;
            // The model decides how grounding is billed (see geminiUsage).
            scope.okFrom(
              (res) => geminiUsage((res as typeof r)?.usageMetadata, model ?? scope.init.requestModel, geminiGroundings((res as { candidates?: unknown })?.candidates)),
              result,
              model,
            );
          }
          return result;
        },
        scope.rethrow,
      );
    }
  }

  function streamWatcher() {
    let usage: unknown;
    let model: unknown;
    // Grounding metadata comes in some chunk's candidates; counted once per candidate.
    const grounding = new GeminiGroundingCollector();
    return {
      observe(chunk: unknown) {
        const c = chunk as { usageMetadata?: unknown; modelVersion?: unknown; candidates?: unknown };
        // Every chunk carries the running totals; the last one seen is the call's usage.
        if (c?.usageMetadata) usage = c.usageMetadata;
        if (c?.modelVersion) model = c.modelVersion;
        if (c?.candidates) grounding.observe(c.candidates);
        return true;
      },
      finish(s: CallScope, how: { complete: boolean; error?: unknown }) {
        const m = bareModel(model) || undefined;
        const u = usage === undefined ? missingUsage('usageMetadata: no chunk carried usage') : geminiUsage(usage, m ?? s.init.requestModel, grounding.groundings);
        s.ok(u, m, how.complete ? 'ok' : 'aborted', how.error);
      },
    };
  }

  wrapped = proxyClient(client, tree);
  return wrapped;
}
