/**
 * A CTE `usage_locked` that locks the `llm_budget_usage` rows named by the CTE `source` (columns
 * budget_id, scope_value, period_start) in key order, and a FROM item that makes the statement
 * take those locks before it updates any of them. Admission and the writer's batch lock usage rows
 * in key order; an UPDATE … FROM alone locks them in whatever order its join returns them (with a
 * hash join over `llm_budgets`, that table's physical order, which a rewritten budget row changes),
 * and two such statements deadlocked (40P01) against an admission on a call under two budgets.
 */
export function usageLockCte(s: string, source: string): string {
  return `usage_locked AS MATERIALIZED (
  SELECT u.budget_id FROM ${s}.llm_budget_usage u
   WHERE (u.budget_id, u.scope_value, u.period_start) IN (SELECT budget_id, scope_value, period_start FROM ${source})
   ORDER BY u.budget_id, u.scope_value, u.period_start FOR UPDATE OF u
)`;
}

/** Joined into the UPDATE's FROM list: evaluated (all locks taken) before its first row is updated. */
export const USAGE_LOCKED = `(SELECT count(*) FROM usage_locked) AS usage_locked_first`;

/** Shrinks call `$1`'s holds to its cost `$2` (never grows them); `reserved` drops by what they gave back. */
export function holdSettleSql(s: string): string {
  return `WITH held AS (
  SELECT budget_id, scope_value, period_start, amount FROM ${s}.llm_budget_reservations WHERE span_id = $1 AND amount > $2::numeric FOR UPDATE
), shrunk AS (
  UPDATE ${s}.llm_budget_reservations r SET amount = $2::numeric FROM held h
   WHERE r.span_id = $1 AND r.budget_id = h.budget_id
  RETURNING h.budget_id, h.scope_value, h.period_start, h.amount - $2::numeric AS freed
), ${usageLockCte(s, 'shrunk')}
UPDATE ${s}.llm_budget_usage u SET reserved = GREATEST(u.reserved - s.freed, 0)
  FROM shrunk s, ${USAGE_LOCKED} WHERE u.budget_id = s.budget_id AND u.scope_value = s.scope_value AND u.period_start = s.period_start`;
}

/** Deletes call `$1`'s holds (an admission answered after its timeout); `reserved` drops by their amounts. */
export function holdDropSql(s: string): string {
  return `WITH gone AS (
  DELETE FROM ${s}.llm_budget_reservations WHERE span_id = $1 RETURNING budget_id, scope_value, period_start, amount
), ${usageLockCte(s, 'gone')}
UPDATE ${s}.llm_budget_usage u SET reserved = GREATEST(u.reserved - g.amount, 0)
  FROM gone g, ${USAGE_LOCKED} WHERE u.budget_id = g.budget_id AND u.scope_value = g.scope_value AND u.period_start = g.period_start`;
}
