import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { holdDropSql, holdSettleSql } from '../../lib/storage/budget.hold.sql.js';
import { leaseTrimSql } from '../../lib/storage/budget.lease.sql.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { PrivateCluster, privateClusterUnavailable } from '../storage/support/private-cluster.js';
import { databaseUrl, freshSchemaName } from '../support/database.js';

/*
 * The statements that lower a hold (a lease's trim, a call's settle, a late admission's hold given
 * back) update usage rows of every budget the hold is on. Admission and the writer's batch lock
 * usage rows in key order; these must too. An UPDATE … FROM joined with llm_budgets locked them in
 * the join's order, which (a hash join over a small table) is that table's physical order: after a
 * budget's row was rewritten (a declared budget written again at start, a change through the API)
 * it was the reverse of key order, and a session locking in key order deadlocked with it (40P01,
 * found in review).
 *
 * Each statement runs while another session holds budget 1's usage row and, once the statement
 * waits (seen in pg_stat_activity, not after a sleep), asks for budget 2's: in key order, as
 * admission does. Both must finish. Real PostgreSQL: with DATABASE_URL the shared server, else a
 * private cluster (the embedded engine runs one statement at a time: nothing there can deadlock).
 */
let cluster: PrivateCluster | undefined;
let url = '';
let raw: pg.Pool;
let pool: PgSqlPool;
const schema = freshSchemaName('budget_lock');
const s = `"${schema}"`;
const unavailable = inject('databaseKind') !== 'postgres' ? privateClusterUnavailable() : null;
const run = unavailable && !process.env.CI ? it.skip : it;
if (unavailable && !process.env.CI) console.warn(`budget-lock-order: no DATABASE_URL and no private PostgreSQL cluster here, so these tests are skipped: ${unavailable}`);

beforeAll(async () => {
  if (unavailable && !process.env.CI) return;
  url = databaseUrl();
  if (inject('databaseKind') !== 'postgres') {
    cluster = await PrivateCluster.create();
    await cluster.start();
    url = cluster.url;
  }
  raw = new pg.Pool({ connectionString: url, max: 4 });
  pool = new PgSqlPool({ connectionString: url, max: 1 }, () => undefined);
  await raw.query(`CREATE SCHEMA ${s}`);
  await runMigrations(pool, schema);
  await raw.query(`INSERT INTO ${s}.llm_budgets (name, scope_tag, period, limit_usd) VALUES ('per-user', 'user_id', 'day', 100), ('per-feature', 'feature', 'day', 100)`);
  // Budget 1's row rewritten: it now comes after budget 2's in the table.
  await raw.query(`UPDATE ${s}.llm_budgets SET updated_at = now() WHERE name = 'per-user'`);
}, 120_000);
afterAll(async () => {
  if (!raw) return;
  await raw.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
  await pool.close();
  await raw.end();
  await cluster?.stop().catch(() => undefined);
});

/** A hold of $1 on both budgets (one call under both), keyed by a new id. */
async function hold(): Promise<{ id: string; ids: string[] }> {
  const ids = (await raw.query(`SELECT id::text FROM ${s}.llm_budgets ORDER BY id`)).rows.map((r) => r.id);
  const start = new Date();
  start.setUTCHours(0, 0, 0, 0);
  const id = randomUUID();
  const [row] = (
    await raw.query(`SELECT bool_and(admitted) AS ok FROM ${s}.kostrack_budget_admit($1::bigint[], $2::text[], $3::timestamptz[], 1, $4::uuid, 600000, false)`, [
      ids,
      ['ann', 'search'],
      [start.toISOString(), start.toISOString()],
      id,
    ])
  ).rows;
  expect(row.ok).toBe(true);
  return { id, ids };
}

/** Runs `sql` against a session that locks the usage rows in key order around it; resolves to both outcomes. */
async function beside(sql: string, params: unknown[], ids: string[]): Promise<{ keyOrder: string; statement: string; reserved: string[] }> {
  const a = await raw.connect();
  const b = await raw.connect();
  try {
    await a.query('BEGIN');
    await a.query(`SELECT 1 FROM ${s}.llm_budget_usage WHERE budget_id = $1 FOR UPDATE`, [ids[0]]);
    const pid = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const statement = b.query(sql, params).then(
      () => 'ok',
      (e: { code?: string }) => e.code ?? 'error',
    );
    // Until the statement waits on a lock (whatever it holds by then is what could deadlock); the
    // bound only turns "never" into a failure.
    for (let waited = 0; ; waited += 10) {
      const w = await raw.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [pid]);
      if (w.rows[0].n > 0) break;
      if (waited > 30_000) throw new Error('the statement never waited on a lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    const keyOrder = await a.query(`SELECT 1 FROM ${s}.llm_budget_usage WHERE budget_id = $1 FOR UPDATE`, [ids[1]]).then(
      () => 'ok',
      (e: { code?: string }) => e.code ?? 'error',
    );
    await a.query(keyOrder === 'ok' ? 'COMMIT' : 'ROLLBACK');
    const done = await statement;
    const reserved = (await raw.query(`SELECT trim_scale(reserved)::text AS reserved FROM ${s}.llm_budget_usage ORDER BY budget_id`)).rows.map((r) => r.reserved);
    return { keyOrder, statement: done, reserved };
  } finally {
    a.release();
    b.release();
  }
}

run('a lease trim, a settle and a hold given back lock usage rows in key order: no deadlock beside a session that does', { timeout: 120_000 }, async () => {
  const trim = await hold();
  expect(await beside(leaseTrimSql(s), [trim.id, '0.25'], trim.ids)).toEqual({ keyOrder: 'ok', statement: 'ok', reserved: ['0.25', '0.25'] });
  await raw.query(leaseTrimSql(s), [trim.id, '0']);
  const settle = await hold();
  expect(await beside(holdSettleSql(s), [settle.id, '0.4'], settle.ids)).toEqual({ keyOrder: 'ok', statement: 'ok', reserved: ['0.4', '0.4'] });
  await raw.query(leaseTrimSql(s), [settle.id, '0']);
  const dropped = await hold();
  expect(await beside(holdDropSql(s), [dropped.id], dropped.ids)).toEqual({ keyOrder: 'ok', statement: 'ok', reserved: ['0', '0'] });
});
