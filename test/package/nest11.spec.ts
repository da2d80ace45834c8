import { existsSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsumerApp, nestCompilerOptions } from './support/consumer-app.js';
import { expectAdminServedTrace, expectWorkflowStored, useConsumerDatabase, usePackedApp, type WorkflowResult } from './support/package-spec.js';
import { readmeInstallWith } from './support/readme-install.js';

/**
 * The compatibility suite against Nest 11: the packed tarball installed (without
 * --legacy-peer-deps) into a project laid out like `nest new` 11 generates it (CommonJS
 * package.json, module nodenext), with both HTTP platforms. First with only the required peers
 * (the README's install line, Nest pinned to 11): storage without admin, and admin refused at
 * start for want of its peers. Then the same folder gets Nest 11's admin peers and serves admin
 * on both platforms (one folder, so the second step installs three packages, not a new app).
 */
const db = useConsumerDatabase('pkg11');
let created: ConsumerApp | undefined;

const nest11 = (name: string) => (name.startsWith('@nestjs/') ? `${name}@^11` : name);
/** The fixture app's own: both HTTP platforms and the SDK of its injected client. */
const APP_OWN = ['@nestjs/platform-express@^11', '@nestjs/platform-fastify@^11', 'openai@^6'];
const ADMIN_PEERS = ['@nestjs/swagger@^11', 'class-validator', 'class-transformer'];
const ABSENT_BEFORE_ADMIN = ['@nestjs/swagger', 'class-validator', 'class-transformer', '@anthropic-ai/sdk', '@google/genai', '@nestjs/terminus', '@nestjs/event-emitter', '@opentelemetry/api'];
/** Each test's own work plus, for the first one, the shared pack (≤ 4.5 min) and this folder's install (≤ 6 min). */
const STEP_TIMEOUT_MS = 660_000;

const ready = usePackedApp(import.meta.url, async (tarball) => {
  const app = (created = ConsumerApp.create('nest11', {}));
  await app.install("Nest 11, the README's install line, Express, Fastify", [...readmeInstallWith(tarball, nest11), ...APP_OWN]);
  app.copyFixture('nest-app.ts', 'src/app.ts');
  app.writeJson('tsconfig.json', { compilerOptions: nestCompilerOptions({ module: 'nodenext', moduleResolution: 'nodenext', rootDir: 'src', outDir: 'dist' }), include: ['src'] });
  const compiled = app.tsc('tsconfig.json');
  compiled.catch(() => undefined);
  return { app, compiled };
});

/** The admin peers, installed once, by the first test that needs them (after the tests without them). */
let adminInstalled: Promise<ConsumerApp> | undefined;
const withAdminPeers = () =>
  (adminInstalled ??= ready().then(async ({ app, compiled }) => {
    await compiled;
    await app.install('Nest 11 admin peers', ADMIN_PEERS);
    return app;
  }));

afterAll(() => {
  created?.remove();
});

const version = (app: ConsumerApp, name: string) => (JSON.parse(readFileSync(app.path(`node_modules/${name}/package.json`), 'utf8')) as { version: string }).version;

describe('compatibility: the packed tarball in a Nest 11 app', () => {
  it('installs next to Nest 11 with only the required peers, without peer conflicts: no optional peer comes along', async () => {
    const { app } = await ready();
    for (const p of ['common', 'core', 'platform-express', 'platform-fastify']) expect(version(app, `@nestjs/${p}`), `@nestjs/${p}`).toMatch(/^11\./);
    expect(ABSENT_BEFORE_ADMIN.filter((p) => existsSync(app.path(`node_modules/${p}/package.json`)))).toEqual([]);
  }, STEP_TIMEOUT_MS);

  it('compiles as CommonJS with module nodenext (the Nest 11 starter) against the package types', async () => {
    const { app, compiled } = await ready();
    await compiled;
    expect(readFileSync(app.path('dist/app.js'), 'utf8')).toContain('require("@kostrack/nestjs")');
  }, STEP_TIMEOUT_MS);

  it(
    'boots KostrackModule.forRoot without admin and without its peers: @Trace/@Span, injected client, exact costs stored',
    async () => {
      const { app, compiled } = await ready();
      await compiled;
      const schema = db.schema();
      const result = await app.nodeOk<WorkflowResult>('dist/app.js', { KT_DATABASE_URL: db.url, KT_SCHEMA: schema });
      expect(result).toMatchObject({ platform: 'express', module: 'commonjs' });
      expect(result.admin).toBeUndefined();
      await expectWorkflowStored(db, schema, result);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'admin enabled without its peers fails at start, naming the packages to install',
    async () => {
      const { app, compiled } = await ready();
      await compiled;
      const out = await app.node('dist/app.js', { KT_DATABASE_URL: db.url, KT_SCHEMA: db.schema(), KT_ADMIN: 'on' });
      const output = `${out.stdout}\n${out.stderr}`;
      expect(out.result, output).toBeUndefined();
      expect(out.code, output).not.toBe(0);
      expect(output).toMatch(/npm i(nstall)? @nestjs\/swagger class-validator class-transformer/);
      expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND/);
    },
    STEP_TIMEOUT_MS,
  );

  it('takes Nest 11 Swagger as its admin peer without peer conflicts', async () => {
    const app = await withAdminPeers();
    expect(version(app, '@nestjs/swagger')).toMatch(/^11\./);
  }, STEP_TIMEOUT_MS);

  for (const platform of ['express', 'fastify'] as const) {
    it(
      `${platform}: module boot, @Trace/@Span, injected client, exact costs stored, admin routes`,
      async () => {
        const app = await withAdminPeers();
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
