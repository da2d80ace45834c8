import 'reflect-metadata';
import { createServer } from 'node:http';
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, MessagePattern, Payload, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSink, currentTrace, MemorySink, recordCall, remoteParentFrom, trace, type CallRecord } from '../../lib/core/index.js';
import { continueTrace, messageTraceHeaders, outgoingTraceHeaders, propagateTrace } from '../../lib/integrations/index.js';
import { KostrackModule, Trace } from '../../lib/nest/index.js';
import { callInput } from '../support/call-input.js';

const sink = new MemorySink();
let removeSink = () => {};
beforeAll(() => {
  removeSink = addSink(sink);
});
afterAll(() => removeSink());

describe('outgoing headers', () => {
  it('are empty outside a trace and the active span inside one (continued by continueTrace)', async () => {
    expect(outgoingTraceHeaders()).toEqual({});
    await trace(async (t) => {
      const headers = outgoingTraceHeaders();
      expect(headers).toMatchObject({ traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });
      await trace({ newTrace: true }, () =>
        continueTrace(new Headers(headers as Record<string, string>), { name: 'consumer' }, (remote) => {
          expect(remote.traceId).toBe(t.traceId);
          expect(remote.parentSpanId).toBe(t.spanId);
          expect(remote.isRoot).toBe(true);
        }),
      );
    });
    // Garbage starts a fresh trace instead of failing the consumer.
    continueTrace({ traceparent: 'nope' }, (fresh) => expect(fresh.parentSpanId).toBeNull());
  });

  it('propagateTrace sets headers per request on axios-style instances (AxiosHeaders and plain objects) and ejects', async () => {
    const handlers: ((c: any) => any)[] = [];
    const instance = {
      interceptors: { request: { use: (fn: (c: any) => any) => handlers.push(fn) - 1, eject: (id: number) => void handlers.splice(id, 1) } },
    };
    const eject = propagateTrace(instance);
    const set = new Map<string, string>();
    await trace((t) => {
      const plain = handlers[0]({ headers: {} });
      expect(plain.headers.traceparent).toContain(t.traceId.replace(/-/g, ''));
      handlers[0]({ headers: { set: (k: string, v: string) => set.set(k, v) } });
      expect(set.get('tracestate')).toBe(`kostrack=${t.spanId.replace(/-/g, '')}`);
    });
    expect(handlers[0]({ headers: {} }).headers).toEqual({});
    eject();
    expect(handlers).toHaveLength(0);
  });
});

describe('propagateTrace on real axios and Nest HttpService', () => {
  it('sends the calling trace to another HTTP service, per request, and stops after eject', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(remoteParentFrom(req.headers) ?? null));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const http = new HttpService(axios.create({ baseURL: base }));
    const eject = propagateTrace(http.axiosRef);

    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) =>
        trace({ name }, async (t) => {
          const res = await firstValueFrom(http.get('/echo'));
          return { t, remote: res.data };
        }),
      ),
    );
    // Each concurrent trace sent its own ids: the receiver can continue exactly the caller's span.
    expect(a.remote).toEqual({ traceId: a.t.traceId, parentSpanId: a.t.spanId });
    expect(b.remote).toEqual({ traceId: b.t.traceId, parentSpanId: b.t.spanId });
    expect((await http.axiosRef.get('/echo')).data).toBeNull();
    eject();
    await trace(() => http.axiosRef.get('/echo'));
    expect(seen[3]).toBeUndefined();
    await new Promise((r) => server.close(r));
  });
});

@Controller()
class LabelHandler {
  @Trace({ name: 'label-consumer' })
  @MessagePattern('label')
  label(@Payload() data: { invoice: string }) {
    recordCall(callInput('0.002', { provider: 'openai', model: 'gpt-4o-mini' }));
    return { invoice: data.invoice, traceId: currentTrace()!.traceId, parent: currentTrace()!.parentSpanId };
  }
}

describe('@nestjs/microservices (TCP): @Trace on a @MessagePattern continues the caller trace from the payload headers', () => {
  let server: INestMicroservice;
  let client: ClientProxy;
  beforeAll(async () => {
    @Module({ imports: [KostrackModule.forRoot({ database: false })], controllers: [LabelHandler] })
    class WorkerModule {}
    server = await NestFactory.createMicroservice(WorkerModule, { transport: Transport.TCP, options: { host: '127.0.0.1', port: 0 }, logger: false });
    await server.listen();
    const port = (server.unwrap() as { address(): { port: number } }).address().port;
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('one trace across the message boundary, the consumer root parented to the producer span', async () => {
    sink.clear();
    const { t, reply } = await trace({ name: 'producer' }, async (t) => {
      recordCall(callInput('0.001'));
      const reply = await firstValueFrom(client.send<{ traceId: string; parent: string }>('label', { invoice: 'INV-9', ...messageTraceHeaders() }));
      return { t, reply };
    });
    expect(reply).toMatchObject({ traceId: t.traceId, parent: t.spanId });
    expect(sink.calls.map((c: CallRecord) => c.traceId)).toEqual([t.traceId, t.traceId]);
    // Without headers the consumer opens its own trace.
    const alone = await firstValueFrom(client.send<{ traceId: string }>('label', { invoice: 'INV-10' }));
    expect(alone.traceId).not.toBe(t.traceId);
  });
});
