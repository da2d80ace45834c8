/** Thrown when Kostrack is configured or called wrongly; never thrown from inside a tracked call. */
export class KostrackConfigError extends TypeError {
  override readonly name = 'KostrackConfigError';
}
