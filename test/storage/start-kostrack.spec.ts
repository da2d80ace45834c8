import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { configureKostrack, defaultPriceBook, KostrackConfigError, recordCall, span, startKostrack, trace, usdToString, wrap } from '../../lib/index.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { callInput } from '../support/call-input.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase('start');

describe('startKostrack()', () => {
  it('stores traced calls in the configured schema with service id and module tags', async () => {
    const kostrack = await startKostrack({ database: db.url, schema: db.schema, serviceId: 'worker-7', tags: { project: 'p9' } });
    const t = await trace({ tags: { feature: 'nightly' } }, async (ctx) => {
      await span('a', () => recordCall(callInput('0.000123456789012')));
      recordCall(callInput('0.5'));
      return ctx;
    });
    await kostrack.flush();
    expect(kostrack.health()).toMatchObject({ enabled: true, schema: db.schema, databaseReachable: true, queueDepth: 0 });
    await kostrack.close();
    const calls = await db.inSchema<{ cost: string; service_id: string; tags: Record<string, string> }>(
      `SELECT cost_usd::text AS cost, service_id, tags FROM llm_calls WHERE trace_id = $1 ORDER BY cost_usd`,
      [t.traceId],
    );
    expect(calls).toEqual([
      { cost: '0.000123456789012', service_id: 'worker-7', tags: { project: 'p9', feature: 'nightly', span_name: 'a' } },
      { cost: '0.5', service_id: 'worker-7', tags: { project: 'p9', feature: 'nightly', span_name: 'trace' } },
    ]);
    const traces = await db.inSchema<{ total: string }>(`SELECT total_cost_usd::text AS total FROM llm_traces WHERE trace_id = $1`, [t.traceId]);
    expect(traces).toEqual([{ total: '0.500123456789012' }]);
    configureKostrack({ serviceId: 'default', tags: {} });
  });

  it('close() right after a tracked call outside any trace still stores that call', async () => {
    const server = await openaiRoutes(new LoopbackServer(), { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 }) }).start();
    try {
      const kostrack = await startKostrack({ database: db.url, schema: db.schema, serviceId: 'closer' });
      const openai = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 }));
      await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      // No turn of the event loop between the response and these reads: the row still waits for its bookkeeping.
      const health = kostrack.health() as { queueDepth: number; written: { calls: number } };
      expect(health.queueDepth + health.written.calls).toBe(1);
      await kostrack.close();
      const rows = await db.inSchema<{ cost: string; trace_id: string | null }>(`SELECT cost_usd::text AS cost, trace_id FROM llm_calls WHERE service_id = 'closer'`);
      // 500 × $2.50 + 1,500 × $1.25 + 300 × $10, per Mtok
      expect(rows).toEqual([{ cost: '0.006125', trace_id: null }]);
    } finally {
      configureKostrack({ serviceId: 'default' });
      await server.close();
    }
  });

  it('prices with the llm_prices rows in force, from their effective date', async () => {
    const from = new Date(Date.now() - 60_000);
    // Migrations create the table; a first start does that.
    await (await startKostrack({ database: db.url, schema: db.schema })).close();
    await db.inSchema(
      `INSERT INTO llm_prices (provider, model, input_per_mtok, output_per_mtok, effective_from) VALUES ('openai', 'ft:gpt-4o-mini:acme', 0.3, 1.2, $1)`,
      [from],
    );
    const kostrack = await startKostrack({ database: db.url, schema: db.schema });
    const tokens = { inputUncached: 10_000, output: 1_000 };
    const after = defaultPriceBook().price('openai', 'ft:gpt-4o-mini:acme', tokens, 10_000, { timeMs: Date.now() });
    const before = defaultPriceBook().price('openai', 'ft:gpt-4o-mini:acme', tokens, 10_000, { timeMs: from.getTime() - 1 });
    await kostrack.close();
    // 10,000 × $0.30/M + 1,000 × $1.20/M
    expect([after.pricingSource, usdToString(after.costUsd!)]).toEqual(['stored', '0.0042']);
    expect([before.pricingSource, before.costUsd]).toEqual(['unpriced', null]);
  });

  it('runs without storage when database is false', async () => {
    const kostrack = await startKostrack({ database: false });
    expect(kostrack.storage).toBeNull();
    expect(kostrack.health()).toEqual({ enabled: false });
    await kostrack.flush();
    await kostrack.close();
  });

  it('rejects bad options before opening anything', async () => {
    await expect(startKostrack({ serviceId: '' })).rejects.toThrow(/startKostrack: serviceId must be a non-empty string/);
    await expect(startKostrack({ tags: { user: { id: 1 } as never } })).rejects.toThrow(KostrackConfigError);
    await expect(startKostrack({ database: 'mysql://root@localhost/x' })).rejects.toThrow(/postgres:\/\/ or postgresql:\/\/ URL/);
    await expect(startKostrack({ database: db.url, schema: 'bad schema;' })).rejects.toThrow(KostrackConfigError);
  });
});
