import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KostrackBudgetExceededError, trace, usd, usdToString, withTags, wrap } from '../../lib/index.js';
import { startKostrack, type KostrackHandle } from '../../lib/storage/start-kostrack.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { providerHarness } from '../providers/provider-test.support.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

/*
 * A durable budget per user per UTC day, through startKostrack() on a real database and the real
 * OpenAI SDK against the loopback. gpt-4o-mini ($0.15 / $0.60 per 1M); the request
 * [{ role: 'user', content: 'Say hello' }], max_tokens 5000 is bounded at 103 input tokens:
 * E = (103 × 0.15 + 5000 × 0.60) / 1M = $0.00301545 held per call; each settles at usage
 * 90 / 5000: C = $0.0030135. Limit $0.01: three calls fit (3 × E = 0.00904635 held, or 3 × C =
 * 0.0090405 spent once the rows land; either way less than E is left), the fourth is refused.
 */
const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) }));
const db = useTestDatabase('budget_durable');
let kostrack: KostrackHandle;
const E = usd('0.00301545');
const C = usd('0.0030135');

beforeAll(async () => {
  kostrack = await startKostrack({
    database: db.url,
    schema: db.schema,
    writer: tempWriterOptions(),
    budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: '0.01' }],
  });
});
afterAll(async () => {
  await kostrack?.close();
});

const openai = () => wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
const ask = (client: OpenAI) => client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'Say hello' }] });

describe('a durable budget per user and day', () => {
  it("stops one user's calls at the limit, before the request is sent; another user is not affected; spent equals the rows exactly", async () => {
    const client = openai();
    let refusal: KostrackBudgetExceededError | undefined;
    await trace({ tags: { user_id: 'ann' } }, async () => {
      for (let i = 0; i < 10; i++) {
        try {
          await ask(client);
        } catch (e) {
          refusal = e as KostrackBudgetExceededError;
          break;
        }
      }
    });
    expect(refusal).toBeInstanceOf(KostrackBudgetExceededError);
    expect(h.server.requests).toHaveLength(3);
    const now = new Date();
    const tomorrow = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
    expect(refusal!.budget).toMatchObject({ scope: 'user_id', scopeValue: 'ann', period: 'day', spanName: 'user-day', limit: '0.01', estimate: '0.00301545', resetsAt: tomorrow });
    expect(usd(refusal!.budget.remaining) < E).toBe(true);
    // Per-call tags count too: bob has his own limit.
    await ask(client).then(() => undefined);
    await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'Say hello' }] }, withTags({ user_id: 'bob' }));
    expect(h.server.requests).toHaveLength(5);

    await kostrack.flush();
    const usage = await db.pool.query(
      `SELECT u.scope_value, u.spent::text AS spent, u.reserved::text AS reserved, u.calls FROM "${db.schema}".llm_budget_usage u ORDER BY 1`,
    );
    expect(usage.rows.map((r) => [r.scope_value, usdToString(usd(r.spent)), usdToString(usd(r.reserved)), r.calls])).toEqual([
      ['ann', usdToString(3n * C), '0', 3],
      ['bob', usdToString(C), '0', 1],
    ]);
    const rows = await db.pool.query(
      `SELECT tags->>'user_id' AS user_id, status, COALESCE(sum(cost_usd), 0)::text AS cost, count(*)::int AS n FROM "${db.schema}".llm_calls GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(rows.rows.map((r) => [r.user_id, r.status, usdToString(usd(r.cost)), r.n])).toEqual([
      ['ann', 'blocked', '0', 1],
      ['ann', 'ok', usdToString(3n * C), 3],
      ['bob', 'ok', usdToString(C), 1],
      [null, 'ok', usdToString(C), 1],
    ]);
    const status = await db.pool.query(`SELECT name, scope_value, limit_usd::text AS l, spent_usd::text AS s, reserved_usd::text AS r FROM "${db.schema}".budget_status ORDER BY scope_value`);
    expect(status.rows.map((r) => [r.name, r.scope_value, r.l, usdToString(usd(r.s)), usdToString(usd(r.r))])).toEqual([
      ['user-day', 'ann', '0.01', '0.0090405', '0'],
      ['user-day', 'bob', '0.01', '0.0030135', '0'],
    ]);
  });
});
