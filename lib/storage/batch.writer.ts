import type { CallRecord, SpanRecord, TelemetrySink } from '../core/call-record.js';
import { drainRecords } from '../core/deferred-records.js';
import { batchStatements, callColumns, rollupParams, spanColumns, type BatchStatements } from './batch.sql.js';
import { encodeCallsCopy, type EncodedCalls } from './calls.copy.js';
import { DeadLetterFile } from './dead-letter.file.js';
import { DiskSpool } from './disk.spool.js';
import { describeError, isConnectionError, isDataError, sqlState } from './error.classifier.js';
import { decodeItem, encodeCall, encodeItem, queuedCall, type TelemetryItem } from './record.codec.js';
import type { SqlPool } from './sql.pool.js';
import type { ResolvedWriterOptions } from './writer.options.js';

/** Health figures of the writer (what `KostrackHealth` reports). */
export interface WriterHealth {
  /** Null until the first attempt to write. */
  databaseReachable: boolean | null;
  /** Rows in memory, queued or in flight. */
  queueDepth: number;
  /** Bytes waiting in the disk spool (all segments in the folder). */
  spoolBytes: number;
  /** Rows this process sent to the spool since it started. */
  spooledRows: number;
  /** Rows written to the dead-letter file since start. */
  deadLettered: number;
  /** Rows inserted (duplicates excluded) since start. */
  written: { calls: number; spans: number };
  lastFlushAt: Date | null;
  lastError: { code: string | null; message: string; at: Date } | null;
}

/** A row the writer could not turn into parameters; treated like a row PostgreSQL rejected. */
class RowEncodingError extends Error {
  readonly code = '22000';
}

/** The connection cannot stream COPY (a host DataSource on a driver other than `pg`). */
class CopyUnsupportedError extends Error {}

const UNIQUE_VIOLATION = '23505';
const PROTOCOL_VIOLATION = '08P01';

