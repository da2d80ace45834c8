import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsISO8601, IsString, Matches, MaxLength } from 'class-validator';

/**
 * Shapes of query values. They are strict on purpose: every value ends up as a bound SQL
 * parameter, and rejecting odd shapes here gives a 400 with a clear message instead of a
 * database error.
 */

/** A tag key as `normalizeTags` accepts it (it also lets `__proto__` through: no row holds that key, so it matches nothing). */
export const TAG_KEY_SOURCE = '[A-Za-z_][A-Za-z0-9_.:-]{0,63}';
export const TAG_KEY = new RegExp(`^${TAG_KEY_SOURCE}$`);
/** `key:value`, split at the first colon (keys that contain a colon cannot be filtered this way). */
export const TAG_FILTER = /^([A-Za-z_][A-Za-z0-9_.-]{0,63}):([\s\S]{0,256})$/;
/** A date, or a date and time with an optional zone (UTC when absent); no week or ordinal dates. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
/** A non-negative decimal USD amount, at most 15 decimals (the precision of `Usd`). */
export const USD_AMOUNT = /^\d{1,12}(?:\.\d{1,15})?$/;

/** ISO-8601 date-time, validated for the calendar too (`2026-02-31` is refused). */
export function IsIsoTime(): PropertyDecorator {
  return applyDecorators(
    IsString(),
    Matches(ISO_TIME, { message: '$property must be an ISO-8601 date or date-time, e.g. 2026-01-31T12:00:00Z' }),
    IsISO8601({ strict: true, strictSeparator: true }, { message: '$property must be a valid ISO-8601 date' }),
  ) as PropertyDecorator;
}

/** A short free-text filter value. */
export function IsFilterText(): PropertyDecorator {
  return applyDecorators(IsString(), MaxLength(256)) as PropertyDecorator;
}

/** Repeatable `tag=key:value`: one value arrives as a string, several as an array. */
export function IsTagFilters(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }) => (value === undefined ? undefined : Array.isArray(value) ? value : [value])),
    IsArray(),
    ArrayMaxSize(16),
    IsString({ each: true }),
    Matches(TAG_FILTER, { each: true, message: 'tag must be key:value, the key like feature or user_id' }),
  ) as PropertyDecorator;
}

/** UTC time in ms; the DTO has already checked the shape. Strings without a zone are UTC. */
export function parseIsoTime(value: string): Date {
  const zoned = /T.*(?:Z|[+-]\d{2}:?\d{2})$/.test(value) || !value.includes('T') ? value : `${value}Z`;
  return new Date(zoned);
}
