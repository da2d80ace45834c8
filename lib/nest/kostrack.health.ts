import { Inject, Injectable } from '@nestjs/common';
import type { StorageHealth } from '../storage/telemetry.storage.js';
import { KostrackStorageLifecycle } from './kostrack-storage.lifecycle.js';

/**
 * Storage health for the host: queue depth, spool backlog, last flush, last error, whether the
 * database is reachable. Inject it anywhere (`constructor(private health: KostrackHealth)`).
 */
@Injectable()
export class KostrackHealth {
  constructor(@Inject(KostrackStorageLifecycle) private readonly lifecycle: KostrackStorageLifecycle) {}

  check(): StorageHealth {
    return this.lifecycle.health();
  }

  /**
   * Resolves once every row recorded so far is committed (or dead-lettered); for tests and for
   * jobs that want their costs in the database before they report. Rejects after `timeoutMs`.
   */
  async flush(timeoutMs?: number): Promise<void> {
    await this.lifecycle.current?.writer.drain(timeoutMs);
  }

  /**
   * Up when storage is off or the database took the last write. Rows are not lost while down
   * (they queue and spool), but they are not landing either, which an operator wants to know.
   */
  isUp(): boolean {
    const h = this.check();
    return !h.enabled || h.databaseReachable !== false;
  }
}
