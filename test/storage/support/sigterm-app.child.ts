/**
 * Run by sigterm.spec.ts: a Nest app on Express, stopped with SIGTERM while serving.
 * argv: url schema spoolDir deadLetterFile countFile
 * Prints `port <n>` once listening. GET /work runs a traced workflow of CALLS_PER_REQUEST tracked
 * calls with a turn of the event loop between them; GET /work?hold=1 prints `held` after its
 * first calls and makes the rest only once SIGTERM has arrived, so at least one request is
 * provably mid-flight. A job finishing during shutdown records after Kostrack's storage closed.
 * At exit it writes what it recorded to countFile.
 */
import { writeFileSync } from 'node:fs';
import { Controller, Get, Global, Inject, Injectable, Module, Query, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { recordCall } from '../../../lib/core/record-call.js';
import { span, trace } from '../../../lib/core/trace.js';
import { Trace } from '../../../lib/nest/decorators/trace.decorator.js';
import { KostrackModule } from '../../../lib/nest/kostrack.module.js';
import { TelemetryStorage } from '../../../lib/storage/telemetry.storage.js';
import { syntheticCall } from './synthetic.js';

const CALLS_PER_REQUEST = 5;
const TRACE_NAME = 'sigterm-request';
const JOB_CALLS = 3;

const [url, schema, spoolDir, deadLetterFile, countFile] = process.argv.slice(2);

const counts = { calls: 0, costUnits: 0n, tracesStarted: 0, tracesEnded: 0, callsAfterSigterm: 0, inFlightAtSigterm: 0, callsAfterStorageClosed: 0 };
let storageClosed = false;
let inFlight = 0;
let sigterm = false;
let releaseHeld: () => void = () => undefined;
const sigtermArrived = new Promise<void>((resolve) => (releaseHeld = resolve));
// Before Nest's own listener: the snapshot and the release happen as the signal arrives.
process.prependListener('SIGTERM', () => {
  sigterm = true;
  counts.inFlightAtSigterm = inFlight;
  releaseHeld();
});
// Synchronous, and after Nest's shutdown: every call the app recorded, whatever became of it.
process.on('exit', () => writeFileSync(countFile, JSON.stringify({ ...counts, costUnits: counts.costUnits.toString() })));

/** Each call costs a different amount (n × 1e-9 USD), so a lost or doubled row shows in the sums. */
function trackedCall(): void {
  const units = BigInt(counts.calls + 1) * 1_000_000n;
  if (!recordCall(syntheticCall({ costUsd: units }))) return;
  counts.calls++;
  counts.costUnits += units;
  if (sigterm) counts.callsAfterSigterm++;
  if (storageClosed) counts.callsAfterStorageClosed++;
}

// Marks when Kostrack's storage has closed, so the calls recorded after it are counted apart.
const close = TelemetryStorage.prototype.close;
TelemetryStorage.prototype.close = async function (this: TelemetryStorage, ...args: Parameters<typeof close>) {
  await close.apply(this, args);
  storageClosed = true;
};

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

@Injectable()
class Workflow {
  @Trace({ name: TRACE_NAME })
  async run(hold: boolean): Promise<number> {
    counts.tracesStarted++;
    inFlight++;
    try {
      trackedCall();
      await turn();
      trackedCall();
      if (hold) {
        process.stdout.write('held\n');
        await sigtermArrived;
      }
      await span('steps', async () => {
        await turn();
        trackedCall();
        await turn();
        trackedCall();
      });
      await turn();
      trackedCall();
      return CALLS_PER_REQUEST;
    } finally {
      inFlight--;
      counts.tracesEnded++;
    }
  }
}

/**
 * A job that finishes during shutdown. Its module is global and registered before KostrackModule,
 * and Nest runs shutdown hooks in reverse order, so this runs after Kostrack closed its storage.
 */
@Injectable()
class ClosingJob implements OnApplicationShutdown {
  onApplicationShutdown(): void {
    trace({ name: 'closing-job' }, () => {
      for (let i = 0; i < JOB_CALLS; i++) trackedCall();
    });
  }
}

@Global()
@Module({ providers: [ClosingJob] })
class ClosingJobModule {}

@Controller()
class WorkController {
  constructor(@Inject(Workflow) private readonly workflow: Workflow) {}

  @Get('work')
  async work(@Query('hold') hold?: string) {
    return { calls: await this.workflow.run(hold === '1') };
  }
}

@Module({
  imports: [
    ClosingJobModule,
    KostrackModule.forRoot({
      database: url,
      schema,
      serviceId: 'sigterm-app',
      writer: { spoolDir, deadLetterFile, flushIntervalMs: 20, batchSize: 200, retryBaseMs: 20, retryMaxMs: 200, shutdownDeadlineMs: 5000 },
    }),
  ],
  controllers: [WorkController],
  providers: [Workflow],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
// process.exit(0) once shut down, instead of re-raising SIGTERM: the exit hook above must run.
app.enableShutdownHooks(['SIGTERM'], { useProcessExit: true });
await app.listen(0, '127.0.0.1');
process.stdout.write(`port ${(app.getHttpServer().address() as { port: number }).port}\n`);
