import { AsyncLocalStorage } from 'node:async_hooks';

/** What a call's HTTP attempts are counted into (a `CallScope`). */
export interface AttemptSink {
  /**
   * One HTTP attempt was sent. `retry`: the SDK's index of the attempt within its request (0 the
   * first, 1 its first retry…), or null when the SDK did not say (then the first attempt the call
   * sends is its request and later ones are retries).
   */
  countAttempt(retry: number | null): void;
}

/**
 * The call whose request is being sent. A tracked method runs the SDK's own method inside it, so
 * the SDK's request (its retries and backoff sleeps included, which keep the async context) sees
 * its own call even when many run at once; a fetch outside any tracked call sees nothing.
 */
export const sendingCall = new AsyncLocalStorage<AttemptSink>();

/**
 * Counts one call's attempts. Each SDK request's first attempt is not a retry; every later one
 * is, so a call that made several requests (Gemini's automatic function calling) reports
 * 1 + all their retries.
 */
export class AttemptTally implements AttemptSink {
  private sent = 0;
  private retries = 0;
  private numbered = false;

  countAttempt(retry: number | null): void {
    // Once the SDK numbers its attempts, a request without a number is not one of them (a token
    // refresh through the same fetch, say), so it counts as neither a request nor a retry.
    if (retry === null && this.numbered) return;
    if (retry !== null) this.numbered = true;
    this.sent++;
    if (retry === null ? this.sent > 1 : retry > 0) this.retries++;
  }

  /** 1 + retries; null when no attempt was seen (nothing sent, or an SDK whose requests are not observed). */
  get attempts(): number | null {
    return this.sent === 0 ? null : 1 + this.retries;
  }
}
