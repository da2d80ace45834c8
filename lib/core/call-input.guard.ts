import type { CallInput } from './call-record.js';
import { runtime } from './runtime.js';

/**
 * The most the `integer` columns of `llm_calls` (token counts, `latency_ms`) hold. A larger value
 * gets the whole row dead-lettered, so it is clamped here and the row says so.
 */
export const MAX_STORED_INT = 2_147_483_647;

/** The most `llm_calls.attempts` (a `smallint`) holds. */
export const MAX_ATTEMPTS = 32_767;

/**
 * True when every number `recordCall` stores fits its column and `time` is usable. It runs on
 * every tracked call, so it is comparisons only, no allocation: `(n | 0) === n` holds exactly for
 * 32-bit integers (never for NaN, ±Infinity, fractions, 2^31 or more), `n >= 0` then leaves
 * 0..2^31-1. The `typeof` comes first because `|` throws on a bigint.
 */
export function isSoundCallInput(input: CallInput): boolean {
  const i = input.inputTokens;
  const o = input.outputTokens;
  const c = input.cachedTokens;
  const l = input.latencyMs;
  const t = input.time;
  const a = input.attempts;
  return (
    typeof i === 'number' && (i | 0) === i && i >= 0 &&
    typeof o === 'number' && (o | 0) === o && o >= 0 &&
    typeof c === 'number' && (c | 0) === c && c >= 0 &&
    typeof l === 'number' && l >= 0 && l <= MAX_STORED_INT &&
    (t === undefined || t === null || (t instanceof Date && t.getTime() === t.getTime())) &&
    (a === undefined || a === null || (typeof a === 'number' && (a | 0) === a && a >= 1 && a <= MAX_ATTEMPTS))
  );
}

/**
 * A copy of `input` whose numbers fit their columns and whose time is usable, with each
 * correction listed in `metadata.input_issues` (seen and stored) and warned once per kind per
 * process: a caller with a bug repeats it on every call, and one warning is enough to find it.
 * Never throws.
 */
export function repairCallInput(input: CallInput): CallInput {
  const issues: string[] = [];
  const fixed: CallInput = { ...input };
  fixed.inputTokens = tokenCount(input.inputTokens, 'inputTokens', issues);
  fixed.outputTokens = tokenCount(input.outputTokens, 'outputTokens', issues);
  fixed.cachedTokens = tokenCount(input.cachedTokens, 'cachedTokens', issues);
  fixed.latencyMs = latency(input.latencyMs, issues);
  fixed.attempts = attempts(input.attempts, issues);
  const t: unknown = input.time;
  if (t !== undefined && t !== null && !(t instanceof Date && !Number.isNaN(t.getTime()))) {
    // The default a call without a time gets: it started latencyMs before it was recorded.
    fixed.time = undefined;
    note(issues, 'time', `time: ${t instanceof Date ? 'an Invalid Date' : `not a Date (${kindOf(t)})`}; stored now minus latencyMs`);
  }
  if (issues.length > 0) fixed.metadata = { ...input.metadata, input_issues: issues };
  return fixed;
}

/** Fields whose correction was already warned about; the row's metadata still notes every one. */
const warned = new Set<string>();

function note(issues: string[], field: string, issue: string): void {
  issues.push(issue);
  if (warned.has(field)) return;
  warned.add(field);
  try {
    runtime.warn(`Kostrack corrected a recorded call's ${issue} (later corrections of ${field} are noted only in metadata.input_issues)`);
  } catch {
    // A throwing warn hook must not cost the call its row.
  }
}

function tokenCount(value: unknown, field: string, issues: string[]): number {
  if (typeof value === 'number' && (value | 0) === value && value >= 0) return value;
  return clamp(value, field, issues);
}

function latency(value: unknown, issues: string[]): number {
  if (typeof value === 'number' && value >= 0 && value <= MAX_STORED_INT) return value;
  return clamp(value, 'latencyMs', issues);
}

/**
 * Attempts are a count the SDK reported, not a quantity to clamp: a value that is not one (0, a
 * fraction, a string) is stored as NULL, unknown, rather than as a guess.
 */
function attempts(value: unknown, issues: string[]): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= MAX_ATTEMPTS) return value;
  const seen = typeof value !== 'number' ? `not a number (${kindOf(value)})` : `${value} is not a whole number from 1 to ${MAX_ATTEMPTS}`;
  note(issues, 'attempts', `attempts: ${seen}; stored NULL (unknown)`);
  return null;
}

/** Not a number or negative → 0; too large (Infinity included) → the column's maximum; a fraction → rounded. */
function clamp(value: unknown, field: string, issues: string[]): number {
  let stored: number;
  let seen: string;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    stored = 0;
    seen = typeof value === 'number' ? 'NaN' : `not a number (${kindOf(value)})`;
  } else if (value < 0) {
    stored = 0;
    seen = `${value} is negative`;
  } else if (value > MAX_STORED_INT) {
    stored = MAX_STORED_INT;
    seen = `${value} is over ${MAX_STORED_INT}`;
  } else {
    stored = Math.round(value);
    seen = `${value} is not an integer`;
  }
  note(issues, field, `${field}: ${seen}; stored ${stored}`);
  return stored;
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : typeof value;
}
