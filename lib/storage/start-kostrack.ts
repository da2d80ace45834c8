import { configureKostrack } from '../core/configure.js';
import { assertServiceId } from '../core/runtime.js';
import { defaultPriceBook } from '../pricing/default-price-book.js';
import { attachStorage } from './storage.attachment.js';
import { normalizeTags, type TagInput } from '../core/tags.js';
import { TelemetryStorage, type StorageHealth } from './telemetry.storage.js';
import { resolveStorageOptions, type StorageOptions } from './storage.options.js';

/** `startKostrack()` options: what `KostrackModule.forRoot()` takes, minus the Nest-only parts. */
export interface StartKostrackOptions extends StorageOptions {
  /** Stored on every row as `service_id`. Default `KOSTRACK_SERVICE_ID` or `default`. */
  serviceId?: string | undefined;
  /** Process-wide tags under every trace's tags, e.g. `{ project: 'openmanagr' }`. */
  tags?: TagInput | undefined;
}

/** A running Kostrack outside Nest: close it before the process ends to flush what is queued. */
export interface KostrackHandle {
  /** Null when storage is off (`database: false`). */
  readonly storage: TelemetryStorage | null;
  health(): StorageHealth;
  /** Resolves once every row recorded so far is committed (or dead-lettered); rejects after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes within `deadlineMs` (the rest is spooled and replayed at the next start). */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Kostrack for scripts, workers and LangGraph runs without Nest: configures the process, opens
 * storage (a URL, TypeORM options, or the embedded database when nothing is set), runs the
 * migrations and sends every traced call to the writer. Bad options throw a `KostrackConfigError`.
 */
export async function startKostrack(options: StartKostrackOptions = {}): Promise<KostrackHandle> {
  const { serviceId, tags, ...storageOptions } = options;
  const normalized = normalizeTags(tags);
  if (serviceId !== undefined) assertServiceId(serviceId, 'startKostrack');
  // stderr: a script's stdout may be its output (JSON, CSV); the start line is a diagnostic.
  const storage = await TelemetryStorage.open(storageOptions, { info: (message) => console.error(message) });
  configureKostrack({ serviceId, tags: normalized });
  const warn = (message: string) => process.emitWarning(message, { code: 'KOSTRACK' });
  // Wrapped clients price with the process-wide book unless given one; it also reads llm_prices.
  const resolved = resolveStorageOptions(storageOptions);
  const attachment = storage
    ? await attachStorage(storage, defaultPriceBook(), warn, { budgets: resolved.budgets, onBudgetAlert: storageOptions.onBudgetAlert, budgetOptions: storageOptions.budgetOptions }).catch(async (e: unknown) => {
        await storage.close().catch(() => undefined);
        throw e;
      })
    : null;
  return {
    storage,
    health: () => storage?.health() ?? { enabled: false },
    flush: async (timeoutMs?: number) => {
      await storage?.writer.drain(timeoutMs);
    },
    async close(deadlineMs?: number) {
      try {
        await storage?.close(deadlineMs);
      } finally {
        attachment?.detach();
      }
    },
  };
}
