import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KostrackBudgetExceededError, trace, usd, usdToString, wrap } from '../../lib/index.js';
import { startKostrack, type KostrackHandle } from '../../lib/storage/start-kostrack.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { providerHarness, settle } from '../providers/provider-test.support.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

/*
 * The runaway loop of the issue with storage on (PostgreSQL with DATABASE_URL, else the embedded
 * PGlite): a loop with no end of its own under a $0.05 run budget, the real OpenAI SDK against
 * the loopback, whose requests are counted here. (The sample app's e2e test runs the same loop
 * against its built-in simulator, whose requests the test cannot count.)
 *
 * gpt-4o-mini, [{ role: 'user', content: 'Say hello' }], max_tokens 5000: E = $0.00301545 held per
 * call, C = $0.0030135 spent (usage 90 / 5000; see run-budget.spec.ts). Call k + 1 is admitted
 * while 0.05 − k × C ≥ E: k = 15 leaves 0.0047975 (admitted), k = 16 leaves 0.001784 < E, so the
 * 17th call is refused before it is sent: 16 requests, $0.048216 spent.
 */
const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 90, completion: 5000 }) }));
const db = useTestDatabase('budget_runaway');
let k: KostrackHandle;
const C = usd('0.0030135');

beforeAll(async () => {
  k = await startKostrack({ database: db.url, schema: db.schema, writer: tempWriterOptions() });
});
afterAll(async () => {
  await k?.close();
});

describe('a runaway loop with storage on', () => {
  it('stops at its $0.05 budget: the refused call never reaches the provider, and the stored totals are exact', async () => {
    const client = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
    let refusal: KostrackBudgetExceededError | undefined;
    let traceId = '';
    let total = '';
    await trace({ name: 'runaway', budget: '0.05' }, async (t) => {
      traceId = t.traceId;
      try {
        for (;;) await client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user', content: 'Say hello' }] });
      } catch (e) {
        if (!(e instanceof KostrackBudgetExceededError)) throw e;
        refusal = e;
      }
      total = t.totalCostDecimal;
    });
    expect(h.server.requests).toHaveLength(16);
    expect(refusal!.budget).toMatchObject({ scope: 'run', limit: '0.05', spent: '0.048216', reserved: '0', estimate: '0.00301545', remaining: '0.001784' });
    expect(total).toBe(usdToString(16n * C));

    await settle(h.sink, 17);
    await k.flush();
    const rows = await db.inSchema<{ status: string; n: number; cost: string }>(
      `SELECT status, count(*)::int AS n, COALESCE(sum(cost_usd), 0)::text AS cost FROM llm_calls WHERE trace_id = $1 GROUP BY 1 ORDER BY 1`,
      [traceId],
    );
    expect(rows.map((r) => [r.status, r.n, usdToString(usd(r.cost))])).toEqual([
      ['blocked', 1, '0'],
      ['ok', 16, '0.048216'],
    ]);
    const [stored] = await db.inSchema<{ total: string }>(`SELECT total_cost_usd::text AS total FROM llm_traces WHERE trace_id = $1`, [traceId]);
    expect(usdToString(usd(stored.total))).toBe('0.048216');
    expect(usd(stored.total) <= usd('0.05')).toBe(true);
  });
});
