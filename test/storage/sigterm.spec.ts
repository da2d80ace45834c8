import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Global, Module, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { usdToString } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { trace } from '../../lib/core/trace.js';
import { KostrackHealth } from '../../lib/nest/kostrack.health.js';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';
import { TcpProxy } from './support/tcp.proxy.js';

const db = useTestDatabase('sigterm');
const child = fileURLToPath(new URL('./support/sigterm-app.child.ts', import.meta.url));
// What the child's traced workflow does per request (sigterm-app.child.ts).
const CALLS_PER_REQUEST = 5;
const TRACE_NAME = 'sigterm-request';
/** Calls of the job that finishes during shutdown, after storage closed. */
const JOB_CALLS = 3;
const CLIENTS = 8;
/** Responses before SIGTERM: enough that the writer has flushed many batches and is mid-stream. */
const LOAD = 400;

let proxy: TcpProxy;
const opened: TelemetryStorage[] = [];
const schemas: string[] = [];
/** A schema per run, so each run's tables hold only its own rows (the child's migrations create it). */
function runSchema(name: string): string {
  schemas.push(`${db.schema}_${name}`);
  return schemas[schemas.length - 1];
}
beforeAll(async () => {
  proxy = TcpProxy.forUrl(db.url);
  await proxy.start();
});
afterAll(async () => {
  for (const s of opened) await s.close(1000);
  await proxy.stop();
  for (const s of schemas) await db.pool.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
});

interface ChildCounts {
  calls: number;
  costUnits: string;
  tracesStarted: number;
  tracesEnded: number;
  callsAfterSigterm: number;
  inFlightAtSigterm: number;
  callsAfterStorageClosed: number;
}

type Reply = { status: number } | { error: string };

/** One request on its own connection (`Connection: close`), so the server's close() can finish. */
function get(port: number, path: string): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/**
 * Starts the app, loads it with CLIENTS concurrent clients until LOAD responses, opens one request
 * that is held mid-workflow, runs `beforeSigterm`, sends SIGTERM and waits for the child to exit
 * on its own; clients keep sending until the server turns them away.
 */
