import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/money.js';
import { runMigrations } from '../../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../../lib/storage/pg.pool.js';
import { json, LoopbackServer } from '../../loopback/loopback.server.js';
import { chatCompletion, chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { PrivateCluster, privateClusterUnavailable } from '../storage/support/private-cluster.js';
import { databaseUrl, freshSchemaName } from '../support/database.js';
import type { ChildPlan, ChildReport } from './support/budget-calls.child.js';

/*
 * One durable budget shared by several OS processes (replicas), each with its own pool, writer
 * and budget ledger, through startKostrack() and the real OpenAI SDK against loopback servers
 * this process runs (so the requests that reached "the provider" are counted here, not by the
 * children).
 *
 * The arithmetic, by hand. gpt-4o-mini: $0.15 input / $0.60 output per 1M tokens. The request
 * [{ role: 'user', content: 'Say hello' }] with max_tokens 5500 is bounded at 103 input tokens
 * (UTF-8 bytes of the request JSON + 64), so each call holds its worst case
 *   E = (103 × 0.15 + 5500 × 0.60) / 1M = 0.00001545 + 0.0033 = $0.00331545
 * and settles, at loopback usage 90 / 5500, at
 *   C = (90 × 0.15 + 5500 × 0.60) / 1M = 0.0000135 + 0.0033 = $0.0033135   (C < E).
 * Limit $1.00. Every admitted call counts at least C at any moment (held at E, shrunk to C, or
 * spent C) and at most E. A call is admitted iff limit − spent − reserved ≥ E, i.e. spent +
 * reserved ≤ 1 − E = 0.99668455:
 *   - with k ≤ 300 admitted, spent + reserved ≤ 300 × E = 0.994635 ≤ 0.99668455: admitted;
 *   - with 301 admitted, spent + reserved ≥ 301 × C = 0.9973635 > 0.99668455: refused.
 * So exactly 301 of the 1,000 attempts are admitted however the processes interleave, 699 are
 * blocked, and the day ends at spent = 301 × C = $0.9973635 ≤ $1.00 (left: $0.0026365 < E).
 *
 * The bound on overspend: admission holds E and the call then costs C, so what a scope can spend
 * beyond its limit is at most the sum, over the calls in flight when it filled, of max(C − E, 0):
 * the gap between a call's estimate and its settled cost. Here every hold is the worst case
 * (C ≤ E), so the gap is 0 and spent ≤ limit must hold exactly.
 *
 * The database: with DATABASE_URL, a database of the test's own on that server (as
 * shared-traces.spec.ts does). Without it, not the embedded engine: its socket server runs one
 * protocol message at a time from any connection, so under several processes' pools one
 * connection's Bind meets another's Parse (08P01 "bind message supplies 37 parameters, but
 * prepared statement requires 2", upstream electric-sql/pglite#1046) and connections time out;
 * admissions that fail that way go ahead under whenDatabaseDown: 'allow' (seen: 816 admitted,
 * $2.70 spent on the $1.00 budget). A private PostgreSQL cluster is started instead (as
 * host-survives-restart.spec.ts does), or the file is skipped where one cannot be made (not on CI).
 */
const child = fileURLToPath(new URL('./support/budget-calls.child.ts', import.meta.url));
const PROCESSES = 4;
const CALLS = 250;
const MAX_TOKENS = 5500;
const E = usd('0.00331545');
const C = usd('0.0033135');
const LIMIT = usd('1.00');
const ADMITTED = 301;
const USAGE = chatUsageBody({ prompt: 90, completion: MAX_TOKENS });
const MODEL = 'gpt-4o-mini-2024-07-18';

/** A database of the test's own, so pg_stat_database counts only these processes' deadlocks. */
let target = { url: '', database: '' };
/** Creates and drops it: the shared server's database (DATABASE_URL), or a private cluster's. */
let admin: pg.Pool;
let cluster: PrivateCluster | undefined;
let schema = '';
/** The kill -9 case's own schema (its budget has another limit). */
let killSchema = '';
/** The lease runs' own schemas. */
let leaseSchema = '';
let leaseKillSchema = '';
const provider = new LoopbackServer();
/** Never answers: the calls of the process that is killed hang here holding their reservations. */
const hanging = new LoopbackServer();
/** Answers only once the test opens it, so a call's live hold can be looked at. */
const gated = new LoopbackServer();
let openGate!: () => void;
const gate = new Promise<void>((resolve) => (openGate = resolve));

/** Child processes still running: killed if a test fails half-way. */
const live = new Set<ChildProcess>();

const unavailable = inject('databaseKind') !== 'postgres' ? privateClusterUnavailable() : null;
if (unavailable && !process.env.CI) console.warn(`budget-processes: no DATABASE_URL and no private PostgreSQL cluster here, so these tests are skipped: ${unavailable}`);
// On CI a missing server is a broken runner, not a reason to skip: create() then fails with the reason.
const withDatabase = unavailable && !process.env.CI ? it.skip : it;

beforeAll(async () => {
  if (unavailable && !process.env.CI) return;
  openaiRoutes(provider, { model: MODEL, usage: USAGE });
  hanging.route('POST', /\/chat\/completions$/, () => undefined);
  gated.route('POST', /\/chat\/completions$/, async (_req, res) => {
    await gate;
    json(res, chatCompletion(MODEL, USAGE));
  });
  await Promise.all([provider.start(), hanging.start(), gated.start()]);
  schema = freshSchemaName('budget_procs');
  killSchema = freshSchemaName('budget_kill');
  leaseSchema = freshSchemaName('budget_lease');
  leaseKillSchema = freshSchemaName('budget_lease_kill');
  let adminUrl = databaseUrl();
  if (inject('databaseKind') !== 'postgres') {
    // The embedded engine cannot be the shared database here: see the note at the top.
    cluster = await PrivateCluster.create();
    await cluster.start();
    adminUrl = cluster.url;
  }
  admin = new pg.Pool({ connectionString: adminUrl, max: 2 });
  admin.on('error', () => undefined);
  const name = `kt_budget_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  target = { url: u.toString(), database: name };
});
afterAll(async () => {
  if (unavailable && !process.env.CI) return;
  openGate();
  for (const p of live) p.kill('SIGKILL');
  await Promise.all([provider.close(), hanging.close(), gated.close()]);
  if (target.database) await admin.query(`DROP DATABASE IF EXISTS ${target.database} WITH (FORCE)`).catch(() => undefined);
  await admin?.end();
  cluster?.destroy();
});

interface Started {
  proc: ChildProcess;
  ready: Promise<void>;
  started: Promise<void>;
  go: () => void;
  done: Promise<ChildReport>;
  stderr: () => string;
}

/**
 * How long a replica may take before it counts as hung and is killed. Generous: the 4-process run
 * takes about 10 s on an idle machine but 45 s was seen with the cores busy (a cold tsx start per
 * replica, 250 calls each); a hung replica still fails the test, only later.
 */
const CHILD_HUNG_MS = 150_000;

/** Starts one replica; `ready` once it has opened storage, `started` once its calls are issued, `done` with its report. */
function startChild(plan: ChildPlan, timeoutMs = CHILD_HUNG_MS): Started {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let err = '';
  let markReady!: () => void;
  let markStarted!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  proc.stdout!.on('data', (d: Buffer) => {
    out += d;
    if (out.startsWith('READY\n')) markReady();
    if (out.includes('STARTED\n')) markStarted();
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d));
  const done = new Promise<ChildReport>((resolve, reject) => {
    const killer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(killer);
      live.delete(proc);
      markReady();
      markStarted();
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!));
      else reject(new Error(`${plan.serviceId} exited ${code ?? signal}: ${err.slice(-2000)}`));
    });
  });
  return { proc, ready, started, go: () => proc.stdin!.end('GO\n'), done, stderr: () => err };
}

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function migrate(schema: string): Promise<void> {
  // Once up front, as a deploy would, so the replicas race only on the budget.
  const pool = new PgSqlPool({ connectionString: target.url, max: 1 }, () => undefined);
  await runMigrations(pool, schema);
  await pool.close();
}

/** Polls `probe` until it returns true; fails with `what` after `ms`. No fixed sleeps. */
async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const money = (v: string | null) => usdToString(usd(v ?? '0'));
/** Lock and serialization failures: deadlock_detected, serialization_failure, lock_not_available. */
const CONFLICT = /40P01|40001|55P03|deadlock|could not serialize|serialization/i;

/** What one run of the replicas against one schema left: their reports, the rows and the budget's state. */
interface SharedRun {
  children: Started[];
  reports: ChildReport[];
  /** Requests that reached the provider during this run. */
  requests: number;
  byStatus: Record<string, { status: string; n: number; cost: string }>;
  usage: { period_start: Date; spent: string; reserved: string; calls: number; rows_cost: string; rows_ok: number }[];
  reservations: number;
  status: { spent_usd: string; reserved_usd: string }[];
  deadlocks: number;
}

/** {@link PROCESSES} replicas × {@link CALLS} calls at once on user "shared"'s $1.00 budget in `schema`. */
async function sharedBudgetRun(schema: string, budgetOptions?: ChildPlan['budgetOptions']): Promise<SharedRun> {
  await migrate(schema);
  const deadlocksBefore = await deadlocks();
  const requestsBefore = provider.requests.length;
  const children = Array.from({ length: PROCESSES }, (_, i) =>
    startChild({
      url: target.url,
      schema,
      baseURL: `${provider.url}/v1`,
      serviceId: `replica-${i + 1}`,
      user: 'shared',
      calls: CALLS,
      maxTokens: MAX_TOKENS,
      limit: '1.00',
      ...(budgetOptions ? { budgetOptions } : {}),
      // 1,000 admissions queue on one row lock, 250 at a time per process, with the storage
      // defaults (admission timeout 2 s, pool of 4 connections waiting 5 s for one): the ledger
      // takes two admissions at a time per process, so a busy database is never read as a dead
      // one (which whenDatabaseDown 'allow' would let past the limit). Before it did, 3 runs in 7
      // let calls through (one: 318 admitted, $1.053693 spent).
    }),
  );
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.go();
  const reports = await Promise.all(children.map((c) => c.done));
  const s = `"${schema}"`;
  const { rows, usage, reservations, status } = await withClient(async (c) => ({
    rows: (
      await c.query<{ status: string; n: number; cost: string }>(
        `SELECT status, count(*)::int AS n, COALESCE(sum(cost_usd), 0)::text AS cost FROM ${s}.llm_calls WHERE tags->>'user_id' = 'shared' GROUP BY 1 ORDER BY 1`,
      )
    ).rows,
    // Each period's usage row beside the sum of the rows made in that period (a run across UTC midnight has two).
    usage: (
      await c.query<SharedRun['usage'][number]>(
        `SELECT u.period_start, u.spent::text, u.reserved::text, u.calls,
                (SELECT COALESCE(sum(cost_usd), 0)::text FROM ${s}.llm_calls c
                  WHERE c.tags->>'user_id' = u.scope_value AND c.time >= u.period_start AND c.time < u.period_start + interval '1 day') AS rows_cost,
                (SELECT count(*)::int FROM ${s}.llm_calls c
                  WHERE c.tags->>'user_id' = u.scope_value AND c.status = 'ok' AND c.time >= u.period_start AND c.time < u.period_start + interval '1 day') AS rows_ok
           FROM ${s}.llm_budget_usage u JOIN ${s}.llm_budgets b ON b.id = u.budget_id
          WHERE b.name = 'user-day' AND u.scope_value = 'shared' ORDER BY 1`,
      )
    ).rows,
    reservations: (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.llm_budget_reservations`)).rows[0].n,
    status: (await c.query<{ spent_usd: string; reserved_usd: string }>(`SELECT spent_usd::text, reserved_usd::text FROM ${s}.budget_status WHERE scope_value = 'shared'`)).rows,
  }));
  return {
    children,
    reports,
    requests: provider.requests.length - requestsBefore,
    byStatus: Object.fromEntries(rows.map((r) => [r.status, r])),
    usage,
    reservations,
    status,
    deadlocks: (await deadlocks()) - deadlocksBefore,
  };
}

