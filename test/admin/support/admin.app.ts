import 'reflect-metadata';
import { type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { CallRecord, SpanRecord } from '../../../lib/core/call-record.js';
import { KostrackModule } from '../../../lib/nest/kostrack.module.js';
import type { KostrackModuleOptions } from '../../../lib/nest/kostrack.options.js';
import { KostrackStorageLifecycle } from '../../../lib/nest/kostrack-storage.lifecycle.js';
import { tempWriterOptions } from '../../storage/support/synthetic.js';

export const API_KEY = 'test-admin-key-0123456789';

/** A real Nest app with KostrackModule on the test database; `options` are merged over storage and admin defaults. */
export async function startAdminApp(
  db: { url: string; schema: string },
  options: Partial<KostrackModuleOptions> = {},
  module: ReturnType<typeof KostrackModule.forRoot> | null = null,
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
  @Module({ imports: [kostrack] })
  class AppModule {}
  const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger: false });
  await app.init();
  return app;
}

/** Writes records through the app's own BatchWriter and waits until they are in the database. */
export async function seed(app: INestApplication, spans: SpanRecord[], calls: CallRecord[]): Promise<void> {
  const writer = app.get(KostrackStorageLifecycle).current!.writer;
  for (const c of calls) writer.recordCall(c);
  for (const s of spans) writer.recordSpan(s);
  await writer.drain();
}
