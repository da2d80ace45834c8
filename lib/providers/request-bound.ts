import { maxOutputTokensOf } from '../pricing/model-limits.js';
import { openaiTokenCounter, type TokenCounter } from './openai.tokenizer.js';
import type { PriceBook, WorstCaseRequest } from '../pricing/price-book.js';

/**
 * An upper bound of a request's tokens, read from the request alone, before it is sent.
 *
 * Input: each text of the request (messages, system prompt, tools, schemas) counts its tokens —
 * exactly, with OpenAI's own encoding, for OpenAI models when `gpt-tokenizer` is installed;
 * otherwise its UTF-8 size in bytes, an upper bound for the byte-level BPE tokenizers these
 * providers use (every token is at least one byte). The JSON's keys, quotes and braces are counted
 * on top and more than cover the role markers a chat template adds. Media parts are not text: an image counts a fixed bound per
 * provider (below); audio, video, files and earlier conversation turns kept by the provider
 * (`previous_response_id`, `conversation`, cached contents) cannot be bounded from the request, so
 * the model's context window bounds the input then. Output: the request's `max_tokens` /
 * `max_completion_tokens` / `max_output_tokens` / `maxOutputTokens` (times `n` choices), else the
 * model's output limit, else its context window. Null when nothing bounds it.
 */
export interface RequestBound extends WorstCaseRequest {}

/** Tokens one image can cost at most (largest size and detail the provider bills). */
const IMAGE_TOKENS: Record<string, number> = {
  // gpt-4o-mini bills images at a multiplier: 2,833 + 5,667 per tile, up to 25,501 at high detail.
  'openai-mini': 26_000,
  // 2048 × 2048 at high detail, or 1,536 patches on patch-based models, with room.
  openai: 6_000,
  // About 1,600 for the largest image Claude takes without downscaling.
  anthropic: 2_000,
  // 258 per 768-pixel tile; a large image is tiled, and media_resolution high raises it.
  gemini: 4_000,
};

/** Keys whose string value is binary data or a URL of one, not text the model reads as tokens. */
const BINARY_KEYS = new Set(['data', 'image_url', 'file_data', 'file_url', 'file_id', 'fileUri', 'url']);
/** Part types that are an image (bounded per image). */
const IMAGE_PARTS = new Set(['image_url', 'input_image', 'image']);
/** Part types whose tokens cannot be bounded from the request. */
const UNBOUNDED_PARTS = new Set(['input_audio', 'input_file', 'file', 'document', 'audio', 'video']);

interface Walk {
  bytes: number;
  /** Counts a string's tokens exactly (OpenAI, with gpt-tokenizer installed); else its UTF-8 bytes bound them. */
  count: TokenCounter | null;
  images: number;
  unbounded: boolean;
  audio: boolean;
  cacheWrite: '5m' | '1h' | null;
}

function walk(value: unknown, w: Walk, depth: number): void {
  if (depth > 64) {
    w.unbounded = true;
    return;
  }
  if (typeof value === 'string') {
    // Bytes of the UTF-8 text plus its quotes (counted natively, without encoding a copy).
    w.bytes += (w.count ? w.count(value) : Buffer.byteLength(value, 'utf8')) + 2;
    return;
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    w.bytes += 8;
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) walk(value[i], w, depth + 1);
    w.bytes += 2 + value.length;
    return;
  }
  const obj = value as Record<string, unknown>;
  // Keys are compared as strings, not looked up as properties: request objects come in many
  // shapes, and a property that is absent costs more to find than a key costs to compare.
  const keys = Object.keys(obj);
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const v = obj[key];
    if (v === undefined) continue;
    if (key === 'type' && typeof v === 'string') {
      if (IMAGE_PARTS.has(v)) {
        w.images++;
        return;
      }
      if (UNBOUNDED_PARTS.has(v)) {
        if (v === 'input_audio' || v === 'audio') w.audio = true;
        w.unbounded = true;
        return;
      }
    } else if ((key === 'inlineData' || key === 'fileData') && v !== null && typeof v === 'object') {
      // Gemini parts carry media by MIME type.
      const mime = (v as { mimeType?: unknown }).mimeType;
      const kind = typeof mime === 'string' ? mime : '';
      if (kind.startsWith('image/')) w.images++;
      else {
        if (kind.startsWith('audio/')) w.audio = true;
        w.unbounded = true;
      }
      return;
    } else if (key === 'cache_control' && v !== null && typeof v === 'object') {
      w.cacheWrite = (v as { ttl?: unknown }).ttl === '1h' || w.cacheWrite === '1h' ? '1h' : '5m';
    }
    bytes += key.length + 4;
    if (typeof v === 'string') {
      // A long value under a binary key is data or a data: URL, not text the model reads.
      if (v.length > 256 && BINARY_KEYS.has(key)) continue;
      bytes += (w.count ? w.count(v) : Buffer.byteLength(v, 'utf8')) + 2;
    } else walk(v, w, depth + 1);
  }
  w.bytes += bytes;
}

/** A fixed allowance for the system text a provider adds (tool-use instructions, chat template). */
const BASE_TOKENS = 64;
const TOOLS_TOKENS = 1_000;

type Params = Record<string, unknown>;

function positiveInt(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : null;
}

