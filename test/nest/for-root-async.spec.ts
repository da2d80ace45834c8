import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InjectLlmClient, KostrackConfigError, KostrackModule, Trace, usdToString } from '../../lib/index.js';
import { KostrackStorageLifecycle } from '../../lib/nest/kostrack-storage.lifecycle.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { atMtok, sum } from '../providers/provider-test.support.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from '../storage/support/synthetic.js';

/**
 * Issue 13: `clients` declared beside `forRootAsync`'s factory, the way an app that reads its
 * configuration through `@nestjs/config` writes it: the database URL, the admin key and the
 * OpenAI key all come from ConfigService.
 */

const db = useTestDatabase('async');
const server = new LoopbackServer();
const ADMIN_KEY = 'config-admin-key-0123456789';
const OPENAI_KEY = 'sk-from-config-service';

beforeAll(async () => {
  openaiRoutes(server, { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 1200, completion: 300 }) });
  await server.start();
});
afterAll(() => server.close());

@Controller()
class DraftController {
  constructor(@InjectLlmClient('drafts') private readonly openai: OpenAI) {}

  @Trace({ name: 'draft', tags: { feature: 'drafts' } })
  @Get('draft')
  async draft() {
    const r = await this.openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    return { id: r.id };
  }
}

function configModule() {
  // Values as an app's .env would give them; no file is read.
  return ConfigModule.forRoot({
    ignoreEnvFile: true,
    load: [
      () => ({
        DATABASE_URL: db.url,
        KOSTRACK_SCHEMA: db.schema,
        KOSTRACK_ADMIN_KEY: ADMIN_KEY,
        OPENAI_API_KEY: OPENAI_KEY,
        OPENAI_BASE_URL: `${server.url}/v1`,
      }),
    ],
  });
}

describe('KostrackModule.forRootAsync with ConfigService', () => {
  it('takes the database URL, the admin key and a client API key from ConfigService; the injected client is tracked and stored', async () => {
    @Module({
      imports: [
        configModule(),
        KostrackModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            database: config.getOrThrow<string>('DATABASE_URL'),
            schema: config.getOrThrow<string>('KOSTRACK_SCHEMA'),
            writer: tempWriterOptions(),
            admin: { apiKey: config.getOrThrow<string>('KOSTRACK_ADMIN_KEY') },
          }),
          admin: { enabled: true },
          clientImports: [ConfigModule],
          clients: {
            drafts: {
              provider: 'openai',
              inject: [ConfigService],
              factory: (config: ConfigService) =>
                new OpenAI({ apiKey: config.getOrThrow('OPENAI_API_KEY'), baseURL: config.getOrThrow('OPENAI_BASE_URL'), maxRetries: 0 }),
              tags: { client: 'drafts' },
            },
          },
        }),
      ],
      controllers: [DraftController],
    })
    class AppModule {}

    const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger: false });
    await app.init();
    try {
      const res = await request(app.getHttpServer()).get('/draft').expect(200);
      const traceId = res.headers['x-kostrack-trace-id'];
      expect(traceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // The key the factory read from ConfigService is the one the SDK sent.
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0].headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);

      await app.get(KostrackStorageLifecycle).current!.writer.drain();
      const rows = await db.inSchema<{ cost_usd: string; provider: string; model: string; client: string; feature: string }>(
        `SELECT cost_usd::text, provider, model, tags->>'client' AS client, tags->>'feature' AS feature FROM llm_calls WHERE trace_id = $1`,
        [traceId],
      );
      expect(rows).toEqual([
        { cost_usd: usdToString(sum(atMtok(1200, '2.5'), atMtok(300, '10'))), provider: 'openai', model: 'gpt-4o-2024-08-06', client: 'drafts', feature: 'drafts' },
      ]);

      // The admin key came from ConfigService too.
      await request(app.getHttpServer()).get('/kostrack/traces').expect(401);
      const traces = await request(app.getHttpServer()).get('/kostrack/traces').set('x-kostrack-api-key', ADMIN_KEY).expect(200);
      expect(traces.body.items.map((t: { traceId: string }) => t.traceId)).toEqual([traceId]);
      expect(traces.body.items[0].totalCostUsd).toBe(rows[0].cost_usd);
    } finally {
      await app.close();
    }
  });

  it('clients returned by the factory are refused with a message saying where they go', async () => {
    @Module({
      imports: [
        KostrackModule.forRootAsync({
          useFactory: () => ({ database: false, clients: { drafts: { factory: () => new OpenAI({ apiKey: 'k' }) } } }) as never,
        }),
      ],
    })
    class AppModule {}
    const error = await Test.createTestingModule({ imports: [AppModule] })
      .compile()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KostrackConfigError);
    expect((error as Error).message).toMatch(/forRootAsync: declare `clients` beside useFactory/);
  });

  it('admin routes settings returned by the factory are refused: only the key may come from it', async () => {
    for (const admin of [{ enabled: true }, { path: 'ops' }, { guard: class {} }]) {
      @Module({ imports: [KostrackModule.forRootAsync({ useFactory: () => ({ database: false, admin }) as never, admin: { enabled: true, apiKey: 'k'.repeat(20) } })] })
      class AppModule {}
      const error = await Test.createTestingModule({ imports: [AppModule] })
        .compile()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KostrackConfigError);
      expect((error as Error).message).toMatch(new RegExp(`declare \`admin\.${Object.keys(admin)[0]}\` beside useFactory`));
    }
  });

  it('bad clients beside the factory fail at declaration, like forRoot', () => {
    expect(() => KostrackModule.forRootAsync({ useFactory: () => ({}), clients: { 'bad name': { factory: () => ({}) } } })).toThrow(KostrackConfigError);
    expect(() => KostrackModule.forRootAsync({ useFactory: () => ({}), clients: { x: { provider: 'openia', factory: () => ({}) } } })).toThrow(/openia/);
  });
});
