import 'reflect-metadata';
import {
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  Injectable,
  type NestInterceptor,
  VersioningType,
} from '@nestjs/common';
import request from 'supertest';
import { tap } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DASHBOARD_PAGE_HEADERS } from '../../lib/admin/dashboard.controller.js';
import type { KostrackModuleOptions } from '../../lib/nest/kostrack.options.js';
import { useTestDatabase } from '../support/database.js';
import { API_KEY, type AppSetup, PLATFORMS, type Platform, startAdminApp } from './support/admin.app.js';

const db = useTestDatabase('admin_headers');
let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function boot(platform: Platform, admin: KostrackModuleOptions['admin'] = { enabled: true, apiKey: API_KEY }, setup: AppSetup = {}): Promise<INestApplication> {
  app = await startAdminApp(db, { admin }, null, platform, setup);
  return app;
}

@Injectable()
class FinanceOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().headers['x-role'] === 'finance';
  }
}

/** A host's global interceptor that marks the answers it saw. */
class MarkingInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    const res = context.switchToHttp().getResponse<{ header?(n: string, v: string): unknown; setHeader?(n: string, v: string): unknown }>();
    return next.handle().pipe(tap(() => (res.header ?? res.setHeader)!.call(res, 'x-host-interceptor', 'seen')));
  }
}

/** The headers of an answer that say what it is (not when it was sent, nor how the connection goes). */
function describing(headers: Record<string, string>): Record<string, string> {
  const { date: _date, connection: _connection, 'keep-alive': _keepAlive, ...rest } = headers;
  return rest;
}

const PAGE_HEADERS = Object.fromEntries(Object.entries({ ...DASHBOARD_PAGE_HEADERS, 'X-Content-Type-Options': 'nosniff' }).map(([k, v]) => [k.toLowerCase(), v]));

describe.each<Platform>(PLATFORMS)('X-Content-Type-Options on %s', (platform) => {
  it('is nosniff on JSON, 401, 400 and 404 answers and on the dashboard page and files', async () => {
    const server = (await boot(platform)).getHttpServer();
    const key = { 'x-kostrack-api-key': API_KEY };
    const cases: [string, () => request.Test, number, RegExp][] = [
      ['JSON', () => request(server).get('/kostrack/health').set(key), 200, /^application\/json/],
      ['401', () => request(server).get('/kostrack/traces'), 401, /^application\/json/],
      ['400', () => request(server).get('/kostrack/traces?limit=0').set(key), 400, /^application\/json/],
      ['400 param', () => request(server).get('/kostrack/traces/not-a-uuid').set(key), 400, /^application\/json/],
      ['404', () => request(server).get('/kostrack/traces/00000000-0000-4000-8000-000000000000').set(key), 404, /^application\/json/],
      ['201', () => request(server).post('/kostrack/prices').set(key).send({ provider: 'openai', model: 'ft:x', input: '1', output: '2' }), 201, /^application\/json/],
      ['page', () => request(server).get('/kostrack'), 200, /^text\/html/],
      ['page/', () => request(server).get('/kostrack/'), 200, /^text\/html/],
      ['script', () => request(server).get('/kostrack/dashboard.js'), 200, /^text\/javascript/],
      ['style', () => request(server).get('/kostrack/dashboard.css'), 200, /^text\/css/],
    ];
    for (const [what, req, status, type] of cases) {
      const res = await req();
      expect([what, res.status, res.headers['content-type']]).toEqual([what, status, expect.stringMatching(type)]);
      expect([what, res.headers['x-content-type-options']]).toEqual([what, 'nosniff']);
    }
  });

  it("is nosniff on the host guard's 403 and behind a global prefix", async () => {
    const server = (await boot(platform, { enabled: true, guard: FinanceOnlyGuard }, { configure: (a) => a.setGlobalPrefix('api') })).getHttpServer();
    const denied = await request(server).get('/api/kostrack/health');
    expect([denied.status, denied.headers['x-content-type-options']]).toEqual([403, 'nosniff']);
    const allowed = await request(server).get('/api/kostrack/health').set('x-role', 'finance');
    expect([allowed.status, allowed.headers['x-content-type-options']]).toEqual([200, 'nosniff']);
    for (const path of ['/api/kostrack', '/api/kostrack/']) {
      const page = await request(server).get(path);
      expect([path, page.status, page.headers['x-content-type-options']]).toEqual([path, 200, 'nosniff']);
    }
  });
});

