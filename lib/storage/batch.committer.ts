import type { CallRecord, SpanRecord } from '../core/call-record.js';
import { batchStatements, CALL_COLUMN_COUNT, callColumns, hourlyParams, leaseParams, noRows, rollupParams, spanColumns, type BatchStatements, type LeaseHolds } from './batch.sql.js';
import { CallPartitions, isNoPartitionError } from './call.partitions.js';
import { quoteSchema } from './schema.name.js';
import { encodeCallsCopy, type EncodedCalls } from './calls.copy.js';
import { describeError, RowEncodingError, sqlState } from './error.classifier.js';
import type { TelemetryItem } from './record.codec.js';
import type { SqlPool } from './sql.pool.js';

/** The connection cannot stream COPY (a host DataSource on a driver other than `pg`). */
class CopyUnsupportedError extends Error {}

const UNIQUE_VIOLATION = '23505';
const PROTOCOL_VIOLATION = '08P01';
/**
 * The server does not have the statement the client believes it prepared (26000), or has one of
 * that name already (42P05): a pooler in transaction mode (PgBouncer without
 * max_prepared_statements) hands each transaction another server connection, or the host ran
 * DISCARD ALL / DEALLOCATE on a borrowed pool.
 */
const PREPARED_STATEMENT_LOST = new Set(['26000', '42P05']);

/** Rows a commit inserted (duplicates of rows already stored excluded). */
export interface Committed {
  calls: number;
  spans: number;
}

/**
 * Commits one batch of calls and spans atomically, rollups included. Throws what went wrong
 * as it is (the writer's error classifier decides outage or rejected row); a row that cannot be
 * encoded throws a {@link RowEncodingError} before anything is sent.
 */
export class BatchCommitter {
  private readonly sql: BatchStatements;
  /** Whether batches of calls go through COPY; null until the server was asked what it is. */
  private copy: boolean | null = null;
  /** False once a prepared statement went missing on this pool: plain statements from then on. */
  private prepare = true;

  readonly partitions: CallPartitions;
  private readonly s: string;
  /** Which calls of a batch a budget lease admitted (budget.lease.ts): their cost leaves the lease's hold as their rows go in. */
  leaseHolds: ((calls: readonly CallRecord[]) => LeaseHolds | null) | null = null;

  constructor(
    private readonly pool: SqlPool,
    schema: string,
  ) {
    this.sql = batchStatements(schema);
    this.s = quoteSchema(schema);
    this.partitions = new CallPartitions(pool, schema);
  }

  async commit(items: readonly TelemetryItem[]): Promise<Committed> {
    const calls: CallRecord[] = [];
    const spans: SpanRecord[] = [];
    for (const item of items) (item.kind === 'call' ? calls : spans).push(item.record as never);
    // One order for every batch: inserting a key another open transaction inserted waits for it, so
    // two batches holding the same calls (a replay, batch results imported twice) in opposite
    // orders deadlocked. Time first, so COPY also fills one partition after the other.
    calls.sort(byTimeThenSpan);
    await this.dropKeyedDuplicates(calls);
    spans.sort((a, b) => (String(a.spanId) < String(b.spanId) ? -1 : String(a.spanId) > String(b.spanId) ? 1 : 0));
    await this.partitions.ensureFor(calls);
    try {
      return await this.write(calls, spans);
    } catch (e) {
      // A month this process knew was dropped by another replica's retention: make it again, once.
      if (!isNoPartitionError(e)) throw e;
      this.partitions.forget();
      await this.partitions.ensureFor(calls);
      return this.write(calls, spans);
    }
  }

  /**
   * A call whose id the caller gave (batch results read again after a restart) can come back with
   * another time, and the primary key (span_id, time) would take it as new: those few are looked
   * up under any time (every month's key index, by its span_id prefix) and left out when stored.
   * Generated ids are new UUIDs; only a replay repeats them, with its original time.
   */
  private async dropKeyedDuplicates(calls: CallRecord[]): Promise<void> {
    const keyed = calls.filter((c) => c.keyed);
    if (keyed.length === 0) return;
    const rows = await this.pool.query<{ span_id: string }>(`SELECT span_id FROM ${this.s}.llm_calls WHERE span_id = ANY($1::uuid[])`, [keyed.map((c) => c.spanId)]);
    // Stored already, or earlier in this very batch.
    const seen = new Set(rows.map((r) => r.span_id));
    let kept = 0;
    for (const c of calls) {
      if (c.keyed) {
        if (seen.has(c.spanId)) continue;
        seen.add(c.spanId);
      }
      calls[kept++] = c;
    }
    calls.length = kept;
  }

