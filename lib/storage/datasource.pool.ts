import type { DataSource } from 'typeorm';
import type pg from 'pg';
import { copyIn } from './copy-in.query.js';
import type { SqlPool, SqlRunner } from './sql.pool.js';

/** A host application's TypeORM DataSource as a {@link SqlPool}; its lifetime stays the host's. */
export class DataSourceSqlPool implements SqlPool {
  constructor(private readonly dataSource: DataSource) {}

  async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    return (await this.dataSource.query(sql, params)) as R[];
  }

  async transaction<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
    const qr = this.dataSource.createQueryRunner();
    try {
      const connection: unknown = await qr.connect();
      await qr.startTransaction();
      const runner: SqlRunner = { query: async (sql, params) => (await qr.query(sql, params)) as never };
      // TypeORM's postgres driver hands out the `pg` client itself; COPY needs its protocol connection.
      if (isPgClient(connection)) runner.copyFrom = (sql, data) => copyIn(connection, sql, data);
      const result = await fn(runner);
      await qr.commitTransaction();
      return result;
    } catch (error) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await qr.release().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    // The host created the DataSource; the host destroys it.
  }
}

function isPgClient(value: unknown): value is pg.ClientBase {
  const connection = (value as { connection?: { sendCopyFromChunk?: unknown } } | null)?.connection;
  return typeof (value as { query?: unknown } | null)?.query === 'function' && typeof connection?.sendCopyFromChunk === 'function';
}
