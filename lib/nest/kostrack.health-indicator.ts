import { Inject, Injectable } from '@nestjs/common';
import { KostrackHealth } from './kostrack.health.js';

/** The shape @nestjs/terminus expects from an indicator; built by hand so terminus stays optional. */
export type KostrackHealthIndicatorResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down'; [detail: string]: unknown }
>;

/**
 * For hosts that use @nestjs/terminus:
 * `this.health.check([() => this.kostrack.isHealthy('kostrack')])`. A `down` result fails the check.
 */
@Injectable()
export class KostrackHealthIndicator {
  constructor(@Inject(KostrackHealth) private readonly health: KostrackHealth) {}

  isHealthy<Key extends string = 'kostrack'>(key: Key = 'kostrack' as Key): KostrackHealthIndicatorResult<Key> {
    const h = this.health.check();
    const details = h.enabled
      ? {
          databaseReachable: h.databaseReachable ?? null,
          queueDepth: h.queueDepth ?? 0,
          spoolBytes: h.spoolBytes ?? 0,
          deadLettered: h.deadLettered ?? 0,
          lostRows: h.lostRows ?? 0,
          lastFlushAt: h.lastFlushAt?.toISOString() ?? null,
          lastError: h.lastError ? `${h.lastError.code ?? 'error'}: ${h.lastError.message}` : null,
          // A spool that cannot be written is not an outage, but the next outage would lose rows.
          spoolError: h.spoolError ? `${h.spoolError.code ?? 'error'}: ${h.spoolError.message}` : null,
        }
      : { storage: 'disabled' };
    return { [key]: { status: this.health.isUp() ? 'up' : 'down', ...details } } as unknown as KostrackHealthIndicatorResult<Key>;
  }
}
