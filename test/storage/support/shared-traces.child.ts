/**
 * Run by shared-traces.spec.ts, several at once. argv: url schema spoolDir deadLetterFile seed calls traceIdsJson.
 * Writes `calls` calls and about a fifth as many spans into the shared traces, in random order,
 * through one writer, then prints what it wrote per trace ({ traceId: [calls, costUnits] }).
 */
import { newId } from '../../../lib/core/ids.js';
import type { CallRecord, SpanRecord } from '../../../lib/core/call-record.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import { syntheticCall } from './synthetic.js';

const [url, schema, spoolDir, deadLetterFile, seedText, callsText, traceIdsJson] = process.argv.slice(2);
const traceIds = JSON.parse(traceIdsJson) as string[];
const warnings: string[] = [];
const storage = (await TelemetryStorage.open(
  { database: url, schema, writer: { spoolDir, deadLetterFile, batchSize: 250, maxQueue: 100_000, flushIntervalMs: 5, retryBaseMs: 10, retryMaxMs: 200 } },
  { warn: (w) => warnings.push(w) },
))!;

// Every writer starts together (the parent says GO once all are ready), so their batches overlap.
process.stdout.write('READY\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

let state = Number(seedText) >>> 0;
function random(): number {
  // mulberry32: a seeded sequence, so a failing run can be replayed.
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const ledger: Record<string, [number, string]> = {};
const now = Date.now();
for (let i = 0; i < Number(callsText); i++) {
  const traceId = traceIds[Math.floor(random() * traceIds.length)];
  const cost = BigInt(1 + Math.floor(random() * 1_000_000)) * 1_000_000_007n;
  const call = { ...syntheticCall({ costUsd: cost }), errorClass: null, spanId: newId(), traceId, parentSpanId: null, time: new Date(now - i), serviceId: `writer-${seedText}`, tags: { feature: 'shared' }, metadata: {} } as CallRecord;
  storage.writer.recordCall(call);
  const entry = (ledger[traceId] ??= [0, '0']);
  entry[0]++;
  entry[1] = String(BigInt(entry[1]) + cost);
  if (i % 5 === 0) {
    const isRoot = random() < 0.3;
    const span: SpanRecord = {
      traceId, spanId: newId(), parentSpanId: isRoot ? null : newId(), isRoot, name: isRoot ? `root-${seedText}` : 'step', tags: { feature: 'shared' },
      serviceId: `writer-${seedText}`, startTime: new Date(now - i - 10), endTime: new Date(now - i), status: 'ok', errorClass: null, costUsd: cost, callCount: 1,
    };
    storage.writer.recordSpan(span);
  }
  if (i % 500 === 0) await new Promise((r) => setImmediate(r));
}
await storage.writer.drain(120_000);
const health = storage.health();
await storage.close();
process.stdout.write(JSON.stringify({ ledger, written: health.written, deadLettered: health.deadLettered, lostRows: health.lostRows, warnings }) + '\n');
