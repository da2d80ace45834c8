import type { DiskSpool } from './disk.spool.js';
import { describeError } from './error.classifier.js';
import type { PoisonRowIsolator } from './poison-row.isolator.js';
import { decodeItem, type TelemetryItem } from './record.codec.js';

/**
 * Replays the disk spool one batch at a time, oldest segment first. A segment is released
 * (deleted) only after every row in it was committed or dead-lettered, so a crash mid-replay
 * replays it again, which the idempotent writes turn into a no-op.
 */
export class SpoolReplayer {
  private current: { path: string; lines: AsyncGenerator<string[]>; pending: TelemetryItem[] | null } | null = null;

  constructor(
    private readonly spool: DiskSpool,
    private readonly rows: PoisonRowIsolator,
    private readonly batchSize: number,
    /** Sealing or reading a segment failed (a disk error); reported, not thrown. */
    private readonly onSpoolError: (error: unknown) => void,
    /** A batch was written (committed, or its bad rows dead-lettered). */
    private readonly onWritten: (items: readonly TelemetryItem[]) => void = () => undefined,
  ) {}

  /** A segment is claimed and not finished. */
  get active(): boolean {
    return this.current !== null;
  }

  /** Replays one batch; `idle` when nothing is left to replay. */
  async step(): Promise<'idle' | 'progress' | 'down'> {
    if (!this.current) {
      let path: string | null;
      try {
        path = this.spool.claim();
      } catch (e) {
        this.onSpoolError(e);
        return 'idle';
      }
      if (!path) return 'idle';
      this.current = { path, lines: this.spool.read(path, this.batchSize), pending: null };
    }
    const replay = this.current;
    if (!replay.pending) {
      let next: IteratorResult<string[]>;
      try {
        next = await replay.lines.next();
      } catch (e) {
        // A read error (EMFILE, EIO) ends the generator: releasing the segment now would delete
        // rows never written. It is given back, unread, to be claimed again after the backoff.
        this.current = null;
        this.spool.unclaim(replay.path);
        this.onSpoolError(e);
        return 'down';
      }
      if (next.done) {
        this.spool.release(replay.path);
        this.current = null;
        return 'progress';
      }
      // Decoded once: a retry after an outage must not dead-letter a bad line a second time.
      replay.pending = [];
      for (const line of next.value) {
        try {
          replay.pending.push(decodeItem(line));
        } catch (e) {
          // A torn last line from a crash mid-append, or a row no database could take; kept for
          // inspection, never retried.
          this.rows.rejectLine(line, { code: 'SPOOL', message: `unreadable spool line: ${describeError(e).message}` });
        }
      }
    }
    if ((await this.rows.write(replay.pending)) === 'down') return 'down';
    this.onWritten(replay.pending);
    replay.pending = null;
    return 'progress';
  }

  /** Stops reading the claimed segment (it stays claimed by this process until it exits). */
  async stop(): Promise<void> {
    await this.current?.lines.return(undefined).catch(() => undefined);
  }
}
