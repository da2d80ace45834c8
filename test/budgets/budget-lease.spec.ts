import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { budgetGate } from '../../lib/core/budget-gate.js';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { KostrackBudgetExceededError, trace, usd, usdToString, wrap, type BudgetAlert } from '../../lib/index.js';
import type { CallRecord } from '../../lib/core/call-record.js';
import { BudgetLeases, type LeaseDatabase } from '../../lib/storage/budget.lease.js';
import type { TelemetryItem } from '../../lib/storage/record.codec.js';
import type { BudgetLedger } from '../../lib/storage/budget.ledger.js';
import { startKostrack, type KostrackHandle, type StartKostrackOptions } from '../../lib/storage/start-kostrack.js';
import { chatCompletion, chatUsageBody, openaiRoutes, type OpenAIScript } from '../../loopback/openai.loopback.js';
import { json } from '../../loopback/loopback.server.js';
import { providerHarness, settle } from '../providers/provider-test.support.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { TcpProxy } from '../storage/support/tcp.proxy.js';

/*
 * A local lease of a durable budget (budgetOptions.lease), in one process, through startKostrack()
 * on a real database (PostgreSQL with DATABASE_URL, else the embedded PGlite) and the real OpenAI
 * SDK against the loopback. Several processes sharing one leased budget: budget-processes.spec.ts.
 *
 * gpt-4o-mini ($0.15 in, $0.60 out per 1M); [{ role: 'user', content: 'Say hello' }] with
 * max_tokens 5000 is bounded at 103 input tokens, and the loopback answers usage 90 / 5000:
 *   E = (103 × 0.15 + 5000 × 0.60) / 1M = $0.00301545 (the worst case a call takes from a lease);
 *   C = (90 × 0.15 + 5000 × 0.60) / 1M = $0.0030135 (what it costs).
 * A lease is a hold like a call's, keyed by a random id: `llm_budget_reservations` shows it.
 */
const E = usd('0.00301545');
const C = usd('0.0030135');
const $ = (v: bigint) => usdToString(v);

const script: OpenAIScript = { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) };
const h = providerHarness((s) => openaiRoutes(s, script));
const db = useTestDatabase('budget_lease');
const body = { model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user' as const, content: 'Say hello' }] };
const openai = () => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const money = (v: string | null | undefined) => usdToString(usd(v ?? '0'));

let schemas = 0;
/** Kostrack on a schema of its own, with one budget per user and day. */
async function start(limit: string, lease: NonNullable<StartKostrackOptions['budgetOptions']>['lease']): Promise<{ k: KostrackHandle; schema: string; ledger: BudgetLedger }> {
  const schema = `${db.schema}_${++schemas}`;
  await db.pool.query(`CREATE SCHEMA "${schema}"`);
  const k = await startKostrack({
    database: db.url,
    schema,
    writer: tempWriterOptions(),
    budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit }],
    budgetOptions: { lease },
  });
  return { k, schema, ledger: budgetGate() as BudgetLedger };
}

/** A user's usage row and holds (amount per hold, largest first); the schema's only user when none is named. */
async function state(schema: string, user?: string): Promise<{ spent: string; reserved: string; holds: string[] }> {
  const where = user === undefined ? '' : `WHERE scope_value = '${user}'`;
  const u = await db.pool.query(`SELECT spent::text, reserved::text FROM "${schema}".llm_budget_usage ${where}`);
  const r = await db.pool.query(`SELECT amount::text FROM "${schema}".llm_budget_reservations ${where} ORDER BY amount DESC`);
  return { spent: money(u.rows[0]?.spent), reserved: money(u.rows[0]?.reserved), holds: r.rows.map((x) => money(x.amount)) };
}

/** Polls until the database shows `expected` (a lease's hold is lowered just after its calls' rows land); the bound only turns "never" into a failure. */
async function shows(schema: string, expected: { spent: string; reserved: string; holds: string[] }, user?: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  let last = await state(schema, user);
  while (JSON.stringify(last) !== JSON.stringify(expected)) {
    if (Date.now() > end) expect(last).toEqual(expected);
    await new Promise((r) => setTimeout(r, 20));
    last = await state(schema, user);
  }
}

