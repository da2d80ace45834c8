import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../lib/core/call-record.js';
import { newId } from '../../lib/core/ids.js';
import { usdToString } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { trace } from '../../lib/core/trace.js';
import { startKostrack } from '../../lib/storage/start-kostrack.js';
import { KostrackFlushTimeoutError } from '../../lib/index.js';
import { encodeItem } from '../../lib/storage/record.codec.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { closedPortUrl } from './support/closed-port.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';
import { TcpProxy } from './support/tcp.proxy.js';

const db = useTestDatabase('faults');
const opened: TelemetryStorage[] = [];
afterAll(async () => {
  for (const s of opened) await s.close(500).catch(() => undefined);
});

async function open(writer: ReturnType<typeof tempWriterOptions>, database = db.url, warnings: string[] = []): Promise<TelemetryStorage> {
  const storage = (await TelemetryStorage.open({ database, schema: db.schema, writer }, { warn: (w) => warnings.push(w) }))!;
  opened.push(storage);
  return storage;
}

/** A finished call as the core hands it to sinks, built by hand so a test can make it wrong. */
function callRecord(traceId: string, cost: bigint, overrides: Partial<CallRecord> = {}): CallRecord {
  const input = syntheticCall({ costUsd: cost });
  return {
    ...input, errorClass: null, spanId: newId(), traceId, parentSpanId: null, time: new Date(), serviceId: 'faults',
    tags: { feature: 'faults' }, metadata: {}, ...overrides,
  } as CallRecord;
}

