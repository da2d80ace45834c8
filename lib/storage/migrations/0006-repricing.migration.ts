import { quoteSchema } from '../schema.name.js';

/**
 * Version 6: re-pricing stored calls after a price correction (see `reprice.job.ts`).
 *
 * - `llm_calls` learns how and when each row was priced: `priced_at` (NULL: priced when it was
 *   recorded) and `repricing_id` (the `llm_repricings` run that last changed its cost, NULL if
 *   none). And `recorded_at`, when the writer inserted the row: a call counts in the usage of the
 *   durable budgets that existed at that moment only, so a re-price adjusts exactly those. Rows
 *   from before this version keep NULL (their insert time is unknown; the call's time stands in).
 *   All three are added without a default, which rewrites nothing (instant on a partitioned table
 *   of any size); `recorded_at` then gets `now()` as the default of rows inserted from now on.
 *   No foreign key to `llm_repricings`: validating one would scan every partition, and every
 *   re-priced row would pay the check.
 * - `llm_repricings`: one row per run, updated in the same transaction as each batch it applies,
 *   so after a crash the cursor and the totals say exactly what was done. At most one unfinished
 *   run per range and filter (a partial unique index): a second start of the same range joins
 *   or resumes it instead of starting a duplicate.
 */
export function repricingUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `ALTER TABLE ${s}.llm_calls ADD COLUMN IF NOT EXISTS recorded_at timestamptz,
       ADD COLUMN IF NOT EXISTS priced_at timestamptz, ADD COLUMN IF NOT EXISTS repricing_id bigint`,
    `ALTER TABLE ${s}.llm_calls ALTER COLUMN recorded_at SET DEFAULT now()`,
    `CREATE TABLE IF NOT EXISTS ${s}.llm_repricings (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      range_from timestamptz NOT NULL,
      range_to timestamptz NOT NULL,
      provider text,
      model text,
      requested_by text,
      status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
      rows_scanned bigint NOT NULL DEFAULT 0,
      rows_changed bigint NOT NULL DEFAULT 0,
      newly_priced bigint NOT NULL DEFAULT 0,
      newly_unpriced bigint NOT NULL DEFAULT 0,
      total_before_usd numeric NOT NULL DEFAULT 0,
      total_after_usd numeric NOT NULL DEFAULT 0,
      batches integer NOT NULL DEFAULT 0,
      cursor_time timestamptz,
      cursor_span_id uuid,
      error text,
      started_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      CONSTRAINT llm_repricings_range_chk CHECK (range_to > range_from)
    )`,
    `CREATE UNIQUE INDEX IF NOT EXISTS llm_repricings_open_uidx
       ON ${s}.llm_repricings (range_from, range_to, (COALESCE(provider, '')), (COALESCE(model, ''))) WHERE status <> 'done'`,
    `CREATE INDEX IF NOT EXISTS llm_repricings_started_idx ON ${s}.llm_repricings (started_at DESC)`,
  ];
}

export function repricingDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [
    `DROP TABLE IF EXISTS ${s}.llm_repricings`,
    `ALTER TABLE ${s}.llm_calls DROP COLUMN IF EXISTS repricing_id, DROP COLUMN IF EXISTS priced_at, DROP COLUMN IF EXISTS recorded_at`,
  ];
}
