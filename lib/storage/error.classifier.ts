/**
 * Tells a rejected row from an unavailable database. Only errors that one row's content can
 * cause are "data" errors; they are bisected and dead-lettered. Everything else (refused or
 * dropped connections, shutdowns, timeouts, lock conflicts, a missing table) is retried, so a
 * healthy database is never blamed on a poison row and an outage never drops rows.
 */
const DATA_CLASSES = new Set(['22', '23', '54']);

export function sqlState(error: unknown): string | undefined {
  const e = error as { code?: unknown; severity?: unknown } | null;
  const code = e?.code;
  // Node's own codes can look like SQLSTATEs (EPIPE, EPERM); only a server error has a severity.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof e?.severity === 'string' ? code : undefined;
}

export function isDataError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && DATA_CLASSES.has(state.slice(0, 2));
}

export function isConnectionError(error: unknown): boolean {
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
