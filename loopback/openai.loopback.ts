import { json, LoopbackServer, sse, type SseOptions } from './loopback.server.js';

/** Shapes from `openai` 6.x type definitions (ChatCompletion, ChatCompletionChunk, Response, CreateEmbeddingResponse). */
export interface ChatUsageSpec {
  prompt: number;
  completion: number;
  cached?: number;
  reasoning?: number;
}

export function chatUsageBody(u: ChatUsageSpec) {
  return {
    prompt_tokens: u.prompt,
    completion_tokens: u.completion,
    total_tokens: u.prompt + u.completion,
    prompt_tokens_details: { cached_tokens: u.cached ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export function chatCompletion(model: string, usage: unknown) {
  return {
    id: 'chatcmpl-loopback',
    object: 'chat.completion',
    created: 1_750_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage,
    service_tier: 'default',
    system_fingerprint: 'fp_loopback',
  };
}

/** Chunks as OpenAI sends them; with include_usage every chunk has `usage: null` and a last chunk has no choices. */
export function chatChunks(model: string, usage: unknown, includeUsage: boolean, parts = ['Hel', 'lo', '!']) {
  const base = { id: 'chatcmpl-loopback', object: 'chat.completion.chunk', created: 1_750_000_000, model, system_fingerprint: 'fp_loopback' };
  const withUsage = includeUsage ? { usage: null } : {};
  const chunks: { data: unknown }[] = [
    { data: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...withUsage } },
    ...parts.map((p) => ({ data: { ...base, choices: [{ index: 0, delta: { content: p }, logprobs: null, finish_reason: null }], ...withUsage } })),
    { data: { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...withUsage } },
  ];
  if (includeUsage) chunks.push({ data: { ...base, choices: [], usage } });
  return chunks;
}

export function responsesUsageBody(u: { input: number; output: number; cached?: number; reasoning?: number }) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cached ?? 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    total_tokens: u.input + u.output,
  };
}

export function responseObject(model: string, usage: unknown, status = 'completed') {
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
      { type: 'reasoning', id: 'rs_1', summary: [] },
      { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello!', annotations: [] }] },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: 'medium', summary: null },
    store: false,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: {},
  };
}

export function responseEvents(model: string, usage: unknown) {
  const inProgress = { ...responseObject(model, null, 'in_progress'), output: [] };
  let seq = 0;
  const ev = (type: string, rest: object) => ({ event: type, data: { type, sequence_number: seq++, ...rest } });
  const [reasoning, message] = responseObject(model, usage).output;
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const at = { item_id: 'msg_1', output_index: 1, content_index: 0 };
  // The full sequence the API sends (and the SDK's `responses.stream()` accumulator needs): every
  // output item and content part is announced before its deltas.
  return [
    ev('response.created', { response: inProgress }),
    ev('response.in_progress', { response: inProgress }),
    ev('response.output_item.added', { output_index: 0, item: reasoning }),
    ev('response.output_item.done', { output_index: 0, item: reasoning }),
    ev('response.output_item.added', { output_index: 1, item: { ...message, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { ...at, part: part('') }),
    ev('response.output_text.delta', { ...at, delta: 'Hel', logprobs: [] }),
    ev('response.output_text.delta', { ...at, delta: 'lo!', logprobs: [] }),
    ev('response.output_text.done', { ...at, text: 'Hello!', logprobs: [] }),
    ev('response.content_part.done', { ...at, part: part('Hello!') }),
    ev('response.output_item.done', { output_index: 1, item: message }),
    ev('response.completed', { response: responseObject(model, usage) }),
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
}

/** Chat completions, Responses and embeddings under `/v1`, answering from `script`. */
export function openaiRoutes(server: LoopbackServer, script: OpenAIScript): LoopbackServer {
  server.route('POST', /\/chat\/completions$/, (req, res) => {
    const body = req.body as { stream?: boolean; stream_options?: { include_usage?: boolean } };
    if (!body.stream) return json(res, chatCompletion(script.model, script.usage), 200, { 'x-request-id': 'req_loopback' });
    const include = body.stream_options?.include_usage === true;
    return sse(res, chatChunks(script.model, script.usage, include), { done: 'data: [DONE]', ...script.stream });
  });
  server.route('POST', /\/responses$/, (req, res) => {
    const body = req.body as { stream?: boolean };
    if (!body.stream) return json(res, responseObject(script.model, script.usage));
    return sse(res, responseEvents(script.model, script.usage), script.stream);
  });
  server.route('POST', /\/embeddings$/, (req, res) => {
    const body = req.body as { encoding_format?: string };
    json(res, embeddingBody(script.model, (script.usage as { prompt_tokens: number }).prompt_tokens, body.encoding_format === 'base64'));
  });
  return server;
}
