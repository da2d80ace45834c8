import type { CallRecord, SpanRecord, TelemetrySink } from '../core/call-record.js';
import { drainRecords } from '../core/deferred-records.js';
import { BatchCommitter } from './batch.committer.js';
import type { LeaseHolds } from './batch.sql.js';
import { DeadLetterFile } from './dead-letter.file.js';
import { DiskSpool, SpoolWriteError } from './disk.spool.js';
import { describeError } from './error.classifier.js';
import { ItemQueue } from './item.queue.js';
import { PoisonRowIsolator, type Outcome } from './poison-row.isolator.js';
import { encodeCall, encodeItem, queuedCall, type TelemetryItem } from './record.codec.js';
import { RetryBackoff } from './retry.backoff.js';
import type { SqlPool } from './sql.pool.js';
import { SpoolReplayer } from './spool.replayer.js';
import type { ResolvedWriterOptions } from './writer.options.js';
import { WriterStats, type WriterHealth } from './writer.stats.js';

export type { WriterHealth } from './writer.stats.js';

/** What the writer tells a durable budget's leases, and asks of them (see {@link BatchWriter.watchLeases}). */
export interface LeaseLanding {
  /** The calls of a batch about to be committed that a lease admitted, with their leases and worst cases. */
  holdsOf(calls: readonly CallRecord[]): LeaseHolds | null;
  /** Rows a batch committed (their leases' holds were lowered by the same statement). */
  landed(items: readonly TelemetryItem[]): void;
}

/** `flush()` / `drain()` ran out of time; nothing is lost, the rows are still queued or spooled. */
export class KostrackFlushTimeoutError extends Error {
  override readonly name = 'KostrackFlushTimeoutError';
}

/** Batches in flight at once, each on its own connection; pools are opened with more connections than this. */
const PARALLEL_BATCHES = 2;

export interface BatchWriterInit {
  pool: SqlPool;
  schema: string;
  options: ResolvedWriterOptions;
  /** Runs before the first write (migrations); retried like a write while it fails. */
  prepare?: (() => Promise<unknown>) | undefined;
  warn?: ((message: string) => void) | undefined;
  /** Whether the database answered when storage opened; health says unknown (null) until the first write otherwise. */
  reachableAtStart?: boolean | undefined;
}

/**
 * The storage sink. `recordCall`/`recordSpan` only push to memory (or append to the spool past
 * the bound, and after close): O(1), no await, no throw. A single pump writes batches through
 * the {@link PoisonRowIsolator} (a rejected row is dead-lettered, an outage is retried with
 * {@link RetryBackoff}), and the {@link SpoolReplayer} replays the spool when the database is
 * reachable. What each failure means is decided in `error.classifier.ts` alone.
 *
 * After close, rows still arrive (requests finishing during shutdown, jobs still running):
 * they go straight to the spool, synchronously, and the next start writes them.
 */
export class BatchWriter implements TelemetrySink {
  private readonly queue = new ItemQueue();
  private readonly spool: DiskSpool;
  private readonly deadLetter: DeadLetterFile;
  private readonly stats: WriterStats;
  private readonly rows: PoisonRowIsolator;
  private readonly committer: BatchCommitter;
  private readonly replayer: SpoolReplayer;
  private readonly backoff: RetryBackoff;
  private readonly options: ResolvedWriterOptions;
  private readonly warn: (message: string) => void;
  private prepare: (() => Promise<unknown>) | null;

  private pumping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private spoolSyncQueued = false;
  private started = false;
  private closing: Promise<void> | null = null;
  private closed = false;
  private spooledAfterClose = 0;
  private exitHooks: { beforeExit: () => void; exit: () => void } | null = null;
  private leases: LeaseLanding | null = null;

