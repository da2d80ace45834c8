import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DEFAULT_SCHEMA } from '../schema.name.js';
import { MIGRATION_STEPS, type KostrackMigrationStep } from './migration.list.js';

/** The schema of the host's DataSource (its `schema` option), default `public`. */
function schemaOf(queryRunner: QueryRunner): string {
  const options = queryRunner.connection.options as { schema?: string };
  return options.schema ?? DEFAULT_SCHEMA;
}

function toTypeOrm(step: KostrackMigrationStep): new () => MigrationInterface {
  const Migration = class implements MigrationInterface {
    name = step.name;
    async up(queryRunner: QueryRunner): Promise<void> {
      for (const sql of step.up(schemaOf(queryRunner))) await queryRunner.query(sql);
    }
    async down(queryRunner: QueryRunner): Promise<void> {
      for (const sql of step.down(schemaOf(queryRunner))) await queryRunner.query(sql);
    }
  };
  // TypeORM reads the timestamp from the class name.
  Object.defineProperty(Migration, 'name', { value: step.name });
  return Migration;
}

/**
 * For hosts that run their own DataSource: `migrations: [...kostrackMigrations]`. They create
 * the tables in the DataSource's `schema` (default `public`).
 */
export const kostrackMigrations: (new () => MigrationInterface)[] = MIGRATION_STEPS.map(toTypeOrm);
