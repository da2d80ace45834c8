import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { allKeysSet, providerEndpoints } from './provider.config.js';
import { startProviderSimulator } from './simulator/provider.simulator.js';

/**
 * The sample app: the seed's two workflows over HTTP, tracked by Kostrack. Offline by default
 * (simulated providers, embedded database); real APIs for each provider whose key is set.
 */
async function bootstrap(): Promise<void> {
  const logger = new Logger('SampleApp');
  const simulator = allKeysSet() ? undefined : await startProviderSimulator();
  const endpoints = providerEndpoints(simulator?.url);
  const adminApiKey = process.env.KOSTRACK_ADMIN_KEY || 'sample-admin-key-change-me';
  const app = await NestFactory.create(
    AppModule.forRoot({ endpoints, databaseUrl: process.env.DATABASE_URL || undefined, schema: process.env.KOSTRACK_SCHEMA || undefined, adminApiKey }),
  );
  app.enableShutdownHooks();
  app.getHttpServer().on('close', () => void simulator?.close());
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  const url = await app.getUrl();
  for (const [name, e] of Object.entries(endpoints)) logger.log(`${name}: ${e.simulated ? `simulated at ${simulator!.url}` : 'real API'}`);
  logger.log(`Database: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded (.kostrack/pgdata)'}`);
  logger.log(`Run:  curl -X POST ${url}/workflows/invoice-pipeline   |   curl -X POST ${url}/workflows/month-end-close`);
  logger.log(`Admin API: ${url}/kostrack/traces (header x-kostrack-api-key: ${adminApiKey}); dashboard: ${url}/kostrack/`);
  // The e2e test waits for this line.
  process.stdout.write(`SAMPLE_APP_LISTENING ${url}\n`);
}

void bootstrap();