/** What holds with or without leases: every call accounted for, zero drift, nothing held, spent ≤ limit, no lock conflicts. */
function expectExactAndReleased(run: SharedRun): { okRows: number } {
  const { reports, byStatus, usage } = run;
  const okCalls = reports.reduce((n, r) => n + r.ok, 0);
  const blockedCalls = reports.reduce((n, r) => n + r.blocked, 0);
  expect(reports.flatMap((r) => r.failed)).toEqual([]);
  expect(reports.map((r) => [r.deadLettered, r.lostRows])).toEqual(Array.from({ length: PROCESSES }, () => [0, 0]));
  const okRows = byStatus.ok?.n ?? 0;
  // (a) What reached the provider is exactly what was admitted and stored as ok.
  expect({ requests: run.requests, okRows, okCalls }).toEqual({ requests: okRows, okRows, okCalls: okRows });
  // (d) Every other attempt is a blocked row; nothing else (no error, no aborted).
  expect(Object.keys(byStatus).sort()).toEqual(['blocked', 'ok']);
  expect({ blockedRows: byStatus.blocked.n, blockedCalls }).toEqual({ blockedRows: PROCESSES * CALLS - okRows, blockedCalls: PROCESSES * CALLS - okRows });
  expect(money(byStatus.blocked.cost)).toBe('0');
  // (b) Zero drift: spent is the rows' cost, per period; nothing reserved, no reservation left.
  expect(usage.length).toBeGreaterThan(0);
  for (const u of usage) {
    expect([money(u.spent), money(u.reserved), u.calls]).toEqual([money(u.rows_cost), '0', u.rows_ok]);
    // (c) spent ≤ limit, exactly: every hold was the worst case (C ≤ E).
    expect(usd(u.spent) <= LIMIT).toBe(true);
  }
  expect(run.reservations).toBe(0);
  expect(run.status.map((r) => money(r.reserved_usd))).toEqual(usage.map(() => '0'));
  // (e) No lock conflicts: none in the replicas' output, none counted by the server.
  const conflicts = run.children.flatMap((c, i) => [...reports[i].warnings, c.stderr()]).filter((w) => CONFLICT.test(w));
  expect(conflicts).toEqual([]);
  expect(reports.flatMap((r) => r.warnings)).toEqual([]);
  expect(run.deadlocks).toBe(0);
  return { okRows };
}