  private async write(calls: CallRecord[], spans: SpanRecord[]): Promise<Committed> {
    if (calls.length > 0 && this.copy !== false) {
      this.copy ??= await this.probeCopy();
      if (this.copy) {
        const copied = await this.commitByCopy(calls, spans);
        if (copied) return copied;
      }
    }
    const params = encode(() => [
      ...(calls.length ? callColumns(calls) : noRows(CALL_COLUMN_COUNT)),
      ...(spans.length ? spanColumns(spans) : noRows(13)),
      ...leaseParams(this.leaseHoldsOf(calls)),
    ]);
    // One statement is atomic on its own: no BEGIN/COMMIT round trips.
    const [row] = await this.pool.query<Committed>(this.sql.batch, params);
    return { calls: row.calls, spans: row.spans };
  }

  /**
   * The fast path: COPY the calls straight into `llm_calls`, then insert the spans and add the
   * calls' sums (computed while encoding) to `llm_traces`, in one transaction. COPY inserts every
   * row or none, so the totals are exactly the rows inserted. A row already there (a retry, a
   * replay, another replica) makes the COPY fail with unique_violation; the transaction rolls
   * back and the batch goes through the `ON CONFLICT DO NOTHING` statement, which counts only the
   * new rows. Returns null then.
   */
  private async commitByCopy(calls: CallRecord[], spans: SpanRecord[]): Promise<Committed | null> {
    const encoded = encode<[EncodedCalls, unknown[][]]>(() => [encodeCallsCopy(calls), spans.length ? spanColumns(spans) : noRows(13)]);
    const [copy, spanParams] = encoded;
    try {
      const spansInserted = await this.pool.transaction(async (db) => {
        if (!db.copyFrom) throw new CopyUnsupportedError();
        await db.copyFrom(this.sql.copyCalls, copy.data);
        const params = [
          ...rollupParams(copy.rollups),
          ...spanParams,
          calls.map((c) => c.spanId),
          copy.minTime,
          copy.maxTime,
          ...hourlyParams(copy.hourly),
          ...leaseParams(this.leaseHoldsOf(calls)),
        ];
        // Prepared once per connection: planning this statement of many CTEs cost 3–7 ms a batch,
        // a fifth of running it on 5,000 calls.
        const [row] = db.prepared && this.prepare
          ? await db.prepared<{ spans: number }>(this.sql.afterCopyName, this.sql.afterCopy, params)
          : await db.query<{ spans: number }>(this.sql.afterCopy, params);
        return row.spans;
      });
      return { calls: calls.length, spans: spansInserted };
    } catch (e) {
      if (sqlState(e) === UNIQUE_VIOLATION) return null;
      // Rolled back: the batch goes through the plain statement now, and every batch after it.
      if (PREPARED_STATEMENT_LOST.has(sqlState(e) ?? '')) {
        this.prepare = false;
        return null;
      }
      // A server that does not speak COPY over the wire (PGlite behind a socket) drops the
      // connection with a protocol error; plain statements work there, so stop trying COPY.
      if (e instanceof CopyUnsupportedError || sqlState(e) === PROTOCOL_VIOLATION) {
        this.copy = false;
        return null;
      }
      throw e;
    }
  }

  private leaseHoldsOf(calls: readonly CallRecord[]): LeaseHolds | null {
    return calls.length > 0 && this.leaseHolds ? this.leaseHolds(calls) : null;
  }

  /** PGlite (WASM PostgreSQL) serves plain statements on a socket but not COPY FROM STDIN. */
  private async probeCopy(): Promise<boolean> {
    const [row] = await this.pool.query<{ version: string }>('SELECT version() AS version');
    return !/PGlite|emscripten/i.test(String(row?.version));
  }
}

function byTimeThenSpan(a: CallRecord, b: CallRecord): number {
  // A record whose time is not a valid Date sorts first instead of breaking the sort; encoding rejects it.
  const ta = timeOf(a);
  const tb = timeOf(b);
  if (ta !== tb) return Number.isNaN(ta) ? -1 : Number.isNaN(tb) ? 1 : ta - tb;
  const sa = String(a.spanId);
  const sb = String(b.spanId);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function timeOf(c: CallRecord): number {
  return c.time instanceof Date ? c.time.getTime() : NaN;
}

function encode<T>(build: () => T): T {
  try {
    return build();
  } catch (e) {
    throw new RowEncodingError(`row cannot be encoded: ${describeError(e).message}`);
  }
}
