import { createHash } from 'node:crypto';
import { EMPTY_TAGS, KostrackConfigError, mergeTags, normalizeTags, type TagInput, type Tags } from '../core/index.js';
import { runtime } from '../core/runtime.js';
import { errorClassOf } from '../core/span-lifecycle.js';
import type { TraceContext } from '../core/trace-context.js';
import { assertProviderName, PriceBook } from '../pricing/index.js';
import { CallScope } from './call-tracker.js';
import { KOSTRACK_KEY, takeCallOptions } from './call-tags.js';
import { chatUsage, embeddingsUsage, responseUsage } from './openai.usage.js';
import type { NormalizedUsage } from './usage-reader.js';
import type { ResolvedWrapOptions } from './wrap-options.js';

/*
 * The OpenAI Batch API (and OpenAI-compatible servers that copy it). A batch runs its requests
 * later, elsewhere; they are billed when they finish, at batch rates. Kostrack records them when
 * their results are read: `files.content()` of the batch's output or error file through a wrapped
 * client, or `importBatchResults()` for results read some other way. Each result line is one row:
 *
 * - operation `batches.<method the line stands for>`: `batches.chat.completions.create`,
 *   `batches.responses.create`, `batches.embeddings.create`, `batches.completions.create`;
 *   `batches.request` for a failed line whose endpoint is unknown;
 * - priced at the provider's batch rates (`pricingSource: 'batch'`, `serviceTier: 'batch'`);
 * - in the trace that was active at `batches.create` (with that call's per-call tags), when this
 *   process saw the create; otherwise in no trace;
 * - `metadata`: `batch_id` (when known), `custom_id`, `output_file_id` or `error_file_id` (read
 *   through `files.content`), `request_id` (the provider's id of that request);
 * - a failed line (`error` set, or a non-2xx `status_code`) is an error row costing 0, its
 *   `errorClass` the line's error code or `HTTP <status>`;
 * - its span id is derived from the line alone (provider, the line's `id` and `custom_id`; see
 *   {@link batchResultIdentity}), so reading the same results twice, either way, stores them once
 *   (storage is idempotent on span_id) and adds them to the in-process trace once.
 *
 * The maps below are module-level (one per client family: this one serves every wrapped OpenAI
 * client, so a batch created by one client is found when another reads its results) and bounded.
 */

/** How many batches (and their files) are remembered; the oldest is forgotten first. */
const MAX_BATCHES = 10_000;
/** How many recorded result span ids are remembered in-process (two full 50k-request batches). */
const MAX_RECORDED = 100_000;
/** The most of one file read through `files.content()` (the tee buffers what the caller has not read yet). */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/** A longer result line is skipped; lines are read one at a time, so memory stays bounded by this. */
const MAX_LINE_CHARS = 32 * 1024 * 1024;
/** Before the first result line, this much text that does not start like JSON ends the sniffing. */
const SNIFF_CHARS = 1024 * 1024;
/** Unreadable lines tolerated before the first result line, before a file is taken for something else. */
const MAX_JUNK_BEFORE_RESULT = 8;

/** A Map that forgets its least recently used entry past `max`. */
class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
}

/** What is known about a batch: where it was created (trace, tags, client options) and what it runs. */
interface BatchOrigin {
  provider: string;
  /** The trace active at `batches.create`; null when there was none or this process did not see the create. */
  context: TraceContext | null;
  /** Per-call tags given to `batches.create`. */
  callTags: Tags | undefined;
  options: ResolvedWrapOptions;
  /** The batch's `endpoint` (`/v1/chat/completions`…), which tells how to read a line's usage. */
  endpoint: string | undefined;
  model: string | undefined;
}

const batches = new BoundedMap<string, BatchOrigin>(MAX_BATCHES);
/** Output and error file ids → the batch they belong to. */
const files = new BoundedMap<string, { batchId: string; kind: 'output' | 'error' }>(MAX_BATCHES * 2);
/** Span ids of results recorded in this process (storage dedups across processes). */
const recorded = new BoundedMap<string, true>(MAX_RECORDED);

