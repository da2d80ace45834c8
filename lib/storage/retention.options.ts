import { KostrackConfigError } from '../core/errors.js';

/**
 * `retention` in the storage options: how long calls and hourly rollups are kept. Off unless
 * set. Calls go a whole month at a time (their partition is dropped once all of it is older than
 * `calls`), so up to a month more than `calls` is kept; a trace goes with its last call.
 */
export interface RetentionOptions {
  /** Keep calls (and their traces and spans) this long: `'90d'`, or a number of days. */
  calls?: string | number | undefined;
  /** Keep the hourly cost rollups this long; at least `calls` (reports read them). Default: forever. */
  rollups?: string | number | undefined;
}

export interface ResolvedRetention {
  callsDays: number | null;
  rollupsDays: number | null;
}

const DAYS = /^(\d{1,5})d$/;

export function resolveRetention(value: unknown): ResolvedRetention {
  if (value === undefined || value === null) return { callsDays: null, rollupsDays: null };
  if (typeof value !== 'object' || Array.isArray(value)) throw new KostrackConfigError("Kostrack storage: retention must be an object like { calls: '90d', rollups: '400d' }");
  for (const key of Object.keys(value)) {
    if (key !== 'calls' && key !== 'rollups') throw new KostrackConfigError(`Kostrack storage: retention has no option "${key}" (calls, rollups)`);
  }
  const r = value as RetentionOptions;
  const callsDays = days(r.calls, 'calls');
  const rollupsDays = days(r.rollups, 'rollups');
  if (callsDays !== null && rollupsDays !== null && rollupsDays < callsDays)
    throw new KostrackConfigError(`Kostrack storage: retention.rollups (${rollupsDays}d) must be at least retention.calls (${callsDays}d): reports read the rollups`);
  return { callsDays, rollupsDays };
}

function days(value: unknown, key: string): number | null {
  if (value === undefined || value === null) return null;
  const n = typeof value === 'number' ? value : typeof value === 'string' && DAYS.test(value) ? Number(DAYS.exec(value)![1]) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 36_500)
    throw new KostrackConfigError(`Kostrack storage: retention.${key} must be a number of days like '90d' (1 to 36500), got ${JSON.stringify(value)}`);
  return n;
}
