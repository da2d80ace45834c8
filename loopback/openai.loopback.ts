import { json, LoopbackServer, sse, type SseOptions } from './loopback.server.js';

/** Shapes from `openai` 6.x type definitions (ChatCompletion, ChatCompletionChunk, Response, CreateEmbeddingResponse). */
export interface ChatUsageSpec {
  /** All input tokens (`prompt_tokens`): cached, cache-written and audio included. */
  prompt: number;
  /** All output tokens (`completion_tokens`): reasoning and audio included. */
  completion: number;
  cached?: number;
  reasoning?: number;
  /** `prompt_tokens_details.cache_write_tokens` (CompletionUsage.PromptTokensDetails); left out when unset. */
  cacheWrite?: number;
  /** `prompt_tokens_details.audio_tokens`. */
  audioIn?: number;
  /** `completion_tokens_details.audio_tokens`. */
  audioOut?: number;
}

export function chatUsageBody(u: ChatUsageSpec) {
  return {
    prompt_tokens: u.prompt,
    completion_tokens: u.completion,
    total_tokens: u.prompt + u.completion,
    prompt_tokens_details: { cached_tokens: u.cached ?? 0, audio_tokens: u.audioIn ?? 0, ...(u.cacheWrite !== undefined ? { cache_write_tokens: u.cacheWrite } : {}) },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0, audio_tokens: u.audioOut ?? 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** A ChatCompletion; `serviceTier` is its top-level `service_tier` (the tier that served it). */
export function chatCompletion(model: string, usage: unknown, serviceTier: unknown = 'default') {
  return {
    id: 'chatcmpl-loopback',
    object: 'chat.completion',
    created: 1_750_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage,
    service_tier: serviceTier,
    system_fingerprint: 'fp_loopback',
  };
}

/**
 * Chunks as OpenAI sends them; with include_usage every chunk has `usage: null` and a last chunk
 * has no choices. With `serviceTier` every chunk carries it (ChatCompletionChunk.service_tier).
 */
export function chatChunks(model: string, usage: unknown, includeUsage: boolean, parts = ['Hel', 'lo', '!'], serviceTier?: unknown) {
  const base = {
    id: 'chatcmpl-loopback',
    object: 'chat.completion.chunk',
    created: 1_750_000_000,
    model,
    ...(serviceTier !== undefined ? { service_tier: serviceTier } : {}),
    system_fingerprint: 'fp_loopback',
  };
  const withUsage = includeUsage ? { usage: null } : {};
  const chunks: { data: unknown }[] = [
    { data: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...withUsage } },
    ...parts.map((p) => ({ data: { ...base, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }], ...withUsage } })),
    { data: { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...withUsage } },
  ];
  if (includeUsage) chunks.push({ data: { ...base, choices: [], usage } });
  return chunks;
}

/** ResponseUsage; `input` includes cached and cache-written tokens, `output` includes reasoning. */
export function responsesUsageBody(u: { input: number; output: number; cached?: number; reasoning?: number; cacheWrite?: number }) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached ?? 0, cache_write_tokens: u.cacheWrite ?? 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    total_tokens: u.input + u.output,
  };
}

/** What a Response carries beyond usage: its `service_tier` and tool-call output items before the answer. */
export interface ResponseExtras {
  serviceTier?: unknown;
  /** Output items placed before the reasoning and message items (`web_search_call`, `file_search_call`…). */
  tools?: unknown[];
  /** The request's tools as the Response echoes them in `tools` (default none). */
  requestTools?: unknown[];
}

/** A tool-call output item: ResponseFunctionWebSearch (`web_search_call`) or ResponseFileSearchToolCall (`file_search_call`). */
export function toolItem(type: 'web_search_call' | 'file_search_call', n: number) {
  return type === 'web_search_call'
    ? { type, id: `ws_${n}`, status: 'completed', action: { type: 'search', query: `query ${n}`, sources: [] } }
    : { type, id: `fs_${n}`, status: 'completed', queries: [`query ${n}`], results: null };
}

