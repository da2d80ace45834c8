/**
 * Run by budget-processes.spec.ts: one service of an app whose replicas share one durable budget.
 * argv[2] is a JSON {@link ChildPlan}. Opens Kostrack with startKostrack() (the budget declared in
 * options, as every replica declares it), prints READY, waits for GO on stdin (so every replica
 * starts together), then makes `calls` tracked calls at once with the real OpenAI SDK, each in a
 * trace tagged `user_id: <user>`, and waits for all of them (Promise.allSettled). Prints STARTED
 * once the calls are issued (a parent that SIGKILLs it waits for that), and at the end one JSON
 * line: how the calls ended, what the writer did, and every warning the process emitted.
 */
import OpenAI from 'openai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { budgetGate } from '../../../lib/core/budget-gate.js';
import { KostrackBudgetExceededError, startKostrack, trace, wrap } from '../../../lib/index.js';
import type { AdmissionCounts, BudgetLedger } from '../../../lib/storage/budget.ledger.js';
import type { BudgetLeaseOptions } from '../../../lib/storage/budget.options.js';

export interface ChildPlan {
  url: string;
  schema: string;
  /** The loopback's base URL (the parent's server: it counts the requests that reach it). */
  baseURL: string;
  serviceId: string;
  user: string;
  calls: number;
  maxTokens: number;
  limit: string;
  budgetOptions?: { holdTtlMs?: number; timeoutMs?: number; refreshMs?: number; lease?: BudgetLeaseOptions };
  /** How long a query may wait for one of the pool's 4 connections (storage's default: 5,000 ms). */
  connectTimeoutMs?: number;
}

export interface ChildReport {
  ok: number;
  blocked: number;
  /** Any other outcome, as `ErrorClass: message`. */
  failed: string[];
  written: unknown;
  deadLettered: number;
  lostRows: number;
  warnings: string[];
  /** How the budget ledger admitted the calls: database round trips per call, leases, calls admitted in memory. */
  admissions: AdmissionCounts;
}

const plan = JSON.parse(process.argv[2]) as ChildPlan;
const warnings: string[] = [];
// startKostrack's and the core's warnings go through process.emitWarning.
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));

const dir = mkdtempSync(join(tmpdir(), 'kostrack-budget-'));
const kostrack = await startKostrack({
  database: plan.connectTimeoutMs ? { type: 'postgres', url: plan.url, connectTimeoutMS: plan.connectTimeoutMs } : plan.url,
  schema: plan.schema,
  serviceId: plan.serviceId,
  writer: { spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dead-letter.jsonl'), flushIntervalMs: 20, retryBaseMs: 10, retryMaxMs: 200, maxQueue: 100_000 },
  budgets: [{ name: 'user-day', scope: 'user_id', period: 'day', limit: plan.limit }],
  ...(plan.budgetOptions ? { budgetOptions: plan.budgetOptions } : {}),
});
const client = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: plan.baseURL, maxRetries: 0, timeout: 120_000 }));

process.stdout.write('READY\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

const settled = Promise.allSettled(
  Array.from({ length: plan.calls }, () =>
    trace({ name: 'ask', tags: { user_id: plan.user } }, () =>
      client.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: plan.maxTokens, messages: [{ role: 'user', content: 'Say hello' }] }),
    ),
  ),
);
process.stdout.write('STARTED\n');
const outcomes = await settled;

const ledger = budgetGate() as BudgetLedger;
const report: ChildReport = { ok: 0, blocked: 0, failed: [], written: null, deadLettered: 0, lostRows: 0, warnings, admissions: ledger.counts() };
for (const o of outcomes) {
  if (o.status === 'fulfilled') report.ok++;
  else if (o.reason instanceof KostrackBudgetExceededError) report.blocked++;
  else report.failed.push(`${(o.reason as Error)?.constructor?.name}: ${(o.reason as Error)?.message}`);
}
await kostrack.flush(60_000);
const health = kostrack.health();
await kostrack.close();
report.written = health.written;
report.deadLettered = health.deadLettered ?? 0;
report.lostRows = health.lostRows ?? 0;
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(report) + '\n');
process.exit(0);
