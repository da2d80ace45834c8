import type { DynamicModule, MiddlewareConsumer, NestModule, Type } from '@nestjs/common';

/**
 * `nosniff` keeps a browser from reading an admin answer as something other than its declared
 * type (a JSON error that echoes a query value rendered as HTML, a page loading it as a script).
 * Set in middleware rather than with `@Header`: middleware runs before every guard and pipe, so
 * the 401, 403 and 400 answers carry it too, and `@Header` only reaches a handler's own result.
 * Express and Fastify both hand middleware the raw Node response, whose `setHeader` is merged
 * into the headers the platform writes.
 */
function noSniff(_req: unknown, res: { setHeader(name: string, value: string): unknown }, next: () => void): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  next();
}

/**
 * A module that applies the admin response headers to `controllers`' routes. Given the
 * controllers rather than a path, Nest maps their routes (global prefix included) the same way
 * on both platforms, and the host's other routes are left alone. One class per call, like the
 * controllers, so two apps in a process each get their own.
 */
export function adminSecurityHeadersModule(controllers: Type[]): DynamicModule {
  class KostrackAdminHeadersModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(noSniff).forRoutes(...controllers);
    }
  }
  return { module: KostrackAdminHeadersModule };
}
