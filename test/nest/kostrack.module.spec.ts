import 'reflect-metadata';
import request from 'supertest';
import { Controller, Get, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { addSink, configureKostrack, KostrackConfigError, KostrackModule, MemorySink, recordCall, Trace, type KostrackModuleOptions } from '../../lib/index.js';
import { callInput } from '../support/call-input.js';

@Controller()
class PingController {
  @Trace({ name: 'ping' })
  @Get('ping')
  ping() {
    recordCall(callInput('0.01'));
    return 'pong';
  }
}

async function start(kostrack: ReturnType<typeof KostrackModule.forRoot>) {
  @Module({ imports: [kostrack], controllers: [PingController] })
  class AppModule {}
  const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication();
  await app.init();
  return app;
}

describe('KostrackModule', () => {
  const sink = new MemorySink();
  addSink(sink);
  afterEach(() => {
    sink.clear();
    configureKostrack({ enabled: true, tags: {}, serviceId: 'default' });
  });

  it('takes options from an async factory', async () => {
    const app = await start(
      KostrackModule.forRootAsync({
        useFactory: async (): Promise<KostrackModuleOptions> => ({ serviceId: 'async-svc', tags: { project: 'p1' }, traceIdHeader: 'x-trace' }),
      }),
    );
    const res = await request(app.getHttpServer()).get('/ping').expect(200);
    expect(res.headers['x-trace']).toBe(sink.calls[0].traceId);
    expect(sink.calls[0]).toMatchObject({ serviceId: 'async-svc', tags: { project: 'p1', route: 'GET /ping', span_name: 'ping' } });
    await app.close();
  });

  it('records nothing when disabled and the route still answers', async () => {
    const app = await start(KostrackModule.forRoot({ enabled: false }));
    const res = await request(app.getHttpServer()).get('/ping').expect(200);
    expect(res.text).toBe('pong');
    expect(res.headers['x-kostrack-trace-id']).toBeUndefined();
    expect(sink.calls).toHaveLength(0);
    await app.close();
  });

  it('does not intercept when globalInterceptor is false: the method decorator still traces', async () => {
    const app = await start(KostrackModule.forRoot({ globalInterceptor: false }));
    const res = await request(app.getHttpServer()).get('/ping').expect(200);
    expect(res.headers['x-kostrack-trace-id']).toBeUndefined();
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0].tags).toEqual({ span_name: 'ping' });
    await app.close();
  });

  it('rejects bad options with a clear error', () => {
    expect(() => KostrackModule.forRoot({ tags: { a: [] as never } })).toThrow(KostrackConfigError);
    expect(() => KostrackModule.forRoot({ serviceId: '' })).toThrow(/serviceId must be a non-empty string/);
    expect(() => KostrackModule.forRoot({ requestTags: 'user' as never })).toThrow(/requestTags must be a function/);
  });
});
