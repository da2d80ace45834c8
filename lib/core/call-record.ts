import type { Usd } from './money.js';
import type { Tags } from './tags.js';

/** Disjoint token buckets; they sum back to `inputTokens` and `outputTokens` (OTel GenAI convention). */
export interface TokenBreakdown {
  /** Input billed at the plain input rate. */
  inputUncached?: number | undefined;
  cacheRead?: number | undefined;
  /** Anthropic's 5-minute cache write (and any provider's single write rate). */
  cacheWrite5m?: number | undefined;
  cacheWrite1h?: number | undefined;
  /** Visible output, excluding reasoning. */
  output?: number | undefined;
  reasoning?: number | undefined;
  inputAudio?: number | undefined;
  outputAudio?: number | undefined;
  /** Cached audio input (Gemini, OpenAI realtime), billed at the cached-audio rate. */
  cacheReadAudio?: number | undefined;
  /** Image output tokens (Gemini image models), billed at the image-output rate. */
  outputImage?: number | undefined;
  /**
   * Per-request fees beside tokens (counts, not tokens; not part of `inputTokens`/`outputTokens`).
   * Web searches: Anthropic `server_tool_use.web_search_requests`, OpenAI `web_search_call` items,
   * Gemini 3 search queries.
   */
  webSearches?: number | undefined;
  /** OpenAI Responses `file_search_call` items. */
  fileSearches?: number | undefined;
  /** Gemini 2.x prompts grounded with Google Search (billed per grounded prompt). */
  groundedPrompts?: number | undefined;
}

/** `blocked`: refused by a budget before its request was sent (cost 0). */
export type CallStatus = 'ok' | 'error' | 'aborted' | 'blocked';

/** What a provider wrapper knows about a finished call. */
export interface CallInput {
  provider: string;
  /** The model the response reported, else the one requested. */
  model: string;
  /** e.g. `chat.completions.create`, `messages.create`, `embedContent`. */
  operation: string;
  inputTokens: number;
  outputTokens: number;
  /** Input tokens served from cache (included in `inputTokens`). */
  cachedTokens: number;
  tokenBreakdown: TokenBreakdown;
  /** Exact cost; null when the model could not be priced. */
  costUsd: Usd | null;
  /** The catalog entry or override that priced the call, e.g. `genai-prices:gpt-4o`. */
  pricingModel: string | null;
  /** How it was priced: `catalog`, `override`, `stored`, `batch`, `tier`, or `unpriced`. */
  pricingSource: string;
  /**
   * Where the price is not exact, why: a bucket billed at another bucket's rate, a service tier
   * with no known price, a fee that could not be priced. Absent when the price is exact.
   */
  pricingFlags?: readonly string[] | null | undefined;
  /** The service tier the response reports (`default`, `flex`, `priority`, `scale`, `batch`…). */
  serviceTier?: string | null | undefined;
  /** Which price catalog priced the call, e.g. `genai-prices@0.1.8+corrections@2026-11-30`. */
  catalogVersion?: string | null | undefined;
  latencyMs: number;
  /**
   * HTTP attempts the SDK made for the call: 1 without a retry, 3 after two retries of its own
   * (a provider may bill an attempt the SDK gave up on, e.g. one that timed out). A positive whole
   * number up to 32,767; absent or null when unknown (an SDK Kostrack cannot observe, or nothing
   * was sent). See docs/reconcile.md.
   */
  attempts?: number | null | undefined;
  status: CallStatus;
  /** The error's class name (`RateLimitError`), never its message (it may quote the prompt). */
  errorClass?: string | null | undefined;
  streamed: boolean;
  /** Tags for this call only (highest precedence). */
  tags?: Tags | undefined;
  /** Client-level tags (lowest precedence). */
  clientTags?: Tags | undefined;
  /** Request metadata kept by the privacy hook; never prompts or keys unless opted in. */
  metadata?: Record<string, unknown> | undefined;
  /** When the call started; defaults to now minus latency. */
  time?: Date | undefined;
  /**
   * The call's id, when it must be the same every time the same call is recorded (batch results
   * read twice): a UUID. Default: a new id.
   */
  spanId?: string | undefined;
}

/** A finished call as stored: one row of `llm_calls`. */
export interface CallRecord extends Omit<CallInput, 'tags' | 'clientTags' | 'time' | 'metadata' | 'errorClass' | 'pricingFlags' | 'serviceTier' | 'catalogVersion' | 'spanId'> {
  /** The call's own id and its idempotency key. */
  spanId: string;
  /**
   * The caller gave `spanId` (batch results, an import): the same call may be recorded again at
   * another time, so storage looks for it under any time, not only this one.
   */
  keyed?: boolean | undefined;
  /** Null for calls made outside any trace. */
  traceId: string | null;
  /** The enclosing named span; null for calls made directly in the trace root. */
  parentSpanId: string | null;
  time: Date;
  serviceId: string;
  /** Every layer merged, with `span_name` set to the innermost span's name. */
  tags: Tags;
  metadata: Record<string, unknown>;
  errorClass: string | null;
  /** Null (or absent, from other sinks' records) when the price is exact. */
  pricingFlags?: readonly string[] | null | undefined;
  serviceTier?: string | null | undefined;
  catalogVersion?: string | null | undefined;
}

export type SpanStatus = 'running' | 'ok' | 'error';

/** A finished span: one row of `llm_spans` (and, for roots, the identity of `llm_traces`). */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** True for the root of this process's part of the trace. */
  isRoot: boolean;
  name: string;
  tags: Tags;
  serviceId: string;
  startTime: Date;
  endTime: Date;
  status: Exclude<SpanStatus, 'running'>;
  errorClass: string | null;
  /** The subtree's cost and call count as known in this process when the span ended. */
  costUsd: Usd;
  callCount: number;
}

/**
 * Where finished calls and spans go. Storage implements it with a batched writer; it must
 * return at once and never throw (the core guards it anyway).
 */
export interface TelemetrySink {
  recordCall(call: CallRecord): void;
  recordSpan(span: SpanRecord): void;
}
