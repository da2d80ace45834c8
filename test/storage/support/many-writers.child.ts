/**
 * Run by many-writers.spec.ts, 8 at once on one schema. argv: url schema spoolDir deadLetterFile
 * writer writers callsPerWriter batchSize.
 *
 * One writer process of a fleet whose calls all land on the same rows: 50 shared traces (fixed
 * trace ids) and a few hourly buckets (fixed times across a month boundary, so months' partitions
 * are created on demand by everyone at once), recorded through the public core (`trace`,
 * `recordCall`, storage added with `addSink`). Call n is a pure function of n ({@link callOf}), so
 * a replay (the same span id sent again, by this process or by its neighbour) is the same row, and
 * the parent can work out every expected sum from n alone.
 *
 * Opens storage (migrations included, on PostgreSQL racing the others), says `READY`, waits for `GO` on stdin,
 * sends its plan ({@link sendPlan}), drains, closes, and prints one JSON line ({@link WriterReport}).
 * Imported by the spec for the plan; it runs only when started as a script.
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { CallInput, CallStatus } from '../../../lib/core/call-record.js';
import { configureKostrack } from '../../../lib/core/configure.js';
import { recordCall } from '../../../lib/core/record-call.js';
import { addSink } from '../../../lib/core/sinks.js';
import { trace } from '../../../lib/core/trace.js';
import { sqlState } from '../../../lib/storage/error.classifier.js';
import type { SqlPool } from '../../../lib/storage/sql.pool.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import type { WriterHealth } from '../../../lib/storage/writer.stats.js';

export const SERVICE = 'many-writers';
export const TRACE_NAME = 'many-writers';
/** The shared traces: every process writes into every one of them. */
export const TRACE_IDS = Array.from({ length: 50 }, (_, t) => `7ace0000-0000-4000-8000-${t.toString(16).padStart(12, '0')}`);
/** Calls per `trace()`: block b is calls b*BLOCK … b*BLOCK+BLOCK-1, all in trace b % 50. */
export const BLOCK = 10;
/** 22:00 to 01:00 UTC across the end of January: three hourly buckets, two months (neither made ahead). */
const BASE_MS = Date.parse('2026-01-31T22:00:00.000Z');
const SPREAD_MS = 3 * 3_600_000;
const MODELS = [
  ['anthropic', 'claude-haiku-4-5'],
  ['anthropic', 'claude-sonnet-4-5'],
  ['openai', 'gpt-4o-mini'],
] as const;

