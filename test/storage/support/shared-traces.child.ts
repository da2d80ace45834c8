/**
 * Run by shared-traces.spec.ts, several at once: one service of a distributed app whose requests
 * all belong to the same traces. argv: url schema spoolDir deadLetterFile seed traceIdsJson.
 *
 * Storage is added as a sink and the service serves every shared trace once, in order, a few
 * requests at a time, the way real traffic reaches it: each request is a `trace()` (writer 1
 * starts the trace; the others continue it from an incoming traceparent, as a local root with a
 * remote parent) whose calls, made over several turns of the event loop, reach the writer as they
 * finish, and whose root span reaches it only when the request ends. So a batch carries the roots
 * of requests that finished next to the calls of requests still running, and the other services
 * write the same traces at the same time. Prints what it wrote per trace
 * ({ traceId: [calls, costUnits] }) and how many spans it expects stored.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { addSink, configureKostrack, recordCall, span, trace } from '../../../lib/core/index.js';
import { newId } from '../../../lib/core/ids.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import { syntheticCall } from './synthetic.js';

const [url, schema, spoolDir, deadLetterFile, seedText, traceIdsJson] = process.argv.slice(2);
const traceIds = JSON.parse(traceIdsJson) as string[];
const seed = Number(seedText);
/** Requests in flight at once in this service. */
const CONCURRENCY = 16;
const warnings: string[] = [];
const storage = (await TelemetryStorage.open(
  { database: url, schema, writer: { spoolDir, deadLetterFile, batchSize: 100, maxQueue: 100_000, flushIntervalMs: 20, retryBaseMs: 10, retryMaxMs: 200 } },
  { warn: (w) => warnings.push(w) },
))!;
configureKostrack({ serviceId: `writer-${seed}`, warn: (w) => warnings.push(w) });
addSink(storage.writer);

// Every writer starts together (the parent says GO once all are ready), so their batches overlap.
process.stdout.write('READY\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));

let state = seed >>> 0;
function random(): number {
  // mulberry32: a seeded sequence, so a failing run can be replayed.
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const ledger: Record<string, [number, string]> = {};
/** Spans that get an llm_spans row: local roots (a continued trace) and tool spans; a true root is the llm_traces row. */
let spans = 0;

function call(traceId: string): void {
  const cost = BigInt(1 + Math.floor(random() * 1_000_000)) * 1_000_000_007n;
  recordCall(syntheticCall({ costUsd: cost, tags: { feature: 'shared' } }));
  const entry = (ledger[traceId] ??= [0, '0']);
  entry[0]++;
  entry[1] = String(BigInt(entry[1]) + cost);
}

async function request(traceId: string): Promise<void> {
  const calls = 1 + Math.floor(random() * 7);
  const origin = seed === 1;
  // The root span is recorded when this function settles: after every call of the request.
  await trace({ name: origin ? 'checkout' : `serve-${seed}`, traceId, ...(origin ? {} : { parentSpanId: newId() }) }, async () => {
    for (let k = 0; k < calls; k++) {
      if (k % 3 === 2) {
        await span('tool', async () => {
          call(traceId);
          await nextTurn();
        });
        spans++;
      } else {
        call(traceId);
        await nextTurn();
      }
    }
  });
  if (!origin) spans++;
}

let next = 0;
async function worker(): Promise<void> {
  while (next < traceIds.length) await request(traceIds[next++]);
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
await storage.writer.drain(120_000);
const health = storage.health();
await storage.close();
process.stdout.write(JSON.stringify({ ledger, spans, written: health.written, deadLettered: health.deadLettered, lostRows: health.lostRows, warnings }) + '\n');
