/**
 * Admission under a per-run budget, in process: what a tracked call pays before its request is
 * sent (bound the request from its JSON, price the worst case, check every budget up the span
 * tree, hold it; then give it back), side by side with the same call under no budget (one field
 * read) and the floor (a bigint comparison). Also the error of the request bound against a real
 * tokenizer (gpt-tokenizer's o200k_base, the encoding of gpt-4o and later): how much more than the
 * real input a bound holds.
 *
 * Then durable admission against PostgreSQL (DATABASE_URL, or postgres://root@127.0.0.1:5432/test):
 * one `BudgetLedger.admit` round trip (`kostrack_budget_admit()`: lock the scope's usage row,
 * free expired holds, check, reserve, insert the hold) sequential, 16 at once on ONE scope
 * (contention on the row lock) and 16 at once on 16 scopes; and, to justify the row lock with a
 * measurement, a naive check-then-reserve (SELECT spent and reserved, then UPDATE without a lock)
 * and one conditional UPDATE, 16 at once on one scope: how many admissions each lets past the
 * limit, and what each costs.
 *
 * Then the same admissions under a local lease (`budgetOptions.lease`, $0.10 a lease): calls are
 * admitted in memory against the process's lease, and one admission in ~137 asks the database
 * for a fresh lease after giving back what the old one has left. Each admitted call settles at E
 * and, every 256 calls, the writer's commit hook is told their rows landed (the lease's hold is
 * lowered by one statement), as a running writer would; the per-call and leased rows run in one
 * process, one after the other, on the same database.
 *
 * Run: `npx tsx bench/budget.bench.ts` (measures lib/ through tsx), or `npm run bench budget`.
 * Writes bench/results/budget.md.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { trace } from '../lib/core/index.js';
import { newId } from '../lib/core/ids.js';
import { usd, usdToString } from '../lib/core/money.js';
import { admitCall, KostrackBudgetExceededError, releaseReservation } from '../lib/core/run-budget.js';
import type { TraceContext } from '../lib/core/trace-context.js';
import { PriceBook } from '../lib/pricing/index.js';
import { useOpenAITokenizer } from '../lib/providers/openai.tokenizer.js';
import { requestBound } from '../lib/providers/request-bound.js';
import { checkBudget } from '../lib/storage/budget.declaration.js';
import { BudgetLedger } from '../lib/storage/budget.ledger.js';
import { resolveLease } from '../lib/storage/budget.options.js';
import type { BatchWriter, LeaseLanding } from '../lib/storage/batch.writer.js';
import type { CallRecord } from '../lib/core/call-record.js';
import { runMigrations } from '../lib/storage/migrations/migration.runner.js';
import { PgSqlPool } from '../lib/storage/pg.pool.js';
import { median, nsPerOp, percentile, writeReport } from './bench.report.js';

const RUNS = 7;
const OPTS = { iterations: 200_000, rounds: 7 };
const book = new PriceBook();
useOpenAITokenizer(false);

// An ordinary agent step: a system prompt, three turns, a tool, max_tokens set.
const params = {
  model: 'gpt-4o-mini',
  max_tokens: 800,
  messages: [
    { role: 'system', content: 'You are a careful accounting assistant. Answer with the figures only, in JSON.' },
    { role: 'user', content: 'Reconcile the October ledger against the bank statement and list the differences.' },
    { role: 'assistant', content: '{"differences": [{"account": "4010", "amount": "120.00"}]}' },
    { role: 'user', content: 'Explain the 4010 difference in one sentence.' },
  ],
  tools: [{ type: 'function', function: { name: 'lookup_invoice', description: 'Find an invoice by number', parameters: { type: 'object', properties: { number: { type: 'string' } }, required: ['number'] } } }],
};

const worst = () => {
  const b = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o-mini', params);
  return b ? book.worstCase('openai', 'gpt-4o-mini', b) : null;
};
const who = { provider: 'openai', model: 'gpt-4o-mini' };

let budgeted!: TraceContext;
let plain!: TraceContext;
trace({ name: 'bench', budget: '1000' }, (t) => (budgeted = t));
trace({ name: 'bench-plain' }, (t) => (plain = t));
// Nested twice inside the budgeted run, as an agent's step usually is.
let nested!: TraceContext;
trace({ name: 'bench', budget: '1000' }, (t) => {
  budgeted = t;
  trace({ name: 'step' }, (s) => trace({ name: 'tool' }, (u) => (nested = u ?? s)));
});

if (worst() === null) throw new Error('bench sanity check failed: the request has a bound');
const limit = 10n ** 18n;
const cases: { label: string; op: () => unknown }[] = [
  { label: 'per-run budget: bound (UTF-8 size) + worst case + admit + release (nested 3 deep)', op: () => releaseReservation(admitCall(nested, worst, who)) },
  {
    label: 'the same, texts counted with gpt-tokenizer (o200k_base)',
    op: () => {
      useOpenAITokenizer(true);
      const r = releaseReservation(admitCall(nested, worst, who));
      useOpenAITokenizer(false);
      return r;
    },
  },
  { label: 'per-run budget: admit + release only (worst case precomputed)', op: () => { const w = worst; releaseReservation(admitCall(budgeted, () => 123_456_789n, who)); return w; } },
  { label: 'no budget anywhere: admission is one field read', op: () => admitCall(plain, worst, who) },
  { label: 'floor: one bigint comparison', op: () => 123_456_789n <= limit },
];

const samples = cases.map(() => [] as number[]);
for (let run = 0; run < RUNS; run++) {
  for (let k = 0; k < cases.length; k++) {
    const i = (run + k) % cases.length;
    (globalThis as { gc?: () => void }).gc?.();
    samples[i].push(await nsPerOp(cases[i].op, OPTS));
  }
}
const medians = samples.map(median);
const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

// The bound's error: texts of several kinds as one user message each.
const texts: [string, string][] = [
  ['English prose (README.md)', readFileSync(new URL('../README.md', import.meta.url), 'utf8').slice(0, 20_000)],
  ['TypeScript source (lib/pricing/price-book.ts)', readFileSync(new URL('../lib/pricing/price-book.ts', import.meta.url), 'utf8').slice(0, 20_000)],
  ['JSON data', JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, account: 4000 + i, amount: (i * 13.37).toFixed(2), memo: `line ${i}` })))],
  ['German prose', 'Die Abstimmung des Oktoberbuchs mit dem Kontoauszug ergab drei Differenzen, die auf verspätete Buchungen zurückgehen. '.repeat(80)],
  ['Japanese prose', '十月の元帳を銀行明細と照合したところ、遅延した仕訳による差異が三件見つかりました。'.repeat(80)],
];
const errorRows = texts.map(([label, text]) => {
  const messages = [{ role: 'user', content: text }];
  const boundBy = (tokenizer: boolean) => {
    useOpenAITokenizer(tokenizer);
    const b = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o', { model: 'gpt-4o', max_tokens: 1, messages })!.inputTokens;
    useOpenAITokenizer(false);
    return b;
  };
  const bySize = boundBy(false);
  const byTokens = boundBy(true);
  // A chat message costs its content's tokens plus about 4 for the role markers, and 3 prime the reply.
  const real = countTokens(text) + 4 + 3;
  return `| ${label} | ${real.toLocaleString('en')} | ${bySize.toLocaleString('en')} (${(bySize / real).toFixed(2)}×) | ${byTokens.toLocaleString('en')} (${(byTokens / real).toFixed(2)}×) |`;
});

// ---- Durable admission against PostgreSQL ----

const DB_URL = process.env.DATABASE_URL ?? 'postgres://root@127.0.0.1:5432/test';
const CONCURRENCY = 16;
const SEQUENTIAL = 2_000;
const PER_WORKER = 200;
/** The race: a limit of exactly this many worst cases, rounds of 16 workers admitting until refused. */
const FIT = 100;
const RACE_ROUNDS = 5;
const E = worst()!;

