import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// The package by name, as the examples import it.
import { KostrackHealth, usd, usdToString } from '@kostrack/nestjs';
import { startProviderSimulator } from '../sample-app/simulator/provider.simulator.js';
import type { LoopbackServer } from '../loopback/loopback.server.js';
import { closedPortUrl } from './storage/support/closed-port.js';
import { databaseUrl } from './support/database.js';

/**
 * The README is the front door, so its snippets must run: every TypeScript block is an example
 * file (checked to the character) that runs here against the real SDKs and a provider simulator;
 * every SQL block runs verbatim; every curl line is sent to the NestJS example's admin API.
 */
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = (lang: string) => [...readme.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
const ADMIN_KEY = 'readme-admin-key-0123456789';

let simulator: LoopbackServer;
let pool: pg.Pool;
const saved = { ...process.env };

beforeAll(async () => {
  simulator = await startProviderSimulator();
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl(),
    ANTHROPIC_API_KEY: 'sk-ant-readme',
    ANTHROPIC_BASE_URL: simulator.url,
    OPENAI_API_KEY: 'sk-readme',
    OPENAI_BASE_URL: `${simulator.url}/v1`,
    DEEPSEEK_API_KEY: 'sk-readme',
    DEEPSEEK_BASE_URL: `${simulator.url}/v1`,
    KOSTRACK_ADMIN_KEY: ADMIN_KEY,
  });
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
});

afterAll(async () => {
  await pool.end();
  await simulator.close();
  process.env = saved;
});