const rowsOf = async (schema: string) =>
  (await db.pool.query(`SELECT status, count(*)::int AS n, COALESCE(sum(cost_usd), 0)::text AS cost FROM "${schema}".llm_calls GROUP BY 1 ORDER BY 1`)).rows.map((r) => [r.status, r.n, money(r.cost)]);

describe('a lease, call by call (limit $0.02; lease $0.01, share 1)', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start('0.02', { amount: '0.01', share: 1 });
  });
  afterAll(async () => {
    await ctx?.k.close();
  });

  /*
   * Call 1 finds no lease and takes one of $0.01 (one admission); calls 1-3 fit it (3 × E =
   * 0.00904635 ≤ 0.01). As each row lands the writer adds C to spent and the lease's hold drops by
   * C. Call 4 does not fit what is left (0.01 − 3C = 0.0009595 < E): that remainder goes back and
   * a second lease of $0.01 is taken (0.02 − 3C = 0.0109595 was left). Calls 4-6 fit it. Call 7:
   * the room last seen is 0.02 − 6C − 0.0009595 = 0.0009595, too small for a lease that holds E,
   * so the remainder goes back; the database's answer to that, sent after call 7 arrived, shows
   * 0.02 − 6C = 0.001919 < E: call 7 is refused with it, as the database would have refused it
   * then. The same 6 calls as without a lease (0.02 − 5C ≥ E > 0.02 − 6C), with 2 admissions.
   */
  it('admits in memory, lowers the hold as rows land, renews, and near the limit gives the rest back and refuses from that answer', async () => {
    const client = openai();
    const steps: [string, string, string[]][] = [
      [$(C), $(usd('0.01') - C), [$(usd('0.01') - C)]],
      [$(2n * C), $(usd('0.01') - 2n * C), [$(usd('0.01') - 2n * C)]],
      [$(3n * C), $(usd('0.01') - 3n * C), [$(usd('0.01') - 3n * C)]],
      [$(4n * C), $(usd('0.01') - C), [$(usd('0.01') - C)]],
      [$(5n * C), $(usd('0.01') - 2n * C), [$(usd('0.01') - 2n * C)]],
      [$(6n * C), $(usd('0.01') - 3n * C), [$(usd('0.01') - 3n * C)]],
    ];
    for (const [i, [spent, reserved, holds]] of steps.entries()) {
      await trace({ tags: { user_id: 'ann' } }, () => client.chat.completions.create(body));
      await settle(h.sink, i + 1);
      await ctx.k.flush();
      await shows(ctx.schema, { spent, reserved, holds });
    }
    // The statement that stored each row moved its cost out of the hold (the states above); the
    // only hold change sent on its own is lease 1's remainder going back when call 4 renewed.
    expect(ctx.ledger.counts()).toMatchObject({ requested: 2, leased: 6, perCall: 0, trims: 1 });

    const refused = await trace({ tags: { user_id: 'ann' } }, () => client.chat.completions.create(body)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(KostrackBudgetExceededError);
    expect((refused as KostrackBudgetExceededError).budget).toMatchObject({ limit: '0.02', spent: $(6n * C), reserved: '0', estimate: $(E), remaining: '0.001919' });
    expect(h.server.requests).toHaveLength(6);
    expect(ctx.ledger.counts()).toMatchObject({ requested: 2, leased: 6, perCall: 0, refusedInMemory: 1 });
    await ctx.k.flush();
    await shows(ctx.schema, { spent: $(6n * C), reserved: '0', holds: [] });
    expect(await rowsOf(ctx.schema)).toEqual([
      ['blocked', 1, '0'],
      ['ok', 6, $(6n * C)],
    ]);
  });
});

