import pg from 'pg';
import type { SqlPool, SqlRunner } from './sql.pool.js';
import { copyIn } from './copy-in.query.js';
import { isConnectionError } from './error.classifier.js';

/** A `pg` pool wrapped as a {@link SqlPool}: its own, or one borrowed from the host. */
export class PgSqlPool implements SqlPool {
  readonly pool: pg.Pool;
  private readonly owned: boolean;

  constructor(config: pg.PoolConfig, onIdleError: (error: Error) => void);
  /** Borrows `pool` (a host's): used, never configured or closed. */
  constructor(pool: pg.Pool);
  constructor(source: pg.PoolConfig | pg.Pool, onIdleError?: (error: Error) => void) {
    this.owned = !(source instanceof pg.Pool) && !isPgPool(source);
    if (this.owned) {
      this.pool = new pg.Pool(source as pg.PoolConfig);
      // An idle client losing its server must not crash the host process (pg re-emits it here).
      this.pool.on('error', onIdleError!);
    } else this.pool = source as pg.Pool;
  }

  async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    // pg-pool's query() listens on its client from checkout to release, in the same tick.
    return (await this.pool.query(sql, params as unknown[])).rows as R[];
  }

  async transaction<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
    let broken: Error | undefined;
    // pg emits 'error' when a connection dies (a server restart's 57P01, a reset socket), even
    // between statements: unheard, that is an uncaught exception that kills the host.
    const onError = (error: Error) => (broken ??= error);
    const client = await checkOut(this.pool, onError);
    try {
      await client.query('BEGIN');
      const runner: SqlRunner = {
        query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
        copyFrom: (sql, data) => copyIn(client, sql, data),
        prepared: async (name, sql, params) => (await client.query({ name, text: sql, values: params })).rows,
      };
      const result = await fn(runner);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // The statement that found the connection dead only says "not queryable"; the cause says why.
      if (broken) throw broken;
      if (isConnectionError(error)) broken = error as Error;
      else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw error;
    } finally {
      // Off before release, so the pool's idle listener is the only one again.
      client.off('error', onError);
      // A connection that failed mid-transaction is destroyed rather than reused.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.owned) await this.pool.end();
  }
}

/**
 * Checks a client out with `onError` listening from the very tick pg-pool hands it over.
 * pg-pool takes its idle listener off before calling back, and a promise's continuation runs
 * only after the current I/O callback: when a released client goes straight to a waiter and the
 * same socket read also holds the server's 57P01 (a restart terminates idle backends too), an
 * `await pool.connect()` leaves that error with no listener at all.
 */
export function checkOut(pool: pg.Pool, onError: (error: Error) => void): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) =>
    pool.connect((error, client) => {
      if (error || !client) return reject(error ?? new Error('pg-pool handed out no client'));
      client.on('error', onError);
      resolve(client);
    }),
  );
}

/** A pg-pool instance, possibly from another copy of `pg` (a host's TypeORM loads its own). */
export function isPgPool(value: unknown): value is pg.Pool {
  const v = value as { connect?: unknown; query?: unknown; on?: unknown; totalCount?: unknown } | null;
  return typeof v?.connect === 'function' && typeof v.query === 'function' && typeof v.on === 'function' && typeof v.totalCount === 'number';
}
