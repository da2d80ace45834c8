import pg from 'pg';
import type { SqlPool, SqlRunner } from './sql.pool.js';
import { copyIn } from './copy-in.query.js';
import { isConnectionError } from './error.classifier.js';

/** A `pg` pool wrapped as a {@link SqlPool}. */
export class PgSqlPool implements SqlPool {
  readonly pool: pg.Pool;

  constructor(config: pg.PoolConfig, onIdleError: (error: Error) => void) {
    this.pool = new pg.Pool(config);
    // An idle client losing its server must not crash the host process (pg re-emits it here).
    this.pool.on('error', onIdleError);
  }

  async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    return (await this.pool.query(sql, params as unknown[])).rows as R[];
  }

  async transaction<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // pg-pool takes its idle 'error' listener off a client it hands out, and pg emits 'error' when
    // the connection dies (a server restart's 57P01, a reset socket), even mid-query: unheard, that
    // is an uncaught exception that kills the host. The dead client fails the next statement.
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const runner: SqlRunner = {
        query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
        copyFrom: (sql, data) => copyIn(client, sql, data),
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
    await this.pool.end();
  }
}
