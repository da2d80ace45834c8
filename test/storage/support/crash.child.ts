/**
 * Run by crash.spec.ts and killed with SIGKILL. argv: url schema spoolDir deadLetterFile mode.
 * `down`: records 5,000 calls with the database unreachable, reports, then idles.
 * `load`: records as fast as it can against a live database, reporting progress, until killed.
 */
import { recordCall } from '../../../lib/core/record-call.js';
import { addSink } from '../../../lib/core/sinks.js';
import { trace } from '../../../lib/core/trace.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import { syntheticCall } from './synthetic.js';

const [url, schema, spoolDir, deadLetterFile, mode] = process.argv.slice(2);
const storage = (await TelemetryStorage.open(
  { database: url, schema, writer: { spoolDir, deadLetterFile, maxQueue: 1000, batchSize: 500, flushIntervalMs: 50, retryBaseMs: 50, retryMaxMs: 500 } },
  { warn: () => undefined },
))!;
addSink(storage.writer);
const tick = () => new Promise((r) => setImmediate(r));

if (mode === 'down') {
  trace({ name: 'crash-down' }, () => {
    for (let i = 1; i <= 5000; i++) recordCall(syntheticCall({ costUsd: BigInt(i) * 1_000_000n }));
  });
  await tick(); // spooled lines reach the file within one tick
  process.stdout.write('recorded 5000\n');
  setInterval(() => undefined, 1000);
} else {
  let recorded = 0;
  for (;;) {
    trace({ name: 'crash-load' }, () => {
      for (let i = 0; i < 2000; i++) recordCall(syntheticCall({ costUsd: 1_000_000_000n }));
    });
    recorded += 2000;
    await tick();
    process.stdout.write(`recorded ${recorded}\n`);
  }
}
