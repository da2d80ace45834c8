import { sqlState } from './error.classifier.js';
import { periodStart } from './budget.period.js';
import type { SqlPool } from './sql.pool.js';

const HOUR = 3_600_000;
const PERIODS = ['hour', 'day', 'month'] as const;
/** Every 12 hours over the next 30 days: a daylight-saving change one side knows and the other does not shows up before it applies. */
const INSTANTS = 61;

/** A budget's time zone on which this process and PostgreSQL disagree: its calls are treated as with the database down. */
export class BudgetZoneError extends Error {}

/**
 * Whether this process and PostgreSQL compute the same periods for a time zone. Each side uses its
 * own copy of the time zone data (Node's ICU, the server's or PGlite's tzdata); where the copies
 * differ (a zone one of them does not know, a rule changed in a newer release), a call's hold and
 * its spending would land on different usage rows and the budget would stop limiting. Checked for
 * each zone in use when the list of budgets is read, again after an hour; a zone that disagrees
 * is reported once and its budgets' calls go by `whenDatabaseDown`.
 */
export class BudgetZoneCheck {
  private readonly checked = new Map<string, { problem: string | null; at: number }>();

  constructor(
    private readonly pool: SqlPool,
    private readonly s: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** Why the zone cannot be used here, or null (unchecked zones are assumed fine until checked). */
  problem(zone: string): string | null {
    return zone === 'UTC' ? null : (this.checked.get(zone)?.problem ?? null);
  }

  /** Checks the zones not checked within the hour; rejects only when the database cannot be asked. */
  async verify(budgets: readonly { name: string; timeZone: string }[], now = Date.now()): Promise<void> {
    const zones = new Set(budgets.map((b) => b.timeZone).filter((z) => z !== 'UTC'));
    for (const zone of zones) {
      const last = this.checked.get(zone);
      if (last && now - last.at < HOUR) continue;
      const problem = await this.compare(zone, now);
      // Once per zone while it stays wrong (the message names instants, so it differs every hour).
      if (problem && !last?.problem) {
        const names = budgets.filter((b) => b.timeZone === zone).map((b) => `"${b.name}"`);
        this.warn(
          `Kostrack budget ${names.join(', ')}: ${problem}; its calls go by whenDatabaseDown until the two agree (give this process and PostgreSQL the same time zone data, or use another zone)`,
        );
      }
      this.checked.set(zone, { problem, at: now });
    }
  }

  private async compare(zone: string, now: number): Promise<string | null> {
    const at = Array.from({ length: INSTANTS }, (_, k) => now + k * 12 * HOUR);
    let mine: string[];
    try {
      mine = PERIODS.flatMap((p) => at.map((t) => periodStart(p, t, zone).toISOString()));
    } catch {
      return `this process does not know the time zone "${zone}"`;
    }
    let rows: { start: Date }[];
    try {
      rows = await this.pool.query<{ start: Date }>(
        `SELECT ${this.s}.kostrack_period_start(p.period, a.at, $1) AS start
           FROM unnest($2::text[]) WITH ORDINALITY AS p(period, i) CROSS JOIN unnest($3::timestamptz[]) WITH ORDINALITY AS a(at, j)
          ORDER BY p.i, a.j`,
        [zone, [...PERIODS], at.map((t) => new Date(t).toISOString())],
      );
    } catch (e) {
      if (sqlState(e) === '22023') return `PostgreSQL does not know the time zone "${zone}"`;
      throw e;
    }
    for (let i = 0; i < mine.length; i++) {
      const theirs = rows[i]?.start.toISOString();
      if (theirs !== mine[i]) {
        const period = PERIODS[Math.floor(i / INSTANTS)];
        return `this process and PostgreSQL disagree on the ${period} of ${new Date(at[i % INSTANTS]).toISOString()} in "${zone}" (${mine[i]} here, ${theirs} there)`;
      }
    }
    return null;
  }
}