type Fn = (...args: unknown[]) => unknown;
type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

function safely<A>(fn: (arg: A) => void, arg: A): void {
  try {
    fn(arg);
  } catch (e) {
    runtime.warn(`Kostrack could not read an OpenAI batch response: ${errorClassOf(e)}`);
  }
}

/**
 * Runs `observe` on the data an SDK APIPromise parses, whoever reads it (`await`, `.then`,
 * `withResponse()`, auto-pagination of a list), and returns the same promise object. The SDK's
 * `parseResponse` step is wrapped: the body is parsed once, by the SDK, as without Kostrack.
 */
function observeParsed<T>(promise: T, observe: (data: unknown) => void): T {
  if (!(promise instanceof Promise)) return promise;
  const p = promise as unknown as { parseResponse?: unknown; asResponse?: unknown };
  if (typeof p.parseResponse === 'function') {
    const parse = p.parseResponse as Fn;
    p.parseResponse = async function parseResponse(this: unknown, ...args: unknown[]) {
      const data = await parse.apply(this, args);
      safely(observe, data);
      return data;
    };
  } else if (p.asResponse === undefined) {
    // A plain Promise (not the SDK shape we know): observe it beside the caller, changing nothing.
    promise.then((data) => safely(observe, data), () => undefined);
  }
  return promise;
}

/**
 * Runs `observe` on the raw fetch `Response` of an SDK APIPromise before anyone reads its body,
 * whichever way the caller reads it (`await`, `asResponse()`, `withResponse()`). The caller's
 * Response object is the SDK's own, untouched; `observe` reads a clone.
 */
function observeResponse<T>(promise: T, observe: (response: Response) => void): T {
  if (!(promise instanceof Promise)) return promise;
  const p = promise as unknown as { responsePromise?: unknown; asResponse?: unknown };
  const isResponse = (r: unknown): r is Response => typeof (r as Response | null)?.clone === 'function';
  if (p.responsePromise instanceof Promise) {
    // The SDK reads `responsePromise` lazily (in parse and asResponse), after this call returns,
    // so our step runs first; a rejection passes through to whoever reads it, as before.
    p.responsePromise = p.responsePromise.then((props: unknown) => {
      const response = (props as { response?: unknown } | null)?.response;
      if (isResponse(response)) safely(observe, response);
      return props;
    });
  } else if (p.asResponse === undefined) {
    promise.then((r) => isResponse(r) && safely(observe, r), () => undefined);
  }
  return promise;
}

/** Remembers what a Batch object says: its endpoint and model, and which batch its files belong to. */
function learnBatch(value: unknown, provider: string, options: ResolvedWrapOptions): void {
  if (!isObject(value) || !nonEmpty(value.id)) return;
  const id = value.id;
  let origin = batches.get(id);
  if (!origin) {
    // Created elsewhere (another process): no trace, but its files can still be tied to it.
    origin = { provider, context: null, callTags: undefined, options, endpoint: undefined, model: undefined };
    batches.set(id, origin);
  }
  if (nonEmpty(value.endpoint)) origin.endpoint = value.endpoint;
  if (nonEmpty(value.model)) origin.model = value.model;
  if (nonEmpty(value.output_file_id)) files.set(value.output_file_id, { batchId: id, kind: 'output' });
  if (nonEmpty(value.error_file_id)) files.set(value.error_file_id, { batchId: id, kind: 'error' });
}

/** A page of `batches.list()`, and the pages fetched after it (`for await` and `getNextPage()`). */
function learnPage(page: unknown, provider: string, options: ResolvedWrapOptions): void {
  if (!isObject(page)) return;
  if (Array.isArray(page.data)) for (const b of page.data) learnBatch(b, provider, options);
  const next = page.getNextPage;
  if (typeof next !== 'function') return;
  // The next page is fetched by the SDK's own client (not the wrapped one): follow it from here.
  Object.defineProperty(page, 'getNextPage', {
    configurable: true,
    writable: true,
    value: async function getNextPage(this: unknown, ...args: unknown[]) {
      const nextPage = await (next as Fn).apply(this, args);
      safely((p) => learnPage(p, provider, options), nextPage);
      return nextPage;
    },
  });
}