async function sumOf(traceId: string): Promise<{ n: number; total: string | null; trace: { call_count: string; total_cost_usd: string } | undefined }> {
  const r = await db.pool.query(`SELECT count(*)::int AS n, sum(cost_usd)::text AS total FROM "${db.schema}".llm_calls WHERE trace_id = $1`, [traceId]);
  const t = await db.pool.query(`SELECT call_count, total_cost_usd FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [traceId]);
  return { n: r.rows[0].n, total: r.rows[0].total === null ? null : usdToString(BigInt(0) + toUsd(r.rows[0].total)), trace: t.rows[0] };
}

function toUsd(decimal: string): bigint {
  const [whole, frac = ''] = decimal.split('.');
  return BigInt(whole) * 10n ** 15n + BigInt((frac + '0'.repeat(15)).slice(0, 15));
}

function spoolLines(dir: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

describe('a row that cannot be encoded', () => {
  it('is dead-lettered alone; the 200 rows after it are written and the database stays reachable', async () => {
    const writer = tempWriterOptions({ batchSize: 50, maxQueue: 1000, flushIntervalMs: 10 });
    const storage = await open(writer);
    const traceId = newId();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad = callRecord(traceId, 1n, { time: new Date(Number.NaN) });
    storage.writer.recordCall(bad);
    // Metadata comes from user hooks: a bigint is kept as its decimal string, a cycle as a note;
    // either way the call's cost is stored.
    storage.writer.recordCall(callRecord(traceId, 3n * 10n ** 9n, { metadata: { invoice_id: 12345678901234567890n } }));
    storage.writer.recordCall(callRecord(traceId, 5n * 10n ** 9n, { metadata: circular }));
    let expected = 8n * 10n ** 9n;
    for (let i = 1; i <= 200; i++) {
      storage.writer.recordCall(callRecord(traceId, BigInt(i) * 1_000_000_007n));
      expected += BigInt(i) * 1_000_000_007n;
    }
    await storage.writer.drain(30_000);
    expect(await sumOf(traceId)).toEqual({ n: 202, total: usdToString(expected), trace: { call_count: '202', total_cost_usd: usdToString(expected) } });
    const meta = await db.pool.query(`SELECT metadata FROM "${db.schema}".llm_calls WHERE trace_id = $1 AND metadata <> '{}' ORDER BY cost_usd`, [traceId]);
    expect(meta.rows).toEqual([
      { metadata: { invoice_id: '12345678901234567890' } },
      { metadata: { kostrack_unstorable: expect.stringMatching(/^not JSON: Converting circular structure to JSON/) } },
    ]);
    const letters = readFileSync(writer.deadLetterFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(letters.map((l) => [l.item.record.spanId, l.reason.code])).toEqual([[bad.spanId, 'ROW_ENCODING']]);
    expect(letters[0].reason.message).toMatch(/row cannot be encoded: Invalid time value/);
    expect(storage.health()).toMatchObject({ databaseReachable: true, deadLettered: 1, queueDepth: 0, lostRows: 0 });
  });

  it('an invalid date in the spool is dead-lettered with its reason on replay, and the rest of the segment is written', async () => {
    const writer = tempWriterOptions({ batchSize: 20 });
    const traceId = newId();
    const good = Array.from({ length: 30 }, (_, i) => callRecord(traceId, BigInt(i + 1) * 10n ** 6n));
    const broken = callRecord(traceId, 999n, { time: new Date(Number.NaN) });
    const lines = [...good.slice(0, 10), broken, ...good.slice(10)].map((record) => encodeItem({ kind: 'call', record }));
    expect(JSON.parse(lines[10]).record.time).toBeNull(); // what JSON makes of an invalid Date
    mkdirSync(writer.spoolDir, { recursive: true });
    writeFileSync(join(writer.spoolDir, `ready-999999-${Date.now()}-0.jsonl`), lines.join('\n') + '\n');
    const storage = await open(writer);
    await storage.writer.drain(30_000);
    expect((await sumOf(traceId)).n).toBe(30);
    const letters = readFileSync(writer.deadLetterFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(letters).toHaveLength(1);
    expect(letters[0].reason).toEqual({ code: 'SPOOL', message: "unreadable spool line: the call's time is not a valid date (null)" });
    expect(JSON.parse(letters[0].raw).record.spanId).toBe(broken.spanId);
    expect(readdirSync(writer.spoolDir)).toEqual([]);
    expect(storage.health()).toMatchObject({ databaseReachable: true, spoolBytes: 0 });
  });

  it('a torn spool line replayed while the database is down is dead-lettered once, however often the batch is retried', async () => {
    const writer = tempWriterOptions({ retryBaseMs: 10, retryMaxMs: 20 });
    mkdirSync(writer.spoolDir, { recursive: true });
    const good = encodeItem({ kind: 'call', record: callRecord(newId(), 1n) });
    writeFileSync(join(writer.spoolDir, `ready-999999-${Date.now()}-0.jsonl`), `${good}\n{"kind":"call","rec\n`);
    // Without migrations to wait for, the replay itself meets the outage.
    const storage = (await TelemetryStorage.open({ database: await closedPortUrl(), schema: db.schema, writer, migrationsRun: false }, { warn: () => undefined }))!;
    opened.push(storage);
    await until(() => storage.health().lastError !== null);
    const failures = () => storage.health().lastError!.at.getTime();
    const first = failures();
    await until(() => failures() > first + 100); // several retries of the same batch
    expect(storage.health().deadLettered).toBe(1);
    expect(readFileSync(writer.deadLetterFile, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});

describe('flush with a database that cannot answer', () => {
  it('rejects with KostrackFlushTimeoutError after its timeout, and keeps the rows', async () => {
    const writer = tempWriterOptions({ retryBaseMs: 50, retryMaxMs: 100 });
    const storage = await open(writer, await closedPortUrl());
    const traceId = newId();
    for (let i = 0; i < 5; i++) storage.writer.recordCall(callRecord(traceId, 1n));
    const error = await storage.writer.drain(400).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KostrackFlushTimeoutError);
    expect((error as Error).message).toMatch(/could not flush in 400 ms: 5 rows in memory/);
    // The refused connection is an I/O event of its own: on a loaded machine the 400 ms can run
    // out before the writer has heard it, so health is read once it has (the rows stay either way).
    await until(() => storage.health().databaseReachable === false);
    expect(storage.health()).toMatchObject({ databaseReachable: false, queueDepth: 5 });
  });

  it('a script awaiting flush() gets the rejection and runs on (no exit 13 with nothing keeping the loop alive)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-flush-'));
    const script = join(dir, 'flush.mjs');
    const lib = new URL('../../lib/index.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      `import { startKostrack, trace, recordCall } from ${JSON.stringify(lib)};
const k = await startKostrack({ database: process.argv[2], writer: { spoolDir: ${JSON.stringify(join(dir, 'spool'))}, deadLetterFile: ${JSON.stringify(join(dir, 'dl.jsonl'))} } });
trace(() => recordCall({ provider: 'openai', model: 'gpt-4o', operation: 'x', inputTokens: 1, outputTokens: 1, cachedTokens: 0, tokenBreakdown: {}, costUsd: 1n, pricingModel: null, pricingSource: 'catalog', latencyMs: 1, status: 'ok', streamed: false }));
try { await k.flush(300); console.log('FLUSHED'); } catch (e) { console.log('REJECTED ' + e.name); }
console.log('AFTER');
await k.close(200);
`,
    );
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', script, 'postgresql://nobody@127.0.0.1:9/none'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const killer = setTimeout(() => proc.kill('SIGKILL'), 45_000);
      proc.on('exit', (code) => (clearTimeout(killer), resolve({ code, stdout })));
    });
    expect(out).toEqual({ code: 0, stdout: 'REJECTED KostrackFlushTimeoutError\nAFTER\n' });
    expect(spoolLines(join(dir, 'spool')).map((l) => JSON.parse(l).kind).sort()).toEqual(['call', 'span']);
  });
});

async function until(check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a network stall', () => {
  it('health reports the database unreachable once a write has waited stallAfterMs, not after the 120 s query timeout', async () => {
    const proxy = TcpProxy.forUrl(db.url);
    await proxy.start();
    try {
      const writer = tempWriterOptions({ stallAfterMs: 300, batchSize: 10 });
      const storage = await open(writer, proxy.urlFor(db.url));
      const traceId = newId();
      storage.writer.recordCall(callRecord(traceId, 10n ** 12n));
      await storage.writer.drain(30_000);
      expect(storage.health()).toMatchObject({ databaseReachable: true, lastError: null });

      proxy.stall(); // connections stay open; nothing comes back
      for (let i = 0; i < 10; i++) storage.writer.recordCall(callRecord(traceId, 10n ** 12n));
      await until(() => storage.health().databaseReachable === false);
      expect(storage.health().lastError).toMatchObject({ code: 'STALLED', message: expect.stringMatching(/^a write has had no answer from PostgreSQL for \d+ s$/) });

      proxy.resume();
      await storage.writer.drain(30_000);
      expect(storage.health()).toMatchObject({ databaseReachable: true, queueDepth: 0 });
      expect(await sumOf(traceId)).toEqual({ n: 11, total: '0.011', trace: { call_count: '11', total_cost_usd: '0.011' } });
    } finally {
      await Promise.all(opened.splice(0).map((s) => s.close(200)));
      await proxy.stop();
    }
  });
});

describe('rows recorded after close', () => {
  it('go to the spool (counted in health) and the next start writes them once', async () => {
    const writer = tempWriterOptions();
    const first = await startKostrack({ database: db.url, schema: db.schema, writer });
    await first.close();
    const late = trace({ name: 'after-close' }, (t) => {
      for (let i = 1; i <= 3; i++) recordCall(syntheticCall({ costUsd: BigInt(i) * 10n ** 12n }));
      return t;
    });
    expect(first.health()).toMatchObject({ closed: true, spooledRows: 4, lostRows: 0 }); // three calls and the root span
    expect(spoolLines(writer.spoolDir)).toHaveLength(4);
    const second = await startKostrack({ database: db.url, schema: db.schema, writer });
    await second.flush(30_000);
    await second.close();
    expect(await sumOf(late.traceId)).toEqual({ n: 3, total: '0.006', trace: { call_count: '3', total_cost_usd: '0.006' } });
  });
});

/** A tmpfs of `size` mounted at a fresh folder (root only), for disk faults a test can cause. */
function smallDisk(options: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kt-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`this test mounts a small tmpfs to fill a disk and needs root: ${(e as Error).message}`);
  }
  return {
    dir,
    remove: () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('disk faults while the database is down', () => {
  it('a full disk: health counts the rows on disk and the rows lost, and shows the spool error', async () => {
    const disk = smallDisk('size=128k');
    try {
      const writer = { ...tempWriterOptions({ maxQueue: 100, batchSize: 50 }), spoolDir: join(disk.dir, 'spool') };
      const warnings: string[] = [];
      const storage = await open(writer, await closedPortUrl(), warnings);
      for (let i = 0; i < 5000; i++) storage.writer.recordCall(callRecord(newId(), BigInt(i)));
      await new Promise((r) => setImmediate(r)); // spilled lines are written within a tick
      const h = storage.health();
      const onDisk = spoolLines(writer.spoolDir).length;
      expect(onDisk).toBeGreaterThan(0);
      expect(h.spooledRows).toBe(onDisk);
      expect(h.lostRows).toBe(5000 - 100 - onDisk);
      expect(h.queueDepth).toBe(100);
      expect(h.spoolError?.code).toBe('ENOSPC');
      expect(h.lastError?.code).toBe('ENOSPC');
      // Every line on disk is whole (a torn tail was cut off), so the replay can read them all.
      for (const line of spoolLines(writer.spoolDir)) expect(JSON.parse(line).kind).toBe('call');
      expect(warnings.filter((w) => w.includes('could not write its spool'))).toHaveLength(1);
    } finally {
      await Promise.all(opened.splice(0).map((s) => s.close(200)));
      disk.remove();
    }
  });

  it('a read-only folder: nothing reaches it, every spilled row is counted lost, the error is in health', async () => {
    const disk = smallDisk('size=128k,ro');
    try {
      const writer = { ...tempWriterOptions({ maxQueue: 100, batchSize: 50 }), spoolDir: disk.dir };
      const storage = await open(writer, await closedPortUrl());
      expect(storage.health().spoolError?.code).toBe('EROFS'); // seen at start, before any row needs it
      for (let i = 0; i < 1000; i++) storage.writer.recordCall(callRecord(newId(), BigInt(i)));
      await new Promise((r) => setImmediate(r));
      expect(storage.health()).toMatchObject({ spooledRows: 0, lostRows: 900, queueDepth: 100 });
    } finally {
      await Promise.all(opened.splice(0).map((s) => s.close(200)));
      disk.remove();
    }
  });

  it('a spool folder that cannot be created: storage still opens and writes, degraded, and says so', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kt-notdir-')), 'a-file');
    writeFileSync(file, 'not a folder');
    const writer = { ...tempWriterOptions(), spoolDir: join(file, 'spool') };
    const kostrack = await startKostrack({ database: db.url, schema: db.schema, writer });
    try {
      const root = trace({ name: 'degraded' }, (t) => {
        recordCall(syntheticCall({ costUsd: 7n * 10n ** 12n }));
        return t;
      });
      await kostrack.flush(30_000);
      expect(await sumOf(root.traceId)).toEqual({ n: 1, total: '0.007', trace: { call_count: '1', total_cost_usd: '0.007' } });
      expect(kostrack.health()).toMatchObject({ databaseReachable: true, spoolError: { code: 'ENOTDIR' }, lostRows: 0 });
      // Rows past the memory bound now have nowhere to go: counted lost, and the error stays shown.
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 12_000; j++) kostrack.storage!.writer.recordCall(callRecord(newId(), 1n));
        await new Promise((r) => setImmediate(r));
        expect(kostrack.health().spoolError?.code).toBe('ENOTDIR');
      }
      expect(kostrack.health().lostRows).toBeGreaterThan(0);
    } finally {
      await kostrack.close();
    }
  });
});
