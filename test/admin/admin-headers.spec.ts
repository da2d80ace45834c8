import 'reflect-metadata';
import { type CanActivate, type ExecutionContext, type INestApplication, Injectable, Module } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import type { KostrackModuleOptions } from '../../lib/nest/kostrack.options.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';
import { API_KEY } from './support/admin.app.js';

const db = useTestDatabase('admin_headers');
let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

type Platform = 'express' | 'fastify';

async function boot(platform: Platform, admin: KostrackModuleOptions['admin'] = { enabled: true, apiKey: API_KEY }, prefix?: string): Promise<INestApplication> {
  @Module({ imports: [KostrackModule.forRoot({ database: db.url, schema: db.schema, writer: tempWriterOptions(), globalInterceptor: false, admin })] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const created =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  app = created;
  if (prefix) created.setGlobalPrefix(prefix);
  await created.init();
  if (platform === 'fastify') await (created as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return created;
}

@Injectable()
class FinanceOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest().headers['x-role'] === 'finance';
  }
}

describe.each<Platform>(['express', 'fastify'])('X-Content-Type-Options on %s', (platform) => {
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
    const server = (await boot(platform, { enabled: true, guard: FinanceOnlyGuard }, 'api')).getHttpServer();
    const denied = await request(server).get('/api/kostrack/health');
    expect([denied.status, denied.headers['x-content-type-options']]).toEqual([403, 'nosniff']);
    const allowed = await request(server).get('/api/kostrack/health').set('x-role', 'finance');
    expect([allowed.status, allowed.headers['x-content-type-options']]).toEqual([200, 'nosniff']);
    const page = await request(server).get('/api/kostrack');
    expect([page.status, page.headers['x-content-type-options']]).toEqual([200, 'nosniff']);
  });
});

describe('routes outside the admin API', () => {
  it('are left as the host made them', async () => {
    const server = (await boot('express')).getHttpServer();
    const other = await request(server).get('/not-kostrack');
    expect(other.status).toBe(404);
    expect(other.headers['x-content-type-options']).toBeUndefined();
  });
});
