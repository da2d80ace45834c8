import 'reflect-metadata';
import { type LoggerService, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { KostrackHealthIndicator } from '../../lib/nest/kostrack.health-indicator.js';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import type { KostrackModuleOptions } from '../../lib/nest/kostrack.options.js';
import { startKostrack } from '../../lib/storage/start-kostrack.js';
import { redact, resolveStorageOptions } from '../../lib/storage/storage.options.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { databaseUrl, freshSchemaName } from '../support/database.js';
import { closedPortUrl } from './support/closed-port.js';
import { tempWriterOptions } from './support/synthetic.js';

/**
 * Issue 13: `database: process.env.DATABASE_URL` with the variable unset must not quietly create
 * an embedded database inside a production container, and every start says which database it
 * uses. Health knows whether the database answered from the start (terminus must not say `up`
 * before it was ever reached).
 */

const production = { NODE_ENV: 'production' };

/** process.env turns an assigned undefined into the string "undefined". */
function restoreEnv(saved: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

describe('no silent embedded database in production', () => {
  it('refuses an unset database under NODE_ENV=production, naming the ways out', () => {
    for (const options of [{}, { database: undefined }, { database: null as never }]) {
      expect(() => resolveStorageOptions(options, production)).toThrow(KostrackConfigError);
      expect(() => resolveStorageOptions(options, production)).toThrow(/no database configured and NODE_ENV=production.*`embedded: true`.*`database: false`/);
    }
  });

  it('still starts in production with a URL, KOSTRACK_DATABASE_URL, embedded asked for on purpose, or storage off', () => {
    expect(resolveStorageOptions({ database: 'postgres://u:p@db:5432/costs' }, production).database).toEqual({ kind: 'url', url: 'postgres://u:p@db:5432/costs' });
    expect(resolveStorageOptions({}, { ...production, KOSTRACK_DATABASE_URL: 'postgresql://db/costs' }).database).toEqual({ kind: 'url', url: 'postgresql://db/costs' });
    expect(resolveStorageOptions({ embedded: true }, production).database).toEqual({ kind: 'embedded', options: {} });
    expect(resolveStorageOptions({ embedded: { dataDir: '/data/pg' } }, production).database).toEqual({ kind: 'embedded', options: { dataDir: '/data/pg' } });
    expect(resolveStorageOptions({ database: false }, production).database).toEqual({ kind: 'off' });
    // Outside production nothing changes: the embedded database is the zero-config default.
    expect(resolveStorageOptions({}, { NODE_ENV: 'development' }).database).toEqual({ kind: 'embedded', options: {} });
    expect(() => resolveStorageOptions({ embedded: 'yes' as never }, {})).toThrow(/embedded must be true or an object/);
  });

  describe('through KostrackModule', () => {
    const saved = { NODE_ENV: process.env.NODE_ENV, KOSTRACK_DATABASE_URL: process.env.KOSTRACK_DATABASE_URL };
    afterEach(() => restoreEnv(saved));
    it('forRoot fails at declaration; forRootAsync fails the start', async () => {
      process.env.NODE_ENV = 'production';
      // The test setup points KOSTRACK_DATABASE_URL at the test database; a production app without it is the case here.
      delete process.env.KOSTRACK_DATABASE_URL;
      expect(() => KostrackModule.forRoot({ database: process.env.KOSTRACK_TEST_UNSET_VARIABLE })).toThrow(/NODE_ENV=production/);
      @Module({ imports: [KostrackModule.forRootAsync({ useFactory: () => ({ database: process.env.KOSTRACK_TEST_UNSET_VARIABLE }) })] })
      class AppModule {}
      const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger: false });
      await expect(app.init()).rejects.toThrow(/NODE_ENV=production/);
      await app.close().catch(() => undefined);
    });
  });
});

/** A Nest logger that keeps what it is told. */
function capturingLogger(): LoggerService & { lines: string[] } {
  const lines: string[] = [];
  const keep = (message: unknown, context?: unknown) => void lines.push(`${String(context)}: ${String(message)}`);
  return { lines, log: keep, warn: keep, error: keep, debug: () => undefined, verbose: () => undefined };
}

