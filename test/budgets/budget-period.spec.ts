import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { KostrackBudgetExceededError, KostrackConfigError, trace, usd, usdToString, wrap } from '../../lib/index.js';
import { budgetGate } from '../../lib/core/budget-gate.js';
import { budgetScopeCheck } from '../../lib/nest/budget-scope.check.js';
import { checkBudget } from '../../lib/storage/budget.declaration.js';
import type { BudgetLedger } from '../../lib/storage/budget.ledger.js';
import { isTimeZoneName, periodEnd, periodStart } from '../../lib/storage/budget.period.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { startKostrack } from '../../lib/storage/start-kostrack.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { providerHarness } from '../providers/provider-test.support.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { TcpProxy } from '../storage/support/tcp.proxy.js';

/*
 * A budget's period in its time zone is computed twice: by this process when it admits a call
 * (budget.period.ts) and by PostgreSQL when the call's row lands (kostrack_period_start, with
 * date_trunc(period, at, zone)). The hold and the spending meet on one usage row only if the two
 * agree to the millisecond, also in the hours a daylight-saving change skips or repeats, in zones
 * offset by half and quarter hours, and where the change falls at midnight (Santiago, Havana,
 * Beirut, Cairo: a day then starts at 01:00, or twice). Compared here against the database the
 * suite runs on (PostgreSQL with DATABASE_URL, else the embedded PGlite, whose zone data is its own).
 */
const db = useTestDatabase('budget_period');
const h = providerHarness((srv) => openaiRoutes(srv, { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) }));

const ZONES = [
  'America/New_York', 'Europe/London', 'Europe/Berlin', 'Australia/Sydney', 'Asia/Kolkata', 'Asia/Kathmandu',
  'Australia/Lord_Howe', 'America/Santiago', 'America/Havana', 'Asia/Beirut', 'Africa/Cairo', 'America/Sao_Paulo',
  'Pacific/Chatham', 'America/St_Johns', 'Pacific/Apia', 'Asia/Tokyo', 'Etc/GMT+5', 'UTC',
];
const HOUR = 3_600_000;

/** Instants around every offset change of `zone` from 2024 to 2026 (found by stepping an hour at a time), and a spread over the years between. */
function instants(zone: string): number[] {
  const format = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const offset = (t: number) => format.formatToParts(new Date(t)).find((p) => p.type === 'timeZoneName')!.value;
  const at: number[] = [];
  const from = Date.UTC(2024, 0, 1);
  const to = Date.UTC(2027, 0, 1);
  let last = offset(from);
  for (let t = from; t < to; t += HOUR) {
    const now = offset(t);
    if (now !== last) for (let d = -26 * HOUR; d <= 26 * HOUR; d += 17 * 60_000) at.push(t + d);
    last = now;
  }
  for (let t = from; t < to; t += 31 * HOUR + 7 * 60_000) at.push(t);
  return at;
}

