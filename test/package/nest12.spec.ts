import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsumerApp, nestCompilerOptions } from './support/consumer-app.js';
import { expectAdminServedTrace, expectWorkflowStored, useConsumerDatabase, usePackedApp, type WorkflowResult } from './support/package-spec.js';
import { REPO_ROOT } from './support/packed-tarball.js';
import { readmeExample, readmeInstall, readmeInstallWith } from './support/readme-install.js';

/**
 * The packed tarball in a fresh Nest 12 project, as a user installs it: first the README's install
 * line as printed (only the required peers; no admin peers, no SDK but openai), then the same folder
 * with the admin peers, then the README's NestJS example's second SDK. The folder also hosts the
 * CommonJS consumers (a plain .cjs script and a Nest app compiled to CommonJS) and a host that
 * compiles with `skipLibCheck: false`, so one install serves them all.
 */
const db = useConsumerDatabase('pkg12');
let created: ConsumerApp | undefined;

/**
 * Installed with the README's install line (read from its Install section, so the line users copy
 * is the one tested; Nest's major is whatever it installs, and a test checks it is 12):
 * what the fixture app itself needs, an HTTP platform and the SDK of its injected client.
 */
const APP_OWN = ['@nestjs/platform-express@^12', 'openai@^6'];
const ADMIN_PEERS = ['@nestjs/swagger@^12', 'class-validator', 'class-transformer'];
const ABSENT_BEFORE_ADMIN = ['@nestjs/swagger', 'class-validator', 'class-transformer', '@anthropic-ai/sdk', '@google/genai', '@nestjs/terminus', '@nestjs/event-emitter', '@opentelemetry/api'];

/** Each test's own work plus, for the first one, the shared pack (≤ 4.5 min) and this folder's install (≤ 6 min). */
const STEP_TIMEOUT_MS = 660_000;

const ready = usePackedApp(import.meta.url, async (tarball) => {
  const app = (created = ConsumerApp.create('nest12', { type: 'module' }));
  await app.install("the README's install line", [...readmeInstallWith(tarball), ...APP_OWN]);
  app.copyFixture('nest-app.ts', 'src/app.ts');
  app.copyFixture('plain-consumer.cjs', 'plain-consumer.cjs');
  app.copyFixture('require-scan.cjs', 'require-scan.cjs');
  // ESM, as the README's examples: a "type": "module" project with module nodenext.
  app.writeJson('tsconfig.json', { compilerOptions: nestCompilerOptions({ module: 'nodenext', moduleResolution: 'nodenext', rootDir: 'src', outDir: 'out' }), include: ['src'] });
  // Bundlers (and tsx/vite setups) resolve types through the exports map's `types` condition.
  app.writeJson('tsconfig.bundler.json', { compilerOptions: nestCompilerOptions({ module: 'esnext', moduleResolution: 'bundler', noEmit: true }), include: ['src'] });
  // A CommonJS Nest app the classic way (module commonjs, node10 resolution), run from its own "type": "commonjs" folder.
  app.writeJson('cjs/package.json', { type: 'commonjs' });
  app.writeJson('cjs/tsconfig.json', { compilerOptions: nestCompilerOptions({ module: 'commonjs', rootDir: '../src', outDir: 'out' }), include: ['../src'] });
  // A host that type-checks its dependencies' declarations too: every type the package's .d.ts
  // files reach must resolve with only the required peers installed.
  app.writeJson('tsconfig.libcheck.json', { compilerOptions: nestCompilerOptions({ module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false, noEmit: true }), include: ['src'] });
  // The four compiles are independent: run them side by side; each test awaits its own.
  const compiled = { esm: app.tsc('tsconfig.json'), bundler: app.tsc('tsconfig.bundler.json'), cjs: app.tsc('cjs/tsconfig.json'), libCheck: app.tsc('tsconfig.libcheck.json') };
  for (const c of Object.values(compiled)) c.catch(() => undefined);
  return { app, compiled };
});

afterAll(() => {
  created?.remove();
});

function runEnv(schema: string, extra: Record<string, string> = {}): Record<string, string> {
  return { KT_DATABASE_URL: db.url, KT_SCHEMA: schema, ...extra };
}

