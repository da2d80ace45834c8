import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject } from 'vitest';
import { freshSchemaName } from '../../support/database.js';
import { packedTarball, releaseTarball } from './packed-tarball.js';

/**
 * The packed tarball, from the run's shared `npm pack`, and this file's own setup after it: run
 * once, at the first test that awaits it. (In a test, not a beforeAll hook, so a failed pack or
 * install fails every test with its message instead of leaving them skipped.) The tarball is
 * released after the file, so the last package spec removes it.
 */
export function usePackedApp<T>(specUrl: string, setup: (tarball: string) => Promise<T>): () => Promise<T> {
  let ready: Promise<T> | undefined;
  const specFile = fileURLToPath(specUrl);
  afterAll(() => {
    // Only the specs that install the tarball release it (others in the folder never pack).
    const folder = dirname(specFile);
    const specs = readdirSync(folder).filter((f) => f.endsWith('.spec.ts') && readFileSync(join(folder, f), 'utf8').includes('usePackedApp(')).length;
    releaseTarball(basename(specFile), specs);
  });
  return () => (ready ??= packedTarball().then(setup));
}

/** The run's database (DATABASE_URL or the embedded one) and a fresh schema per consumer run, dropped after the file. */
export function useConsumerDatabase(prefix: string) {
  const state = {
    url: '',
    pool: undefined as unknown as pg.Pool,
    schemas: [] as string[],
    /** A new schema name; the consumer's own migrations create it at start. */
    schema(): string {
      const s = freshSchemaName(prefix);
      state.schemas.push(s);
      return s;
    },
  };
  beforeAll(() => {
    state.url = inject('databaseUrl');
    state.pool = new pg.Pool({ connectionString: state.url, max: 2 });
    state.pool.on('error', () => undefined);
  });
  afterAll(async () => {
    if (!state.pool) return;
    for (const s of state.schemas) await state.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
    await state.pool.end();
  });
  return state;
}

export type ConsumerDatabase = ReturnType<typeof useConsumerDatabase>;

/**
 * What fixtures/nest-app.ts's workflow costs. gpt-4o (genai-prices catalog: $2.50 input, $1.25
 * cached input, $10 output per million tokens): 234 × 2.50 + 1000 × 1.25 + 567 × 10 = 7505 µ$.
 * gpt-4o-mini (the app's price override: $0.123 input, $0.456 output): 777 × 0.123 + 33 × 0.456
 * = 110.619 µ$.
 */
export const WORKFLOW = {
  draftCost: '0.007505',
  checkCost: '0.000110619',
  total: '0.007615619',
};

export interface WorkflowResult {
  platform: string;
  module: 'esm' | 'commonjs';
  run: { status: number; traceHeader: string | null; body: { traceId: string; totalCostUsd: string; calls: number; clientIsOpenAI: boolean } };
  traced: { status: number; traceHeader: string | null; body: { traceId: string; totalCostUsd: string; calls: number } };
  admin?: {
    unauthorized: number;
    listStatus?: number;
    listBody?: unknown;
    listed?: { traceId: string; totalCostUsd: string; callCount: number; name: string | null; feature: string | null; project: string | null };
    detail: { status: number; totals?: { totalCostUsd: string; callCount: number }; calls?: { model: string; costUsd: string | null; span: string }[] };
    dashboard: { bare: { status: number; contentType: string | null }; slash: { status: number; contentType: string | null } };
  };
}

/**
 * The app answered with the trace's exact total, the interceptor sent the trace id of the traced
 * route, and PostgreSQL holds both traces with each call's cost to the last decimal.
 */
export async function expectWorkflowStored(db: ConsumerDatabase, schema: string, result: WorkflowResult): Promise<void> {
  expect(result.run).toMatchObject({ status: 201, body: { totalCostUsd: WORKFLOW.total, calls: 2, clientIsOpenAI: true } });
  expect(result.traced).toMatchObject({ status: 201, body: { totalCostUsd: WORKFLOW.total, calls: 2 } });
  expect(result.traced.traceHeader).toBe(result.traced.body.traceId);
  const calls = await db.pool.query(
    `SELECT model, cost_usd, pricing_source, input_tokens, output_tokens, cached_tokens, tags->>'span_name' AS span, tags->>'project' AS project
       FROM "${schema}".llm_calls WHERE trace_id = $1 ORDER BY time, model`,
    [result.run.body.traceId],
  );
  expect(calls.rows).toEqual([
    { model: 'gpt-4o-2024-08-06', cost_usd: WORKFLOW.draftCost, pricing_source: 'catalog', input_tokens: 1234, output_tokens: 567, cached_tokens: 1000, span: 'draft', project: 'package-test' },
    { model: 'gpt-4o-mini-2024-07-18', cost_usd: WORKFLOW.checkCost, pricing_source: 'override', input_tokens: 777, output_tokens: 33, cached_tokens: 0, span: 'check', project: 'package-test' },
  ]);
  const traces = await db.pool.query(
    `SELECT trace_id, name, tags->>'feature' AS feature, total_cost_usd, call_count FROM "${schema}".llm_traces ORDER BY started_at`,
  );
  expect(traces.rows).toEqual([
    { trace_id: result.run.body.traceId, name: 'package-workflow', feature: 'package-test', total_cost_usd: WORKFLOW.total, call_count: '2' },
    { trace_id: result.traced.body.traceId, name: expect.any(String), feature: 'package-route', total_cost_usd: WORKFLOW.total, call_count: '2' },
  ]);
  const all = await db.pool.query(`SELECT count(*)::int AS n, sum(cost_usd)::text AS total FROM "${schema}".llm_calls`);
  expect(all.rows[0]).toEqual({ n: 4, total: '0.015231238' });
}

/** The admin API served the stored trace, refused a request without the key, and served the dashboard. */
export function expectAdminServedTrace(result: WorkflowResult): void {
  const admin = result.admin!;
  expect(admin, 'admin probe result').toBeDefined();
  expect(admin.listStatus ?? 200, `GET /kostrack/traces answered ${JSON.stringify(admin.listBody)}`).toBe(200);
  expect(admin.unauthorized).toBe(401);
  expect(admin.listed).toMatchObject({ traceId: result.run.body.traceId, totalCostUsd: WORKFLOW.total, callCount: 2, name: 'package-workflow', feature: 'package-test', project: 'package-test' });
  expect(admin.detail).toEqual({
    status: 200,
    totals: expect.objectContaining({ totalCostUsd: WORKFLOW.total, callCount: 2 }),
    calls: [
      { model: 'gpt-4o-2024-08-06', costUsd: WORKFLOW.draftCost, span: 'draft' },
      { model: 'gpt-4o-mini-2024-07-18', costUsd: WORKFLOW.checkCost, span: 'check' },
    ],
  });
  // Both spellings of the dashboard's address, on every platform (issue 13, item 5).
  expect(admin.dashboard.bare, `${result.platform}: GET /kostrack`).toMatchObject({ status: 200, contentType: expect.stringMatching(/^text\/html/) });
  expect(admin.dashboard.slash, `${result.platform}: GET /kostrack/`).toMatchObject({ status: 200, contentType: expect.stringMatching(/^text\/html/) });
}
