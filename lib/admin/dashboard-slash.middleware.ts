import { type DynamicModule, Inject, Injectable, type MiddlewareConsumer, type NestMiddleware, type NestModule, type Type } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DASHBOARD_PAGE_HEADERS, dashboardPageFor } from './dashboard.controller.js';
import { NO_SNIFF_HEADER } from './security-headers.middleware.js';

interface RawRequest {
  method?: string;
  originalUrl?: string;
  url?: string;
}
interface RawResponse {
  statusCode: number;
  setHeader(name: string, value: string | number): unknown;
  end(body?: string): unknown;
}
interface FastifyConfig {
  ignoreTrailingSlash?: boolean;
  routerOptions?: { ignoreTrailingSlash?: boolean };
}

/**
 * The dashboard page at `<prefix>/<path>/` (the URL docs/admin.md gives) on Fastify too. Express
 * routes it to the page's handler by itself (non-strict routing); Fastify answers 404 unless the
 * host set `ignoreTrailingSlash`, and a second `@Get('/')` cannot help, since Nest maps it to the
 * same path as `@Get()` and Fastify refuses a route declared twice.
 *
 * Middleware reaches that URL: applied to the dashboard controller, Nest maps it to the
 * controller's routes with the global prefix and version the routes get, and the Fastify adapter
 * matches them with or without the trailing slash (checked on Nest 11.2.8 and 12.5); middie runs
 * it in `onRequest`, before the 404. It answers only there, with the page and headers `/<path>`
 * gets (the assets at `<path>/dashboard.js/` stay a 404, as Fastify has them). What the host adds
 * to every answer in its own middleware or `onRequest` hooks still applies; its interceptors do
 * not, as for any answer a middleware gives.
 *
 * `adminPath` is the path the routes are mounted under (`admin.path` as declared).
 */
export function dashboardSlashModule(dashboard: Type, adminPath: string): DynamicModule {
  const slashPath = `/${adminPath}/`;

  @Injectable()
  class KostrackDashboardSlashMiddleware implements NestMiddleware {
    private answers: boolean | undefined;

    constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

    use(req: RawRequest, res: RawResponse, next: () => void): void {
      const url = req.originalUrl ?? req.url ?? '';
      if (!this.fastifyWouldNotRoute() || (req.method !== 'GET' && req.method !== 'HEAD') || !url.split('?')[0].endsWith(slashPath)) return next();
      const page = dashboardPageFor(url);
      res.statusCode = 200;
      for (const [name, value] of Object.entries(DASHBOARD_PAGE_HEADERS)) res.setHeader(name, value);
      res.setHeader(NO_SNIFF_HEADER.name, NO_SNIFF_HEADER.value);
      res.setHeader('Content-Length', Buffer.byteLength(page));
      res.end(req.method === 'HEAD' ? undefined : page);
    }

    /** Fastify without `ignoreTrailingSlash`; read once, the adapter is fixed by then. */
    private fastifyWouldNotRoute(): boolean {
      if (this.answers === undefined) {
        const adapter = this.host.httpAdapter;
        const config = adapter?.getType() === 'fastify' ? ((adapter.getInstance() as { initialConfig?: FastifyConfig }).initialConfig ?? {}) : undefined;
        this.answers = config !== undefined && !(config.ignoreTrailingSlash || config.routerOptions?.ignoreTrailingSlash);
      }
      return this.answers;
    }
  }

  class KostrackDashboardSlashModule implements NestModule {
    configure(consumer: MiddlewareConsumer): void {
      consumer.apply(KostrackDashboardSlashMiddleware).forRoutes(dashboard);
    }
  }
  return { module: KostrackDashboardSlashModule };
}