/** `batches.create`: remembers the trace and per-call tags active now, keyed by the new batch's id. */
export function trackBatchCreate(original: Fn, provider: string, options: ResolvedWrapOptions): Fn {
  return function create(body: unknown, requestOptions?: unknown, ...rest: unknown[]) {
    if (!runtime.enabled || !isObject(body)) return original(body, requestOptions, ...rest);
    let params: unknown = body;
    let callTags: Tags | undefined;
    if (Object.hasOwn(body, KOSTRACK_KEY)) ({ forward: params, tags: callTags } = takeCallOptions(body));
    if (isObject(requestOptions) && Object.hasOwn(requestOptions, KOSTRACK_KEY)) {
      const fromOptions = takeCallOptions(requestOptions);
      requestOptions = fromOptions.forward;
      callTags = fromOptions.tags ?? callTags;
    }
    const context = runtime.als.getStore() ?? null;
    const endpoint = nonEmpty((params as Json).endpoint) ? ((params as Json).endpoint as string) : undefined;
    return observeParsed(original(params, requestOptions, ...rest), (data) => {
      if (!isObject(data) || !nonEmpty(data.id)) return;
      batches.set(data.id, { provider, context, callTags, options, endpoint, model: undefined });
      learnBatch(data, provider, options);
    });
  };
}

/** `batches.retrieve`: learns the batch's output and error file ids. */
export function trackBatchLookup(original: Fn, provider: string, options: ResolvedWrapOptions): Fn {
  return function lookup(...args: unknown[]) {
    const result = original(...args);
    return runtime.enabled ? observeParsed(result, (data) => learnBatch(data, provider, options)) : result;
  };
}

/** `batches.list`: learns the file ids of every batch listed, on every page read. */
export function trackBatchList(original: Fn, provider: string, options: ResolvedWrapOptions): Fn {
  return function list(...args: unknown[]) {
    const result = original(...args);
    return runtime.enabled ? observeParsed(result, (page) => learnPage(page, provider, options)) : result;
  };
}

/**
 * `files.content`: when the file is batch output (its lines have `custom_id` and `response` or
 * `error`), records each result. The caller gets the SDK's Response untouched; Kostrack reads a
 * clone, line by line, and stops at once when the file is something else.
 */
export function trackFileContent(original: Fn, provider: string, options: ResolvedWrapOptions): Fn {
  return function content(fileId: unknown, ...rest: unknown[]) {
    const result = original(fileId, ...rest);
    if (!runtime.enabled || !nonEmpty(fileId)) return result;
    return observeResponse(result, (response) => {
      if (response.status < 200 || response.status >= 300 || response.status === 204 || !response.body) return;
      // A fetch whose body is not a web stream (node-fetch and its kin): a clone we could not read
      // would stall the caller's copy, so such a file is not read at all.
      if (typeof (response.body as { getReader?: unknown }).getReader !== 'function') return;
      // Response.clone() tees the body: what we read ahead of the caller is buffered for them. A big
      // file read that way would hold up to all of it in memory, so past a size it is left alone.
      const length = Number(response.headers.get('content-length'));
      if (Number.isFinite(length) && length > MAX_READ_BYTES) {
        runtime.warn(`Kostrack did not read batch file ${fileId} (${length} bytes, over ${MAX_READ_BYTES}); record its results with importBatchResults()`);
        return;
      }
      const file = files.get(fileId);
      const origin = file ? batches.get(file.batchId) : undefined;
      const recorder = new BatchLineRecorder(
        {
          provider: origin?.provider ?? provider,
          options: origin?.options ?? options,
          context: origin?.context ?? null,
          callTags: origin?.callTags,
          batchId: file?.batchId,
          endpoint: origin?.endpoint,
          model: origin?.model,
          fileNote: file?.kind === 'error' ? ['error_file_id', fileId] : ['output_file_id', fileId],
        },
        true,
      );
      void readLines(response.clone(), recorder, fileId).then(
        (isBatchOutput) => {
          if (isBatchOutput && recorder.skipped > 0)
            runtime.warn(`Kostrack skipped ${recorder.skipped} unreadable line(s) of batch file ${fileId}; the other results were recorded`);
        },
        (e: unknown) => runtime.warn(`Kostrack could not read batch file ${fileId}: ${errorClassOf(e)}`),
      );
    });
  };
}

