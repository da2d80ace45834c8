import type pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, expect, it } from 'vitest';
import { DataSourceSqlPool } from '../../lib/storage/datasource.pool.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import type { SqlPool } from '../../lib/storage/sql.pool.js';
import { databaseUrl } from '../support/database.js';

/**
 * A database restart terminates idle backends too, so a client pg-pool has just handed to a
 * waiting transaction can receive 57P01 in the same socket read that completed its last query.
 * pg-pool takes its idle listener off before calling back; with `await pool.connect()` (and
 * TypeORM's query runner) nobody listened until the next microtask, and the unheard 'error' killed
 * the host (seen once in CI under host-survives-restart). Here the error is emitted on the real
 * client at the first microtask after checkout, the earliest a socket read can deliver it, and
 * the transaction must reject with it instead of the process dying.
 */

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** On every checkout of `pool`, an error arrives on the client one microtask later. */
function errorRightAfterCheckout(pool: pg.Pool): { listeners: number[] } {
  const seen = { listeners: [] as number[] };
  pool.on('acquire', (client: pg.PoolClient) =>
    queueMicrotask(() => {
      seen.listeners.push(client.listenerCount('error'));
      // Only where someone listens: otherwise this very line is the crash being fixed.
      if (client.listenerCount('error') === 0) return;
      client.emit('error', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
      // …and the server closes the socket after its FATAL message, as a real restart does.
      (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }),
  );
  return seen;
}

async function twoQueuedTransactions(pool: SqlPool, pgPool: pg.Pool): Promise<void> {
  const seen = errorRightAfterCheckout(pgPool);
  const results = await Promise.allSettled([pool.transaction((tx) => tx.query('SELECT 1 AS n')), pool.transaction((tx) => tx.query('SELECT 2 AS n'))]);
  // The second waited for the pool's one connection: handed over on release, the path of the crash.
  expect(seen.listeners).toEqual([1, 1]);
  for (const r of results) {
    expect(r.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason).toMatchObject({ code: '57P01' });
  }
  // Both broken clients were destroyed, none went back to the pool; the next transaction works.
  expect(pgPool.totalCount).toBe(0);
  pgPool.removeAllListeners('acquire');
  expect(await pool.transaction((tx) => tx.query('SELECT 3 AS n'))).toEqual([{ n: 3 }]);
}

it("Kostrack's own pool listens on a client from the tick it is checked out", async () => {
  const pool = new PgSqlPool({ connectionString: databaseUrl(), max: 1 }, () => undefined);
  cleanup.push(() => pool.close());
  await twoQueuedTransactions(pool, pool.pool);
});

it("a host's TypeORM DataSource is checked out the same way (TypeORM's query runner awaits before it listens)", async () => {
  const ds = await new DataSource({ type: 'postgres', url: databaseUrl(), poolSize: 1 }).initialize();
  cleanup.push(() => ds.destroy());
  const master = (ds.driver as unknown as { master: pg.Pool }).master;
  await twoQueuedTransactions(new DataSourceSqlPool(ds), master);
  // Plain queries go through pg-pool's query(), which listens from checkout to release.
  expect(await new DataSourceSqlPool(ds).query('SELECT 4 AS n')).toEqual([{ n: 4 }]);
});

it('UPDATE … RETURNING answers rows through a DataSource, as through a URL', async () => {
  const ds = await new DataSource({ type: 'postgres', url: databaseUrl(), poolSize: 1 }).initialize();
  cleanup.push(() => ds.destroy());
  const pool = new DataSourceSqlPool(ds);
  const rows = await pool.transaction(async (tx) => {
    await tx.query('CREATE TEMP TABLE t (n int)');
    await tx.query('INSERT INTO t VALUES (1), (2)');
    return tx.query('UPDATE t SET n = n * 10 RETURNING n');
  });
  expect(rows).toEqual([{ n: 10 }, { n: 20 }]);
});