describe('the packed tarball in a fresh Nest 12 app', () => {
  it("the README's install line names exactly the required peers of package.json", () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string>; peerDependenciesMeta: Record<string, { optional?: boolean }> };
    const required = Object.keys(manifest.peerDependencies).filter((p) => !manifest.peerDependenciesMeta[p]?.optional);
    const [first, ...peers] = readmeInstall();
    expect(first).toBe('@kostrack/nestjs');
    expect(peers.sort()).toEqual(required.sort());
  });

  it('installs with only the required peers: none of the optional ones come along', async () => {
    const { app } = await ready();
    const installed = JSON.parse(readFileSync(app.path('node_modules/@kostrack/nestjs/package.json'), 'utf8')) as { version: string; scripts?: Record<string, string> };
    expect(installed.version).toMatch(/^\d+\.\d+\.\d+/);
    // The repository's scripts stay home: a `prepare` in the manifest makes npm 11 warn in every install.
    expect(installed.scripts).toBeUndefined();
    const scriptWarnings = app.installOutput.join('\n').split('\n').filter((l) => /install-scripts|allowScripts/.test(l));
    expect(scriptWarnings.filter((l) => l.includes('@kostrack/nestjs'))).toEqual([]);
    // ...and packing put them back in the repository's package.json.
    const repoScripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(Object.keys(repoScripts)).toEqual(expect.arrayContaining(['prepare', 'start', 'prepack', 'postpack']));
    expect(JSON.parse(readFileSync(app.path('node_modules/@nestjs/core/package.json'), 'utf8')).version).toMatch(/^12\./);
    expect(ABSENT_BEFORE_ADMIN.filter((p) => existsSync(app.path(`node_modules/${p}/package.json`)))).toEqual([]);
  }, STEP_TIMEOUT_MS);

  it('ships source maps that carry their TypeScript (lib/ is not in the tarball)', async () => {
    const { app } = await ready();
    const dist = app.path('node_modules/@kostrack/nestjs/dist');
    expect(existsSync(app.path('node_modules/@kostrack/nestjs/lib'))).toBe(false);
    const maps = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(100);
    const withoutSources = maps.filter((f) => {
      const map = JSON.parse(readFileSync(join(dist, f), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      return map.sources.length === 0 || map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((c) => !c);
    });
    expect(withoutSources).toEqual([]);
    const index = JSON.parse(readFileSync(join(dist, 'index.js.map'), 'utf8')) as { sourcesContent: string[] };
    expect(index.sourcesContent[0]).toContain('export { trace, span, currentTrace');
  }, STEP_TIMEOUT_MS);

  it(
    'boots KostrackModule.forRoot without admin (ESM, Express): @Trace/@Span, injected openai client, exact costs stored',
    async () => {
      const { app, compiled } = await ready();
      await compiled.esm;
      const schema = db.schema();
      const result = await app.nodeOk<WorkflowResult>('out/app.js', runEnv(schema));
      expect(result).toMatchObject({ platform: 'express', module: 'esm' });
      expect(result.admin).toBeUndefined();
      await expectWorkflowStored(db, schema, result);
    },
    STEP_TIMEOUT_MS,
  );

  it('types resolve for a moduleResolution "bundler" consumer', async () => {
    const { compiled } = await ready();
    await compiled.bundler;
  }, STEP_TIMEOUT_MS);

  it('type-checks with skipLibCheck: false: the declarations name no type of PGlite (it needs @types/emscripten) or of an absent peer', async () => {
    const { app, compiled } = await ready();
    const dist = app.path('node_modules/@kostrack/nestjs/dist');
    const declarations = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));
    expect(declarations.filter((f) => /@electric-sql\//.test(readFileSync(join(dist, f), 'utf8')))).toEqual([]);
    await compiled.libCheck;
  }, STEP_TIMEOUT_MS);

  it(
    'admin enabled without its peers fails at start, naming the packages to install',
    async () => {
      const { app } = await ready();
      const out = await app.node('out/app.js', runEnv(db.schema(), { KT_ADMIN: 'on' }));
      const output = `${out.stdout}\n${out.stderr}`;
      expect(out.result, output).toBeUndefined();
      expect(out.code, output).not.toBe(0);
      for (const peer of ADMIN_PEERS.map((p) => p.replace(/@\^.*$/, ''))) expect(output).toContain(peer);
      expect(output).toMatch(/npm i(nstall)? @nestjs\/swagger class-validator class-transformer/);
      expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND/);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a .cjs consumer require()s the package and its subpaths; trace, span, recordCall and usd work and are stored',
    async () => {
      const { app } = await ready();
      const schema = db.schema();
      const result = await app.nodeOk<{
        run: { traceId: string; totalCostUsd: string; calls: number };
        namespace: string;
        exportCount: number;
        usdSum: string;
        subpaths: Record<string, string>;
      }>('plain-consumer.cjs', runEnv(schema));
      expect(result).toMatchObject({ namespace: '[object Module]', usdSum: '0.3', run: { totalCostUsd: '0.001123456789012', calls: 2 } });
      expect(result.exportCount).toBeGreaterThan(50);
      expect(result.subpaths).toEqual({
        '@kostrack/nestjs': '@kostrack/nestjs/dist/index.js',
        '@kostrack/nestjs/opentelemetry': '@kostrack/nestjs/dist/integrations/opentelemetry/index.js',
        '@kostrack/nestjs/langchain': '@kostrack/nestjs/dist/integrations/langchain/index.js',
        '@kostrack/nestjs/package.json': '@kostrack/nestjs/package.json',
      });
      const calls = await db.pool.query(`SELECT model, cost_usd, tags->>'span_name' AS span FROM "${schema}".llm_calls WHERE trace_id = $1 ORDER BY cost_usd`, [result.run.traceId]);
      expect(calls.rows).toEqual([
        { model: 'gpt-4o-mini', cost_usd: '0.000123456789012', span: 'step' },
        { model: 'gpt-4o', cost_usd: '0.001', span: 'cjs-consumer' },
      ]);
      const traces = await db.pool.query(`SELECT name, total_cost_usd, call_count FROM "${schema}".llm_traces`);
      expect(traces.rows).toEqual([{ name: 'cjs-consumer', total_cost_usd: '0.001123456789012', call_count: '2' }]);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'a CommonJS Nest app (module commonjs) boots KostrackModule through require()',
    async () => {
      const { app, compiled } = await ready();
      await compiled.cjs;
      expect(readFileSync(app.path('cjs/out/app.js'), 'utf8')).toContain('require("@kostrack/nestjs")');
      const schema = db.schema();
      const result = await app.nodeOk<WorkflowResult>('cjs/out/app.js', runEnv(schema));
      expect(result).toMatchObject({ platform: 'express', module: 'commonjs' });
      await expectWorkflowStored(db, schema, result);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'with the admin peers installed, admin answers GET /kostrack/traces with the stored trace',
    async () => {
      const { app } = await ready();
      await app.install('admin peers', ADMIN_PEERS);
      const schema = db.schema();
      const result = await app.nodeOk<WorkflowResult>('out/app.js', runEnv(schema, { KT_ADMIN: 'on' }));
      await expectWorkflowStored(db, schema, result);
      expectAdminServedTrace(result);
    },
    STEP_TIMEOUT_MS,
  );

  it(
    'no module of the installed dist has a top-level await: require() of each one works',
    async () => {
      const { app } = await ready();
      const scan = await app.nodeOk<{ files: number; asyncModules: string[]; failures: { file: string; code: string; missing: string | null; message?: string }[] }>('require-scan.cjs');
      console.info(`[package] require() of ${scan.files} dist modules: ${scan.asyncModules.length} with top-level await; missing optional peers: ${[...new Set(scan.failures.map((f) => f.missing))].join(', ') || 'none'}`);
      expect(scan.files).toBeGreaterThan(100);
      expect(scan.asyncModules).toEqual([]);
      // Only modules that import an optional peer this app never installed may fail, and only for that.
      const optional = ['@opentelemetry/api', '@langchain/core', '@nestjs/terminus', '@nestjs/event-emitter', 'gpt-tokenizer', '@anthropic-ai/sdk', '@google/genai'];
      for (const f of scan.failures) expect(optional, JSON.stringify(f)).toContain(f.missing);
    },
    STEP_TIMEOUT_MS,
  );

  // Compiled only: test/readme.spec.ts runs this example (against lib/, with a provider simulator);
  // what is new here is the packed declarations, and a host that checks them (skipLibCheck: false).
  it(
    "the README's NestJS example, as printed, type-checks against the installed package and its SDKs",
    async () => {
      const { app } = await ready();
      await app.install("the example's second SDK", ['@anthropic-ai/sdk']);
      const file = 'examples/invoice-pipeline.module.ts';
      app.write(`readme/${file}`, readmeExample(file));
      app.writeJson('readme/tsconfig.json', { compilerOptions: nestCompilerOptions({ module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false, noEmit: true }), include: ['examples'] });
      await app.tsc('readme/tsconfig.json');
    },
    STEP_TIMEOUT_MS,
  );
});