withDatabase(`${PROCESSES} processes × ${CALLS} concurrent calls on one user's $1.00/day budget: exactly ${ADMITTED} reach the provider, spent equals the rows, nothing stays held`, { timeout: CHILD_HUNG_MS + 60_000 }, async () => {
  const run = await sharedBudgetRun(schema);
  const { okRows } = expectExactAndReleased(run);
  if (run.usage.length === 1) {
    // The hand arithmetic above (not run across UTC midnight).
    expect(okRows).toBe(ADMITTED);
    expect(money(run.usage[0].spent)).toBe(usdToString(BigInt(ADMITTED) * C));
    expect(money(run.byStatus.ok.cost)).toBe('0.9973635');
    // The budget was exhausted: what is left does not cover one more worst case.
    expect(LIMIT - usd(run.usage[0].spent) < E).toBe(true);
  }
  // Without a lease every call is one database admission.
  expect(run.reports.reduce((n, r) => n + r.admissions.perCall, 0)).toBe(PROCESSES * CALLS);
});

/*
 * The same run with budgetOptions.lease { amount: '0.05' } (share 0.1, the default): each replica
 * takes at most $0.05, and at most a tenth of what the scope had left when it last looked, in one
 * admission, and admits calls against it in memory. A lease is a hold like a call's, admitted by
 * the same statement, so leases and holds together never pass the limit; a call takes its worst
 * case E from its replica's lease, so spent ≤ limit still holds exactly (every C ≤ E). What
 * leases do change: money one replica holds in its lease cannot be used by the others until it
 * is spent or given back, so fewer calls may be admitted than the 301 that fit (never more).
 * When no lease worth taking is left (a tenth of what is left is less than E), a call is admitted
 * on its own, as without leases, or refused from an answer the database gave after it arrived.
 *
 * How much can be left unused: at the last refusal (at time T) the answer showed room R < E; the
 * refusing replica had given its own lease's remainder back first; each other replica holds at most
 * one lease with something left, at most $0.05; and each call in flight at T holds E but costs C.
 * So limit − spent < E + 3 × $0.05 + admitted × (E − C). This needs a landed call to count once:
 * while a lease lowered its hold by a call's cost only after the row's statement had added it to
 * spent, answers near the end read the landed calls twice, and 259-280 calls were admitted (once
 * $0.158 was left unused, past the bound); the row's own statement now moves the cost out of the
 * hold (batch.sql.ts), and 5 runs under load admitted 301. (A lease's remainder goes back when its
 * replica next needs one, after ttlMs, or at shutdown: with calls arriving over time rather than
 * all at once, the others use it.)
 */
