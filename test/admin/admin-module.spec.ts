import 'reflect-metadata';
import { type CanActivate, type ExecutionContext, Injectable, type INestApplication, Module } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { KostrackAdminGuard } from '../../lib/admin/admin.guard.js';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { API_KEY, PLATFORMS, type Platform, startAdminApp } from './support/admin.app.js';
import { invoiceTrace } from './support/admin.fixture.js';

const db = useTestDatabase('admin_module');
let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});
const storage = () => ({ database: db.url, schema: db.schema, writer: tempWriterOptions(), globalInterceptor: false });

describe.each<Platform>(PLATFORMS)('the API key guard on %s', (platform) => {
  it('401 without a key or with a wrong one; the key works in either header', async () => {
    app = await startAdminApp(db, {}, null, platform);
    const server = app.getHttpServer();
    for (const path of ['traces', `traces/${invoiceTrace().traceId}`, 'costs?groupBy=model', 'models/unpriced', 'prices', 'health']) {
      const none = await request(server).get(`/kostrack/${path}`);
      expect(none.status, path).toBe(401);
      expect(none.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid Kostrack admin API key' });
      expect((await request(server).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY.slice(0, -1))).status).toBe(401);
      expect((await request(server).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY + 'x')).status).toBe(401);
      expect((await request(server).get(`/kostrack/${path}`).set('x-kostrack-api-key', '')).status).toBe(401);
      expect((await request(server).get(`/kostrack/${path}`).set('authorization', `Basic ${API_KEY}`)).status).toBe(401);
    }
    expect((await request(server).post('/kostrack/prices').send({ provider: 'openai', model: 'x', input: '1' })).status).toBe(401);
    expect((await request(server).get('/kostrack/health').set('x-kostrack-api-key', API_KEY)).status).toBe(200);
    expect((await request(server).get('/kostrack/health').set('authorization', `Bearer ${API_KEY}`)).status).toBe(200);
    // Validation runs after the guard: a bad query without the key is still a 401, not a 400.
    expect((await request(server).get('/kostrack/traces?limit=0')).status).toBe(401);
  });

  it('serves the dashboard page and its files without a key (they hold no data)', async () => {
    app = await startAdminApp(db, {}, null, platform);
    const page = await request(app.getHttpServer()).get('/kostrack');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<script type="module" src="/kostrack/dashboard.js"></script>');
    expect(page.text).toContain('<meta name="kostrack-base" content="/kostrack">');
    const slash = await request(app.getHttpServer()).get('/kostrack/');
    expect(slash.status).toBe(200);
    expect(slash.text).toBe(page.text);
    const js = await request(app.getHttpServer()).get('/kostrack/dashboard.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.text.length).toBeGreaterThan(1000);
    expect(js.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing fetched from elsewhere: works offline
    const css = await request(app.getHttpServer()).get('/kostrack/dashboard.css');
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });
});

describe('registration', () => {
  it.each<Platform>(PLATFORMS)('has no admin routes when admin is absent or disabled, on %s', async (platform) => {
    for (const admin of [undefined, { enabled: false, apiKey: API_KEY }, { apiKey: API_KEY }]) {
      app = await startAdminApp(db, { admin }, null, platform);
      for (const path of ['/kostrack', '/kostrack/', '/kostrack/traces', '/kostrack/health', '/kostrack/dashboard.js']) {
        const res = await request(app.getHttpServer()).get(path).set('x-kostrack-api-key', API_KEY);
        expect(res.status, `${JSON.stringify(admin)} ${path}`).toBe(404);
      }
      await app.close();
      app = undefined;
    }
  });

  it('mounts under a custom path, and behind a global prefix', async () => {
    app = await startAdminApp(db, { admin: { enabled: true, apiKey: API_KEY, path: '/ops/llm-costs/' } });
    expect((await request(app.getHttpServer()).get('/kostrack/health').set('x-kostrack-api-key', API_KEY)).status).toBe(404);
    expect((await request(app.getHttpServer()).get('/ops/llm-costs/health').set('x-kostrack-api-key', API_KEY)).status).toBe(200);
    await app.close();

    @Module({ imports: [KostrackModule.forRoot({ ...storage(), admin: { enabled: true, apiKey: API_KEY } })] })
    class PrefixedModule {}
    app = (await Test.createTestingModule({ imports: [PrefixedModule] }).compile()).createNestApplication({ logger: false });
    app.setGlobalPrefix('api');
    await app.init();
    const page = await request(app.getHttpServer()).get('/api/kostrack');
    expect(page.text).toContain('src="/api/kostrack/dashboard.js"');
    expect((await request(app.getHttpServer()).get('/api/kostrack/health').set('x-kostrack-api-key', API_KEY)).status).toBe(200);
  });

  it('refuses bad admin options at declaration', () => {
    const bad: [unknown, RegExp][] = [
      [{ enabled: true }, /neither apiKey nor guard/],
      [{ enabled: true, apiKey: 'short' }, /at least 16 characters/],
      [{ enabled: 'yes', apiKey: API_KEY }, /admin.enabled must be a boolean/],
      [{ enabled: true, apiKey: API_KEY, path: '../x' }, /admin.path must be a plain route prefix/],
      [{ enabled: true, apiKey: API_KEY, path: 'a/:id' }, /admin.path/],
      [{ enabled: true, apiKey: API_KEY, path: '' }, /admin.path/],
      [{ enabled: true, guard: 'AdminGuard' }, /admin.guard must be a guard class/],
      ['on', /admin must be an object/],
    ];
    for (const [admin, message] of bad) {
      expect(() => KostrackModule.forRoot({ ...storage(), admin: admin as never }), JSON.stringify(admin)).toThrow(KostrackConfigError);
      expect(() => KostrackModule.forRoot({ ...storage(), admin: admin as never })).toThrow(message);
    }
  });

  it('takes the API key from forRootAsync', async () => {
    @Module({
      imports: [
        KostrackModule.forRootAsync({
          admin: { enabled: true, path: 'costs-admin' },
          useFactory: async () => ({ ...storage(), admin: { apiKey: 'key-from-config-service-1' } }),
        }),
      ],
    })
    class AsyncModule {}
    app = (await Test.createTestingModule({ imports: [AsyncModule] }).compile()).createNestApplication({ logger: false });
    await app.init();
    expect((await request(app.getHttpServer()).get('/costs-admin/health')).status).toBe(401);
    expect((await request(app.getHttpServer()).get('/costs-admin/health').set('x-kostrack-api-key', 'key-from-config-service-1')).status).toBe(200);
  });

  it('a forRootAsync factory that gives no key fails the boot', async () => {
    @Module({ imports: [KostrackModule.forRootAsync({ admin: { enabled: true }, useFactory: () => storage() })] })
    class NoKeyModule {}
    await expect(Test.createTestingModule({ imports: [NoKeyModule] }).compile()).rejects.toThrow(/neither apiKey nor guard/);
  });
});

describe.each<Platform>(PLATFORMS)("the host's guard on %s", (platform) => {
  @Injectable()
  class RoleGuard implements CanActivate {
    canActivate(context: ExecutionContext): boolean {
      return context.switchToHttp().getRequest().headers['x-role'] === 'finance';
    }
  }

  @Injectable()
  class InternalNetworkGuard extends KostrackAdminGuard {
    protected override shouldSkip(context: ExecutionContext): boolean {
      return context.switchToHttp().getRequest().headers['x-internal'] === '1';
    }
    protected override getProvidedKey(context: ExecutionContext): string | undefined {
      return context.switchToHttp().getRequest().headers['x-ops-key'] ?? super.getProvidedKey(context);
    }
  }

  it('replaces the API key', async () => {
    app = await startAdminApp(db, { admin: { enabled: true, guard: RoleGuard } }, null, platform);
    expect((await request(app.getHttpServer()).get('/kostrack/health').set('x-kostrack-api-key', API_KEY)).status).toBe(403);
    expect((await request(app.getHttpServer()).get('/kostrack/health').set('x-role', 'finance')).status).toBe(200);
  });

  it('can extend KostrackAdminGuard through its hooks', async () => {
    app = await startAdminApp(db, { admin: { enabled: true, apiKey: API_KEY, guard: InternalNetworkGuard } }, null, platform);
    const server = app.getHttpServer();
    expect((await request(server).get('/kostrack/health')).status).toBe(401);
    expect((await request(server).get('/kostrack/health').set('x-internal', '1')).status).toBe(200);
    expect((await request(server).get('/kostrack/health').set('x-ops-key', API_KEY)).status).toBe(200);
    expect((await request(server).get('/kostrack/health').set('x-kostrack-api-key', API_KEY)).status).toBe(200);
  });
});

describe('without storage', () => {
  it('answers 503 for data, health says disabled, unpriced models come from this process', async () => {
    app = await startAdminApp(db, { database: false });
    const get = (path: string) => request(app!.getHttpServer()).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY);
    const traces = await get('traces');
    expect(traces.status).toBe(503);
    expect(traces.body.message).toBe('Kostrack storage is off (database: false or enabled: false)');
    expect((await get(`traces/${invoiceTrace().traceId}`)).status).toBe(503);
    expect((await get('health')).body).toEqual({ enabled: false });
    expect((await get('models/unpriced')).body).toEqual({ source: 'process', models: [] });
  });
});

