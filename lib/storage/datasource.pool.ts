import type { DataSource } from 'typeorm';
import { whereOf } from './database.description.js';
import { isPgPool, PgSqlPool } from './pg.pool.js';
import type { SqlPool, SqlRunner } from './sql.pool.js';
import type { PostgresConnectionOptions } from './storage.options.js';

/**
 * A host application's TypeORM DataSource as a {@link SqlPool}: its own `pg` pool, checked out
 * our way. TypeORM's query runner awaits the pool before it listens for 'error' (typeorm 1.1
 * PostgresQueryRunner.connect), the gap in which a database restart killed the host under a busy
 * writer. The DataSource's lifetime stays the host's.
 */
export class DataSourceSqlPool implements SqlPool {
  private borrowed: PgSqlPool | null = null;

  constructor(private readonly dataSource: DataSource) {}

  /** Where the DataSource points (password masked), for the start line. */
  describe(): string {
    return whereOf(this.dataSource.options as PostgresConnectionOptions);
  }

  query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    return this.pgPool().query<R>(sql, params);
  }

  transaction<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
    return this.pgPool().transaction(fn);
  }

  async close(): Promise<void> {
    // The host created the DataSource; the host destroys it.
  }

  /**
   * Looked up on every use: a host may destroy and re-initialize its DataSource. Until it is
   * initialized there is no pool; the error carries no SQLSTATE, so the writer retries it like an
   * outage.
   */
  private pgPool(): PgSqlPool {
    const master = (this.dataSource.driver as { master?: unknown } | undefined)?.master;
    if (!isPgPool(master)) throw new Error("the host's TypeORM DataSource has no PostgreSQL pool (not initialized, or not type 'postgres')");
    if (this.borrowed?.pool !== master) this.borrowed = new PgSqlPool(master);
    return this.borrowed;
  }
}
