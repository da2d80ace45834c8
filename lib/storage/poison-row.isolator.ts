import type { BatchCommitter } from './batch.committer.js';
import type { DeadLetterFile } from './dead-letter.file.js';
import { describeError, isDataError } from './error.classifier.js';
import type { TelemetryItem } from './record.codec.js';
import type { WriterStats } from './writer.stats.js';

/** `ok`: committed or dead-lettered, the rows may leave memory. `down`: keep them and retry later. */
export type Outcome = 'ok' | 'down';

/**
 * Writes a batch so that one bad row never holds up the others: a rejected row (see the error
 * classifier) splits the batch in halves until it stands alone, and is then dead-lettered; an
 * outage keeps the whole batch for a retry.
 */
export class PoisonRowIsolator {
  /**
   * Rows already dead-lettered: a batch is resent whole after an outage (or kept because an
   * earlier batch failed), and its rejected rows must not be dead-lettered (or counted) again.
   */
  private readonly rejectedItems = new WeakSet<TelemetryItem>();

  constructor(
    private readonly committer: BatchCommitter,
    private readonly deadLetter: DeadLetterFile,
    private readonly stats: WriterStats,
    private readonly warn: (message: string) => void,
  ) {}

  /** Whether the row was dead-lettered (it was not stored). */
  rejected(item: TelemetryItem): boolean {
    return this.rejectedItems.has(item);
  }

  async write(batch: readonly TelemetryItem[]): Promise<Outcome> {
    const items = batch.some((item) => this.rejectedItems.has(item)) ? batch.filter((item) => !this.rejectedItems.has(item)) : batch;
    if (items.length === 0) return 'ok';
    const settled = this.stats.beginWrite();
    let failure: unknown;
    try {
      const committed = await this.committer.commit(items);
      this.stats.addWritten(committed.calls, committed.spans);
      this.stats.markWritten();
      return 'ok';
    } catch (e) {
      failure = e;
    } finally {
      settled();
    }
    if (!isDataError(failure)) {
      this.stats.markFailed(failure);
      return 'down';
    }
    if (items.length === 1) {
      this.reject(items[0], describeError(failure));
      return 'ok';
    }
    const mid = items.length >> 1;
    if ((await this.write(items.slice(0, mid))) === 'down') return 'down';
    return this.write(items.slice(mid));
  }

  /**
   * A rejected row can only be kept in the dead-letter file; if that file cannot be written
   * either, the row is counted lost and dropped rather than retried forever (which would stall
   * every row behind it).
   */
  reject(item: TelemetryItem, reason: { code: string | null; message: string }): void {
    this.rejectedItems.add(item);
    this.stats.markRejected(reason);
    try {
      this.deadLetter.write(item, reason);
      this.warn(`Kostrack dead-lettered a ${item.kind} that cannot be stored (${reason.code}: ${reason.message}) into ${this.deadLetter.path}`);
    } catch (e) {
      this.stats.markLost(1, e, `a rejected ${item.kind} could not be written to the dead-letter file ${this.deadLetter.path}`);
    }
  }

  /** A spool line that is not a row at all (torn by a crash, or refused by the decoder). */
  rejectLine(line: string, reason: { code: string | null; message: string }): void {
    try {
      this.deadLetter.writeRaw(line, reason);
    } catch (e) {
      this.stats.markLost(1, e, `an unreadable spool line could not be written to the dead-letter file ${this.deadLetter.path}`);
    }
  }
}
