import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { createServer, type Server } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { budgetGate } from '../../lib/core/budget-gate.js';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { KostrackBudgetExceededError, trace, usd, usdToString, withTags, wrap, type CallRecord } from '../../lib/index.js';
import { checkBudgets } from '../../lib/storage/budget.declaration.js';
import { periodEnd, periodStart, type BudgetPeriod } from '../../lib/storage/budget.period.js';
import type { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { startKostrack, type KostrackHandle, type StartKostrackOptions } from '../../lib/storage/start-kostrack.js';
import { anthropicRoutes, anthropicUsageBody } from '../../loopback/anthropic.loopback.js';
import { geminiRoutes, geminiUsageBody } from '../../loopback/gemini.loopback.js';
import { json } from '../../loopback/loopback.server.js';
import { chatCompletion, chatUsageBody, openaiRoutes, type OpenAIScript } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, settle, sum } from '../providers/provider-test.support.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { TcpProxy } from '../storage/support/tcp.proxy.js';

/*
 * Durable budgets at their edges, through startKostrack() on a real database (PostgreSQL with
 * DATABASE_URL, else the embedded PGlite) and the real SDKs against one loopback server.
 *
 * Every request has the messages [{ role: 'user', content: 'Say hello' }], whose walked JSON is
 * 39 bytes: 3 (array) + 8 + 6 + 11 + 11 = 39 → 39 + 64 = 103 input tokens (request-bound.ts).
 * Gemini's `contents: 'Say hello'` is one string: 9 + 2 = 11 → 11 + 64 = 75 input tokens.
 *
 * gpt-4o-mini ($0.15 in, $0.60 out per 1M), max_tokens 5000, the loopback answers usage 90 / 5000:
 *   E = (103 × 0.15 + 5000 × 0.60) µ$ = 15.45 + 3000 µ$ = $0.00301545 held at admission;
 *   C = (90 × 0.15 + 5000 × 0.60) µ$ = 13.5 + 3000 µ$ = $0.0030135 spent once the row lands.
 * claude-haiku-4-5 ($1 in, $5 out per 1M), max_tokens 1000, usage 90 / 1000:
 *   E = 103 + 5000 µ$ = $0.005103;  C = 90 + 5000 µ$ = $0.00509.
 * gemini-2.5-flash ($0.30 in, $2.50 out per 1M), maxOutputTokens 1000, usage 50 / 1000:
 *   E = 75 × 0.30 + 1000 × 2.50 µ$ = 22.5 + 2500 µ$ = $0.0025225;  C = 15 + 2500 µ$ = $0.002515.
 */
const E = '0.00301545';
const C = '0.0030135';
const E_HAIKU = '0.005103';
const C_HAIKU = '0.00509';
const E_GEMINI = '0.0025225';
const C_GEMINI = '0.002515';
const times = (n: number, amount: string) => usdToString(BigInt(n) * usd(amount));
const minus = (a: string, b: string) => usdToString(usd(a) - usd(b));

const messages = [{ role: 'user' as const, content: 'Say hello' }];
const body = { model: 'gpt-4o-mini', max_tokens: 5000, messages };
const haikuBody = { model: 'claude-haiku-4-5', max_tokens: 1000, messages };
const geminiBody = { model: 'gemini-2.5-flash', contents: 'Say hello', config: { maxOutputTokens: 1000 } };

const openaiScript: OpenAIScript = { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) };
const h = providerHarness((s) => {
  openaiRoutes(s, openaiScript);
  anthropicRoutes(s, { model: 'claude-haiku-4-5-20251001', usage: anthropicUsageBody({ input: 90, output: 1000 }) });
  geminiRoutes(s, { model: 'gemini-2.5-flash', usage: geminiUsageBody({ prompt: 50, candidates: 1000 }) });
});
const db = useTestDatabase('budget_edges');

const openai = () => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const anthropic = () => wrap(new Anthropic({ apiKey: 'sk-ant-test', baseURL: h.server.url, maxRetries: 0 }));
const gemini = () => wrap(new GoogleGenAI({ apiKey: 'AIza-test', httpOptions: { baseUrl: h.server.url } }));
const ask = (client: OpenAI) => client.chat.completions.create(body);

/** What Kostrack's storage warned (process.emitWarning with code KOSTRACK), in order. */
const warned: string[] = [];
const warnedLike = (prefix: string) => warned.filter((m) => m.startsWith(prefix));
const extraSchemas: string[] = [];

beforeAll(() => {
  vi.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { code?: string }) => {
    if (options?.code === 'KOSTRACK') warned.push(String(warning));
  }) as typeof process.emitWarning);
});
afterAll(async () => {
  vi.restoreAllMocks();
  for (const s of extraSchemas) await db.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
});

/** A schema of one describe's own (the file's schema is shared by the pool; each start gets a fresh list of budgets). */
async function freshSchema(tag: string): Promise<string> {
  const name = `${db.schema}_${tag}`;
  await db.pool.query(`CREATE SCHEMA "${name}"`);
  extraSchemas.push(name);
  return name;
}

/** Starts Kostrack for one describe, on its own schema; closed after it. */
function useKostrack(tag: string, options: () => Partial<StartKostrackOptions>) {
  const ctx = { k: undefined as unknown as KostrackHandle, schema: '' };
  beforeAll(async () => {
    ctx.schema = await freshSchema(tag);
    ctx.k = await startKostrack({ database: db.url, schema: ctx.schema, writer: tempWriterOptions(), ...options() });
  });
  afterAll(async () => {
    await ctx.k?.close();
  });
  return ctx;
}

const money = (v: string | null) => usdToString(usd(v ?? '0'));

/** Every usage row: [budget, scope value, spent, reserved, calls], or with the period start. */
async function usage(schema: string, withPeriod = false): Promise<unknown[][]> {
  const r = await db.pool.query(
    `SELECT b.name, u.scope_value, u.period_start, u.spent::text AS spent, u.reserved::text AS reserved, u.calls
       FROM "${schema}".llm_budget_usage u JOIN "${schema}".llm_budgets b ON b.id = u.budget_id ORDER BY 1, 2, 3`,
  );
  return r.rows.map((x) => [x.name, x.scope_value, ...(withPeriod ? [(x.period_start as Date).toISOString()] : []), money(x.spent), money(x.reserved), x.calls]);
}

async function heldRows(schema: string): Promise<number> {
  return (await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".llm_budget_reservations`)).rows[0].n;
}

/** The refusal `call` rejects with (a refused Stainless call rejects; it never throws synchronously). */
async function refusal(call: () => unknown): Promise<KostrackBudgetExceededError> {
  const error = await (async () => call())().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KostrackBudgetExceededError);
  return error as KostrackBudgetExceededError;
}

