import { afterAll, expect, it } from 'vitest';
import { MIGRATION_STEPS } from '../../lib/storage/migrations/migration.list.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { useTestDatabase } from '../support/database.js';

/** Version 6 on a populated installation: what it adds, and that adding it rewrites nothing. */

const db = useTestDatabase('rp_migr');
const pools: PgSqlPool[] = [];
afterAll(async () => {
  for (const p of pools) await p.close();
});

it('adds its columns to a populated llm_calls without rewriting a partition; old rows keep NULL, new rows get their insert time', async () => {
  const pool = new PgSqlPool({ connectionString: db.url, max: 1 }, () => undefined);
  pools.push(pool);
  const s = `"${db.schema}"`;
  expect(await runMigrations(pool, db.schema, 5)).toHaveLength(5);
  await pool.query(`SELECT ${s}.kostrack_ensure_call_partition(timestamptz '2026-03-01T00:00:00Z')`);
  await pool.query(`INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_source, input_tokens,
      output_tokens, cached_tokens, cost_usd, latency_ms, status, streamed)
    SELECT md5('c' || g)::uuid, timestamptz '2026-03-01T00:00:00Z' + g * interval '1 minute', 'svc', 'openai', 'gpt-4o', 'chat', 'catalog',
           10, 2, 0, 0.00001, 100, 'ok', false
      FROM generate_series(1, 2000) g`);
  const files = () =>
    pool.query<{ part: string; file: string }>(
      `SELECT c.relname AS part, pg_relation_filenode(c.oid)::text AS file FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = '${s}.llm_calls'::regclass ORDER BY 1`,
    );
  const before = await files();

  expect(await runMigrations(pool, db.schema)).toEqual(MIGRATION_STEPS.slice(5).map((m) => m.name));
  expect(MIGRATION_STEPS[5].name).toBe('KostrackRepricing1767657600000');
  // No partition got a new file: the columns were added in the catalog only.
  expect(await files()).toEqual(before);
  expect(await pool.query(`SELECT count(*)::int AS n FROM ${s}.llm_calls WHERE recorded_at IS NULL AND priced_at IS NULL AND repricing_id IS NULL`)).toEqual([{ n: 2000 }]);

  await pool.query(`INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_source, input_tokens,
      output_tokens, cached_tokens, latency_ms, status, streamed) VALUES (md5('new')::uuid, '2026-03-02T00:00:00Z', 'svc', 'openai', 'gpt-4o', 'chat',
      'catalog', 1, 1, 0, 1, 'ok', false)`);
  const [row] = await pool.query<{ fresh: boolean }>(`SELECT recorded_at > now() - interval '1 minute' AS fresh FROM ${s}.llm_calls WHERE span_id = md5('new')::uuid`);
  expect(row.fresh).toBe(true);
  // A month made after the upgrade has the default too.
  await pool.query(`SELECT ${s}.kostrack_ensure_call_partition(timestamptz '2025-01-15T00:00:00Z')`);
  await pool.query(`INSERT INTO ${s}.llm_calls (span_id, time, service_id, provider, model, operation, pricing_source, input_tokens,
      output_tokens, cached_tokens, latency_ms, status, streamed) VALUES (md5('jan')::uuid, '2025-01-15T00:00:00Z', 'svc', 'openai', 'gpt-4o', 'chat',
      'catalog', 1, 1, 0, 1, 'ok', false)`);
  expect(await pool.query(`SELECT (recorded_at IS NOT NULL) AS set FROM ${s}.llm_calls WHERE span_id = md5('jan')::uuid`)).toEqual([{ set: true }]);

  // Down and up again: a development round trip.
  const repricing = MIGRATION_STEPS.find((m) => m.name === 'KostrackRepricing1767657600000')!;
  for (const sql of repricing.down(db.schema)) await pool.query(sql);
  expect(await pool.query(`SELECT to_regclass('${s}.llm_repricings') AS t`)).toEqual([{ t: null }]);
  for (const sql of repricing.up(db.schema)) await pool.query(sql);
  expect(await pool.query(`SELECT count(*)::int AS n FROM ${s}.llm_repricings`)).toEqual([{ n: 0 }]);
});
