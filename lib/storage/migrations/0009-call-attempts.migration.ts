import { quoteSchema } from '../schema.name.js';

/**
 * Version 9: `llm_calls.attempts`, the HTTP attempts the SDK made for each call (1: no retry).
 * A provider may bill an attempt the SDK retried (one that timed out after the model ran), while
 * the call is one row: the reconciliation report sums these per day and model to explain a gap.
 *
 * A `smallint` without a default: adding it rewrites nothing (instant on a partitioned table of
 * any size), and rows from before this version keep NULL, which means unknown, as it does for
 * calls whose SDK Kostrack cannot observe. No index: the report reads the days it compares, which
 * it scans anyway, and an index build would hold writes back on every partition while it runs.
 */
export function callAttemptsUp(schema: string): string[] {
  const s = quoteSchema(schema);
  return [`ALTER TABLE ${s}.llm_calls ADD COLUMN IF NOT EXISTS attempts smallint`];
}

export function callAttemptsDown(schema: string): string[] {
  const s = quoteSchema(schema);
  return [`ALTER TABLE ${s}.llm_calls DROP COLUMN IF EXISTS attempts`];
}
