import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { addSink } from '../../lib/core/sinks.js';
import { trace } from '../../lib/core/trace.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';
import { TcpProxy } from './support/tcp.proxy.js';

const db = useTestDatabase('outage');
let proxy: TcpProxy;
let storage: TelemetryStorage | null = null;
let detach: (() => void) | undefined;
const warnings: string[] = [];

beforeAll(async () => {
  proxy = TcpProxy.forUrl(db.url);
  await proxy.start();
});
afterAll(async () => {
  detach?.();
  await storage?.close(1000);
  await proxy.stop();
});

async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('an outage during 20,000 calls: the calls never wait or throw, every row lands exactly once', async () => {
  const writer = tempWriterOptions({ maxQueue: 5000, batchSize: 1000 });
  storage = await TelemetryStorage.open({ database: proxy.urlFor(db.url), schema: db.schema, writer }, { warn: (w) => warnings.push(w) });
  detach = addSink(storage!.writer);

  await proxy.stop(); // the database goes away

  // What the record path costs is measured in this process's CPU time, which other processes
  // competing for the cores do not stretch (wall-clock time on a loaded machine is mostly
  // waiting for a core). A wait, which costs no CPU, shows in the wall-clock time of a call.
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  let slowestCpu = 0;
  let slowestWall = 0;
  let recorded = 0;
  const started = process.cpuUsage();
  const root = trace({ name: 'outage', tags: { feature: 'bulk-import' } }, (t) => {
    for (let i = 0; i < 20_000; i++) {
      const wallBefore = performance.now();
      const cpuBefore = process.cpuUsage();
      // Distinct, exact amounts: i * 1.000000007e-6 USD.
      if (recordCall(syntheticCall({ costUsd: BigInt(i) * 1_000_000_007n, inputTokens: i % 97 }))) recorded++;
      slowestCpu = Math.max(slowestCpu, cpuMs(cpuBefore));
      slowestWall = Math.max(slowestWall, performance.now() - wallBefore);
    }
    return t;
  });
  const elapsedCpu = cpuMs(started);
  expect(recorded).toBe(20_000);
  // Synchronous the whole way: 20,000 calls in under 5 s of work, none over 250 ms of it, none
  // waiting on the database. A call that waited for it would stay blocked for the outage (or at
  // least the pool's 5 s connection timeout); no scheduling delay of a runnable process comes near.
  expect(elapsedCpu).toBeLessThan(5000);
  expect(slowestCpu).toBeLessThan(250);
  expect(slowestWall).toBeLessThan(5000);

  await until(() => storage!.health().databaseReachable === false);
  const down = storage!.health();
  expect(down.queueDepth).toBe(5000);
  expect(down.spooledRows).toBe(15_001); // 15,000 calls and the root span past the memory bound
  expect(down.spoolBytes).toBeGreaterThan(0);
  expect(down.lastError?.message).toBeTruthy();
  expect(warnings.some((w) => w.includes('cannot write'))).toBe(true);

  await proxy.start(); // back on the same port
  await storage!.writer.drain(60_000);

  const counts = await db.pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT span_id)::int AS distinct_ids, sum(cost_usd)::text AS total FROM "${db.schema}".llm_calls WHERE trace_id = $1`,
    [root.traceId],
  );
  expect({ ...counts.rows[0], total: usdToString(usd(counts.rows[0].total)) }).toEqual({ n: 20_000, distinct_ids: 20_000, total: '199.99000139993' });
  const t = await db.pool.query(`SELECT total_cost_usd, call_count, input_tokens, name FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [
    root.traceId,
  ]);
  expect(root.totalCostDecimal).toBe('199.99000139993');
  expect(t.rows).toEqual([{ total_cost_usd: root.totalCostDecimal, call_count: '20000', input_tokens: String(expectedTokens()), name: 'outage' }]);
  const after = storage!.health();
  expect(after).toMatchObject({ databaseReachable: true, queueDepth: 0, spoolBytes: 0, deadLettered: 0 });
  // Rows whose commit succeeded while the connection was being cut are re-sent and skipped, so this
  // process may count fewer inserts than the table holds; the table (checked above) is the truth.
  expect(after.written!.calls).toBeLessThanOrEqual(20_000);
  expect(readFileSync(writer.deadLetterFile, { flag: 'a+' }).length).toBe(0);
});

function expectedTokens(): number {
  let sum = 0;
  for (let i = 0; i < 20_000; i++) sum += i % 97;
  return sum;
}
