import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from '../../lib/core/ids.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { useTestDatabase } from '../support/database.js';
import { tempWriterOptions } from './support/synthetic.js';

/*
 * Several services write the same traces at the same time, as real traffic does (see the child):
 * a trace's root span reaches the writer after its calls, when the request ends, so a batch holds
 * roots of finished requests beside calls of running ones, and whichever batch comes first inserts
 * a trace's row. A batch that locks its traces' rows in two sequences (one upsert for its calls,
 * one for its roots, each sorted on its own) then takes a finished trace's row after the rows of
 * its running traces, while another batch, still adding calls to that trace, holds that row and
 * waits for one of those: deadlocks within seconds. Roots recorded next to a call of their trace
 * (in the same batch, not at the end of their request) hide it: the second upsert then only
 * relocks rows the first already holds.
 */
const db = useTestDatabase('shared');
const child = fileURLToPath(new URL('./support/shared-traces.child.ts', import.meta.url));
const WRITERS = 4;
/** Each writer serves every trace once, with 1 to 7 calls: about 3,200 calls per writer. */
const TRACES = 800;

/** On real PostgreSQL a database of the test's own, so pg_stat_database counts only these writers' deadlocks. */
let target = { url: '', database: '', own: false };

beforeAll(async () => {
  if (db.kind !== 'postgres') {
    target = { url: db.url, database: '', own: false };
    return;
  }
  const name = `kt_shared_${process.pid}_${randomBytes(3).toString('hex')}`;
  await db.pool.query(`CREATE DATABASE ${name}`);
  const u = new URL(db.url);
  u.pathname = `/${name}`;
  target = { url: u.toString(), database: name, own: true };
});
afterAll(async () => {
  if (target.own) await db.pool.query(`DROP DATABASE IF EXISTS ${target.database} WITH (FORCE)`);
});

interface WriterResult {
  ledger: Record<string, [number, string]>;
  /** Spans this writer recorded that get an llm_spans row. */
  spans: number;
  written: { calls: number; spans: number };
  deadLettered: number;
  lostRows: number;
  warnings: string[];
}

/** Starts a writer process; resolves `ready` once it has opened storage, `done` with its report. */
function startWriter(seed: number, traceIds: string[]): { ready: Promise<void>; go: () => void; done: Promise<WriterResult> } {
  const w = tempWriterOptions();
  const proc = spawn(process.execPath, ['--import', 'tsx', child, target.url, db.schema, w.spoolDir, w.deadLetterFile, String(seed), JSON.stringify(traceIds)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  proc.stdout.on('data', (d: Buffer) => {
    out += d;
    if (out.startsWith('READY\n')) markReady();
  });
  proc.stderr.on('data', (d: Buffer) => (err += d));
  const done = new Promise<WriterResult>((resolve, reject) => {
    const killer = setTimeout(() => proc.kill('SIGKILL'), 150_000);
    proc.on('exit', (code) => {
      clearTimeout(killer);
      markReady();
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!));
      else reject(new Error(`writer ${seed} exited ${code}: ${err.slice(-2000)}`));
    });
  });
  return { ready, go: () => proc.stdin.end('GO\n'), done };
}

it(`${WRITERS} services writing ${TRACES} shared traces as requests finish: every row and rollup exact, no deadlock`, { timeout: 150_000 }, async () => {
  // Migrate once up front, as a deploy would, so the writers race only on their rows.
  const pool = new PgSqlPool({ connectionString: target.url, max: 1 }, () => undefined);
  await runMigrations(pool, db.schema);
  await pool.close();
  const deadlocksBefore = await deadlocks();
  // Ids drawn one after another, as the front service starts its traces.
  const traceIds = Array.from({ length: TRACES }, () => newId());
  const writers = Array.from({ length: WRITERS }, (_, i) => startWriter(i + 1, traceIds));
  await Promise.all(writers.map((w) => w.ready));
  for (const w of writers) w.go();
  const results = await Promise.all(writers.map((w) => w.done));

  const expected = new Map<string, { calls: number; cost: bigint }>();
  for (const r of results)
    for (const [traceId, [calls, cost]] of Object.entries(r.ledger)) {
      const e = expected.get(traceId) ?? { calls: 0, cost: 0n };
      expected.set(traceId, { calls: e.calls + calls, cost: e.cost + BigInt(cost) });
    }
  const totalCalls = [...expected.values()].reduce((n, e) => n + e.calls, 0);
  expect(expected.size).toBe(TRACES);
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    const calls = await client.query(`SELECT count(*)::int AS n, count(DISTINCT span_id)::int AS ids FROM "${db.schema}".llm_calls`);
    expect(calls.rows[0]).toEqual({ n: totalCalls, ids: totalCalls });
    const spans = await client.query(`SELECT count(*)::int AS n FROM "${db.schema}".llm_spans`);
    expect(spans.rows[0].n).toBe(results.reduce((n, r) => n + r.spans, 0));
    const traces = await client.query<{ trace_id: string; call_count: string; cost: string; own_calls: string; own_cost: string; name: string; root_parent_span_id: string | null }>(
      `SELECT t.trace_id, t.call_count, (t.total_cost_usd * 1e15)::numeric(40,0)::text AS cost, t.name, t.root_parent_span_id,
              (SELECT count(*) FROM "${db.schema}".llm_calls c WHERE c.trace_id = t.trace_id) AS own_calls,
              (SELECT (COALESCE(sum(cost_usd), 0) * 1e15)::numeric(40,0)::text FROM "${db.schema}".llm_calls c WHERE c.trace_id = t.trace_id) AS own_cost
         FROM "${db.schema}".llm_traces t`,
    );
    expect(traces.rows).toHaveLength(expected.size);
    for (const row of traces.rows) {
      const e = expected.get(row.trace_id)!;
      expect([row.trace_id, Number(row.call_count), BigInt(row.cost)]).toEqual([row.trace_id, e.calls, e.cost]);
      expect([row.own_calls, row.own_cost]).toEqual([row.call_count, row.cost]);
      // The true root (writer 1's, no remote parent) names the trace whichever root came first.
      expect([row.trace_id, row.name, row.root_parent_span_id]).toEqual([row.trace_id, 'checkout', null]);
    }
  } finally {
    await client.end();
  }
  // A retried deadlock would still leave exact totals; only the server's own counter (and the
  // writers' warnings) show it.
  const deadlockWarnings = results.reduce((n, r) => n + r.warnings.filter((w) => w.includes('40P01')).length, 0);
  expect({ deadlocks: (await deadlocks()) - deadlocksBefore, deadlockWarnings }).toEqual({ deadlocks: 0, deadlockWarnings: 0 });
  expect(results.map((r) => [r.deadLettered, r.lostRows])).toEqual(Array.from({ length: WRITERS }, () => [0, 0]));
});

/** Deadlocks counted in the test's database, once every session in it has ended (a backend reports its counts as it exits). */
async function deadlocks(): Promise<number> {
  if (!target.own) return 0; // the embedded engine serves one statement at a time: it cannot deadlock
  for (let i = 0; i < 200; i++) {
    const open = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [target.database]);
    if (open.rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const r = await db.pool.query(`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = $1`, [target.database]);
  return r.rows[0]?.n ?? 0;
}