/*
 * 30 calls at once, their responses held back until every admission is decided (so none settles
 * meanwhile). Limit $0.05; lease $0.02, share 1.
 *   lease 1: $0.02 (nothing seen yet); 6 calls fit (6E = 0.0180927; 7E > 0.02); 0.03 left.
 *   call 7: lease 1 drops to its calls' 6E; 0.05 − 6E = 0.0319073 is left; lease 2: $0.02, 6 calls.
 *   call 13: lease 2 drops to 6E; 0.05 − 12E = 0.0138146 left: lease 3 takes all of it (share 1), 4 calls (4E = 0.0120618).
 *   call 17: lease 3's answer showed 0 left: no lease worth taking; lease 3 drops to 4E. Calls
 *   17-30 arrived before lease 3 was asked for, and its answer had no room for E: each is refused
 *   with that answer, without asking again (the database refused them at that instant).
 * 16 calls reach the provider, as without a lease (16E = 0.0482472 ≤ 0.05 < 17E); 3 admissions for 30 calls.
 */
describe('a burst in one process (30 calls at once; limit $0.05, lease $0.02, share 1)', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start('0.05', { amount: '0.02', share: 1 });
  });
  afterAll(async () => {
    await ctx?.k.close();
  });

  it('admits exactly what fits with three database admissions; holds are the calls’ worst cases until they land; nothing held after', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    h.server.route('POST', /\/chat\/completions$/, async (_req, res) => {
      await gate;
      json(res, chatCompletion(script.model, script.usage));
    });
    const client = openai();
    let blocked = 0;
    const calls = Array.from({ length: 30 }, () =>
      trace({ tags: { user_id: 'bob' } }, () => client.chat.completions.create(body)).then(
        () => 'ok',
        (e: unknown) => {
          if (!(e instanceof KostrackBudgetExceededError)) throw e;
          blocked++;
          return 'blocked';
        },
      ),
    );
    const end = Date.now() + 30_000;
    while (h.server.requests.length + blocked < 30 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect([h.server.requests.length, blocked]).toEqual([16, 14]);
    expect(ctx.ledger.counts()).toMatchObject({ requested: 3, leased: 16, perCall: 0, refusedInMemory: 14 });
    // Three leases, each down to what its calls may cost.
    await shows(ctx.schema, { spent: '0', reserved: $(16n * E), holds: [$(6n * E), $(6n * E), $(4n * E)] });

    open();
    expect((await Promise.all(calls)).filter((o) => o === 'ok')).toHaveLength(16);
    await settle(h.sink, 30);
    await ctx.k.flush();
    await shows(ctx.schema, { spent: $(16n * C), reserved: '0', holds: [] });
    expect(await rowsOf(ctx.schema)).toEqual([
      ['blocked', 14, '0'],
      ['ok', 16, $(16n * C)],
    ]);
  });
});

