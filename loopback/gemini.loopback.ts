import { json, type LoopbackServer, sse, type SseOptions } from './loopback.server.js';

/**
 * Shapes from `@google/genai` type definitions (GenerateContentResponse,
 * GenerateContentResponseUsageMetadata, ModalityTokenCount, Candidate, GroundingMetadata,
 * EmbedContentResponse).
 */
export type Modality = 'TEXT' | 'IMAGE' | 'VIDEO' | 'AUDIO' | 'DOCUMENT';

/** Tokens per modality, sent as `ModalityTokenCount[]` in this key order. */
export type ModalityCounts = Partial<Record<Modality, number>>;

export interface GeminiUsageSpec {
  prompt: number;
  candidates: number;
  cached?: number;
  thoughts?: number;
  /** `promptTokensDetails`; default all TEXT. */
  promptDetails?: ModalityCounts;
  /** `cacheTokensDetails`; default all TEXT when there are cached tokens. */
  cacheDetails?: ModalityCounts;
  /** `candidatesTokensDetails`; default none (the Gemini API often leaves it out for text). */
  candidatesDetails?: ModalityCounts;
}

function details(counts: ModalityCounts) {
  return Object.entries(counts).map(([modality, tokenCount]) => ({ modality, tokenCount }));
}

export function geminiUsageBody(u: GeminiUsageSpec) {
  return {
    promptTokenCount: u.prompt,
    candidatesTokenCount: u.candidates,
    totalTokenCount: u.prompt + u.candidates + (u.thoughts ?? 0),
    ...(u.cached ? { cachedContentTokenCount: u.cached, cacheTokensDetails: details(u.cacheDetails ?? { TEXT: u.cached }) } : {}),
    ...(u.thoughts ? { thoughtsTokenCount: u.thoughts } : {}),
    promptTokensDetails: details(u.promptDetails ?? { TEXT: u.prompt }),
    ...(u.candidatesDetails ? { candidatesTokensDetails: details(u.candidatesDetails) } : {}),
  };
}

/** `GroundingMetadata` of a response grounded with Google Search. */
export function groundingMetadata(webSearchQueries: string[]) {
  return {
    webSearchQueries,
    searchEntryPoint: { renderedContent: '<div>search</div>' },
    groundingChunks: [{ web: { uri: 'https://example.com/a', title: 'example.com' } }],
    groundingSupports: [{ segment: { startIndex: 0, endIndex: 6, text: 'Hello!' }, groundingChunkIndices: [0], confidenceScores: [0.9] }],
  };
}

export function generateContentBody(model: string, text: string, usage: unknown, finish = true, grounding?: unknown) {
  return {
    candidates: [
      {
        content: { parts: [{ text }], role: 'model' },
        ...(finish ? { finishReason: 'STOP' } : {}),
        index: 0,
        ...(grounding !== undefined ? { groundingMetadata: grounding } : {}),
      },
    ],
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
  /** `candidates[0].groundingMetadata` of the response (see {@link groundingMetadata}). */
  grounding?: unknown;
  /** Which of the three stream chunks carry the grounding metadata; default the last. */
  groundingChunks?: number[];
}

export function geminiRoutes(server: LoopbackServer, script: GeminiScript): LoopbackServer {
  server.route('POST', /:generateContent/, (_req, res) => json(res, generateContentBody(script.model, 'Hello!', script.usage, true, script.grounding)));
  server.route('POST', /:streamGenerateContent\?alt=sse/, (_req, res) => {
    const u = script.usage as Record<string, unknown>;
    // Every chunk carries running usage; output counts grow, the last chunk has the totals.
    let partial: unknown = u;
    if (u && typeof u === 'object') {
      const { candidatesTokensDetails: _, ...rest } = u;
      partial = { ...rest, candidatesTokenCount: 1 };
    }
    const g = (i: number) => (script.grounding !== undefined && (script.groundingChunks ?? [2]).includes(i) ? script.grounding : undefined);
    return sse(
      res,
      [
        { data: generateContentBody(script.model, 'Hel', partial, false, g(0)) },
        { data: generateContentBody(script.model, 'lo', partial, false, g(1)) },
        { data: generateContentBody(script.model, '!', script.usage, true, g(2)) },
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
