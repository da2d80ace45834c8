import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { freshSchemaName } from '../support/database.js';
import { BLOCK, callOf, SERVICE, sendPlan, spanIdOf, TRACE_IDS, TRACE_NAME, traceIdOf, type WriterReport } from './support/many-writers.child.js';
import { tempWriterOptions } from './support/synthetic.js';

/*
 * Issue 14, item 5: many writers. Several OS processes, each with its own storage (its own pool,
 * its own writer with two batches in flight), write into the same 50 traces and the same few hourly
 * buckets at once, in small batches, some rows sent twice (by the same process, and by two), so
 * COPY batches collide on rows another process holds and fall back to the ON CONFLICT statement.
 * Nothing may deadlock, nothing may be lost or counted twice, and every rollup row must equal the
 * calls it sums, to the last of the 15 decimals.
 */

const script = fileURLToPath(new URL('./support/many-writers.child.ts', import.meta.url));
const testUrl = inject('databaseUrl');
const kind = inject('databaseKind');
const WRITERS = 8;
/**
 * Calls per writer, replays not counted (a multiple of BLOCK). The embedded engine runs every
 * statement of every process in turn on one WASM thread behind its socket, so it gets fewer.
 */
const CALLS = kind === 'postgres' ? 20_000 : 4_000;
const BATCH_SIZES = [50, 100, 150, 200];
const schema = freshSchemaName('many');
/** Children's sessions carry this name, so the test knows when they are gone (and their stats flushed). */
const appName = `kt_${schema}`;

/**
 * On PostgreSQL a database of the test's own (the schema inside it), so pg_stat_database counts
 * only these writers' deadlocks: other test files write (and drop schemas) in the shared one at
 * the same time. The embedded engine is one session and cannot deadlock; it uses the test database.
 */
const target = { url: testUrl, database: '', own: false };
const admin = new pg.Pool({ connectionString: testUrl, max: 2 });
admin.on('error', () => undefined);
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (kind !== 'postgres') return;
  target.database = schema;
  await admin.query(`CREATE DATABASE ${target.database}`);
  const u = new URL(testUrl);
  u.pathname = `/${target.database}`;
  target.url = u.toString();
  target.own = true;
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (target.own) await admin.query(`DROP DATABASE IF EXISTS ${target.database} WITH (FORCE)`).catch(() => undefined);
  else await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  await admin.end();
});

function childUrl(): string {
  const u = new URL(target.url);
  u.searchParams.set('application_name', appName);
  return u.toString();
}

/** Starts writer `w`; `ready` once it opened storage (migrations run), `done` with its report. */
function startWriter(w: number): { ready: Promise<void>; go: () => void; done: Promise<WriterReport> } {
  const files = tempWriterOptions();
  const args = [childUrl(), schema, files.spoolDir, files.deadLetterFile, w, WRITERS, CALLS, BATCH_SIZES[w % BATCH_SIZES.length]].map(String);
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  let err = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  proc.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (out.startsWith('READY\n')) markReady();
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d));
  const done = new Promise<WriterReport>((resolve, reject) =>
    proc.on('exit', (code, signal) => {
      markReady();
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as WriterReport);
      else reject(new Error(`writer ${w} exited ${code ?? signal}:\n${out.slice(-1000)}\n${err.slice(-3000)}`));
    }),
  );
  return { ready, go: () => proc.stdin!.end('GO\n'), done };
}

/** Deadlocks counted in the target database, once no child session is left (a backend flushes its counts as it exits). */
async function deadlocks(): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [appName]);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const { rows } = await admin.query<{ n: string | null }>(
    `SELECT deadlocks::text AS n FROM pg_stat_database WHERE datname = ${target.own ? '$1' : 'current_database()'}`,
    target.own ? [target.database] : [],
  );
  return Number(rows[0]?.n ?? 0);
}

interface Sums {
  cost: bigint;
  calls: number;
  unpriced: number;
  errors: number;
  input: number;
  output: number;
  cached: number;
}
const noSums = (): Sums => ({ cost: 0n, calls: 0, unpriced: 0, errors: 0, input: 0, output: 0, cached: 0 });

function add(into: Sums, n: number): void {
  const c = callOf(n);
  if (c.costUsd === null) into.unpriced++;
  else into.cost += c.costUsd;
  into.calls++;
  if (c.status !== 'ok' && c.status !== 'blocked') into.errors++;
  into.input += c.inputTokens;
  into.output += c.outputTokens;
  into.cached += c.cachedTokens;
}