describe('what a leased call costs when it fails or its cost cannot be read (limit $0.01; lease $0.01, share 1)', () => {
  let ctx: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    ctx = await start('0.01', { amount: '0.01', share: 1 });
  });
  afterAll(async () => {
    await ctx?.k.close();
  });

  it('an HTTP 500 costs nothing: the lease keeps its room and the next call is admitted', async () => {
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => json(res, { error: { message: 'boom', type: 'server_error' } }, 500));
    const client = openai();
    await expect(trace({ tags: { user_id: 'cat' } }, () => client.chat.completions.create(body))).rejects.toThrow();
    await settle(h.sink, 1);
    await ctx.k.flush();
    h.server.reset(h.server.routeCount - 1);
    await trace({ tags: { user_id: 'cat' } }, () => client.chat.completions.create(body));
    await settle(h.sink, 2);
    await ctx.k.flush();
    expect(h.sink.calls.map((c) => [c.status, c.costUsd === null ? null : $(c.costUsd)])).toEqual([
      ['error', '0'],
      ['ok', $(C)],
    ]);
    await shows(ctx.schema, { spent: $(C), reserved: $(usd('0.01') - C), holds: [$(usd('0.01') - C)] }, 'cat');
    expect(ctx.ledger.counts()).toMatchObject({ requested: 1, leased: 2, perCall: 0 });
  });

  /*
   * user "dan", a scope of its own: lease $0.01. Each abandoned stream (status aborted, cost
   * unknown) counts at its worst case, as a call's own hold does at ingest: spent E each, the hold
   * 0.01 − k·E. After three, 0.01 − 3E = 0.00095365 < E: refused, 3 requests sent.
   */
  it('a loop of abandoned streams counts each at its worst case and is stopped', async () => {
    script.stream = { gapMs: 20 };
    const client = openai();
    let error: unknown;
    try {
      await trace({ tags: { user_id: 'dan' } }, async () => {
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
          const left = usd('0.01') - BigInt(i + 1) * E;
          await shows(ctx.schema, { spent: $(BigInt(i + 1) * E), reserved: $(left), holds: [$(left)] }, 'dan');
        }
      });
    } finally {
      script.stream = undefined;
    }
    expect(error).toBeInstanceOf(KostrackBudgetExceededError);
    expect(h.server.requests).toHaveLength(3);
    expect(h.sink.calls.map((c) => [c.status, c.costUsd])).toEqual([
      ['aborted', null],
      ['aborted', null],
      ['aborted', null],
      ['blocked', 0n],
    ]);
  });
});

describe('shutdown and options', () => {
  it('close() gives back what a lease holds beyond its calls: nothing stays reserved', async () => {
    const ctx = await start('1', { amount: '0.5' });
    try {
      await trace({ tags: { user_id: 'eve' } }, () => openai().chat.completions.create(body));
      await settle(h.sink, 1);
      await ctx.k.flush();
      // The first lease is the amount (nothing seen yet): 0.5, less the call once its row landed.
      await shows(ctx.schema, { spent: $(C), reserved: $(usd('0.5') - C), holds: [$(usd('0.5') - C)] });
    } finally {
      await ctx.k.close();
    }
    expect(await state(ctx.schema)).toEqual({ spent: $(C), reserved: '0', holds: [] });
  });

  it('bad lease options are a KostrackConfigError naming the option', async () => {
    const at = (lease: unknown) =>
      startKostrack({ database: false, budgetOptions: { lease } } as never).then(
        () => null,
        (e: unknown) => (e instanceof KostrackConfigError ? e.message : e),
      );
    expect(await at({})).toBe("Kostrack: budgetOptions.lease.amount must be an amount in USD like '0.10', got undefined");
    expect(await at({ amount: '0' })).toBe('Kostrack: budgetOptions.lease.amount must be more than 0');
    expect(await at({ amount: '-1' })).toBe('Kostrack: budgetOptions.lease.amount must be more than 0');
    expect(await at({ amount: 'ten cents' })).toBe(`Kostrack: budgetOptions.lease.amount must be an amount in USD like '0.10', got "ten cents"`);
    expect(await at({ amount: '0.1', share: 0 })).toBe('Kostrack: budgetOptions.lease.share must be a number above 0 and at most 1, got 0');
    expect(await at({ amount: '0.1', share: 1.5 })).toBe('Kostrack: budgetOptions.lease.share must be a number above 0 and at most 1, got 1.5');
    expect(await at({ amount: '0.1', ttlMs: 0 })).toBe('Kostrack: budgetOptions.lease.ttlMs must be a whole number of milliseconds from 1 to 2147483647');
    expect(await at({ amount: '0.1', ttlMs: 999 })).toBe('Kostrack: budgetOptions.lease.ttlMs must be at least 1000 ms (a lease must outlast the request that takes it), got 999');
    expect(await at({ amount: '0.1', budgets: [] })).toBe('Kostrack: budgetOptions.lease.budgets must be a non-empty list of budget names');
    expect(await at({ amount: '0.1', size: 1 })).toBe('Kostrack: budgetOptions.lease has no option "size" (amount, share, ttlMs, budgets)');
    expect(await at('0.1')).toBe("Kostrack: budgetOptions.lease must be an object like { amount: '0.10' }");
  });
});

