import type { DynamicModule, MiddlewareConsumer, NestModule, Type } from '@nestjs/common';
import { jsonBodiesOnly } from './json-body.middleware.js';

/** On every admin answer: the API's, the dashboard's, and the page served by dashboard-slash.middleware.ts. */
export const NO_SNIFF_HEADER = { name: 'X-Content-Type-Options', value: 'nosniff' } as const;

/**
 * `nosniff` keeps a browser from reading an admin answer as something other than its declared
 * type (a JSON error that echoes a query value rendered as HTML, a page loading it as a script).
 * Set in middleware rather than with `@Header`: middleware runs before every guard and pipe, so
 * the 401, 403 and 400 answers carry it too, and `@Header` only reaches a handler's own result.
 * Express and Fastify both hand middleware the raw Node response, whose `setHeader` is merged
 * into the headers the platform writes. Not reached: what the platform refuses before any route
 * middleware (a URL it cannot decode; on Express, a body its JSON parser refuses).
 */
function noSniff(_req: unknown, res: { setHeader(name: string, value: string): unknown }, next: () => void): void {
  res.setHeader(NO_SNIFF_HEADER.name, NO_SNIFF_HEADER.value);
  next();
}

/**
 * A module that applies the admin response headers to `controllers`' routes, then refuses bodies
 * other than JSON on `api`'s (json-body.middleware.ts; after `noSniff`, so its 415 carries it).
 * Given the controllers rather than a path, Nest maps their routes (global prefix included) the
 * same way on both platforms, and the host's other routes are left alone. One class per call,
 * like the controllers, so two apps in a process each get their own.
 */
export function adminSecurityHeadersModule(controllers: Type[], api: Type[] = []): DynamicModule {
  class KostrackAdminHeadersModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(noSniff).forRoutes(...controllers);
      if (api.length > 0) consumer.apply(jsonBodiesOnly).forRoutes(...api);
    }
  }
  return { module: KostrackAdminHeadersModule };
}
