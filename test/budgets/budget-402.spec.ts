import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { KostrackModule, Trace, trace, usd, wrap, type KostrackModuleOptions } from '../../lib/index.js';
import { budgetAlertHandler, KOSTRACK_BUDGET_ALERT_EVENT } from '../../lib/nest/budget-alert.emitter.js';
import { KostrackStorageLifecycle } from '../../lib/nest/kostrack-storage.lifecycle.js';
import type { BudgetAlert } from '../../lib/storage/budget.ledger.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { providerHarness } from '../providers/provider-test.support.js';
import { useTestDatabase, type TestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) }));

function today(): { start: string; end: string } {
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { start: new Date(start).toISOString(), end: new Date(start + 86_400_000).toISOString() };
}

let seq = 0;
/** A settled call of `user` costing `cost`, as the writer stores it (its cost counts in the user's budgets at ingest). */
function spentCall(user: string, cost: string): CallRecord {
  seq++;
  return {
    spanId: randomUUID(),
    traceId: null,
    parentSpanId: null,
    time: new Date(),
    serviceId: 'budget-402',
    provider: 'openai',
    model: 'gpt-4o-mini',
    operation: 'chat.completions.create',
    inputTokens: 100 + seq,
    outputTokens: 10,
    cachedTokens: 0,
    tokenBreakdown: { inputUncached: 100 + seq, output: 10 },
    costUsd: usd(cost),
    pricingModel: 'gpt-4o-mini',
    pricingSource: 'catalog',
    latencyMs: 10,
    status: 'ok',
    errorClass: null,
    streamed: false,
    tags: { user_id: user },
    metadata: {},
  };
}

/*
 * 402 before the handler: user-day is $0.01 per user per UTC day. ann spent $0.012 (over), cat
 * exactly $0.01 (at), eve $0.006 with $0.004 held by a call in flight (at, with the hold), bob
 * $0.004 (under), dan nothing.
 */
let handled = 0;

@Controller('chat')
class ChatController {
  @Trace({ name: 'chat' })
  @Get()
  chat() {
    handled++;
    return { ok: true };
  }
}

type Platform = 'express' | 'fastify';
const dbs: Record<Platform, TestDatabase> = { express: useTestDatabase('budget_402_x'), fastify: useTestDatabase('budget_402_f') };