/*
 * Limit $0.02; lease $0.01, share 1; a writer queue of one row. Call 1 takes the lease and its row
 * lands. The database is cut (a TCP proxy between the app and PostgreSQL): calls 2 and 3 fit the
 * lease in memory (3E = 0.00904635 ≤ 0.01), and their rows, past the queue's one, go to the disk
 * spool. Once it is back the spool is replayed: each replayed statement moves its calls' cost out
 * of the lease's hold as a batch from memory does (the hold is 0.01 − 3C with no trim sent), and
 * the lease hears of those rows, so at close its hold is deleted rather than left to expire.
 */
describe('leased calls whose rows waited in the spool', () => {
  it('the replay moves their cost out of the lease, and close() leaves nothing held', async () => {
    const schema = `${db.schema}_${++schemas}`;
    await db.pool.query(`CREATE SCHEMA "${schema}"`);
    const proxy = TcpProxy.forUrl(db.url);
    await proxy.start();
    const k = await startKostrack({
      database: proxy.urlFor(db.url),
      schema,
      writer: tempWriterOptions({ maxQueue: 1, batchSize: 1 }),
      budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: '0.02' }],
      budgetOptions: { lease: { amount: '0.01', share: 1 } },
    });
    const ledger = budgetGate() as BudgetLedger;
    const before = h.server.requests.length;
    try {
      const client = openai();
      await trace({ tags: { user_id: 'sam' } }, () => client.chat.completions.create(body));
      await k.flush();
      await shows(schema, { spent: $(C), reserved: $(usd('0.01') - C), holds: [$(usd('0.01') - C)] }, 'sam');
      await proxy.stop();
      for (let i = 0; i < 2; i++) await trace({ tags: { user_id: 'sam' } }, () => client.chat.completions.create(body));
      expect(h.server.requests.length - before).toBe(3);
      expect(k.health().spooledRows).toBeGreaterThan(0);
      await proxy.start();
      await k.flush(60_000);
      expect(await state(schema, 'sam')).toEqual({ spent: $(3n * C), reserved: $(usd('0.01') - 3n * C), holds: [$(usd('0.01') - 3n * C)] });
      expect(ledger.counts()).toMatchObject({ requested: 1, leased: 3, perCall: 0, trims: 0 });
    } finally {
      await k.close();
      await proxy.stop();
    }
    expect(await state(schema, 'sam')).toEqual({ spent: $(3n * C), reserved: '0', holds: [] });
    expect(await rowsOf(schema)).toEqual([['ok', 3, $(3n * C)]]);
  });
});

/*
 * A leased call whose row PostgreSQL rejects (a NUL in a tag: jsonb cannot hold it) is
 * dead-lettered, not stored: its cost never reaches spent. The lease is not told it landed, so the
 * hold keeps covering it (C once settled) until the hold expires, as a call's own hold would; told
 * it landed, the lease gave that money back and it was counted nowhere.
 */
describe('a leased call whose row is dead-lettered', () => {
  it('stays covered by the hold after close(); the good row is spent', async () => {
    const ctx = await start('1', { amount: '0.1' });
    try {
      const client = openai();
      await trace({ tags: { user_id: 'pat' } }, () => client.chat.completions.create(body));
      await trace({ tags: { user_id: 'pat', note: 'a\u0000b' } }, () => client.chat.completions.create(body));
      await ctx.k.flush();
      // The call and its trace's root span (same tags).
      expect(ctx.k.health()).toMatchObject({ deadLettered: 2 });
    } finally {
      await ctx.k.close();
    }
    expect(await state(ctx.schema, 'pat')).toEqual({ spent: $(C), reserved: $(C), holds: [$(C)] });
    expect(await rowsOf(ctx.schema)).toEqual([['ok', 1, $(C)]]);
  });
});