/**
 * The bound of one request. `fields` are the request keys that carry input; `outputCap` what the
 * request says about output; `unboundedInput` a request whose input includes context the provider
 * keeps (earlier turns).
 */
function boundOf(
  book: PriceBook,
  provider: string,
  model: string,
  params: Params,
  fields: readonly string[],
  outputCap: number | null,
  extra: { unboundedInput?: boolean; tools?: boolean; audioOut?: boolean; imageOut?: boolean; serviceTier?: unknown; imageKey: string; cacheWrite?: '5m' | '1h' | null; outputTimes?: number },
): RequestBound | null {
  const w: Walk = { bytes: 0, count: openaiTokenCounter(provider, model), images: 0, unbounded: extra.unboundedInput === true, audio: false, cacheWrite: extra.cacheWrite ?? null };
  let tools = extra.tools === true;
  for (const f of fields) {
    const v = params[f];
    if (v === undefined || v === null) continue;
    if (f === 'tools' || f === 'functions') tools = true;
    walk(v, w, 0);
  }
  const window = book.contextWindowOf(provider, model);
  let input = w.bytes + w.images * (IMAGE_TOKENS[extra.imageKey] ?? 6_000) + BASE_TOKENS + (tools ? TOOLS_TOKENS : 0);
  if (w.unbounded) {
    if (window === null) return null;
    input = Math.max(input, window);
  } else if (window !== null && input > window) input = window;
  let output = outputCap ?? maxOutputTokensOf(provider, model) ?? window;
  if (output === null) return null;
  output *= extra.outputTimes ?? 1;
  return {
    inputTokens: input,
    outputTokens: output,
    cacheWrite: w.cacheWrite,
    audioIn: w.audio,
    audioOut: extra.audioOut === true,
    imageOut: extra.imageOut === true,
    serviceTier: typeof extra.serviceTier === 'string' ? extra.serviceTier : null,
  };
}

/** The bound of a tracked request by operation; null when it cannot be bounded. */
export function requestBound(book: PriceBook, provider: string, operation: string, model: string, params: unknown): RequestBound | null {
  if (params === null || typeof params !== 'object') return null;
  const p = params as Params;
  const openaiImages = /mini/.test(model) ? 'openai-mini' : 'openai';
  // OpenAI writes prompt caches by itself on the models that bill cache writes.
  const openaiCache = provider === 'openai' || provider === 'azure' ? ('5m' as const) : null;
  switch (operation) {
    case 'chat.completions.create': {
      const n = positiveInt(p.n) ?? 1;
      const modalities = Array.isArray(p.modalities) ? p.modalities : [];
      return boundOf(book, provider, model, p, ['messages', 'tools', 'functions', 'response_format', 'prediction'], positiveInt(p.max_completion_tokens) ?? positiveInt(p.max_tokens), {
        audioOut: modalities.includes('audio'),
        serviceTier: p.service_tier,
        imageKey: openaiImages,
        cacheWrite: openaiCache,
        outputTimes: n,
      });
    }
    case 'responses.create':
      return boundOf(book, provider, model, p, ['input', 'instructions', 'tools', 'text', 'prompt'], positiveInt(p.max_output_tokens), {
        // Earlier turns the API keeps are billed as input and are not in the request.
        unboundedInput: p.previous_response_id != null || p.conversation != null,
        serviceTier: p.service_tier,
        imageKey: openaiImages,
        cacheWrite: openaiCache,
      });
    case 'embeddings.create':
      return boundOf(book, provider, model, p, ['input'], 0, { imageKey: 'openai' });
    case 'messages.create':
    case 'beta.messages.create':
    case 'messages.parse':
    case 'beta.messages.parse':
    case 'messages.stream':
    case 'beta.messages.stream': {
      // A top-level cache_control caches the request's last block automatically (its ttl sets the write rate).
      const cache = p.cache_control as { ttl?: unknown } | null | undefined;
      // max_tokens is required and includes extended thinking. output_config.format (and the beta's output_format) is a schema sent as input.
      return boundOf(book, provider, model, p, ['system', 'messages', 'tools', 'output_config', 'output_format'], positiveInt(p.max_tokens), {
        serviceTier: p.service_tier === 'auto' ? 'priority' : null,
        imageKey: 'anthropic',
        cacheWrite: cache && typeof cache === 'object' ? (cache.ttl === '1h' ? '1h' : '5m') : null,
      });
    }
    case 'generateContent':
    case 'generateContentStream': {
      const config = (p.config ?? {}) as Params;
      const cached = config.cachedContent != null;
      return boundOf(book, provider, model, { contents: p.contents, config: { systemInstruction: config.systemInstruction, tools: config.tools, responseSchema: config.responseSchema, responseJsonSchema: config.responseJsonSchema } }, ['contents', 'config'], positiveInt(config.maxOutputTokens), {
        unboundedInput: cached,
        // Gemini's tools sit in `config`, not in a field of their own.
        tools: config.tools != null,
        imageOut: /image/.test(model),
        audioOut: Array.isArray(config.responseModalities) && config.responseModalities.includes('AUDIO'),
        imageKey: 'gemini',
        outputTimes: positiveInt(config.candidateCount) ?? 1,
      });
    }
    case 'embedContent':
      return boundOf(book, provider, model, { contents: p.contents }, ['contents'], 0, { imageKey: 'gemini' });
    default:
      return null;
  }
}