withDatabase(`the same with a lease of $0.05 per replica: spent ≤ limit exactly, equals the rows, nothing held, and far fewer database admissions than calls`, { timeout: CHILD_HUNG_MS + 60_000 }, async () => {
  const run = await sharedBudgetRun(leaseSchema, { lease: { amount: '0.05' } });
  const { okRows } = expectExactAndReleased(run);
  expect(okRows).toBeLessThanOrEqual(ADMITTED);
  const total = run.reports.reduce(
    (t, r) => ({ perCall: t.perCall + r.admissions.perCall, requested: t.requested + r.admissions.requested, leased: t.leased + r.admissions.leased, refusedInMemory: t.refusedInMemory + r.admissions.refusedInMemory }),
    { perCall: 0, requested: 0, leased: 0, refusedInMemory: 0 },
  );
  // Every call was admitted or refused exactly once: in memory under a lease, by its own admission, or refused from a fresher answer.
  expect(total.leased + total.perCall + total.refusedInMemory).toBe(PROCESSES * CALLS);
  // Database admissions (leases asked for plus calls asked for on their own): far fewer than the calls.
  const admissions = total.requested + total.perCall;
  console.log(`lease run: ${okRows} admitted of ${PROCESSES * CALLS}, $${money(run.usage.at(-1)!.spent)} spent; ${admissions} database admissions (${total.requested} leases, ${total.perCall} calls on their own), ${total.leased} calls admitted in memory, ${total.refusedInMemory} refused from a fresher answer`);
  expect(admissions).toBeLessThan((PROCESSES * CALLS) / 5);
  expect(total.leased).toBeGreaterThan(okRows / 2);
  // Not across UTC midnight (each day then has its own limit).
  if (run.usage.length === 1) expect(LIMIT - usd(run.usage[0].spent) < E + BigInt(PROCESSES - 1) * usd('0.05') + BigInt(okRows) * (E - C)).toBe(true);
});

