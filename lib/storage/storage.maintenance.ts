import { CallPartitions } from './call.partitions.js';
import { describeError } from './error.classifier.js';
import type { ResolvedRetention } from './retention.options.js';
import { quoteSchema } from './schema.name.js';
import type { SqlPool } from './sql.pool.js';

const DAY_MS = 86_400_000;
/** Often enough that next month's partition exists weeks ahead and retention lags by hours at most. */
export const MAINTENANCE_INTERVAL_MS = 6 * 3_600_000;
/** Traces removed per statement: short transactions, no long lock on llm_traces. */
const TRACE_BATCH = 5_000;

export interface MaintenanceReport {
  droppedPartitions: string[];
  deletedTraces: number;
  deletedRollupHours: number;
  /** `llm_cost_daily` rows deleted: whole days before the rollups' cutoff. */
  deletedRollupDays: number;
}

/**
 * Keeps storage in shape without cron or pg_partman: makes next months' partitions ahead, and
 * with `retention` drops the months of calls past it (with their traces and spans) and the
 * hourly rollups past theirs. Runs at start and every few hours on an unref'd timer, stopped on
 * close; every replica may run it (creation and drops are idempotent and locked in SQL).
 */
export class StorageMaintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<MaintenanceReport> | null = null;
  private readonly partitions: CallPartitions;
  private readonly s: string;

  constructor(
    private readonly pool: SqlPool,
    schema: string,
    private readonly retention: ResolvedRetention,
    private readonly warn: (message: string) => void,
  ) {
    this.partitions = new CallPartitions(pool, schema);
    this.s = quoteSchema(schema);
  }

  start(intervalMs = MAINTENANCE_INTERVAL_MS): void {
    if (this.timer) return;
    void this.runQuietly();
    this.timer = setInterval(() => void this.runQuietly(), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; waits a little for a pass in flight, never long (shutdown must not hang on it). */
  async stop(waitMs = 2000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.running) await Promise.race([this.running.catch(() => undefined), new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  /** One pass now, after any pass in flight (passes never overlap); `now` is for tests. */
  run(now: Date = new Date()): Promise<MaintenanceReport> {
    const previous = this.running?.catch(() => undefined) ?? Promise.resolve();
    const pass: Promise<MaintenanceReport> = previous.then(() => this.pass(now));
    this.running = pass;
    void pass.then(
      () => this.running === pass && (this.running = null),
      () => this.running === pass && (this.running = null),
    );
    return pass;
  }

  private async runQuietly(): Promise<void> {
    try {
      await this.run();
    } catch (e) {
      this.warn(`Kostrack storage maintenance failed (${describeError(e).message}); it runs again in a few hours`);
    }
  }

  private async pass(now: Date): Promise<MaintenanceReport> {
    await this.partitions.premake(now);
    const report: MaintenanceReport = { droppedPartitions: [], deletedTraces: 0, deletedRollupHours: 0, deletedRollupDays: 0 };
    const { callsDays, rollupsDays } = this.retention;
    if (callsDays !== null) {
      const cutoff = new Date(now.getTime() - callsDays * DAY_MS);
      report.droppedPartitions = await this.partitions.dropBefore(cutoff);
    }
    // Traces and rollup hours never go before the oldest call still stored: calls go a month at a
    // time (and an upgraded installation's legacy partition only as a whole), and a trace or a
    // report hour without its calls would disagree with them.
    const oldest = callsDays !== null || rollupsDays !== null ? await this.oldestCall() : null;
    const notAfterCalls = (t: Date) => (oldest !== null && oldest.getTime() < t.getTime() ? oldest : t);
    if (callsDays !== null) {
      const cutoff = new Date(now.getTime() - callsDays * DAY_MS);
      report.deletedTraces = await this.deleteTracesBefore(notAfterCalls(new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth(), 1))));
    }
    if (rollupsDays !== null) {
      const byAge = new Date(now.getTime() - rollupsDays * DAY_MS);
      // The hour holding the oldest call stays with it.
      const cutoff = oldest === null ? byAge : new Date(Math.min(byAge.getTime(), Math.floor(oldest.getTime() / 3_600_000) * 3_600_000));
      const rows = await this.pool.query<{ n: number }>(
        `WITH gone AS (DELETE FROM ${this.s}.llm_cost_hourly WHERE hour < $1::timestamptz RETURNING 1) SELECT count(*)::int AS n FROM gone`,
        [cutoff.toISOString()],
      );
      report.deletedRollupHours = rows[0]?.n ?? 0;
      await this.pool.query(`DELETE FROM ${this.s}.llm_cost_hourly_totals WHERE hour < $1::timestamptz`, [cutoff.toISOString()]);
      // A day goes once all its hours have: reports read whole days from it and their edges from
      // hours. Days are UTC midnights, so that is every day before the cutoff's own (computed here:
      // `day + interval '1 day'` would be calendar arithmetic in the session's time zone).
      const days = await this.pool.query<{ n: number }>(
        `WITH gone AS (DELETE FROM ${this.s}.llm_cost_daily WHERE day < $1::timestamptz RETURNING 1) SELECT count(*)::int AS n FROM gone`,
        [new Date(Math.floor(cutoff.getTime() / DAY_MS) * DAY_MS).toISOString()],
      );
      report.deletedRollupDays = days[0]?.n ?? 0;
    }
    return report;
  }

  /** The time of the oldest call stored (each month's partition answers from its index). */
  private async oldestCall(): Promise<Date | null> {
    const [row] = await this.pool.query<{ t: Date | null }>(`SELECT min(time) AS t FROM ${this.s}.llm_calls`);
    return row?.t ? new Date(row.t) : null;
  }

  /** Traces whose last call (or, without calls, whose end) is past retention, with their spans, a batch at a time. */
  private async deleteTracesBefore(cutoff: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const [row] = await this.pool.query<{ n: number }>(
        `WITH doomed AS (
           SELECT trace_id FROM ${this.s}.llm_traces
            WHERE started_at < $1::timestamptz AND COALESCE(last_call_at, ended_at, started_at) < $1::timestamptz
            LIMIT ${TRACE_BATCH}
         ), spans AS (
           DELETE FROM ${this.s}.llm_spans sp USING doomed d WHERE sp.trace_id = d.trace_id RETURNING 1
         ), traces AS (
           DELETE FROM ${this.s}.llm_traces t USING doomed d WHERE t.trace_id = d.trace_id RETURNING 1
         )
         SELECT (SELECT count(*) FROM traces)::int AS n`,
        [cutoff.toISOString()],
      );
      total += row?.n ?? 0;
      if ((row?.n ?? 0) < TRACE_BATCH) return total;
    }
  }
}
