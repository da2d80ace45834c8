import { json, type LoopbackServer } from './loopback.server.js';

/*
 * The OpenAI Batch API. Batch objects follow `Batch` in openai 6.x `resources/batches.d.ts`; the
 * list page follows `CursorPage` (`data`, `has_more`); file content is served as the SDK asks for it
 * (`files.content`, `Accept: application/binary`). Output file lines are the Batch API's
 * `{ id, custom_id, response: { status_code, request_id, body } | null, error: { code, message } | null }`.
 */

export type BatchEndpoint = '/v1/chat/completions' | '/v1/responses' | '/v1/embeddings';

/** What the batch routes answer with; tests fill it per case. */
export interface BatchScript {
  /** Batches by id, as `batches.retrieve` and `batches.list` return them. */
  batches: Map<string, Record<string, unknown>>;
  /** File contents by file id (JSONL text), as `files.content` returns them. */
  files: Map<string, string>;
  /** The id the next `batches.create` gets. */
  nextId: string;
}

export function batchScript(): BatchScript {
  return { batches: new Map(), files: new Map(), nextId: 'batch_loopback_1' };
}

/** A `Batch` in a given state; a completed one names its output and error files. */
export function batchObject(
  id: string,
  endpoint: string,
  status: 'validating' | 'in_progress' | 'completed',
  extra: { output_file_id?: string; error_file_id?: string; model?: string } = {},
  counts = { completed: 0, failed: 0, total: 0 },
) {
  return {
    id,
    object: 'batch',
    endpoint,
    errors: null,
    input_file_id: 'file-input-1',
    completion_window: '24h',
    status,
    created_at: 1_750_000_000,
    in_progress_at: status === 'validating' ? null : 1_750_000_010,
    expires_at: 1_750_086_400,
    finalizing_at: status === 'completed' ? 1_750_003_000 : null,
    completed_at: status === 'completed' ? 1_750_003_600 : null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: counts,
    metadata: null,
    ...(extra.model ? { model: extra.model } : {}),
    ...(status === 'completed' ? { output_file_id: extra.output_file_id ?? null, error_file_id: extra.error_file_id ?? null } : {}),
  };
}

/** One line of an output file: a request that got an HTTP answer (2xx in the output file, others in the error file). */
export function outputLine(n: number, customId: string, body: unknown, statusCode = 200) {
  return { id: `batch_req_${n}`, custom_id: customId, response: { status_code: statusCode, request_id: `req_${n}`, body }, error: null };
}

/** One line of an error file for a request that never got an HTTP answer. */
export function errorLine(n: number, customId: string, code: string, message: string) {
  return { id: `batch_req_${n}`, custom_id: customId, response: null, error: { code, message } };
}

export function jsonl(lines: unknown[]): string {
  return lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
}

/** `POST /v1/batches`, `GET /v1/batches/:id`, `GET /v1/batches`, `GET /v1/files/:id/content`. */
export function openaiBatchRoutes(server: LoopbackServer, script: BatchScript): LoopbackServer {
  server.route('POST', /^\/v1\/batches$/, (req, res) => {
    const body = req.body as { endpoint: string };
    const batch = batchObject(script.nextId, body.endpoint, 'validating');
    json(res, batch, 200, { 'x-request-id': 'req_batch_create' });
  });
  server.route('GET', /^\/v1\/batches(\?.*)?$/, (req, res) => {
    // Cursor pagination as the API does it: `limit`, and `after` = the last id of the previous page.
    const query = new URL(req.path, 'http://loopback').searchParams;
    const all = [...script.batches.values()];
    const after = query.get('after');
    const from = after ? all.findIndex((b) => b.id === after) + 1 : 0;
    const limit = Number(query.get('limit') ?? 20);
    const data = all.slice(from, from + limit);
    json(res, { object: 'list', data, first_id: (data[0]?.id as string) ?? null, last_id: (data.at(-1)?.id as string) ?? null, has_more: from + limit < all.length });
  });
  server.route('GET', /^\/v1\/batches\/[^/?]+$/, (req, res) => {
    const id = decodeURIComponent(req.path.split('/').pop()!);
    const batch = script.batches.get(id);
    if (!batch) return json(res, { error: { message: `No batch found with id '${id}'.`, type: 'invalid_request_error', param: null, code: null } }, 404);
    json(res, batch);
  });
  server.route('GET', /^\/v1\/files\/[^/]+\/content$/, (req, res) => {
    const id = decodeURIComponent(req.path.split('/')[3]);
    const text = script.files.get(id);
    if (text === undefined) return json(res, { error: { message: `No such File object: ${id}`, type: 'invalid_request_error', param: 'id', code: null } }, 404);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  return server;
}