export function responseObject(model: string, usage: unknown, status = 'completed', extras: ResponseExtras = {}) {
  return {
    id: 'resp_loopback',
    object: 'response',
    created_at: 1_750_000_000,
    status,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output: [
      ...(extras.tools ?? []),
      { type: 'reasoning', id: 'rs_1', summary: [] },
      { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello!', annotations: [] }] },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: 'medium', summary: null },
    ...(extras.serviceTier !== undefined ? { service_tier: extras.serviceTier } : {}),
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: extras.requestTools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: {},
  };
}

/**
 * The events of a streamed Response. `requestedTier` is what the in-progress snapshots report (the
 * request's `service_tier`); the final event's response reports `extras.serviceTier`, the tier that
 * served it. Tool items are announced and finished before the answer, as the API does.
 */
export function responseEvents(model: string, usage: unknown, extras: ResponseExtras & { requestedTier?: unknown; final?: 'response.completed' | 'response.incomplete' | 'response.failed' } = {}) {
  const inProgress = { ...responseObject(model, null, 'in_progress', { serviceTier: extras.requestedTier }), output: [] };
  let seq = 0;
  const ev = (type: string, rest: object) => ({ event: type, data: { type, sequence_number: seq++, ...rest } });
  const tools = extras.tools ?? [];
  const done = responseObject(model, usage, extras.final === 'response.incomplete' ? 'incomplete' : extras.final === 'response.failed' ? 'failed' : 'completed', extras);
  const [reasoning, message] = done.output.slice(tools.length) as [object, object];
  const k = tools.length;
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const at = { item_id: 'msg_1', output_index: k + 1, content_index: 0 };
  // The full sequence the API sends (and the SDK's `responses.stream()` accumulator needs): every
  // output item and content part is announced before its deltas.
  return [
    ev('response.created', { response: inProgress }),
    ev('response.in_progress', { response: inProgress }),
    ...tools.flatMap((item, i) => [
      ev('response.output_item.added', { output_index: i, item: { ...(item as object), status: 'in_progress' } }),
      ev('response.output_item.done', { output_index: i, item }),
    ]),
    ev('response.output_item.added', { output_index: k, item: reasoning }),
    ev('response.output_item.done', { output_index: k, item: reasoning }),
    ev('response.output_item.added', { output_index: k + 1, item: { ...message, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { ...at, part: part('') }),
    ev('response.output_text.delta', { ...at, delta: 'Hel', logprobs: [] }),
    ev('response.output_text.delta', { ...at, delta: 'lo!', logprobs: [] }),
    ev('response.output_text.done', { ...at, text: 'Hello!', logprobs: [] }),
    ev('response.content_part.done', { ...at, part: part('Hello!') }),
    ev('response.output_item.done', { output_index: k + 1, item: message }),
    ev(extras.final ?? 'response.completed', { response: done }),
  ];
}

export function embeddingBody(model: string, promptTokens: number, base64: boolean) {
  const values = new Float32Array([0.25, -0.5, 0.125]);
  const embedding = base64 ? Buffer.from(values.buffer).toString('base64') : Array.from(values);
  return { object: 'list', data: [{ object: 'embedding', index: 0, embedding }], model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
}

/** What the default routes answer with; tests change these per case. */
export interface OpenAIScript {
  model: string;
  usage: unknown;
  stream?: SseOptions;
  /**
   * The tier the response reports (`service_tier`). Chat: default `'default'` on a completion and
   * absent from chunks; Responses: absent.
   */
  serviceTier?: unknown;
  /** Responses API tool-call output items (see {@link toolItem}). */
  tools?: unknown[];
}

/** Chat completions, Responses and embeddings under `/v1`, answering from `script`. */
export function openaiRoutes(server: LoopbackServer, script: OpenAIScript): LoopbackServer {
  server.route('POST', /\/chat\/completions$/, (req, res) => {
    const body = req.body as { stream?: boolean; stream_options?: { include_usage?: boolean } };
    if (!body.stream) return json(res, chatCompletion(script.model, script.usage, script.serviceTier ?? 'default'), 200, { 'x-request-id': 'req_loopback' });
    const include = body.stream_options?.include_usage === true;
    return sse(res, chatChunks(script.model, script.usage, include, undefined, script.serviceTier), { done: 'data: [DONE]', ...script.stream });
  });
  server.route('POST', /\/responses$/, (req, res) => {
    const body = req.body as { stream?: boolean; service_tier?: unknown; tools?: unknown[] };
    // A Response echoes the request's tools, as the API does.
    const extras = { serviceTier: script.serviceTier, tools: script.tools, requestTools: body.tools };
    if (!body.stream) return json(res, responseObject(script.model, script.usage, 'completed', extras));
    return sse(res, responseEvents(script.model, script.usage, { ...extras, requestedTier: body.service_tier }), script.stream);
  });
  server.route('POST', /\/embeddings$/, (req, res) => {
    const body = req.body as { encoding_format?: string };
    json(res, embeddingBody(script.model, (script.usage as { prompt_tokens: number }).prompt_tokens, body.encoding_format === 'base64'));
  });
  return server;
}
