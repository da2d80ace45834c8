import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export interface TestDatabase {
  url: string;
  kind: 'postgres' | 'embedded';
  /** A schema of this test file's own, created empty and dropped after the file. */
  schema: string;
  pool: pg.Pool;
  /** Runs `sql` with `search_path` set to the schema, inside a transaction (session state is shared on PGlite). */
  inSchema<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

/** A fresh schema name: unique across parallel test files and repeated runs. */
export function freshSchemaName(prefix = 'kt'): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export function databaseUrl(): string {
  return inject('databaseUrl');
}

/**
 * Call at the top of a test file: gives it a fresh schema and a pool, and drops both after.
 * The object is filled in `beforeAll`, so read its fields inside tests and hooks.
 */
export function useTestDatabase(prefix?: string): TestDatabase {
  const db = { url: '', kind: 'postgres', schema: '', pool: undefined as unknown as pg.Pool } as TestDatabase;
  beforeAll(async () => {
    db.url = inject('databaseUrl');
    db.kind = inject('databaseKind');
    db.schema = freshSchemaName(prefix);
    db.pool = new pg.Pool({ connectionString: db.url, max: 2 });
    db.pool.on('error', () => undefined);
    await db.pool.query(`CREATE SCHEMA "${db.schema}"`);
    db.inSchema = async (sql, params) => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL search_path TO "${db.schema}"`);
        const result = await client.query(sql, params as unknown[]);
        await client.query('COMMIT');
        return result.rows;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    };
  });
  afterAll(async () => {
    if (!db.pool) return;
    await db.pool.query(`DROP SCHEMA IF EXISTS "${db.schema}" CASCADE`).catch(() => undefined);
    await db.pool.end();
  });
  return db;
}