/*
 * Alerts under a lease. Limit $0.02, alerts at 25% and 50%; lease $0.01, share 1. Calls 1-2 fit
 * lease 1 (2E ≤ 0.01) and need no statement of their own; once their rows land, spent is
 * 2C = 0.006027 (30%): the 25% alert fires then, not at the lease's next renewal. Calls 3-4: spent
 * 4C = 0.012054 (60%) fires the 50% alert (3C = 0.0090405 is 45%).
 */
describe('alerts of a leased budget', () => {
  it('fire as the rows land, each once', async () => {
    const schema = `${db.schema}_${++schemas}`;
    await db.pool.query(`CREATE SCHEMA "${schema}"`);
    const alerts: BudgetAlert[] = [];
    const k = await startKostrack({
      database: db.url,
      schema,
      writer: tempWriterOptions(),
      budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: '0.02', alerts: [25, 50] }],
      budgetOptions: { lease: { amount: '0.01', share: 1 } },
      onBudgetAlert: (a) => void alerts.push(a),
    });
    try {
      const client = openai();
      for (let i = 0; i < 2; i++) await trace({ tags: { user_id: 'ida' } }, () => client.chat.completions.create(body));
      await k.flush();
      await vi.waitUntil(() => alerts.length === 1, { timeout: 30_000 });
      expect((budgetGate() as BudgetLedger).counts()).toMatchObject({ requested: 1, leased: 2, trims: 0 });
      for (let i = 0; i < 2; i++) await trace({ tags: { user_id: 'ida' } }, () => client.chat.completions.create(body));
      await k.flush();
      await vi.waitUntil(() => alerts.length === 2, { timeout: 30_000 });
      expect(alerts.map((a) => [a.budget, a.scopeValue, a.threshold, a.limit, money(a.spent)])).toEqual([
        ['user-day', 'ida', 25, '0.02', $(2n * C)],
        ['user-day', 'ida', 50, '0.02', $(4n * C)],
      ]);
    } finally {
      await k.close();
    }
    expect(alerts).toHaveLength(2);
  });
});

describe('lease.budgets naming no budget', () => {
  afterEach(() => vi.restoreAllMocks());

  it('warns once per unknown name (a typo would turn leasing off unseen), and does not throw', async () => {
    const warned: string[] = [];
    vi.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error, o?: { code?: string }) => {
      if (o?.code === 'KOSTRACK') warned.push(String(w));
    }) as typeof process.emitWarning);
    const ctx = await start('1', { amount: '0.1', budgets: ['user-day', 'user-dya'] });
    try {
      await (ctx.ledger as unknown as { reload(): Promise<void> }).reload();
      expect(warned.filter((m) => m.includes('lease.budgets'))).toEqual([
        'Kostrack budgetOptions.lease.budgets names "user-dya", which no budget has (declared or in the database); only the budgets named there are leased',
      ]);
    } finally {
      await ctx.k.close();
    }
  });
});

/*
 * BudgetLeases against a database in memory: one scope, holds by id, room = limit − spent − holds.
 * Each statement can be held back (`gate`) to put the sweep or a clock step at a chosen point.
 */
function memoryDb(limit: string) {
  const st = { limit: usd(limit), spent: 0n, holds: new Map<string, bigint>(), requests: 0, trims: 0 };
  const room = () => {
    let r = st.limit - st.spent;
    for (const v of st.holds.values()) r -= v;
    return r < 0n ? 0n : r;
  };
  const hooks: { request?: () => void | Promise<void>; trim?: () => void | Promise<void> } = {};
  const db: LeaseDatabase<string> = {
    async request(_t, amount, id) {
      // A loop of requests is the bug: stopped here rather than hanging the run.
      if (++st.requests > 20) throw new Error('lease requested in a loop');
      await hooks.request?.();
      const ok = room() >= amount;
      if (ok) st.holds.set(id, amount);
      return { admitted: ok, room: room() };
    },
    async trim(_t, id, hold) {
      st.trims++;
      await hooks.trim?.();
      if (!st.holds.has(id)) return null;
      if (hold <= 0n) st.holds.delete(id);
      else if (st.holds.get(id)! > hold) st.holds.set(id, hold);
      return room();
    },
    async look() {},
  };
  return { st, db, room, hooks };
}
const holds = (st: { holds: Map<string, bigint> }) => [...st.holds.values()].map($);
const landedRow = (spanId: string, cost: bigint) => ({ kind: 'call', record: { spanId, costUsd: cost, status: 'ok' } }) as TelemetryItem;

