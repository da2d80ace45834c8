import { drainRecords } from './deferred-records.js';
import { assertServiceId, runtime, type RuntimeOptions } from './runtime.js';

/**
 * Sets process-wide options (the Nest module calls this from `forRoot`). Calls that finished
 * before are recorded first, with the options they finished under: switching tracking off or
 * changing the service id never drops or relabels them.
 */
export function configureKostrack(options: RuntimeOptions): void {
  if (options.serviceId !== undefined) assertServiceId(options.serviceId, 'configureKostrack');
  drainRecords();
  if (options.enabled !== undefined) runtime.enabled = options.enabled;
  if (options.serviceId !== undefined) runtime.serviceId = options.serviceId;
  if (options.tags !== undefined) runtime.tags = options.tags;
  if (options.warn !== undefined) runtime.warn = options.warn;
}
