import type { CallRecord } from '../core/call-record.js';
import { quoteSchema } from './schema.name.js';
import type { SqlPool } from './sql.pool.js';

/** PostgreSQL's "no partition of relation … found for row". */
const NO_PARTITION = '23514';

/**
 * The monthly partitions of `llm_calls` (see migration 5). A write needs its months to exist:
 * they are created ahead at start, and on demand for any other month a batch holds (a replay of
 * old spool files, an import of batch results, a clock far off), once per month and process.
 */
export class CallPartitions {
  private readonly known = new Set<number>();
  private readonly s: string;

  constructor(
    private readonly pool: SqlPool,
    schema: string,
  ) {
    this.s = quoteSchema(schema);
  }

  /** Creates the partitions of the months `calls` fall in that this process has not seen yet. */
  async ensureFor(calls: readonly CallRecord[]): Promise<void> {
    let missing: number[] | null = null;
    let last = NaN;
    for (const c of calls) {
      const month = monthStart(c.time.getTime());
      if (month === last || Number.isNaN(month)) continue;
      last = month;
      if (!this.known.has(month)) (missing ??= []).includes(month) || missing.push(month);
    }
    if (missing) await this.ensure(missing);
  }

  /** This month and the next `ahead`, so no write waits on creating one. */
  async premake(now: Date = new Date(), ahead = 2): Promise<void> {
    const months: number[] = [];
    const d = new Date(now);
    for (let i = 0; i <= ahead; i++) months.push(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + i, 1));
    await this.ensure(months);
  }

  /**
   * Drops the months that end before `cutoff` (retention): O(1) each, no DELETE, no bloat. Waits
   * at most `lockTimeoutMs` for the table lock a drop takes (a long report holding the table must
   * not queue every writer behind the drop); it is tried again at the next run then.
   */
  async dropBefore(cutoff: Date, lockTimeoutMs = 2000): Promise<string[]> {
    const dropped = await this.pool.transaction(async (db) => {
      await db.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
      const [row] = await db.query<{ dropped: string[] }>(`SELECT ${this.s}.kostrack_drop_call_partitions($1::timestamptz) AS dropped`, [cutoff.toISOString()]);
      return row.dropped ?? [];
    });
    if (dropped.length > 0) this.known.clear();
    return dropped;
  }

  /** After a write found no partition (another replica's retention dropped one this process knew). */
  forget(): void {
    this.known.clear();
  }

  private async ensure(months: number[]): Promise<void> {
    await this.pool.query(`SELECT ${this.s}.kostrack_ensure_call_partition(m) FROM unnest($1::timestamptz[]) m`, [months.map((m) => new Date(m).toISOString())]);
    for (const m of months) this.known.add(m);
  }
}

/** Whether `error` is a write that found no partition for its row. */
export function isNoPartitionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return e?.code === NO_PARTITION && /no partition/i.test(e.message ?? '');
}

function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}