/** What the writer's statement does with a batch (batch.sql.ts): every row's cost becomes spent, and a leased call's leaves its lease's hold. */
function store(leases: BudgetLeases<string>, st: ReturnType<typeof memoryDb>['st'], rows: TelemetryItem[]): void {
  const calls = rows.map((r) => r.record as CallRecord);
  const mapped = leases.holdsOf(calls);
  for (const call of calls) {
    st.spent += call.costUsd ?? 0n;
    const i = mapped?.spanIds.indexOf(call.spanId) ?? -1;
    const id = i >= 0 ? mapped!.leaseIds[i] : undefined;
    const hold = id === undefined ? undefined : st.holds.get(id);
    if (id !== undefined && hold !== undefined) st.holds.set(id, hold > call.costUsd! ? hold - call.costUsd! : 0n);
  }
}

describe('BudgetLeases (a database in memory)', () => {
  let leases: BudgetLeases<string> | undefined;
  afterEach(() => {
    leases?.close();
    leases = undefined;
    vi.restoreAllMocks();
  });

  it('a lease that arrives past its usable time (the answer took longer than ttlMs) is given back, and the call is admitted on its own: one request, no loop', async () => {
    let clock = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => clock);
    const { st, db, hooks } = memoryDb('100');
    // The database answers 5 ms later by the local clock; the lease is usable for 1 ms.
    hooks.request = () => {
      clock += 5;
    };
    leases = new BudgetLeases<string>({ amount: usd('1'), sharePpm: 1_000_000n, ttlMs: 1, budgets: null }, 600_000, db, () => undefined);
    expect(await leases.admit('k', 'k', usd('0.01'), 'a')).toBe(false);
    expect(st.requests).toBe(1);
    await leases.returnAll();
    expect(holds(st)).toEqual([]);
    expect(leases.counts).toMatchObject({ requested: 1, leased: 0 });
  });

  it('a call larger than the lease amount is admitted on its own and leaves the lease alone', async () => {
    const { st, db } = memoryDb('100');
    leases = new BudgetLeases<string>({ amount: usd('0.10'), sharePpm: 100_000n, ttlMs: 30_000, budgets: null }, 600_000, db, () => undefined);
    for (let i = 0; i < 10; i++) expect(await leases.admit('k', 'k', usd(i % 2 ? '0.2' : '0.01'), `s${i}`)).toBe(i % 2 === 0);
    expect([st.requests, st.trims, holds(st)]).toEqual([1, 0, ['0.1']]);
    expect(leases.counts).toMatchObject({ requested: 1, leased: 5 });
  });

  /*
   * Limit $2; lease $1, share 1. Call a takes lease 1 ($1). Another replica spends $0.8; an answer
   * shows $0.2 left. Call b ($0.8) fits no lease: lease 1 goes back down to a's $0.3, and while that
   * trim is in flight the sweep runs. The trim's answer shows $0.9 left: b takes lease 2 ($0.9).
   * Once both rows land and leasing stops, nothing may stay held.
   */
  it('a sweep while a call gives its lease back keeps the scope: the next lease is given back at shutdown', async () => {
    const { st, db, hooks } = memoryDb('2');
    leases = new BudgetLeases<string>({ amount: usd('1'), sharePpm: 1_000_000n, ttlMs: 30_000, budgets: null }, 600_000, db, () => undefined);
    expect(await leases.admit('k', 'k', usd('0.3'), 'a')).toBe(true);
    st.spent += usd('0.8');
    leases.observe('k', usd('0.2'));
    let release!: () => void;
    const inTrim = new Promise<void>((r) => (hooks.trim = () => new Promise<void>((go) => (release = go, r()))));
    const b = leases.admit('k', 'k', usd('0.8'), 'b');
    await inTrim;
    (leases as unknown as { sweep(now: number): void }).sweep(Date.now());
    hooks.trim = undefined;
    release();
    expect(await b).toBe(true);
    expect(holds(st)).toEqual(['0.3', '0.9']);
    leases.settle('a', usd('0.1'));
    leases.settle('b', usd('0.1'));
    const rows = [landedRow('a', usd('0.1')), landedRow('b', usd('0.1'))];
    store(leases, st, rows);
    // The statement moved each call's $0.1 out of its lease's hold: nothing counted twice.
    expect([holds(st), $(st.spent)]).toEqual([['0.2', '0.8'], '1']);
    leases.landed(rows);
    await leases.returnAll();
    expect([holds(st), $(st.spent)]).toEqual([[], '1']);
  });

  /*
   * Limit $10; lease $1. Calls a and b ($0.3 each) take lease 1. Shutdown retires it: a trim to
   * their $0.6 is sent, and is held back while a's row is stored (the hold drops to $0.7); it then
   * applies ($0.6, undoing the row's lowering: a counts as spent and held) and answers before the
   * writer reports a's row. The row's statement went out while a trim was in flight, so its landing
   * does not lower what this process takes the database to hold ($0.6): the next trim sets the hold
   * to b's $0.3. (Lowered, this process read $0.3 while the database held $0.6 until b landed.)
   */
  it('a trim applied after a batch landed, answered before the writer reported it: the next trim corrects the hold, and it is deleted once every call landed', async () => {
    const { st, db, hooks } = memoryDb('10');
    leases = new BudgetLeases<string>({ amount: usd('1'), sharePpm: 1_000_000n, ttlMs: 30_000, budgets: null }, 600_000, db, () => undefined);
    expect(await leases.admit('k', 'k', usd('0.3'), 'a')).toBe(true);
    expect(await leases.admit('k', 'k', usd('0.3'), 'b')).toBe(true);
    let release!: () => void;
    const inTrim = new Promise<void>((r) => (hooks.trim = () => new Promise<void>((go) => (release = go, r()))));
    const returned = leases.returnAll();
    await inTrim;
    hooks.trim = undefined;
    const a = [landedRow('a', usd('0.3'))];
    store(leases, st, a);
    expect(holds(st)).toEqual(['0.7']);
    release();
    await returned;
    expect(holds(st)).toEqual(['0.6']);
    leases.landed(a);
    await vi.waitUntil(() => holds(st)[0] === '0.3');
    const b = [landedRow('b', usd('0.3'))];
    store(leases, st, b);
    leases.landed(b);
    await vi.waitUntil(() => st.holds.size === 0);
    expect([$(st.spent), st.trims]).toEqual(['0.6', 3]);
  });

  it('returnAll gives back a lease that is no longer its scope’s current one', async () => {
    const { st, db } = memoryDb('10');
    leases = new BudgetLeases<string>({ amount: usd('1'), sharePpm: 1_000_000n, ttlMs: 30_000, budgets: null }, 600_000, db, () => undefined);
    expect(await leases.admit('k', 'k', usd('0.3'), 'a')).toBe(true);
    // Detached as a sweep racing a retire used to leave it: current for a scope no longer listed.
    (leases as unknown as { scopes: Map<string, unknown> }).scopes.delete('k');
    await leases.returnAll();
    expect(holds(st)).toEqual(['0.3']);
    const a = [landedRow('a', usd('0.1'))];
    store(leases, st, a);
    leases.landed(a);
    await vi.waitUntil(() => st.holds.size === 0);
  });
});