describe('OpenAPI', () => {
  it('documents every admin route with its parameters and the API key', async () => {
    app = await startAdminApp(db);
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().addApiKey({ type: 'apiKey', in: 'header', name: 'x-kostrack-api-key' }, 'kostrack-api-key').build());
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/kostrack/budgets',
      '/kostrack/budgets/blocked',
      '/kostrack/budgets/{name}',
      '/kostrack/calls/{spanId}',
      '/kostrack/costs',
      '/kostrack/health',
      '/kostrack/insights/cache-savings',
      '/kostrack/insights/feature-costs',
      '/kostrack/insights/summary',
      '/kostrack/insights/top-features',
      '/kostrack/insights/top-users',
      '/kostrack/models/unpriced',
      '/kostrack/prices',
      '/kostrack/provider-costs/import',
      '/kostrack/reconciliation',
      '/kostrack/reprice',
      '/kostrack/traces',
      '/kostrack/traces/{traceId}',
    ]);
    const list = doc.paths['/kostrack/traces'].get!;
    expect(list.parameters!.map((p) => ('name' in p ? p.name : '')).sort()).toEqual(
      ['cursor', 'feature', 'from', 'limit', 'minCost', 'order', 'project', 'service', 'sort', 'tag', 'to', 'user'].sort(),
    );
    expect(list.security).toEqual([{ 'kostrack-api-key': [] }]);
    expect(doc.paths['/kostrack/prices'].post!.requestBody).toBeDefined();
    expect(doc.components!.schemas!.TraceDetailDto).toBeDefined();
    expect(doc.paths['/kostrack/insights/feature-costs'].get!.parameters!.map((p) => ('name' in p ? p.name : '')).sort()).toEqual(
      ['feature', 'from', 'limit', 'outlierFactor', 'project', 'service', 'tag', 'to', 'user'].sort(),
    );
    expect(doc.components!.schemas!.CallDetailDto).toBeDefined();
  });
});
