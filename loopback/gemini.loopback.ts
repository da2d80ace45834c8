import { json, type LoopbackServer, sse, type SseOptions } from './loopback.server.js';

/** Shapes from `@google/genai` type definitions (GenerateContentResponse, UsageMetadata, EmbedContentResponse). */
export interface GeminiUsageSpec {
  prompt: number;
  candidates: number;
  cached?: number;
  thoughts?: number;
}

export function geminiUsageBody(u: GeminiUsageSpec) {
  return {
    promptTokenCount: u.prompt,
    candidatesTokenCount: u.candidates,
    totalTokenCount: u.prompt + u.candidates + (u.thoughts ?? 0),
    ...(u.cached ? { cachedContentTokenCount: u.cached, cacheTokensDetails: [{ modality: 'TEXT', tokenCount: u.cached }] } : {}),
    ...(u.thoughts ? { thoughtsTokenCount: u.thoughts } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.prompt }],
  };
}

export function generateContentBody(model: string, text: string, usage: unknown, finish = true) {
  return {
    candidates: [{ content: { parts: [{ text }], role: 'model' }, ...(finish ? { finishReason: 'STOP' } : {}), index: 0 }],
    usageMetadata: usage,
    modelVersion: model,
    responseId: 'resp_loopback',
  };
}

export interface GeminiScript {
  model: string;
  usage: unknown;
  stream?: SseOptions;
  /** Per-embedding token counts; undefined sends the Gemini API's shape (values only). */
  embedTokens?: number[];
}

export function geminiRoutes(server: LoopbackServer, script: GeminiScript): LoopbackServer {
  server.route('POST', /:generateContent/, (_req, res) => json(res, generateContentBody(script.model, 'Hello!', script.usage)));
  server.route('POST', /:streamGenerateContent\?alt=sse/, (_req, res) => {
    const u = script.usage as Record<string, number>;
    // Every chunk carries running usage; output counts grow, the last chunk has the totals.
    const partial = u && typeof u === 'object' ? { ...u, candidatesTokenCount: 1 } : u;
    return sse(
      res,
      [
        { data: generateContentBody(script.model, 'Hel', partial, false) },
        { data: generateContentBody(script.model, 'lo', partial, false) },
        { data: generateContentBody(script.model, '!', script.usage) },
      ],
      script.stream,
    );
  });
  server.route('POST', /:batchEmbedContents/, (req, res) => {
    const n = ((req.body as { requests?: unknown[] }).requests ?? []).length;
    const embeddings = Array.from({ length: n }, (_, i) => ({
      values: [0.1, 0.2, 0.3],
      ...(script.embedTokens ? { statistics: { tokenCount: script.embedTokens[i], truncated: false } } : {}),
    }));
    json(res, { embeddings });
  });
  return server;
}