async function startApp(options: KostrackModuleOptions) {
  const logger = capturingLogger();
  @Module({ imports: [KostrackModule.forRoot({ writer: tempWriterOptions(), ...options })] })
  class AppModule {}
  const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger });
  await app.init();
  return { app, lines: logger.lines.filter((l) => l.includes('Kostrack storage')) };
}

describe('one line at start naming the database', () => {
  it('a URL, with its password masked and the schema', async () => {
    const url = new URL(databaseUrl());
    url.password = 's3cret';
    const schema = freshSchemaName('line');
    const { app, lines } = await startApp({ database: url.toString(), schema });
    try {
      url.password = '***';
      expect(lines).toEqual([`Kostrack: Kostrack storage: PostgreSQL at ${url.toString().replace('%2A%2A%2A', '***')}, schema "${schema}"`]);
      expect(lines.join('\n')).not.toContain('s3cret');
    } finally {
      await app.close();
    }
  });

  it('masks every way a URL can carry a password', () => {
    expect(
      [
        'postgres://u:p@h:5432/db',
        'postgres://h/db?user=u&password=s3cret',
        'postgres://h/db?sslpassword=x&sslmode=require',
        'postgres://:pw@h/db',
        'postgres://u:p@ss@h/db',
        'postgres://root@127.0.0.1:5432/test',
      ].map(redact),
    ).toEqual([
      'postgres://u:***@h:5432/db',
      'postgres://h/db?user=u&password=***',
      'postgres://h/db?sslpassword=***&sslmode=require',
      'postgres://:***@h/db',
      'postgres://u:***@h/db',
      'postgres://root@127.0.0.1:5432/test',
    ]);
  });

  it('storage off', async () => {
    const { app, lines } = await startApp({ database: false });
    expect(lines).toEqual(['Kostrack: Kostrack storage: off (database: false), nothing is stored']);
    await app.close();
  });

  it('the embedded database says where its files are and that it is for development', async () => {
    const info = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const fromSetup = process.env.KOSTRACK_DATABASE_URL;
    delete process.env.KOSTRACK_DATABASE_URL;
    try {
      const handle = await startKostrack({ embedded: { dataDir: 'memory://' }, writer: tempWriterOptions() });
      try {
        expect(info.mock.calls.map((c) => c[0])).toEqual([
          expect.stringMatching(/^Kostrack storage: the embedded PGlite database in memory, served at postgresql:\/\/[^ ]+127\.0\.0\.1:\d+\/[^ ]*, schema "public" \(for development: set `database` in production\)$/),
        ]);
      } finally {
        await handle.close();
      }
    } finally {
      info.mockRestore();
      restoreEnv({ KOSTRACK_DATABASE_URL: fromSetup });
    }
  });
});

describe('health knows at start whether the database answered', () => {
  it('reachable at once, with or without migrations', async () => {
    for (const migrationsRun of [true, false]) {
      const schema = freshSchemaName('reach');
      // Without migrations there is nothing to write into; only the ping is asked for.
      const storage = (await TelemetryStorage.open({ database: databaseUrl(), schema, migrationsRun, writer: tempWriterOptions() }))!;
      try {
        expect(storage.health()).toMatchObject({ enabled: true, databaseReachable: true, written: { calls: 0, spans: 0 } });
      } finally {
        await storage.close();
      }
    }
  });

  it('unreachable at once: the terminus indicator is down before any write was tried', async () => {
    const logger = capturingLogger();
    @Module({
      imports: [KostrackModule.forRoot({ database: await closedPortUrl(), migrationsRun: false, writer: tempWriterOptions() })],
      providers: [KostrackHealthIndicator],
    })
    class AppModule {}
    const app = (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger });
    await app.init();
    try {
      const result = app.get(KostrackHealthIndicator).isHealthy();
      expect(result.kostrack).toMatchObject({ status: 'down', databaseReachable: false, queueDepth: 0 });
      expect(logger.lines.some((l) => /database unreachable at start \(.*ECONNREFUSED.*\); writes will retry/.test(l))).toBe(true);
    } finally {
      await app.close();
    }
  });
});
