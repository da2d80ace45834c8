/**
 * Collects bound parameters while a statement is assembled. Every value from a request goes
 * through `add`, so request text never becomes SQL text; only fixed fragments are spliced.
 */
export class SqlParams {
  readonly values: unknown[] = [];

  /** Binds `value` and returns its placeholder (`$1`, `$2`, …). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