/** What was sent, worked out from the plan alone: every call n, once, by trace and by hourly key. */
function expected() {
  const total = noSums();
  const traces = new Map<string, Sums & { first: number; last: number }>();
  const hourly = new Map<string, Sums>();
  let sent = 0;
  const ids = new Set<number>();
  for (let w = 0; w < WRITERS; w++)
    for (const { block } of sendPlan(w, WRITERS, CALLS / BLOCK)) {
      sent += BLOCK;
      for (let n = block * BLOCK; n < (block + 1) * BLOCK; n++) ids.add(n);
    }
  for (const n of ids) {
    const c = callOf(n);
    add(total, n);
    const t = traces.get(traceIdOf(n)) ?? { ...noSums(), first: Infinity, last: -Infinity };
    add(t, n);
    t.first = Math.min(t.first, c.time.getTime());
    t.last = Math.max(t.last, c.time.getTime() + c.latencyMs);
    traces.set(traceIdOf(n), t);
    const key = hourKey(Math.floor(c.time.getTime() / 3_600_000) * 3_600_000, SERVICE, c.provider, c.model, c.tags?.feature, c.tags?.project, c.tags?.user_id);
    const h = hourly.get(key) ?? noSums();
    add(h, n);
    hourly.set(key, h);
  }
  return { ids, sent, total, traces, hourly };
}

function hourKey(hourMs: number, ...dims: (string | null | undefined)[]): string {
  return JSON.stringify([new Date(hourMs).toISOString(), ...dims.map((d) => d ?? null)]);
}

/** A numeric of USD as an exact bigint of 1e-15 USD (every stored amount is a whole number of those). */
const UNITS = (column: string) => `(${column} * 1000000000000000)::numeric(60,0)::text`;