/** FIFO with O(1) push and batch removal from the front. */
class ItemQueue {
  private items: TelemetryItem[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(item: TelemetryItem): void {
    this.items.push(item);
  }
  /** Up to `n` items starting `offset` items after the front, without removing them. */
  peek(n: number, offset = 0): TelemetryItem[] {
    return this.items.slice(this.head + offset, this.head + offset + n);
  }
  drop(n: number): void {
    this.head += n;
    if (this.head >= this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
  takeAll(): TelemetryItem[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}

type Outcome = 'ok' | 'down';

/** Batches in flight at once, each on its own connection; pools are opened with more connections than this. */
const PARALLEL_BATCHES = 2;

export interface BatchWriterInit {
  pool: SqlPool;
  schema: string;
  options: ResolvedWriterOptions;
  /** Runs before the first write (migrations); retried like a write while it fails. */
  prepare?: () => Promise<unknown>;
  warn?: (message: string) => void;
}

/**
 * The storage sink. `recordCall`/`recordSpan` only push to memory (or append to the spool past
 * the bound): O(1), no await, no throw. A single pump writes batches, each in one statement
 * or transaction, retries outages with backoff and jitter, bisects rejected batches down to the
 * poison rows, and replays the spool when the database is reachable.
 */
export class BatchWriter implements TelemetrySink {
  private readonly queue = new ItemQueue();
  private readonly spool: DiskSpool;
  private readonly deadLetter: DeadLetterFile;
  private readonly sql: BatchStatements;
  private readonly options: ResolvedWriterOptions;
  private readonly pool: SqlPool;
  private readonly warn: (message: string) => void;
  private prepare: (() => Promise<unknown>) | null;
  /** Whether batches of calls go through COPY; null until the server was asked what it is. */
  private copy: boolean | null = null;

  private pumping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private spoolSyncQueued = false;
  private failures = 0;
  private wake: (() => void) | null = null;
  private replay: { path: string; lines: AsyncGenerator<string[]>; pending: string[] | null } | null = null;
  private started = false;
  private closing = false;
  private closed = false;
  private warnedDown = false;
  private exitHooks: { beforeExit: () => void; exit: () => void } | null = null;

  private reachable: boolean | null = null;
  private lastFlushAt: Date | null = null;
  private lastError: WriterHealth['lastError'] = null;
  private readonly written = { calls: 0, spans: 0 };

  constructor(init: BatchWriterInit) {
    this.pool = init.pool;
    this.options = init.options;
    this.sql = batchStatements(init.schema);
    this.spool = new DiskSpool(init.options.spoolDir);
    this.deadLetter = new DeadLetterFile(init.options.deadLetterFile);
    this.prepare = init.prepare ?? null;
    this.warn = init.warn ?? ((m) => process.emitWarning(m, { code: 'KOSTRACK' }));
  }

  /** Starts writing, and replays what earlier runs left in the spool. */
  start(): void {
    if (this.started) return;
    this.started = true;
    // A script that ends without close(): finish writing before the loop exits, and on a
    // synchronous exit() put what is left in the spool rather than lose it.
    const beforeExit = () => {
      if (this.queue.size > 0 && !this.closing) this.kick();
    };
    const exit = () => this.spoolRemaining();
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
      databaseReachable: this.reachable,
      queueDepth: this.queue.size,
      spoolBytes: this.spool.backlogBytes(),
      spooledRows: this.spool.appendedRows,
      deadLettered: this.deadLetter.count,
      written: { ...this.written },
      lastFlushAt: this.lastFlushAt,
      lastError: this.lastError,
    };
  }

  /**
   * Resolves once memory and the spool are empty (everything committed or dead-lettered), or
   * rejects after `timeoutMs`. For tests and scripts; the record path never needs it.
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    drainRecords();
    for (;;) {
      if (this.closed) throw new Error('Kostrack writer is closed');
      this.interruptBackoff();
      this.kick();
      await this.pumping;
      if (this.queue.size === 0 && !this.spool.hasBacklog() && this.replay === null) return;
      if (Date.now() > deadline) throw new Error(`Kostrack writer did not drain in ${timeoutMs} ms (queue ${this.queue.size})`);
      await sleep(20);
    }
  }

  /**
   * Writes what is in memory for up to `deadlineMs`, then puts the rest in the spool (the next
   * start replays it). After close, records go straight to the spool: nothing is ever dropped.
   */
  async close(deadlineMs = this.options.shutdownDeadlineMs): Promise<void> {
    if (this.closed || this.closing) return;
    // Tracked calls still queued for bookkeeping are written with the rest.
    drainRecords();
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.interruptBackoff();
    let timeout: NodeJS.Timeout | undefined;
    const flushed = (async () => {
      // While closing, the pump stops at the first failed write instead of backing off.
      if (this.queue.size === 0) return;
      do {
        this.kick();
        await this.pumping;
      } while (this.queue.size > 0 && !this.isDown());
    })();
    await Promise.race([flushed, new Promise<void>((resolve) => (timeout = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timeout);
    this.closed = true;
    // An in-flight batch is spooled too: if it also commits, its replay inserts nothing.
    this.spoolRemaining();
    this.spool.close();
    if (this.exitHooks) {
      process.off('beforeExit', this.exitHooks.beforeExit);
      process.off('exit', this.exitHooks.exit);
      this.exitHooks = null;
    }
    if (this.replay) await this.replay.lines.return(undefined).catch(() => undefined);
  }

  // ---- record path ----

  private enqueue(kind: TelemetryItem['kind'], record: CallRecord | SpanRecord): void {
    try {
      if (this.closed || this.queue.size >= this.options.maxQueue) {
        // Straight to a line: nothing of a spooled row outlives this call.
        this.spool.append(kind === 'call' ? encodeCall(record as CallRecord) : encodeItem({ kind, record } as TelemetryItem));
        if (this.closed) this.spool.sync();
        else this.queueSpoolSync();
        return;
      }
      this.queue.push(kind === 'call' ? { kind, record: queuedCall(record as CallRecord) } : ({ kind, record } as TelemetryItem));
      if (!this.started) return;
      if (this.queue.size >= this.options.batchSize) this.kick();
      else this.arm();
    } catch (e) {
      // Disk full or unwritable spool: the one case a row can be lost, so say so loudly.
      this.warn(`Kostrack could not queue a ${kind}: ${describeError(e).message}`);
    }
  }

  /** Lines past the bound are written within one tick, so they never pile up in memory. */
  private queueSpoolSync(): void {
    if (this.spoolSyncQueued) return;
    this.spoolSyncQueued = true;
    setImmediate(() => {
      this.spoolSyncQueued = false;
      try {
        this.spool.sync();
      } catch (e) {
        this.warn(`Kostrack could not write its spool: ${describeError(e).message}`);
      }
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
    // pump() settles database outcomes itself; anything that still escapes (a disk error in the
    // spool or dead-letter file) must not become an unhandled rejection that kills the host.
    this.pumping = this.pump()
      .catch((e: unknown) => {
        this.markFailed(e);
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
          this.reachable = true;
        } catch (e) {
          this.markFailed(e);
          if (this.closing) return;
          await this.backoff();
          continue;
        }
      }
      const size = this.queue.size;
      if (size > 0 && (size >= this.options.batchSize || this.closing || this.replay === null)) {
        const outcome = await this.writeQueued();
        if (this.closed) return;
        if (outcome === 'down') {
          if (this.closing) return;
          await this.backoff();
          continue;
        }
        // A partial batch waits for the timer so batches stay large under a steady trickle.
        if (this.queue.size < this.options.batchSize && !this.closing && this.replay === null && !this.spool.hasBacklog()) return;
        continue;
      }
      // Replay only while running: on shutdown the spool simply waits for the next start.
      if (this.closing) return;
      const step = await this.replayStep();
      if (step === 'idle') return;
      if (step === 'down') await this.backoff();
    }
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
          if (inflight.length > 0 || partialSent || !(this.closing || this.replay === null)) break;
          partialSent = true;
        }
        const part = this.queue.peek(batchSize, sent);
        sent += part.length;
        // write() settles every database outcome itself; what escapes (an unwritable dead-letter
        // file) is retried like an outage rather than left as an unhandled rejection.
        const outcome = this.write(part).catch((e: unknown): Outcome => {
          this.warn(`Kostrack could not finish a batch: ${describeError(e).message}`);
          return 'down';
        });
        inflight.push({ count: part.length, outcome });
      }
      const oldest = inflight.shift();
      if (!oldest) return failed ? 'down' : 'ok';
      const outcome = await oldest.outcome;
      if (this.closed) {
        // close() moved every queued row (these included) to the spool; nothing left to drop.
        await Promise.all(inflight.map((b) => b.outcome));
        return 'down';
      }
      if (outcome === 'down') failed = true;
      if (failed) continue;
      this.queue.drop(oldest.count);
      sent -= oldest.count;
    }
  }

  /** Replays one batch of the oldest spool segment. */
  private async replayStep(): Promise<'idle' | 'progress' | 'down'> {
    if (!this.replay) {
      const path = this.spool.claim();
      if (!path) return 'idle';
      this.replay = { path, lines: this.spool.read(path, this.options.batchSize), pending: null };
    }
    const replay = this.replay;
    if (!replay.pending) {
      const next = await replay.lines.next();
      if (next.done) {
        this.spool.release(replay.path);
        this.replay = null;
        return 'progress';
      }
      replay.pending = next.value;
    }
    const items: TelemetryItem[] = [];
    for (const line of replay.pending) {
      try {
        items.push(decodeItem(line));
      } catch (e) {
        // A torn last line from a crash mid-append; kept for inspection, never retried.
        this.deadLetterOrWarn(() => this.deadLetter.writeRaw(line, { code: 'SPOOL', message: `unreadable spool line: ${describeError(e).message}` }));
      }
    }
    if ((await this.write(items)) === 'down') return 'down';
    replay.pending = null;
    return 'progress';
  }

  /**
   * A row PostgreSQL rejects can only be kept in the dead-letter file; if that file cannot be
   * written either, the row is reported and dropped rather than retried forever (which would
   * stall every row behind it).
   */
  private deadLetterOrWarn(write: () => void): void {
    try {
      write();
    } catch (e) {
      this.warn(`Kostrack could not write its dead-letter file ${this.deadLetter.path}; a rejected row is lost: ${describeError(e).message}`);
    }
  }

  /** Writes a batch; on a data error splits it until the poison rows stand alone and dead-letters them. */
  private async write(items: TelemetryItem[]): Promise<Outcome> {
    if (items.length === 0) return 'ok';
    try {
      await this.commit(items);
      this.markWritten();
      return 'ok';
    } catch (e) {
      if (!isDataError(e)) {
        this.markFailed(e);
        return 'down';
      }
      if (items.length === 1) {
        const reason = describeError(e);
        this.deadLetterOrWarn(() => this.deadLetter.write(items[0], reason));
        this.lastError = { ...reason, at: new Date() };
        this.warn(`Kostrack dead-lettered a ${items[0].kind} PostgreSQL rejected (${reason.code}) into ${this.deadLetter.path}`);
        return 'ok';
      }
      const mid = items.length >> 1;
      if ((await this.write(items.slice(0, mid))) === 'down') return 'down';
      return this.write(items.slice(mid));
    }
  }

  private async commit(items: TelemetryItem[]): Promise<void> {
    const calls: CallRecord[] = [];
    const spans: SpanRecord[] = [];
    for (const item of items) (item.kind === 'call' ? calls : spans).push(item.record as never);
    if (calls.length > 0 && this.copy !== false) {
      this.copy ??= await this.probeCopy();
      if (this.copy && (await this.commitByCopy(calls, spans))) return;
    }
    let callParams: unknown[][] | null = null;
    let spanParams: unknown[][] | null = null;
    try {
      if (calls.length > 0) callParams = callColumns(calls);
      if (spans.length > 0) spanParams = spanColumns(spans);
    } catch (e) {
      throw new RowEncodingError(`row cannot be encoded: ${describeError(e).message}`);
    }
    type Counts = { inserted: number };
    if (callParams && spanParams) {
      const [c, s] = await this.pool.transaction(async (db) => [
        (await db.query<Counts>(this.sql.calls, callParams))[0],
        (await db.query<Counts>(this.sql.spans, spanParams))[0],
      ]);
      this.written.calls += c.inserted;
      this.written.spans += s.inserted;
    } else if (callParams) {
      // One statement is atomic on its own: no BEGIN/COMMIT round trips.
      this.written.calls += (await this.pool.query<Counts>(this.sql.calls, callParams))[0].inserted;
    } else if (spanParams) {
      this.written.spans += (await this.pool.query<Counts>(this.sql.spans, spanParams))[0].inserted;
    }
  }

  /**
   * The fast path: COPY the calls straight into `llm_calls`, then add their sums (computed while
   * encoding) to `llm_traces`, in one transaction. COPY inserts every row or none, so the totals
   * are exactly the rows inserted. A row already there (a retry, a replay, another replica) makes
   * the COPY fail with unique_violation; the transaction rolls back and the batch goes through the
   * `ON CONFLICT DO NOTHING` statement, which counts only the new rows. Returns false then.
   */
  private async commitByCopy(calls: CallRecord[], spans: SpanRecord[]): Promise<boolean> {
    let encoded: EncodedCalls;
    let spanParams: unknown[][] | null = null;
    try {
      encoded = encodeCallsCopy(calls);
      if (spans.length > 0) spanParams = spanColumns(spans);
    } catch (e) {
      throw new RowEncodingError(`row cannot be encoded: ${describeError(e).message}`);
    }
    try {
      const spansInserted = await this.pool.transaction(async (db) => {
        if (!db.copyFrom) throw new CopyUnsupportedError();
        await db.copyFrom(this.sql.copyCalls, encoded.text);
        if (encoded.rollups.traceIds.length > 0) await db.query(this.sql.rollup, rollupParams(encoded.rollups));
        return spanParams ? (await db.query<{ inserted: number }>(this.sql.spans, spanParams))[0].inserted : 0;
      });
      this.written.calls += calls.length;
      this.written.spans += spansInserted;
      return true;
    } catch (e) {
      if (sqlState(e) === UNIQUE_VIOLATION) return false;
      // A server that does not speak COPY over the wire (PGlite behind a socket) drops the
      // connection with a protocol error; plain statements work there, so stop trying COPY.
      if (e instanceof CopyUnsupportedError || sqlState(e) === PROTOCOL_VIOLATION) {
        this.copy = false;
        return false;
      }
      throw e;
    }
  }

  /** PGlite (WASM PostgreSQL) serves plain statements on a socket but not COPY FROM STDIN. */
  private async probeCopy(): Promise<boolean> {
    const [row] = await this.pool.query<{ version: string }>('SELECT version() AS version');
    return !/PGlite|emscripten/i.test(String(row?.version));
  }

  private markWritten(): void {
    this.reachable = true;
    this.lastFlushAt = new Date();
    if (this.failures > 0 && this.warnedDown) this.warn('Kostrack storage is writing again');
    this.failures = 0;
    this.warnedDown = false;
  }

  private markFailed(error: unknown): void {
    const reason = describeError(error);
    this.lastError = { ...reason, at: new Date() };
    this.reachable = !isConnectionError(error);
    this.failures++;
    if (!this.warnedDown) {
      this.warnedDown = true;
      this.warn(`Kostrack storage cannot write (${reason.code ?? 'error'}: ${reason.message}); retrying, rows past ${this.options.maxQueue} go to ${this.options.spoolDir}`);
    }
  }

  /** Exponential backoff with equal jitter, so replicas that lost the database together do not retry in step. */
  private backoff(): Promise<void> {
    const exp = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** Math.min(this.failures - 1, 20));
    const delay = exp / 2 + Math.random() * (exp / 2);
    return new Promise((resolve) => {
      const t = setTimeout(done, delay);
      // A script whose database is down must still be able to exit (its exit hook spools the rest).
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private isDown(): boolean {
    return this.reachable === false;
  }

  private interruptBackoff(): void {
    this.wake?.();
  }

  /** Moves every row still in memory to the spool (shutdown, process exit). */
  private spoolRemaining(): void {
    try {
      if (!this.closed) drainRecords();
      for (const item of this.queue.takeAll()) this.spool.append(encodeItem(item));
      this.spool.sync();
    } catch (e) {
      this.warn(`Kostrack could not spool ${this.queue.size} rows at exit: ${describeError(e).message}`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