describe.each<Platform>(PLATFORMS)('the dashboard page on %s', (platform) => {
  const mounts: { name: string; admin?: KostrackModuleOptions['admin']; setup?: AppSetup; base: string; elsewhere: string[] }[] = [
    { name: 'by default', base: '/kostrack', elsewhere: [] },
    { name: 'behind a global prefix', setup: { configure: (a) => a.setGlobalPrefix('api') }, base: '/api/kostrack', elsewhere: ['/kostrack'] },
    { name: 'under a custom admin.path', admin: { enabled: true, apiKey: API_KEY, path: 'ops/llm-costs' }, base: '/ops/llm-costs', elsewhere: ['/kostrack', '/ops'] },
    // URI versioning with a default version puts the admin routes (which declare none) under it.
    {
      name: 'with URI versioning and a default version',
      setup: { configure: (a) => a.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' }) },
      base: '/v1/kostrack',
      elsewhere: ['/kostrack', '/v2/kostrack'],
    },
    {
      name: 'with all three',
      admin: { enabled: true, apiKey: API_KEY, path: 'ops/llm-costs' },
      setup: { configure: (a) => a.setGlobalPrefix('api').enableVersioning({ type: VersioningType.URI, defaultVersion: ['1', '2'] }) },
      base: '/api/v2/ops/llm-costs',
      elsewhere: ['/api/ops/llm-costs', '/ops/llm-costs', '/v2/ops/llm-costs'],
    },
  ];
  for (const { name, admin, setup, base, elsewhere } of mounts) {
    it(`is served at <path> and <path>/ alike, with the same headers, ${name}`, async () => {
      const server = (await boot(platform, admin, setup)).getHttpServer();
      const reference = await request(server).get(base);
      expect(reference.status).toBe(200);
      expect(reference.headers).toMatchObject(PAGE_HEADERS);
      // The page finds its assets and the API from its own URL, whichever form was asked for.
      expect(reference.text).toContain(`<meta name="kostrack-base" content="${base}">`);
      expect(reference.text).toContain(`<script type="module" src="${base}/dashboard.js"></script>`);
      expect(reference.text).toContain(`<link rel="stylesheet" href="${base}/dashboard.css">`);
      for (const url of [`${base}/`, `${base}?tab=1`, `${base}/?tab=1`]) {
        const res = await request(server).get(url);
        expect([url, res.status, describing(res.headers)]).toEqual([url, 200, describing(reference.headers)]);
        expect(res.text).toBe(reference.text);
      }
      for (const url of [base, `${base}/`]) {
        const head = await request(server).head(url);
        expect([url, head.status, describing(head.headers)]).toEqual([url, 200, describing(reference.headers)]);
      }
      const script = await request(server).get(`${base}/dashboard.js`);
      expect([script.status, script.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
      expect((await request(server).get(`${base}/health`).set('x-kostrack-api-key', API_KEY)).status).toBe(200);
      for (const url of elsewhere.flatMap((p) => [p, `${p}/`])) expect([url, (await request(server).get(url)).status]).toEqual([url, 404]);
    });
  }

  it('is only ever the page: other paths ending in a slash are left to the platform', async () => {
    const server = (await boot(platform)).getHttpServer();
    for (const url of ['/kostrack//', '/kostrack/nope/', '/other/kostrack/', '/kostrack/kostrack/']) expect([url, (await request(server).get(url)).status]).toEqual([url, 404]);
    // Not a form of the page's URL: the platform's own routing. Express (non-strict routing) serves
    // any route with a trailing slash; Fastify does not (unless the host sets ignoreTrailingSlash).
    // Nothing links to these; the page asks for its assets and the API without the slash.
    const expected = platform === 'express' ? 200 : 404;
    expect((await request(server).get('/kostrack/dashboard.js/')).status).toBe(expected);
    expect((await request(server).get('/kostrack/health/').set('x-kostrack-api-key', API_KEY)).status).toBe(expected);
    expect((await request(server).post('/kostrack/').send({})).status).toBe(404);
  });

  it("goes through the host's interceptors where the platform routes <path>/ to the controller", async () => {
    const server = (await boot(platform, undefined, { configure: (a) => a.useGlobalInterceptors(new MarkingInterceptor()) })).getHttpServer();
    expect((await request(server).get('/kostrack')).headers['x-host-interceptor']).toBe('seen');
    const slash = await request(server).get('/kostrack/');
    expect(slash.status).toBe(200);
    // Express routes `/kostrack/` to the page's handler. Fastify does not route it; Kostrack's
    // middleware answers it with the same page and headers, but before any interceptor.
    expect(slash.headers['x-host-interceptor']).toBe(platform === 'express' ? 'seen' : undefined);
  });
});

describe('the dashboard page on Fastify with ignoreTrailingSlash', () => {
  it('is left to the controller, which Fastify then routes <path>/ to', async () => {
    const server = (
      await boot('fastify', undefined, { fastify: { routerOptions: { ignoreTrailingSlash: true } }, configure: (a) => a.useGlobalInterceptors(new MarkingInterceptor()) })
    ).getHttpServer();
    const slash = await request(server).get('/kostrack/');
    expect(slash.status).toBe(200);
    expect(slash.headers).toMatchObject({ ...PAGE_HEADERS, 'x-host-interceptor': 'seen' });
    expect(slash.text).toContain('<meta name="kostrack-base" content="/kostrack">');
  });
});

describe('routes outside the admin API', () => {
  it.each<Platform>(PLATFORMS)('are left as the host made them on %s', async (platform) => {
    const server = (await boot(platform)).getHttpServer();
    for (const path of ['/not-kostrack', '/not-kostrack/']) {
      const other = await request(server).get(path);
      expect(other.status).toBe(404);
      expect(other.headers['x-content-type-options']).toBeUndefined();
    }
  });
});
