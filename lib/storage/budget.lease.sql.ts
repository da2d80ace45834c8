import { USAGE_LOCKED, usageLockCte } from './budget.hold.sql.js';

/**
 * Lowers the hold of lease `$1` to `$2` (0 deletes it); `reserved` drops by what the hold gave
 * back. (Its calls' costs leave the hold in the statement that stores their rows, batch.sql.ts.)
 * Holds are locked before usage rows, as the writer and a call's settle take them, and usage rows
 * in key order, as everything else does; admission takes usage rows first but skips locked holds,
 * so none of them wait on each other in a cycle. A hold already gone (it expired and
 * an admission freed it) changes nothing: no rows. Returns each scope's state after the change.
 */
export function leaseTrimSql(s: string): string {
  return `WITH held AS (
  SELECT budget_id, scope_value, period_start, amount FROM ${s}.llm_budget_reservations WHERE span_id = $1 ORDER BY budget_id FOR UPDATE
), lowered AS (
  UPDATE ${s}.llm_budget_reservations r SET amount = $2::numeric
   WHERE r.span_id = $1 AND $2::numeric > 0 AND r.amount > $2::numeric
  RETURNING 1
), dropped AS (
  DELETE FROM ${s}.llm_budget_reservations r WHERE r.span_id = $1 AND $2::numeric <= 0
  RETURNING 1
), ${usageLockCte(s, 'held')}
UPDATE ${s}.llm_budget_usage u
   SET reserved = GREATEST(u.reserved - GREATEST(h.amount - GREATEST($2::numeric, 0), 0), 0)
  FROM held h JOIN ${s}.llm_budgets b ON b.id = h.budget_id, ${USAGE_LOCKED}
 WHERE u.budget_id = h.budget_id AND u.scope_value = h.scope_value AND u.period_start = h.period_start
RETURNING u.budget_id::text, u.scope_value, b.limit_usd::text, u.spent::text, u.reserved::text`;
}
