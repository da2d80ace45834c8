import { accessSync, closeSync, constants, createReadStream, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * Append-only overflow on disk, in segment files of JSON lines.
 *
 * - `active-<pid>-<n>.jsonl`: the segment this process appends to (synchronously: the record
 *   path must not await, and a sync append bounds memory however fast calls arrive).
 * - `ready-<pid>-<n>.jsonl`: a closed segment waiting to be replayed.
 * - `replay-<pid>-<n>.jsonl`: a segment a live process is replaying.
 *
 * A segment is claimed by renaming it (atomic; the loser's rename fails), so processes that share
 * a folder never replay the same segment at once; segments of dead processes are claimable.
 * A segment is deleted only after every row in it was committed, so a crash mid-replay replays it
 * again, which the idempotent writes turn into a no-op.
 */
export class DiskSpool {
  private fd: number | null = null;
  private activeName: string | null = null;
  private sequence = 0;
  private buffer: string[] = [];
  private bufferedBytes = 0;
  private activeBytes = 0;
  /** Lines this process has written to disk (rows already on disk at start are not counted). */
  writtenRows = 0;
  /** Lines that could not be written (a full disk, a read-only or missing folder): they are lost. */
  lostRows = 0;

  constructor(
    readonly dir: string,
    /** Lines are gathered up to this many bytes before one write; it bounds what a crash can lose. */
    private readonly chunkBytes = 64 * 1024,
  ) {
    // The folder is made on the first write, not here: a spool folder that cannot be created must
    // not stop the host from starting (tracking then runs degraded and health says why).
  }

  /** Throws unless the folder exists (or can be made) and takes writes. */
  check(): void {
    mkdirSync(this.dir, { recursive: true });
    accessSync(this.dir, constants.W_OK);
  }

  /** Queues one line; written at once when the chunk is full, else at the next {@link sync}. */
  append(line: string): void {
    this.buffer.push(line);
    this.bufferedBytes += line.length + 1;
    if (this.bufferedBytes >= this.chunkBytes) this.sync();
  }

  /**
   * Writes the gathered lines to the active segment; returns how many. On a disk error, the lines written whole
   * stay (a torn last line is cut off), the rest are counted in {@link lostRows}, and a
   * {@link SpoolWriteError} says how many.
   */
  sync(): number {
    if (this.buffer.length === 0) return 0;
    const lines = this.buffer;
    this.buffer = [];
    this.bufferedBytes = 0;
    const data = Buffer.from(lines.join('\n') + '\n', 'utf8');
    let written = 0;
    try {
      if (this.fd === null) this.open();
      while (written < data.length) written += writeSync(this.fd!, data, written);
      this.activeBytes += data.length;
      this.writtenRows += lines.length;
      return lines.length;
    } catch (e) {
      const kept = this.keepWholeLines(lines, written);
      this.writtenRows += kept;
      this.lostRows += lines.length - kept;
      throw new SpoolWriteError(e, lines.length - kept, this.dir);
    }
  }

  /** After a short write: counts the lines that reached the file whole and cuts off a torn one. */
  private keepWholeLines(lines: string[], written: number): number {
    let bytes = 0;
    let kept = 0;
    for (const line of lines) {
      const next = bytes + Buffer.byteLength(line, 'utf8') + 1;
      if (next > written) break;
      bytes = next;
      kept++;
    }
    if (this.fd !== null && written > bytes) {
      try {
        ftruncateSync(this.fd, this.activeBytes + bytes);
      } catch {
        // Left torn: the replay dead-letters an unreadable line instead of failing on it.
      }
    }
    this.activeBytes += bytes;
    return kept;
  }

  private open(): void {
    mkdirSync(this.dir, { recursive: true });
    const name = `active-${process.pid}-${Date.now()}-${this.sequence++}.jsonl`;
    this.fd = openSync(join(this.dir, name), 'a');
    this.activeName = name;
    this.activeBytes = 0;
  }

  /** Closes the active segment so it can be replayed; new lines start a new one. */
  seal(): void {
    this.sync();
    if (this.fd === null || this.activeName === null) return;
    closeSync(this.fd);
    const name = this.activeName;
    this.fd = null;
    this.activeName = null;
    this.activeBytes = 0;
    renameSync(join(this.dir, name), join(this.dir, name.replace(/^active-/, 'ready-')));
  }

  /** Bytes waiting on disk (all segments in the folder, including other processes' and unsynced lines). */
  backlogBytes(): number {
    let total = this.bufferedBytes;
    for (const name of this.segmentNames()) {
      try {
        total += statSync(join(this.dir, name)).size;
      } catch {
        // Deleted by a concurrent replay between listing and stat.
      }
    }
    return total;
  }

  /** Whether anything is waiting, cheaply (no stat of every segment). */
  hasBacklog(): boolean {
    return this.bufferedBytes > 0 || this.activeBytes > 0 || this.segmentNames().some((n) => this.claimable(n));
  }

  /**
   * Claims the oldest replayable segment: our own sealed ones, and any left by dead processes.
   * Seals our active segment first when it is the only thing left.
   */
  claim(): string | null {
    let names = this.segmentNames().filter((n) => this.claimable(n));
    if (names.length === 0 && (this.activeBytes > 0 || this.bufferedBytes > 0)) {
      this.seal();
      names = this.segmentNames().filter((n) => this.claimable(n));
    }
    names.sort((a, b) => stamp(a) - stamp(b));
    for (const name of names) {
      const claimed = `replay-${process.pid}-${name.replace(/^(active|ready|replay)-\d+-/, '')}`;
      try {
        renameSync(join(this.dir, name), join(this.dir, claimed));
        this.replaying.add(claimed);
        return join(this.dir, claimed);
      } catch {
        // Another process claimed it first.
      }
    }
    return null;
  }

  /** Reads a claimed segment in batches of lines; memory stays at one batch. */
  async *read(path: string, batchLines: number): AsyncGenerator<string[]> {
    const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
    let batch: string[] = [];
    for await (const line of lines) {
      if (line === '') continue;
      batch.push(line);
      if (batch.length >= batchLines) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** Gives a claimed segment back unread (it could not be read); it is claimable again. */
  unclaim(path: string): void {
    this.replaying.delete(basename(path));
  }

  /** Called once every row of a claimed segment is committed. */
  release(path: string): void {
    this.replaying.delete(basename(path));
    try {
      unlinkSync(path);
    } catch {
      // Already gone.
    }
  }

  /** Syncs and closes; the active segment is sealed so the next start replays it. */
  close(): void {
    this.seal();
  }

  /** The fd size of the active segment, for tests. */
  activeSize(): number {
    return this.fd === null ? 0 : fstatSync(this.fd).size;
  }

  private segmentNames(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => /^(active|ready|replay)-\d+-.*\.jsonl$/.test(n));
    } catch {
      return [];
    }
  }

  private claimable(name: string): boolean {
    const [state, pidText] = name.split('-');
    const pid = Number(pidText);
    if (state === 'ready') return true;
    if (name === this.activeName) return false;
    // Our own pid on a segment we do not hold open: left by an earlier process that had our pid.
    if (pid === process.pid) return state === 'active' || state === 'replay' ? !this.isOurs(name) : true;
    return !alive(pid);
  }

  private isOurs(name: string): boolean {
    return name === this.activeName || this.replaying.has(name);
  }

  /** Names of segments this process is replaying now (claimed, not yet released). */
  readonly replaying = new Set<string>();
}

/** The spool could not take some lines; they are lost, and this says how many. */
export class SpoolWriteError extends Error {
  override readonly name = 'SpoolWriteError';
  readonly code: string | null;

  constructor(
    cause: unknown,
    readonly lostRows: number,
    dir: string,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`spool ${dir}: ${reason}`, { cause });
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creation time from `<state>-<pid>-<ms>-<n>.jsonl`, for oldest-first replay. */
function stamp(name: string): number {
  const parts = name.split('-');
  return Number(parts[2]) * 1e6 + Number(parts[3]?.split('.')[0] ?? 0);
}