describe('README', () => {
  it('shows every example file verbatim', () => {
    const named = blocks('ts').filter((b) => b.startsWith('// examples/'));
    expect(named.map((b) => b.slice(3, b.indexOf(' ', 3)))).toEqual([
      'examples/invoice-pipeline.module.ts',
      'examples/config.module.ts',
      'examples/month-end-close.ts',
      'examples/runaway-budget.ts',
      'examples/health.module.ts',
    ]);
    // Every TypeScript block is one of them.
    expect(named).toHaveLength(blocks('ts').length);
    for (const block of named) {
      const file = block.slice(3, block.indexOf(' ', 3));
      expect(block, file).toBe(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));
    }
  });

  it('runs the budget example: the loop stops below its limit, and the refused step could not have fit', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const { stopped } = await import('../examples/runaway-budget.js');
    const printed = log.mock.calls.map((c) => String(c[0]));
    log.mockRestore();
    expect(stopped.limit).toBe('0.05');
    expect(usd(stopped.total) <= usd('0.05')).toBe(true);
    expect(usdToString(usd('0.05') - usd(stopped.total))).toBe(stopped.remaining);
    expect(usd(stopped.estimate) > usd(stopped.remaining)).toBe(true);
    // Many steps ran (each far below its worst case), then one was refused.
    expect(stopped.calls).toBeGreaterThan(40);
    expect(printed).toEqual([`Stopped at $${stopped.total} of $0.05: the next step could cost $${stopped.estimate}, $${stopped.remaining} was left`]);
  });

  let plainTraceId = '';

  it('runs the plain TypeScript example and stores its trace with the printed total', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const { run } = await import('../examples/month-end-close.js');
    const printed = log.mock.calls.map((c) => String(c[0]));
    log.mockRestore();
    plainTraceId = run.traceId;
    const { rows } = await pool.query(
      `SELECT model, pricing_source, cost_usd::text AS cost, tags FROM llm_calls WHERE trace_id = $1 ORDER BY time`,
      [run.traceId],
    );
    expect(rows.map((r) => [r.model, r.pricing_source, r.tags.span_name, r.tags.feature, r.tags.project])).toEqual([
      ['deepseek-reasoner', 'catalog', 'reason', 'month-end-close', 'openmanagr'],
      ['claude-haiku-4-5-20251001', 'catalog', 'extract', 'month-end-close', 'openmanagr'],
    ]);
    const sum = rows.reduce((a, r) => a + usd(r.cost), 0n);
    expect(usdToString(sum)).toBe(run.total);
    const trace = await pool.query(`SELECT total_cost_usd::text AS total, call_count FROM llm_traces WHERE trace_id = $1`, [run.traceId]);
    expect(trace.rows).toEqual([{ total: run.total, call_count: '2' }]);
    expect(printed[0]).toBe(`Total: $${Number(run.total).toFixed(6)} across 2 calls`);
    expect(printed.slice(1).map((l) => l.split(':')[0].trim()).sort()).toEqual(['claude-haiku-4-5-20251001', 'deepseek-reasoner']);
  });

  it('runs every SQL block verbatim', async () => {
    const sql = blocks('sql').map((s) => s.replace('your-trace-uuid', plainTraceId));
    expect(sql).toHaveLength(5);
    const [budgets, top, calls, perDay, unpriced] = await Promise.all(sql.map((s) => pool.query(s)));
    expect(budgets.fields.map((f) => f.name)).toEqual(['name', 'scope_tag', 'scope_value', 'period', 'limit_usd', 'spent_usd', 'reserved_usd', 'resets_at']);
    expect(top.rows.length).toBeGreaterThan(0);
    expect(top.rows.length).toBeLessThanOrEqual(20);
    expect(Object.keys(top.rows[0])).toEqual(expect.arrayContaining(['trace_id', 'total_cost_usd', 'call_count', 'feature']));
    const costs = top.rows.map((r) => usd(r.total_cost_usd));
    expect(costs).toEqual([...costs].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(calls.rows.map((r) => [r.provider, r.model, r['?column?']])).toEqual([
      ['deepseek', 'deepseek-reasoner', 'reason'],
      ['anthropic', 'claude-haiku-4-5-20251001', 'extract'],
    ]);
    expect(perDay.rows.some((r) => r.feature === 'month-end-close' && usd(r.cost) > 0n)).toBe(true);
    expect(unpriced.fields.map((f) => f.name)).toEqual(['provider', 'model', 'calls']);
  });

  describe('the NestJS example', () => {
    let app: INestApplication;
    let traceId = '';
    // The database may hold earlier runs' users; this run's is its own.
    const user = `u-${Date.now()}`;

    beforeAll(async () => {
      const { AppModule } = await import('../examples/invoice-pipeline.module.js');
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      app = moduleRef.createNestApplication();
      await app.init();
    });
    afterAll(async () => {
      await app?.close();
    });

    it('traces the route with its spans, user and exact total', async () => {
      const res = await request(app.getHttpServer()).post('/invoices/inv-1/process').set('x-user-id', user).expect(201);
      traceId = res.headers['x-kostrack-trace-id'];
      expect(res.body.traceId).toBe(traceId);
      expect(res.body.calls).toBe(3);
      await app.get(KostrackHealth).flush();
      const { rows } = await pool.query(
        `SELECT provider, cost_usd::text AS cost, tags->>'span_name' AS span, tags->>'user_id' AS user_id FROM llm_calls WHERE trace_id = $1 ORDER BY time`,
        [traceId],
      );
      expect(rows.map((r) => [r.span, r.provider, r.user_id])).toEqual([
        ['validate', 'anthropic', user],
        ['classify', 'openai', user],
        ['post', 'anthropic', user],
      ]);
      // The example's per-user daily budget counted the user's three calls, exactly.
      const budget = await pool.query(`SELECT limit_usd::text AS l, spent_usd::text AS s, reserved_usd::text AS r FROM budget_status WHERE name = 'per-user-day' AND scope_value = $1`, [user]);
      expect(budget.rows.map((b) => [usdToString(usd(b.l)), usdToString(usd(b.s)), usdToString(usd(b.r))])).toEqual([['5', res.body.totalCostUsd, '0']]);
      expect(usdToString(rows.reduce((a, r) => a + usd(r.cost), 0n))).toBe(res.body.totalCostUsd);
      const trace = await pool.query(`SELECT total_cost_usd::text AS total FROM llm_traces WHERE trace_id = $1`, [traceId]);
      expect(trace.rows[0].total).toBe(res.body.totalCostUsd);
    });

    it("answers every curl line of the README's REST section", async () => {
      const lines = blocks('bash')
        .flatMap((b) => b.replace(/\\\n\s*/g, '').split('\n'))
        .filter((l) => l.startsWith('curl -H'));
      expect(lines).toHaveLength(9);
      for (const line of lines) {
        const url = new URL(/"(http[^"]+)"/.exec(line)![1].replace('$TRACE_ID', traceId));
        const body = /-d '([^']+)'/.exec(line)?.[1];
        const req = body
          ? request(app.getHttpServer()).post(url.pathname + url.search).set('content-type', 'application/json').send(body)
          : request(app.getHttpServer()).get(url.pathname + url.search);
        const res = await req.set('x-kostrack-api-key', ADMIN_KEY);
        expect([res.status, line]).toEqual([body ? 201 : 200, line]);
        if (url.pathname.endsWith(`/traces/${traceId}`)) expect(res.body.calls).toHaveLength(3);
      }
    });
  });

  describe('the forRootAsync example', () => {
    it('takes the database, the admin key and the client key from ConfigService; the call is tracked and stored', async () => {
      const { AppModule } = await import('../examples/config.module.js');
      const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger: false });
      await app.init();
      try {
        const before = simulator.requests.length;
        const res = await request(app.getHttpServer()).get('/drafts').expect(200);
        const traceId = res.headers['x-kostrack-trace-id'];
        // The key the client factory read from ConfigService reached the provider.
        expect(simulator.requests.slice(before).map((r) => r.headers.authorization)).toEqual(['Bearer sk-readme']);
        await app.get(KostrackHealth).flush();
        const { rows } = await pool.query(`SELECT provider, tags->>'feature' AS feature, cost_usd IS NOT NULL AS priced FROM llm_calls WHERE trace_id = $1`, [traceId]);
        expect(rows).toEqual([{ provider: 'openai', feature: 'drafts', priced: true }]);
        await request(app.getHttpServer()).get(`/kostrack/traces/${traceId}`).expect(401);
        const detail = await request(app.getHttpServer()).get(`/kostrack/traces/${traceId}`).set('x-kostrack-api-key', ADMIN_KEY).expect(200);
        expect(detail.body.totals.callCount).toBe(1);
      } finally {
        await app.close();
      }
    });
  });

  describe('the terminus example', () => {
    // The example reads DATABASE_URL when it is imported; `?down` imports a second copy of it.
    const boot = async (query: string) => {
      const file = '../examples/health.module.js';
      const { HealthModule } = (await import(/* @vite-ignore */ `${file}${query}`)) as typeof import('../examples/health.module.js');
      const moduleRef = await Test.createTestingModule({ imports: [HealthModule] }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      return app;
    };

    it('answers 200 with the indicator up, as the README shows, once the database answered', async () => {
      const app = await boot('');
      try {
        const res = await request(app.getHttpServer()).get('/health').expect(200);
        expect(res.body).toMatchObject({ status: 'ok', info: { kostrack: { status: 'up', databaseReachable: true, queueDepth: 0 } }, error: {} });
        const shown = /`GET \/health` answers `(\{.*?)…/.exec(readme)![1];
        expect(JSON.stringify(res.body).startsWith(shown)).toBe(true);
      } finally {
        await app.close();
      }
    });

    it('answers 503 with the indicator down when the database is unreachable', async () => {
      const url = process.env.DATABASE_URL;
      process.env.DATABASE_URL = await closedPortUrl();
      let app: INestApplication | undefined;
      try {
        app = await boot('?down');
        const res = await request(app.getHttpServer()).get('/health').expect(503);
        expect(res.body).toMatchObject({ status: 'error', error: { kostrack: { status: 'down', databaseReachable: false } } });
      } finally {
        process.env.DATABASE_URL = url;
        await app?.close();
      }
    });
  });
});
