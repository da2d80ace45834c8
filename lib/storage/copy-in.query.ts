import type pg from 'pg';

/** The slice of pg's protocol connection a submittable query drives. */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/** CopyData messages are sent in pieces of this size so no single buffer holds a whole batch twice. */
const CHUNK_BYTES = 256 * 1024;

/**
 * `COPY … FROM STDIN` as a `pg` submittable (the protocol `pg-copy-streams` speaks, without a
 * runtime dependency or a stream per batch): the whole payload is known up front, so it is sent
 * as soon as the server asks for it. Settles on ReadyForQuery or on the server's error.
 */
class CopyInQuery {
  /** pg replaces this with a wrapper that also clears its `query_timeout` timer. */
  callback: (error: Error | null) => void;
  private settled = false;
  rowCount = 0;

  constructor(
    readonly text: string,
    private readonly data: Buffer,
    done: (error: Error | null) => void,
  ) {
    this.callback = done;
  }

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: CopyConnection): void {
    const bytes = this.data;
    for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES)
      connection.sendCopyFromChunk(bytes.subarray(offset, Math.min(bytes.length, offset + CHUNK_BYTES)));
    connection.endCopyFrom();
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /COPY (\d+)/.exec(message?.text ?? '');
    if (match) this.rowCount = Number(match[1]);
  }

  handleReadyForQuery(): void {
    this.settle(null);
  }

  handleError(error: Error): void {
    this.settle(error);
  }

  // Never sent for COPY FROM, but pg may call them on a confused server; ignoring is safe.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  private settle(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.callback(error);
  }
}

/** Runs `COPY … FROM STDIN` with `data` (COPY text format) on `client`; resolves to the rows copied. */
export function copyIn(client: pg.ClientBase, sql: string, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const query: CopyInQuery = new CopyInQuery(sql, data, (error) => (error ? reject(error) : resolve(query.rowCount)));
    (client as unknown as { query(q: CopyInQuery): unknown }).query(query);
  });
}