export function spanIdOf(n: number): string {
  return `5a11ca11-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export function traceIdOf(n: number): string {
  return TRACE_IDS[Math.floor(n / BLOCK) % TRACE_IDS.length];
}

/** Call n: its cost (units of 1e-15 USD) distinct for every priced call, some unpriced, some failed. */
export function callOf(n: number): CallInput & { spanId: string; time: Date; latencyMs: number } {
  const [provider, model] = MODELS[n % MODELS.length];
  const status: CallStatus = n % 23 === 0 ? 'error' : n % 29 === 1 ? 'blocked' : n % 31 === 2 ? 'aborted' : 'ok';
  const unpriced = status !== 'blocked' && n % 17 === 5;
  const blocked = status === 'blocked';
  const inputTokens = blocked ? 0 : 50 + (n % 2000);
  const cachedTokens = blocked ? 0 : n % 50;
  const outputTokens = blocked ? 0 : 10 + (n % 700);
  // Independent of the model (n % 3) and of each other: 3 × 3 × 2 × 4 keys per hour, some tags absent (NULL).
  const tags: Record<string, string> = {};
  const feature = Math.floor(n / 3) % 3;
  if (feature !== 2) tags.feature = feature === 0 ? 'chat' : 'search';
  if (Math.floor(n / 36) % 2 === 0) tags.project = 'alpha';
  if (n % 4 !== 3) tags.user_id = `u${n % 4}`;
  return {
    provider,
    model,
    operation: provider === 'openai' ? 'chat.completions.create' : 'messages.create',
    inputTokens,
    outputTokens,
    cachedTokens,
    tokenBreakdown: { inputUncached: inputTokens - cachedTokens, cacheRead: cachedTokens, output: outputTokens },
    // Up to 1e17 units (100 USD) and down to the last of the 15 decimals.
    costUsd: unpriced ? null : blocked ? 0n : BigInt(n + 1) * 1_000_000_000_001n,
    pricingModel: unpriced ? null : `genai-prices:${model}`,
    pricingSource: unpriced ? 'unpriced' : 'catalog',
    latencyMs: 100 + (n % 900),
    status,
    errorClass: status === 'error' ? 'RateLimitError' : status === 'aborted' ? 'AbortError' : null,
    streamed: n % 5 === 0,
    tags,
    time: new Date(BASE_MS + ((n * 7919) % SPREAD_MS)),
    spanId: spanIdOf(n),
  };
}

export type SendKind = 'own' | 'again' | 'later' | 'reversed' | 'neighbour';

/**
 * The blocks writer `w` of `writers` sends, in order (a `reversed` block's calls go last to first).
 * Its own blocks are w*B … w*B+B-1 (B = blocks per writer); every 50 of them it also re-sends:
 * - one at once (`again`: the same batch, or the next one, in flight beside it);
 * - one from 12 blocks back (`later`: a batch before, committed or not);
 * - the last 6, in the opposite order (`reversed`: results imported twice, which a provider's batch
 *   API does not return in a fixed order), while the batch with the originals is likely in flight;
 * - one of its neighbour's, at about the time the neighbour sends it itself (a row another process
 *   may not have committed yet).
 * Batches without any of these take the COPY path. The union of every writer's blocks is every
 * block exactly once.
 */
export function* sendPlan(w: number, writers: number, blocksPerWriter: number): Generator<{ block: number; kind: SendKind }> {
  const own = (k: number) => w * blocksPerWriter + k;
  const neighbour = ((w + 1) % writers) * blocksPerWriter;
  for (let k = 0; k < blocksPerWriter; k++) {
    yield { block: own(k), kind: 'own' };
    const phase = k % 50;
    if (phase === 3) yield { block: own(k), kind: 'again' };
    if (phase === 17 && k >= 12) yield { block: own(k - 12), kind: 'later' };
    if (phase === 29) for (let b = k; b > k - 6; b--) yield { block: own(b), kind: 'reversed' };
    if (phase === 41) yield { block: neighbour + k, kind: 'neighbour' };
  }
}

export interface WriterReport {
  writer: number;
  batchSize: number;
  /** Calls recorded, replays included, and by kind of send. */
  sent: number;
  sentByKind: Record<SendKind, number>;
  /** From GO to drained. */
  ms: number;
  health: WriterHealth;
  /** Batches as the pool saw them: COPY transactions committed, failed by SQLSTATE, and unnest() statements. */
  batches: { copyCommitted: number; copyFailed: Record<string, number>; statements: number; statementsFailed: Record<string, number> };
  warnings: string[];
}

/** Counts the writer's transactions and statements by wrapping this storage's own pool. */
function countBatches(pool: SqlPool): WriterReport['batches'] {
  const batches: WriterReport['batches'] = { copyCommitted: 0, copyFailed: {}, statements: 0, statementsFailed: {} };
  const bump = (into: Record<string, number>, e: unknown) => {
    const code = sqlState(e) ?? 'other';
    into[code] = (into[code] ?? 0) + 1;
  };
  const transaction = pool.transaction.bind(pool);
  const query = pool.query.bind(pool);
  pool.transaction = (async (fn: Parameters<SqlPool['transaction']>[0]) => {
    try {
      const result = await transaction(fn);
      batches.copyCommitted++;
      return result;
    } catch (e) {
      bump(batches.copyFailed, e);
      throw e;
    }
  }) as SqlPool['transaction'];
  pool.query = (async (sql: string, params?: unknown[]) => {
    // The unnest() batch statement (the embedded path, and the fallback after a conflicting COPY).
    const batch = sql.includes('ins_calls AS');
    try {
      const rows = await query(sql, params);
      if (batch) batches.statements++;
      return rows;
    } catch (e) {
      if (batch) bump(batches.statementsFailed, e);
      throw e;
    }
  }) as SqlPool['query'];
  return batches;
}

async function main(): Promise<void> {
  const [url, schema, spoolDir, deadLetterFile, writerText, writersText, callsText, batchText] = process.argv.slice(2);
  const [writer, writers, calls, batchSize] = [writerText, writersText, callsText, batchText].map(Number);
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  configureKostrack({ serviceId: SERVICE, warn });
  const storage = (await TelemetryStorage.open(
    // A connect waits behind every statement queued on the embedded engine, which runs one at a
    // time for all eight writers: on a busy machine that passed the default 5 s, and a writer's
    // retry (nothing lost) failed the "no error" check. The options form keeps the URL's pool of 4.
    { database: { type: 'postgres', url, connectTimeoutMS: 60_000 }, schema, writer: { spoolDir, deadLetterFile, batchSize, maxQueue: 5000, flushIntervalMs: 10, retryBaseMs: 10, retryMaxMs: 200 } },
    { warn },
  ))!;
  const batches = countBatches(storage.pool);
  addSink(storage.writer);

  // Every writer starts together (the parent says GO once all are ready), so their batches overlap.
  process.stdout.write('READY\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  const started = performance.now();

  const sentByKind: Record<SendKind, number> = { own: 0, again: 0, later: 0, reversed: 0, neighbour: 0 };
  let sent = 0;
  let steps = 0;
  for (const { block, kind } of sendPlan(writer, writers, calls / BLOCK)) {
    trace({ name: TRACE_NAME, traceId: traceIdOf(block * BLOCK) }, () => {
      if (kind === 'reversed') for (let n = (block + 1) * BLOCK - 1; n >= block * BLOCK; n--) recordCall(callOf(n));
      else for (let n = block * BLOCK; n < (block + 1) * BLOCK; n++) recordCall(callOf(n));
    });
    sent += BLOCK;
    sentByKind[kind] += BLOCK;
    // Let the writer run; hold back while it is behind, so nothing spills to the spool.
    if (++steps % 5 === 0) {
      await nextTurn();
      while (storage.writer.health().queueDepth >= 2000) await sleep(2);
    }
  }
  await storage.writer.drain(240_000);
  const ms = Math.round(performance.now() - started);
  const health = storage.writer.health();
  await storage.close();
  const report: WriterReport = { writer, batchSize, sent, sentByKind, ms, health, batches, warnings };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
