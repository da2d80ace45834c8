import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KostrackConfigError } from '../../lib/core/errors.js';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import { startEmbeddedDatabase } from '../../lib/storage/embedded.database.js';
import { resolveStorageOptions } from '../../lib/storage/storage.options.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { BatchWriter } from '../../lib/storage/batch.writer.js';
import { resolveWriterOptions } from '../../lib/storage/writer.options.js';
import type { SqlPool } from '../../lib/storage/sql.pool.js';
import { decodeItem } from '../../lib/storage/record.codec.js';
import { tempWriterOptions } from './support/synthetic.js';

const bad = (fn: () => unknown, message: RegExp) => expect(fn).toThrow(message);

describe('storage options', () => {
  it('resolves each kind of database option', () => {
    expect(resolveStorageOptions({ database: false }, {}).database).toEqual({ kind: 'off' });
    expect(resolveStorageOptions({ database: 'postgres://u:p@h:5432/db' }, {})).toMatchObject({ database: { kind: 'url' }, schema: 'public', migrationsRun: true });
    expect(resolveStorageOptions({ database: { type: 'postgres', host: 'h', schema: 'costs' } }, {}).schema).toBe('costs');
    expect(resolveStorageOptions({ database: { type: 'postgres', schema: 'costs' }, schema: 'mine' }, {}).schema).toBe('mine');
    expect(resolveStorageOptions({ database: { dataSource: 'reports' } }, {}).database).toEqual({ kind: 'dataSource', dataSource: 'reports' });
    expect(resolveStorageOptions({}, {}).database).toEqual({ kind: 'embedded', options: {} });
    expect(resolveStorageOptions({}, { KOSTRACK_DATABASE_URL: 'postgresql://x/y' }).database).toEqual({ kind: 'url', url: 'postgresql://x/y' });
    expect(resolveStorageOptions({ writer: { batchSize: 10, maxQueue: 20 } }, {}).writer).toMatchObject({ batchSize: 10, maxQueue: 20, flushIntervalMs: 200 });
  });

  it('rejects bad options with a clear KostrackConfigError', () => {
    const cases: [unknown, RegExp][] = [
      [{ database: 'mysql://h/db' }, /postgres:\/\/ or postgresql:\/\/ URL/],
      [{ database: 'postgres://user:secret@h/db x'.replace('postgres', 'http') }, /"http:\/\/user:\*\*\*@h\/db x"/],
      [{ database: 42 }, /URL, TypeORM postgres options, \{ dataSource \} or false/],
      [{ database: { type: 'mysql' } }, /type: 'postgres'/],
      [{ database: { type: 'postgres', url: 'nope' } }, /database.url must be a postgres/],
      [{ database: { dataSource: '' } }, /DataSource name/],
      [{ schema: 'drop table;' }, /schema must be a plain identifier/],
      [{ schema: 'x'.repeat(64) }, /schema must be a plain identifier/],
      [{ writer: { batchSize: 0 } }, /writer.batchSize must be an integer >= 1, got 0/],
      [{ writer: { flushIntervalMs: 1.5 } }, /writer.flushIntervalMs must be an integer/],
      [{ writer: { batchSize: 5000, maxQueue: 100 } }, /batchSize \(5000\) cannot exceed writer.maxQueue \(100\)/],
      [{ writer: { spoolDir: '' } }, /writer.spoolDir must be a non-empty path/],
      [{ writer: { batchsize: 10 } }, /unknown writer option "batchsize"/],
      [{ writer: 'fast' }, /writer must be an object/],
      [{ writer: { retryBaseMs: 100, retryMaxMs: 10 } }, /retryBaseMs cannot exceed/],
      [{ migrationsRun: 'yes' }, /migrationsRun must be a boolean/],
      [{ embedded: 'here' }, /embedded must be true or an object/],
    ];
    for (const [options, message] of cases) {
      expect(() => resolveStorageOptions(options as never, {}), JSON.stringify(options)).toThrow(KostrackConfigError);
      bad(() => resolveStorageOptions(options as never, {}), message);
    }
    expect(resolveWriterOptions(null).batchSize).toBe(1000);
  });

  it('KostrackModule.forRoot rejects bad storage options at once', () => {
    bad(() => KostrackModule.forRoot({ database: 'mysql://x' }), /postgres:\/\/ or postgresql:\/\/ URL/);
    bad(() => KostrackModule.forRoot({ schema: 'a-b' }), /schema must be a plain identifier/);
    expect(() => KostrackModule.forRoot({ database: false, schema: 'fine' })).not.toThrow();
  });

  it('TelemetryStorage.open: a DataSource name that is not registered names both ways out', async () => {
    await expect(TelemetryStorage.open({ database: { dataSource: 'reports' } })).rejects.toThrow(
      /no TypeORM DataSource named "reports".*pass a URL or options/,
    );
    expect(await TelemetryStorage.open({ database: false })).toBeNull();
  });

  it('embedded database: bad options fail clearly', async () => {
    await expect(startEmbeddedDatabase({ port: 70000 })).rejects.toThrow(/port must be 0..65535/);
    await expect(startEmbeddedDatabase({ dataDir: '' })).rejects.toThrow(/dataDir must be a folder path/);
    await expect(startEmbeddedDatabase({ maxConnections: 0 })).rejects.toThrow(/maxConnections must be a positive integer/);
  });

  it('embedded database that cannot start: the error names both ways out', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kt-embedded-')), 'a-file');
    writeFileSync(file, 'not a folder');
    const err = await startEmbeddedDatabase({ dataDir: join(file, 'pgdata') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KostrackConfigError);
    expect((err as Error).message).toMatch(/could not open .*a-file\/pgdata.*set the `database` option .*`database: false` turns storage off/);

    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    await expect(startEmbeddedDatabase({ dataDir: 'memory://', port })).rejects.toThrow(
      new RegExp(`could not listen on 127.0.0.1:${port}.*KOSTRACK_DATABASE_URL`),
    );
    await new Promise((r) => taken.close(r));
  });

  it('the writer never throws from the record path, whatever it is given', () => {
    const pool: SqlPool = { query: async () => [], transaction: async () => undefined as never, close: async () => undefined };
    const writer = new BatchWriter({ pool, schema: 'public', options: resolveWriterOptions({ ...tempWriterOptions(), maxQueue: 1, batchSize: 1 }), warn: () => undefined });
    expect(() => {
      writer.recordCall(null as never);
      writer.recordCall({} as never);
      writer.recordSpan(undefined as never);
    }).not.toThrow();
  });

  it('spool lines: unreadable input is refused, not misread', () => {
    expect(() => decodeItem('{"kind":"call"')).toThrow();
    expect(() => decodeItem('{"kind":"other","record":{"spanId":"x"}}')).toThrow(/Not a Kostrack telemetry line/);
  });
});
