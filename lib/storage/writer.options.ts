import { KostrackConfigError } from '../core/errors.js';

/** Tuning of the batched writer. Every field is optional. */
export interface WriterOptions {
  /** Rows per transaction. Default 1000. */
  batchSize?: number | undefined;
  /** A partial batch is written after this long. Default 200 ms. */
  flushIntervalMs?: number | undefined;
  /**
   * Rows held in memory (queued plus in flight). Past it new rows go to the disk spool. It is
   * also the most a hard crash (`kill -9`) can lose. Default 10,000.
   */
  maxQueue?: number | undefined;
  /** Folder of the overflow spool (replayed at start and on recovery). Default `.kostrack/spool`. */
  spoolDir?: string | undefined;
  /** JSON-lines file for rows PostgreSQL rejects. Default `.kostrack/dead-letter.jsonl`. */
  deadLetterFile?: string | undefined;
  /** On shutdown, how long to keep writing before spooling the rest. Default 5000 ms. */
  shutdownDeadlineMs?: number | undefined;
  /** First retry delay after a failed write; doubles per failure, with jitter. Default 200 ms. */
  retryBaseMs?: number | undefined;
  /** Longest retry delay. Default 15,000 ms. */
  retryMaxMs?: number | undefined;
  /**
   * A write unanswered for this long makes health report the database unreachable (a network
   * stall gives no error until the query timeout, 120 s). Default 10,000 ms.
   */
  stallAfterMs?: number | undefined;
}

export type ResolvedWriterOptions = { [K in keyof WriterOptions]-?: Exclude<WriterOptions[K], undefined> };

export const WRITER_DEFAULTS: ResolvedWriterOptions = {
  batchSize: 1000,
  flushIntervalMs: 200,
  maxQueue: 10_000,
  spoolDir: '.kostrack/spool',
  deadLetterFile: '.kostrack/dead-letter.jsonl',
  shutdownDeadlineMs: 5000,
  retryBaseMs: 200,
  retryMaxMs: 15_000,
  stallAfterMs: 10_000,
};

const INTEGER_KEYS = ['batchSize', 'flushIntervalMs', 'maxQueue', 'shutdownDeadlineMs', 'retryBaseMs', 'retryMaxMs', 'stallAfterMs'] as const;

export function resolveWriterOptions(options: unknown = {}): ResolvedWriterOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options))
    throw new KostrackConfigError(`Kostrack storage: writer must be an object, got ${JSON.stringify(options)}`);
  const input = options as Record<string, unknown>;
  const known = new Set<string>(Object.keys(WRITER_DEFAULTS));
  for (const key of Object.keys(input))
    if (!known.has(key)) throw new KostrackConfigError(`Kostrack storage: unknown writer option "${key}" (known: ${[...known].join(', ')})`);
  const out = { ...WRITER_DEFAULTS } as Record<string, unknown>;
  for (const key of INTEGER_KEYS) {
    const value = input[key];
    if (value === undefined) continue;
    const min = key === 'batchSize' || key === 'maxQueue' ? 1 : 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
      throw new KostrackConfigError(`Kostrack storage: writer.${key} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  for (const key of ['spoolDir', 'deadLetterFile'] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '')
      throw new KostrackConfigError(`Kostrack storage: writer.${key} must be a non-empty path, got ${JSON.stringify(value)}`);
    out[key] = value;
  }
  const resolved = out as ResolvedWriterOptions;
  if (resolved.batchSize > resolved.maxQueue)
    throw new KostrackConfigError(`Kostrack storage: writer.batchSize (${resolved.batchSize}) cannot exceed writer.maxQueue (${resolved.maxQueue})`);
  if (resolved.retryBaseMs > resolved.retryMaxMs)
    throw new KostrackConfigError('Kostrack storage: writer.retryBaseMs cannot exceed writer.retryMaxMs');
  return resolved;
}
