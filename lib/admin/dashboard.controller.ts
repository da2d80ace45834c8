import { Get, Header, Req } from '@nestjs/common';
import { DASHBOARD_CSS, DASHBOARD_JS } from './dashboard/dashboard.bundle.js';
import { renderDashboardPage } from './dashboard/dashboard.page.js';

/**
 * The dashboard: one HTML page and its two bundled files, all built into the package (no CDN,
 * works offline). Unguarded because they hold no data; the page asks the guarded API, with the
 * key the user types in (or the host guard's session cookie).
 */
export class DashboardController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @Header('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
  page(@Req() req: { originalUrl?: string; url?: string }): string {
    // The page's own URL (global prefix and admin path included) is where its assets and API live.
    const url = req.originalUrl ?? req.url ?? '/';
    const base = url.split('?')[0].replace(/\/+$/, '');
    return renderDashboardPage(base);
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