describe.each<Platform>(['express', 'fastify'])('a request over its durable budget on %s', (platform) => {
  const db = dbs[platform];
  let app: INestApplication;
  let url: string;
  const chat = (user?: string) => fetch(`${url}/chat`, { headers: user ? { 'x-user': user } : {} });

  beforeAll(async () => {
    const options: KostrackModuleOptions = {
      database: db.url,
      schema: db.schema,
      serviceId: 'budget-402',
      writer: tempWriterOptions(),
      budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: '0.01' }],
      requestTags: (ctx) => ({ user_id: ctx.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-user'] }),
    };
    @Module({ imports: [KostrackModule.forRoot(options)], controllers: [ChatController] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = platform === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false }) : moduleRef.createNestApplication({ logger: false });
    await app.init();
    if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;

    const writer = app.get(KostrackStorageLifecycle).current!.writer;
    for (const [user, cost] of [
      ['ann', '0.005'],
      ['ann', '0.007'],
      ['cat', '0.01'],
      ['eve', '0.006'],
      ['bob', '0.004'],
    ])
      writer.recordCall(spentCall(user, cost));
    await writer.drain();
    const id = (await db.pool.query(`SELECT id::text AS id FROM "${db.schema}".llm_budgets WHERE name = 'user-day'`)).rows[0].id;
    await db.pool.query(`SELECT * FROM "${db.schema}".kostrack_budget_admit(ARRAY[$1]::bigint[], ARRAY['eve'], ARRAY[$2]::timestamptz[], 0.004, $3::uuid, 600000, false)`, [
      id,
      today().start,
      randomUUID(),
    ]);
  });
  afterAll(async () => {
    await app?.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('answers 402 with the budget and when it resets, and the handler does not run', async () => {
    const { end } = today();
    const before = handled;
    const res = await chat('ann');
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const budget = { scope: 'user_id', scopeValue: 'ann', period: 'day', resetsAt: end, spanName: 'user-day', limit: '0.01', spent: '0.012', reserved: '0', estimate: '0', remaining: '0', provider: '', model: '' };
    expect(await res.json()).toEqual({
      statusCode: 402,
      error: 'Payment Required',
      message: `Kostrack budget of $0.01 on "user-day" for user_id "ann" is used up for this day ($0.012 spent, $0 held by calls in flight); the request was refused before its handler ran; the budget resets at ${end}`,
      limit: '0.01',
      spent: '0.012',
      reserved: '0',
      estimate: '0',
      remaining: '0',
      resetsAt: end,
      budget,
    });
    expect(handled).toBe(before);
  });

  it('refuses at the limit exactly, and counts what calls in flight hold', async () => {
    const before = handled;
    const cat = await chat('cat');
    expect(cat.status).toBe(402);
    expect(await cat.json()).toMatchObject({ limit: '0.01', spent: '0.01', reserved: '0', remaining: '0', budget: { scopeValue: 'cat' } });
    const eve = await chat('eve');
    expect(eve.status).toBe(402);
    expect(await eve.json()).toMatchObject({ limit: '0.01', spent: '0.006', reserved: '0.004', remaining: '0', budget: { scopeValue: 'eve' } });
    expect(handled).toBe(before);
  });

  it('lets another user, a user under budget, and a request without the tag through', async () => {
    const before = handled;
    for (const user of ['bob', 'dan', undefined]) {
      const res = await chat(user);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      expect(res.headers.get('x-kostrack-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(handled).toBe(before + 3);
  });

  it('follows whenDatabaseDown when the usage cannot be read: allow lets the request through, refuse answers 402', async () => {
    const storage = app.get(KostrackStorageLifecycle);
    const pool = storage.current!.pool;
    const query = pool.query.bind(pool);
    vi.spyOn(pool, 'query').mockImplementation(((sql: string, params?: unknown[]) =>
      sql.includes('WITH ORDINALITY') ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) : query(sql, params)) as typeof pool.query);
    const before = handled;
    expect((await chat('ann')).status).toBe(200);
    expect(handled).toBe(before + 1);

    await db.pool.query(`UPDATE "${db.schema}".llm_budgets SET when_database_down = 'refuse' WHERE name = 'user-day'`);
    await storage.budgets!.reload();
    const res = await chat('bob');
    expect(res.status).toBe(402);
    expect(await res.json()).toMatchObject({
      message: 'Kostrack budget of $0.01 on "user-day" for user_id "bob" refused the request before its handler ran: its database cannot be reached, and the budget refuses calls then',
      budget: { scopeValue: 'bob', unavailable: true },
    });
    expect(handled).toBe(before + 1);
    vi.restoreAllMocks();
    await db.pool.query(`UPDATE "${db.schema}".llm_budgets SET when_database_down = 'allow' WHERE name = 'user-day'`);
    await storage.budgets!.reload();
    expect((await chat('bob')).status).toBe(200);
  });

  it('reads the limit with the usage: a raised limit lets the user through at once; warn mode never refuses', async () => {
    await db.pool.query(`UPDATE "${db.schema}".llm_budgets SET limit_usd = 0.0125 WHERE name = 'user-day'`);
    expect((await chat('ann')).status).toBe(200);
    await db.pool.query(`UPDATE "${db.schema}".llm_budgets SET limit_usd = 0.01, mode = 'warn' WHERE name = 'user-day'`);
    await app.get(KostrackStorageLifecycle).budgets!.reload();
    expect((await chat('ann')).status).toBe(200);
    await db.pool.query(`UPDATE "${db.schema}".llm_budgets SET mode = 'enforce' WHERE name = 'user-day'`);
    await app.get(KostrackStorageLifecycle).budgets!.reload();
    expect((await chat('ann')).status).toBe(402);
  });
});

/*
 * Alerts: alerts-day is $0.01 per user per day in warn mode (calls are never refused) with
 * thresholds [50, 100]. Each call costs C = $0.0030135 (90 in / 5000 out on gpt-4o-mini). An
 * admission sees what the user had spent: ann's 3rd sees 2C = 0.006027 (60%: 50 fires), her 4th
 * 3C (90%: nothing new), her 5th 4C = 0.012054 (120%: 100 fires), her 6th nothing; bob's 3rd
 * fires his 50.
 */
@Injectable()
class AlertListener {
  readonly received: BudgetAlert[] = [];

  @OnEvent(KOSTRACK_BUDGET_ALERT_EVENT)
  onAlert(alert: BudgetAlert) {
    this.received.push(alert);
  }
}

describe('budget alerts as @nestjs/event-emitter events', () => {
  const db = useTestDatabase('budget_alerts');
  let app: INestApplication;
  const callbacks: BudgetAlert[] = [];

  beforeAll(async () => {
    @Module({
      imports: [
        EventEmitterModule.forRoot(),
        KostrackModule.forRoot({
          database: db.url,
          schema: db.schema,
          writer: tempWriterOptions(),
          globalInterceptor: false,
          budgets: [{ name: 'alerts-day', scope: 'user_id', period: 'day', limit: '0.01', mode: 'warn', alerts: [100, 50] }],
          onBudgetAlert: (alert) => void callbacks.push(alert),
        }),
      ],
      providers: [AlertListener],
    })
    class AppModule {}
    app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('fires each threshold once per scope and period, to the @OnEvent listener and the callback', async () => {
    const openai = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
    const writer = app.get(KostrackStorageLifecycle).current!.writer;
    const listener = app.get(AlertListener);
    const calls = async (user: string, n: number, expectedAlerts: number[]) => {
      for (let i = 0; i < n; i++) {
        await trace({ tags: { user_id: user } }, () => openai.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'Say hello' }] }));
        // The row lands before the next admission reads what was spent.
        await writer.drain();
        // vi.waitFor gives up after 1 s by default, which a loaded machine can need for one alert.
        await vi.waitFor(() => expect(listener.received.length).toBe(expectedAlerts[i]), { timeout: 30_000, interval: 10 });
      }
    };
    // Alerts so far after each call: the 3rd call's admission fires 50, the 5th's fires 100.
    await calls('ann', 6, [0, 0, 1, 1, 2, 2]);
    await calls('bob', 3, [2, 2, 3]);
    await new Promise((r) => setTimeout(r, 100));

    const { start } = today();
    const alert = (scopeValue: string, threshold: number, spent: string): BudgetAlert => ({
      budget: 'alerts-day',
      scope: 'user_id',
      scopeValue,
      period: 'day',
      periodStart: start,
      threshold,
      limit: '0.01',
      spent,
    });
    const expected = [alert('ann', 50, '0.006027'), alert('ann', 100, '0.012054'), alert('bob', 50, '0.006027')];
    expect(listener.received).toEqual(expected);
    expect(callbacks).toEqual(expected);
    expect(h.server.requests).toHaveLength(9);
    // The mark that makes it once across processes too.
    const marks = await db.pool.query(`SELECT scope_value, alerted FROM "${db.schema}".llm_budget_usage ORDER BY scope_value`);
    expect(marks.rows).toEqual([
      { scope_value: 'ann', alerted: 100 },
      { scope_value: 'bob', alerted: 50 },
    ]);
  });

  it('without an emitter the callback alone is called; a throwing callback does not stop the event', async () => {
    const cb = (_a: BudgetAlert) => undefined;
    expect(budgetAlertHandler(cb, null)).toBe(cb);
    expect(budgetAlertHandler(undefined, null)).toBeUndefined();
    const emitted: unknown[] = [];
    const handler = budgetAlertHandler(
      () => {
        throw new Error('callback failed');
      },
      { emit: (event: string, value: unknown) => emitted.push([event, value]) },
    )!;
    const a = { budget: 'b' } as BudgetAlert;
    // The handler is async (an async callback's rejection is caught like a throw): it rejects.
    await expect(handler(a)).rejects.toThrow('callback failed');
    expect(emitted).toEqual([[KOSTRACK_BUDGET_ALERT_EVENT, a]]);
    // An async callback that rejects does the same, and is never an unhandled rejection.
    const asyncHandler = budgetAlertHandler(async () => Promise.reject(new Error('slack down')), { emit: () => true })!;
    await expect(asyncHandler(a)).rejects.toThrow('slack down');
  });
});
