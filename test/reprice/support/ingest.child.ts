/**
 * A second process writing calls through its own storage and writer while a re-price runs:
 * into existing traces, in hours that already have calls, with the same service, project,
 * features and users, so its writer upserts the very trace, hourly and budget rows the re-price
 * adjusts. Its calls are priced as a live app prices them after the correction (its book reads
 * llm_prices). Writes a chunk every `pauseMs` until stdin says `stop`, then drains and
 * prints `{ written, spanIds }` as JSON on stdout. Prints `ready` once its first chunk is committed.
 *
 * argv: url schema fromMs rangeMs seed pauseMs
 */
import { configureKostrack } from '../../../lib/core/configure.js';
import { addSink } from '../../../lib/core/sinks.js';
import { recordCall } from '../../../lib/core/record-call.js';
import { trace } from '../../../lib/core/trace.js';
import { repricingPriceBook } from '../../../lib/storage/reprice.price-book.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import { tempWriterOptions } from '../../storage/support/synthetic.js';
import { callOf } from './dataset.js';

const [url, schema, fromMs, rangeMs, seed, pauseMs] = process.argv.slice(2);
configureKostrack({ serviceId: 'billing-api', tags: { project: 'openmanagr' } });
const storage = (await TelemetryStorage.open({ database: url, schema, writer: tempWriterOptions({ batchSize: 500 }) }, { warn: () => undefined }))!;
addSink(storage.writer);
const book = await repricingPriceBook(storage.pool, schema);
const traceIds = (await storage.pool.query<{ trace_id: string }>(`SELECT trace_id FROM "${schema}".llm_traces ORDER BY trace_id LIMIT 300`)).map((r) => r.trace_id);

let stop = false;
process.stdin.on('data', (d) => {
  if (d.toString().includes('stop')) stop = true;
});
const spanIds: string[] = [];
let i = Number(seed);
let chunk = 0;
while (!stop) {
  // 60 calls over 6 existing traces, at times spread over the whole range.
  for (let t = 0; t < 6; t++) {
    const traceId = traceIds[(chunk * 6 + t) % traceIds.length];
    trace({ name: 'more', traceId, tags: { feature: 'invoices', user_id: `u-${(chunk + t) % 50}`, ingest: 'alongside' } }, () => {
      for (let c = 0; c < 10; c++) {
        const time = new Date(Number(fromMs) + ((i * 7_919_000) % Number(rangeMs)));
        const recorded = recordCall(callOf(i++, time, book));
        if (recorded) spanIds.push(recorded.spanId);
      }
    });
  }
  chunk++;
  if (chunk === 1) {
    await storage.writer.drain(60_000);
    process.stdout.write('ready\n');
  }
  await new Promise((r) => setTimeout(r, Number(pauseMs)));
}
await storage.writer.drain(120_000);
await storage.close();
// Exits once the (large) line is written: exiting at once would cut a piped stdout short.
process.stdout.write(`${JSON.stringify({ written: spanIds.length, spanIds })}\n`, () => process.exit(0));
