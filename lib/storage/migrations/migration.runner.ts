import { quoteSchema } from '../schema.name.js';
import type { SqlPool } from '../sql.pool.js';
import { MIGRATION_STEPS, type KostrackMigrationStep } from './migration.list.js';

/** Our own bookkeeping table, shaped like TypeORM's so tools can read it, but never shared with the host's. */
export const MIGRATIONS_TABLE = 'kostrack_migrations';

/**
 * Brings `schema` to the latest version (or to `upTo` steps, for tests of upgrades). One
 * transaction under a transaction-scoped advisory lock keyed by the schema: app instances starting
 * together queue up, and the second finds nothing left to do. Returns the names it applied.
 */
export async function runMigrations(pool: SqlPool, schema: string, upTo: number = MIGRATION_STEPS.length): Promise<string[]> {
  const s = quoteSchema(schema);
  const steps: readonly KostrackMigrationStep[] = MIGRATION_STEPS.slice(0, upTo);
  return pool.transaction(async (db) => {
    await db.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`kostrack:migrate:${schema}`]);
    // CREATE SCHEMA needs the database's CREATE privilege even when the schema exists; ask first.
    const exists = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (exists.length === 0) await db.query(`CREATE SCHEMA ${s}`);
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${s}.${MIGRATIONS_TABLE} (id serial PRIMARY KEY, "timestamp" bigint NOT NULL, name varchar NOT NULL UNIQUE)`,
    );
    const done = new Set((await db.query<{ name: string }>(`SELECT name FROM ${s}.${MIGRATIONS_TABLE}`)).map((r) => r.name));
    const applied: string[] = [];
    for (const step of steps) {
      if (done.has(step.name)) continue;
      for (const sql of step.up(schema)) await db.query(sql);
      await db.query(`INSERT INTO ${s}.${MIGRATIONS_TABLE} ("timestamp", name) VALUES ($1, $2)`, [step.timestamp, step.name]);
      applied.push(step.name);
    }
    return applied;
  });
}
