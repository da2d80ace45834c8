import { KostrackConfigError } from './errors.js';

/** Tag values are stored as JSON strings so `tags->>'feature'` compares as text in SQL. */
export type Tags = Readonly<Record<string, string>>;
/** What callers may pass: numbers and booleans are coerced to their string form. */
export type TagInput = Record<string, string | number | boolean>;

export const TAG_LIMITS = { maxTags: 32, maxKeyLength: 64, maxValueLength: 256 } as const;
const KEY = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
export const EMPTY_TAGS: Tags = Object.freeze({});

/**
 * Validates and coerces tags. `strict` throws a {@link KostrackConfigError} (used where a
 * developer wrote the tags: options, decorators); `lenient` drops what is invalid and reports it
 * through `onDrop` (used for tags computed at run time, so a tracked call never breaks).
 */
export function normalizeTags(
  input: unknown,
  mode: 'strict' | 'lenient' = 'strict',
  onDrop?: (reason: string) => void,
): Tags {
  if (input === undefined || input === null) return EMPTY_TAGS;
  const fail = (reason: string): void => {
    if (mode === 'strict') throw new KostrackConfigError(`Invalid tags: ${reason}`);
    onDrop?.(reason);
  };
  if (typeof input !== 'object' || Array.isArray(input)) {
    fail(`expected a plain object of string values, got ${Array.isArray(input) ? 'an array' : typeof input}`);
    return EMPTY_TAGS;
  }
  const out: Record<string, string> = {};
  let count = 0;
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    if (!KEY.test(key) || key.length > TAG_LIMITS.maxKeyLength) {
      fail(`key ${JSON.stringify(key.slice(0, 80))} must match ${KEY} and be at most ${TAG_LIMITS.maxKeyLength} characters`);
      continue;
    }
    let value: string;
    if (typeof raw === 'string') value = raw;
    else if ((typeof raw === 'number' && Number.isFinite(raw)) || typeof raw === 'boolean') value = String(raw);
    else {
      fail(`tag "${key}" must be a string, finite number or boolean, got ${raw === null ? 'null' : typeof raw}`);
      continue;
    }
    if (value.length > TAG_LIMITS.maxValueLength) {
      fail(`tag "${key}" is ${value.length} characters; the limit is ${TAG_LIMITS.maxValueLength}`);
      continue;
    }
    if (++count > TAG_LIMITS.maxTags) {
      fail(`more than ${TAG_LIMITS.maxTags} tags`);
      break;
    }
    out[key] = value;
  }
  return count === 0 ? EMPTY_TAGS : Object.freeze(out);
}

/** The one place tags merge: later layers win (client < module < trace < span < call). */
export function mergeTags(...layers: (Tags | undefined)[]): Tags {
  let result: Tags = EMPTY_TAGS;
  let copied = false;
  for (const layer of layers) {
    if (!layer || layer === EMPTY_TAGS) continue;
    if (result === EMPTY_TAGS) {
      result = layer;
      continue;
    }
    if (!copied) {
      result = { ...result };
      copied = true;
    }
    Object.assign(result as Record<string, string>, layer);
  }
  return result;
}
