export type BudgetPeriod = 'hour' | 'day' | 'month' | 'total';

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The period an instant falls in, in a budget's time zone, computed exactly as PostgreSQL computes
 * it (`kostrack_period_start(period, at, zone)`, which is `date_trunc(period, at, zone)`): the
 * ledger holds a call's worst case on the usage row of the period it computes here, and the
 * writer's statement adds the call's cost to the row of the period PostgreSQL computes from the
 * call's time. Were the two ever to differ, the hold and the spending would land on different rows.
 *
 * A local time that a daylight-saving change skips or repeats is read as PostgreSQL reads it
 * (datetime.c, DetermineTimeZoneOffset): a skipped time with the offset in force before the
 * change, a repeated one with the offset after it; test/budgets/budget-period.spec.ts compares
 * the two around every transition of several zones.
 */

/** The start of the period `at` falls in (the epoch for `total`). */
export function periodStart(period: BudgetPeriod, at: number, zone = 'UTC'): Date {
  if (period === 'total') return new Date(0);
  if (zone === 'UTC') return new Date(truncate(period, at));
  const wall = wallClock(zone, at);
  // An hour keeps the instant's own offset (PostgreSQL re-reads the offset only for a day or more):
  // the local hour's start, even in the hour a daylight-saving change repeats.
  if (period === 'hour') return new Date(at - (wall - truncate('hour', wall)));
  return new Date(toInstant(zone, truncate(period, wall)));
}

/** When the period that started at `start` ends (null for `total`). */
export function periodEnd(period: BudgetPeriod, start: Date, zone = 'UTC'): Date | null {
  const t = start.getTime();
  switch (period) {
    case 'hour':
      return new Date(t + HOUR);
    // From the local midnight the period began on: a day that began at 01:00 (its midnight
    // skipped) still ends at the next midnight, where the next period starts.
    case 'day':
      return new Date(zone === 'UTC' ? t + DAY : toInstant(zone, truncate('day', wallClock(zone, t)) + DAY));
    case 'month': {
      if (zone === 'UTC') return new Date(nextMonth(t));
      return new Date(toInstant(zone, nextMonth(truncate('month', wallClock(zone, t)))));
    }
    default:
      return null;
  }
}

/**
 * An IANA name of the form Area/Location, or 'UTC' (the table checks the same form). Not an
 * abbreviation: PostgreSQL reads 'IST' or 'CST' as a fixed offset from its abbreviation list
 * ('IST' is Israel there, Kolkata in ICU), so the two sides would count different days. Not an
 * offset such as '+05:30', which PostgreSQL reads as POSIX, with the sign reversed.
 */
export const TIME_ZONE_NAME = /^(UTC|(?!(posix|right)\/)[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)+)$/;

/**
 * Whether `zone` is a time zone name this process knows (PostgreSQL checks it too, when the budget
 * is written). The name is kept as given: ICU would turn 'Asia/Kolkata' into 'Asia/Calcutta'.
 */
export function isTimeZoneName(zone: string): boolean {
  if (zone.length > 64 || !TIME_ZONE_NAME.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** `t` (a wall clock read as UTC) truncated to its hour, day or month. */
function truncate(period: 'hour' | 'day' | 'month', t: number): number {
  const d = new Date(t);
  if (period === 'hour') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
  if (period === 'day') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** One calendar month later, the day clamped to the month's last (as PostgreSQL adds `interval '1 month'`). */
function nextMonth(t: number): number {
  const d = new Date(t);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The wall clock in `zone` at instant `t`, as milliseconds since the epoch read as UTC. */
function wallClock(zone: string, t: number): number {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
    formats.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(t))) p[part.type] = part.value;
  const year = p.era === 'BC' || p.era === 'B' ? 1 - Number(p.year) : Number(p.year);
  const ms = ((t % 1000) + 1000) % 1000;
  const wall = new Date(0);
  wall.setUTCFullYear(year, Number(p.month) - 1, Number(p.day));
  wall.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second), ms);
  return wall.getTime();
}

const offsetAt = (zone: string, t: number) => wallClock(zone, t) - t;

/**
 * The instant a wall clock `local` in `zone` names, read as PostgreSQL reads it: with the offset in
 * force before a change when the time was skipped, after it when the time came twice.
 */
function toInstant(zone: string, local: number): number {
  const before = offsetAt(zone, local - DAY);
  const after = offsetAt(zone, local + DAY);
  if (before === after) return local - before;
  const early = local - before;
  const late = local - after;
  const earlyHolds = offsetAt(zone, early) === before;
  const lateHolds = offsetAt(zone, late) === after;
  if (earlyHolds && lateHolds) return late;
  if (!earlyHolds && !lateHolds) return early;
  return earlyHolds ? early : late;
}
