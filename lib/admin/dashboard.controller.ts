import { applyDecorators, Get, Header, Req } from '@nestjs/common';
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard/dashboard.bundle.js';
import { renderDashboardPage } from './dashboard/dashboard.page.js';

/**
 * The page's response headers, wherever it is served from: this controller, and on Fastify
 * `<path>/` (see dashboard-slash.middleware.ts). `nosniff` comes from security-headers.middleware.ts.
 */
export const DASHBOARD_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
};

/**
 * The page for a request to `url`: the page's own URL (global prefix, version and admin path
 * included, trailing slash and query left out) is where its assets and API live.
 */
export function dashboardPageFor(url: string): string {
  return renderDashboardPage(url.split('?')[0].replace(/\/+$/, ''));
}

/**
 * The dashboard: one HTML page and its two bundled files, all built into the package (no CDN,
 * works offline). Unguarded because they hold no data; the page asks the guarded API, with the
 * key the user types in (or the host guard's session cookie).
 */
export class DashboardController {
  @Get()
  @applyDecorators(...Object.entries(DASHBOARD_PAGE_HEADERS).map(([name, value]) => Header(name, value)))
  page(@Req() req: { originalUrl?: string; url?: string }): string {
    return dashboardPageFor(req.originalUrl ?? req.url ?? '/');
  }

  @Get('dashboard.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=300')
  script(): string {
    return DASHBOARD_JS;
  }

  @Get('dashboard.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=300')
  style(): string {
    return DASHBOARD_CSS;
  }
}
