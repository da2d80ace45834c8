import 'reflect-metadata';
import { type INestApplication, Module } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyServerOptions } from 'fastify';
import type { CallRecord, SpanRecord } from '../../../lib/core/call-record.js';
import { KostrackModule } from '../../../lib/nest/kostrack.module.js';
import type { KostrackModuleOptions } from '../../../lib/nest/kostrack.options.js';
import { KostrackStorageLifecycle } from '../../../lib/nest/kostrack-storage.lifecycle.js';
import { tempWriterOptions } from '../../storage/support/synthetic.js';

export const API_KEY = 'test-admin-key-0123456789';

/** The HTTP platforms the admin API and dashboard are tested on. */
export type Platform = 'express' | 'fastify';
export const PLATFORMS: readonly Platform[] = ['express', 'fastify'];

export interface AppSetup {
  /** Called before `init()`: a global prefix, versioning, global interceptors. */
  configure?: (app: INestApplication) => void;
  /** Options of the Fastify instance (on 'fastify'). */
  fastify?: FastifyServerOptions;
}

/**
 * A Nest app of `modules` on `platform`, initialised and ready for supertest (Fastify only
 * routes once its instance is `ready()`).
 */
export async function createApp(modules: unknown[], platform: Platform = 'express', setup: AppSetup = {}): Promise<INestApplication> {
  @Module({ imports: modules as never[] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app: INestApplication =
    platform === 'fastify'
      ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(setup.fastify), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  setup.configure?.(app);
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  return app;
}

/** A real Nest app with KostrackModule on the test database; `options` are merged over storage and admin defaults. */
export async function startAdminApp(
  db: { url: string; schema: string },
  options: Partial<KostrackModuleOptions> = {},
  module: ReturnType<typeof KostrackModule.forRoot> | null = null,
  platform: Platform = 'express',
  setup: AppSetup = {},
): Promise<INestApplication> {
  const kostrack =
    module ??
    KostrackModule.forRoot({
      database: db.url,
      schema: db.schema,
      writer: tempWriterOptions(),
      admin: { enabled: true, apiKey: API_KEY },
      globalInterceptor: false,
      ...options,
    });
  return createApp([kostrack], platform, setup);
}

/** Writes records through the app's own BatchWriter and waits until they are in the database. */
export async function seed(app: INestApplication, spans: SpanRecord[], calls: CallRecord[]): Promise<void> {
  const writer = app.get(KostrackStorageLifecycle).current!.writer;
  for (const c of calls) writer.recordCall(c);
  for (const s of spans) writer.recordSpan(s);
  await writer.drain();
}