describe('periods in a time zone: this process and PostgreSQL agree', () => {
  it('start and end of every hour, day and month around each daylight-saving change of 18 zones, 2024-2026', { timeout: 120_000 }, async () => {
    const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
    try {
      await runMigrations(pool, db.schema);
      let compared = 0;
      const wrong: string[] = [];
      for (const zone of ZONES) {
        const at = instants(zone);
        for (const period of ['hour', 'day', 'month'] as const) {
          const rows = await db.pool.query(
            `SELECT to_json(p.s) AS s, to_json("${db.schema}".kostrack_period_end($1, p.s, $2)) AS e
               FROM unnest($3::float8[]) WITH ORDINALITY AS a(ms, i)
               CROSS JOIN LATERAL (SELECT "${db.schema}".kostrack_period_start($1, to_timestamp(a.ms / 1000.0), $2) AS s) p ORDER BY a.i`,
            [period, zone, at],
          );
          rows.rows.forEach((r: { s: string; e: string }, i: number) => {
            const start = periodStart(period, at[i], zone);
            const js = [start.toISOString(), periodEnd(period, start, zone)!.toISOString()];
            const sql = [new Date(r.s).toISOString(), new Date(r.e).toISOString()];
            compared++;
            if (js[0] !== sql[0] || js[1] !== sql[1]) wrong.push(`${zone} ${period} at ${new Date(at[i]).toISOString()}: js ${js} sql ${sql}`);
          });
        }
      }
      expect(wrong.slice(0, 10)).toEqual([]);
      expect(compared).toBeGreaterThan(40_000);
    } finally {
      await pool.close();
    }
  });

  it('days of 23 and 25 hours, a day that starts at 01:00, a half-hour zone, and months', () => {
    const day = (iso: string, zone: string) => {
      const s = periodStart('day', Date.parse(iso), zone);
      return [s.toISOString(), periodEnd('day', s, zone)!.toISOString()];
    };
    // New York: 2026-03-08 loses an hour, 2026-11-01 gains one.
    expect(day('2026-03-08T12:00:00Z', 'America/New_York')).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
    expect(day('2026-11-01T12:00:00Z', 'America/New_York')).toEqual(['2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z']);
    // Santiago moved its clocks from 24:00 to 01:00 on 2024-09-08: that day began at 01:00 local (04:00Z).
    expect(day('2024-09-08T12:00:00Z', 'America/Santiago')).toEqual(['2024-09-08T04:00:00.000Z', '2024-09-09T03:00:00.000Z']);
    // Kolkata is UTC+05:30: its day begins at 18:30Z.
    expect(day('2026-06-30T19:00:00Z', 'Asia/Kolkata')).toEqual(['2026-06-30T18:30:00.000Z', '2026-07-01T18:30:00.000Z']);
    const month = periodStart('month', Date.parse('2026-03-01T03:00:00Z'), 'America/New_York');
    // Still February in New York (22:00 on the 28th).
    expect([month.toISOString(), periodEnd('month', month, 'America/New_York')!.toISOString()]).toEqual(['2026-02-01T05:00:00.000Z', '2026-03-01T05:00:00.000Z']);
    expect(periodStart('total', Date.now(), 'Asia/Tokyo').toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(periodEnd('total', new Date(0), 'Asia/Tokyo')).toBeNull();
  });

  it('a declared timeZone must be an IANA name; it is kept as written; UTC by default', () => {
    const at = (timeZone: unknown) => {
      try {
        return checkBudget({ name: 'b', scope: 'user_id', period: 'day', limit: '1', timeZone }, 'budgets[0]').timeZone;
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(at(undefined)).toBe('UTC');
    expect(at('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(at('America/New_York')).toBe('America/New_York');
    const message = (v: string) => `budgets[0] (b): timeZone must be an IANA time zone name such as 'America/New_York' or 'UTC', got ${v}`;
    expect(at('Mars/Olympus_Mons')).toBe(message('"Mars/Olympus_Mons"'));
    // Abbreviations: PostgreSQL reads 'IST' as Israel's +02, ICU as Kolkata's +05:30.
    expect(at('IST')).toBe(message('"IST"'));
    expect(at('CST')).toBe(message('"CST"'));
    expect(at('posix/Asia/Tokyo')).toBe(message('"posix/Asia/Tokyo"'));
    // POSIX would read the offset with its sign reversed.
    expect(at('+05:30')).toBe(message('"+05:30"'));
    expect(at('')).toBe(message('""'));
    expect(at(5)).toBe(message('5'));
    expect(at(null)).toBe(message('null'));
    expect([isTimeZoneName('UTC'), isTimeZoneName('Etc/GMT+5'), isTimeZoneName('x'.repeat(65))]).toEqual([true, true, false]);
  });
});

/*
 * A budget per user and day in Pacific/Kiritimati (UTC+14, so its day never lines up with UTC's:
 * it begins at 10:00Z), through startKostrack() and the real OpenAI SDK against the loopback.
 * gpt-4o-mini, max_tokens 5000, 'Say hello': each call holds E = $0.00301545 and costs
 * C = $0.0030135 (see durable-budget.spec.ts). Limit $0.01: three calls fit, the fourth is refused.
 * The holds the process took and the spending the rows' statement added meet on one usage row,
 * that of the Kiritimati day, and the refusal says the budget resets at the next midnight there.
 */
describe('a budget per user and Kiritimati day, end to end', () => {
  it('holds and spending meet on the Kiritimati day’s row; the refusal resets at midnight there', async () => {
    // Not across a Kiritimati midnight (10:00Z, a UTC hour's end) while it runs.
    const left = 3_600_000 - (Date.now() % 3_600_000);
    if (left < 20_000) await new Promise((r) => setTimeout(r, left + 50));
    const schema = `${db.schema}_e2e`;
    await db.pool.query(`CREATE SCHEMA "${schema}"`);
    const k = await startKostrack({
      database: db.url,
      schema,
      writer: tempWriterOptions(),
      budgets: [{ name: 'user-day-kiritimati', scope: 'user_id', period: 'day', limit: '0.01', timeZone: 'Pacific/Kiritimati' }],
    });
    try {
      const client = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
      let refusal: KostrackBudgetExceededError | undefined;
      await trace({ tags: { user_id: 'kai' } }, async () => {
        for (let i = 0; i < 5 && !refusal; i++)
          await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'Say hello' }] }).catch((e: unknown) => {
            refusal = e as KostrackBudgetExceededError;
          });
      });
      expect(refusal).toBeInstanceOf(KostrackBudgetExceededError);
      expect(h.server.requests).toHaveLength(3);
      await k.flush();
      const usage = await db.pool.query(
        `SELECT u.spent::text AS spent, u.reserved::text AS reserved, u.calls, to_json(u.period_start) AS start,
                to_json("${schema}".kostrack_period_end('day', u.period_start, b.time_zone)) AS "end",
                u.period_start = (SELECT "${schema}".kostrack_period_start('day', min(time), 'Pacific/Kiritimati') FROM "${schema}".llm_calls) AS rows_day
           FROM "${schema}".llm_budget_usage u JOIN "${schema}".llm_budgets b ON b.id = u.budget_id`,
      );
      expect(usage.rows).toHaveLength(1);
      const [row] = usage.rows;
      const C = usd('0.0030135');
      expect([usdToString(usd(row.spent)), usdToString(usd(row.reserved)), row.calls, row.rows_day]).toEqual([usdToString(3n * C), '0', 3, true]);
      const start = new Date(row.start);
      // Kiritimati's midnight is 10:00Z, and its day lasts 24 hours.
      expect([start.getUTCHours(), start.getUTCMinutes(), Date.parse(row.end) - start.getTime()]).toEqual([10, 0, 86_400_000]);
      expect(refusal!.budget).toMatchObject({ spanName: 'user-day-kiritimati', period: 'day', resetsAt: new Date(row.end).toISOString(), limit: '0.01' });
      const status = await db.pool.query(`SELECT to_json(period_start) AS start, time_zone FROM "${schema}".budget_status`);
      expect(status.rows.map((r) => [new Date(r.start).toISOString(), r.time_zone])).toEqual([[start.toISOString(), 'Pacific/Kiritimati']]);
    } finally {
      await k.close();
    }
  });
});

describe('a time zone the two sides do not share', () => {
  /*
   * 'US/Pacific-New' left the tz database in 2020; Node's ICU still knows it, PostgreSQL's
   * does not. Declared, it cannot be written: startKostrack() fails naming the budget and the zone
   * (the other budgets are written first).
   */
  it('declared, a zone PostgreSQL does not know fails the start with a KostrackConfigError naming budget and zone', async () => {
    const schema = `${db.schema}_unknown`;
    await db.pool.query(`CREATE SCHEMA "${schema}"`);
    const error = await startKostrack({
      database: db.url,
      schema,
      writer: tempWriterOptions(),
      budgets: [
        { name: 'kolkata-day', scope: 'user_id', period: 'day', limit: '1', timeZone: 'Asia/Kolkata' },
        { name: 'pacific-new-day', scope: 'feature', period: 'day', limit: '1', timeZone: 'US/Pacific-New' },
      ],
    }).then(
      (k) => k.close().then(() => null),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KostrackConfigError);
    expect((error as Error).message).toMatch(/^Kostrack budget "pacific-new-day": PostgreSQL does not take the time zone "US\/Pacific-New" \(time zone "US\/Pacific-New" not recognized\)/);
    expect((await db.pool.query(`SELECT name, time_zone FROM "${schema}".llm_budgets ORDER BY name`)).rows).toEqual([{ name: 'kolkata-day', time_zone: 'Asia/Kolkata' }]);
  });

  /*
   * The same with the database down at start (a TCP proxy, cut): startKostrack() cannot know yet.
   * Once the database is back the declared budgets are written; the refused one is warned about by
   * name (not once as "could not load budgets"), the other is written and loaded.
   */
  it('declared while the database was down at start: once it is back, the zone PostgreSQL refuses is warned about by name', async () => {
    const schema = `${db.schema}_unknown_later`;
    await db.pool.query(`CREATE SCHEMA "${schema}"`);
    const proxy = TcpProxy.forUrl(db.url);
    await proxy.start();
    await proxy.stop();
    const warned: string[] = [];
    const onWarning = (w: Error & { code?: string }) => void (w.code === 'KOSTRACK' && warned.push(w.message));
    process.on('warning', onWarning);
    const k = await startKostrack({
      database: proxy.urlFor(db.url),
      schema,
      writer: tempWriterOptions(),
      budgetOptions: { timeoutMs: 300, refreshMs: 200 },
      budgets: [
        { name: 'kolkata-day', scope: 'user_id', period: 'day', limit: '1', timeZone: 'Asia/Kolkata' },
        { name: 'pacific-new-day', scope: 'feature', period: 'day', limit: '1', timeZone: 'US/Pacific-New' },
      ],
    });
    try {
      await proxy.start();
      // The writer migrates the schema once it can; the ledger's next refresh writes the budgets.
      await k.flush(60_000);
      await vi.waitUntil(() => warned.some((w) => w.startsWith('Kostrack budget "pacific-new-day": PostgreSQL does not take the time zone "US/Pacific-New"')), { timeout: 30_000, interval: 50 });
      expect((await db.pool.query(`SELECT name FROM "${schema}".llm_budgets ORDER BY name`)).rows).toEqual([{ name: 'kolkata-day' }]);
      expect((budgetGate() as BudgetLedger).match({ user_id: 'ravi' }, 'api')?.map((h) => h.budget.name)).toEqual(['kolkata-day']);
    } finally {
      process.off('warning', onWarning);
      await k.close();
      await proxy.stop();
    }
    expect(warned.filter((w) => w.includes('"pacific-new-day"'))).toHaveLength(1);
  });

  /*
   * Zone data that differ (a rule one side has and the other not yet): simulated by replacing this
   * schema's kostrack_period_start with one that ignores the zone (every period in UTC), as a server
   * with other zone data would compute them. The check at start sees Kolkata's days differ; the
   * budget's calls then go by whenDatabaseDown ('refuse' here: refused before the request), with a
   * warning naming budget and zone, instead of holding on one row and spending on another.
   */
  it('when this process and PostgreSQL disagree on a zone, its budgets go by whenDatabaseDown, with a warning', async () => {
    const schema = `${db.schema}_disagree`;
    await db.pool.query(`CREATE SCHEMA "${schema}"`);
    const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
    try {
      await runMigrations(pool, schema);
    } finally {
      await pool.close();
    }
    await db.pool.query(
      `CREATE OR REPLACE FUNCTION "${schema}".kostrack_period_start(period text, at timestamptz, zone text) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$ SELECT "${schema}".kostrack_period_start(period, at) $$`,
    );
    const warned: string[] = [];
    const onWarning = (w: Error & { code?: string }) => void (w.code === 'KOSTRACK' && warned.push(w.message));
    process.on('warning', onWarning);
    const k = await startKostrack({
      database: db.url,
      schema,
      writer: tempWriterOptions(),
      budgets: [{ name: 'kolkata-day', scope: 'user_id', period: 'day', limit: '1', timeZone: 'Asia/Kolkata', whenDatabaseDown: 'refuse' }],
    });
    try {
      const before = h.server.requests.length;
      const client = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
      const refused = await trace({ tags: { user_id: 'ravi' } }, () => client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'Say hello' }] })).then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(KostrackBudgetExceededError);
      expect((refused as KostrackBudgetExceededError).budget).toMatchObject({ spanName: 'kolkata-day', scopeValue: 'ravi' });
      expect(h.server.requests.length - before).toBe(0);
      await new Promise((r) => setImmediate(r));
      expect(warned.filter((w) => w.includes('"kolkata-day"') && w.includes('disagree on the hour of') && w.includes('"Asia/Kolkata"'))).toHaveLength(1);
      // The 402 check before a Nest handler goes the same way (no reset time: this process cannot tell it).
      const check = budgetScopeCheck({ budgets: budgetGate() as BudgetLedger, current: { pool: k.storage!.pool, schema } }, { user_id: 'ravi' }, 'api');
      const early = await check!().then(
        () => null,
        (e: unknown) => e,
      );
      expect(early).toBeInstanceOf(KostrackBudgetExceededError);
      expect((early as KostrackBudgetExceededError).budget).toMatchObject({ spanName: 'kolkata-day', scopeValue: 'ravi', resetsAt: null });
    } finally {
      process.off('warning', onWarning);
      await k.close();
    }
  });
});
