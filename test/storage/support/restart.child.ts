/**
 * Run by host-survives-restart.spec.ts. argv: url schema spoolDir deadLetterFile mode.
 * `url`: two storages on `url`, which the parent restarts and resets under them: one by URL (into
 * `schema`), one through a TypeORM DataSource (into `schema`_ds), the host-owned connection path.
 * `embedded`: an embedded database served in this process, storage reaching it through a proxy
 * of this process that the parent resets (`reset` on stdin), so both ends of every reset
 * connection live in the host.
 *
 * Records calls in traces, as fast as the writers take them, call n costing n × 1e-9 USD. Reports
 * `ready <database url> <schemas>`, then `progress <recorded> <written by the slowest storage>`
 * (and `reset` once it did one) on stdout. On `finish` it stops recording, drains and reports
 * `drained <recorded>`; on `exit` it closes everything and ends by itself.
 * Deliberately no 'uncaughtException' or 'error' handler of its own: an error Kostrack leaves
 * unhandled must kill this process, as it would kill the host.
 */
import { createInterface } from 'node:readline';
import { DataSource } from 'typeorm';
import { recordCall } from '../../../lib/core/record-call.js';
import { addSink } from '../../../lib/core/sinks.js';
import { trace } from '../../../lib/core/trace.js';
import { startEmbeddedDatabase } from '../../../lib/storage/embedded.database.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import { syntheticCall } from './synthetic.js';
import { TcpProxy } from './tcp.proxy.js';

const [url, schema, spoolDir, deadLetterFile, mode] = process.argv.slice(2);

const embedded = mode === 'embedded' ? await startEmbeddedDatabase({ dataDir: 'memory://' }) : null;
const proxy = embedded ? TcpProxy.forUrl(embedded.url) : null;
await proxy?.start();
const database = embedded ? proxy!.urlFor(embedded.url) : url;

const dataSource = mode === 'url' ? await new DataSource({ type: 'postgres', url, poolSize: 4 }).initialize() : null;
const open = async (db: string | { dataSource: DataSource }, into: string) =>
  (await TelemetryStorage.open(
    {
      database: db,
      schema: into,
      // Small batches and short retries: many transactions in flight, so a restart catches some mid-way.
      writer: { spoolDir: `${spoolDir}/${into}`, deadLetterFile, batchSize: 200, maxQueue: 5000, flushIntervalMs: 10, retryBaseMs: 20, retryMaxMs: 200 },
    },
    { warn: (m) => process.stderr.write(`warn: ${m}\n`) },
  ))!;
const storages = [await open(database, schema)];
if (dataSource) storages.push(await open({ dataSource }, `${schema}_ds`));
for (const storage of storages) addSink(storage.writer);

const CALLS_PER_TRACE = 50;
/** Queued rows past which recording waits for the writer, so an outage does not turn into a long replay. */
const BACKLOG = 2000;
const tick = () => new Promise((r) => setImmediate(r));
const pause = () => new Promise((r) => setTimeout(r, 5));

let recorded = 0;
let recording = true;
const report = () => process.stdout.write(`progress ${recorded} ${Math.min(...storages.map((s) => s.writer.health().written.calls))}\n`);
const reporter = setInterval(report, 25);

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line === 'reset') {
    proxy?.reset();
    process.stdout.write('reset\n');
  } else if (line === 'finish') recording = false;
  else if (line === 'exit') void exit();
});

process.stdout.write(`ready ${embedded?.url ?? url} ${storages.map((s) => s.schema).join(',')}\n`);
while (recording) {
  if (storages.some((s) => s.writer.health().queueDepth >= BACKLOG)) {
    await pause();
    continue;
  }
  trace({ name: 'restart' }, () => {
    for (let i = 0; i < CALLS_PER_TRACE; i++) recordCall(syntheticCall({ costUsd: BigInt(++recorded) * 1_000_000n }));
  });
  await tick();
}
for (const storage of storages) await storage.writer.drain(90_000);
clearInterval(reporter);
report();
process.stdout.write(`drained ${recorded}\n`);

async function exit(): Promise<void> {
  commands.close();
  process.stdin.destroy();
  for (const storage of storages) await storage.close();
  await dataSource?.destroy();
  await proxy?.stop();
  await embedded?.stop();
}