/** Feeds a body to `recorder` line by line; false when it turned out not to be batch output. */
async function readLines(response: Response, recorder: BatchLineRecorder, fileId: string): Promise<boolean> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  let overlong = false;
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (value) bytes += value.byteLength;
      if (bytes > MAX_READ_BYTES) {
        // A file without a length that turned out big: stop, so the caller's copy buffers no more.
        runtime.warn(`Kostrack stopped reading batch file ${fileId} after ${MAX_READ_BYTES} bytes; record the rest with importBatchResults()`);
        return recorder.decided;
      }
      // Only the new text can hold a line break not yet seen: searching from there keeps a long line linear.
      const searchFrom = pending.length;
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let start = 0;
      for (let nl = pending.indexOf('\n', searchFrom); nl >= 0; nl = pending.indexOf('\n', start)) {
        const line = pending.slice(start, nl);
        start = nl + 1;
        if (overlong) {
          // The rest of a line already skipped as too long.
          overlong = false;
          continue;
        }
        if (!recorder.line(line)) return false;
      }
      pending = start > 0 ? pending.slice(start) : pending;
      if (done) return pending === '' || overlong ? recorder.decided : recorder.line(pending) && recorder.decided;
      // Still sniffing and a long first line that is not JSON: a binary file (an image, a PDF).
      if (!recorder.decided && pending.length > SNIFF_CHARS && !/^\s*\{/.test(pending.slice(0, 64))) return false;
      if (pending.length > MAX_LINE_CHARS) {
        if (!recorder.decided) return false;
        if (!overlong) recorder.skipped++;
        overlong = true;
        pending = '';
      }
    }
  } finally {
    // Stops our copy of the body only; the caller's Response reads on as before.
    reader.cancel().catch(() => undefined);
  }
}

/** Where the rows of one read of batch results go. */
interface RecordTarget {
  provider: string;
  options: ResolvedWrapOptions;
  context: TraceContext | null;
  callTags: Tags | undefined;
  batchId: string | undefined;
  endpoint: string | undefined;
  model: string | undefined;
  /** `['output_file_id', id]` or `['error_file_id', id]` when read from a file. */
  fileNote?: [string, string] | undefined;
}

/** How a line's body is read, by the endpoint its request went to. */
interface Kind {
  operation: string;
  /** Usage from the line's response body. */
  usage: (body: Json) => NormalizedUsage;
  /** A body that was billed but reports failure (a Responses `status: 'failed'`). */
  failed?: ((body: Json) => boolean) | undefined;
}

// The body's `service_tier` is not read: a batch request is billed at the batch tier whatever its
// body says (`default`), and the row's serviceTier then says `batch`.
const CHAT: Kind = { operation: 'batches.chat.completions.create', usage: (b) => chatUsage(b.usage) };
const RESPONSES: Kind = {
  operation: 'batches.responses.create',
  // Its output items still count: web and file searches are billed per call.
  usage: (b) => responseUsage({ ...b, service_tier: undefined }),
  failed: (b) => b.status === 'failed',
};
const EMBEDDINGS: Kind = { operation: 'batches.embeddings.create', usage: (b) => embeddingsUsage(b.usage) };
const COMPLETIONS: Kind = { operation: 'batches.completions.create', usage: (b) => chatUsage(b.usage) };

