import type { DataSource } from 'typeorm';
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
      await qr.connect();
      await qr.startTransaction();
      const result = await fn({ query: async (sql, params) => (await qr.query(sql, params)) as never });
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
