import type { CanActivate, Type } from '@nestjs/common';
import { KostrackConfigError } from '../core/errors.js';
import { checkAdminSource, COST_PROVIDERS, type CostProvider, type ProviderAdminSource } from '../reconcile/reconcile.options.js';

/** `admin` in `KostrackModule.forRoot()`: the REST API and dashboard, off unless `enabled`. */
export interface AdminOptions {
  /** Registers the admin routes. Default false: when off, the routes do not exist at all. */
  enabled?: boolean | undefined;
  /** Route prefix of the API and the dashboard. Default `kostrack` (so `/kostrack/traces`, `/kostrack/`). */
  path?: string | undefined;
  /**
   * Key expected in the `x-kostrack-api-key` header (or `Authorization: Bearer <key>`), at least
   * 16 characters. Compared in constant time. Required unless `guard` is given.
   */
  apiKey?: string | undefined;
  /**
   * The host's own guard (session, JWT, roles) in place of the API key; it may extend
   * `KostrackAdminGuard`. It is instantiated in KostrackModule, so its dependencies must come
   * from global modules.
   */
  guard?: Type<CanActivate> | undefined;
  /**
   * Admin keys of the providers' cost report APIs, for `POST <path>/provider-costs/import`. Apart
   * from the clients' inference keys: the reports need an organization admin key.
   */
  providerCosts?: Partial<Record<CostProvider, ProviderAdminSource>> | undefined;
}

export interface ResolvedAdminOptions {
  enabled: boolean;
  path: string;
  apiKey: string | undefined;
  guard: Type<CanActivate> | undefined;
  providerCosts: Partial<Record<CostProvider, ProviderAdminSource>>;
}

export const DEFAULT_ADMIN_PATH = 'kostrack';
export const ADMIN_API_KEY_HEADER = 'x-kostrack-api-key';
export const MIN_API_KEY_LENGTH = 16;
/** Resolved admin options (the API key may only be known once `forRootAsync` resolves). */
export const KOSTRACK_ADMIN_OPTIONS = Symbol.for('kostrack:admin-options');

// Segments of letters, digits, `-`, `_`, `.`: a prefix that cannot smuggle route syntax or `..`.
const PATH = /^(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*)(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/**
 * Validates `admin` when the module is declared. `requireAuth` is false for the static half of
 * `forRootAsync`, whose API key arrives later from the factory.
 */
export function resolveAdminOptions(admin: unknown, requireAuth = true): ResolvedAdminOptions {
  if (admin === undefined || admin === null) return { enabled: false, path: DEFAULT_ADMIN_PATH, apiKey: undefined, guard: undefined, providerCosts: {} };
  if (typeof admin !== 'object' || Array.isArray(admin)) throw new KostrackConfigError('KostrackModule: admin must be an object like { enabled: true, apiKey }');
  const a = admin as AdminOptions;
  if (a.enabled !== undefined && typeof a.enabled !== 'boolean') throw new KostrackConfigError('KostrackModule: admin.enabled must be a boolean');
  const path = a.path === undefined ? DEFAULT_ADMIN_PATH : String(a.path).replace(/^\/+|\/+$/g, '');
  if (typeof a.path !== 'undefined' && (typeof a.path !== 'string' || !PATH.test(path)))
    throw new KostrackConfigError(`KostrackModule: admin.path must be a plain route prefix like "kostrack" or "ops/costs", got ${JSON.stringify(a.path)}`);
  if (a.apiKey !== undefined && (typeof a.apiKey !== 'string' || a.apiKey.length < MIN_API_KEY_LENGTH))
    throw new KostrackConfigError(`KostrackModule: admin.apiKey must be a string of at least ${MIN_API_KEY_LENGTH} characters`);
  if (a.guard !== undefined && typeof a.guard !== 'function') throw new KostrackConfigError('KostrackModule: admin.guard must be a guard class');
  const providerCosts = resolveProviderCosts(a.providerCosts);
  const enabled = a.enabled === true;
  // Off by default, and never on without protection: an open cost API leaks users and prompts' metadata.
  if (enabled && requireAuth && a.apiKey === undefined && a.guard === undefined)
    throw new KostrackConfigError('KostrackModule: admin is enabled but has neither apiKey nor guard');
  return { enabled, path, apiKey: a.apiKey, guard: a.guard, providerCosts };
}

function resolveProviderCosts(value: unknown): Partial<Record<CostProvider, ProviderAdminSource>> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new KostrackConfigError('KostrackModule: admin.providerCosts must be an object like { openai: { adminKey } }');
  for (const [provider, source] of Object.entries(value)) {
    if (!(COST_PROVIDERS as readonly string[]).includes(provider))
      throw new KostrackConfigError(`KostrackModule: admin.providerCosts.${provider}: cost reports are imported from ${COST_PROVIDERS.join(' and ')} only`);
    checkAdminSource(source, `KostrackModule: admin.providerCosts.${provider}`);
  }
  return value as Partial<Record<CostProvider, ProviderAdminSource>>;
}