/*
 * kill -9 while holding. Limit $0.01: three holds of E fit (3 × E = 0.00994635), and with them
 * left in place a fourth is refused (0.01 − 3 × E = 0.00005365 < E). A replica admits three calls
 * whose requests never get an answer (holdTtlMs 1,500) and is killed. Once the holds expire,
 * budget_status stops counting them (it filters by expires_at) while llm_budget_usage still
 * carries them until someone admits on that scope; another replica's admission then frees them
 * and is admitted; its own hold is the only one left, and once its row lands nothing is held.
 */
withDatabase('kill -9 with reservations held: they expire, the next admission on the scope frees them, reserved returns to what live holds account for', { timeout: CHILD_HUNG_MS + 60_000 }, async () => {
  await migrate(killSchema);
  const s = `"${killSchema}"`;
  const ledger = () =>
    withClient(async (c) => {
      const u = await c.query<{ spent: string; reserved: string; calls: number }>(
        `SELECT u.spent::text, u.reserved::text, u.calls FROM ${s}.llm_budget_usage u WHERE u.scope_value = 'crashed'`,
      );
      const r = await c.query<{ span_id: string; amount: string; expired: boolean }>(
        `SELECT span_id::text, amount::text, expires_at < now() AS expired FROM ${s}.llm_budget_reservations WHERE scope_value = 'crashed' ORDER BY span_id`,
      );
      const v = await c.query<{ spent_usd: string; reserved_usd: string }>(`SELECT spent_usd::text, reserved_usd::text FROM ${s}.budget_status WHERE scope_value = 'crashed'`);
      return {
        spent: money(u.rows[0]?.spent ?? '0'),
        reserved: money(u.rows[0]?.reserved ?? '0'),
        calls: u.rows[0]?.calls ?? 0,
        holds: r.rows,
        /** What the reservation rows add up to, live or expired: what `reserved` must equal. */
        held: usdToString(r.rows.reduce((n, x) => n + usd(x.amount), 0n)),
        view: { spent: money(v.rows[0]?.spent_usd ?? '0'), reserved: money(v.rows[0]?.reserved_usd ?? '0') },
      };
    });
  const plan = (serviceId: string, baseURL: string, calls: number, budgetOptions?: ChildPlan['budgetOptions']): ChildPlan => ({
    url: target.url,
    schema: killSchema,
    baseURL: `${baseURL}/v1`,
    serviceId,
    user: 'crashed',
    calls,
    maxTokens: MAX_TOKENS,
    limit: '0.01',
    ...(budgetOptions ? { budgetOptions } : {}),
  });

  const doomed = startChild(plan('doomed', hanging.url, 3, { holdTtlMs: 1_500, timeoutMs: 30_000 }));
  await doomed.ready;
  doomed.go();
  await doomed.started;
  // Admitted means held, then sent: wait until the three requests hang at the provider.
  await until('three held calls hanging at the provider', async () => hanging.requests.length === 3 && (await ledger()).holds.length === 3);
  doomed.proc.kill('SIGKILL');
  await expect(doomed.done).rejects.toThrow(/SIGKILL/);
  const held = await ledger();
  expect({ reserved: held.reserved, held: held.held, spent: held.spent }).toEqual({ reserved: usdToString(3n * E), held: usdToString(3n * E), spent: '0' });

  // The holds expire: the view stops counting them; the usage row keeps them until an admission frees them.
  await until('the holds to expire', async () => (await ledger()).view.reserved === '0', 20_000);
  const expired = await ledger();
  expect(expired.holds.map((h) => h.expired)).toEqual([true, true, true]);
  expect({ reserved: expired.reserved, held: expired.held, view: expired.view }).toEqual({ reserved: usdToString(3n * E), held: usdToString(3n * E), view: { spent: '0', reserved: '0' } });

  // Another replica admits a call on the scope: refused if the dead holds still counted.
  const next = startChild(plan('survivor', gated.url, 1));
  await next.ready;
  next.go();
  await until("the survivor's call to reach the provider", async () => gated.requests.length === 1);
  const during = await ledger();
  // The dead holds are gone; the survivor's live hold is all that is reserved.
  expect(during.holds).toHaveLength(1);
  expect(during.holds[0].expired).toBe(false);
  expect({ reserved: during.reserved, held: during.held, view: during.view }).toEqual({ reserved: usdToString(E), held: usdToString(E), view: { spent: '0', reserved: usdToString(E) } });
  openGate();
  const report = await next.done;
  expect([report.ok, report.blocked, report.failed]).toEqual([1, 0, []]);
  expect(report.warnings.filter((w) => CONFLICT.test(w))).toEqual([]);

  const after = await ledger();
  expect(after).toEqual({ spent: usdToString(C), reserved: '0', calls: 1, holds: [], held: '0', view: { spent: usdToString(C), reserved: '0' } });
  const rows = await withClient(async (c) => (await c.query(`SELECT status, cost_usd::text AS cost, service_id FROM ${s}.llm_calls`)).rows);
  // The killed replica's calls never landed; only the survivor's.
  expect(rows.map((r) => [r.status, money(r.cost), r.service_id])).toEqual([['ok', usdToString(C), 'survivor']]);
});

