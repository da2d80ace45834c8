import { KostrackConfigError } from './errors.js';

/** Tag values are stored as JSON strings so `tags->>'feature'` compares as text in SQL. */
export type Tags = Readonly<Record<string, string>>;
/** What callers may pass: numbers and booleans are coerced to their string form. */
export type TagInput = Record<string, string | number | boolean | undefined>;

export const TAG_LIMITS = { maxTags: 32, maxKeyLength: 64, maxValueLength: 256 } as const;
// `__proto__` is refused: assigning it (`out[key] =`, Object.assign in mergeTags) calls the
// prototype setter, so the tag would vanish without a word instead of being stored.
const KEY = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_.:-]*$/;
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
  if (isCleanTags(input)) return input as Tags;
  if (typeof input !== 'object' || Array.isArray(input)) {
    fail(`expected a plain object of string values, got ${Array.isArray(input) ? 'an array' : typeof input}`);
    return EMPTY_TAGS;
  }
  const out: Record<string, string> = {};
  let count = 0;
  for (const key in input) {
    if (!Object.prototype.hasOwnProperty.call(input, key)) continue;
    const raw = (input as Record<string, unknown>)[key];
    if (raw === undefined) continue;
    if (!validKeys.has(key) && !checkKey(key)) {
      fail(
        key === '__proto__'
          ? 'key "__proto__" is reserved: JavaScript objects cannot hold it as a plain key'
          : `key ${JSON.stringify(key.slice(0, 80))} must match ${KEY} and be at most ${TAG_LIMITS.maxKeyLength} characters`,
      );
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
  return count === 0 ? EMPTY_TAGS : out;
}

/** The common case: a plain object of short strings under keys seen before; used without copying. */
function isCleanTags(input: unknown): boolean {
  if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return false;
  let count = 0;
  for (const key in input) {
    const value = (input as Record<string, unknown>)[key];
    if (typeof value !== 'string' || value.length > TAG_LIMITS.maxValueLength || !validKeys.has(key)) return false;
    if (++count > TAG_LIMITS.maxTags) return false;
  }
  return count > 0;
}

// Tag keys repeat across calls ('feature', 'user_id'); checking each once keeps tracing cheap.
const validKeys = new Set<string>();
function checkKey(key: string): boolean {
  if (!KEY.test(key) || key.length > TAG_LIMITS.maxKeyLength) return false;
  if (validKeys.size < 10_000) validKeys.add(key);
  return true;
}

/**
 * The one place tags merge: later layers win (client < module < trace < span < call). Returns a
 * layer itself when it is the only non-empty one, else one new object.
 */
export function mergeTags(a?: Tags, b?: Tags, c?: Tags): Tags {
  const hasA = a !== undefined && a !== EMPTY_TAGS;
  const hasB = b !== undefined && b !== EMPTY_TAGS;
  const hasC = c !== undefined && c !== EMPTY_TAGS;
  if (hasA ? !hasB && !hasC : hasB !== hasC) return hasA ? a : hasB ? b : c!;
  if (!hasA && !hasB) return EMPTY_TAGS;
  return Object.assign({}, a, b, c);
}