/** By endpoint path: `/v1/chat/completions` (OpenAI) or `/chat/completions` (Azure). */
function kindOfEndpoint(endpoint: string | undefined): Kind | undefined {
  if (!endpoint) return undefined;
  const path = endpoint.split('?')[0];
  if (/(^|\/)chat\/completions$/.test(path)) return CHAT;
  if (/(^|\/)responses$/.test(path)) return RESPONSES;
  if (/(^|\/)embeddings$/.test(path)) return EMBEDDINGS;
  if (/(^|\/)completions$/.test(path)) return COMPLETIONS;
  return undefined;
}

/** By the body's own `object` type, when neither the line nor the batch names the endpoint. */
function kindOfBody(body: Json | null): Kind | undefined {
  switch (body?.object) {
    case 'chat.completion':
      return CHAT;
    case 'response':
      return RESPONSES;
    case 'text_completion':
      return COMPLETIONS;
    case 'list':
      return Array.isArray(body.data) && isObject(body.data[0]) && body.data[0].object === 'embedding' ? EMBEDDINGS : undefined;
    default:
      return undefined;
  }
}

/**
 * What identifies a result line, taken from the line alone: never from how it was read (the batch
 * or file id is known through `files.content` of a known batch, not through an import without
 * `batchId`), or the same result read two ways would be recorded twice. Its `id` (`batch_req_…`,
 * unique per request) with its `custom_id`; for servers that send no `id`, the `custom_id` with the
 * provider's request id and the response body's id (`chatcmpl-…`, `resp_…`); for a line with none
 * of them (a request that never got an answer), the line's whole content. Two such lines that say
 * exactly the same (same `custom_id`, same error) in two batches are then one row; they cost 0.
 */
export function batchResultIdentity(line: Json & { custom_id: string }): string {
  if (nonEmpty(line.id)) return `line\u0000${line.id}\u0000${line.custom_id}`;
  const response = isObject(line.response) ? line.response : null;
  const requestId = nonEmpty(response?.request_id) ? response.request_id : '';
  const bodyId = isObject(response?.body) && nonEmpty(response.body.id) ? response.body.id : '';
  if (requestId || bodyId) return `request\u0000${line.custom_id}\u0000${requestId}\u0000${bodyId}`;
  return `content\u0000${JSON.stringify(line)}`;
}

/**
 * A span id for one result: a UUID made of a SHA-256 of the provider and the line's identity
 * ({@link batchResultIdentity}), so every way of reading the same result (with or without knowing
 * its batch, in this process or another) gives the same id. Version and variant nibbles are set
 * like `newId()`'s, so it passes any UUID validator.
 */
