import type { DataSource } from 'typeorm';
import type pg from 'pg';
import { copyIn } from './copy-in.query.js';
import { isPgPool, PgSqlPool } from './pg.pool.js';
import type { SqlPool, SqlRunner } from './sql.pool.js';
import { whereOf } from './database.description.js';
import type { PostgresConnectionOptions } from './storage.options.js';

/** A host application's TypeORM DataSource as a {@link SqlPool}; its lifetime stays the host's. */
export class DataSourceSqlPool implements SqlPool {
  private borrowed: PgSqlPool | null = null;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * The DataSource's own `pg` pool, checked out our way. TypeORM's query runner awaits the pool
   * before it listens for 'error' (typeorm 1.1 PostgresQueryRunner.connect), the gap in which a
   * database restart killed the host under a busy writer. Looked up on every use: a host may
   * destroy and re-initialize its DataSource.
   */
  private pgPool(): PgSqlPool | null {
    const master = (this.dataSource.driver as { master?: unknown }).master;
    if (!isPgPool(master)) return null;
    if (this.borrowed?.pool !== master) this.borrowed = new PgSqlPool(master);
    return this.borrowed;
  }

  /** Where the DataSource points (password masked), for the start line. */
  describe(): string {
    return whereOf(this.dataSource.options as PostgresConnectionOptions);
  }

  async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    const pool = this.pgPool();
    if (pool) return pool.query<R>(sql, params);
    const qr = this.dataSource.createQueryRunner();
    try {
      return await records<R>(qr.query(sql, params, true));
    } finally {
      await qr.release().catch(() => undefined);
    }
  }

  async transaction<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
    const pool = this.pgPool();
    if (pool) return pool.transaction(fn);
    const qr = this.dataSource.createQueryRunner();
    try {
      const connection: unknown = await qr.connect();
      await qr.startTransaction();
      // Structured results: a plain query() answers UPDATE … RETURNING with [rows, count], not rows.
      const runner: SqlRunner = { query: (sql, params) => records(qr.query(sql, params, true)) };
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

async function records<R>(result: Promise<{ records: unknown[] }>): Promise<R[]> {
  return (await result).records as R[];
}

function isPgClient(value: unknown): value is pg.ClientBase {
  const connection = (value as { connection?: { sendCopyFromChunk?: unknown } } | null)?.connection;
  return typeof (value as { query?: unknown } | null)?.query === 'function' && typeof connection?.sendCopyFromChunk === 'function';
}