async function serveThenTerminate(url: string, schema: string, writer: ReturnType<typeof tempWriterOptions>, beforeSigterm: () => Promise<void>) {
  const countFile = join(mkdtempSync(join(tmpdir(), 'kt-sigterm-')), 'counts.json');
  const proc = spawn(process.execPath, ['--import', 'tsx', child, url, schema, writer.spoolDir, writer.deadLetterFile, countFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // A generous bound on the whole run; a child still alive then is a hung shutdown.
  const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    for (const w of [...waiters]) {
      const m = w.re.exec(line);
      if (!m) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  const line = (re: RegExp) =>
    Promise.race([
      new Promise<RegExpExecArray>((resolve) => waiters.push({ re, resolve })),
      exited.then((e) => Promise.reject(new Error(`child exited (${e.code ?? e.signal}) before ${re}: ${stderr}`))),
    ]);

  try {
    const port = Number((await line(/^port (\d+)$/))[1]);
    let ok = 0;
    let sigtermSent = false;
    const failuresBeforeSigterm: string[] = [];
    const unexpected: number[] = [];
    let loaded!: () => void;
    const enough = new Promise<void>((resolve) => (loaded = resolve));
    const client = async () => {
      for (;;) {
        const reply = await get(port, '/work');
        if ('status' in reply && reply.status === 200) {
          if (++ok >= LOAD) loaded();
          continue;
        }
        if ('status' in reply) unexpected.push(reply.status);
        else if (!sigtermSent) failuresBeforeSigterm.push(reply.error);
        // After SIGTERM the server stops accepting: this client is done.
        loaded();
        return;
      }
    };
    const clients = Array.from({ length: CLIENTS }, client);
    await enough;
    const held = get(port, '/work?hold=1');
    await line(/^held$/);
    await beforeSigterm();
    sigtermSent = true;
    proc.kill('SIGTERM');
    const exit = await exited;
    await Promise.all(clients);
    const heldReply = await held;
    expect({ failuresBeforeSigterm, unexpected, heldReply }).toEqual({ failuresBeforeSigterm: [], unexpected: [], heldReply: { status: 200 } });
    expect(exit, stderr).toEqual({ code: 0, signal: null });
    const counts = JSON.parse(readFileSync(countFile, 'utf8')) as ChildCounts;
    return { counts, spoolFilesAtExit: existsSync(writer.spoolDir) ? readdirSync(writer.spoolDir).length : 0 };
  } finally {
    clearTimeout(killer);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

/** The next start: replays the spool and writes everything before the assertions read. */
async function restart(schema: string, writer: ReturnType<typeof tempWriterOptions>): Promise<TelemetryStorage> {
  const storage = (await TelemetryStorage.open({ database: db.url, schema, writer }, { warn: () => undefined }))!;
  opened.push(storage);
  await storage.writer.drain(60_000);
  return storage;
}

/** Every call the app recorded is stored once, and every trace adds up to its own calls. */
async function expectEveryCallStored(schema: string, counts: ChildCounts): Promise<void> {
  // The app finished every request it had accepted before it exited.
  expect(counts.tracesEnded).toBe(counts.tracesStarted);
  expect(counts.calls).toBe(counts.tracesStarted * CALLS_PER_REQUEST + JOB_CALLS);
  const s = `"${schema}"`;
  const calls = (
    await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT span_id)::int AS ids, count(DISTINCT trace_id)::int AS traces,
              trim_scale(sum(cost_usd))::text AS cost FROM ${s}.llm_calls`,
    )
  ).rows[0];
  expect({ lost: counts.calls - calls.ids, doubled: calls.n - calls.ids, traces: calls.traces, cost: calls.cost }).toEqual({
    lost: 0,
    doubled: 0,
    traces: counts.tracesStarted + 1,
    cost: usdToString(BigInt(counts.costUnits)),
  });
  // A trace row per trace, named by its root span, with all of its calls.
  const byName = await db.pool.query(
    `SELECT name, count(*)::int AS traces, min(call_count)::int AS min_calls, max(call_count)::int AS max_calls
       FROM ${s}.llm_traces GROUP BY name ORDER BY name`,
  );
  expect(byName.rows).toEqual([
    { name: 'closing-job', traces: 1, min_calls: JOB_CALLS, max_calls: JOB_CALLS },
    { name: TRACE_NAME, traces: counts.tracesStarted, min_calls: CALLS_PER_REQUEST, max_calls: CALLS_PER_REQUEST },
  ]);
  const checks = (
    await db.pool.query(
      `SELECT (SELECT count(*) FROM ${s}.llm_traces t
                WHERE t.call_count <> (SELECT count(*) FROM ${s}.llm_calls c WHERE c.trace_id = t.trace_id)
                   OR t.total_cost_usd <> (SELECT COALESCE(sum(cost_usd), 0) FROM ${s}.llm_calls c WHERE c.trace_id = t.trace_id))::int AS drift,
              (SELECT count(DISTINCT trace_id) FROM ${s}.llm_calls c
                WHERE NOT EXISTS (SELECT 1 FROM ${s}.llm_traces t WHERE t.trace_id = c.trace_id))::int AS without_row,
              (SELECT count(*) FROM ${s}.llm_traces WHERE root_span_id IS NULL)::int AS without_root,
              (SELECT count(*) FROM ${s}.llm_spans WHERE name = 'steps')::int AS spans`,
    )
  ).rows[0];
  expect(checks).toEqual({ drift: 0, without_row: 0, without_root: 0, spans: counts.tracesStarted });
}

/**
 * Requests were mid-flight at SIGTERM (the held one made its last calls after it), yet the only
 * calls recorded after storage closed are the job's that outlives the app: storage closes after
 * the HTTP server has finished serving.
 */
function expectShutdownOrder(counts: ChildCounts): void {
  expect(counts.inFlightAtSigterm).toBeGreaterThanOrEqual(1);
  expect(counts.callsAfterSigterm).toBeGreaterThanOrEqual(CALLS_PER_REQUEST - 2);
  expect(counts.callsAfterStorageClosed).toBe(JOB_CALLS);
}

it('SIGTERM under load with the database up: after restart, every call recorded is stored once', async () => {
  const schema = runSchema('up');
  const writer = tempWriterOptions();
  const run = await serveThenTerminate(proxy.urlFor(db.url), schema, writer, async () => undefined);
  const storage = await restart(schema, writer);
  await expectEveryCallStored(schema, run.counts);
  expect(existsSync(writer.deadLetterFile)).toBe(false);
  expect(storage.health()).toMatchObject({ queueDepth: 0, spoolBytes: 0 });
  expectShutdownOrder(run.counts);
}, 90_000);

it('SIGTERM under load with the database down: the rows wait in the spool, the restart writes each once', async () => {
  const schema = runSchema('down');
  const writer = tempWriterOptions();
  const run = await serveThenTerminate(proxy.urlFor(db.url), schema, writer, () => proxy.stop());
  await proxy.start();
  const storage = await restart(schema, writer);
  await expectEveryCallStored(schema, run.counts);
  expect(existsSync(writer.deadLetterFile)).toBe(false);
  expect(storage.health()).toMatchObject({ queueDepth: 0, spoolBytes: 0 });
  expect(run.spoolFilesAtExit).toBeGreaterThan(0);
  expectShutdownOrder(run.counts);
}, 90_000);

it("a host DataSource destroyed by its module's onApplicationShutdown before ours: queued rows are written first, later ones spooled", async () => {
  const order: string[] = [];
  let lateTraceId = '';
  const dataSource = new DataSource({ type: 'postgres', url: db.url, poolSize: 4 });
  // What @nestjs/typeorm's TypeOrmCoreModule does: a global module that destroys its DataSource on shutdown.
  @Global()
  @Module({ providers: [{ provide: DataSource, useFactory: () => dataSource.initialize() }], exports: [DataSource] })
  class HostDatabaseModule implements OnApplicationShutdown {
    async onApplicationShutdown() {
      // Rows recorded after Kostrack's beforeApplicationShutdown, as the last requests' are.
      lateTraceId = trace({ name: 'late' }, (t) => {
        for (let i = 0; i < 7; i++) recordCall(syntheticCall({ costUsd: 1_000_000_000n }));
        return t.traceId;
      });
      order.push('host DataSource destroyed');
      await dataSource.destroy();
    }
  }
  // Kostrack imported first: global modules run shutdown hooks in reverse order, so the host's runs first.
  const schema = runSchema('host');
  // Nothing leaves memory before shutdown; the deadline is far beyond what 1,000 rows take (the
  // 5 s default can run out on a loaded machine, and rows that miss it are spooled, not written).
  const writer = tempWriterOptions({ flushIntervalMs: 60_000, batchSize: 500, shutdownDeadlineMs: 40_000 });
  @Module({ imports: [KostrackModule.forRoot({ database: { dataSource: 'default' }, schema, writer }), HostDatabaseModule] })
  class AppModule {}
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const close = TelemetryStorage.prototype.close;
  const spy = vi.spyOn(TelemetryStorage.prototype, 'close').mockImplementation(function (this: TelemetryStorage, ...args) {
    order.push('storage closed');
    return close.apply(this, args);
  });
  const totals = `SELECT call_count, total_cost_usd FROM "${schema}".llm_traces WHERE trace_id = $1`;
  try {
    const traceId = trace({ name: 'queued' }, (t) => {
      for (let i = 0; i < 1000; i++) recordCall(syntheticCall({ costUsd: 1_000_000_000n }));
      return t.traceId;
    });
    const health = app.get(KostrackHealth);
    await app.close();
    expect(order).toEqual(['host DataSource destroyed', 'storage closed']);
    expect((await db.pool.query(totals, [traceId])).rows).toEqual([{ call_count: '1000', total_cost_usd: '0.001' }]);
    // The late calls and their root span could only be spooled; the next start writes them.
    expect(health.check()).toMatchObject({ spooledRows: 8, queueDepth: 0, deadLettered: 0 });
  } finally {
    spy.mockRestore();
  }
  await restart(schema, writer);
  expect((await db.pool.query(totals, [lateTraceId])).rows).toEqual([{ call_count: '7', total_cost_usd: '0.000007' }]);
});