it(`${WRITERS} processes write the same 50 traces and hourly buckets at once, with replays: no deadlock, every row once, every rollup exact`, { timeout: 300_000 }, async () => {
  const want = expected();
  expect(want.ids.size).toBe(WRITERS * CALLS);
  const deadlocksBefore = await deadlocks();

  const t0 = performance.now();
  // Every writer opens its storage before any records. On PostgreSQL all at once, racing each other
  // through the migrations. The embedded engine runs one statement at a time for everyone: eight
  // migrations at once keep it busy past the connect timeout (5 s), and different statements of
  // several connections at once get their protocol messages mixed up (electric-sql/pglite#1046:
  // 26000 "unnamed prepared statement does not exist", 34000 'portal "" does not exist'), so
  // there they open one after another; the writing itself is just as concurrent.
  const writers: ReturnType<typeof startWriter>[] = [];
  for (let w = 0; w < WRITERS; w++) {
    writers.push(startWriter(w));
    if (kind !== 'postgres') await writers[w].ready;
  }
  await Promise.all(writers.map((w) => w.ready));
  const opened = performance.now();
  for (const w of writers) w.go();
  const reports = await Promise.all(writers.map((w) => w.done));
  const finished = performance.now();
  const deadlocksAfter = await deadlocks();

  const sum = (f: (r: WriterReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const failures: Record<string, number> = {};
  for (const r of reports)
    for (const [code, n] of [...Object.entries(r.batches.copyFailed), ...Object.entries(r.batches.statementsFailed)]) failures[code] = (failures[code] ?? 0) + n;
  console.info(
    `many-writers (${kind}): ${WRITERS} processes, ${want.sent} calls sent (${sum((r) => r.sentByKind.again + r.sentByKind.later + r.sentByKind.reversed)} own replays, ${sum((r) => r.sentByKind.reversed)} of them reversed, ` +
      `${sum((r) => r.sentByKind.neighbour)} neighbour replays) for ${want.ids.size} distinct calls; batches: ${sum((r) => r.batches.copyCommitted)} COPY committed, ` +
      `${sum((r) => r.batches.statements)} ON CONFLICT statements, failed by SQLSTATE ${JSON.stringify(failures)}; ` +
      `deadlocks ${deadlocksAfter - deadlocksBefore}; writers' last errors ${JSON.stringify(reports.map((r) => r.health.lastError?.code ?? null))}; ` +
      `open+migrate ${Math.round(opened - t0)} ms, writing ${Math.round(finished - opened)} ms (per writer ${reports.map((r) => r.ms).join('/')} ms)`,
  );

  const s = `"${schema}"`;
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    // -- llm_calls: exactly the distinct span ids sent, each once ---------------------------------
    const stored = await client.query<{ span_id: string }>(`SELECT span_id FROM ${s}.llm_calls`);
    const storedIds = new Set(stored.rows.map((r) => r.span_id));
    expect({ rows: stored.rows.length, distinct: storedIds.size }).toEqual({ rows: want.ids.size, distinct: want.ids.size });
    const missing = [...want.ids].filter((n) => !storedIds.has(spanIdOf(n)));
    expect(missing.slice(0, 10)).toEqual([]);
    const calls = (await client.query(`SELECT ${UNITS('COALESCE(sum(cost_usd), 0)')} AS cost, count(*) FILTER (WHERE cost_usd IS NULL)::int AS unpriced FROM ${s}.llm_calls`)).rows[0];
    expect({ cost: BigInt(calls.cost), unpriced: calls.unpriced }).toEqual({ cost: want.total.cost, unpriced: want.total.unpriced });

    // -- llm_traces: every row is the SUM of its calls (exact numeric), and what was sent ---------
    const traceSums = `trim_scale(COALESCE(sum(cost_usd), 0)) AS cost, count(*) AS calls, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced,
           count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS errors, sum(input_tokens) AS input, sum(output_tokens) AS output,
           sum(cached_tokens) AS cached, min(time) AS first_at, max(time + latency_ms * interval '1 millisecond') AS last_at`;
    const traceDrift = await client.query(
      `WITH stored AS (SELECT trace_id, total_cost_usd AS cost, call_count AS calls, unpriced_call_count AS unpriced, error_call_count AS errors,
                              input_tokens AS input, output_tokens AS output, cached_tokens AS cached, first_call_at AS first_at, last_call_at AS last_at
                         FROM ${s}.llm_traces),
            summed AS (SELECT trace_id, ${traceSums} FROM ${s}.llm_calls GROUP BY trace_id)
       (SELECT 'stored' AS side, * FROM (SELECT * FROM stored EXCEPT ALL SELECT * FROM summed) a)
       UNION ALL (SELECT 'summed', * FROM (SELECT * FROM summed EXCEPT ALL SELECT * FROM stored) b)`,
    );
    expect(traceDrift.rows).toEqual([]);
    const traces = await client.query(
      `SELECT trace_id, ${UNITS('total_cost_usd')} AS cost, call_count::int AS calls, unpriced_call_count::int AS unpriced, error_call_count::int AS errors,
              input_tokens::bigint::text AS input, output_tokens::bigint::text AS output, cached_tokens::bigint::text AS cached,
              first_call_at, last_call_at, name, service_ids FROM ${s}.llm_traces ORDER BY trace_id`,
    );
    expect(traces.rows.map((r) => r.trace_id)).toEqual([...TRACE_IDS].sort());
    for (const r of traces.rows) {
      const e = want.traces.get(r.trace_id)!;
      expect({ trace: r.trace_id, cost: BigInt(r.cost), calls: r.calls, unpriced: r.unpriced, errors: r.errors, input: Number(r.input), output: Number(r.output), cached: Number(r.cached) }).toEqual({
        trace: r.trace_id, cost: e.cost, calls: e.calls, unpriced: e.unpriced, errors: e.errors, input: e.input, output: e.output, cached: e.cached,
      });
      expect([r.trace_id, r.first_call_at.getTime(), r.last_call_at.getTime(), r.name, r.service_ids]).toEqual([r.trace_id, e.first, e.last, TRACE_NAME, [SERVICE]]);
    }

    // -- llm_cost_hourly: every row is the GROUP BY of the calls, and what was sent ---------------
    const hourlyDrift = await client.query(
      `WITH stored AS (SELECT hour, dims, service_id, provider, model, feature, project, user_id, cost_usd, calls, unpriced_calls, error_calls,
                              input_tokens, output_tokens, cached_tokens FROM ${s}.llm_cost_hourly),
            summed AS (SELECT hour, ${s}.kostrack_dims(service_id, provider, model, feature, project, user_id) AS dims, service_id, provider, model,
                              feature, project, user_id, trim_scale(COALESCE(sum(cost_usd), 0)) AS cost_usd, count(*) AS calls,
                              count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls, count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS error_calls,
                              sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens
                         FROM (SELECT date_trunc('hour', time, 'UTC') AS hour, service_id, provider, model, tags->>'feature' AS feature,
                                      tags->>'project' AS project, tags->>'user_id' AS user_id, cost_usd, status, input_tokens, output_tokens, cached_tokens
                                 FROM ${s}.llm_calls) c
                        GROUP BY hour, service_id, provider, model, feature, project, user_id)
       (SELECT 'stored' AS side, * FROM (SELECT * FROM stored EXCEPT ALL SELECT * FROM summed) a)
       UNION ALL (SELECT 'summed', * FROM (SELECT * FROM summed EXCEPT ALL SELECT * FROM stored) b)`,
    );
    expect(hourlyDrift.rows).toEqual([]);
    // -- llm_cost_daily and llm_cost_hourly_totals: the GROUP BY of the calls by day / hour, without the user
    for (const [table, grain] of [['llm_cost_daily', 'day'], ['llm_cost_hourly_totals', 'hour']] as const) {
      const drift = await client.query(
        `WITH stored AS (SELECT ${grain}, dims, service_id, provider, model, feature, project, cost_usd, calls, unpriced_calls, error_calls,
                                input_tokens, output_tokens, cached_tokens FROM ${s}.${table}),
              summed AS (SELECT ${grain}, ${s}.kostrack_dims(service_id, provider, model, feature, project, NULL) AS dims, service_id, provider, model,
                                feature, project, trim_scale(COALESCE(sum(cost_usd), 0)) AS cost_usd, count(*) AS calls,
                                count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls, count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')) AS error_calls,
                                sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens
                           FROM (SELECT date_trunc('${grain}', time, 'UTC') AS ${grain}, service_id, provider, model, tags->>'feature' AS feature,
                                        tags->>'project' AS project, cost_usd, status, input_tokens, output_tokens, cached_tokens
                                   FROM ${s}.llm_calls) c
                          GROUP BY ${grain}, service_id, provider, model, feature, project)
         (SELECT 'stored' AS side, * FROM (SELECT * FROM stored EXCEPT ALL SELECT * FROM summed) a)
         UNION ALL (SELECT 'summed', * FROM (SELECT * FROM summed EXCEPT ALL SELECT * FROM stored) b)`,
      );
      expect(drift.rows).toEqual([]);
      const count = await client.query(`SELECT count(*)::int AS n FROM ${s}.${table}`);
      expect(count.rows[0].n).toBeGreaterThan(0);
    }
    const hourly = await client.query(
      `SELECT hour, service_id, provider, model, feature, project, user_id, ${UNITS('cost_usd')} AS cost, calls::int, unpriced_calls::int AS unpriced,
              error_calls::int AS errors, input_tokens::text AS input, output_tokens::text AS output, cached_tokens::text AS cached FROM ${s}.llm_cost_hourly`,
    );
    const got = new Map(
      hourly.rows.map((r) => [
        hourKey(r.hour.getTime(), r.service_id, r.provider, r.model, r.feature, r.project, r.user_id),
        { cost: BigInt(r.cost), calls: r.calls, unpriced: r.unpriced, errors: r.errors, input: Number(r.input), output: Number(r.output), cached: Number(r.cached) },
      ]),
    );
    expect(got).toEqual(want.hourly);
    const hourlyTotal = [...got.values()].reduce((t, h) => ({ cost: t.cost + h.cost, calls: t.calls + h.calls }), { cost: 0n, calls: 0 });
    expect(hourlyTotal).toEqual({ cost: want.total.cost, calls: want.total.calls });

    console.info(`many-writers (${kind}): ${stored.rows.length} call rows, ${traces.rows.length} trace rows, ${hourly.rows.length} hourly rows, all exact`);

    // -- the writers: every distinct row inserted by exactly one, nothing failed or lost ----------
    expect(sum((r) => r.health.written.calls)).toBe(want.ids.size);
    expect(sum((r) => r.sent)).toBe(want.sent);
    // Replays reached the database: on PostgreSQL as COPYs refused for a duplicate (then the ON
    // CONFLICT statement); on the embedded engine every batch is that statement.
    if (kind === 'postgres') expect(failures['23505'] ?? 0).toBeGreaterThan(0);
    // Soft from here: a failed run lists every way the writers went wrong, not only the first.
    expect.soft({ deadlocks: deadlocksAfter - deadlocksBefore }).toEqual({ deadlocks: 0 });
    expect.soft({ ...failures, 23505: 0 }).toEqual({ 23505: 0 });
    expect
      .soft(reports.map((r) => ({ writer: r.writer, lastError: r.health.lastError, deadLettered: r.health.deadLettered, lostRows: r.health.lostRows, queueDepth: r.health.queueDepth, spoolBytes: r.health.spoolBytes })))
      .toEqual(reports.map((r) => ({ writer: r.writer, lastError: null, deadLettered: 0, lostRows: 0, queueDepth: 0, spoolBytes: 0 })));
    expect.soft(reports.flatMap((r) => r.warnings)).toEqual([]);
  } finally {
    await client.end();
  }
});
