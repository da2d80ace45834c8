/** The little of a database connection the storage layer needs; backed by `pg` or a host DataSource. */
export interface SqlRunner {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /**
   * `COPY … FROM STDIN` with `data` in COPY text format; resolves to the rows copied. Absent when
   * the connection cannot stream COPY (then the writer uses plain statements).
   */
  copyFrom?(sql: string, data: Buffer): Promise<number>;
  /**
   * `sql` as a named prepared statement of this connection: parsed and planned once per connection,
   * not per call. For large statements run many times (the writer's batch rollups). Absent where
   * the connection cannot keep one; callers then use `query`.
   */
  prepared?<R = Record<string, unknown>>(name: string, sql: string, params: unknown[]): Promise<R[]>;
}

export interface SqlPool extends SqlRunner {
  /** Runs `fn` in one transaction on one connection; rolls back if it throws. */
  transaction<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T>;
  /** Releases connections this pool opened; a host's DataSource is left alone. */
  close(): Promise<void>;
}
