import type { DynamicModule } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { resolveAdminOptions, type AdminOptions } from './admin.options.js';

/** What the admin API's validation and OpenAPI decorators need, and only it: optional peers. */
export const ADMIN_PEERS = ['@nestjs/swagger', 'class-validator', 'class-transformer'] as const;

/**
 * Adds the admin API to KostrackModule's definition when `admin.enabled`, loading its code only
 * then: its DTOs are decorated with `@nestjs/swagger` and `class-validator` at class definition,
 * so an app that never enables admin must never load them. Options are checked now (a typo fails
 * at declaration, as before); the rest is a promise Nest awaits in `imports`.
 */
export function withAdmin(definition: DynamicModule, admin: AdminOptions | undefined, keyMayComeLater = false): DynamicModule | Promise<DynamicModule> {
  const declared = resolveAdminOptions(admin, !keyMayComeLater);
  if (!declared.enabled) return definition;
  const loaded = loadAdminParts().then((parts) => parts.withAdminParts(definition, admin, declared));
  // Nest awaits this only when it scans the imports; until then a failure must not be an unhandled rejection.
  loaded.catch(() => undefined);
  return loaded;
}

async function loadAdminParts(): Promise<typeof import('./admin.module-parts.js')> {
  const missing: string[] = [];
  for (const peer of ADMIN_PEERS) {
    try {
      await import(peer);
    } catch (e) {
      if (!isMissingPackage(e, peer)) throw e;
      missing.push(peer);
    }
  }
  if (missing.length > 0)
    throw new KostrackConfigError(
      `Kostrack admin API (admin.enabled) needs ${missing.join(', ')}, not installed: npm i ${missing.join(' ')} — or leave admin off`,
    );
  return import('./admin.module-parts.js');
}

function isMissingPackage(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string } | null;
  return (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(`'${name}'`);
}