  constructor(init: BatchWriterInit) {
    this.options = init.options;
    this.warn = init.warn ?? ((m) => process.emitWarning(m, { code: 'KOSTRACK' }));
    this.spool = new DiskSpool(init.options.spoolDir);
    this.deadLetter = new DeadLetterFile(init.options.deadLetterFile);
    this.stats = new WriterStats(this.warn, init.options.stallAfterMs, () => `rows past ${this.options.maxQueue} go to ${this.options.spoolDir}`);
    this.committer = new BatchCommitter(init.pool, init.schema);
    this.rows = new PoisonRowIsolator(this.committer, this.deadLetter, this.stats, this.warn);
    this.replayer = new SpoolReplayer(this.spool, this.rows, init.options.batchSize, (e) => this.spoolFailed(e, 'reading or sealing a spool segment for replay'), (items) => this.landed(items));
    this.backoff = new RetryBackoff(init.options.retryBaseMs, init.options.retryMaxMs);
    this.prepare = init.prepare ?? null;
    if (init.reachableAtStart !== undefined) this.stats.reachable = init.reachableAtStart;
  }

  /** Starts writing, and replays what earlier runs left in the spool. */
  start(): void {
    if (this.started) return;
    this.started = true;
    // An unusable spool folder must not stop the host; say so now rather than at the first outage.
    try {
      this.spool.check();
    } catch (e) {
      this.spoolFailed(e, 'starting (rows past the memory bound would be lost)');
    }
    // A script that ends without close(): finish writing before the loop exits, and on a
    // synchronous exit() put what is left in the spool rather than lose it.
    const beforeExit = () => {
      if (this.queue.size > 0 && !this.closing) this.kick();
    };
    const exit = () => this.spoolRemaining('the process exited');
    process.on('beforeExit', beforeExit);
    process.on('exit', exit);
    this.exitHooks = { beforeExit, exit };
    this.kick();
  }

  recordCall(call: CallRecord): void {
    this.enqueue('call', call);
  }

  recordSpan(span: SpanRecord): void {
    this.enqueue('span', span);
  }

  health(): WriterHealth {
    // Calls that finished but wait for their bookkeeping count as queued, not as missing.
    drainRecords();
    return {
      ...this.stats.health(),
      queueDepth: this.queue.size,
      spoolBytes: this.spool.backlogBytes(),
      spooledRows: this.spool.writtenRows,
      lostRows: this.spool.lostRows + this.stats.lostRows,
      deadLettered: this.deadLetter.count,
      written: { ...this.stats.written },
      lastFlushAt: this.stats.lastFlushAt,
      spoolError: this.stats.spoolError,
      closed: this.closed,
    };
  }

