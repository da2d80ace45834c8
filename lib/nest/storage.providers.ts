import { KostrackStorageLifecycle } from './kostrack-storage.lifecycle.js';
import { KostrackHealth } from './kostrack.health.js';
import { KostrackHealthIndicator } from './kostrack.health-indicator.js';

/** What `KostrackModule` registers and exports for storage. */
export const storageProviders = [KostrackStorageLifecycle, KostrackHealth, KostrackHealthIndicator];
