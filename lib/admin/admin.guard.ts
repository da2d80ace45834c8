import { createHash, timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { ADMIN_API_KEY_HEADER, KOSTRACK_ADMIN_OPTIONS, type ResolvedAdminOptions } from './admin.options.js';

type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Guards the admin API with the `admin.apiKey`. Subclass it (and pass the subclass as
 * `admin.guard`) to take the key from elsewhere, skip some requests, or change the 401, the way
 * `@nestjs/throttler`'s guard is extended: every step is a protected hook.
 */
@Injectable()
export class KostrackAdminGuard implements CanActivate {
  constructor(@Inject(KOSTRACK_ADMIN_OPTIONS) protected readonly adminOptions: ResolvedAdminOptions) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (await this.shouldSkip(context)) return true;
    const expected = await this.getExpectedKey(context);
    const provided = this.getProvidedKey(context);
    if (expected && provided && this.keysMatch(provided, expected)) return true;
    return this.throwUnauthorized(context);
  }

  /** Return true to let a request through without a key (e.g. from an internal network). */
  protected shouldSkip(_context: ExecutionContext): boolean | Promise<boolean> {
    return false;
  }

  /** The key requests must carry. */
  protected getExpectedKey(_context: ExecutionContext): string | undefined | Promise<string | undefined> {
    return this.adminOptions.apiKey;
  }

  /** `x-kostrack-api-key: <key>`, or `Authorization: Bearer <key>`. */
  protected getProvidedKey(context: ExecutionContext): string | undefined {
    const headers = (context.switchToHttp().getRequest<{ headers?: HeaderBag }>().headers ?? {}) as HeaderBag;
    const direct = headers[ADMIN_API_KEY_HEADER];
    if (typeof direct === 'string') return direct;
    const auth = headers.authorization;
    if (typeof auth === 'string' && /^Bearer /i.test(auth)) return auth.slice(7).trim();
    return undefined;
  }

  /**
   * Constant time: both sides are hashed to 32 bytes first, because timingSafeEqual needs equal
   * lengths and comparing lengths directly would leak the key's length.
   */
  protected keysMatch(provided: string, expected: string): boolean {
    const a = createHash('sha256').update(provided).digest();
    const b = createHash('sha256').update(expected).digest();
    return timingSafeEqual(a, b);
  }

  protected throwUnauthorized(_context: ExecutionContext): never {
    throw new UnauthorizedException('Missing or invalid Kostrack admin API key');
  }
}
