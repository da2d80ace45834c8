import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { type INestApplication, Module } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KostrackBudgetExceededError, KostrackModule, trace, usd, usdToString, wrap } from '../../lib/index.js';
import { KostrackStorageLifecycle } from '../../lib/nest/kostrack-storage.lifecycle.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { providerHarness } from '../providers/provider-test.support.js';
import { useTestDatabase, type TestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

/*
 * The budgets admin API on real storage, on Express and Fastify, with the real OpenAI SDK against
 * the loopback. gpt-4o-mini ($0.15 / $0.60 per 1M); the request [{ role: 'user', content: 'Say
 * hello' }], max_tokens 5000 is bounded at 103 input tokens: E = (103 × 0.15 + 5000 × 0.60) / 1M
 * = $0.00301545 held per call; each settles at usage 90 / 5000: C = (90 × 0.15 + 5000 × 0.60) /
 * 1M = $0.0030135. Limit $0.01: three calls fit, the fourth is refused with 0.01 − 3C =
 * $0.0009595 left (less than E).
 */
const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) }));
const E = usd('0.00301545');
const C = usd('0.0030135');
const API_KEY = 'budget-admin-key-0123456789';
const SERVICE = 'budget-admin';

const LIMIT_MESSAGE = "limit must be an amount in USD like '5.00' (at most 15 decimals, not negative)";
const ALERTS_MESSAGE = 'alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]';
const FIXED = 'cannot be changed: what a budget has spent is counted by its name, scope, value and period; delete it and create another';

function today(): { start: string; end: string } {
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { start: new Date(start).toISOString(), end: new Date(start + 86_400_000).toISOString() };
}

const client = () => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const ask = (c: OpenAI) => c.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'Say hello' }] });

/** Calls as `user` until a budget refuses one (at most `max`); returns how many went through and the refusal. */
async function callUntilRefused(user: string, max = 10): Promise<{ sent: number; refusal: KostrackBudgetExceededError | undefined }> {
  const c = client();
  let sent = 0;
  let refusal: KostrackBudgetExceededError | undefined;
  await trace({ name: 'agent', tags: { user_id: user } }, async () => {
    for (let i = 0; i < max; i++) {
      try {
        await ask(c);
        sent++;
      } catch (e) {
        refusal = e as KostrackBudgetExceededError;
        break;
      }
    }
  });
  return { sent, refusal };
}

/**
 * The fourth call was refused with less than E left, and the refusal adds up: spent + held +
 * remaining = the limit. Held is 3C when the third call's hold had shrunk to its exact cost
 * before the fourth was admitted, else 2C + E (that settle is asynchronous): remaining is
 * 0.0009595 or 0.00095755.
 */
function expectRefusedAtLimit(b: { spent: string; reserved: string; remaining: string }): void {
  expect(usd(b.spent) + usd(b.reserved) + usd(b.remaining)).toBe(usd('0.01'));
  expect([usdToString(3n * C), usdToString(2n * C + E)]).toContain(usdToString(usd(b.spent) + usd(b.reserved)));
  expect(usd(b.remaining) < E).toBe(true);
}

type Platform = 'express' | 'fastify';
const dbs: Record<Platform, TestDatabase> = { express: useTestDatabase('budget_admin_x'), fastify: useTestDatabase('budget_admin_f') };

