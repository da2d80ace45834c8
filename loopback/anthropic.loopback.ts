import { json, type LoopbackServer, sse, type SseOptions } from './loopback.server.js';

/**
 * Shapes from `@anthropic-ai/sdk` 1.x type definitions (Message, Usage, ServerToolUsage,
 * RawMessageStreamEvent, MessageDeltaUsage, MessageBatch, MessageBatchIndividualResponse).
 */
export interface AnthropicUsageSpec {
  input: number;
  output: number;
  cacheRead?: number;
  write5m?: number;
  write1h?: number;
  /** `Usage.service_tier`; default `standard`. */
  serviceTier?: 'standard' | 'priority' | 'batch' | null;
  /** `Usage.server_tool_use.web_search_requests` (any value, to send bad ones); absent with webFetches: `server_tool_use: null`. */
  webSearches?: unknown;
  /** `Usage.server_tool_use.web_fetch_requests`. */
  webFetches?: number;
}

export function anthropicUsageBody(u: AnthropicUsageSpec) {
  const tools = u.webSearches !== undefined || u.webFetches !== undefined;
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: (u.write5m ?? 0) + (u.write1h ?? 0),
    cache_read_input_tokens: u.cacheRead ?? 0,
    cache_creation: { ephemeral_5m_input_tokens: u.write5m ?? 0, ephemeral_1h_input_tokens: u.write1h ?? 0 },
    output_tokens: u.output,
    service_tier: u.serviceTier === undefined ? 'standard' : u.serviceTier,
    server_tool_use: tools ? { web_search_requests: u.webSearches ?? 0, web_fetch_requests: u.webFetches ?? 0 } : null,
  };
}

export function message(model: string, usage: unknown) {
  return {
    id: 'msg_loopback',
    type: 'message',
    role: 'assistant',
    model,
    content: [
      { type: 'thinking', thinking: 'The user wants a greeting.', signature: 'sig_loopback' },
      { type: 'text', text: 'Hello!', citations: null },
    ],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  };
}

export interface MessageEventsOptions {
  /** message_delta repeats the cumulative input and cache counts too (newer API versions); default only output and server tools. */
  cumulativeInput?: boolean;
}

/**
 * The event sequence of a streamed message: usage split over message_start (`Usage`: input, cache
 * counts, service tier; server tool counts still 0) and message_delta (`MessageDeltaUsage`: the
 * cumulative output and `server_tool_use` counts).
 */
export function messageEvents(model: string, usage: Record<string, unknown>, options: MessageEventsOptions = {}) {
  const tools = usage.server_tool_use;
  const startUsage = { ...usage, output_tokens: 1, ...(tools ? { server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 } } : {}) };
  const deltaUsage: Record<string, unknown> = options.cumulativeInput
    ? {
        input_tokens: usage.input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        output_tokens: usage.output_tokens,
        server_tool_use: tools ?? null,
      }
    : { output_tokens: usage.output_tokens, ...(tools ? { server_tool_use: tools } : {}) };
  const ev = (type: string, rest: object) => ({ event: type, data: { type, ...rest } });
  return [
    ev('message_start', { message: { ...message(model, startUsage), content: [], stop_reason: null } }),
    ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'The user wants a greeting.' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig_loopback' } }),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Hel' } }),
    ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'lo!' } }),
    ev('content_block_stop', { index: 1 }),
    ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: deltaUsage }),
    ev('message_stop', {}),
  ];
}

export interface AnthropicScript {
  model: string;
  usage: Record<string, unknown>;
  stream?: SseOptions;
  /** How streamed usage is split over the events. */
  events?: MessageEventsOptions;
  /** JSONL lines of batch results. */
  batchResults?: unknown[];
}

export function anthropicRoutes(server: LoopbackServer, script: AnthropicScript): LoopbackServer {
  server.route('POST', /\/v1\/messages(\?.*)?$/, (req, res) => {
    const body = req.body as { stream?: boolean };
    if (!body.stream) return json(res, message(script.model, script.usage), 200, { 'request-id': 'req_loopback' });
    return sse(res, messageEvents(script.model, script.usage, script.events), script.stream);
  });
  server.route('GET', /\/v1\/messages\/batches\/[^/]+$/, (req, res) => {
    const id = req.path.split('/').pop()!.split('?')[0];
    json(res, {
      id,
      type: 'message_batch',
      processing_status: 'ended',
      request_counts: { processing: 0, succeeded: 2, errored: 1, canceled: 0, expired: 0 },
      created_at: '2025-06-01T00:00:00Z',
      ended_at: '2025-06-01T01:00:00Z',
      expires_at: '2025-06-02T00:00:00Z',
      archived_at: null,
      cancel_initiated_at: null,
      results_url: `${server.url}/v1/messages/batches/${id}/results`,
    });
  });
  server.route('GET', /\/v1\/messages\/batches\/[^/]+\/results/, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/binary' });
    res.end((script.batchResults ?? []).map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
  return server;
}
