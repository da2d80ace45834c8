/**
 * The one place that says what a failed write means:
 * - a **rejected row** (poison): something in one row's content that PostgreSQL refuses or that
 *   cannot even be encoded; the batch is bisected down to it and it is dead-lettered;
 * - an **outage**: everything else (refused or dropped connections, shutdowns, timeouts, lock
 *   conflicts, a missing table); the batch is kept and retried with backoff, never dropped.
 * So a healthy database is never blamed on a poison row and an outage never drops rows.
 */
const DATA_CLASSES = new Set(['22', '23', '54']);

/**
 * A row the writer could not turn into statement parameters or COPY text (an invalid date, a
 * value JSON cannot hold). Content, not availability: it is a rejected row like a 22xxx error.
 */
export class RowEncodingError extends Error {
  override readonly name = 'RowEncodingError';
  readonly code = 'ROW_ENCODING';
}

export function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; severity?: unknown } | null;
  const code = e?.code;
  // Node's own codes can look like SQLSTATEs (EPIPE, EPERM); only a server error has a severity.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof e?.severity === 'string' ? code : undefined;
}

/** A rejected row: bisect and dead-letter, never retry as an outage. */
export function isDataError(error: unknown): boolean {
  if (error instanceof RowEncodingError) return true;
  const state = sqlState(error);
  // No partition for a row's month (one could not be made: permissions, a lock) is the table's
  // state, not the row's: retried like an outage, never dead-lettered.
  if (state === '23514' && /no partition of relation/i.test((error as Error).message ?? '')) return false;
  return state !== undefined && DATA_CLASSES.has(state.slice(0, 2));
}

/** The database (or the way to it) is unavailable, as opposed to answering with an error. */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof RowEncodingError) return false;
  const state = sqlState(error);
  if (state) return state.startsWith('08') || state.startsWith('57P');
  return true; // socket errors (ECONNREFUSED, ECONNRESET, timeouts) carry no SQLSTATE
}

/** A short description for health and logs; never row content (it may quote prompts). */
export function describeError(error: unknown): { code: string | null; message: string } {
  const state = sqlState(error);
  const errno = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return { code: state ?? (typeof errno === 'string' ? errno : null), message: message.slice(0, 300) };
}