interface Latency {
  label: string;
  ms: number[];
  wallMs: number;
}

async function durableSection(): Promise<string[]> {
  const schema = `kt_bench_budget_${process.pid}_${randomBytes(3).toString('hex')}`;
  const pool = new PgSqlPool({ connectionString: DB_URL, max: CONCURRENCY + 1 }, () => undefined);
  const warnings: string[] = [];
  const ledger = new BudgetLedger(pool, schema, { warn: (m) => warnings.push(m), timeoutMs: 60_000, refreshMs: 3_600_000 });
  try {
    await runMigrations(pool, schema);
    await ledger.start([
      // Latency: a limit never reached, so every admission reserves.
      checkBudget({ name: 'bench-user-day', scope: 'user_id', period: 'day', limit: '1000000' }, 'bench'),
      // The race: each value of `tenant` may hold exactly FIT worst cases.
      checkBudget({ name: 'bench-race-day', scope: 'tenant', period: 'day', limit: usdToString(BigInt(FIT) * E) }, 'bench'),
    ]);
    const s = `"${schema}"`;
    const raceBudget = ledger.list().find((b) => b.name === 'bench-race-day')!.id;

    const admit = (tags: Record<string, string>) => {
      const match = ledger.match(tags, 'bench');
      return ledger.admit(match, E, { spanId: newId(), provider: 'openai', model: 'gpt-4o-mini', tags, serviceId: 'bench' });
    };
    const timed = async (op: () => Promise<unknown>, into: number[]) => {
      const t = process.hrtime.bigint();
      await op();
      into.push(Number(process.hrtime.bigint() - t) / 1e6);
    };
    /** Holds are given back by the writer when rows land; here they are cleared between cases so each starts alike. */
    const reset = () => pool.query(`TRUNCATE ${s}.llm_budget_reservations, ${s}.llm_budget_usage`);

    // Warm the pool's connections, the plans and the function's cache.
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, w) => { for (let i = 0; i < 30; i++) await admit({ user_id: `warm-${w}` }); }));
    await reset();

    const cases: Latency[] = [];
    {
      const ms: number[] = [];
      const t = process.hrtime.bigint();
      for (let i = 0; i < SEQUENTIAL; i++) await timed(() => admit({ user_id: 'seq' }), ms);
      cases.push({ label: `sequential, one scope (${SEQUENTIAL.toLocaleString('en')} admissions)`, ms, wallMs: Number(process.hrtime.bigint() - t) / 1e6 });
    }
    for (const shared of [true, false]) {
      await reset();
      const ms: number[] = [];
      const t = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, w) => {
          for (let i = 0; i < PER_WORKER; i++) await timed(() => admit({ user_id: shared ? 'hot' : `user-${w}` }), ms);
        }),
      );
      cases.push({
        label: `${CONCURRENCY} concurrent, ${shared ? 'ONE scope (all wait on its row lock)' : `${CONCURRENCY} scopes (one row each)`} (${(CONCURRENCY * PER_WORKER).toLocaleString('en')} admissions)`,
        ms,
        wallMs: Number(process.hrtime.bigint() - t) / 1e6,
      });
    }

    // The same, under a lease: one ledger of its own (a process's), the same schema and budgets.
    const leaseAmount = '0.10';
    const leased = new BudgetLedger(pool, schema, { warn: (m) => warnings.push(m), timeoutMs: 60_000, refreshMs: 3_600_000, lease: resolveLease({ amount: leaseAmount }) });
    await leased.start([]);
    // The writer's side: rows "land" in batches of 256. No rows are stored here; what the writer's
    // statement does to budgets for them is done by one statement per batch (their cost leaves
    // their leases' holds and becomes spent, as in batch.sql.ts), then the lease is told.
    let hook: LeaseLanding | undefined;
    const land = async (calls: CallRecord[]) => {
      const holds = hook!.holdsOf(calls);
      if (holds)
        await pool.query(
          `WITH l AS (SELECT lease_id, sum(held) AS c FROM unnest($1::uuid[], $2::numeric[]) AS m(lease_id, held) GROUP BY 1),
           held AS (SELECT r.span_id, r.budget_id, r.amount, l.c FROM ${s}.llm_budget_reservations r JOIN l ON l.lease_id = r.span_id ORDER BY 1, 2 FOR UPDATE OF r),
           low AS (UPDATE ${s}.llm_budget_reservations r SET amount = GREATEST(h.amount - h.c, 0) FROM held h WHERE r.span_id = h.span_id AND r.budget_id = h.budget_id
                   RETURNING r.budget_id, r.scope_value, r.period_start, h.amount - r.amount AS released, h.c)
           UPDATE ${s}.llm_budget_usage u SET reserved = GREATEST(u.reserved - low.released, 0), spent = u.spent + low.c
             FROM low WHERE u.budget_id = low.budget_id AND u.scope_value = low.scope_value AND u.period_start = low.period_start`,
          [holds.leaseIds, holds.held],
        );
      hook!.landed(calls.map((record) => ({ kind: 'call' as const, record })));
    };
    leased.watch({ watchLeases: (l: LeaseLanding) => (hook = l) } as unknown as BatchWriter);
    let landing: CallRecord[] = [];
    const lands: Promise<unknown>[] = [];
    const admitLeased = async (tags: Record<string, string>) => {
      const spanId = newId();
      await leased.admit(leased.match(tags, 'bench'), E, { spanId, provider: 'openai', model: 'gpt-4o-mini', tags, serviceId: 'bench' });
      leased.settle(spanId, E);
      landing.push({ spanId, costUsd: E, status: 'ok' } as CallRecord);
      if (landing.length >= 256) {
        const batch = landing;
        landing = [];
        // In the background, as the writer commits beside the calls.
        lands.push(land(batch).catch((e: unknown) => void warnings.push(`landing failed: ${String(e)}`)));
      }
    };
    const leaseCases: (Latency & { db: number })[] = [];
    for (const concurrent of [false, true]) {
      await reset();
      const before = leased.counts();
      const ms: number[] = [];
      const t = process.hrtime.bigint();
      if (!concurrent) for (let i = 0; i < SEQUENTIAL; i++) await timed(() => admitLeased({ user_id: 'lease-seq' }), ms);
      else await Promise.all(Array.from({ length: CONCURRENCY }, async () => { for (let i = 0; i < PER_WORKER; i++) await timed(() => admitLeased({ user_id: 'lease-hot' }), ms); }));
      const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
      const after = leased.counts();
      await Promise.all(lands.splice(0));
      leaseCases.push({
        label: concurrent ? `${CONCURRENCY} concurrent, ONE scope (${(CONCURRENCY * PER_WORKER).toLocaleString('en')} admissions)` : `sequential, one scope (${SEQUENTIAL.toLocaleString('en')} admissions)`,
        ms,
        wallMs,
        db: after.requested + after.perCall - before.requested - before.perCall,
      });
    }
    await leased.returnLeases();
    leased.close();

    // The race: 16 workers on one fresh scope per round, each admitting until refused. Every
    // strategy starts from a usage row that exists (spent 0, reserved 0) and the same limit.
    const limitSql = `(SELECT limit_usd FROM ${s}.llm_budgets WHERE id = $1)`;
    const key = `budget_id = $1 AND scope_value = $2 AND period_start = $3`;
    const today = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate())).toISOString();
    const strategies: { label: string; admit: (value: string) => Promise<boolean> }[] = [
      {
        label: 'ours: `kostrack_budget_admit()` (row lock, then check and reserve)',
        admit: (value) => admit({ tenant: value }).then(() => true, (e: unknown) => {
          if (e instanceof KostrackBudgetExceededError) return false;
          throw e;
        }),
      },
      {
        label: 'naive check-then-reserve: SELECT spent, reserved; then UPDATE reserved = reserved + E (no lock)',
        admit: async (value) => {
          const [row] = await pool.query<{ fits: boolean }>(`SELECT ${limitSql} - spent - reserved >= $4::numeric AS fits FROM ${s}.llm_budget_usage WHERE ${key}`, [raceBudget, value, today, usdToString(E)]);
          if (!row?.fits) return false;
          await pool.query(`UPDATE ${s}.llm_budget_usage SET reserved = reserved + $4::numeric WHERE ${key}`, [raceBudget, value, today, usdToString(E)]);
          return true;
        },
      },
      {
        label: 'one conditional UPDATE … WHERE limit − spent − reserved ≥ E (no hold row; a floor)',
        admit: async (value) =>
          (await pool.query(`UPDATE ${s}.llm_budget_usage SET reserved = reserved + $4::numeric WHERE ${key} AND ${limitSql} - spent - reserved >= $4::numeric RETURNING 1 AS n`, [raceBudget, value, today, usdToString(E)])).length === 1,
      },
    ];
    const races: { label: string; admitted: number[]; ms: number[] }[] = [];
    for (const strategy of strategies) {
      const admitted: number[] = [];
      const ms: number[] = [];
      for (let round = 0; round < RACE_ROUNDS; round++) {
        const value = `race-${races.length}-${round}`;
        await pool.query(`INSERT INTO ${s}.llm_budget_usage (budget_id, scope_value, period_start) VALUES ($1, $2, $3)`, [raceBudget, value, today]);
        let n = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (;;) {
              let ok = false;
              await timed(async () => (ok = await strategy.admit(value)), ms);
              if (!ok) return;
              n++;
            }
          }),
        );
        admitted.push(n);
      }
      races.push({ label: strategy.label, admitted, ms });
    }
    if (warnings.length) throw new Error(`the ledger warned: ${warnings.join('; ')}`);

    const [settings] = await pool.query<{ server_version: string; fsync: string; synchronous_commit: string }>(
      `SELECT current_setting('server_version') AS server_version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit`,
    );
    const fmtMs = (v: number) => (v >= 1 ? `${v.toFixed(2)} ms` : `${(v * 1000).toFixed(0)} µs`);
    const perRun = medians[2] / 1e6;
    const seqP50 = percentile(cases[0].ms, 50);
    const hotP50 = percentile(cases[1].ms, 50);
    return [
      '',
      '### Durable admission: one round trip to PostgreSQL',
      '',
      `\`BudgetLedger.admit\` (one \`kostrack_budget_admit()\` call) against ${new URL(DB_URL).host} (local PostgreSQL ${settings.server_version}, fsync ${settings.fsync}, synchronous_commit ${settings.synchronous_commit}: each admission commits, so it waits for its WAL flush while it holds the scope's row), a fresh schema migrated with runMigrations, a pool of ${CONCURRENCY + 1} connections; each admission holds E = $${usdToString(E)} (the request above). Latency is per admission, from the call to its answer, as the tracked call waits for it (in the concurrent cases, time queued for the row lock included). The in-process per-run admission of the table above is beside it.`,
      '',
      '| case | p50 | p99 | max | admissions / s |',
      '|---|---|---|---|---|',
      `| in process, per-run budget: admit + release (table above) | ${fmt(medians[2])} | – | – | ${Math.round(1e9 / medians[2]).toLocaleString('en')} |`,
      `| in process, per-run budget: bound + worst case + admit + release (table above) | ${fmt(medians[0])} | – | – | ${Math.round(1e9 / medians[0]).toLocaleString('en')} |`,
      ...cases.map((c) => `| durable, ${c.label} | **${fmtMs(percentile(c.ms, 50))}** | ${fmtMs(percentile(c.ms, 99))} | ${fmtMs(Math.max(...c.ms))} | ${Math.round((c.ms.length / c.wallMs) * 1000).toLocaleString('en')} |`),
      ...leaseCases.map((c) => `| durable with a lease of $${leaseAmount}, ${c.label} | **${fmtMs(percentile(c.ms, 50))}** | ${fmtMs(percentile(c.ms, 99))} | ${fmtMs(Math.max(...c.ms))} | ${Math.round((c.ms.length / c.wallMs) * 1000).toLocaleString('en')} |`),
      '',
      `A durable admission costs ${fmtMs(seqP50)} at p50 on its own (p99 ${fmtMs(percentile(cases[0].ms, 99))}), about ${Math.round(seqP50 / perRun).toLocaleString('en')}× the in-process admit + release. On one hot scope every admission, from any process, queues on that scope's row (held through the commit), so 16 callers wait ${fmtMs(hotP50)} each at p50 (p99 ${fmtMs(percentile(cases[1].ms, 99))}) and the scope admits about ${Math.round((cases[1].ms.length / cases[1].wallMs) * 1000).toLocaleString('en')} calls a second on this machine however many replicas ask; different scopes do not wait for each other (${Math.round((cases[2].ms.length / cases[2].wallMs) * 1000).toLocaleString('en')} / s here, bounded by the server's CPUs). Next to the LLM request it guards (hundreds of ms and up) that is a few per cent at p50; it is too slow for a hot path, though: a scope that many busy replicas share (a \`service\` or a big tenant budget) is capped at that rate and its p99 grows with the queue. Only calls a durable budget matches pay it (a call under none pays an in-memory lookup).`,
      '',
      `With a lease (\`budgetOptions.lease: { amount: '${leaseAmount}' }\`, E = $${usdToString(E)}, so ${Number(usd(leaseAmount) / E)} calls a lease) the database is asked ${leaseCases.map((c) => `${c.db} times for ${c.ms.length.toLocaleString('en')} calls (${c.label.split(' (')[0]})`).join(' and ')}: a call admitted in memory pays ${fmtMs(percentile(leaseCases[0].ms, 50))} at p50, and the one that renews the lease pays a round trip and a half (the old lease's remainder goes back, then the new one is admitted), which is the p99 and max. The hot scope admits ${Math.round((leaseCases[1].ms.length / leaseCases[1].wallMs) * 1000).toLocaleString('en')} calls a second in one process instead of ${Math.round((cases[1].ms.length / cases[1].wallMs) * 1000).toLocaleString('en')}, and the database sees one admission per lease from each replica, not one per call. What it costs: money a replica holds in its lease (at most the amount, and at most \`share\` of what the scope had left) cannot be used by the other replicas until it is spent or given back (at the next renewal, after \`ttlMs\`, or at shutdown); see test/budgets/budget-processes.spec.ts.`,
      '',
      `#### Why a row lock: ${CONCURRENCY} callers at once on one scope whose limit fits exactly ${FIT} worst cases, each admitting until refused, ${RACE_ROUNDS} rounds`,
      '',
      '| admission | admitted per round (limit: ' + FIT + ') | past the limit, worst round | over the limit, worst round | p50 | p99 |',
      '|---|---|---|---|---|---|',
      ...races.map((r) => {
        const over = Math.max(...r.admitted) - FIT;
        return `| ${r.label} | ${r.admitted.join(', ')} | **${over}** | $${usdToString(BigInt(Math.max(over, 0)) * E)} | ${fmtMs(percentile(r.ms, 50))} | ${fmtMs(percentile(r.ms, 99))} |`;
      }),
      '',
      `Reading the SELECT and then reserving lets every caller that read before the others reserved through: each saw room for one more. The row lock (ours) or a single conditional UPDATE (PostgreSQL re-checks its WHERE on the locked row) admit exactly the limit. Ours also frees expired holds and records the hold keyed by the call, so the writer can give it back when the row lands and a crashed process\'s holds expire: that work is done while the row is held, which is why it is ${(percentile(races[0].ms, 50) / percentile(races[2].ms, 50)).toFixed(1)}× the bare conditional UPDATE at p50 under this contention. The naive pair is as fast and wrong by up to ${Math.max(...races[1].admitted) - FIT} calls in ${FIT}.`,
    ];
  } catch (e) {
    return ['', '### Durable admission: one round trip to PostgreSQL', '', `Not measured: ${(e as Error).message} (set DATABASE_URL to a PostgreSQL server).`];
  } finally {
    ledger.close();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.close();
  }
}
const durable = await durableSection();