  /**
   * Resolves once memory and the spool are empty (everything committed or dead-lettered), or
   * rejects with a {@link KostrackFlushTimeoutError} after `timeoutMs`, the rows kept. For tests
   * and scripts; the record path never needs it.
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    if (this.closed) throw new Error('Kostrack writer is closed');
    drainRecords();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    // A referenced timer: while the database cannot answer, nothing else may keep the event loop
    // alive, and a script awaiting this must get its rejection rather than exit mid-await.
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve('timeout');
      }, timeoutMs);
    });
    try {
      this.backoff.interrupt();
      if ((await Promise.race([this.drained(() => timedOut), deadline])) === 'timeout') {
        const h = this.health();
        const last = h.lastError ? `; last error ${h.lastError.code ?? 'error'}: ${h.lastError.message}` : '';
        throw new KostrackFlushTimeoutError(
          `Kostrack could not flush in ${timeoutMs} ms: ${h.queueDepth} rows in memory, ${h.spoolBytes} bytes in the spool (kept, written when the database answers)${last}`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async drained(stop: () => boolean): Promise<'done'> {
    for (;;) {
      if (this.closed) throw new Error('Kostrack writer is closed');
      this.kick();
      await this.pumping;
      if (stop() || (this.queue.size === 0 && !this.spool.hasBacklog() && !this.replayer.active)) return 'done';
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Writes what is in memory for up to `deadlineMs`, then puts the rest in the spool (the next
   * start replays it). After close, records go straight to the spool: nothing is ever dropped.
   */
  close(deadlineMs = this.options.shutdownDeadlineMs): Promise<void> {
    this.closing ??= this.shutdown(deadlineMs);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    // Tracked calls still queued for bookkeeping are written with the rest.
    drainRecords();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.backoff.interrupt();
    let timeout: NodeJS.Timeout | undefined;
    const flushed = (async () => {
      // While closing, the pump stops at the first failed write instead of backing off.
      while (this.queue.size > 0) {
        const failures = this.stats.failures;
        this.kick();
        await this.pumping;
        if (this.stats.failures !== failures) return;
      }
    })();
    await Promise.race([flushed, new Promise<void>((resolve) => (timeout = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timeout);
    this.closed = true;
    // An in-flight batch is spooled too: if it also commits, its replay inserts nothing.
    this.spoolRemaining('closing');
    try {
      this.spool.close();
    } catch (e) {
      this.spoolFailed(e, 'closing');
    }
    if (this.exitHooks) {
      process.off('beforeExit', this.exitHooks.beforeExit);
      process.off('exit', this.exitHooks.exit);
      this.exitHooks = null;
    }
    await this.replayer.stop();
  }

  // ---- record path ----

  private enqueue(kind: TelemetryItem['kind'], record: CallRecord | SpanRecord): void {
    try {
      if (this.closed) {
        this.spoolAfterClose(kind, record);
        return;
      }
      if (this.queue.size >= this.options.maxQueue) {
        // Straight to a line: nothing of a spooled row outlives this call.
        if (this.appendToSpool(kind, record, 'the queue was full')) this.queueSpoolSync();
        return;
      }
      this.queue.push(kind === 'call' ? { kind, record: queuedCall(record as CallRecord) } : ({ kind, record } as TelemetryItem));
      if (!this.started) return;
      if (this.queue.size >= this.options.batchSize) this.kick();
      else this.arm();
    } catch (e) {
      // Not a row at all (a sink called by hand with garbage): the record path still never throws.
      this.stats.markLost(1, e, `a ${kind} could not be queued`);
    }
  }

  /** One synchronous write per row: after close no timer or exit hook is left to write later. */
  private spoolAfterClose(kind: TelemetryItem['kind'], record: CallRecord | SpanRecord): void {
    if (!this.appendToSpool(kind, record, 'storage was closed')) return;
    if (!this.syncSpool('storage was closed')) return;
    if (this.spooledAfterClose++ === 0)
      this.warn(`Kostrack storage is closed; rows recorded from now on are spooled to ${this.options.spoolDir} and written at the next start`);
  }

  /** Buffers one row in the spool; false (and counted lost) if it could not be. */
  private appendToSpool(kind: TelemetryItem['kind'], record: CallRecord | SpanRecord, why: string): boolean {
    let line: string;
    try {
      line = kind === 'call' ? encodeCall(record as CallRecord) : encodeItem({ kind, record } as TelemetryItem);
    } catch (e) {
      this.stats.markLost(1, e, `a ${kind} could not be encoded for the spool`);
      return false;
    }
    try {
      this.spool.append(line);
      return true;
    } catch (e) {
      this.spoolFailed(e, `spooling rows (${why})`);
      return false;
    }
  }

  private syncSpool(what: string): boolean {
    try {
      // Only lines that reached the disk prove the spool works again (an empty sync proves nothing).
      if (this.spool.sync() > 0) this.stats.markSpoolWritten();
      return true;
    } catch (e) {
      this.spoolFailed(e, what);
      return false;
    }
  }

  private spoolFailed(error: unknown, what: string): void {
    const lost = error instanceof SpoolWriteError ? this.spool.lostRows : 0;
    this.stats.markSpoolFailed(error, lost, what);
  }

  /** Lines past the bound are written within one tick, so they never pile up in memory. */
  private queueSpoolSync(): void {
    if (this.spoolSyncQueued) return;
    this.spoolSyncQueued = true;
    setImmediate(() => {
      this.spoolSyncQueued = false;
      this.syncSpool('spooling rows (the queue was full)');
    });
  }

  private arm(): void {
    if (this.timer || this.pumping || this.closing) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, this.options.flushIntervalMs);
    this.timer.unref();
  }

  private kick(): void {
    if (this.pumping || this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // The pump settles database outcomes itself; anything that still escapes must not become an
    // unhandled rejection that kills the host.
    this.pumping = this.pump()
      .catch((e: unknown) => {
        this.stats.markFailed(e);
        this.warn(`Kostrack writer stopped a pass: ${describeError(e).message}`);
      })
      .finally(() => {
        this.pumping = null;
        if (this.queue.size > 0 && !this.closing) this.arm();
      });
  }

  // ---- write path ----

  private async pump(): Promise<void> {
    while (!this.closed) {
      if (this.prepare) {
        try {
          await this.prepare();
          this.prepare = null;
          this.stats.reachable = true;
          this.backoff.succeeded();
        } catch (e) {
          this.stats.markFailed(e);
          if (await this.retryLater()) continue;
          return;
        }
      }
      const size = this.queue.size;
      if (size > 0 && (size >= this.options.batchSize || this.closing || !this.replayer.active)) {
        const outcome = await this.writeQueued();
        if (this.closed) return;
        if (outcome === 'down') {
          if (await this.retryLater()) continue;
          return;
        }
        // A partial batch waits for the timer so batches stay large under a steady trickle.
        if (this.queue.size < this.options.batchSize && !this.closing && !this.replayer.active && !this.spool.hasBacklog()) return;
        continue;
      }
      // Replay only while running: on shutdown the spool simply waits for the next start.
      if (this.closing) return;
      const step = await this.replayer.step();
      if (step === 'idle') return;
      if (step === 'progress') this.backoff.succeeded();
      if (step === 'down' && !(await this.retryLater())) return;
    }
  }

  /** Waits out the backoff; false when closing (the pump then stops at the first failure). */
  private async retryLater(): Promise<boolean> {
    if (this.closing) return false;
    this.backoff.failed();
    await this.backoff.wait();
    return true;
  }

  /**
   * Writes the queue in batches, up to {@link PARALLEL_BATCHES} at once on their own connections;
   * a new batch starts as soon as the oldest commits, so the next one is encoded while the
   * database works. Rows leave memory in order, only once every batch before them committed;
   * after a failure the rest are waited for and kept, and re-sending a batch that did commit
   * inserts nothing (idempotent on span_id). At most one partial batch is sent per call, and
   * only alone, when nothing else is in flight.
   */
  private async writeQueued(): Promise<Outcome> {
    const batchSize = this.options.batchSize;
    const inflight: { count: number; outcome: Promise<Outcome> }[] = [];
    let sent = 0;
    let failed = false;
    let partialSent = false;
    for (;;) {
      while (!failed && !this.closed && inflight.length < PARALLEL_BATCHES) {
        const waiting = this.queue.size - sent;
        if (waiting <= 0) break;
        if (waiting < batchSize) {
          if (inflight.length > 0 || partialSent || !(this.closing || !this.replayer.active)) break;
          partialSent = true;
        }
        const part = this.queue.peek(batchSize, sent);
        sent += part.length;
        // write() settles every database outcome itself; what escapes is retried like an outage
        // rather than left as an unhandled rejection.
        const outcome = this.rows.write(part).catch((e: unknown): Outcome => {
          this.stats.markFailed(e);
          return 'down';
        });
        inflight.push({ count: part.length, outcome });
      }
      const oldest = inflight.shift();
      if (!oldest) {
        if (!failed) this.backoff.succeeded();
        return failed ? 'down' : 'ok';
      }
      const outcome = await oldest.outcome;
      if (this.closed) {
        // close() moved every queued row (these included) to the spool; nothing left to drop.
        await Promise.all(inflight.map((b) => b.outcome));
        return 'down';
      }
      if (outcome === 'down') failed = true;
      if (failed) continue;
      this.landed(this.queue.peek(oldest.count));
      this.queue.drop(oldest.count);
      sent -= oldest.count;
    }
  }

  /**
   * A durable budget's leases (budget.lease.ts): each batch's statement takes the cost of the calls
   * they admitted out of their holds, and `landed` is told of the rows committed (not those
   * dead-lettered), from memory or from the spool.
   */
  watchLeases(leases: LeaseLanding): void {
    this.leases = leases;
    this.committer.leaseHolds = (calls) => leases.holdsOf(calls);
  }

  private landed(items: readonly TelemetryItem[]): void {
    this.leases?.landed(items.filter((item) => !this.rows.rejected(item)));
  }

  /** Moves every row still in memory to the spool (shutdown, process exit). */
  private spoolRemaining(why: string): void {
    if (!this.closed) drainRecords();
    const items = this.queue.takeAll();
    for (const item of items) this.appendToSpool(item.kind, item.record, why);
    // Also when memory is empty: spilled lines may still wait in the spool's buffer for their tick.
    this.syncSpool(why);
  }
}
