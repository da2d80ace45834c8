import { KostrackConfigError } from '../core/errors.js';
import { usd, usdToString } from '../core/money.js';
import { isTimeZoneName, type BudgetPeriod } from './budget.period.js';

export type { BudgetPeriod } from './budget.period.js';

/**
 * A durable budget: a limit on what a scope (the calls whose `scope` tag has a value, e.g. each
 * `user_id`, or one value of it) may spend per `period` (in UTC unless `timeZone` says otherwise),
 * shared by every process through PostgreSQL. `scope: 'service'` means the row's `service_id`.
 */
export interface BudgetDeclaration {
  /** Unique; how the budget is named in errors, the API and `budget_status`. */
  name: string;
  /** A tag key (`user_id`, `feature`, `project`, a tenant tag…) or `service`. */
  scope: string;
  /** Only this value of the tag; absent: every value has its own limit. */
  value?: string | undefined;
  period: BudgetPeriod;
  /**
   * The IANA time zone whose calendar the periods follow, e.g. `'America/New_York'`: a day from
   * midnight to midnight there (23 or 25 hours across a daylight-saving change). Default `'UTC'`.
   */
  timeZone?: string | undefined;
  /** USD, exact decimal. */
  limit: string | number;
  /** `enforce` (default) refuses; `warn` lets calls through and warns once per scope and period. */
  mode?: 'enforce' | 'warn' | undefined;
  /** A model with no price: `refuse` (default) or `allow`. */
  unpriced?: 'refuse' | 'allow' | undefined;
  /**
   * When the database cannot be asked: `allow` (default: tracking must not take the app down;
   * warned) or `refuse` (a hard cap matters more than availability).
   */
  whenDatabaseDown?: 'allow' | 'refuse' | undefined;
  /** Percentages of the limit that fire an alert once per scope and period, e.g. `[50, 80, 100]`. */
  alerts?: number[] | undefined;
}

/** A declaration checked and put in canonical form (the limit an exact decimal string). */
export interface CheckedBudget {
  name: string;
  scope: string;
  value: string | null;
  period: BudgetPeriod;
  /** An IANA name, as given ('UTC' by default). */
  timeZone: string;
  limit: string;
  mode: 'enforce' | 'warn';
  unpriced: 'refuse' | 'allow';
  whenDatabaseDown: 'allow' | 'refuse';
  alerts: number[];
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
// A tag key (tags.ts), which `__proto__` cannot be.
const SCOPE = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
const PERIODS = new Set(['hour', 'day', 'month', 'total']);
const KEYS = new Set(['name', 'scope', 'value', 'period', 'timeZone', 'limit', 'mode', 'unpriced', 'whenDatabaseDown', 'alerts']);

/** Throws {@link KostrackConfigError} naming what is wrong; `where` says where it was declared. */
export function checkBudget(input: unknown, where: string): CheckedBudget {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new KostrackConfigError(`${where}: a budget must be an object { name, scope, period, limit }`);
  const b = input as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!KEYS.has(key)) throw new KostrackConfigError(`${where}: budgets have no option "${key}"`);
  if (typeof b.name !== 'string' || !NAME.test(b.name)) throw new KostrackConfigError(`${where}: name must be 1-100 letters, digits or _ . : -, got ${JSON.stringify(b.name)}`);
  const at = `${where} (${b.name})`;
  if (typeof b.scope !== 'string' || !SCOPE.test(b.scope))
    throw new KostrackConfigError(`${at}: scope must be a tag key such as user_id, feature, project or a tenant tag, or "service"; got ${JSON.stringify(b.scope)}`);
  if (b.value !== undefined && b.value !== null && (typeof b.value !== 'string' || b.value === '' || b.value.length > 256))
    throw new KostrackConfigError(`${at}: value must be a non-empty string of at most 256 characters`);
  if (typeof b.period !== 'string' || !PERIODS.has(b.period)) throw new KostrackConfigError(`${at}: period must be hour, day, month or total, got ${JSON.stringify(b.period)}`);
  let timeZone = 'UTC';
  if (b.timeZone !== undefined) {
    if (typeof b.timeZone !== 'string' || !isTimeZoneName(b.timeZone)) throw new KostrackConfigError(`${at}: timeZone must be an IANA time zone name such as 'America/New_York' or 'UTC', got ${JSON.stringify(b.timeZone)}`);
    timeZone = b.timeZone;
  }
  let limit: bigint;
  try {
    if (typeof b.limit !== 'string' && typeof b.limit !== 'number') throw new TypeError();
    limit = usd(b.limit);
  } catch {
    throw new KostrackConfigError(`${at}: limit must be an amount in USD like '5.00', got ${typeof b.limit === 'number' ? String(b.limit) : JSON.stringify(b.limit)}`);
  }
  if (limit < 0n) throw new KostrackConfigError(`${at}: limit must not be negative`);
  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = b[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !allowed.includes(v as T)) throw new KostrackConfigError(`${at}: ${key} must be ${allowed.join(' or ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  let alerts: number[] = [];
  if (b.alerts !== undefined) {
    if (!Array.isArray(b.alerts) || b.alerts.some((a) => typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > 1000))
      throw new KostrackConfigError(`${at}: alerts must be whole percentages from 1 to 1000, e.g. [50, 80, 100]`);
    alerts = [...new Set(b.alerts as number[])].sort((x, y) => x - y);
  }
  return {
    name: b.name,
    scope: b.scope,
    value: (b.value as string | undefined) ?? null,
    period: b.period as BudgetPeriod,
    timeZone,
    limit: usdToString(limit),
    mode: oneOf('mode', ['enforce', 'warn'] as const, 'enforce'),
    unpriced: oneOf('unpriced', ['refuse', 'allow'] as const, 'refuse'),
    whenDatabaseDown: oneOf('whenDatabaseDown', ['allow', 'refuse'] as const, 'allow'),
    alerts,
  };
}

/** Checks a list: each budget, and no two on the same scope, value and period (they would overlap). */
export function checkBudgets(input: unknown, where: string): CheckedBudget[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new KostrackConfigError(`${where}: budgets must be an array`);
  const checked = input.map((b, i) => checkBudget(b, `${where}[${i}]`));
  const seen = new Map<string, string>();
  for (const b of checked) {
    const key = `${b.scope}\u0000${b.value ?? '\u0001'}\u0000${b.period}`;
    const other = seen.get(key);
    if (other) throw new KostrackConfigError(`${where}: budgets "${other}" and "${b.name}" overlap (same scope, value and period)`);
    if ([...seen.values()].includes(b.name)) throw new KostrackConfigError(`${where}: two budgets are named "${b.name}"`);
    seen.set(key, b.name);
  }
  return checked;
}