const body = [
  `In process, warm, lib/ through tsx; ${RUNS} runs of ${OPTS.iterations.toLocaleString('en')} × ${OPTS.rounds} rounds, the cell the median run. The request: gpt-4o-mini chat, a system prompt, three turns, one tool, max_tokens 800.`,
  '',
  '| case | per call | each run, ns |',
  '|---|---|---|',
  ...cases.map((c, i) => `| ${c.label} | **${fmt(medians[i])}** | ${[...samples[i]].sort((a, b) => a - b).map((v) => v.toFixed(0)).join(', ')} |`),
  '',
  `Goal: under 1 µs per call for a per-run budget: ${fmt(medians[0])} with the size bound (${medians[0] < 1000 ? 'met' : 'NOT met'}), ${fmt(medians[1])} with gpt-tokenizer; ${(medians[0] / Math.max(medians[4], 0.1)).toFixed(0)}× the floor. A call under no budget pays ${fmt(medians[3])}.`,
  '',
  '### The request bound against a real tokenizer',
  '',
  'Input tokens of one user message (gpt-tokenizer o200k_base, the encoding of gpt-4o and later, plus the chat template) against what Kostrack reserves: the UTF-8 size bound (every token of a byte-level BPE is at least one byte), and the bound with each text counted by gpt-tokenizer (what OpenAI models get when the app installs it). Both include the JSON structure allowance and 64 base tokens, so neither undercounts.',
  '',
  '| text | real input tokens | size bound (÷ real) | tokenizer bound (÷ real) |',
  '|---|---|---|---|',
  ...errorRows,
  ...durable,
].join('\n');
writeReport('budget', 'Budget admission: overhead per call and the request bound', body);
process.exit(0);
