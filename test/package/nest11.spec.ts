import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsumerApp, nestCompilerOptions } from './support/consumer-app.js';
import { expectAdminServedTrace, expectWorkflowStored, useConsumerDatabase, usePackedApp, type WorkflowResult } from './support/package-spec.js';

/**
 * The compatibility suite against Nest 11: the packed tarball installed (without
 * --legacy-peer-deps) into a project laid out like `nest new` 11 generates it (CommonJS
 * package.json, module nodenext), with both HTTP platforms and the admin peers of Nest 11.
 */
const db = useConsumerDatabase('pkg11');
let created: ConsumerApp | undefined;

const NEST_11 = [
  '@nestjs/common@^11',
  '@nestjs/core@^11',
  '@nestjs/platform-express@^11',
  '@nestjs/platform-fastify@^11',
  '@nestjs/swagger@^11',
  'class-validator',
  'class-transformer',
  'reflect-metadata@^0.2',
  'rxjs@^7.8',
  'typeorm@^1.1',
  'pg@^8.11',
  'openai@^6',
];
/** Each test's own work plus, for the first one, the shared pack (≤ 4.5 min) and this folder's install (≤ 6 min). */
const STEP_TIMEOUT_MS = 660_000;

const ready = usePackedApp(import.meta.url, async (tarball) => {
  const app = (created = ConsumerApp.create('nest11', {}));
  await app.install('Nest 11, Express, Fastify, admin peers', [tarball, ...NEST_11]);
  app.copyFixture('nest-app.ts', 'src/app.ts');
  app.writeJson('tsconfig.json', { compilerOptions: nestCompilerOptions({ module: 'nodenext', moduleResolution: 'nodenext', rootDir: 'src', outDir: 'dist' }), include: ['src'] });
  return app;
});

afterAll(() => {
  created?.remove();
});

describe('compatibility: the packed tarball in a Nest 11 app', () => {
  it('installs next to Nest 11 and its Swagger without peer conflicts', async () => {
    const app = await ready();
    for (const p of ['common', 'core', 'platform-express', 'platform-fastify', 'swagger'])
      expect(JSON.parse(readFileSync(app.path(`node_modules/@nestjs/${p}/package.json`), 'utf8')).version, `@nestjs/${p}`).toMatch(/^11\./);
  }, STEP_TIMEOUT_MS);

  it('compiles as CommonJS with module nodenext (the Nest 11 starter) against the package types', async () => {
    const app = await ready();
    await app.tsc('tsconfig.json');
    expect(readFileSync(app.path('dist/app.js'), 'utf8')).toContain('require("@kostrack/nestjs")');
  }, STEP_TIMEOUT_MS);

  for (const platform of ['express', 'fastify'] as const) {
    it(
      `${platform}: module boot, @Trace/@Span, injected client, exact costs stored, admin routes`,
      async () => {
        const app = await ready();
        const schema = db.schema();
        const result = await app.nodeOk<WorkflowResult>('dist/app.js', { KT_DATABASE_URL: db.url, KT_SCHEMA: schema, KT_PLATFORM: platform, KT_ADMIN: 'on' });
        expect(result).toMatchObject({ platform, module: 'commonjs' });
        await expectWorkflowStored(db, schema, result);
        expectAdminServedTrace(result);
      },
      STEP_TIMEOUT_MS,
    );
  }
});