/*
 * kill -9 while holding a lease. Limit $0.01; lease { amount: '0.01', share: 1, ttlMs: 1000 },
 * holdTtlMs 1,500: the replica's first call takes a lease of all $0.01 (nothing was seen yet),
 * three calls fit it in memory (3 × E = 0.00994635 ≤ 0.01) and hang at the provider. The only
 * hold in the database is the lease's: $0.01, lasting ttlMs + holdTtlMs = 2.5 s. The replica is
 * killed; the hold expires like any other and the next admission on the scope frees it.
 */
withDatabase('kill -9 while holding a lease: its hold expires like a call\'s, the next admission frees it, nothing stays held', { timeout: CHILD_HUNG_MS + 60_000 }, async () => {
  await migrate(leaseKillSchema);
  const s = `"${leaseKillSchema}"`;
  const ledger = () =>
    withClient(async (c) => {
      const u = await c.query<{ spent: string; reserved: string }>(`SELECT spent::text, reserved::text FROM ${s}.llm_budget_usage WHERE scope_value = 'leaser'`);
      const r = await c.query<{ amount: string; expired: boolean }>(`SELECT amount::text, expires_at < now() AS expired FROM ${s}.llm_budget_reservations WHERE scope_value = 'leaser'`);
      const v = await c.query<{ reserved_usd: string }>(`SELECT reserved_usd::text FROM ${s}.budget_status WHERE scope_value = 'leaser'`);
      return {
        spent: money(u.rows[0]?.spent ?? '0'),
        reserved: money(u.rows[0]?.reserved ?? '0'),
        holds: r.rows.map((x) => [money(x.amount), x.expired]),
        view: money(v.rows[0]?.reserved_usd ?? '0'),
      };
    });
  const plan = (serviceId: string, baseURL: string, calls: number, budgetOptions?: ChildPlan['budgetOptions']): ChildPlan => ({
    url: target.url,
    schema: leaseKillSchema,
    baseURL: `${baseURL}/v1`,
    serviceId,
    user: 'leaser',
    calls,
    maxTokens: MAX_TOKENS,
    limit: '0.01',
    ...(budgetOptions ? { budgetOptions } : {}),
  });
  const hangingBefore = hanging.requests.length;
  const doomed = startChild(plan('doomed-leaser', hanging.url, 3, { holdTtlMs: 1_500, timeoutMs: 30_000, lease: { amount: '0.01', share: 1, ttlMs: 1_000 } }));
  await doomed.ready;
  doomed.go();
  await doomed.started;
  await until('three leased calls hanging at the provider', async () => hanging.requests.length === hangingBefore + 3);
  const held = await ledger();
  // One hold, the lease's: the three calls were admitted in memory.
  expect(held).toEqual({ spent: '0', reserved: '0.01', holds: [['0.01', false]], view: '0.01' });
  doomed.proc.kill('SIGKILL');
  await expect(doomed.done).rejects.toThrow(/SIGKILL/);

  await until('the lease to expire', async () => (await ledger()).view === '0', 20_000);
  expect(await ledger()).toEqual({ spent: '0', reserved: '0.01', holds: [['0.01', true]], view: '0' });

  // Another replica, without a lease: refused if the dead lease still counted (0.01 − 0.01 < E).
  const requestsBefore = provider.requests.length;
  const next = startChild(plan('after-leaser', provider.url, 1));
  await next.ready;
  next.go();
  const report = await next.done;
  expect([report.ok, report.blocked, report.failed]).toEqual([1, 0, []]);
  expect(provider.requests.length - requestsBefore).toBe(1);
  expect(await ledger()).toEqual({ spent: usdToString(C), reserved: '0', holds: [], view: '0' });
  const rows = await withClient(async (c) => (await c.query(`SELECT status, cost_usd::text AS cost, service_id FROM ${s}.llm_calls`)).rows);
  expect(rows.map((r) => [r.status, money(r.cost), r.service_id])).toEqual([['ok', usdToString(C), 'after-leaser']]);
});

/** Deadlocks counted in the test's database, once every session in it has ended (a backend reports its counts as it exits). */
async function deadlocks(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const open = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [target.database]);
    if (open.rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const r = await admin.query(`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = $1`, [target.database]);
  return r.rows[0]?.n ?? 0;
}
