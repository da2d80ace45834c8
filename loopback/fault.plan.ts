import type { ServerResponse } from 'node:http';
import { json, type ReceivedRequest } from './loopback.server.js';

/**
 * How one attempt fails: an HTTP 500 or 429 (with the headers the providers send, and
 * `retry-after-ms: 1`, which both Stainless SDKs honor, so their retry waits a millisecond instead
 * of its default backoff), or `reset`: the connection is closed with no answer.
 */
export type Fault = 500 | 429 | 'reset';

/**
 * Fails the first attempts of chosen requests, then lets the server's routes answer. Requests are
 * told apart by `keyOf` (a header, a field of the body), so calls in flight at once each get their
 * own faults, however their attempts interleave.
 */
export class FaultPlan {
  private readonly left = new Map<string, Fault[]>();
  /** Faults sent, per key, in order. */
  readonly sent = new Map<string, Fault[]>();

  constructor(private readonly keyOf: (req: ReceivedRequest) => string | undefined) {}

  /** The next attempts of requests with `key` fail with `faults`, in order. */
  fail(key: string, ...faults: Fault[]): this {
    this.left.set(key, [...(this.left.get(key) ?? []), ...faults]);
    return this;
  }

  /** Answers `req` with its next fault; false when it has none left (the routes answer it). */
  take(req: ReceivedRequest, res: ServerResponse): boolean {
    const key = this.keyOf(req);
    const fault = key === undefined ? undefined : this.left.get(key)?.shift();
    if (fault === undefined) return false;
    this.sent.set(key!, [...(this.sent.get(key!) ?? []), fault]);
    if (fault === 'reset') res.socket?.destroy();
    else {
      const body = fault === 429 ? { error: { type: 'rate_limit_error', message: 'Rate limited (loopback fault)' } } : { error: { type: 'api_error', message: 'Internal error (loopback fault)' } };
      json(res, body, fault, { 'retry-after-ms': '1' });
    }
    return true;
  }
}
