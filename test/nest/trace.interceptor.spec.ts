import 'reflect-metadata';
import request from 'supertest';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { INestApplication } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addSink, configureKostrack, MemorySink, usdToString } from '../../lib/index.js';
import { createTracedApp, type Platform } from './fixtures/traced.app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each<Platform>(['express', 'fastify'])('trace interceptor on %s', (platform) => {
  const sink = new MemorySink();
  let app: INestApplication;
  let remove: () => void;

  beforeAll(async () => {
    remove = addSink(sink);
    app = await createTracedApp(platform, {
      tags: { project: 'openmanagr' },
      serviceId: `api-${platform}`,
      requestTags: (ctx) => ({ user_id: ctx.switchToHttp().getRequest().headers['x-user-id'] }),
    });
  });
  afterAll(async () => {
    await app.close();
    remove();
    configureKostrack({ tags: {}, serviceId: 'default' });
  });
  beforeEach(() => sink.clear());

  it('opens one trace per request with route and user tags and returns its id in a header', async () => {
    const res = await request(app.getHttpServer()).get('/invoices/inv-7').set('x-user-id', 'u-42').expect(200);
    expect(res.body).toEqual({ id: 'inv-7', ok: true });
    const traceId = res.headers['x-kostrack-trace-id'];
    expect(traceId).toMatch(UUID);
    const calls = sink.callsOf(traceId);
    expect(calls.map((c) => c.tags.span_name).sort()).toEqual(['audit', 'classify', 'validate']);
    expect(calls.find((c) => c.tags.span_name === 'validate')!.tags).toEqual({
      project: 'openmanagr',
      route: 'GET /invoices/:id',
      feature: 'invoice-pipeline',
      user_id: 'u-42',
      invoice: 'inv-7',
      span_name: 'validate',
    });
    expect(calls.every((c) => c.serviceId === `api-${platform}`)).toBe(true);
    const root = sink.spans.find((s) => s.isRoot && s.traceId === traceId)!;
    // The interceptor's root stands for the decorated handler: no second span for it.
    expect(root.name).toBe('InvoiceController.process');
    expect(sink.spans.filter((s) => s.traceId === traceId)).toHaveLength(4);
    expect(usdToString(root.costUsd)).toBe('0.004');
    expect(root.callCount).toBe(3);
  });

  it('traces every route of a controller marked with @Trace()', async () => {
    const res = await request(app.getHttpServer()).get('/reports/monthly').expect(200);
    const traceId = res.headers['x-kostrack-trace-id'];
    expect(sink.callsOf(traceId)).toHaveLength(1);
    expect(sink.callsOf(traceId)[0].tags).toMatchObject({ feature: 'reports', route: 'GET /reports/monthly', span_name: 'ReportController.monthly' });
  });

  it('leaves routes without @Trace() alone', async () => {
    const res = await request(app.getHttpServer()).get('/invoices/untraced/ping').expect(200);
    expect(res.body).toEqual({ pong: true });
    expect(res.headers['x-kostrack-trace-id']).toBeUndefined();
    expect(sink.spans).toHaveLength(0);
  });

  it('records the error of a failing request and keeps the HTTP response', async () => {
    const res = await request(app.getHttpServer()).get('/invoices/missing').expect(404);
    expect(res.body.message).toBe('no such invoice');
    const root = sink.spans.find((s) => s.traceId === res.headers['x-kostrack-trace-id'])!;
    expect(root).toMatchObject({ status: 'error', errorClass: 'NotFoundException' });
  });

  it('continues an incoming W3C traceparent', async () => {
    const res = await request(app.getHttpServer())
      .get('/invoices/inv-8')
      .set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
      .expect(200);
    expect(res.headers['x-kostrack-trace-id']).toBe('4bf92f35-77b3-4da6-a3ce-929d0e0e4736');
    const root = sink.spans.find((s) => s.isRoot)!;
    expect(root.parentSpanId).toBe('00f067aa-0ba9-02b7-0000-000000000000');
    expect(sink.callsOf('4bf92f35-77b3-4da6-a3ce-929d0e0e4736')).toHaveLength(3);
  });

  it('starts a fresh trace for a malformed traceparent and drops a bad user tag', async () => {
    const res = await request(app.getHttpServer()).get('/invoices/inv-9').set('traceparent', 'nonsense').set('x-user-id', 'x'.repeat(300)).expect(200);
    const traceId = res.headers['x-kostrack-trace-id'];
    expect(traceId).toMatch(UUID);
    expect(sink.callsOf(traceId)[0].tags.user_id).toBeUndefined();
  });

  it('keeps 50 concurrent requests in their own traces', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => request(app.getHttpServer()).get(`/invoices/c-${i}`).set('x-user-id', `u${i}`)),
    );
    for (const [i, res] of responses.entries()) {
      const calls = sink.callsOf(res.headers['x-kostrack-trace-id']);
      expect(calls).toHaveLength(3);
      expect(calls.every((c) => c.tags.user_id === `u${i}`)).toBe(true);
      expect(calls.find((c) => c.tags.span_name === 'validate')!.tags.invoice).toBe(`c-${i}`);
    }
  });

  it('still documents the decorated route in OpenAPI', () => {
    const doc = SwaggerModule.createDocument(app, new DocumentBuilder().build());
    const op = doc.paths['/invoices/{id}'].get!;
    expect(op.responses['200']).toMatchObject({ description: 'The invoice was processed' });
    expect(op.tags).toEqual(['invoices']);
    expect(op.parameters?.[0]).toMatchObject({ name: 'id', in: 'path' });
  });
});
