/** What went wrong talking to a provider's admin report API. */
export type ProviderCostsErrorKind =
  /** The request never got an answer (DNS, refused, reset, timeout). */
  | 'network'
  /** The API answered with an HTTP error (401 wrong key, 403 not an admin key, 429, 5xx). */
  | 'http'
  /** The answer is not the documented shape: not JSON (a truncated body), missing fields, a bucket that is not a UTC day. */
  | 'malformed'
  /** An amount or a token count that is negative, not a number, or not finite. */
  | 'amount'
  /** An amount in a currency other than USD (tracked costs are USD; converting would invent a rate). */
  | 'currency'
  /** The pages do not chain: more pages announced without a cursor, or a cursor seen twice. */
  | 'pagination';

/**
 * An import stopped because a provider's answer could not be trusted. Nothing of the import was
 * stored (it writes only after every page was read and checked), so running it again is safe.
 */
export class KostrackProviderCostsError extends Error {
  override readonly name = 'KostrackProviderCostsError';

  constructor(
    readonly provider: string,
    readonly kind: ProviderCostsErrorKind,
    message: string,
    /** The HTTP status, for `http`. */
    readonly status: number | null = null,
  ) {
    super(`${provider} cost import: ${message}`);
  }
}