/** Counts the admissions a storage's pool is asked for from now on (the amount each would hold). */
function countAdmissions(k: KostrackHandle): { readonly n: number; readonly amounts: string[]; restore(): void } {
  const pool = k.storage!.pool as unknown as { query(sql: string, params?: unknown[]): Promise<unknown[]> };
  const original = pool.query.bind(pool);
  const amounts: string[] = [];
  const spy = vi.spyOn(pool, 'query').mockImplementation((sql: string, params?: unknown[]) => {
    if (sql.includes('kostrack_budget_admit(')) amounts.push(String(params?.[3]));
    return original(sql, params);
  });
  return {
    get n() {
      return amounts.length;
    },
    amounts,
    restore: () => spy.mockRestore(),
  };
}

/** Polls until `probe` holds; the bound only turns "never" into a failure (a loaded machine can take seconds). */
async function eventually(probe: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Waits out the last seconds of a UTC hour, so that a test's calls all fall in one hour (and day,
 * and month). 20 s is what one of these tests may take on a loaded machine (they take well under
 * one otherwise); the wait, plus the test, stays within the test timeout.
 */
async function awayFromHourEnd(): Promise<void> {
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < 20_000) await new Promise((r) => setTimeout(r, left + 50));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const statuses = () => h.sink.calls.map((c: CallRecord) => c.status);

describe('the estimates by hand', () => {
  it('E and C of each provider', () => {
    expect(usdToString(sum(atMtok(103, '0.15'), atMtok(5000, '0.60')))).toBe(E);
    expect(usdToString(sum(atMtok(90, '0.15'), atMtok(5000, '0.60')))).toBe(C);
    expect(usdToString(sum(atMtok(103, '1'), atMtok(1000, '5')))).toBe(E_HAIKU);
    expect(usdToString(sum(atMtok(90, '1'), atMtok(1000, '5')))).toBe(C_HAIKU);
    expect(usdToString(sum(atMtok(75, '0.30'), atMtok(1000, '2.50')))).toBe(E_GEMINI);
    expect(usdToString(sum(atMtok(50, '0.30'), atMtok(1000, '2.50')))).toBe(C_GEMINI);
  });
});

