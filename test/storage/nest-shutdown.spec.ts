import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordCall } from '../../lib/core/record-call.js';
import { trace } from '../../lib/core/trace.js';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import { KostrackHealth } from '../../lib/nest/kostrack.health.js';
import { KostrackHealthIndicator } from '../../lib/nest/kostrack.health-indicator.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';
import { TcpProxy } from './support/tcp.proxy.js';

const db = useTestDatabase('nestclose');
let proxy: TcpProxy;

beforeAll(async () => {
  proxy = TcpProxy.forUrl(db.url);
  await proxy.start();
});
afterAll(async () => {
  await proxy.stop();
});

async function boot(writer: ReturnType<typeof tempWriterOptions>) {
  @Module({ imports: [KostrackModule.forRoot({ database: proxy.urlFor(db.url), schema: db.schema, writer, serviceId: 'nest-app' })] })
  class AppModule {}
  return NestFactory.createApplicationContext(AppModule, { logger: false });
}

function record10k(feature: string): string {
  return trace({ name: 'bulk', tags: { feature } }, (t) => {
    for (let i = 0; i < 10_000; i++) recordCall(syntheticCall({ costUsd: 1_000_000_000n }));
    return t.traceId;
  });
}

async function countCalls(traceId: string) {
  const r = await db.pool.query(
    `SELECT (SELECT count(*)::int FROM "${db.schema}".llm_calls WHERE trace_id = $1) AS calls, t.total_cost_usd, t.call_count FROM "${db.schema}".llm_traces t WHERE trace_id = $1`,
    [traceId],
  );
  return r.rows[0];
}

it('app.close() with 10,000 queued rows flushes all of them', async () => {
  // A long flush interval: nothing leaves memory before close() unless close() sends it. And a
  // shutdown deadline far beyond what 10,000 rows take (the 5 s default can run out on a loaded
  // machine, and what misses it is spooled instead): this test is about close() sending them.
  const writer = tempWriterOptions({ flushIntervalMs: 60_000, batchSize: 5000, maxQueue: 20_000, shutdownDeadlineMs: 40_000 });
  const app = await boot(writer);
  const indicator = app.get(KostrackHealthIndicator);
  const traceId = record10k('close-flush');
  expect(app.get(KostrackHealth).check()).toMatchObject({ enabled: true, queueDepth: 10_001, schema: db.schema });
  await app.close();
  expect(await countCalls(traceId)).toEqual({ calls: 10_000, total_cost_usd: '0.01', call_count: '10000' });
  expect(indicator.isHealthy().kostrack).toMatchObject({ status: 'up', databaseReachable: true, queueDepth: 0, spoolBytes: 0 });
});

it('app.close() while the database is down spools the rows; the next start replays them exactly once', async () => {
  const writer = tempWriterOptions({ flushIntervalMs: 60_000, batchSize: 1000 });
  const first = await boot(writer);
  await proxy.stop();
  const traceId = record10k('close-spool');
  const indicator = first.get(KostrackHealthIndicator);
  await first.close();
  expect(indicator.isHealthy('db').db).toMatchObject({ status: 'down', databaseReachable: false });
  expect(first.get(KostrackHealth).check().spooledRows).toBe(10_001); // the calls and the root span

  await proxy.start();
  const second = await boot(writer);
  const health = second.get(KostrackHealth);
  const end = Date.now() + 30_000;
  while (health.check().spoolBytes! > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  expect(await countCalls(traceId)).toEqual({ calls: 10_000, total_cost_usd: '0.01', call_count: '10000' });
  await second.close();
  expect(health.check()).toMatchObject({ spoolBytes: 0, queueDepth: 0 });
});
