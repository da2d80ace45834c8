import { sendingCall } from './attempt.counter.js';

/** Marks a function Kostrack installed, so wrapping a client again (or a `withOptions` clone of one) counts each attempt once. */
const OBSERVING = Symbol.for('kostrack.attemptsObserved');

type Fetch = (url: unknown, init?: unknown) => Promise<unknown>;
type Marked = { [OBSERVING]?: true };

/**
 * The attempt index the Stainless SDKs (openai, @anthropic-ai/sdk) put on each attempt they send,
 * `X-Stainless-Retry-Count` (0 the first); null when absent.
 */
function stainlessRetryIndex(init: unknown): number | null {
  const headers = (init as { headers?: unknown } | null | undefined)?.headers;
  let value: unknown;
  if (headers instanceof Headers) value = headers.get('x-stainless-retry-count');
  else if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'x-stainless-retry-count') value = v;
  }
  const n = typeof value === 'string' ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Counts the HTTP attempts of an `openai` or `@anthropic-ai/sdk` client. Both send every attempt,
 * retries included, through the client's `fetch` (the `fetch` option, or the global one), read at
 * each attempt: it is replaced on this client by one that counts the attempt into the call being
 * sent, then calls the fetch it replaced, so a host's own fetch keeps working as it did. A client
 * without that property (a future SDK) is left as it is; its calls store attempts as unknown.
 */
export function observeStainlessAttempts(client: object): void {
  const c = client as { fetch?: unknown };
  const inner = c.fetch;
  if (typeof inner !== 'function' || (inner as Marked)[OBSERVING]) return;
  const counting: Fetch & Marked = function countingFetch(this: unknown, url: unknown, init?: unknown) {
    sendingCall.getStore()?.countAttempt(stainlessRetryIndex(init));
    return (inner as Fetch).call(this, url, init);
  };
  counting[OBSERVING] = true;
  try {
    c.fetch = counting;
  } catch {
    // A frozen client: its attempts stay unknown.
  }
}

type ApiCall = (url: unknown, init: unknown, retryOptions: unknown, timeout: unknown, signal: unknown, fetchFn?: Fetch) => Promise<unknown>;

/**
 * Counts the HTTP attempts of a `@google/genai` client. Its ApiClient sends each request through
 * `apiCall(…, fetchFn)`, which retries (when `httpOptions.retryOptions` asks for it) by calling
 * `fetchFn ?? fetch` again. Inside a tracked call, each request gets a fetch that counts its own
 * attempts and calls the one the SDK would have called. The host's `httpOptions.fetch` arrives as
 * `fetchFn` and is kept; without one the global fetch is used, with the undici dispatcher the
 * SDK already put in the request. An SDK without that method is left as it is (attempts unknown).
 */
export function observeGeminiAttempts(client: object): void {
  const api = (client as { apiClient?: { apiCall?: unknown } }).apiClient;
  const original = api?.apiCall;
  if (!api || typeof original !== 'function' || (original as Marked)[OBSERVING]) return;
  const counting: ApiCall & Marked = function apiCall(this: unknown, url, init, retryOptions, timeout, signal, fetchFn) {
    const sink = sendingCall.getStore();
    if (!sink) return (original as ApiCall).call(this, url, init, retryOptions, timeout, signal, fetchFn);
    let attempt = 0;
    const countingFetch: Fetch = (u, i) => {
      sink.countAttempt(attempt++);
      return fetchFn ? fetchFn(u, i) : (fetch as Fetch)(u, i);
    };
    return (original as ApiCall).call(this, url, init, retryOptions, timeout, signal, countingFetch);
  };
  counting[OBSERVING] = true;
  try {
    api.apiCall = counting;
  } catch {
    // A frozen client: its attempts stay unknown.
  }
}