describe.each<Platform>(['express', 'fastify'])('the budgets admin API on %s', (platform) => {
  const db = dbs[platform];
  let app: INestApplication;
  const server = () => app.getHttpServer();
  const get = (path: string, query: Record<string, string | number> = {}) => request(server()).get(`/kostrack/${path}`).query(query).set('x-kostrack-api-key', API_KEY);
  const post = (path: string, body: unknown) => request(server()).post(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).send(body as object);
  const put = (path: string, body: unknown) => request(server()).put(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).send(body as object);
  const del = (path: string) => request(server()).delete(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY);
  const drain = () => app.get(KostrackStorageLifecycle).current!.writer.drain();
  const s = () => `"${db.schema}"`;

  beforeAll(async () => {
    @Module({
      imports: [
        KostrackModule.forRoot({
          database: db.url,
          schema: db.schema,
          serviceId: SERVICE,
          writer: tempWriterOptions(),
          admin: { enabled: true, apiKey: API_KEY },
          globalInterceptor: false,
          // An hour: a change can only take effect at once through the API's own reload.
          budgetOptions: { refreshMs: 3_600_000 },
        }),
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = platform === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false }) : moduleRef.createNestApplication({ logger: false });
    await app.init();
    if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('documents the budget routes in OpenAPI, guarded by the API key', () => {
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().addApiKey({ type: 'apiKey', in: 'header', name: 'x-kostrack-api-key' }, 'kostrack-api-key').build());
    const paths = doc.paths as Record<string, Record<string, { parameters?: { name: string }[]; security?: unknown; requestBody?: unknown; responses: Record<string, unknown> }>>;
    expect(Object.keys(paths['/kostrack/budgets']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/kostrack/budgets/{name}']).sort()).toEqual(['delete', 'put']);
    expect(paths['/kostrack/budgets/blocked'].get.parameters!.map((p) => p.name).sort()).toEqual(['budget', 'from', 'limit', 'to']);
    expect(paths['/kostrack/budgets'].get.parameters!.map((p) => p.name).sort()).toEqual(['limit', 'value']);
    expect(Object.keys(paths['/kostrack/budgets'].post.responses).sort()).toEqual(['201', '400', '401', '409']);
    expect(Object.keys(paths['/kostrack/budgets/{name}'].delete.responses).sort()).toEqual(['204', '401', '404']);
    for (const op of [paths['/kostrack/budgets'].get, paths['/kostrack/budgets'].post, paths['/kostrack/budgets/{name}'].put, paths['/kostrack/budgets/{name}'].delete])
      expect(op.security).toEqual([{ 'kostrack-api-key': [] }]);
    const schemas = doc.components!.schemas as Record<string, { properties: Record<string, unknown>; required?: string[] }>;
    expect(Object.keys(schemas.CreateBudgetBody.properties).sort()).toEqual(['alerts', 'limit', 'mode', 'name', 'period', 'scope', 'timeZone', 'unpriced', 'value', 'whenDatabaseDown']);
    expect(schemas.CreateBudgetBody.required!.sort()).toEqual(['limit', 'name', 'period', 'scope']);
    // What cannot change is not offered.
    expect(Object.keys(schemas.UpdateBudgetBody.properties).sort()).toEqual(['alerts', 'limit', 'mode', 'unpriced', 'whenDatabaseDown']);
    expect(schemas.BudgetUsageDto.properties).toHaveProperty('resetsAt');
  });

  it('is guarded like the rest of the API', async () => {
    for (const res of [
      await request(server()).get('/kostrack/budgets'),
      await request(server()).post('/kostrack/budgets').send({ name: 'x', scope: 'user_id', period: 'day', limit: '1' }),
      await request(server()).put('/kostrack/budgets/x').send({ limit: '1' }),
      await request(server()).delete('/kostrack/budgets/x'),
      await request(server()).get('/kostrack/budgets/blocked'),
    ])
      expect(res.status).toBe(401);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM ${s()}.llm_budgets`)).rows[0].n).toBe(0);
  });

  it('creates a budget that the next tracked call obeys, and reports its usage per scope value exactly', async () => {
    const { start, end } = today();
    expect((await get('budgets')).body).toEqual({ at: expect.any(String), budgets: [] });

    const created = await post('budgets', { name: 'user-day', scope: 'user_id', period: 'day', limit: '0.01', alerts: [100, 50, 50] });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      name: 'user-day',
      scope: 'user_id',
      value: null,
      period: 'day',
      timeZone: 'UTC',
      limit: '0.01',
      mode: 'enforce',
      unpriced: 'refuse',
      whenDatabaseDown: 'allow',
      alerts: [50, 100],
      source: 'api',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      periodStart: start,
      resetsAt: end,
      scopeValues: 0,
      usage: [],
    });

    // The ledger re-read the list before the answer (its own refresh is an hour away).
    const { sent, refusal } = await callUntilRefused('ann');
    expect(sent).toBe(3);
    expect(h.server.requests).toHaveLength(3);
    expect(refusal).toBeInstanceOf(KostrackBudgetExceededError);
    expect(refusal!.budget).toMatchObject({ scope: 'user_id', scopeValue: 'ann', spanName: 'user-day', limit: '0.01', estimate: '0.00301545', resetsAt: end });
    expectRefusedAtLimit(refusal!.budget);
    await drain();

    // Live holds count as reserved; an expired one does not. bob: 0.004 held live, 0.001 expired.
    const id = (await db.pool.query(`SELECT id::text AS id FROM ${s()}.llm_budgets WHERE name = 'user-day'`)).rows[0].id;
    const hold = (amount: string, ttlMs: number) =>
      db.pool.query(`SELECT * FROM ${s()}.kostrack_budget_admit(ARRAY[$1]::bigint[], ARRAY['bob'], ARRAY[$2]::timestamptz[], $3::numeric, $4::uuid, $5, false)`, [
        id,
        start,
        amount,
        randomUUID(),
        ttlMs,
      ]);
    await hold('0.004', 600_000);
    await hold('0.001', -1_000);

    const annLine = { scopeValue: 'ann', spent: usdToString(3n * C), reserved: '0', remaining: '0.0009595', calls: 3, periodStart: start, resetsAt: end };
    const bobLine = { scopeValue: 'bob', spent: '0', reserved: '0.004', remaining: '0.006', calls: 0, periodStart: start, resetsAt: end };
    expect(annLine.spent).toBe('0.0090405');
    const list = await get('budgets');
    expect(list.status).toBe(200);
    expect(list.body.budgets).toEqual([{ ...created.body, scopeValues: 2, usage: [annLine, bobLine] }]);
    // One scope value, or the most spent only.
    expect((await get('budgets', { value: 'bob' })).body.budgets[0].usage).toEqual([bobLine]);
    expect((await get('budgets', { limit: 1 })).body.budgets[0]).toMatchObject({ scopeValues: 2, usage: [annLine] });
    // The same figures as the budget_status view (whose remaining leaves holds out).
    const view = await db.pool.query(
      `SELECT scope_value, spent_usd::text AS spent, reserved_usd::text AS reserved, calls FROM ${s()}.budget_status WHERE period_start = $1::timestamptz ORDER BY scope_value`,
      [start],
    );
    expect(view.rows.map((r) => [r.scope_value, usdToString(usd(r.spent)), usdToString(usd(r.reserved)), r.calls])).toEqual([
      ['ann', '0.0090405', '0', 3],
      ['bob', '0', '0.004', 0],
    ]);

    // The refused call, with the refusal it carries.
    const blocked = await get('budgets/blocked');
    expect(blocked.status).toBe(200);
    expect(blocked.body).toMatchObject({ limit: 50, items: [expect.any(Object)] });
    const item = blocked.body.items[0];
    expect(item).toEqual({
      time: expect.any(String),
      spanId: expect.any(String),
      traceId: expect.any(String),
      serviceId: SERVICE,
      provider: 'openai',
      model: 'gpt-4o-mini',
      operation: 'chat.completions.create',
      tags: { user_id: 'ann', span_name: 'agent' },
      budget: {
        scope: 'user_id',
        scopeValue: 'ann',
        period: 'day',
        resetsAt: end,
        spanName: 'user-day',
        limit: '0.01',
        spent: expect.any(String),
        reserved: expect.any(String),
        estimate: '0.00301545',
        remaining: expect.any(String),
        provider: 'openai',
        model: 'gpt-4o-mini',
      },
    });
    expect(item.budget).toEqual({ ...refusal!.budget });
    expect(Date.parse(blocked.body.to) - Date.parse(blocked.body.from)).toBe(7 * 86_400_000);
    expect((await get('budgets/blocked', { budget: 'user-day', limit: 1 })).body.items).toHaveLength(1);
    expect((await get('budgets/blocked', { budget: 'other' })).body.items).toEqual([]);
    expect((await get('budgets/blocked', { from: end, to: '2099-01-01' })).body.items).toEqual([]);
  });

  it('changes a budget with PUT; the new limit applies to the next call at once', async () => {
    const { start, end } = today();
    const res = await put('budgets/user-day', { limit: 0.02, alerts: [80] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'user-day',
      limit: '0.02',
      alerts: [80],
      mode: 'enforce',
      source: 'api',
      scopeValues: 2,
      usage: [
        { scopeValue: 'ann', spent: '0.0090405', reserved: '0', remaining: '0.0109595', calls: 3, periodStart: start, resetsAt: end },
        { scopeValue: 'bob', spent: '0', reserved: '0.004', remaining: '0.016', calls: 0, periodStart: start, resetsAt: end },
      ],
    });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(res.body.createdAt));
    // 0.02 − 3C = 0.0109595: three more calls fit, the fourth does not (0.02 − 6C = 0.001919 < E).
    const { sent } = await callUntilRefused('ann');
    expect(sent).toBe(3);
    expect(h.server.requests).toHaveLength(3);

    const warn = await put('budgets/user-day', { mode: 'warn' });
    expect(warn.body).toMatchObject({ limit: '0.02', mode: 'warn', alerts: [80] });
    expect((await callUntilRefused('ann', 2)).sent).toBe(2);
    expect((await put('budgets/user-day', { mode: 'enforce' })).status).toBe(200);
  });

  it('refuses bad input with 400 and a clear message', async () => {
    const valid = { name: 'feature-month', scope: 'feature', period: 'month', limit: '1' };
    const cases: [unknown, string | string[]][] = [
      [{ ...valid, period: 'week' }, ['period must be hour, day, month or total']],
      [{ ...valid, limit: '-1' }, [LIMIT_MESSAGE]],
      [{ ...valid, limit: 'five' }, [LIMIT_MESSAGE]],
      [{ ...valid, limit: '0.0000000000000001' }, [LIMIT_MESSAGE]],
      [{ ...valid, limit: null }, [LIMIT_MESSAGE]],
      [{ ...valid, alerts: [0] }, [ALERTS_MESSAGE]],
      [{ ...valid, alerts: [50.5] }, [ALERTS_MESSAGE]],
      [{ ...valid, alerts: 'fifty' }, [ALERTS_MESSAGE]],
      [{ ...valid, name: 'bad name' }, ['name must be 1-100 letters, digits or _ . : -']],
      [{ ...valid, scope: '1x' }, ['scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"']],
      [{ ...valid, scope: undefined }, ['scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"']],
      [{ ...valid, value: '' }, ['value must be a non-empty string of at most 256 characters']],
      [{ ...valid, mode: 'block' }, ['mode must be enforce or warn']],
      [{ ...valid, unpriced: 'maybe' }, ['unpriced must be refuse or allow']],
      [{ ...valid, whenDatabaseDown: 'retry' }, ['whenDatabaseDown must be allow or refuse']],
      [{ ...valid, color: 'red' }, ['property color should not exist']],
      [{ ...valid, timeZone: 5 }, ["timeZone must be an IANA time zone name such as 'America/New_York' or 'UTC'"]],
      [{ ...valid, timeZone: 'Mars/Olympus_Mons' }, `budget (feature-month): timeZone must be an IANA time zone name such as 'America/New_York' or 'UTC', got "Mars/Olympus_Mons"`],
      [{ ...valid, timeZone: '+05:30' }, `budget (feature-month): timeZone must be an IANA time zone name such as 'America/New_York' or 'UTC', got "+05:30"`],
    ];
    for (const [body, message] of cases) {
      const res = await post('budgets', body);
      expect({ body, status: res.status, message: res.body.message }).toEqual({ body, status: 400, message });
    }
    const changes: [unknown, string | string[]][] = [
      [{}, 'give at least one of limit, mode, unpriced, whenDatabaseDown, alerts'],
      [{ limit: '-0.5' }, [LIMIT_MESSAGE]],
      [{ scope: 'feature' }, [`scope ${FIXED}`]],
      [{ period: 'month' }, [`period ${FIXED}`]],
      [{ value: 'ann' }, [`value ${FIXED}`]],
      [{ name: 'renamed' }, [`name ${FIXED}`]],
      [{ timeZone: 'Asia/Tokyo' }, [`timeZone ${FIXED}`]],
      [{ alerts: [2000] }, [ALERTS_MESSAGE]],
    ];
    for (const [body, message] of changes) {
      const res = await put('budgets/user-day', body);
      expect({ body, status: res.status, message: res.body.message }).toEqual({ body, status: 400, message });
    }
    expect((await get('budgets/blocked', { limit: 0 })).status).toBe(400);
    expect((await get('budgets/blocked', { limit: 500 })).status).toBe(400);
    expect((await get('budgets', { limit: 0 })).status).toBe(400);
    const range = await get('budgets/blocked', { from: '2026-02-01', to: '2026-01-01' });
    expect([range.status, range.body.message]).toEqual([400, 'from must be before to']);
    expect((await get('budgets/blocked', { from: '2026-02-31' })).status).toBe(400);
    // Nothing was written by the refused requests.
    expect((await db.pool.query(`SELECT name, limit_usd::text AS l FROM ${s()}.llm_budgets ORDER BY name`)).rows).toEqual([{ name: 'user-day', l: '0.02' }]);
  });

  it('answers 409 for a second budget of the same name or on the same scope, value and period; one value may have its own', async () => {
    const dup = await post('budgets', { name: 'user-day', scope: 'feature', period: 'day', limit: '1' });
    expect([dup.status, dup.body.message]).toEqual([409, 'a budget named "user-day" already exists; change it with PUT budgets/user-day']);
    const overlap = await post('budgets', { name: 'users-daily', scope: 'user_id', period: 'day', limit: '1' });
    expect([overlap.status, overlap.body.message]).toEqual([409, 'budgets "user-day" and "users-daily" would overlap (same scope, value and period); change "user-day" instead']);

    const { start, end } = today();
    const own = await post('budgets', { name: 'ann-day', scope: 'user_id', value: 'ann', period: 'day', limit: 1.5, whenDatabaseDown: 'refuse' });
    expect(own.status).toBe(201);
    // Counted from its creation on: a line for its one value at once.
    expect(own.body).toMatchObject({
      name: 'ann-day',
      value: 'ann',
      limit: '1.5',
      whenDatabaseDown: 'refuse',
      scopeValues: 0,
      usage: [{ scopeValue: 'ann', spent: '0', reserved: '0', remaining: '1.5', calls: 0, periodStart: start, resetsAt: end }],
    });
    const again = await post('budgets', { name: 'ann-day-2', scope: 'user_id', value: 'ann', period: 'day', limit: '2' });
    expect([again.status, again.body.message]).toEqual([409, 'budgets "ann-day" and "ann-day-2" would overlap (same scope, value and period); change "ann-day" instead']);
    // Another period of the same scope is no overlap; this one follows Kolkata's calendar (UTC+05:30, no daylight saving).
    const month = await post('budgets', { name: 'user-month', scope: 'user_id', period: 'month', limit: '100', timeZone: 'Asia/Kolkata' });
    const IST = 19_800_000;
    const local = new Date(Date.now() + IST);
    const kolkata = (m: number) => new Date(Date.UTC(local.getUTCFullYear(), m, 1) - IST).toISOString();
    expect(month.status).toBe(201);
    expect(month.body).toMatchObject({ period: 'month', timeZone: 'Asia/Kolkata', periodStart: kolkata(local.getUTCMonth()), resetsAt: kolkata(local.getUTCMonth() + 1) });
    expect((await get('budgets')).body.budgets.map((b: { name: string }) => b.name)).toEqual(['ann-day', 'user-day', 'user-month']);
  });

  it('answers 404 for an unknown budget, deletes a budget with its usage, and calls stop counting against it at once', async () => {
    for (const res of [await put('budgets/nope', { limit: '1' }), await del('budgets/nope')]) expect([res.status, res.body.message]).toEqual([404, 'No budget named "nope"']);
    for (const name of ['ann-day', 'user-month', 'user-day']) {
      const res = await del(`budgets/${name}`);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    }
    expect((await del('budgets/user-day')).status).toBe(404);
    expect((await get('budgets')).body.budgets).toEqual([]);
    expect((await db.pool.query(`SELECT (SELECT count(*) FROM ${s()}.llm_budget_usage)::int AS u, (SELECT count(*) FROM ${s()}.llm_budget_reservations)::int AS r`)).rows[0]).toEqual({ u: 0, r: 0 });
    // ann was over her (deleted) limit; nothing holds her back now.
    const { sent } = await callUntilRefused('ann', 3);
    expect(sent).toBe(3);
    // The blocked calls stay in the history.
    expect((await get('budgets/blocked')).body.items.length).toBe(2);
  });
});
