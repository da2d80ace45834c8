import { describeError, isConnectionError } from './error.classifier.js';

type ErrorReport = { code: string | null; message: string; at: Date };

/** Health figures of the writer (what `KostrackHealth` reports). */
export interface WriterHealth {
  /**
   * Null until the first attempt to write. False while writes fail for lack of a connection, and
   * also while a write has waited longer than `writer.stallAfterMs` for an answer (a network stall
   * reaches no error until the query timeout).
   */
  databaseReachable: boolean | null;
  /** Rows in memory, queued or in flight. */
  queueDepth: number;
  /** Bytes waiting in the disk spool (all segments in the folder). */
  spoolBytes: number;
  /** Rows this process wrote to the disk spool since it started (only rows that reached the disk). */
  spooledRows: number;
  /**
   * Rows lost since start: past the memory bound (or after close) they could not be written to
   * the spool (a full or read-only disk), or a rejected row could not be written to the
   * dead-letter file. Zero unless the disk failed too.
   */
  lostRows: number;
  /** Rows written to the dead-letter file since start. */
  deadLettered: number;
  /** Rows inserted (duplicates excluded) since start. */
  written: { calls: number; spans: number };
  lastFlushAt: Date | null;
  /** The latest failure of any kind: the database, the spool, the dead-letter file. */
  lastError: ErrorReport | null;
  /** The spool's latest write failure; null once it writes again. Non-null means rows can be lost. */
  spoolError: ErrorReport | null;
  /** After close: rows are no longer written to the database, only appended to the spool. */
  closed: boolean;
}

/**
 * What the writer knows about its own state, and the warnings that go with it: each kind of
 * trouble is warned about once when it starts and once when it ends, never per row.
 */
export class WriterStats {
  reachable: boolean | null = null;
  lastFlushAt: Date | null = null;
  lastError: ErrorReport | null = null;
  spoolError: ErrorReport | null = null;
  readonly written = { calls: 0, spans: 0 };
  /** Failed writes since start (outages, not rejected rows). */
  failures = 0;
  /** Rows lost outside the spool's own count (the dead-letter file failed). */
  lostRows = 0;
  private warnedDown = false;
  private downSince = 0;
  /** Start times of the writes waiting for the database now. */
  private readonly inFlight = new Set<{ at: number }>();

  constructor(
    private readonly warn: (message: string) => void,
    private readonly stallAfterMs: number,
    private readonly describeSpill: () => string,
  ) {}

  /** Marks a write as waiting on the database; call the returned function when it settles. */
  beginWrite(): () => void {
    const entry = { at: Date.now() };
    this.inFlight.add(entry);
    return () => this.inFlight.delete(entry);
  }

  addWritten(calls: number, spans: number): void {
    this.written.calls += calls;
    this.written.spans += spans;
  }

  markWritten(): void {
    this.reachable = true;
    this.lastFlushAt = new Date();
    if (this.warnedDown) this.warn(`Kostrack storage is writing again after ${Math.round((Date.now() - this.downSince) / 1000)} s`);
    this.warnedDown = false;
  }

  markFailed(error: unknown): void {
    const reason = describeError(error);
    this.failures++;
    this.lastError = { ...reason, at: new Date() };
    this.reachable = !isConnectionError(error);
    if (!this.warnedDown) {
      this.warnedDown = true;
      this.downSince = Date.now();
      this.warn(`Kostrack storage cannot write (${reason.code ?? 'error'}: ${reason.message}); retrying, ${this.describeSpill()}`);
    }
  }

  markRejected(reason: { code: string | null; message: string }): void {
    this.lastError = { ...reason, at: new Date() };
  }

  /** The spool failed; `lost` rows are gone (counted by the spool itself). */
  markSpoolFailed(error: unknown, lost: number, what: string): void {
    const reason = describeError(error);
    const report = { ...reason, at: new Date() };
    const first = this.spoolError === null;
    this.spoolError = report;
    this.lastError = report;
    if (first) this.warn(`Kostrack could not write its spool while ${what}; ${lost} row(s) lost so far, more will be until it can (${reason.code ?? 'error'}: ${reason.message})`);
  }

  markSpoolWritten(): void {
    if (this.spoolError === null) return;
    this.spoolError = null;
    this.warn('Kostrack can write its spool again');
  }

  /** A row that could go nowhere (not even the dead-letter file). */
  markLost(count: number, error: unknown, what: string): void {
    this.lostRows += count;
    this.lastError = { ...describeError(error), at: new Date() };
    this.warn(`Kostrack lost ${count} row(s): ${what} (${describeError(error).message})`);
  }

  /** Reachability as health reports it: a write unanswered for too long counts as unreachable. */
  health(): Pick<WriterHealth, 'databaseReachable' | 'lastError'> {
    let oldest = Infinity;
    for (const entry of this.inFlight) if (entry.at < oldest) oldest = entry.at;
    const waited = Date.now() - oldest;
    if (waited > this.stallAfterMs)
      return {
        databaseReachable: false,
        lastError: { code: 'STALLED', message: `a write has had no answer from PostgreSQL for ${Math.round(waited / 1000)} s`, at: new Date(oldest + this.stallAfterMs) },
      };
    return { databaseReachable: this.reachable, lastError: this.lastError };
  }
}