export function batchResultSpanId(provider: string, identity: string): string {
  const hex = createHash('sha256').update(`${provider}\u0000${identity}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * An error for a failed result line, named (for `errorClass`) after its error code or HTTP status.
 * errorClassOf() names an error by its constructor, so the instance gets one carrying that name.
 */
function resultError(name: string): Error {
  const error = new Error(name);
  Object.defineProperty(error, 'constructor', { value: { name: name.slice(0, 100) }, enumerable: false });
  return error;
}

/** Records result lines one at a time and counts what it did; never throws. */
class BatchLineRecorder {
  recorded = 0;
  errors = 0;
  skipped = 0;
  duplicates = 0;
  /** Whether a result line was seen (a file is sniffed until then). */
  decided: boolean;
  private junk = 0;

  constructor(
    private readonly target: RecordTarget,
    sniff: boolean,
  ) {
    this.decided = !sniff;
  }

  /** Takes one line; false means stop: this is not a batch results file. */
  line(raw: string): boolean {
    const text = raw.trim();
    if (text === '') return true;
    let value: unknown;
    let parsed = false;
    if (text[0] === '{') {
      try {
        value = JSON.parse(text);
        parsed = true;
      } catch {
        // Counted below.
      }
    }
    if (!isResultLine(value)) {
      if (!this.decided) {
        // Before the first result: a JSON line of another kind (a batch *input* file) or a
        // run of junk (a binary file) means this file is something else.
        if (parsed || ++this.junk > MAX_JUNK_BEFORE_RESULT) return false;
      }
      this.skipped++;
      return true;
    }
    this.decided = true;
    try {
      this.record(value);
    } catch (e) {
      this.skipped++;
      runtime.warn(`Kostrack could not record a batch result: ${errorClassOf(e)}`);
    }
    return true;
  }

  private record(line: Json & { custom_id: string }): void {
    const t = this.target;
    const response = isObject(line.response) ? line.response : null;
    const error = isObject(line.error) ? line.error : null;
    const status = response?.status_code;
    const body = response && isObject(response.body) ? response.body : null;
    const failed = error !== null || typeof status !== 'number' || status < 200 || status >= 300;
    const kind = kindOfEndpoint(nonEmpty(line.url) ? line.url : t.endpoint) ?? kindOfBody(body);
    // A successful request of an endpoint without token usage (moderations, images): nothing to price.
    if (!failed && (!kind || !body)) {
      this.skipped++;
      return;
    }
    const spanId = batchResultSpanId(t.provider, batchResultIdentity(line));
    if (recorded.has(spanId)) {
      this.duplicates++;
      return;
    }
    recorded.set(spanId, true);
    const model = body && nonEmpty(body.model) ? body.model : undefined;
    const scope = new CallScope({
      provider: t.provider,
      operation: kind?.operation ?? 'batches.request',
      requestModel: model ?? t.model ?? '',
      streamed: false,
      batch: true,
      params: undefined,
      callTags: t.callTags,
      options: t.options,
      spanId,
      context: t.context,
    });
    if (t.batchId) scope.note('batch_id', t.batchId);
    scope.note('custom_id', line.custom_id);
    if (t.fileNote) scope.note(t.fileNote[0], t.fileNote[1]);
    if (nonEmpty(response?.request_id)) scope.note('request_id', response.request_id);
    if (failed) {
      const code = nonEmpty(error?.code) ? error.code : undefined;
      const bodyCode = isObject(body?.error) && nonEmpty(body.error.code) ? body.error.code : undefined;
      if (!code && bodyCode) scope.note('error_code', bodyCode);
      scope.fail(resultError(code ?? (typeof status === 'number' ? `HTTP ${status}` : 'BatchRequestError')));
      this.errors++;
      return;
    }
    scope.ok(kind!.usage(body!), model, kind!.failed?.(body!) ? 'error' : 'ok');
    this.recorded++;
  }
}

/** A line of a batch output or error file: `{ id, custom_id, response: {…} | null, error: {…} | null }`. */
function isResultLine(value: unknown): value is Json & { custom_id: string } {
  return (
    isObject(value) &&
    typeof value.custom_id === 'string' &&
    (isObject(value.response) || isObject(value.error)) &&
    (value.response === undefined || value.response === null || isObject(value.response)) &&
    (value.error === undefined || value.error === null || isObject(value.error))
  );
}

export interface ImportBatchResultsOptions {
  /** The batch the results belong to: rows get `metadata.batch_id`, and the trace and tags of its `batches.create` when this process saw it. */
  batchId?: string | undefined;
  /** Provider stored on the rows and used for pricing; default the batch's (when known), else `openai`. */
  provider?: string | undefined;
  /** Prices the rows; default the creating client's, else the process-wide book. */
  priceBook?: PriceBook | undefined;
  /** The trace the rows belong to, over the one remembered for `batchId`; default none. */
  trace?: TraceContext | undefined;
  /** Call tags for every row, over those given to `batches.create`. */
  tags?: TagInput | undefined;
}

/** What {@link importBatchResults} did with the lines it was given (blank lines are not counted). */
export interface ImportBatchResultsResult {
  /** Succeeded results recorded as calls, at batch prices. */
  recorded: number;
  /** Failed results recorded as error rows (cost 0). */
  errors: number;
  /** Lines that are not batch results (unparsable, another shape) or of an endpoint without token usage. */
  skipped: number;
  /** Results already recorded in this process (read through `files.content` or imported before). */
  duplicates: number;
}

const IMPORT_KEYS = new Set(['batchId', 'provider', 'priceBook', 'trace', 'tags']);

/**
 * Records the calls of an OpenAI Batch API batch from the text of its output or error file (JSONL),
 * for results read some other way than `files.content()` of a wrapped client (a job that
 * downloads them, a file on disk). Rows are the same as for `files.content()` (see the top of this
 * module): batch prices, one row per line, failed lines as error rows, and idempotent, so results
 * imported twice, or imported and also read through a wrapped client, are recorded once.
 * Unreadable lines are skipped and counted. Throws {@link KostrackConfigError} for arguments of the
 * wrong type; never for the content. Records nothing (all counts 0) while Kostrack is disabled.
 *
 * ```ts
 * const text = await (await openai.files.content(batch.output_file_id)).text();
 * importBatchResults(text, { batchId: batch.id });
 * ```
 */
export function importBatchResults(jsonl: string, options: ImportBatchResultsOptions = {}): ImportBatchResultsResult {
  if (typeof jsonl !== 'string')
    throw new KostrackConfigError(`importBatchResults(jsonl, options): jsonl must be the file's text (a string), got ${jsonl === null ? 'null' : typeof jsonl}`);
  if (!isObject(options)) throw new KostrackConfigError('importBatchResults(jsonl, options): options must be an object like { batchId }');
  for (const key of Object.keys(options))
    if (!IMPORT_KEYS.has(key)) throw new KostrackConfigError(`importBatchResults(): unknown option "${key}"; expected ${[...IMPORT_KEYS].join(', ')}`);
  const o = options as ImportBatchResultsOptions;
  if (o.batchId !== undefined && !nonEmpty(o.batchId)) throw new KostrackConfigError('importBatchResults(): batchId must be a non-empty string');
  if (o.provider !== undefined) assertProviderName(o.provider, 'importBatchResults()');
  if (o.priceBook !== undefined && !(o.priceBook instanceof PriceBook)) throw new KostrackConfigError('importBatchResults(): priceBook must be a PriceBook');
  const t = o.trace as unknown;
  if (t !== undefined && !(isObjectLike(t) && typeof t.traceId === 'string' && typeof t.addCall === 'function'))
    throw new KostrackConfigError('importBatchResults(): trace must be a trace context (from trace(), span() or currentTrace())');
  const tags = normalizeTags(o.tags);

  const counts: ImportBatchResultsResult = { recorded: 0, errors: 0, skipped: 0, duplicates: 0 };
  if (!runtime.enabled) return counts;
  const origin = o.batchId ? batches.get(o.batchId) : undefined;
  const provider = o.provider ?? origin?.provider ?? 'openai';
  const base = origin?.options;
  const recorder = new BatchLineRecorder(
    {
      provider,
      options: { provider, tags: base?.tags ?? EMPTY_TAGS, priceBook: o.priceBook ?? base?.priceBook, metadata: base?.metadata, includeStreamUsage: undefined },
      context: o.trace ?? origin?.context ?? null,
      callTags: mergeTags(origin?.callTags, tags),
      batchId: o.batchId,
      endpoint: origin?.endpoint,
      model: origin?.model,
    },
    false,
  );
  for (const line of jsonl.split('\n')) {
    if (line.length > MAX_LINE_CHARS) recorder.skipped++;
    else recorder.line(line);
  }
  return { recorded: recorder.recorded, errors: recorder.errors, skipped: recorder.skipped, duplicates: recorder.duplicates };
}

function isObjectLike(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object';
}
