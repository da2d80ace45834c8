import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { closedPortUrl } from './support/closed-port.js';
import { tempWriterOptions } from './support/synthetic.js';

const db = useTestDatabase('crash');
const child = fileURLToPath(new URL('./support/crash.child.ts', import.meta.url));
const opened: TelemetryStorage[] = [];
afterAll(async () => {
  for (const s of opened) await s.close(1000);
});

/** Starts the child, waits until it reports at least `atLeast` recorded calls, then SIGKILLs it. */
async function runAndKill(args: string[], atLeast: number): Promise<number> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let last = 0;
    const timer = setTimeout(() => (proc.kill('SIGKILL'), reject(new Error(`child too slow: ${stderr}`))), 45_000);
    proc.stdout.on('data', (d: Buffer) => {
      const m = /recorded (\d+)\n(?![\s\S]*recorded)/.exec(d.toString());
      if (m) last = Number(m[1]);
      if (last >= atLeast && !proc.killed) {
        proc.kill('SIGKILL');
      }
    });
    proc.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && last >= atLeast) resolve(last);
      else reject(new Error(`child exited (${signal}) after ${last}: ${stderr}`));
    });
  });
}

async function reopen(writer: ReturnType<typeof tempWriterOptions>): Promise<TelemetryStorage> {
  const storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer }, { warn: () => undefined }))!;
  opened.push(storage);
  await storage.writer.drain(60_000);
  return storage;
}

/**
 * Each test waits up to 45 s for the child and up to 60 s for the replay: on a loaded machine
 * (a cold tsx start, then tens of thousands of spooled rows) the default 60 s for the whole test is
 * less than its own steps may take, so the test's bound is their sum plus room.
 */
const CHILD_AND_REPLAY_MS = 150_000;

it('kill -9 with the database down: the restart replays the spool; the loss is exactly what memory held (maxQueue)', { timeout: CHILD_AND_REPLAY_MS }, async () => {
  const writer = tempWriterOptions();
  await runAndKill([await closedPortUrl(), db.schema, writer.spoolDir, writer.deadLetterFile, 'down'], 5000);
  expect(readdirSync(writer.spoolDir).length).toBeGreaterThan(0);
  const storage = await reopen(writer);
  const r = await db.pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT span_id)::int AS ids, min(cost_usd)::text AS min FROM "${db.schema}".llm_calls c
      JOIN "${db.schema}".llm_traces t USING (trace_id) WHERE t.name = 'crash-down'`,
  );
  // Calls 1..1000 were in memory (maxQueue 1000) and died with the process; 1001..5000 were spooled.
  expect(r.rows[0]).toEqual({ n: 4000, ids: 4000, min: '0.000001001' });
  const t = await db.pool.query(`SELECT total_cost_usd, call_count FROM "${db.schema}".llm_traces WHERE name = 'crash-down'`);
  // Call i costs i * 1e-9 USD: sum(1001..5000) = 12,002,000 -> 0.012002
  expect(t.rows).toEqual([{ total_cost_usd: '0.012002', call_count: '4000' }]);
  expect(storage.health()).toMatchObject({ spoolBytes: 0, queueDepth: 0 });
  expect(readdirSync(writer.spoolDir)).toEqual([]);
});

it('kill -9 mid-load against a live database: after restart nothing is doubled and at most maxQueue rows are missing', { timeout: CHILD_AND_REPLAY_MS }, async () => {
  const writer = tempWriterOptions();
  const reported = await runAndKill([db.url, db.schema, writer.spoolDir, writer.deadLetterFile, 'load'], 30_000);
  const hadSpool = readdirSync(writer.spoolDir).length > 0;
  const storage = await reopen(writer);
  const r = await db.pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT span_id)::int AS ids FROM "${db.schema}".llm_calls c
      JOIN "${db.schema}".llm_traces t USING (trace_id) WHERE t.name = 'crash-load'`,
  );
  expect(r.rows[0].n).toBe(r.rows[0].ids);
  // At most maxQueue (1000) in memory, plus at most the calls recorded after the last report.
  expect(r.rows[0].n).toBeGreaterThanOrEqual(reported - 1000);
  // Every trace's rollup equals its own rows, replayed or not: nothing counted twice.
  const drift = await db.pool.query(
    `SELECT count(*)::int AS n FROM "${db.schema}".llm_traces t
      WHERE t.name = 'crash-load' AND (
        t.call_count <> (SELECT count(*) FROM "${db.schema}".llm_calls c WHERE c.trace_id = t.trace_id) OR
        t.total_cost_usd <> (SELECT COALESCE(sum(cost_usd), 0) FROM "${db.schema}".llm_calls c WHERE c.trace_id = t.trace_id))`,
  );
  expect(drift.rows[0].n).toBe(0);
  expect(hadSpool).toBe(true);
  expect(storage.health().written!.calls).toBeGreaterThan(0); // the spool was replayed
});