describe('bad declarations', () => {
  // A "database" that counts who connects to it: a bad declaration must fail before anything is opened.
  let server: Server;
  let connections = 0;
  let url = '';
  beforeAll(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `postgres://nobody@127.0.0.1:${(server.address() as { port: number }).port}/none`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const day = { scope: 'user_id', period: 'day', limit: '5' };
  const cases: [string, unknown, string][] = [
    ['a negative limit', [{ name: 'neg', ...day, limit: '-0.01' }], 'Kostrack budgets[0] (neg): limit must not be negative'],
    ['a negative number', [{ name: 'neg', ...day, limit: -5 }], 'Kostrack budgets[0] (neg): limit must not be negative'],
    ['a limit that is not a number', [{ name: 'five', ...day, limit: 'five dollars' }], `Kostrack budgets[0] (five): limit must be an amount in USD like '5.00', got "five dollars"`],
    ['a limit with a currency sign', [{ name: 'five', ...day, limit: '$5' }], `Kostrack budgets[0] (five): limit must be an amount in USD like '5.00', got "$5"`],
    ['NaN', [{ name: 'nan', ...day, limit: NaN }], `Kostrack budgets[0] (nan): limit must be an amount in USD like '5.00', got NaN`],
    ['Infinity', [{ name: 'inf', ...day, limit: Infinity }], `Kostrack budgets[0] (inf): limit must be an amount in USD like '5.00', got Infinity`],
    ['no limit', [{ name: 'none', scope: 'user_id', period: 'day' }], `Kostrack budgets[0] (none): limit must be an amount in USD like '5.00', got undefined`],
    ['a week', [{ name: 'weekly', ...day, period: 'week' }], 'Kostrack budgets[0] (weekly): period must be hour, day, month or total, got "week"'],
    ['a period in capitals', [{ name: 'daily', ...day, period: 'DAY' }], 'Kostrack budgets[0] (daily): period must be hour, day, month or total, got "DAY"'],
    [
      'a scope with a space',
      [{ name: 's', ...day, scope: 'user id' }],
      'Kostrack budgets[0] (s): scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"; got "user id"',
    ],
    [
      'a scope no tag can have (__proto__)',
      [{ name: 's', ...day, scope: '__proto__' }],
      'Kostrack budgets[0] (s): scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"; got "__proto__"',
    ],
    [
      'a scope of 65 characters',
      [{ name: 's', ...day, scope: 'k'.repeat(65) }],
      `Kostrack budgets[0] (s): scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"; got "${'k'.repeat(65)}"`,
    ],
    ['an empty value', [{ name: 'v', ...day, value: '' }], 'Kostrack budgets[0] (v): value must be a non-empty string of at most 256 characters'],
    ['an unknown key', [{ name: 'typo', ...day, limt: '5' }], 'Kostrack budgets[0]: budgets have no option "limt"'],
    ['a bad name', [{ name: 'per user/day', ...day }], 'Kostrack budgets[0]: name must be 1-100 letters, digits or _ . : -, got "per user/day"'],
    ['alerts with a fraction', [{ name: 'a', ...day, alerts: [50.5] }], 'Kostrack budgets[0] (a): alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]'],
    ['an alert at 0%', [{ name: 'a', ...day, alerts: [0, 80] }], 'Kostrack budgets[0] (a): alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]'],
    ['an alert past 1000%', [{ name: 'a', ...day, alerts: [1001] }], 'Kostrack budgets[0] (a): alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]'],
    ['alerts that are not a list', [{ name: 'a', ...day, alerts: 80 }], 'Kostrack budgets[0] (a): alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]'],
    ['alerts as strings', [{ name: 'a', ...day, alerts: ['80'] }], 'Kostrack budgets[0] (a): alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]'],
    ['an unknown mode', [{ name: 'm', ...day, mode: 'log' }], 'Kostrack budgets[0] (m): mode must be enforce or warn, got "log"'],
    ['an unknown unpriced policy', [{ name: 'u', ...day, unpriced: 'warn' }], 'Kostrack budgets[0] (u): unpriced must be refuse or allow, got "warn"'],
    ['an unknown database-down policy', [{ name: 'd', ...day, whenDatabaseDown: 'deny' }], 'Kostrack budgets[0] (d): whenDatabaseDown must be allow or refuse, got "deny"'],
    ['the second entry', [{ name: 'ok', ...day }, { name: 'bad', ...day, scope: 'feature', limit: '-1' }], 'Kostrack budgets[1] (bad): limit must not be negative'],
    [
      'two budgets on one scope and period',
      [{ name: 'a', ...day }, { name: 'b', ...day, limit: '10' }],
      'Kostrack budgets: budgets "a" and "b" overlap (same scope, value and period)',
    ],
    [
      'two budgets on one value of a scope',
      [{ name: 'acme', scope: 'tenant', value: 'acme', period: 'month', limit: '1' }, { name: 'acme-2', scope: 'tenant', value: 'acme', period: 'month', limit: '2' }],
      'Kostrack budgets: budgets "acme" and "acme-2" overlap (same scope, value and period)',
    ],
    ['two budgets with one name', [{ name: 'a', ...day }, { name: 'a', ...day, scope: 'feature' }], 'Kostrack budgets: two budgets are named "a"'],
    ['not a list', { name: 'a', ...day }, 'Kostrack budgets: budgets must be an array'],
    ['a list of strings', ['per-user-day'], 'Kostrack budgets[0]: a budget must be an object { name, scope, period, limit }'],
  ];

  it.each(cases)('%s: KostrackConfigError with the exact message; nothing is opened', async (_, budgets, message) => {
    const gate = budgetGate();
    const opened = connections;
    const error = await startKostrack({ database: url, writer: tempWriterOptions(), budgets: budgets as never }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KostrackConfigError);
    expect((error as Error).message).toBe(message);
    await sleep(20);
    expect(connections).toBe(opened);
    expect(budgetGate()).toBe(gate);
  });

  it('bad budgetOptions too', async () => {
    const opened = connections;
    const error = await startKostrack({ database: url, writer: tempWriterOptions(), budgetOptions: { timeoutMs: 0 } }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe('Kostrack: budgetOptions.timeoutMs must be a whole number of milliseconds from 1 to 2147483647');
    await sleep(20);
    expect(connections).toBe(opened);
  });

  it('what does not overlap is accepted, in canonical form', () => {
    const checked = checkBudgets(
      [
        { name: 'acme', scope: 'tenant', value: 'acme', period: 'month', limit: 100 },
        { name: 'globex', scope: 'tenant', value: 'globex', period: 'month', limit: '100.50' },
        { name: 'tenants', scope: 'tenant', period: 'month', limit: '0.000001' },
        { name: 'tenants-day', scope: 'tenant', period: 'day', limit: '0', alerts: [100, 50, 80, 50] },
      ],
      'Kostrack budgets',
    );
    expect(checked.map((b) => [b.name, b.value, b.limit, b.mode, b.unpriced, b.whenDatabaseDown, b.alerts])).toEqual([
      ['acme', 'acme', '100', 'enforce', 'refuse', 'allow', []],
      ['globex', 'globex', '100.5', 'enforce', 'refuse', 'allow', []],
      ['tenants', null, '0.000001', 'enforce', 'refuse', 'allow', []],
      ['tenants-day', null, '0', 'enforce', 'refuse', 'allow', [50, 80, 100]],
    ]);
  });
});

describe('the database down during admission (a TCP proxy between the app and PostgreSQL, cut)', () => {
  let proxy: TcpProxy;
  let k: KostrackHandle;
  let schema = '';
  beforeAll(async () => {
    schema = await freshSchema('down');
    proxy = TcpProxy.forUrl(db.url);
    await proxy.start();
    k = await startKostrack({
      database: proxy.urlFor(db.url),
      schema,
      writer: tempWriterOptions(),
      budgetOptions: { timeoutMs: 300 },
      budgets: [
        { name: 'user-day-allow', scope: 'user_id', period: 'day', limit: '1' },
        { name: 'team-day-refuse', scope: 'team', period: 'day', limit: '1', whenDatabaseDown: 'refuse' },
      ],
    });
  });
  afterAll(async () => {
    await proxy.start().catch(() => undefined);
    await k?.close();
    await proxy.stop();
  });

  it("whenDatabaseDown 'allow': the call goes ahead (the request reaches the provider), with one warning", async () => {
    await awayFromHourEnd();
    const client = openai();
    await trace({ tags: { user_id: 'ann' } }, () => ask(client));
    await k.flush();
    await proxy.stop();
    // The pool notices its cut connections and drops them (else the next query could meet a dead
    // socket, ECONNRESET, instead of the refused connection this test is about).
    const pool = (k.storage!.pool as PgSqlPool).pool;
    await eventually(async () => pool.totalCount === 0, 'the pool to drop its cut connections');
    warned.length = 0;
    await trace({ tags: { user_id: 'ann' } }, async () => {
      const first = await ask(client);
      const second = await ask(client);
      expect([first.id, second.id]).toEqual(['chatcmpl-loopback', 'chatcmpl-loopback']);
    });
    expect(h.server.requests).toHaveLength(3);
    expect(warnedLike('Kostrack could not check budgets')).toEqual([
      `Kostrack could not check budgets "user-day-allow" (ECONNREFUSED); calls go ahead while the database is down (whenDatabaseDown: 'allow'; warned once a minute)`,
    ]);
    expect(statuses()).toEqual(['ok', 'ok', 'ok']);
  });

  it("whenDatabaseDown 'refuse': refused before the request, unavailable, the blocked row kept for when the database is back", async () => {
    const client = openai();
    const error = await refusal(() => trace({ tags: { team: 'red' } }, () => ask(client)));
    expect(error.message).toBe('Kostrack budget "team-day-refuse" refused a call to openai/gpt-4o-mini: its database cannot be reached, and the budget refuses calls then');
    const now = new Date();
    const tomorrow = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
    expect(error.budget).toEqual({
      scope: 'team',
      scopeValue: 'red',
      period: 'day',
      resetsAt: tomorrow,
      spanName: 'team-day-refuse',
      limit: '1',
      spent: '0',
      reserved: '0',
      estimate: E,
      remaining: '1',
      provider: 'openai',
      model: 'gpt-4o-mini',
      unavailable: true,
    });
    // Under both budgets: the refusing one decides.
    const both = await refusal(() => trace({ tags: { team: 'red', user_id: 'ann' } }, () => ask(client)));
    expect(both.budget).toMatchObject({ spanName: 'team-day-refuse', unavailable: true });
    expect(h.server.requests).toHaveLength(0);
    expect(h.sink.calls.map((c) => [c.status, c.costUsd, c.pricingSource, c.errorClass])).toEqual([
      ['blocked', 0n, 'blocked', 'KostrackBudgetExceededError'],
      ['blocked', 0n, 'blocked', 'KostrackBudgetExceededError'],
    ]);
  });

  it('a run budget refuses first: no database round trip (the database is unreachable, and the refusal is the run budget’s)', async () => {
    const client = openai();
    const admissions = countAdmissions(k);
    try {
      // 0.001 < E: the run budget refuses in memory; had the durable budget been asked, it would say "unavailable".
      const error = await refusal(() => trace({ name: 'agent-run', budget: '0.001', tags: { team: 'red' } }, () => ask(client)));
      expect(error.message).toBe(
        `Kostrack budget of $0.001 on "agent-run" refused a call to openai/gpt-4o-mini: it may cost up to $${E}, $0.001 is left ($0 spent, $0 held by calls in flight)`,
      );
      expect(error.budget.scope).toBe('run');
      expect(error.budget.unavailable).toBeUndefined();
      expect(admissions.n).toBe(0);
      // The run budget admits (E held on the run), the durable one refuses: the run's hold is given back.
      await trace({ name: 'agent-run', budget: '0.05', tags: { team: 'red' } }, async (t) => {
        const durable = await refusal(() => ask(client));
        expect(durable.budget).toMatchObject({ spanName: 'team-day-refuse', unavailable: true });
        expect(t.reserved).toBe(0n);
        expect(t.totalCost).toBe(0n);
      });
      expect(admissions.n).toBe(1);
    } finally {
      admissions.restore();
    }
    expect(h.server.requests).toHaveLength(0);
  });

  it('when the database is back, admission works again; what happened during the outage lands', async () => {
    await proxy.start();
    await k.flush();
    const client = openai();
    await trace({ tags: { team: 'red' } }, () => ask(client));
    expect(h.server.requests).toHaveLength(1);
    await k.flush();
    const rows = await db.pool.query(
      `SELECT COALESCE(tags->>'team', '-') AS team, COALESCE(tags->>'user_id', '-') AS user_id, status, COALESCE(sum(cost_usd), 0)::text AS cost, count(*)::int AS n,
              count(*) FILTER (WHERE (metadata->'budget'->>'unavailable')::boolean IS TRUE)::int AS unavailable
         FROM "${schema}".llm_calls GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    );
    // red's blocked rows: two refused as unavailable, one refused by the run budget (agent-run).
    expect(rows.rows.map((r) => [r.team, r.user_id, r.status, money(r.cost), r.n, r.unavailable])).toEqual([
      ['-', 'ann', 'ok', times(3, C), 3, 0],
      ['red', '-', 'blocked', '0', 3, 2],
      ['red', '-', 'ok', C, 1, 0],
      ['red', 'ann', 'blocked', '0', 1, 1],
    ]);
    // What went ahead during the outage counts once its rows land; nothing stays held.
    expect(await usage(schema)).toEqual([
      ['team-day-refuse', 'red', C, '0', 1],
      ['user-day-allow', 'ann', times(3, C), '0', 3],
    ]);
    expect(await heldRows(schema)).toBe(0);
  });
});

describe('the database stalled during admission (no answer at all)', () => {
  let proxy: TcpProxy;
  let k: KostrackHandle;
  let schema = '';
  beforeAll(async () => {
    schema = await freshSchema('stall');
    proxy = TcpProxy.forUrl(db.url);
    await proxy.start();
    k = await startKostrack({
      database: proxy.urlFor(db.url),
      schema,
      writer: tempWriterOptions(),
      budgetOptions: { timeoutMs: 300 },
      budgets: [
        { name: 'user-day-allow', scope: 'user_id', period: 'day', limit: '1' },
        { name: 'team-day-refuse', scope: 'team', period: 'day', limit: '1', whenDatabaseDown: 'refuse' },
      ],
    });
  });
  afterAll(async () => {
    proxy.resume();
    await k?.close();
    await proxy.stop();
  });

  it('after timeoutMs (300) each budget’s policy applies; the late answers’ holds are given back when the rows land', async () => {
    await awayFromHourEnd();
    const client = openai();
    await k.flush();
    proxy.stall();
    warned.length = 0;
    const t0 = Date.now();
    await trace({ tags: { user_id: 'ann' } }, () => ask(client));
    const allowedAfter = Date.now() - t0;
    const t1 = Date.now();
    const error = await refusal(() => trace({ tags: { team: 'red' } }, () => ask(client)));
    const refusedAfter = Date.now() - t1;
    // timeoutMs bounds the whole admission, the wait for this process's pending settles included
    // (the allowed call's settle is stalled too when the refused call is admitted).
    expect(allowedAfter).toBeGreaterThanOrEqual(290);
    expect(refusedAfter).toBeGreaterThanOrEqual(290);
    // Far below what an unbounded wait costs (the pool's 5 s connection wait, or its 120 s query
    // timeout), with room for a loaded machine.
    expect(refusedAfter).toBeLessThan(4500);
    expect(error.budget).toMatchObject({ spanName: 'team-day-refuse', unavailable: true });
    expect(h.server.requests).toHaveLength(1);
    expect(warnedLike('Kostrack could not check budgets')).toEqual([
      `Kostrack could not check budgets "user-day-allow" (no answer within 300 ms); calls go ahead while the database is down (whenDatabaseDown: 'allow'; warned once a minute)`,
    ]);
    proxy.resume();
    await k.flush();
    // The stalled admissions are answered late and hold E each; those holds are given back
    // (whenDatabaseDown decided those calls), whether or not their rows landed first.
    await eventually(async () => (await heldRows(schema)) === 0, 'the late holds to be given back');
    expect(await usage(schema)).toEqual([
      ['team-day-refuse', 'red', '0', '0', 0],
      ['user-day-allow', 'ann', C, '0', 1],
    ]);
    expect(await heldRows(schema)).toBe(0);
  });
});

describe('the database down at start', () => {
  let proxy: TcpProxy;
  let k: KostrackHandle;
  let schema = '';
  beforeAll(async () => {
    schema = await freshSchema('boot');
    proxy = TcpProxy.forUrl(db.url);
    await proxy.start();
    await proxy.stop();
    warned.length = 0;
    k = await startKostrack({
      database: proxy.urlFor(db.url),
      schema,
      writer: tempWriterOptions(),
      budgetOptions: { timeoutMs: 300 },
      budgets: [
        { name: 'boot-team-refuse', scope: 'team', period: 'day', limit: '0.005', whenDatabaseDown: 'refuse' },
        { name: 'boot-user-allow', scope: 'user_id', period: 'day', limit: '0.005' },
      ],
    });
  });
  afterAll(async () => {
    await proxy.start().catch(() => undefined);
    await k?.close();
    await proxy.stop();
  });

  it("the declared budgets apply before they could be written: 'refuse' refuses, 'allow' lets through with a warning; once the database is back they are written and enforced", async () => {
    await awayFromHourEnd();
    expect(warnedLike('Kostrack could not load budgets')).toEqual(['Kostrack could not load budgets (ECONNREFUSED); retrying every 5000 ms']);
    const client = openai();
    const error = await refusal(() => trace({ tags: { team: 'red' } }, () => ask(client)));
    expect(error.budget).toMatchObject({ spanName: 'boot-team-refuse', scopeValue: 'red', limit: '0.005', unavailable: true });
    expect(h.server.requests).toHaveLength(0);
    await trace({ tags: { user_id: 'ann' } }, () => ask(client));
    expect(h.server.requests).toHaveLength(1);
    expect(warnedLike('Kostrack could not check budgets')).toEqual([
      `Kostrack could not check budgets "boot-user-allow" (ECONNREFUSED); calls go ahead while the database is down (whenDatabaseDown: 'allow'; warned once a minute)`,
    ]);

    await proxy.start();
    // The writer migrates the schema and writes what waited; the next call writes the budgets and loads the list.
    await k.flush();
    await trace({ tags: { team: 'red' } }, () => ask(client));
    expect(h.server.requests).toHaveLength(2);
    await k.flush();
    // 0.005 − C = 0.0019865 < E: refused by the budget itself now, not for want of a database.
    const refused = await refusal(() => trace({ tags: { team: 'red' } }, () => ask(client)));
    expect(refused.budget).toMatchObject({ spanName: 'boot-team-refuse', spent: C, reserved: '0', remaining: minus('0.005', C), estimate: E });
    expect(refused.budget.unavailable).toBeUndefined();
    expect(h.server.requests).toHaveLength(2);
    const budgets = await db.pool.query(`SELECT name, scope_tag, limit_usd::text AS l, when_database_down AS d, source FROM "${schema}".llm_budgets ORDER BY name`);
    expect(budgets.rows.map((r) => [r.name, r.scope_tag, money(r.l), r.d, r.source])).toEqual([
      ['boot-team-refuse', 'team', '0.005', 'refuse', 'options'],
      ['boot-user-allow', 'user_id', '0.005', 'allow', 'options'],
    ]);
  });
});

describe('declared budgets renamed, or overlapping a budget made through the API', () => {
  let schema = '';
  beforeAll(async () => {
    schema = await freshSchema('rename');
  });

  it('a renamed budget keeps its row and spending; one overlapping an API budget is skipped; the others load', async () => {
    await awayFromHourEnd();
    const start = (budgets: StartKostrackOptions['budgets']) => startKostrack({ database: db.url, schema, writer: tempWriterOptions(), budgets });
    const client = openai();
    let k = await start([{ name: 'user-day', scope: 'user_id', period: 'day', limit: '0.01' }]);
    try {
      await trace({ tags: { user_id: 'ann' } }, () => ask(client));
      await k.flush();
    } finally {
      await k.close();
    }
    const [{ id }] = (await db.pool.query(`SELECT id::text AS id FROM "${schema}".llm_budgets WHERE name = 'user-day'`)).rows;
    await db.pool.query(`INSERT INTO "${schema}".llm_budgets (name, scope_tag, period, limit_usd, source) VALUES ('api-feature-day', 'feature', 'day', 0, 'api')`);

    warned.length = 0;
    k = await start([
      { name: 'per-user-day', scope: 'user_id', period: 'day', limit: '0.008' },
      { name: 'feature-day', scope: 'feature', period: 'day', limit: '5' },
      { name: 'team-day', scope: 'team', period: 'day', limit: '0' },
    ]);
    try {
      expect(warned).toEqual([
        'Kostrack budget "user-day" (user_id per day) is now declared as "per-user-day": renamed, its spending kept',
        'Kostrack budget "feature-day" was not written: budget "api-feature-day" already limits feature per day (two budgets on the same scope, value and period would overlap); remove one of them',
      ]);
      const rows = await db.pool.query(`SELECT id::text AS id, name, scope_tag, limit_usd::text AS l, source FROM "${schema}".llm_budgets ORDER BY name`);
      expect(rows.rows.map((r) => [r.name, r.scope_tag, money(r.l), r.source])).toEqual([
        ['api-feature-day', 'feature', '0', 'api'],
        ['per-user-day', 'user_id', '0.008', 'options'],
        ['team-day', 'team', '0', 'options'],
      ]);
      expect(rows.rows.find((r) => r.name === 'per-user-day')!.id).toBe(id);
      // ann spent C under the old name: 0.008 − C = 0.0049865 ≥ E admits one more; then 0.008 − 2C = 0.001973 < E.
      await trace({ tags: { user_id: 'ann' } }, () => ask(client));
      await k.flush();
      const error = await refusal(() => trace({ tags: { user_id: 'ann' } }, () => ask(client)));
      expect(error.budget).toMatchObject({ spanName: 'per-user-day', limit: '0.008', spent: times(2, C), remaining: minus('0.008', times(2, C)) });
      // The other declared budget and the API one are in force.
      expect((await refusal(() => trace({ tags: { team: 'red' } }, () => ask(client)))).budget.spanName).toBe('team-day');
      expect((await refusal(() => trace({ tags: { feature: 'chat' } }, () => ask(client)))).budget.spanName).toBe('api-feature-day');
      expect(h.server.requests).toHaveLength(2);
    } finally {
      await k.close();
    }
  });
});

describe('unpriced models under a durable budget', () => {
  const ctx = useKostrack('unpriced', () => ({
    budgets: [
      { name: 'unpriced-refuse', scope: 'user_id', period: 'day', limit: '1' },
      { name: 'unpriced-allow', scope: 'feature', period: 'day', limit: '1', unpriced: 'allow' },
    ],
  }));
  const model = 'gpt-kostrack-unpriced';
  const unpriced = (client: OpenAI) => client.chat.completions.create({ ...body, model });

  it("refused by default, with no database round trip (no estimate to hold); allowed with unpriced 'allow' (the database admits 0)", async () => {
    await awayFromHourEnd();
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => json(res, chatCompletion(model, chatUsageBody({ prompt: 90, completion: 5000 }))));
    const client = openai();
    const admissions = countAdmissions(ctx.k);
    try {
      const error = await refusal(() => trace({ tags: { user_id: 'ann' } }, () => unpriced(client)));
      expect(error.message).toBe(`Kostrack budget of $1 on "unpriced-refuse" refused a call to openai/${model}: the model has no price, so its cost cannot be bounded`);
      expect(error.budget).toMatchObject({ scope: 'user_id', scopeValue: 'ann', estimate: null, spent: '0', reserved: '0', remaining: '1' });
      // Under both: the refusing one decides, still without asking the database.
      expect((await refusal(() => trace({ tags: { user_id: 'ann', feature: 'chat' } }, () => unpriced(client)))).budget.spanName).toBe('unpriced-refuse');
      expect(admissions.n).toBe(0);
      expect(h.server.requests).toHaveLength(0);

      const res = await trace({ tags: { feature: 'chat' } }, () => unpriced(client));
      expect(res.model).toBe(model);
      expect(admissions.amounts).toEqual(['0']);
      expect(h.server.requests).toHaveLength(1);
    } finally {
      admissions.restore();
    }
    await ctx.k.flush();
    expect(await usage(ctx.schema)).toEqual([
      ['unpriced-allow', 'chat', '0', '0', 1],
      ['unpriced-refuse', 'ann', '0', '0', 0],
    ]);
    expect(await heldRows(ctx.schema)).toBe(0);
    const rows = await db.pool.query(`SELECT status, cost_usd, pricing_source FROM "${ctx.schema}".llm_calls ORDER BY status`);
    expect(rows.rows.map((r) => [r.status, r.cost_usd])).toEqual([
      ['blocked', '0'],
      ['blocked', '0'],
      ['ok', null],
    ]);
  });
});

describe('a durable budget in warn mode', () => {
  const ctx = useKostrack('warn', () => ({
    budgetOptions: { refreshMs: 600_000 },
    budgets: [{ name: 'warn-day', scope: 'user_id', period: 'day', limit: '0.005', mode: 'warn' }],
  }));

  it('calls past the limit go through, with one warning per scope and period', async () => {
    await awayFromHourEnd();
    const client = openai();
    warned.length = 0;
    for (const user of ['ann', 'ann', 'ann', 'bob', 'bob']) {
      await trace({ tags: { user_id: user } }, () => ask(client));
      await ctx.k.flush();
    }
    // ann: E = 0.00301545 ≤ 0.005 (no warning); then C + E = 0.00602895 > 0.005 (warned); the third is not warned again. bob likewise.
    expect(h.server.requests).toHaveLength(5);
    expect(warnedLike('Kostrack budget "warn-day"')).toEqual([
      'Kostrack budget "warn-day" for user_id "ann" is over its $0.005 limit; warn mode lets calls to openai/gpt-4o-mini through (warned once per scope and period)',
      'Kostrack budget "warn-day" for user_id "bob" is over its $0.005 limit; warn mode lets calls to openai/gpt-4o-mini through (warned once per scope and period)',
    ]);
    expect(await usage(ctx.schema)).toEqual([
      ['warn-day', 'ann', times(3, C), '0', 3],
      ['warn-day', 'bob', times(2, C), '0', 2],
    ]);
  });

  it('switched to enforce through the database (this process has not re-read the list): the database’s word counts, with its limit', async () => {
    await db.pool.query(`UPDATE "${ctx.schema}".llm_budgets SET mode = 'enforce', limit_usd = 0.009 WHERE name = 'warn-day'`);
    const client = openai();
    // ann spent 3C = 0.0090405 > 0.009: not admitted; the list in memory still says warn and $0.005.
    const error = await refusal(() => trace({ tags: { user_id: 'ann' } }, () => ask(client)));
    expect(error.message).toBe(
      `Kostrack budget of $0.009 on "warn-day" for user_id "ann" refused a call to openai/gpt-4o-mini: it may cost up to $${E}, $0 is left ($${times(3, C)} spent, $0 held by calls in flight)`,
    );
    expect(h.server.requests).toHaveLength(0);
    await ctx.k.flush();
    expect(await usage(ctx.schema)).toEqual([
      ['warn-day', 'ann', times(3, C), '0', 3],
      ['warn-day', 'bob', times(2, C), '0', 2],
    ]);
  });
});

describe('budgets on one value of a tag, on the service, and a call under several', () => {
  const ctx = useKostrack('scopes', () => ({
    serviceId: 'api',
    budgets: [
      { name: 'acme-month', scope: 'tenant', value: 'acme', period: 'month', limit: '0.005' },
      { name: 'globex-month', scope: 'tenant', value: 'globex', period: 'month', limit: '1' },
      { name: 'svc-day', scope: 'service', period: 'day', limit: '0.01' },
      // A tag key every plain object inherits: only calls that carry the tag fall under it.
      { name: 'ctor-day', scope: 'constructor', period: 'day', limit: '0' },
    ],
  }));
  const tenant = (client: OpenAI, name: string) => trace({ tags: { tenant: name } }, () => ask(client));

  it("a budget on the tag 'constructor' applies to calls tagged with it, not to every call", async () => {
    await awayFromHourEnd();
    const client = openai();
    const error = await refusal(() => client.chat.completions.create(body, withTags({ constructor: 'x' })));
    expect(error.budget).toMatchObject({ spanName: 'ctor-day', scope: 'constructor', scopeValue: 'x', limit: '0' });
    expect(h.server.requests).toHaveLength(0);
  });

  it('reserves on every budget a call falls under, and refuses when any lacks room, holding on none (all or none)', async () => {
    await awayFromHourEnd();
    const client = openai();
    // 1. acme: acme-month and svc-day both hold E; C lands on both.
    await tenant(client, 'acme');
    await ctx.k.flush();
    expect(await usage(ctx.schema)).toEqual([
      ['acme-month', 'acme', C, '0', 1],
      ['ctor-day', 'x', '0', '0', 0],
      ['svc-day', 'api', C, '0', 1],
    ]);
    // 2. acme again: acme-month has 0.005 − C = 0.0019865 < E; svc-day has room (0.01 − C). Refused, neither holds.
    const acme = await refusal(() => tenant(client, 'acme'));
    expect(acme.budget).toMatchObject({ scope: 'tenant', scopeValue: 'acme', period: 'month', spanName: 'acme-month', spent: C, reserved: '0', remaining: minus('0.005', C) });
    const now = new Date();
    expect(acme.budget.resetsAt).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());
    await ctx.k.flush();
    expect(await usage(ctx.schema)).toEqual([
      ['acme-month', 'acme', C, '0', 1],
      ['ctor-day', 'x', '0', '0', 0],
      ['svc-day', 'api', C, '0', 1],
    ]);
    // 3. initech: only the service budget (the tenant budgets are for acme and globex alone).
    await tenant(client, 'initech');
    // 4. globex: globex-month and svc-day (0.01 − 2C = 0.003973 ≥ E).
    await tenant(client, 'globex');
    await ctx.k.flush();
    // 5. globex again: globex-month has room, svc-day has 0.01 − 3C = 0.0009595 < E. Refused, neither holds.
    const svc = await refusal(() => tenant(client, 'globex'));
    expect(svc.budget).toMatchObject({ scope: 'service', scopeValue: 'api', period: 'day', spanName: 'svc-day', spent: times(3, C), reserved: '0', remaining: minus('0.01', times(3, C)) });
    await ctx.k.flush();
    expect(await usage(ctx.schema)).toEqual([
      ['acme-month', 'acme', C, '0', 1],
      ['ctor-day', 'x', '0', '0', 0],
      ['globex-month', 'globex', C, '0', 1],
      ['svc-day', 'api', times(3, C), '0', 3],
    ]);
    expect(await heldRows(ctx.schema)).toBe(0);
    expect(h.server.requests).toHaveLength(3);
    expect(statuses()).toEqual(['ok', 'blocked', 'ok', 'ok', 'blocked']);
  });
});

describe('period boundaries', () => {
  const ctx = useKostrack('period', () => ({ budgets: [{ name: 'user-hour', scope: 'user_id', period: 'hour', limit: '0.005' }] }));

  it('a budget per hour counts in the UTC hour of the call; what an earlier hour spent does not count now', async () => {
    await awayFromHourEnd();
    const hour = periodStart('hour', Date.now());
    const lastHour = new Date(hour.getTime() - 3_600_000);
    // The last hour used the whole limit.
    await db.pool.query(
      `INSERT INTO "${ctx.schema}".llm_budget_usage (budget_id, scope_value, period_start, spent, calls)
       SELECT id, 'ann', $1, 0.005, 2 FROM "${ctx.schema}".llm_budgets WHERE name = 'user-hour'`,
      [lastHour.toISOString()],
    );
    const client = openai();
    await trace({ tags: { user_id: 'ann' } }, () => ask(client));
    await ctx.k.flush();
    const [{ time }] = (await db.pool.query(`SELECT time FROM "${ctx.schema}".llm_calls`)).rows;
    expect(periodStart('hour', (time as Date).getTime())).toEqual(hour);
    expect(await usage(ctx.schema, true)).toEqual([
      ['user-hour', 'ann', lastHour.toISOString(), '0.005', '0', 2],
      ['user-hour', 'ann', hour.toISOString(), C, '0', 1],
    ]);
    // This hour: 0.005 − C = 0.0019865 < E. It resets at the next UTC hour.
    const error = await refusal(() => trace({ tags: { user_id: 'ann' } }, () => ask(client)));
    expect(error.budget).toMatchObject({ period: 'hour', spent: C, remaining: minus('0.005', C), resetsAt: new Date(hour.getTime() + 3_600_000).toISOString() });
    expect(h.server.requests).toHaveLength(1);
  });

  it('period starts and ends in UTC, the same in JavaScript and in the database', async () => {
    const at = [
      Date.UTC(2026, 0, 31, 23, 59, 59, 999),
      Date.UTC(2026, 11, 31, 23, 30),
      Date.UTC(2028, 1, 29, 12),
      Date.UTC(2026, 5, 15, 0, 0, 0, 0),
    ];
    const periods: BudgetPeriod[] = ['hour', 'day', 'month', 'total'];
    const js = at.flatMap((t) => periods.map((p) => [p, periodStart(p, t).toISOString(), periodEnd(p, periodStart(p, t))?.toISOString() ?? null]));
    expect(js.slice(0, 8)).toEqual([
      ['hour', '2026-01-31T23:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['day', '2026-01-31T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['month', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
      ['total', '1970-01-01T00:00:00.000Z', null],
      ['hour', '2026-12-31T23:00:00.000Z', '2027-01-01T00:00:00.000Z'],
      ['day', '2026-12-31T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
      ['month', '2026-12-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z'],
      ['total', '1970-01-01T00:00:00.000Z', null],
    ]);
    expect(js[10]).toEqual(['month', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
    const sql = await db.pool.query(
      `SELECT p, "${ctx.schema}".kostrack_period_start(p, t) AS s, "${ctx.schema}".kostrack_period_end(p, "${ctx.schema}".kostrack_period_start(p, t)) AS e
         FROM unnest($1::timestamptz[]) WITH ORDINALITY AS a(t, i) CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS b(p, j) ORDER BY i, j`,
      [at.map((t) => new Date(t).toISOString()), periods],
    );
    expect(sql.rows.map((r) => [r.p, (r.s as Date).toISOString(), r.e === null ? null : (r.e as Date).toISOString()])).toEqual(js);
  });
});

describe('the deferred APIPromise, Anthropic and Gemini under a durable budget', () => {
  const ctx = useKostrack('deferred', () => ({
    budgets: [
      { name: 'deferred-user', scope: 'user_id', period: 'day', limit: '1' },
      { name: 'claude-day', scope: 'feature', value: 'claude', period: 'day', limit: '0.01' },
      { name: 'gemini-day', scope: 'feature', value: 'gemini', period: 'day', limit: '0.005' },
    ],
  }));
  const as = <T>(user: string, fn: () => Promise<T>) => trace({ tags: { user_id: user } }, fn);

  it('admitted: withResponse() gives the data and the real response, asResponse() an unread body, parse() and a stream work; each counts once', async () => {
    await awayFromHourEnd();
    const client = openai();
    const admissions = countAdmissions(ctx.k);
    try {
      const { data, response, request_id } = await as('w1', () => client.chat.completions.create(body).withResponse());
      expect([data.id, data.usage?.completion_tokens, response.status, response.headers.get('x-request-id'), request_id]).toEqual([
        'chatcmpl-loopback',
        5000,
        200,
        'req_loopback',
        'req_loopback',
      ]);
      const raw = await as('w2', () => client.chat.completions.create(body).asResponse());
      expect(raw.bodyUsed).toBe(false);
      expect(((await raw.json()) as { id: string }).id).toBe('chatcmpl-loopback');
      const parsed = await as('w3', () => client.chat.completions.parse(body));
      expect([parsed.choices[0].message.content, parsed.choices[0].message.parsed]).toEqual(['Hello!', null]);
      let text = '';
      await as('w4', async () => {
        const stream = await client.chat.completions.create({ ...body, stream: true });
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      });
      expect(text).toBe('Hello!');
      await settle(h.sink, 4);
      expect(admissions.amounts).toEqual([E, E, E, E]);
    } finally {
      admissions.restore();
    }
    expect(h.server.requests).toHaveLength(4);
    expect(h.sink.calls.map((c) => [c.tags.user_id, c.status, c.streamed, c.costUsd, c.metadata?.raw_response ?? null])).toEqual([
      ['w1', 'ok', false, usd(C), null],
      ['w2', 'ok', false, null, true],
      ['w3', 'ok', false, usd(C), null],
      ['w4', 'ok', true, usd(C), null],
    ]);
    await ctx.k.flush();
    const rows = await usage(ctx.schema);
    expect(rows.filter((r) => r[1] !== 'w2')).toEqual([
      ['deferred-user', 'w1', C, '0', 1],
      ['deferred-user', 'w3', C, '0', 1],
      ['deferred-user', 'w4', C, '0', 1],
    ]);
    expect(await heldRows(ctx.schema)).toBe(0);
  });

  it('refused: create(), withResponse(), asResponse(), parse() and a stream all reject with the refusal; nothing is sent', async () => {
    // 'broke' used the whole day already.
    await db.pool.query(
      `INSERT INTO "${ctx.schema}".llm_budget_usage (budget_id, scope_value, period_start, spent, calls)
       SELECT id, 'broke', $1, 1, 1 FROM "${ctx.schema}".llm_budgets WHERE name = 'deferred-user'`,
      [periodStart('day', Date.now()).toISOString()],
    );
    const client = openai();
    const calls: [string, () => Promise<unknown>][] = [
      ['await create()', () => client.chat.completions.create(body)],
      ['withResponse()', () => client.chat.completions.create(body).withResponse()],
      ['asResponse()', () => client.chat.completions.create(body).asResponse()],
      ['parse()', () => client.chat.completions.parse(body)],
      ['stream: true', () => client.chat.completions.create({ ...body, stream: true })],
    ];
    for (const [what, call] of calls) {
      const error = await refusal(() => as('broke', call));
      expect([what, error.budget.spanName, error.budget.spent, error.budget.remaining]).toEqual([what, 'deferred-user', '1', '0']);
    }
    // A refused call nobody awaits does not reject unhandled (vitest fails the file on one).
    void as('broke', async () => void client.chat.completions.create(body));
    await settle(h.sink, 6);
    expect(h.server.requests).toHaveLength(0);
    expect(statuses()).toEqual(['blocked', 'blocked', 'blocked', 'blocked', 'blocked', 'blocked']);
  });

  it('Anthropic messages.create: admitted while E fits, then refused before sending', async () => {
    const client = anthropic();
    const res = await trace({ tags: { feature: 'claude' } }, () => client.messages.create(haikuBody));
    expect(res.id).toBe('msg_loopback');
    await ctx.k.flush();
    // 0.01 − 0.00509 = 0.00491 < 0.005103
    const error = await refusal(() => trace({ tags: { feature: 'claude' } }, () => client.messages.create(haikuBody)));
    expect(error.budget).toMatchObject({ spanName: 'claude-day', scopeValue: 'claude', limit: '0.01', spent: C_HAIKU, reserved: '0', estimate: E_HAIKU, remaining: '0.00491', provider: 'anthropic', model: 'claude-haiku-4-5' });
    expect(h.server.requests).toHaveLength(1);
    expect(statuses()).toEqual(['ok', 'blocked']);
  });

  it('Gemini generateContent: admitted while E fits, then refused before sending', async () => {
    const client = gemini();
    const res = await trace({ tags: { feature: 'gemini' } }, () => client.models.generateContent(geminiBody));
    expect(res.text).toBe('Hello!');
    await ctx.k.flush();
    // 0.005 − 0.002515 = 0.002485 < 0.0025225
    const error = await refusal(() => trace({ tags: { feature: 'gemini' } }, () => client.models.generateContent(geminiBody)));
    expect(error.budget).toMatchObject({ spanName: 'gemini-day', scopeValue: 'gemini', limit: '0.005', spent: C_GEMINI, reserved: '0', estimate: E_GEMINI, remaining: '0.002485', provider: 'gemini', model: 'gemini-2.5-flash' });
    expect(h.server.requests).toHaveLength(1);
    expect(statuses()).toEqual(['ok', 'blocked']);
    await ctx.k.flush();
    expect((await usage(ctx.schema)).filter((r) => r[0] !== 'deferred-user')).toEqual([
      ['claude-day', 'claude', C_HAIKU, '0', 1],
      ['gemini-day', 'gemini', C_GEMINI, '0', 1],
    ]);
  });
});

/*
 * A call whose cost could not be read (`asResponse()`, a stream abandoned before its usage chunk:
 * status aborted, cost null) counts at its worst case: when its row lands, the ingest
 * (batch.sql.ts, budgetCtes) turns its hold into spent money instead of giving it back, as a run
 * budget keeps such a call's worst case (call-tracker.ts, stillHeld). Without that, a loop of
 * abandoned streams would never be stopped.
 */
describe('unknown costs under a durable budget: counted at the worst case', () => {
  const ctx = useKostrack('unknown', () => ({ budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: '0.01' }] }));

  it('a loop of abandoned streams is stopped: each counts its worst case E (3 × E = 0.00904635 ≤ 0.01; then 0.00095365 < E)', async () => {
    await awayFromHourEnd();
    openaiScript.stream = { gapMs: 20 };
    let error: unknown;
    try {
      const client = openai();
      await trace({ tags: { user_id: 'ann' } }, async () => {
        // Bounded, so that a loop that is not stopped fails instead of hanging.
        for (let i = 0; i < 6; i++) {
          try {
            const stream = await client.chat.completions.create({ ...body, stream: true });
            for await (const _ of stream) break;
          } catch (e) {
            error = e;
            break;
          }
          await settle(h.sink, i + 1);
          await ctx.k.flush();
        }
      });
    } finally {
      openaiScript.stream = undefined;
    }
    expect(error).toBeInstanceOf(KostrackBudgetExceededError);
    expect(h.server.requests).toHaveLength(3);
    expect(await usage(ctx.schema)).toEqual([['user-day', 'ann', times(3, E), '0', 3]]);
  });

  it('asResponse() (usage never read) counts its worst case E', async () => {
    const client = openai();
    await trace({ tags: { user_id: 'bob' } }, async () => (await client.chat.completions.create(body).asResponse()).json());
    await settle(h.sink, 1);
    await ctx.k.flush();
    expect(h.only()).toMatchObject({ costUsd: null, metadata: { raw_response: true } });
    expect((await usage(ctx.schema)).filter((r) => r[1] === 'bob')).toEqual([['user-day', 'bob', E, '0', 1]]);
  });
});

/*
 * A call the provider answers with HTTP 500 was not billed: its hold is given back (settled at 0)
 * and its row adds nothing to spent. The limit is exactly one worst case E, so the next call is
 * admitted only if nothing of the failed call's hold is left.
 */
describe('an HTTP 500 under a durable budget', () => {
  const ctx = useKostrack('http500', () => ({ budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: E }] }));

  it('holds nothing and spends nothing afterwards; the next call is admitted', async () => {
    await awayFromHourEnd();
    let failures = 1;
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => {
      if (failures-- > 0) return json(res, { error: { message: 'The server had an error', type: 'server_error' } }, 500);
      json(res, chatCompletion(openaiScript.model, openaiScript.usage));
    });
    const client = openai();
    const failed = await trace({ tags: { user_id: 'fay' } }, () => ask(client)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(OpenAI.InternalServerError);
    await settle(h.sink, 1);
    await ctx.k.flush();
    expect(h.only()).toMatchObject({ status: 'error', costUsd: 0n });
    expect(await usage(ctx.schema)).toEqual([['user-day', 'fay', '0', '0', 1]]);
    expect(await heldRows(ctx.schema)).toBe(0);

    await trace({ tags: { user_id: 'fay' } }, () => ask(client));
    await settle(h.sink, 2);
    await ctx.k.flush();
    expect(h.server.requests).toHaveLength(2);
    expect(statuses()).toEqual(['error', 'ok']);
    expect(await usage(ctx.schema)).toEqual([['user-day', 'fay', C, '0', 2]]);
    expect(await heldRows(ctx.schema)).toBe(0);
  });
});

describe('review fixes', () => {
  it('budgetOptions beyond what timers and the database take are refused, and unknown keys are named', async () => {
    const at = (budgetOptions: Record<string, number>) => startKostrack({ database: false, budgetOptions } as never).then(() => null, (e: unknown) => (e as Error).message);
    expect(await at({ holdTtlMs: 3_000_000_000 })).toBe('Kostrack: budgetOptions.holdTtlMs must be a whole number of milliseconds from 1 to 2147483647');
    expect(await at({ timeoutMs: 2 ** 31 })).toBe('Kostrack: budgetOptions.timeoutMs must be a whole number of milliseconds from 1 to 2147483647');
    expect(await at({ ttl: 5 })).toBe('Kostrack: budgetOptions has no option "ttl" (refreshMs, holdTtlMs, timeoutMs, lease)');
  });
});
